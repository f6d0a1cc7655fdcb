//! The PREEMPT_RT locks (`algos::rt`) against the locks a Rust user would otherwise take:
//! `parking_lot` and `std`'s.
//!
//! Workloads (see `common` for how ratios are timed and what the lines mean):
//! - `uncontended`: one thread, lock and unlock of a free mutex, against `parking_lot::Mutex`
//!   (peer `parking_lot`) and `std::sync::Mutex` (peer `std`).
//! - `contended_2`: two threads each take one shared mutex 20,000 times around a short
//!   critical section (an increment); the times are of whole runs (40,000 acquisitions),
//!   peers as above. `contended_2_spinlock`: the same on `RtSpinLock` (PREEMPT_RT's
//!   `spinlock_t`, with lateral steals), same peers.
//! - `rw_read_mostly`: two reader threads doing 20,000 reads each and one writer that
//!   writes once per 100 reads of a reader, on `RtRwLock` against `parking_lot::RwLock`
//!   (peer `parking_lot`); the times are of whole runs.
//! - `CHAIN <n> <ns per link>`: the priority-inheritance chain walk. Tasks T1..Tn each own
//!   a lock and block on the previous task's; a priority change of the last task walks the
//!   whole chain (`rt_mutex_adjust_pi`), requeueing and re-boosting at every link. The line
//!   gives the time of one `setscheduler` divided by the chain length (n = 1, 4, 16, 64).
//!
//! The threaded workloads pin their workers to distinct CPUs and start them with a spin (not
//! a `Barrier`), and a run in which the last worker started more than 5% into it is run
//! again: otherwise one worker can finish alone before the other starts, and the run times a
//! lock without contention. `SKEW <workload> <lock> <share>` lines give the largest start
//! skew of a taken run.
//!
//! `cargo bench -p algos --bench rt -- none` prints only the lines.
// The peers are std's and parking_lot's own locks, which the algorithm code may not use.
#![allow(clippy::disallowed_types)]

#[allow(dead_code)] // each bench uses only part of the shared module
mod common;

use algos::rt::{setscheduler, RtMutex, RtRwLock, RtSpinLock};
use algos::sync::lock_api::RawMutex as _;
use algos::sync::task;
use common::{pin_to_cpu, Ratios, Run, SpinStart, WorstSkew};
use criterion::{black_box, Criterion};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const GOALS: [(&str, &str, f64); 3] = [
    ("uncontended", "parking_lot", 1.0),
    ("contended_2", "parking_lot", 0.8),
    ("rw_read_mostly", "parking_lot", 0.8),
];

/// Acquisitions per thread in `contended_2`.
const CONTENDED: u64 = 20_000;
/// Reads per reader in `rw_read_mostly`; the writer writes once per 100 of them.
const READS: u64 = 20_000;

/// A mutex the workloads can take.
trait Lock: Send + Sync {
    fn with(&self, f: impl FnOnce(&mut u64));
}

impl Lock for RtMutex<u64> {
    #[inline]
    fn with(&self, f: impl FnOnce(&mut u64)) {
        f(&mut self.lock());
    }
}

impl Lock for RtSpinLock<u64> {
    #[inline]
    fn with(&self, f: impl FnOnce(&mut u64)) {
        f(&mut self.lock());
    }
}

impl Lock for parking_lot::Mutex<u64> {
    #[inline]
    fn with(&self, f: impl FnOnce(&mut u64)) {
        f(&mut self.lock());
    }
}

impl Lock for std::sync::Mutex<u64> {
    #[inline]
    fn with(&self, f: impl FnOnce(&mut u64)) {
        f(&mut self.lock().expect("not poisoned"));
    }
}

/// The span of a run from the workers' own clocks: the first start to the last end. (A
/// start read by the spawning thread after the barrier would be late whenever the workers
/// hold both CPUs, and the run would look shorter than it was.)
fn span(ends: impl IntoIterator<Item = (Instant, Instant)>) -> Duration {
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for (s, e) in ends {
        first = Some(first.map_or(s, |f| f.min(s)));
        last = Some(last.map_or(e, |l| l.max(e)));
    }
    match (first, last) {
        (Some(f), Some(l)) => l - f,
        _ => Duration::ZERO,
    }
}

/// The largest share of a run that may pass before its last worker starts: a run with more
/// skew measured one worker alone for part of it, flatters the lock, and is run again.
const MAX_SKEW: f64 = 0.05;
/// Runs of a workload tried before one with more skew is taken anyway (and shows in `SKEW`).
const SKEW_TRIES: usize = 20;

/// Runs `run` (the workers' own start and end times) until its start skew is at most
/// [`MAX_SKEW`] or [`SKEW_TRIES`] runs are done; records the taken run's skew.
fn unskewed(worst: &WorstSkew, mut run: impl FnMut() -> Vec<(Instant, Instant)>) -> Duration {
    let mut ends = run();
    for _ in 1..SKEW_TRIES {
        if common::start_skew(&ends) <= MAX_SKEW {
            break;
        }
        ends = run();
    }
    worst.record(&ends);
    span(ends)
}

/// Two threads, `n` acquisitions each; the time of the whole run.
fn contended<L: Lock>(l: &L, n: u64, worst: &WorstSkew) -> Duration {
    unskewed(worst, || contended_once(l, n))
}

/// One run of [`contended`]: each worker's start and end.
fn contended_once<L: Lock>(l: &L, n: u64) -> Vec<(Instant, Instant)> {
    let start = SpinStart::new(2);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let start = &start;
                s.spawn(move || {
                    pin_to_cpu(i);
                    start.wait();
                    let t = Instant::now();
                    for _ in 0..n {
                        l.with(|v| *v = black_box(*v + 1));
                    }
                    (t, Instant::now())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("worker")).collect()
    })
}

/// `workload`: [`contended`] on `ours` (named `name` in its `SKEW` line) against the
/// `parking_lot` and `std` mutexes, their rounds interleaved; prints the `RATIO` and `SKEW`
/// lines.
fn contended_ratios(
    results: &mut Ratios,
    workload: &'static str,
    (name, ours): (&str, &impl Lock),
    p: &parking_lot::Mutex<u64>,
    s: &std::sync::Mutex<u64>,
) {
    let worst: [WorstSkew; 3] = Default::default();
    results.compare(
        workload,
        &["parking_lot", "std"],
        vec![
            common::parts(|| contended(ours, CONTENDED, &worst[0])),
            common::parts(|| contended(p, CONTENDED, &worst[1])),
            common::parts(|| contended(s, CONTENDED, &worst[2])),
        ],
    );
    for (lock, w) in [name, "parking_lot", "std"].iter().zip(&worst) {
        w.print(workload, lock);
    }
}

/// A reader-writer lock the workload can take.
trait Rw: Send + Sync {
    fn read(&self) -> u64;
    fn write(&self);
}

impl Rw for RtRwLock<u64> {
    fn read(&self) -> u64 {
        *RtRwLock::read(self)
    }
    fn write(&self) {
        *RtRwLock::write(self) += 1;
    }
}

impl Rw for parking_lot::RwLock<u64> {
    fn read(&self) -> u64 {
        *parking_lot::RwLock::read(self)
    }
    fn write(&self) {
        *parking_lot::RwLock::write(self) += 1;
    }
}

/// Two readers doing `n` reads each and a writer writing once per 100 reads of reader 0;
/// the time of the readers' run.
fn read_mostly<R: Rw>(rw: &R, n: u64, worst: &WorstSkew) -> Duration {
    unskewed(worst, || read_mostly_once(rw, n))
}

/// One run of [`read_mostly`]: each reader's start and end.
fn read_mostly_once<R: Rw>(rw: &R, n: u64) -> Vec<(Instant, Instant)> {
    let start = SpinStart::new(2);
    let progress = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|i| {
                let (start, progress) = (&start, &progress);
                s.spawn(move || {
                    pin_to_cpu(i);
                    start.wait();
                    let t = Instant::now();
                    for k in 0..n {
                        black_box(rw.read());
                        if i == 0 {
                            progress.store(k, Ordering::Relaxed);
                        }
                    }
                    (t, Instant::now())
                })
            })
            .collect();
        s.spawn(|| {
            let mut next = 100;
            while !done.load(Ordering::Relaxed) {
                if progress.load(Ordering::Relaxed) >= next {
                    rw.write();
                    next += 100;
                } else {
                    // A third thread on two CPUs: a spinning writer would take a reader's
                    // CPU for whole time slices.
                    std::thread::yield_now();
                }
            }
        });
        let ends: Vec<_> = readers
            .into_iter()
            .map(|r| r.join().expect("reader"))
            .collect();
        done.store(true, Ordering::Relaxed);
        ends
    })
}

/// A chain of `n` blocked tasks: Ti owns lock i and blocks on lock i-1; lock 0 is owned by
/// this thread. Returns the nanoseconds per link of a priority change of the last task.
fn chain(n: usize, rounds: u32) -> f64 {
    let locks: Arc<Vec<algos::rt::RawRtMutex>> =
        Arc::new((0..=n).map(|_| algos::rt::RawRtMutex::new()).collect());
    locks[0].lock();
    let (ktx, krx) = std::sync::mpsc::channel::<usize>();
    let release = Arc::new(Barrier::new(n + 1));
    let mut hs = Vec::new();
    let mut keys = Vec::new();
    for i in 1..=n {
        let (l, tx, rel) = (locks.clone(), ktx.clone(), release.clone());
        hs.push(std::thread::spawn(move || {
            l[i].lock();
            tx.send(task::current()).expect("bench alive");
            l[i - 1].lock();
            // SAFETY: both are ours.
            unsafe {
                l[i - 1].unlock();
                l[i].unlock();
            }
            rel.wait();
        }));
        let k = krx.recv().expect("task started");
        keys.push(k);
        while !algos::rt::is_sleeping(k) {
            std::thread::yield_now();
        }
    }
    let last = *keys.last().expect("n >= 1");
    let (a, b) = (10, 20);
    let t = Instant::now();
    for r in 0..rounds {
        setscheduler(last, if r % 2 == 0 { a } else { b });
    }
    let per_link = t.elapsed().as_secs_f64() * 1e9 / f64::from(rounds) / n as f64;
    assert_eq!(
        task::effective_of(keys[0]),
        if rounds % 2 == 1 { a } else { b },
        "the walk boosted the first task of the chain"
    );
    // SAFETY: lock 0 is ours.
    unsafe { locks[0].unlock() };
    release.wait();
    for h in hs {
        h.join().expect("chain task");
    }
    per_link
}

fn criterion_groups(c: &mut Criterion) {
    let ours = RtMutex::new(0u64);
    let pl = parking_lot::Mutex::new(0u64);
    let st = std::sync::Mutex::new(0u64);
    let mut g = c.benchmark_group("uncontended");
    g.bench_function("rt", |b| b.iter(|| ours.with(|v| *v += 1)));
    g.bench_function("parking_lot", |b| b.iter(|| pl.with(|v| *v += 1)));
    g.bench_function("std", |b| b.iter(|| st.with(|v| *v += 1)));
    g.finish();
}

fn main() {
    let run = Run::from_args();
    let full = run.full;
    // Smoke: every workload once, the answers cross-checked.
    let ours = RtMutex::new(0u64);
    let pl = parking_lot::Mutex::new(0u64);
    let st = std::sync::Mutex::new(0u64);
    let n = if full { CONTENDED } else { 500 };
    let spin = RtSpinLock::new(0u64);
    // One run each (a timed workload may run again when its start was skewed).
    contended_once(&ours, n);
    contended_once(&spin, n);
    contended_once(&pl, n);
    contended_once(&st, n);
    assert_eq!(*ours.lock(), 2 * n, "the rt mutex lost an increment");
    assert_eq!(*spin.lock(), 2 * n, "the rt spinlock lost an increment");
    assert_eq!(*pl.lock(), 2 * n);
    let rw = RtRwLock::new(0u64);
    let prw = parking_lot::RwLock::new(0u64);
    read_mostly_once(&rw, if full { READS } else { 500 });
    read_mostly_once(&prw, if full { READS } else { 500 });
    let per_link = chain(4, if full { 2_000 } else { 10 });
    if !full {
        assert!(per_link > 0.0);
        return;
    }
    let mut c = common::configured(Duration::from_millis(300), Duration::from_secs(1), 10);
    criterion_groups(&mut c);
    c.final_summary();

    let mut results = Ratios::new("rt");
    let (o, p, s) = (
        RtMutex::new(0u64),
        parking_lot::Mutex::new(0u64),
        std::sync::Mutex::new(0u64),
    );
    results.compare(
        "uncontended",
        &["parking_lot", "std"],
        vec![
            common::whole(|| o.with(|v| *v += 1)),
            common::whole(|| p.with(|v| *v += 1)),
            common::whole(|| s.with(|v| *v += 1)),
        ],
    );
    contended_ratios(&mut results, "contended_2", ("rt", &o), &p, &s);
    // The same workload on PREEMPT_RT's spinlock_t, whose lateral steal lets the releasing
    // task take the lock again instead of handing it to a sleeping waiter.
    let sl = RtSpinLock::new(0u64);
    contended_ratios(
        &mut results,
        "contended_2_spinlock",
        ("rt_spinlock", &sl),
        &p,
        &s,
    );
    let (r1, r2) = (RtRwLock::new(0u64), parking_lot::RwLock::new(0u64));
    let worst: [WorstSkew; 2] = Default::default();
    results.compare(
        "rw_read_mostly",
        &["parking_lot"],
        vec![
            common::parts(|| read_mostly(&r1, READS, &worst[0])),
            common::parts(|| read_mostly(&r2, READS, &worst[1])),
        ],
    );
    for (lock, w) in ["rt", "parking_lot"].iter().zip(&worst) {
        w.print("rw_read_mostly", lock);
    }
    for n in [1usize, 4, 16, 64] {
        let ns = chain(n, 2_000);
        println!("CHAIN {n} {ns:.1}   (ns per link of a priority change walking {n} locks)");
    }
    results.goals(&GOALS);
    run.total();
}
