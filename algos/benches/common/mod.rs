//! What every mmcheck bench shares: run modes, the criterion configuration, a counting global
//! allocator, a deterministic RNG, checksums, the interleaved timing of a structure against its
//! peers, the concurrent reader/writer driver, and the printed report lines.
//!
//! Benches are separate crates, so this file is not part of any library: each bench includes
//! it by path, and it depends on nothing but `std` and `criterion`:
//!
//! ```ignore
//! // algos/benches/<name>.rs
//! #[allow(dead_code)] // each bench uses only part of the shared module
//! mod common;
//! // shadow/benches/shadow.rs, and any bench of another crate
//! #[allow(dead_code)]
//! #[path = "../../algos/benches/common/mod.rs"]
//! mod common;
//! ```
//!
//! The `#[allow(dead_code)]` on that declaration is deliberate and covers only this module:
//! no bench uses every helper (the shadow bench needs no allocator counting or concurrency,
//! the maple bench no [`best_of`]), and the bench's own code stays under the usual lints.
//!
//! # What a bench provides
//!
//! - Its workloads, as functions over its structure and its peers, and the smoke-mode
//!   cross-checks that make every peer give the structure's answers (timings of wrong answers
//!   mean nothing).
//! - Its criterion groups, run on the [`Criterion`] from [`configured`].
//! - Its comparisons: one [`Timed`] per contender (the structure under test first, then one
//!   per peer, built with [`whole`] or [`parts`]), handed to [`Ratios::compare`]; or, for a
//!   sanitizer-style overhead, two [`best_of`] times handed to [`overhead`].
//! - For the concurrent runs, a [`Shared`] implementation for the structure and for each peer,
//!   turned into [`Runner`]s with [`runner`] and handed to [`concurrency`].
//! - Its goals, as `(workload, peer, minimum ratio)` targets for [`Ratios::goals`].
//! - To use [`measured`]: `#[global_allocator] static GLOBAL: common::Counting =
//!   common::Counting;` in the bench (the module does not install it, so a bench that does not
//!   measure memory keeps the plain system allocator).
//! - A `main` that reads the mode with [`Run::from_args`] and does the rest itself.
//!
//! # Modes
//!
//! [`Run::full`] is whether the arguments contain `--bench`, which `cargo bench` passes and
//! `cargo test --benches` does not.
//!
//! - Smoke mode (`cargo test -p algos --bench maple`, `cargo test -p shadow --bench shadow`):
//!   criterion runs each benchmark once without timing (its test mode), a bench builds small
//!   structures, cross-checks its peers' answers, runs every workload once, and prints no
//!   report lines. [`concurrency`] panics there on a wrong read instead of warning.
//! - Full mode (`cargo bench`): criterion measures, then `main` times the comparisons itself
//!   and prints the lines below. `cargo bench ... -- none` passes a criterion filter that no
//!   benchmark name contains: criterion skips its groups, and only the bench's own
//!   measurements and lines run.
//!
//! # Printed lines
//!
//! Every line starts with a tag and holds space-separated fields; what follows three spaces in
//! parentheses is detail for people, not for parsers. Times in details are `Duration`'s
//! `Debug` form with two decimals.
//!
//! - `RATIO <workload> <peer> <r>   (<peer time> vs <subject> <subject time>)` ([`ratio`],
//!   [`Ratios::compare`]): `r` = the peer's time per call / the subject's, two decimals;
//!   above 1 the structure under test (the subject, e.g. `maple`) is faster.
//! - `RATIO <workload> <peer> <r>   (<our time> vs <peer time>)` ([`overhead`]): the other
//!   direction, `r` = our time / the peer's, the overhead factor of an instrumented operation
//!   over the plain one (the shadow bench); above 1 we are slower.
//! - `RATIO <workload> <peer> <r>   (<subject> <a>M vs <b>M <noun>/s; writer <c>M vs <d>M
//!   ops/s)` ([`concurrency`]): the subject's reads per second over the peer's, both with
//!   their writer running; above 1 the subject's readers got more done.
//! - `RATIO <workload>_per_cpu <peer> <r>   (<subject> <a>M vs <b>M <noun> per reader
//!   CPU-second)`: the same per second of CPU time the readers actually got (their thread CPU
//!   clocks), i.e. independent of how the scheduler split the CPUs between readers and writer.
//! - `BOUND <workload> <peer> <r>   (<subject> readers alone <a>M <noun>/s vs <b>M with its
//!   writer)`: the subject's readers running with no writer at all, over the peer's readers
//!   with its writer: the most the wall-clock `RATIO` could reach if the subject's writer used
//!   no CPU (on a 2-core machine three busy threads share two CPUs).
//! - `WARN <workload> <name>: <n> wrong <noun>`: a concurrent reader saw an answer no writer
//!   could have left there (full mode only; smoke mode panics instead).
//! - `GOAL <workload> <peer> >=<want>x <r> met|MISSED` ([`Ratios::goals`]): a target ratio,
//!   reported, never asserted; printed only for targets with a measured ratio.
//! - `MEM <structure> <bytes>` ([`mem`]): bytes per stored item, one decimal, from
//!   [`measured`].
//! - `TOTAL <elapsed>` ([`Run::total`]): the wall time since `main` started.
//!
//! # How ratios are measured
//!
//! [`race`] (behind [`Ratios::compare`]): each contender is first called once to calibrate
//! how many calls fill one round of about [`ROUND`] (between 1 and 1,000,000 calls); then
//! [`ROUNDS`] rounds, the contenders' rounds interleaved (subject, peer 1, peer 2, subject,
//! ...) so a burst of background load hits them all alike. A round's time divided by its calls
//! is one sample; each contender's best (minimum) sample counts, not the median: on a shared
//! machine noise only ever adds time. [`best_of`] is the simpler variant for one operation: a
//! fixed number of calls per round, one untimed warm-up call, the minimum over the given
//! number of rounds, no interleaving.
//!
//! [`concurrency`] cuts each configuration's wall time into [`CONC_SLICES`] slices and
//! alternates the configurations slice by slice (subject with writer, each peer with writer,
//! subject readers alone); the slice with the most reads per second counts per configuration,
//! and wrong reads are summed over all slices.
//!
//! # The counting allocator
//!
//! [`Counting`] forwards every call to [`System`]. While [`measured`] runs (and only then,
//! so timed workloads do not pay for a shared counter) it adds each allocation's requested
//! size to a process-wide live-bytes counter and subtracts each deallocation's; a `realloc`
//! counts the difference. It counts requested bytes, not the allocator's rounding or
//! headers, and it counts every thread's allocations alike.

use criterion::Criterion;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::{self, Display};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Mode, criterion
// ---------------------------------------------------------------------------------------

/// How this run of a bench was started.
pub struct Run {
    /// Whether the arguments contain `--bench` (`cargo bench`): full sizes, timing and the
    /// report lines. Without it (`cargo test --benches`) the bench runs its smoke mode.
    pub full: bool,
    /// When [`Run::from_args`] was called, for [`Run::total`].
    pub started: Instant,
}

impl Run {
    /// Reads the mode from the process arguments and starts the clock.
    pub fn from_args() -> Self {
        // `cargo test --benches` runs each bench once, without `--bench`: small sizes, no timing.
        let full = std::env::args().any(|a| a == "--bench");
        Run {
            full,
            started: Instant::now(),
        }
    }

    /// Prints `TOTAL <elapsed>`: the wall time since [`Run::from_args`].
    pub fn total(&self) {
        println!("TOTAL {:.1?}", self.started.elapsed());
    }
}

/// `default` seconds, or the positive number of seconds in environment variable `var` if it
/// holds one (a bench's knob for the length of its long runs).
pub fn secs_from_env(var: &str, default: f64) -> Duration {
    let secs = std::env::var(var)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(secs)
}

/// Criterion with the command line applied (filters, `--bench`), then the given warm-up
/// time, measurement time and sample count, which override the command line's: each bench
/// keeps its whole run within a few minutes.
pub fn configured(warm_up: Duration, measurement: Duration, samples: usize) -> Criterion {
    Criterion::default()
        .configure_from_args()
        .warm_up_time(warm_up)
        .measurement_time(measurement)
        .sample_size(samples)
}

// ---------------------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------------------

/// `System`, counting the bytes it hands out and gets back while [`measured`] runs. A bench
/// installs it with `#[global_allocator] static GLOBAL: common::Counting = common::Counting;`.
pub struct Counting;

/// Whether allocations are counted: only inside [`measured`], so the timed workloads (the
/// concurrent ones above all) do not pay for a shared counter.
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Bytes allocated minus bytes freed while counting.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Adds `delta` bytes to [`LIVE`] if counting is on.
#[inline(always)]
fn count(delta: isize) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_add(delta, Relaxed);
    }
}

// SAFETY: every method forwards to `System` with its own arguments; the counter does not
// touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `build` and returns its result with the growth of the live bytes while it ran (0 if
/// they shrank). `settle` runs before and after `build` (e.g. an RCU barrier, so deferred
/// frees happen and only what `build` keeps counts; `|| {}` if there is nothing to settle).
///
/// Panics if [`Counting`] is not the global allocator: the result would silently be 0.
pub fn measured<R>(settle: impl Fn(), build: impl FnOnce() -> R) -> (R, usize) {
    settle();
    COUNTING.store(true, Relaxed);
    let empty = LIVE.load(Relaxed);
    let probe = std::hint::black_box(Box::new(0u64));
    let held = LIVE.load(Relaxed);
    drop(probe);
    assert!(
        held > empty,
        "measured() needs `#[global_allocator] static GLOBAL: common::Counting = common::Counting;`"
    );
    let before = LIVE.load(Relaxed);
    let r = build();
    settle();
    let after = LIVE.load(Relaxed);
    COUNTING.store(false, Relaxed);
    (r, usize::try_from(after - before).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------
// Random keys, checksums
// ---------------------------------------------------------------------------------------

/// xorshift64 (shifts 13, 7, 17): deterministic, no dependencies, the same keys on every run
/// and machine.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` (any value, zero included: the state is `seed` times
    /// the golden-ratio constant, made odd so it is never 0).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A random value in `0..n` (`n` > 0; by remainder, so very slightly biased for an `n`
    /// that does not divide 2^64).
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n
    }
}

/// `count` distinct random values of `0..n`, in random order (a partial Fisher-Yates
/// shuffle of `0..n`; `count` <= `n`).
pub fn distinct(n: u64, count: usize, rng: &mut Rng) -> Vec<u64> {
    let mut all: Vec<u64> = (0..n).collect();
    for i in 0..count {
        let j = i + rng.below((all.len() - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(count);
    all
}

/// Folds one value into an order-sensitive checksum (FNV-1a style, a whole `u64` per step):
/// `acc` starts at [`FOLD_SEED`].
pub fn mix(acc: u64, v: u64) -> u64 {
    (acc ^ v).wrapping_mul(0x100_0000_01b3)
}

/// The checksum of an empty sequence (the FNV-1a 64-bit offset basis).
pub const FOLD_SEED: u64 = 0xcbf2_9ce4_8422_2325;

// ---------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------

/// Rounds per [`race`]; the best one counts.
pub const ROUNDS: u32 = 12;
/// Target length of one [`race`] round.
pub const ROUND: Duration = Duration::from_millis(20);

/// A timed workload: given `iters`, runs it that many times and returns the time taken by
/// the timed parts (criterion's `iter_custom` shape).
pub type Timed<'a> = Box<dyn FnMut(u32) -> Duration + 'a>;

/// A [`Timed`] that times whole rounds of `f` (one clock read per round, none per call).
pub fn whole<'a>(mut f: impl FnMut() + 'a) -> Timed<'a> {
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed()
    })
}

/// A [`Timed`] for an `f` that returns the duration of its own timed part (a workload with
/// set-up or tear-down that must not count).
pub fn parts<'a>(mut f: impl FnMut() -> Duration + 'a) -> Timed<'a> {
    Box::new(move |iters| (0..iters).map(|_| f()).sum())
}

/// The best time per call of each of `fs` over `rounds` rounds of `iters[i]` calls of
/// `fs[i]`, the workloads' rounds interleaved: round 1 of every workload, then round 2, ...
/// In nanoseconds with their fractions: dividing a `Duration` would truncate to whole
/// nanoseconds, too coarse for calls that take a few.
pub fn rounds_ns(fs: &mut [Timed<'_>], iters: &[u32], rounds: u32) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; fs.len()];
    for _ in 0..rounds {
        for ((f, &n), b) in fs.iter_mut().zip(iters).zip(&mut best) {
            *b = b.min(f(n).as_secs_f64() * 1e9 / f64::from(n));
        }
    }
    best
}

/// [`rounds_ns`] as durations (whole nanoseconds).
pub fn rounds(fs: &mut [Timed<'_>], iters: &[u32], rounds: u32) -> Vec<Duration> {
    rounds_ns(fs, iters, rounds)
        .into_iter()
        .map(|ns| Duration::from_nanos(ns.round() as u64))
        .collect()
}

/// The best time per call of each workload over [`ROUNDS`] rounds of as many calls as fill
/// about [`ROUND`] (calibrated on a first call, 1 to 1,000,000 calls). The rounds of the
/// workloads alternate, so background load hits the structure and its peers alike.
pub fn race(fs: Vec<Timed<'_>>) -> Vec<Duration> {
    race_ns(fs)
        .into_iter()
        .map(|ns| Duration::from_nanos(ns.round() as u64))
        .collect()
}

/// [`race`] in nanoseconds with their fractions (see [`rounds_ns`]).
pub fn race_ns(mut fs: Vec<Timed<'_>>) -> Vec<f64> {
    let iters: Vec<u32> = fs
        .iter_mut()
        .map(|f| {
            let first = f(1).max(Duration::from_nanos(1));
            (ROUND.as_nanos() / first.as_nanos()).clamp(1, 1_000_000) as u32
        })
        .collect();
    rounds_ns(&mut fs, &iters, ROUNDS)
}

/// The best time per call of `f` over `rounds` rounds of `iters` calls each, after one
/// untimed warm-up call; for timing one operation on its own, with a number of calls chosen
/// by the bench.
pub fn best_of<'a>(iters: u32, rounds_: u32, f: impl FnMut() + 'a) -> Duration {
    let mut fs = [whole(f)];
    // The warm-up: one call, its time thrown away.
    fs[0](1);
    rounds(&mut fs, &[iters], rounds_)[0]
}

// ---------------------------------------------------------------------------------------
// Report lines
// ---------------------------------------------------------------------------------------

/// Prints `<tag> <workload> <peer> <value>   (<detail>)`, `value` with two decimals: the
/// shape of every `RATIO` and `BOUND` line.
pub fn line(tag: &str, workload: impl Display, peer: &str, value: f64, detail: fmt::Arguments) {
    println!("{tag} {workload} {peer} {value:.2}   ({detail})");
}

/// Prints and returns `theirs / ours` as `RATIO <workload> <peer> <r>   (<theirs> vs
/// <subject> <ours>)`: above 1 the subject (the structure under test) is faster.
pub fn ratio(workload: &str, peer: &str, subject: &str, ours: Duration, theirs: Duration) -> f64 {
    ratio_ns(
        workload,
        peer,
        subject,
        ours.as_secs_f64() * 1e9,
        theirs.as_secs_f64() * 1e9,
    )
}

/// [`ratio`] of two times per call in nanoseconds.
pub fn ratio_ns(workload: &str, peer: &str, subject: &str, ours: f64, theirs: f64) -> f64 {
    let r = theirs / ours;
    line(
        "RATIO",
        workload,
        peer,
        r,
        format_args!("{theirs:.2}ns vs {subject} {ours:.2}ns"),
    );
    r
}

/// Prints and returns `ours / theirs` as `RATIO <workload> <peer> <r>   (<ours> vs
/// <theirs>)`: the overhead factor of our operation over the peer's; above 1 ours is slower.
pub fn overhead(workload: &str, peer: &str, ours: Duration, theirs: Duration) -> f64 {
    let r = ours.as_secs_f64() / theirs.as_secs_f64();
    line(
        "RATIO",
        workload,
        peer,
        r,
        format_args!("{ours:.2?} vs {theirs:.2?}"),
    );
    r
}

/// Prints `MEM <structure> <bytes>`: bytes per stored item, one decimal.
pub fn mem(structure: &str, bytes_per_item: f64) {
    println!("MEM {structure} {bytes_per_item:.1}");
}

/// The speed-up ratios of one bench's subject (the structure under test) over its peers.
pub struct Ratios {
    /// The subject's name in the lines' details (e.g. `maple`).
    pub subject: &'static str,
    /// `(workload, peer, peer time / subject time)` in the order measured.
    pub list: Vec<(&'static str, &'static str, f64)>,
}

impl Ratios {
    /// No ratios yet, for `subject`.
    pub fn new(subject: &'static str) -> Self {
        Ratios {
            subject,
            list: Vec::new(),
        }
    }

    /// Records one ratio without printing it.
    pub fn push(&mut self, workload: &'static str, peer: &'static str, r: f64) {
        self.list.push((workload, peer, r));
    }

    /// [`race`]s `fs` (the subject first, then one per peer in `peers`, in that order), prints
    /// a `RATIO` line per peer and records the ratios.
    pub fn compare(&mut self, workload: &'static str, peers: &[&'static str], fs: Vec<Timed<'_>>) {
        let t = race_ns(fs);
        for (peer, &theirs) in peers.iter().zip(&t[1..]) {
            let r = ratio_ns(workload, peer, self.subject, t[0], theirs);
            self.push(workload, peer, r);
        }
    }

    /// Prints one `GOAL <workload> <peer> >=<want>x <r> met|MISSED` line per target
    /// `(workload, peer, want)` that has a recorded ratio (reported, not asserted).
    pub fn goals(&self, targets: &[(&str, &str, f64)]) {
        for &(w, peer, want) in targets {
            if let Some(&(_, _, r)) = self.list.iter().find(|(rw, rp, _)| *rw == w && *rp == peer) {
                let verdict = if r >= want { "met" } else { "MISSED" };
                println!("GOAL {w} {peer} >={want}x {r:.2} {verdict}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

/// CPU time consumed so far by the calling thread, in seconds (`clock_gettime` with
/// `CLOCK_THREAD_CPUTIME_ID`, declared here so the module needs no `libc` crate).
#[cfg(target_os = "linux")]
pub fn thread_cpu() -> f64 {
    use std::ffi::{c_int, c_long};

    /// `struct timespec` as the C library's `clock_gettime` symbol takes it on Linux: two C
    /// `long`s (as in the `libc` crate for the default ABIs).
    #[repr(C)]
    struct Timespec {
        /// Seconds.
        tv_sec: c_long,
        /// Nanoseconds, below 1e9.
        tv_nsec: c_long,
    }

    /// `CLOCK_THREAD_CPUTIME_ID` from `<linux/time.h>`.
    const CLOCK_THREAD_CPUTIME_ID: c_int = 3;

    unsafe extern "C" {
        /// POSIX `clock_gettime` from the C library std links.
        fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    }

    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer of the layout the C library writes; the clock id is
    // a constant the kernel knows.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Pins the calling thread to CPU `cpu` modulo the CPUs this process may use
/// (`sched_setaffinity`, declared here so the module needs no `libc` crate); a no-op off
/// Linux or if the call fails. Contended workloads pin their workers to distinct CPUs:
/// otherwise the scheduler may start both on one CPU, where one runs to completion before
/// the other is migrated, and the run measures no contention at all.
#[cfg(target_os = "linux")]
pub fn pin_to_cpu(cpu: usize) {
    use std::ffi::c_int;

    /// `cpu_set_t` of glibc: 1024 bits.
    const SET_WORDS: usize = 1024 / 64;

    unsafe extern "C" {
        /// `sched_getaffinity(2)` through the C library std links.
        fn sched_getaffinity(pid: c_int, size: usize, mask: *mut u64) -> c_int;
        /// `sched_setaffinity(2)` through the C library std links.
        fn sched_setaffinity(pid: c_int, size: usize, mask: *const u64) -> c_int;
    }

    let mut allowed = [0u64; SET_WORDS];
    // SAFETY: `allowed` is a writable buffer of exactly the size passed; pid 0 is this thread.
    let rc = unsafe { sched_getaffinity(0, std::mem::size_of_val(&allowed), allowed.as_mut_ptr()) };
    if rc != 0 {
        return;
    }
    let cpus: Vec<usize> = (0..SET_WORDS * 64)
        .filter(|&c| allowed[c / 64] & (1 << (c % 64)) != 0)
        .collect();
    let Some(&c) = cpus.get(cpu % cpus.len().max(1)) else {
        return;
    };
    let mut mask = [0u64; SET_WORDS];
    mask[c / 64] |= 1 << (c % 64);
    // SAFETY: `mask` is a readable buffer of exactly the size passed; pid 0 is this thread.
    unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
}

/// Pinning is Linux-only; elsewhere workers float.
#[cfg(not(target_os = "linux"))]
pub fn pin_to_cpu(_cpu: usize) {}

/// Starts `n` workers together: each arrives and spins until all have. A `Barrier` wakes
/// its sleepers one after another, and on a VM the last can start tens or hundreds of
/// microseconds after the first, long enough for the first to finish a short run alone.
pub struct SpinStart {
    arrived: AtomicUsize,
    n: usize,
}

impl SpinStart {
    /// A start line for `n` workers.
    pub fn new(n: usize) -> Self {
        SpinStart {
            arrived: AtomicUsize::new(0),
            n,
        }
    }

    /// Arrives and waits, spinning, for the other workers.
    pub fn wait(&self) {
        self.arrived.fetch_add(1, Ordering::AcqRel);
        while self.arrived.load(Ordering::Acquire) < self.n {
            std::hint::spin_loop();
        }
    }
}

/// The share of a run's span, 0 to 1, that passed between the first worker's start and the
/// last one's, from each worker's own `(start, end)`.
pub fn start_skew(ends: &[(Instant, Instant)]) -> f64 {
    let (Some(first), Some(last), Some(latest_start)) = (
        ends.iter().map(|e| e.0).min(),
        ends.iter().map(|e| e.1).max(),
        ends.iter().map(|e| e.0).max(),
    ) else {
        return 0.0;
    };
    (latest_start - first).as_secs_f64() / (last - first).as_secs_f64().max(1e-12)
}

/// The largest [`start_skew`] over the runs of one workload and subject.
#[derive(Default)]
pub struct WorstSkew(std::cell::Cell<f64>);

impl WorstSkew {
    /// Records one run.
    pub fn record(&self, ends: &[(Instant, Instant)]) {
        self.0.set(self.0.get().max(start_skew(ends)));
    }

    /// Prints `SKEW <workload> <subject> <share>`: the largest share of a timed run that
    /// passed before the last worker started (near 0: the workers contended from the start;
    /// near 1: one ran alone first and the run measured no contention).
    pub fn print(&self, workload: &str, subject: &str) {
        println!(
            "SKEW {workload} {subject} {:.3}   (largest share of a run before the last worker started)",
            self.0.get()
        );
    }
}

/// CPU time consumed so far by the calling thread: not available off Linux, where it is NaN
/// (and so are the `_per_cpu` ratios).
#[cfg(not(target_os = "linux"))]
pub fn thread_cpu() -> f64 {
    f64::NAN
}

/// A structure shared by the concurrent readers and the writer of [`concurrent`].
pub trait Shared: Sync {
    /// One reader operation at `key`, drawn uniformly from `0..read_keys`. Returns whether
    /// the answer is one the structure may give at some point of the run (e.g. the value
    /// stored there at the start, or one a writer stores there); a `false` counts as wrong.
    fn read(&self, key: u64) -> bool;
    /// One writer step at `key`, drawn uniformly from `0..write_keys`; returns how many write
    /// operations it made (the writer's rate and its pace count these).
    fn write(&self, key: u64) -> u64;
}

/// Reader threads of [`concurrent`].
pub const READERS: u64 = 2;

/// One concurrent run's outcome.
#[derive(Default)]
pub struct RunRates {
    /// Reads per second, summed over the readers.
    pub reads: f64,
    /// Reads per second of CPU time the readers got (their reads over their summed thread
    /// CPU time): what a reader achieves while it runs, whatever the scheduler gave the
    /// writer on this machine.
    pub reads_per_cpu: f64,
    /// Write operations per second.
    pub writes: f64,
    /// Reads that gave an answer [`Shared::read`] rejected.
    pub wrong: u64,
}

/// Runs [`READERS`] readers doing [`Shared::read`] at random keys of `0..read_keys` (seeds
/// 100, 101, ...; 256 reads between looks at the stop flag) and 1 writer doing
/// [`Shared::write`] at random keys of `0..write_keys` (seed 7), for `time`: flat out, or at
/// most `pace` write operations per second (sleeping 100 µs when ahead); with `writer` false,
/// the readers alone. All threads start together at a barrier.
pub fn concurrent<S: Shared>(
    s: &S,
    read_keys: u64,
    write_keys: u64,
    time: Duration,
    pace: Option<f64>,
    writer: bool,
) -> RunRates {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(READERS as usize + 2);
    std::thread::scope(|sc| {
        let readers: Vec<_> = (0..READERS)
            .map(|t| {
                let (stop, start) = (&stop, &start);
                sc.spawn(move || {
                    let mut rng = Rng::new(100 + t);
                    let (mut count, mut wrong) = (0u64, 0u64);
                    start.wait();
                    let cpu = thread_cpu();
                    while !stop.load(Relaxed) {
                        for _ in 0..256 {
                            let ok = s.read(rng.below(read_keys));
                            wrong += u64::from(!ok);
                        }
                        count += 256;
                    }
                    (count, wrong, thread_cpu() - cpu)
                })
            })
            .collect();
        let writer = sc.spawn(|| {
            let mut rng = Rng::new(7);
            let mut ops = 0u64;
            start.wait();
            if !writer {
                return 0;
            }
            let t = Instant::now();
            while !stop.load(Relaxed) {
                if pace.is_some_and(|p| ops as f64 >= p * t.elapsed().as_secs_f64()) {
                    std::thread::sleep(Duration::from_micros(100));
                    continue;
                }
                ops += s.write(rng.below(write_keys));
            }
            ops
        });
        start.wait();
        let t = Instant::now();
        std::thread::sleep(time);
        stop.store(true, Relaxed);
        let (mut reads, mut wrong, mut cpu) = (0, 0, 0.0);
        for h in readers {
            let (c, w, t) = h.join().expect("reader");
            reads += c;
            wrong += w;
            cpu += t;
        }
        let writes = writer.join().expect("writer");
        let secs = t.elapsed().as_secs_f64();
        RunRates {
            reads: reads as f64 / secs,
            reads_per_cpu: reads as f64 / cpu.max(1e-9),
            writes: writes as f64 / secs,
            wrong,
        }
    })
}

/// One configuration of [`concurrency`]: given a slice's wall time and whether the writer
/// runs, one [`concurrent`] run.
pub type Runner<'a> = Box<dyn FnMut(Duration, bool) -> RunRates + 'a>;

/// The [`Runner`] of `s`, its readers over `0..read_keys`, its writer over `0..write_keys`,
/// paced to `pace` write operations per second if given. The runs stay monomorphic: only the
/// call per slice goes through the box.
pub fn runner<'a, S: Shared>(
    s: &'a S,
    read_keys: u64,
    write_keys: u64,
    pace: Option<f64>,
) -> Runner<'a> {
    Box::new(move |time, writer| concurrent(s, read_keys, write_keys, time, pace, writer))
}

/// Write operations per second of the paced concurrent runs: well within what every
/// configuration's writer manages flat out.
pub const WRITE_PACE: f64 = 20_000.0;

/// Slices each configuration's wall time is cut into; the slices of the configurations
/// alternate, so a burst of background load hits them alike.
pub const CONC_SLICES: u32 = 3;

/// The concurrent comparison `workload`: [`CONC_SLICES`] alternating slices of the subject
/// (`ours`, named [`Ratios::subject`]) with its writer, each peer with its writer, and the
/// subject's readers alone; the best slice (most reads per second) of each counts, `time` in
/// all per configuration. `noun` names a read in the lines (e.g. `lookups`).
///
/// With `report` (full mode) it prints a `WARN` line per configuration with wrong reads, and
/// per peer a `RATIO` line (recorded in `out`), then per peer a `RATIO <workload>_per_cpu` and
/// a `BOUND` line. Without it (smoke mode) it prints nothing, records the ratios all the
/// same, and panics on any wrong read.
pub fn concurrency(
    out: &mut Ratios,
    workload: &'static str,
    noun: &str,
    time: Duration,
    report: bool,
    mut ours: Runner<'_>,
    mut peers: Vec<(&'static str, Runner<'_>)>,
) {
    let slice = time / CONC_SLICES;
    // Ours with its writer, each peer with its writer, ours alone.
    let mut best: Vec<RunRates> = (0..peers.len() + 2).map(|_| RunRates::default()).collect();
    for _ in 0..CONC_SLICES {
        let mut runs = Vec::with_capacity(best.len());
        runs.push(ours(slice, true));
        for (_, p) in &mut peers {
            runs.push(p(slice, true));
        }
        runs.push(ours(slice, false));
        for (b, r) in best.iter_mut().zip(runs) {
            let wrong = b.wrong + r.wrong;
            if r.reads > b.reads {
                *b = r;
            }
            b.wrong = wrong;
        }
    }
    let alone = best.pop().expect("ours alone");
    let m = &best[0];
    let named = || std::iter::once(out.subject).chain(peers.iter().map(|(name, _)| *name));
    for (name, r) in named().zip(&best) {
        if report && r.wrong > 0 {
            println!("WARN {workload} {name}: {} wrong {noun}", r.wrong);
        }
        assert!(report || r.wrong == 0, "{name}: {} wrong {noun}", r.wrong);
    }
    let subject = out.subject;
    for ((peer, _), p) in peers.iter().zip(&best[1..]) {
        let ratio = m.reads / p.reads;
        if report {
            line(
                "RATIO",
                workload,
                peer,
                ratio,
                format_args!(
                    "{subject} {:.2}M vs {:.2}M {noun}/s; writer {:.2}M vs {:.2}M ops/s",
                    m.reads / 1e6,
                    p.reads / 1e6,
                    m.writes / 1e6,
                    p.writes / 1e6
                ),
            );
        }
        out.push(workload, peer, ratio);
    }
    if report {
        // What the wall-clock ratio hides on a 2-core machine, where 3 busy threads share 2
        // CPUs: per CPU-second a reader actually ran, and the ratio the subject's readers
        // would reach if its writer took no CPU at all (the readers alone, against each peer
        // with its writer), which bounds the wall-clock ratio from above.
        for ((peer, _), p) in peers.iter().zip(&best[1..]) {
            line(
                "RATIO",
                format_args!("{workload}_per_cpu"),
                peer,
                m.reads_per_cpu / p.reads_per_cpu,
                format_args!(
                    "{subject} {:.2}M vs {:.2}M {noun} per reader CPU-second",
                    m.reads_per_cpu / 1e6,
                    p.reads_per_cpu / 1e6
                ),
            );
            line(
                "BOUND",
                workload,
                peer,
                alone.reads / p.reads,
                format_args!(
                    "{subject} readers alone {:.2}M {noun}/s vs {:.2}M with its writer",
                    alone.reads / 1e6,
                    p.reads / 1e6
                ),
            );
        }
    }
}
