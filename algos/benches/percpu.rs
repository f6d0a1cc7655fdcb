//! The BPF memory allocator (`algos::percpu`) against the allocators a user would otherwise
//! call: glibc's `malloc`/`free` (through `std::alloc::System`) and mimalloc.
//!
//! Workloads (see `common` for how ratios are timed and what the lines mean):
//! - `alloc_free_64`: one thread, an allocation of a 64-byte object and its free, repeated
//!   (the allocator in fixed-size mode, `bpf_mem_cache_alloc`/`free`, unit 72). Each call
//!   claims its CPU itself, as a BPF program's call does.
//! - `alloc_free_64_batch`: 64 allocations then their 64 frees (the free lists cycle through
//!   the watermarks, so refill and trim run).
//! - `cross_cpu`: a producer thread on CPU 0 allocates, a consumer on CPU 1 frees (the htab
//!   `add_del_on_diff_cpu` case the owner hint exists for), batches of 64 handed over a
//!   channel; time per object, and `MEM cross_cpu_<peer>_resident` lines: the memory the
//!   allocator holds after 10M objects (ours: objects obtained minus returned, times the
//!   unit; peers: the growth of the process's resident set).
//! - `MEM percpu_idle_per_cpu` / `percpu_burst_per_cpu`: bytes cached per CPU by the
//!   size-class allocator right after init and after a burst in every class, next to the
//!   kernel's own estimates (10,816 and 115,968 bytes).
//!
//! - `PART alloc_free_64 claim`: the part of a pair spent claiming the CPU (see
//!   `claim_floor`).
//!
//! `cargo bench -p algos --bench percpu -- none` prints only the lines.

#[allow(dead_code)] // each bench uses only part of the shared module
mod common;

use algos::percpu::{MemAlloc, UNIT_SIZES};
use common::{Ratios, Run};
use criterion::{black_box, Criterion};
use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

const GOALS: [(&str, &str, f64); 2] = [
    ("alloc_free_64", "glibc", 2.0),
    ("alloc_free_64", "mimalloc", 1.0),
];

const L64: Layout = match Layout::from_size_align(64, 8) {
    Ok(l) => l,
    Err(_) => panic!("valid layout"),
};

/// One allocation and its free of a 64-byte object through a `GlobalAlloc`.
fn peer_pair(a: &impl GlobalAlloc) {
    // SAFETY: a valid layout; the block is freed with the same layout.
    unsafe {
        let p = a.alloc(L64);
        assert!(!p.is_null());
        black_box(p).write(1);
        a.dealloc(p, L64);
    }
}

fn ours_pair(ma: &MemAlloc) {
    let p = ma.cache_alloc().expect("refilled");
    // SAFETY: 64 bytes are ours; freed once.
    unsafe {
        black_box(p).as_ptr().write(1);
        ma.cache_free(p);
    }
}

fn peer_batch(a: &impl GlobalAlloc, buf: &mut Vec<*mut u8>) {
    for _ in 0..64 {
        // SAFETY: a valid layout.
        let p = unsafe { a.alloc(L64) };
        assert!(!p.is_null());
        buf.push(black_box(p));
    }
    for p in buf.drain(..) {
        // SAFETY: allocated above with this layout.
        unsafe { a.dealloc(p, L64) };
    }
}

fn ours_batch(ma: &MemAlloc, buf: &mut Vec<NonNull<u8>>) {
    for _ in 0..64 {
        buf.push(black_box(ma.cache_alloc().expect("refilled")));
    }
    for p in buf.drain(..) {
        // SAFETY: allocated above, freed once.
        unsafe { ma.cache_free(p) };
    }
}

/// Where an `alloc_free_64` pair's time goes: `PART alloc_free_64 claim` is the time of the
/// two `irq_save` sections alone (claiming the CPU and restoring interrupts, what each of
/// the pair's calls pays before it touches a list), next to the whole pair. The peers keep a
/// per-thread cache and claim nothing, so this is the part of the gap the CPU claim accounts
/// for.
fn claim_floor(ma: &MemAlloc) {
    let sections = || {
        for _ in 0..2 {
            let g = algos::sync::cpu::irq_save();
            black_box(g.cpu());
        }
    };
    let ns = common::race_ns(vec![
        common::whole(sections),
        common::whole(|| ours_pair(ma)),
    ]);
    common::line(
        "PART",
        "alloc_free_64",
        "claim",
        ns[0],
        format_args!(
            "ns of percpu {:.2}ns: two irq_save sections, protocol {}",
            ns[1],
            algos::sync::claim::protocol()
        ),
    );
}

/// Producer on CPU 0, consumer on CPU 1: `n` objects allocated by one and freed by the
/// other. Returns the wall time.
fn cross<A: Send + Sync>(
    n: usize,
    a: &A,
    alloc: impl Fn(&A) -> usize + Send + Sync,
    free: impl Fn(&A, usize) + Send + Sync,
) -> Duration {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<usize>>(16);
    let t = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            algos::sync::cpu::bind(1);
            for batch in rx {
                for p in batch {
                    free(a, p);
                }
            }
        });
        algos::sync::cpu::bind(0);
        let mut left = n;
        while left > 0 {
            let k = left.min(64);
            let batch: Vec<usize> = (0..k).map(|_| alloc(a)).collect();
            left -= k;
            tx.send(batch).expect("consumer alive");
        }
        drop(tx);
    });
    t.elapsed()
}

struct Mi(mimalloc::MiMalloc);
// The peers behind one interface for `cross`.
fn mi() -> Mi {
    Mi(mimalloc::MiMalloc)
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn ours_alloc(ma: &MemAlloc) -> usize {
    loop {
        if let Some(p) = ma.cache_alloc() {
            return p.as_ptr() as usize;
        }
        // Empty while its refill waits on a grace period: let one pass (as time would).
        algos::sync::rcu::poll();
    }
}

fn ours_free(ma: &MemAlloc, p: usize) {
    // SAFETY: allocated by the producer, freed once.
    unsafe { ma.cache_free(NonNull::new(p as *mut u8).expect("non-null")) };
}

fn sys_alloc(a: &System) -> usize {
    // SAFETY: valid layout.
    unsafe { a.alloc(L64) as usize }
}
fn sys_free(a: &System, p: usize) {
    // SAFETY: allocated with L64.
    unsafe { a.dealloc(p as *mut u8, L64) }
}
fn mi_alloc(a: &Mi) -> usize {
    // SAFETY: valid layout.
    unsafe { a.0.alloc(L64) as usize }
}
fn mi_free(a: &Mi, p: usize) {
    // SAFETY: allocated with L64.
    unsafe { a.0.dealloc(p as *mut u8, L64) }
}

fn criterion_groups(c: &mut Criterion, ma: &MemAlloc) {
    let mut g = c.benchmark_group("alloc_free_64");
    g.bench_function("percpu", |b| b.iter(|| ours_pair(ma)));
    g.bench_function("glibc", |b| b.iter(|| peer_pair(&System)));
    g.bench_function("mimalloc", |b| b.iter(|| peer_pair(&mimalloc::MiMalloc)));
    g.finish();
}

/// Bytes cached per CPU by a fresh size-class allocator, and after every class was used.
fn per_cpu_memory(full: bool) -> (usize, usize) {
    let ma = MemAlloc::new(0, false).expect("size classes");
    let cpu = algos::sync::cpu::current();
    let idle = ma.cached_bytes(cpu);
    let mut live = Vec::new();
    for &u in &UNIT_SIZES {
        let batch = if u <= 256 { 128 } else { 32 * 256 / u * 2 };
        for _ in 0..batch {
            if let Some(p) = ma.alloc(u - 8) {
                live.push(p);
            }
        }
    }
    for p in live {
        // SAFETY: allocated above, freed once.
        unsafe { ma.free(p) };
    }
    ma.drain_deferred();
    let burst = ma.cached_bytes(cpu);
    if !full {
        ma.validate().expect("valid after the burst");
    }
    (idle, burst)
}

fn main() {
    let run = Run::from_args();
    let full = run.full;
    algos::sync::cpu::bind(0);
    let ma = MemAlloc::new(64, false).expect("fixed size");
    // Smoke: every workload once, the peers' blocks usable.
    ours_pair(&ma);
    peer_pair(&System);
    peer_pair(&mimalloc::MiMalloc);
    let mut c = common::configured(Duration::from_millis(300), Duration::from_secs(1), 10);
    criterion_groups(&mut c, &ma);
    c.final_summary();

    let n_cross = if full { 10_000_000 } else { 20_000 };
    let mut results = Ratios::new("percpu");
    if full {
        results.compare(
            "alloc_free_64",
            &["glibc", "mimalloc"],
            vec![
                common::whole(|| ours_pair(&ma)),
                common::whole(|| peer_pair(&System)),
                common::whole(|| peer_pair(&mimalloc::MiMalloc)),
            ],
        );
        claim_floor(&ma);
        let (mut b1, mut b2, mut b3) = (Vec::new(), Vec::new(), Vec::new());
        results.compare(
            "alloc_free_64_batch",
            &["glibc", "mimalloc"],
            vec![
                common::whole(|| ours_batch(&ma, &mut b1)),
                common::whole(|| peer_batch(&System, &mut b2)),
                common::whole(|| peer_batch(&mimalloc::MiMalloc, &mut b3)),
            ],
        );
    } else {
        ours_batch(&ma, &mut Vec::new());
    }
    // Cross-CPU: time per object, then what each allocator holds afterwards.
    let cross_ma = MemAlloc::new(64, false).expect("fixed size");
    let rss0 = resident_bytes();
    let t_ours = cross(n_cross, &cross_ma, ours_alloc, ours_free);
    cross_ma.drain_deferred();
    let (obtained, returned) = cross_ma.backing_stats();
    let ours_held = (obtained - returned) as usize * 72;
    let rss1 = resident_bytes();
    let t_sys = cross(n_cross, &System, sys_alloc, sys_free);
    let rss2 = resident_bytes();
    let m = mi();
    let t_mi = cross(n_cross, &m, mi_alloc, mi_free);
    let rss3 = resident_bytes();
    if full {
        let per = |t: Duration| t / n_cross as u32;
        let r1 = common::ratio("cross_cpu", "glibc", "percpu", per(t_ours), per(t_sys));
        let r2 = common::ratio("cross_cpu", "mimalloc", "percpu", per(t_ours), per(t_mi));
        results.push("cross_cpu", "glibc", r1);
        results.push("cross_cpu", "mimalloc", r2);
        println!(
            "MEM cross_cpu_percpu_held {ours_held}   ({obtained} objects obtained, {returned} returned, after {n_cross} objects)"
        );
        println!(
            "MEM cross_cpu_percpu_resident_growth {}",
            rss1.saturating_sub(rss0)
        );
        println!(
            "MEM cross_cpu_glibc_resident_growth {}",
            rss2.saturating_sub(rss1)
        );
        println!(
            "MEM cross_cpu_mimalloc_resident_growth {}",
            rss3.saturating_sub(rss2)
        );
    } else {
        assert!(
            ours_held < 64 * 72 * 64,
            "cross-CPU memory is not bounded: {ours_held} bytes held"
        );
    }
    let (idle, burst) = per_cpu_memory(full);
    if full {
        println!("MEM percpu_idle_per_cpu {idle}   (kernel estimate 10816)");
        println!("MEM percpu_burst_per_cpu {burst}   (kernel estimate 115968, the upper case)");
        results.goals(&GOALS);
        run.total();
    } else {
        assert_eq!(idle, 10_816, "the prefill is the kernel's");
    }
}
