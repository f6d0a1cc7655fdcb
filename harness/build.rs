//! Names the backend conditions once (see `algos/build.rs`, which sets the same names for
//! the algorithms): `cfg(mmcheck_shuttle)` when the harness runs on the shuttle backend
//! (feature `shuttle`, not a loom build), where the schedule engine exists;
//! `cfg(mmcheck_model)` on either model backend (loom or shuttle).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mmcheck_shuttle)");
    println!("cargo::rustc-check-cfg=cfg(mmcheck_model)");
    let loom = std::env::var_os("CARGO_CFG_MMCHECK_LOOM").is_some();
    let shuttle = std::env::var_os("CARGO_FEATURE_SHUTTLE").is_some();
    if shuttle && !loom {
        println!("cargo::rustc-cfg=mmcheck_shuttle");
    }
    if shuttle || loom {
        println!("cargo::rustc-cfg=mmcheck_model");
    }
}
