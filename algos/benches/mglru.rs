//! The multi-gen LRU's simulator (`algos::mglru::Sim`) against the cache a Rust user would
//! otherwise take: the `lru` crate's `LruCache` at the same capacity.
//!
//! Workload `zipf_hits`: 10M accesses, Zipf(1.0) over 100,000 file pages read through file
//! descriptors, 30,000 frames (most accesses hit). A hit in the multi-gen LRU is one
//! compare-and-swap on the folio's flags (no list move); `LruCache` moves the entry to the
//! front of its list. Misses differ between the policies; the line says how many each had.
//! The time is of whole runs over the same trace.
//!
//! `MEM mglru <bytes per frame>`: the simulator's memory (the lruvec's per-folio arrays, the
//! page map and the shadow entries of evicted pages) per frame, after the run, counted by the
//! bench allocator.
//!
//! `cargo bench -p algos --bench mglru -- none` prints only the lines.
#[allow(dead_code)] // each bench uses only part of the shared module
mod common;

use algos::mglru::Sim;
use common::{Ratios, Run};
use std::hint::black_box;
use std::num::NonZeroUsize;

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

const GOALS: [(&str, &str, f64); 1] = [("zipf_hits", "lru", 2.0)];

/// A Zipf(`alpha`) trace of `len` accesses over `pages` pages (inverse-CDF sampling from a
/// table, with a xorshift generator: deterministic).
fn zipf(pages: usize, alpha: f64, len: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(pages);
    let mut sum = 0.0;
    for k in 1..=pages {
        sum += 1.0 / (k as f64).powf(alpha);
        cdf.push(sum);
    }
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64 * sum;
            cdf.partition_point(|&c| c < u) as u64
        })
        .collect()
}

fn run_mglru(trace: &[u64], frames: usize) -> u64 {
    let mut sim = Sim::new(frames, 60);
    for &p in trace {
        sim.access(p, false);
    }
    black_box(sim.stats().misses)
}

fn run_lru(trace: &[u64], frames: usize) -> u64 {
    let mut c = lru::LruCache::new(NonZeroUsize::new(frames).expect("frames > 0"));
    let mut misses = 0;
    for &p in trace {
        if c.get(&p).is_none() {
            misses += 1;
            c.put(p, ());
        }
    }
    black_box(misses)
}

fn main() {
    let run = Run::from_args();
    let (pages, len, frames) = if run.full {
        (100_000, 10_000_000, 30_000)
    } else {
        (2_000, 20_000, 600)
    };
    let trace = zipf(pages, 1.0, len, 42);
    let (m, l) = (run_mglru(&trace, frames), run_lru(&trace, frames));
    // Smoke: both count every miss once; a Zipf(1) trace at 30% of its pages mostly hits.
    assert!(
        m < len as u64 / 2 && l < len as u64 / 2,
        "mglru {m}, lru {l} misses of {len}"
    );
    if !run.full {
        return;
    }
    println!(
        "MISSES zipf_hits mglru {m} lru {l}   (of {len}; {:.1}% and {:.1}% miss)",
        100.0 * m as f64 / len as f64,
        100.0 * l as f64 / len as f64
    );
    let mut results = Ratios::new("mglru");
    results.compare(
        "zipf_hits",
        &["lru"],
        vec![
            common::parts(|| {
                let t = std::time::Instant::now();
                run_mglru(&trace, frames);
                t.elapsed()
            }),
            common::parts(|| {
                let t = std::time::Instant::now();
                run_lru(&trace, frames);
                t.elapsed()
            }),
        ],
    );
    let (sim, bytes) = common::measured(
        || {},
        || {
            let mut sim = Sim::new(frames, 60);
            for &p in &trace[..len / 10] {
                sim.access(p, false);
            }
            sim
        },
    );
    println!(
        "MEM mglru {:.1}   (bytes per frame: {frames} frames, {} evicted pages' shadow entries included)",
        bytes as f64 / frames as f64,
        sim.stats().reclaimed
    );
    drop(sim);
    results.goals(&GOALS);
    run.total();
}
