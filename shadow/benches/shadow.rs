//! The sanitizer's costs against plain memory, measured in the same process.
//!
//! Workloads: 8-byte stores and loads through a [`Sandbox`] (with and without checking each
//! loaded value) against the same loop on a plain `Vec<u64>` and a plain `Vec<u8>`; a 4 KiB
//! `memcpy` with shadow propagation (clean source, and a source with 1/16 of its bytes
//! poisoned) against `copy_from_slice`/`copy_within`; poison, unpoison and check throughput
//! over 64 KiB.
//!
//! After the criterion groups, `main` times each pair itself (best of several runs of a
//! repeated loop) and prints `RATIO <workload> <peer> <sandbox_time / peer_time>`, the
//! sanitizer's overhead factor, and `GBPS <operation> <GB/s>` for the throughput workloads.

// The run mode, criterion configuration, timing and `RATIO` lines shared with the algos
// benches (see its doc). This bench uses only part of it (no allocator counting, RNG or
// concurrency), hence the `allow` on this declaration alone.
#[allow(dead_code)]
#[path = "../../algos/benches/common/mod.rs"]
mod common;

use common::overhead;
use criterion::{BenchmarkId, Criterion, Throughput};
use shadow::{Created, Meta, Origin, Sandbox, Site, Tainted, MAX_ORIGIN_DEPTH};
use std::hint::black_box;
use std::time::Duration;

/// Values stored and loaded per iteration of the store/load workload.
const N: usize = 4096;
/// Bytes per copy of the memcpy workload.
const COPY: usize = 4096;
/// Bytes per call of the throughput workloads.
const BULK: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------

/// A sandbox with one zeroed block of `len` bytes; returns it and the block's address.
fn sandbox_with(len: usize) -> (Sandbox, usize) {
    let mut sb = Sandbox::new(len + 64);
    let p = sb.alloc(len, true).expect("fits");
    (sb, p)
}

fn sandbox_store_load(sb: &mut Sandbox, p: usize) -> u64 {
    for i in 0..N {
        sb.store(p + 8 * i, Tainted::init(black_box(i as u64)))
            .expect("in bounds");
    }
    let mut sum = 0u64;
    for i in 0..N {
        sum = sum.wrapping_add(sb.load::<u64>(p + 8 * i).expect("in bounds").value);
    }
    sum
}

fn sandbox_store_load_checked(sb: &mut Sandbox, p: usize) -> u64 {
    for i in 0..N {
        sb.store(p + 8 * i, Tainted::init(black_box(i as u64)))
            .expect("in bounds");
    }
    let mut sum = 0u64;
    for i in 0..N {
        sum = sum.wrapping_add(sb.load::<u64>(p + 8 * i).expect("in bounds").check());
    }
    sum
}

fn window_store_load(sb: &mut Sandbox, p: usize) -> u64 {
    let mut w = sb.window(p, 8 * N).expect("in bounds");
    for i in 0..N {
        w.store(8 * i, Tainted::init(black_box(i as u64)))
            .expect("in bounds");
    }
    let mut sum = 0u64;
    for i in 0..N {
        sum = sum.wrapping_add(w.load::<u64>(8 * i).expect("in bounds").check());
    }
    sum
}

fn plain_u64_store_load(v: &mut [u64]) -> u64 {
    for (i, x) in v.iter_mut().enumerate().take(N) {
        *x = black_box(i as u64);
    }
    let mut sum = 0u64;
    for x in v.iter().take(N) {
        sum = sum.wrapping_add(*x);
    }
    sum
}

fn plain_bytes_store_load(b: &mut [u8]) -> u64 {
    for i in 0..N {
        b[8 * i..8 * i + 8].copy_from_slice(&black_box(i as u64).to_le_bytes());
    }
    let mut sum = 0u64;
    for i in 0..N {
        let w: [u8; 8] = b[8 * i..8 * i + 8].try_into().expect("8 bytes");
        sum = sum.wrapping_add(u64::from_le_bytes(w));
    }
    sum
}

/// An origin already at the maximum chain depth: copying it adds no record, so repeated
/// copies in a timing loop do not grow the process-wide origin table.
fn deep_origin() -> Origin {
    let mut o = Origin::new(Created::Poison);
    for _ in 0..MAX_ORIGIN_DEPTH {
        o = o.chain(Site::here());
    }
    o
}

/// A sandbox with a `COPY`-byte source and destination. With `poisoned`, 16 bytes of every
/// 256 of the source are uninitialized.
fn copy_setup(poisoned: bool) -> (Sandbox, usize, usize) {
    let mut sb = Sandbox::new(2 * COPY + 64);
    let src = sb.alloc(COPY, true).expect("fits");
    let dst = sb.alloc(COPY, true).expect("fits");
    for i in 0..COPY / 8 {
        sb.store(src + 8 * i, Tainted::init(i as u64))
            .expect("in bounds");
    }
    if poisoned {
        let junk = Tainted {
            value: 0u64,
            shadow: u64::MAX,
            origin: Some(deep_origin()),
        };
        for k in (0..COPY).step_by(256) {
            sb.store(src + k, junk).expect("in bounds");
            sb.store(src + k + 8, junk).expect("in bounds");
        }
    }
    (sb, src, dst)
}

// ---------------------------------------------------------------------------------------
// Criterion groups
// ---------------------------------------------------------------------------------------

fn bench_store_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_load_u64x4096");
    g.throughput(Throughput::Elements(N as u64));
    let (mut sb, p) = sandbox_with(8 * N);
    g.bench_function("sandbox", |b| {
        b.iter(|| sandbox_store_load(black_box(&mut sb), p))
    });
    g.bench_function("sandbox_checked", |b| {
        b.iter(|| sandbox_store_load_checked(black_box(&mut sb), p))
    });
    g.bench_function("window_checked", |b| {
        b.iter(|| window_store_load(black_box(&mut sb), p))
    });
    let mut v = vec![0u64; N];
    g.bench_function("vec_u64", |b| {
        b.iter(|| plain_u64_store_load(black_box(&mut v)))
    });
    let mut bytes = vec![0u8; 8 * N];
    g.bench_function("vec_u8_le_bytes", |b| {
        b.iter(|| plain_bytes_store_load(black_box(&mut bytes)))
    });
    g.finish();
}

fn bench_memcpy(c: &mut Criterion) {
    let mut g = c.benchmark_group("memcpy_4KiB");
    g.throughput(Throughput::Bytes(COPY as u64));
    for poisoned in [false, true] {
        let (mut sb, src, dst) = copy_setup(poisoned);
        let name = if poisoned {
            "sandbox_partly_poisoned"
        } else {
            "sandbox"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(&mut sb)
                    .memcpy(dst, src, COPY)
                    .expect("in bounds")
            })
        });
    }
    let src = vec![7u8; COPY];
    let mut dst = vec![0u8; COPY];
    g.bench_function("copy_from_slice", |b| {
        b.iter(|| black_box(&mut dst[..]).copy_from_slice(black_box(&src[..])))
    });
    let mut buf = vec![7u8; 2 * COPY];
    g.bench_function("copy_within", |b| {
        b.iter(|| black_box(&mut buf[..]).copy_within(0..COPY, COPY))
    });
    g.finish();
}

fn bench_bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulk_64KiB");
    g.throughput(Throughput::Bytes(BULK as u64));
    let o = Origin::new(Created::Poison);
    let mut meta = Meta::new(0x1000, BULK);
    g.bench_with_input(BenchmarkId::new("poison", BULK), &BULK, |b, &n| {
        b.iter(|| black_box(&mut meta).poison(0, n, o))
    });
    let (mut sb, p) = sandbox_with(BULK);
    g.bench_with_input(BenchmarkId::new("unpoison", BULK), &BULK, |b, &n| {
        b.iter(|| black_box(&mut sb).unpoison(p, n).expect("in bounds"))
    });
    g.bench_with_input(BenchmarkId::new("check_clean", BULK), &BULK, |b, &n| {
        b.iter(|| black_box(&sb).check(p, n).expect("in bounds"))
    });
    g.bench_with_input(
        BenchmarkId::new("poison_then_unpoison", BULK),
        &BULK,
        |b, &n| {
            b.iter(|| {
                black_box(&mut meta).poison(0, n, o);
                black_box(&mut meta).unpoison(0, n);
            })
        },
    );
    let (sparse, q) = sparse_poison();
    g.bench_with_input(
        BenchmarkId::new("check_sparse_poison", BULK),
        &BULK,
        |b, &n| {
            let _quiet = shadow::disable();
            b.iter(|| black_box(&sparse).check(q, n).expect("in bounds"))
        },
    );
    let mut plain = vec![0u8; BULK];
    g.bench_with_input(BenchmarkId::new("plain_fill", BULK), &BULK, |b, &n| {
        b.iter(|| black_box(&mut plain[..n]).fill(0xff))
    });
    g.finish();
}

/// A `BULK`-byte block with one poisoned 8-byte word every 4 KiB.
fn sparse_poison() -> (Sandbox, usize) {
    let (mut sb, p) = sandbox_with(BULK);
    for k in (0..BULK).step_by(4096) {
        sb.poison(p + k + 100, 8).expect("in bounds");
    }
    (sb, p)
}

// ---------------------------------------------------------------------------------------
// Ratios
// ---------------------------------------------------------------------------------------

/// Rounds per [`best`] measurement.
const ROUNDS: u32 = 9;

/// The best time per call of `f`, over [`ROUNDS`] runs of `iters` calls each (after one
/// untimed call).
fn best(iters: u32, f: impl FnMut()) -> Duration {
    common::best_of(iters, ROUNDS, f)
}

fn gbps(op: &str, t: Duration) {
    let g = BULK as f64 / t.as_secs_f64() / 1e9;
    println!("GBPS {op} {g:.1}");
}

fn ratios() {
    let (mut sb, p) = sandbox_with(8 * N);
    let mut v = vec![0u64; N];
    let mut bytes = vec![0u8; 8 * N];
    let sl = best(200, || {
        black_box(sandbox_store_load(black_box(&mut sb), p));
    });
    let slc = best(200, || {
        black_box(sandbox_store_load_checked(black_box(&mut sb), p));
    });
    let wc = best(200, || {
        black_box(window_store_load(black_box(&mut sb), p));
    });
    let pv = best(200, || {
        black_box(plain_u64_store_load(black_box(&mut v)));
    });
    let pb = best(200, || {
        black_box(plain_bytes_store_load(black_box(&mut bytes)));
    });
    overhead("store_load_u64", "vec_u64", sl, pv);
    overhead("store_load_u64", "vec_u8_le_bytes", sl, pb);
    overhead("store_load_u64_checked", "vec_u64", slc, pv);
    overhead("store_load_u64_checked", "vec_u8_le_bytes", slc, pb);
    overhead("window_store_load_u64_checked", "vec_u64", wc, pv);
    overhead("window_store_load_u64_checked", "vec_u8_le_bytes", wc, pb);

    let src = vec![7u8; COPY];
    let mut dst = vec![0u8; COPY];
    let mut buf = vec![7u8; 2 * COPY];
    let cfs = best(20_000, || {
        black_box(&mut dst[..]).copy_from_slice(black_box(&src[..]));
    });
    let cw = best(20_000, || {
        black_box(&mut buf[..]).copy_within(0..COPY, COPY)
    });
    for poisoned in [false, true] {
        let (mut sb, s, d) = copy_setup(poisoned);
        let t = best(if poisoned { 2_000 } else { 20_000 }, || {
            black_box(&mut sb).memcpy(d, s, COPY).expect("in bounds");
        });
        let w = if poisoned {
            "memcpy_4KiB_partly_poisoned"
        } else {
            "memcpy_4KiB"
        };
        overhead(w, "copy_from_slice", t, cfs);
        overhead(w, "copy_within", t, cw);
    }

    let o = Origin::new(Created::Poison);
    let mut meta = Meta::new(0x1000, BULK);
    let (mut sb, p) = sandbox_with(BULK);
    let mut plain = vec![0u8; BULK];
    let fill = best(2_000, || black_box(&mut plain[..]).fill(0xff));
    let poison = best(2_000, || black_box(&mut meta).poison(0, BULK, o));
    let unpoison = best(2_000, || {
        black_box(&mut sb).unpoison(p, BULK).expect("in bounds");
    });
    let check = best(2_000, || {
        black_box(black_box(&sb).check(p, BULK).expect("in bounds"));
    });
    let both = best(2_000, || {
        black_box(&mut meta).poison(0, BULK, o);
        black_box(&mut meta).unpoison(0, BULK);
    });
    let (sparse, q) = sparse_poison();
    let quiet = shadow::disable();
    let sparse_check = best(2_000, || {
        black_box(black_box(&sparse).check(q, BULK).expect("in bounds"));
    });
    drop(quiet);
    overhead("poison_64KiB", "fill", poison, fill);
    overhead("poison_then_unpoison_64KiB", "fill", both, fill);
    overhead("check_sparse_poison_64KiB", "fill", sparse_check, fill);
    overhead("unpoison_64KiB", "fill", unpoison, fill);
    overhead("check_64KiB", "fill", check, fill);
    gbps("poison", poison);
    gbps("unpoison", unpoison);
    gbps("check_clean", check);
    gbps("poison_then_unpoison", both);
    gbps("check_sparse_poison", sparse_check);
    gbps("plain_fill", fill);
}

fn main() {
    let run = common::Run::from_args();
    let mut c = common::configured(Duration::from_secs(1), Duration::from_secs(2), 20);
    bench_store_load(&mut c);
    bench_memcpy(&mut c);
    bench_bulk(&mut c);
    c.final_summary();
    // `cargo test --benches` runs each bench once, without `--bench`: no timing there.
    if run.full {
        ratios();
    }
}
