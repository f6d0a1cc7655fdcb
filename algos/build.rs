//! Names the backend conditions once, so code says `cfg(mmcheck_model)` instead of repeating
//! the predicate (the role tokio's `cfg_loom!` macros play):
//!
//! | cfg | set when | meaning |
//! |---|---|---|
//! | `mmcheck_model` | `--cfg mmcheck_loom` or feature `shuttle` | a model backend: explicit RCU model, live hooks |
//! | `mmcheck_shuttle` | feature `shuttle` and not loom | the shuttle backend |
//! | `mmcheck_hooks` | `--cfg mmcheck_loom` or feature `hooks` (implied by `shuttle`) | interrupt points and fault injection are live |

fn main() {
    for c in ["mmcheck_model", "mmcheck_shuttle", "mmcheck_hooks"] {
        println!("cargo::rustc-check-cfg=cfg({c})");
    }
    let loom = std::env::var_os("CARGO_CFG_MMCHECK_LOOM").is_some();
    let shuttle = std::env::var_os("CARGO_FEATURE_SHUTTLE").is_some();
    let hooks = std::env::var_os("CARGO_FEATURE_HOOKS").is_some();
    if loom || shuttle {
        println!("cargo::rustc-cfg=mmcheck_model");
    }
    if shuttle && !loom {
        println!("cargo::rustc-cfg=mmcheck_shuttle");
    }
    if loom || hooks {
        println!("cargo::rustc-cfg=mmcheck_hooks");
    }
}
