//! The maple tree against two range-map peers, measured in the same process.
//!
//! Peers: a `BTreeMap<u64, (u64, u64)>` range map (key = first index, value = (last index,
//! value); a lookup is `range(..=i).next_back()` and a check of `last`; `empty_area` is a
//! linear gap scan from `min`, because it has no gap index) and `rangemap`'s
//! `RangeInclusiveMap<u64, u64>` (its `gaps()` iterator for `empty_area`). Every workload runs
//! the same keys in the same order on each structure, with `u64` values.
//!
//! Layout: range `k` is `[16k, 16k + 9]`, so a 6-index gap follows each range. Workloads:
//! point lookups on 1M ranges (random keys, and the same keys sorted for the sequential
//! order; the maple tree outside RCU mode, where loads take its lock, and in RCU mode); on 100k ranges, storing new ranges into gaps, erasing them again, overwriting
//! existing ranges, and iterating over everything; `empty_area` on 100k ranges whose gaps
//! are all too small except one near the right end; and 2 reader threads doing random
//! lookups while 1 writer stores and erases (the maple tree in RCU mode with lock-free loads,
//! against `std` and `parking_lot` `RwLock`s over the BTreeMap range map), for
//! `MAPLE_BENCH_SECS` (default 1) seconds per configuration, cut into slices that alternate
//! between the configurations (the best slice of each counts); once on the 1M ranges
//! (`concurrent_read`) and once on 10k (`concurrent_read_small`), where the tree fits in
//! cache and the readers' lock traffic is not hidden behind cache misses; and on 10k again
//! with the writer paced to 20k operations/s for every configuration
//! (`concurrent_read_small_paced`).
//!
//! After the criterion groups, with `--bench`, `main` times each comparison itself (best of
//! several rounds) and prints `RATIO <workload> <peer> <peer_time / maple_time>` (above 1 the
//! maple tree is faster), `MEM <structure> <bytes_per_range>` (the live-bytes delta of
//! building 1M ranges, from a counting global allocator) and `GOAL` lines for the issue's
//! targets. Each concurrent workload also prints `RATIO <workload>_per_cpu <peer> <r>`
//! (lookups per CPU-second the readers got, from their thread CPU clocks) and
//! `BOUND <workload> <peer> <r>` (the maple readers running alone against the peer with its
//! writer: the most the wall-clock ratio could reach if the maple writer used no CPU). On a
//! 2-core machine the three threads share two CPUs, so the wall-clock ratio depends on how
//! much CPU the scheduler leaves the readers. Without `--bench` (`cargo test --benches`) it builds small structures,
//! cross-checks the structures' answers, runs every workload once, and exits.
//!
//! The timing, the concurrent driver, the counting allocator and the line formats are the
//! shared bench module's (`benches/common/mod.rs`, whose doc describes them); this file holds
//! the workloads, the peers and the goals.

// The peers are std's locks, and the bench threads are plain std.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

// The run modes, criterion configuration, counting allocator, RNG, checksums, timing,
// concurrency driver and report lines every bench shares (see its doc). Each bench uses only
// part of it, hence the `allow` on this declaration alone.
#[allow(dead_code)]
mod common;

use algos::maple::{MapleError, MapleTree};
use common::{
    distinct, measured, mix, parts, runner, whole, Counting, Ratios, Rng, Run, Shared, Timed,
    FOLD_SEED, WRITE_PACE,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use rangemap::RangeInclusiveMap;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Counts the live bytes of the builds for the `MEM` lines (see [`common::Counting`]).
#[global_allocator]
static GLOBAL: Counting = Counting;

/// [`common::measured`] with the deferred (RCU) frees run before and after, so only what
/// `build` keeps counts.
fn measured_rcu<R>(build: impl FnOnce() -> R) -> (R, usize) {
    measured(algos::sync::rcu::barrier, build)
}

// ---------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------

/// Distance between the starts of consecutive ranges.
const STRIDE: u64 = 16;
/// Indices per stored range; the other `STRIDE - LEN` form the gap after it.
const LEN: u64 = 10;
/// The `empty_area` request: fits no ordinary gap (6), only the hole left by a missing range.
const AREA_SIZE: u64 = STRIDE;

/// Range `k` of the layout, as `(first, last)`.
fn range_of(k: u64) -> (u64, u64) {
    (k * STRIDE, k * STRIDE + LEN - 1)
}

/// The range the store/erase workloads put into the gap after range `k`: `[16k+11, 16k+14]`,
/// leaving one free index on each side.
fn gap_range(k: u64) -> (u64, u64) {
    (k * STRIDE + LEN + 1, k * STRIDE + STRIDE - 2)
}

/// The value stored in [`gap_range`]`(k)`: distinct from every range's value, so `rangemap`
/// never coalesces neighbours.
fn gap_value(k: u64) -> u64 {
    1 << 63 | k
}

// ---------------------------------------------------------------------------------------
// The structures
// ---------------------------------------------------------------------------------------

/// What every single-threaded structure under test provides, with the maple tree's meaning.
trait Ranges {
    /// The value of the range holding `i`.
    fn lookup(&self, i: u64) -> Option<u64>;
    /// Maps `[first, last]` to `v`, replacing whatever overlapped it.
    fn put(&mut self, first: u64, last: u64, v: u64);
    /// Removes the whole range holding `i`, returning its value.
    fn remove_at(&mut self, i: u64) -> Option<u64>;
    /// The checksum of every stored value in index order.
    fn fold_all(&self) -> u64;
    /// The lowest `start` in `[min, max]` with `[start, start + size - 1]` free and within `max`.
    fn first_gap(&self, min: u64, max: u64, size: u64) -> Option<u64>;
}

impl Ranges for MapleTree<u64> {
    fn lookup(&self, i: u64) -> Option<u64> {
        MapleTree::load(self, i)
    }

    fn put(&mut self, first: u64, last: u64, v: u64) {
        self.store_range(first, last, Some(v)).expect("maple store");
    }

    fn remove_at(&mut self, i: u64) -> Option<u64> {
        MapleTree::erase(self, i)
    }

    fn fold_all(&self) -> u64 {
        let mut g = self.lock();
        let mut mas = g.ma_state(0, 0);
        let mut acc = FOLD_SEED;
        while let Some(v) = mas.find(u64::MAX) {
            acc = mix(acc, v);
            if mas.last() == u64::MAX {
                break;
            }
        }
        acc
    }

    fn first_gap(&self, min: u64, max: u64, size: u64) -> Option<u64> {
        let mut g = self.lock();
        let mut mas = g.ma_state(0, 0);
        match mas.empty_area(min, max, size) {
            Ok(()) => Some(mas.index()),
            Err(MapleError::Busy) => None,
            Err(e) => panic!("maple empty_area({min}, {max}, {size}): {e:?}"),
        }
    }
}

/// [`Ranges::fold_all`] for the maple tree through `mt_find` (a fresh walk per entry)
/// instead of a cursor.
fn maple_fold_mt_find(mt: &MapleTree<u64>) -> u64 {
    let mut index = 0;
    let mut acc = FOLD_SEED;
    while let Some(v) = mt.find(&mut index, u64::MAX) {
        acc = mix(acc, v);
        if index == 0 {
            break;
        }
    }
    acc
}

/// The BTreeMap range map: `first -> (last, value)`, ranges disjoint.
#[derive(Default, Clone)]
struct RangeMap {
    m: BTreeMap<u64, (u64, u64)>,
}

impl Ranges for RangeMap {
    fn lookup(&self, i: u64) -> Option<u64> {
        let (_, &(last, v)) = self.m.range(..=i).next_back()?;
        (last >= i).then_some(v)
    }

    fn put(&mut self, first: u64, last: u64, v: u64) {
        // Fast paths (one search plus the insert): an exact overwrite, or no overlap at all
        // (the last range starting at or before `last` ends before `first`).
        let disjoint = match self.m.range_mut(..=last).next_back() {
            None => true,
            Some((&s, slot)) => {
                if s == first && slot.0 == last {
                    slot.1 = v;
                    return;
                }
                slot.0 < first
            }
        };
        if !disjoint {
            // A range starting before `first` and reaching into it keeps its head, and its
            // tail if it passes `last`.
            if let Some((&s, &(e, ov))) = self.m.range(..first).next_back() {
                if e >= first {
                    self.m.insert(s, (first - 1, ov));
                    if e > last {
                        self.m.insert(last + 1, (e, ov));
                    }
                }
            }
            // Ranges starting inside go; one passing `last` keeps its tail.
            while let Some((&s, &(e, ov))) = self.m.range(first..=last).next() {
                self.m.remove(&s);
                if e > last {
                    self.m.insert(last + 1, (e, ov));
                }
            }
        }
        self.m.insert(first, (last, v));
    }

    fn remove_at(&mut self, i: u64) -> Option<u64> {
        let (&s, &(last, v)) = self.m.range(..=i).next_back()?;
        if last < i {
            return None;
        }
        self.m.remove(&s);
        Some(v)
    }

    fn fold_all(&self) -> u64 {
        self.m.values().fold(FOLD_SEED, |acc, &(_, v)| mix(acc, v))
    }

    fn first_gap(&self, min: u64, max: u64, size: u64) -> Option<u64> {
        let mut start = min;
        if let Some((_, &(last, _))) = self.m.range(..min).next_back() {
            if last >= min {
                start = last.checked_add(1)?;
            }
        }
        for (&first, &(last, _)) in self.m.range(start..) {
            if first > max {
                break;
            }
            if first - start >= size {
                return Some(start);
            }
            start = last.checked_add(1)?;
            if start > max {
                return None;
            }
        }
        (max - start >= size - 1).then_some(start)
    }
}

impl Ranges for RangeInclusiveMap<u64, u64> {
    fn lookup(&self, i: u64) -> Option<u64> {
        self.get(&i).copied()
    }

    fn put(&mut self, first: u64, last: u64, v: u64) {
        self.insert(first..=last, v);
    }

    fn remove_at(&mut self, i: u64) -> Option<u64> {
        let (r, &v) = self.get_key_value(&i)?;
        let r = r.clone();
        self.remove(r);
        Some(v)
    }

    fn fold_all(&self) -> u64 {
        self.iter().fold(FOLD_SEED, |acc, (_, &v)| mix(acc, v))
    }

    fn first_gap(&self, min: u64, max: u64, size: u64) -> Option<u64> {
        let outer = min..=max;
        let found = self
            .gaps(&outer)
            .find(|g| g.end() - g.start() >= size - 1)
            .map(|g| *g.start());
        found
    }
}

/// The three structures holding the same ranges.
struct Trio {
    maple: MapleTree<u64>,
    btree: RangeMap,
    rmap: RangeInclusiveMap<u64, u64>,
}

/// Live bytes each structure of a [`Trio`] took to build.
struct TrioBytes {
    maple: usize,
    btree: usize,
    rmap: usize,
}

/// Stores ranges `0..n` of the layout, except `hole`, in ascending order.
fn fill<S: Ranges>(s: &mut S, n: u64, hole: Option<u64>) {
    for k in (0..n).filter(|&k| Some(k) != hole) {
        let (first, last) = range_of(k);
        s.put(first, last, k);
    }
}

/// Builds the three structures with ranges `0..n` except `hole`; `alloc` makes the maple
/// tree an allocation tree (gap tracking).
fn build_trio(n: u64, alloc: bool, hole: Option<u64>) -> (Trio, TrioBytes) {
    // The peers first: their builds free next to nothing, while the maple tree's frees the
    // nodes it splits, and a peer built into those holes would be scattered over the heap.
    let (btree, btree_bytes) = measured_rcu(|| {
        let mut m = RangeMap::default();
        fill(&mut m, n, hole);
        m
    });
    let (rmap, rmap_bytes) = measured_rcu(|| {
        let mut m = RangeInclusiveMap::new();
        fill(&mut m, n, hole);
        m
    });
    let (maple, maple_bytes) = measured_rcu(|| {
        let mut mt = if alloc {
            MapleTree::new_alloc()
        } else {
            MapleTree::new()
        };
        fill(&mut mt, n, hole);
        mt
    });
    let trio = Trio { maple, btree, rmap };
    let bytes = TrioBytes {
        maple: maple_bytes,
        btree: btree_bytes,
        rmap: rmap_bytes,
    };
    (trio, bytes)
}

// ---------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------

/// Looks up every key; returns the sum of the values found.
fn lookups<S: Ranges>(s: &S, keys: &[u64]) -> u64 {
    let mut sum = 0u64;
    for &i in keys {
        if let Some(v) = s.lookup(black_box(i)) {
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

/// Stores [`gap_range`]`(k)` for every `k` (new ranges), then erases them again; returns the
/// time of each phase and the checksum of the erased values.
fn store_then_erase<S: Ranges>(s: &mut S, ks: &[u64]) -> (Duration, Duration, u64) {
    let t = Instant::now();
    for &k in ks {
        let (first, last) = gap_range(k);
        s.put(first, last, gap_value(k));
    }
    let stored = t.elapsed();
    let t = Instant::now();
    let mut acc = FOLD_SEED;
    for &k in ks {
        let v = s.remove_at(gap_range(k).0).expect("stored above");
        acc = mix(acc, v);
    }
    (stored, t.elapsed(), acc)
}

/// Overwrites range `k` for every `k` with a value that depends on `salt`.
fn overwrite<S: Ranges>(s: &mut S, ks: &[u64], salt: u64) {
    for &k in ks {
        let (first, last) = range_of(k);
        s.put(first, last, salt << 32 | k);
    }
}

// ---------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------

/// Workload sizes: full for `--bench`, small for the smoke run.
struct Sizes {
    /// Ranges of the lookup, memory and concurrency structures.
    big: u64,
    /// Ranges of the store/erase/iteration and `empty_area` structures.
    small: u64,
    /// Keys per lookup batch.
    lookups: usize,
    /// Ranges per store/erase/overwrite batch.
    batch: usize,
    /// Wall time per concurrent configuration.
    concurrent: Duration,
    /// Ranges of the cache-resident concurrent run.
    conc_small: u64,
}

impl Sizes {
    /// The sizes the issue asks for.
    fn full() -> Self {
        Sizes {
            big: 1_000_000,
            small: 100_000,
            lookups: 65_536,
            batch: 1_000,
            concurrent: common::secs_from_env("MAPLE_BENCH_SECS", 1.0),
            conc_small: 10_000,
        }
    }

    /// Small sizes for the smoke run.
    fn smoke() -> Self {
        Sizes {
            big: 4_096,
            small: 2_048,
            lookups: 1_024,
            batch: 64,
            concurrent: Duration::from_millis(20),
            conc_small: 1_000,
        }
    }
}

/// Every structure and key set, built once.
struct Fixture {
    /// Random lookup keys over the big structures' span (hits and misses).
    keys_random: Vec<u64>,
    /// The same keys, sorted.
    keys_sorted: Vec<u64>,
    /// Distinct random range numbers of the small structures, for store/erase/overwrite.
    ks: Vec<u64>,
    /// `Sizes::big` ranges: lookups, then the concurrent runs.
    big: Trio,
    /// `Sizes::small` ranges: store, erase, overwrite, iteration.
    small: Trio,
    /// `Sizes::small` ranges but one near the right end, maple as an allocation tree.
    area: Trio,
    /// Where the only fitting gap of `area` starts.
    area_expected: u64,
    /// `(structure, bytes per range)` of the big builds.
    mem: Vec<(&'static str, f64)>,
}

impl Fixture {
    /// Builds everything for `sizes`, measuring the big builds' memory.
    fn build(sizes: &Sizes) -> Self {
        let mut rng = Rng::new(1);
        let span = sizes.big * STRIDE;
        let keys_random: Vec<u64> = (0..sizes.lookups).map(|_| rng.below(span)).collect();
        let mut keys_sorted = keys_random.clone();
        keys_sorted.sort_unstable();
        let ks = distinct(sizes.small - 1, sizes.batch, &mut rng);

        let (big, bytes) = build_trio(sizes.big, false, None);
        let per = |b: usize| b as f64 / sizes.big as f64;
        let mut mem = vec![
            ("maple", per(bytes.maple)),
            ("btreemap", per(bytes.btree)),
            ("rangemap", per(bytes.rmap)),
        ];
        // Built only to be measured: dropped at the end of the statement.
        let alloc_bytes = measured_rcu(|| {
            let mut mt = MapleTree::new_alloc();
            fill(&mut mt, sizes.big, None);
            mt
        })
        .1;
        mem.insert(1, ("maple_alloc", per(alloc_bytes)));

        let (small, _) = build_trio(sizes.small, false, None);
        let hole = sizes.small - 10;
        let (area, _) = build_trio(sizes.small, true, Some(hole));
        Fixture {
            keys_random,
            keys_sorted,
            ks,
            big,
            small,
            area,
            area_expected: range_of(hole - 1).1 + 1,
            mem,
        }
    }
}

/// Checks that the three structures answer every workload alike, and the maple trees
/// validate. Panics on a difference: timings of wrong answers mean nothing.
fn check(fx: &mut Fixture, thorough: bool) {
    let b = &fx.big;
    for keys in [&fx.keys_random, &fx.keys_sorted] {
        let want = lookups(&b.btree, keys);
        assert_eq!(lookups(&b.maple, keys), want, "maple lookups");
        assert_eq!(lookups(&b.rmap, keys), want, "rangemap lookups");
    }
    for k in [0, 1, b.btree.m.len() as u64 / 3] {
        let (first, last) = range_of(k);
        assert_eq!(b.maple.lookup(first), Some(k));
        assert_eq!(b.maple.lookup(last), Some(k));
        assert_eq!(b.maple.lookup(last + 1), None);
    }
    if thorough {
        let want = b.btree.fold_all();
        assert_eq!(b.maple.fold_all(), want, "maple iteration");
        assert_eq!(
            maple_fold_mt_find(&b.maple),
            want,
            "maple mt_find iteration"
        );
        assert_eq!(b.rmap.fold_all(), want, "rangemap iteration");
        b.maple.validate().expect("big maple tree valid");
    }

    let s = &mut fx.small;
    let before = s.btree.fold_all();
    assert_eq!(s.maple.fold_all(), before, "maple iteration");
    assert_eq!(
        maple_fold_mt_find(&s.maple),
        before,
        "maple mt_find iteration"
    );
    assert_eq!(s.rmap.fold_all(), before, "rangemap iteration");
    let (_, _, want) = store_then_erase(&mut s.btree, &fx.ks);
    assert_eq!(
        store_then_erase(&mut s.maple, &fx.ks).2,
        want,
        "maple erase"
    );
    assert_eq!(
        store_then_erase(&mut s.rmap, &fx.ks).2,
        want,
        "rangemap erase"
    );
    assert_eq!(s.maple.fold_all(), before, "maple after store+erase");
    assert_eq!(s.rmap.fold_all(), before, "rangemap after store+erase");
    for salt in [1, 0] {
        overwrite(&mut s.btree, &fx.ks, salt);
        overwrite(&mut s.maple, &fx.ks, salt);
        overwrite(&mut s.rmap, &fx.ks, salt);
        let want = s.btree.fold_all();
        assert_eq!(s.maple.fold_all(), want, "maple after overwrite");
        assert_eq!(s.rmap.fold_all(), want, "rangemap after overwrite");
    }
    s.maple.validate().expect("small maple tree valid");

    let a = &fx.area;
    let want = Some(fx.area_expected);
    assert_eq!(a.btree.first_gap(0, u64::MAX, AREA_SIZE), want);
    assert_eq!(a.rmap.first_gap(0, u64::MAX, AREA_SIZE), want);
    assert_eq!(a.maple.first_gap(0, u64::MAX, AREA_SIZE), want, "maple");
    // Cut short before the hole ends: nothing fits.
    let max = fx.area_expected + AREA_SIZE - 2;
    assert_eq!(a.btree.first_gap(0, max, AREA_SIZE), None);
    assert_eq!(a.rmap.first_gap(0, max, AREA_SIZE), None);
    assert_eq!(
        a.maple.first_gap(0, max, AREA_SIZE),
        None,
        "maple, too small"
    );
    a.maple.validate().expect("area maple tree valid");
}

// ---------------------------------------------------------------------------------------
// Criterion groups
// ---------------------------------------------------------------------------------------

/// One structure's lookup benchmark in `g`.
fn bench_lookup<S: Ranges>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, s: &S, keys: &[u64]) {
    g.bench_function(id, |b| b.iter(|| lookups(black_box(s), keys)));
}

/// Point lookups on the big structures, in random and in sorted order; the maple tree both
/// outside RCU mode (its loads take the tree's lock) and in it (lock-free loads).
fn bench_lookups(c: &mut Criterion, fx: &Fixture) {
    for (name, keys) in [
        ("lookup_random", &fx.keys_random),
        ("lookup_sequential", &fx.keys_sorted),
    ] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(keys.len() as u64));
        bench_lookup(&mut g, "maple", &fx.big.maple, keys);
        fx.big.maple.set_in_rcu();
        bench_lookup(&mut g, "maple_rcu", &fx.big.maple, keys);
        fx.big.maple.clear_in_rcu();
        bench_lookup(&mut g, "btreemap", &fx.big.btree, keys);
        bench_lookup(&mut g, "rangemap", &fx.big.rmap, keys);
        g.finish();
    }
}

/// One structure's store or erase benchmark in `g`: only the chosen phase is timed.
fn bench_phase<S: Ranges>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    s: &mut S,
    ks: &[u64],
    erase: bool,
) {
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (stored, erased, _) = store_then_erase(black_box(&mut *s), ks);
                    if erase {
                        erased
                    } else {
                        stored
                    }
                })
                .sum()
        })
    });
}

/// One structure's overwrite benchmark in `g`.
fn bench_overwrite<S: Ranges>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    s: &mut S,
    ks: &[u64],
) {
    let mut salt = 0;
    g.bench_function(id, |b| {
        b.iter(|| {
            salt ^= 1;
            overwrite(black_box(&mut *s), ks, salt)
        })
    });
}

/// Range store into gaps, their erase, and overwrites, on the small structures.
fn bench_updates(c: &mut Criterion, fx: &mut Fixture) {
    let ks = &fx.ks;
    let s = &mut fx.small;
    for (name, erase) in [("store", false), ("erase", true)] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(ks.len() as u64));
        bench_phase(&mut g, "maple", &mut s.maple, ks, erase);
        bench_phase(&mut g, "btreemap", &mut s.btree, ks, erase);
        bench_phase(&mut g, "rangemap", &mut s.rmap, ks, erase);
        g.finish();
    }
    let mut g = c.benchmark_group("overwrite");
    g.throughput(Throughput::Elements(ks.len() as u64));
    bench_overwrite(&mut g, "maple", &mut s.maple, ks);
    bench_overwrite(&mut g, "btreemap", &mut s.btree, ks);
    bench_overwrite(&mut g, "rangemap", &mut s.rmap, ks);
    g.finish();
}

/// Iteration over every range of the small structures.
fn bench_iter(c: &mut Criterion, fx: &Fixture) {
    let s = &fx.small;
    let mut g = c.benchmark_group("iter");
    g.throughput(Throughput::Elements(s.btree.m.len() as u64));
    g.bench_function("maple", |b| b.iter(|| black_box(&s.maple).fold_all()));
    g.bench_function("maple_mt_find", |b| {
        b.iter(|| maple_fold_mt_find(black_box(&s.maple)))
    });
    g.bench_function("btreemap", |b| b.iter(|| black_box(&s.btree).fold_all()));
    g.bench_function("rangemap", |b| b.iter(|| black_box(&s.rmap).fold_all()));
    g.finish();
}

/// `empty_area` on the area structures: the gap scan has to pass almost every range.
fn bench_empty_area(c: &mut Criterion, fx: &Fixture) {
    let a = &fx.area;
    let mut g = c.benchmark_group("empty_area");
    let gap = |s: &dyn Ranges| black_box(s).first_gap(0, u64::MAX, AREA_SIZE);
    g.bench_function("maple", |b| b.iter(|| gap(&a.maple)));
    g.bench_function("btreemap", |b| b.iter(|| gap(&a.btree)));
    g.bench_function("rangemap", |b| b.iter(|| gap(&a.rmap)));
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

/// Whether `got` is a possible answer of a concurrent lookup of `i`: the value of the range
/// holding `i` or of the gap range a writer stores after it, or nothing in a gap.
fn plausible(i: u64, got: Option<u64>) -> bool {
    let k = i / STRIDE;
    match got {
        Some(v) => v == k || v == gap_value(k),
        None => i % STRIDE >= LEN,
    }
}

/// Reads are point lookups of any index (checked by [`plausible`]); a write step stores
/// [`gap_range`]`(k)`, then erases it: two write operations.
impl Shared for MapleTree<u64> {
    fn read(&self, i: u64) -> bool {
        plausible(i, self.load(i))
    }

    fn write(&self, k: u64) -> u64 {
        let (first, last) = gap_range(k);
        self.store_range(first, last, Some(gap_value(k)))
            .expect("maple store");
        self.erase(first).expect("stored above");
        2
    }
}

/// As for the maple tree; each operation takes the lock on its own.
impl Shared for std::sync::RwLock<RangeMap> {
    fn read(&self, i: u64) -> bool {
        plausible(i, self.read().expect("not poisoned").lookup(i))
    }

    fn write(&self, k: u64) -> u64 {
        let (first, last) = gap_range(k);
        self.write()
            .expect("not poisoned")
            .put(first, last, gap_value(k));
        self.write().expect("not poisoned").remove_at(first);
        2
    }
}

/// As for the maple tree; each operation takes the lock on its own.
impl Shared for parking_lot::RwLock<RangeMap> {
    fn read(&self, i: u64) -> bool {
        plausible(i, self.read().lookup(i))
    }

    fn write(&self, k: u64) -> u64 {
        let (first, last) = gap_range(k);
        self.write().put(first, last, gap_value(k));
        self.write().remove_at(first);
        2
    }
}

/// The concurrent runs over `trio`, which holds `n` ranges (consumed: the maple tree goes
/// into RCU mode, the range map into the locks): 2 readers doing random lookups over the
/// whole span, 1 writer storing and erasing random gap ranges, the maple tree against
/// `std_rwlock` and `parking_lot_rwlock` (see [`common::concurrency`]). Records
/// `(workload, peer, maple's reads / peer's reads)` per peer in `out`.
fn concurrency(
    out: &mut Ratios,
    trio: Trio,
    n: u64,
    workload: &'static str,
    time: Duration,
    pace: Option<f64>,
    report: bool,
) {
    let Trio { maple, btree, rmap } = trio;
    drop(rmap);
    maple.set_in_rcu();
    let std_lock = std::sync::RwLock::new(btree);
    let pl_lock = parking_lot::RwLock::new(std_lock.read().expect("not poisoned").clone());
    let keys = n * STRIDE;
    let peers = vec![
        ("std_rwlock", runner(&std_lock, keys, n, pace)),
        ("parking_lot_rwlock", runner(&pl_lock, keys, n, pace)),
    ];
    let ours = runner(&maple, keys, n, pace);
    common::concurrency(out, workload, "lookups", time, report, ours, peers);
}

// ---------------------------------------------------------------------------------------
// Ratios
// ---------------------------------------------------------------------------------------

/// Lookups of `keys` in `s`, as a [`Timed`].
fn lookup_timed<'a, S: Ranges>(s: &'a S, keys: &'a [u64]) -> Timed<'a> {
    whole(move || {
        black_box(lookups(s, keys));
    })
}

/// The `empty_area` request on `s`, as a [`Timed`].
fn gap_timed<S: Ranges>(s: &S) -> Timed<'_> {
    whole(move || {
        black_box(black_box(s).first_gap(0, u64::MAX, AREA_SIZE));
    })
}

/// The two peers.
const PEERS: [&str; 2] = ["btreemap", "rangemap"];

/// Times every single-threaded comparison, recording `(workload, peer, ratio)` for each.
fn ratios(fx: &mut Fixture, out: &mut Ratios) {
    let b = &fx.big;
    for (w, wr, keys) in [
        ("lookup_random", "lookup_random_rcu", &fx.keys_random),
        (
            "lookup_sequential",
            "lookup_sequential_rcu",
            &fx.keys_sorted,
        ),
    ] {
        let fs = vec![
            lookup_timed(&b.maple, keys),
            lookup_timed(&b.btree, keys),
            lookup_timed(&b.rmap, keys),
        ];
        out.compare(w, &PEERS, fs);
        b.maple.set_in_rcu();
        let fs = vec![lookup_timed(&b.maple, keys), lookup_timed(&b.btree, keys)];
        out.compare(wr, &PEERS[..1], fs);
        b.maple.clear_in_rcu();
    }

    let ks = &fx.ks;
    let s = &mut fx.small;
    for (w, erase) in [("store", false), ("erase", true)] {
        let pick = move |t: (Duration, Duration, u64)| if erase { t.1 } else { t.0 };
        let fs = vec![
            parts(|| pick(store_then_erase(&mut s.maple, ks))),
            parts(|| pick(store_then_erase(&mut s.btree, ks))),
            parts(|| pick(store_then_erase(&mut s.rmap, ks))),
        ];
        out.compare(w, &PEERS, fs);
    }
    let (mut s0, mut s1, mut s2) = (0, 0, 0);
    let fs = vec![
        whole(|| {
            s0 ^= 1;
            overwrite(&mut s.maple, ks, s0)
        }),
        whole(|| {
            s1 ^= 1;
            overwrite(&mut s.btree, ks, s1)
        }),
        whole(|| {
            s2 ^= 1;
            overwrite(&mut s.rmap, ks, s2)
        }),
    ];
    out.compare("overwrite", &PEERS, fs);

    let fs = vec![
        whole(|| {
            black_box(s.maple.fold_all());
        }),
        whole(|| {
            black_box(s.btree.fold_all());
        }),
        whole(|| {
            black_box(s.rmap.fold_all());
        }),
    ];
    out.compare("iter", &PEERS, fs);
    let fs = vec![
        whole(|| {
            black_box(maple_fold_mt_find(&s.maple));
        }),
        whole(|| {
            black_box(s.btree.fold_all());
        }),
    ];
    out.compare("iter_mt_find", &PEERS[..1], fs);

    let a = &fx.area;
    let fs = vec![gap_timed(&a.maple), gap_timed(&a.btree), gap_timed(&a.rmap)];
    out.compare("empty_area", &PEERS, fs);
}

/// The targets, `(workload, peer, minimum ratio)`: one `GOAL` line each (reported,
/// not asserted).
const GOALS: [(&str, &str, f64); 5] = [
    ("lookup_random", "btreemap", 1.5),
    ("lookup_sequential", "btreemap", 1.5),
    ("empty_area", "btreemap", 50.0),
    ("concurrent_read", "std_rwlock", 3.0),
    ("concurrent_read", "parking_lot_rwlock", 3.0),
];

/// Builds the structures, checks them, runs the criterion groups and, with `--bench`, the
/// ratios, the concurrent runs and the memory report.
fn main() {
    // `cargo test --benches` runs each bench once, without `--bench`: small sizes, no timing.
    let run = Run::from_args();
    let full = run.full;
    let sizes = if full { Sizes::full() } else { Sizes::smoke() };
    let mut fx = Fixture::build(&sizes);
    check(&mut fx, !full);

    let mut c = common::configured(Duration::from_millis(500), Duration::from_secs(1), 10);
    bench_lookups(&mut c, &fx);
    bench_updates(&mut c, &mut fx);
    bench_iter(&mut c, &fx);
    bench_empty_area(&mut c, &fx);
    c.final_summary();

    let mut results = Ratios::new("maple");
    if full {
        ratios(&mut fx, &mut results);
    }
    let Fixture { big, mem, .. } = fx;
    let time = sizes.concurrent;
    let w = "concurrent_read";
    concurrency(&mut results, big, sizes.big, w, time, None, full);
    // The same on a cache-resident tree, where a lookup costs little more than a lock; then
    // with the writer held to the same modest rate for all, so that the readers' throughput
    // does not depend on how much CPU time each writer takes on this 2-core machine.
    let n = sizes.conc_small;
    let w = "concurrent_read_small";
    let trio = build_trio(n, false, None).0;
    concurrency(&mut results, trio, n, w, time, None, full);
    let w = "concurrent_read_small_paced";
    let pace = Some(WRITE_PACE);
    let trio = build_trio(n, false, None).0;
    concurrency(&mut results, trio, n, w, time, pace, full);
    if full {
        for (structure, bytes) in mem {
            common::mem(structure, bytes);
        }
        results.goals(&GOALS);
        // The maple tree's node cache offers its chunks for transparent huge pages (as slab
        // memory in the kernel's direct map is on huge pages); the peers use the global
        // allocator as it is. `MMCHECK_NO_HUGEPAGES=1` turns the advice off, and
        // `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` gives glibc's heap (the peers') huge pages
        // too, to compare like with like.
        let cache = algos::maple::cache_stats();
        println!(
            "NODES maple node cache: {} chunks of {} KiB, huge pages {}",
            cache.chunks,
            cache.chunk_bytes >> 10,
            if cache.huge_pages { "advised" } else { "off" }
        );
        run.total();
    }
}
