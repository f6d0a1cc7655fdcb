//! The memcg LRU of global reclaim (mm/vmscan.c, Linux v6.6: `lru_gen_rotate_memcg`,
//! `lru_gen_online_memcg`/`offline`/`release`/`soft_reclaim`, `shrink_one`, `shrink_many`,
//! `lru_gen_shrink_node`; include/linux/mmzone.h `struct lru_gen_memcg`) and a node of
//! memcgs, each with its own [`Lruvec`], that reclaims through it.
//!
//! The memcg LRU orders a node's memcgs for global reclaim. The memcgs are in two
//! generations, old (`seq`) and young (`seq + 1`), each sharded into `MEMCG_NR_BINS`
//! random bins; the generation index is `seq % MEMCG_NR_GENS`, with three indices so that a
//! stale `seq` read without the lock (`seq - 1`) cannot alias the young generation. Global
//! reclaim walks the bins of the old generation from a random one; each memcg it reclaims
//! from is rotated by what `shrink_one` answers: `MEMCG_LRU_YOUNG` once reclaim had to age
//! it (or it is below `memory.min`), `MEMCG_LRU_TAIL` on a first attempt below `memory.low`
//! or at a size too small to help, the second such attempt `MEMCG_LRU_YOUNG`. When the old
//! generation empties, `seq` moves on and the young generation is the old one: every
//! memcg's `max_seq` advances in turn, which is the fairness the design relies on.
//! `MEMCG_LRU_HEAD` (soft limit exceeded) puts a memcg first in its generation, and offlining
//! sends it to the old generation's head (`MEMCG_LRU_OLD`).
//!
//! Faithful: the generations and bins, the four rotations and their segment marks, `seq`
//! advancing when the old generation empties (on rotation and on release), `shrink_one`'s
//! answers, `shrink_many`'s order (a random first bin, then the others in turn, stopping
//! once the reclaim target is met), an offline memcg scanned whole and never aged.
//!
//! Different, and why: each bin is a `VecDeque` under the memcg LRU's lock, and
//! `shrink_many` walks a snapshot of a bin instead of an RCU `hlist_nulls` traversal; like
//! the kernel's walk, which rotates the previous memcg only after it has moved on, it never
//! follows a rotated memcg into its new list, so the nulls-marker restart has nothing to
//! do. Bins are chosen by a seeded generator, so runs are reproducible. `memory.min` and
//! `memory.low` are page counts compared with the memcg's resident pages (the kernel's
//! effective protection, without the hierarchy). Memcg ids start at 1 (the root memcg).

use super::lruvec::{initial_priority, priority_loop};
use super::{FolioId, Lruvec, ScanControl, Shadow};
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use crate::sync::Mutex;
use std::collections::VecDeque;

/// `MEMCG_NR_GENS`: old, young, and one more so a stale `seq` cannot alias young.
pub const MEMCG_NR_GENS: usize = 3;
/// `MEMCG_NR_BINS`.
pub const MEMCG_NR_BINS: usize = 8;

/// A memcg's id (`mem_cgroup_id`); the root memcg is 1.
pub type MemcgId = u16;

/// A rotation of the memcg LRU (`MEMCG_LRU_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemcgOp {
    /// `MEMCG_LRU_NOP`: stay.
    Nop,
    /// `MEMCG_LRU_HEAD`: the head of a random bin of its generation, segment "head".
    Head,
    /// `MEMCG_LRU_TAIL`: the tail of a random bin of its generation, segment "tail".
    Tail,
    /// `MEMCG_LRU_OLD`: the head of a random bin of the old generation, segment default.
    Old,
    /// `MEMCG_LRU_YOUNG`: the tail of a random bin of the young generation, segment
    /// default.
    Young,
}

/// The segment marks (`lrugen->seg`).
const SEG_DEFAULT: u8 = 0;
const SEG_HEAD: u8 = 1;
const SEG_TAIL: u8 = 2;
/// Not on the memcg LRU (never onlined, or released).
const UNHASHED: u8 = u8::MAX;

/// `get_memcg_gen`.
pub fn memcg_gen(seq: u64) -> usize {
    (seq % MEMCG_NR_GENS as u64) as usize
}

/// What the memcg LRU's lock protects (`struct lru_gen_memcg` less `seq`).
struct Fifo {
    nr_memcgs: [u64; MEMCG_NR_GENS],
    fifo: [[VecDeque<MemcgId>; MEMCG_NR_BINS]; MEMCG_NR_GENS],
}

/// One node's memcg LRU (`pgdat->memcg_lru`) over memcgs `1..=n`.
pub struct MemcgLru {
    lock: Mutex<Fifo>,
    /// `seq`: written under the lock, read without it.
    seq: AtomicU64,
    /// Per memcg (index `id - 1`): `lrugen->gen` (`UNHASHED` when off the LRU).
    gen: Vec<AtomicU8>,
    /// Per memcg: `lrugen->seg`.
    seg: Vec<AtomicU8>,
    /// The bin chooser (`get_random_u32_below`), seeded.
    rng: AtomicU64,
}

impl std::fmt::Debug for MemcgLru {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcgLru")
            .field("seq", &self.seq())
            .finish_non_exhaustive()
    }
}

impl MemcgLru {
    /// A memcg LRU for memcgs `1..=nr`, none online yet; bins are drawn from `seed`.
    pub fn new(nr: usize, seed: u64) -> Self {
        MemcgLru {
            lock: Mutex::new(Fifo {
                nr_memcgs: [0; MEMCG_NR_GENS],
                fifo: std::array::from_fn(|_| std::array::from_fn(|_| VecDeque::new())),
            }),
            seq: AtomicU64::new(0),
            gen: (0..nr).map(|_| AtomicU8::new(UNHASHED)).collect(),
            seg: (0..nr).map(|_| AtomicU8::new(SEG_DEFAULT)).collect(),
            rng: AtomicU64::new(seed | 1),
        }
    }

    /// `seq` (read without the lock).
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// A memcg's generation index, `None` if it is not on the LRU.
    pub fn gen_of(&self, id: MemcgId) -> Option<usize> {
        let g = self.gen[usize::from(id) - 1].load(Ordering::Acquire);
        (g != UNHASHED).then_some(usize::from(g))
    }

    /// A memcg's segment mark (`MEMCG_LRU_HEAD`, `MEMCG_LRU_TAIL` or `Nop` for the
    /// default).
    pub fn seg_of(&self, id: MemcgId) -> MemcgOp {
        match self.seg[usize::from(id) - 1].load(Ordering::Acquire) {
            SEG_HEAD => MemcgOp::Head,
            SEG_TAIL => MemcgOp::Tail,
            _ => MemcgOp::Nop,
        }
    }

    fn random_bin(&self) -> usize {
        // xorshift64; a lost update between two callers only repeats a bin.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x % MEMCG_NR_BINS as u64) as usize
    }

    /// Takes `id` out of whichever bin holds it.
    fn unlink(f: &mut Fifo, gen: usize, id: MemcgId) {
        for bin in f.fifo[gen].iter_mut() {
            if let Some(i) = bin.iter().position(|&m| m == id) {
                bin.remove(i);
                return;
            }
        }
        panic!("memcg {id} is not in generation {gen}");
    }

    /// After generation `old` lost a memcg: if that emptied the old generation, the young
    /// one becomes old.
    fn maybe_advance(&self, f: &Fifo, old: usize) {
        let seq = self.seq.load(Ordering::Relaxed);
        if f.nr_memcgs[old] == 0 && old == memcg_gen(seq) {
            self.seq.store(seq + 1, Ordering::Release);
        }
    }

    /// `lru_gen_online_memcg`: to the tail of a random bin of the old generation.
    pub fn online(&self, id: MemcgId) {
        let bin = self.random_bin();
        let mut f = self.lock.lock();
        assert_eq!(self.gen_of(id), None, "memcg {id} onlined twice");
        let gen = memcg_gen(self.seq.load(Ordering::Relaxed));
        self.gen[usize::from(id) - 1].store(gen as u8, Ordering::Release);
        self.seg[usize::from(id) - 1].store(SEG_DEFAULT, Ordering::Release);
        f.fifo[gen][bin].push_back(id);
        f.nr_memcgs[gen] += 1;
    }

    /// `lru_gen_rotate_memcg`.
    pub fn rotate(&self, id: MemcgId, op: MemcgOp) {
        let bin = self.random_bin();
        let mut f = self.lock.lock();
        let old = self
            .gen_of(id)
            .unwrap_or_else(|| panic!("rotating memcg {id}, which is not on the LRU"));
        let seq = self.seq.load(Ordering::Relaxed);
        let (seg, new) = match op {
            MemcgOp::Head => (SEG_HEAD, old),
            MemcgOp::Tail => (SEG_TAIL, old),
            MemcgOp::Old => (SEG_DEFAULT, memcg_gen(seq)),
            MemcgOp::Young => (SEG_DEFAULT, memcg_gen(seq + 1)),
            MemcgOp::Nop => panic!("rotate with MEMCG_LRU_NOP"),
        };
        self.seg[usize::from(id) - 1].store(seg, Ordering::Release);
        self.gen[usize::from(id) - 1].store(new as u8, Ordering::Release);
        Self::unlink(&mut f, old, id);
        if matches!(op, MemcgOp::Head | MemcgOp::Old) {
            f.fifo[new][bin].push_front(id);
        } else {
            f.fifo[new][bin].push_back(id);
        }
        f.nr_memcgs[old] -= 1;
        f.nr_memcgs[new] += 1;
        self.maybe_advance(&f, old);
    }

    /// `lru_gen_offline_memcg`: to the old generation's head.
    pub fn offline(&self, id: MemcgId) {
        self.rotate(id, MemcgOp::Old);
    }

    /// `lru_gen_release_memcg`: off the LRU (a no-op if it is not on it).
    pub fn release(&self, id: MemcgId) {
        let mut f = self.lock.lock();
        let Some(gen) = self.gen_of(id) else {
            return;
        };
        Self::unlink(&mut f, gen, id);
        self.gen[usize::from(id) - 1].store(UNHASHED, Ordering::Release);
        f.nr_memcgs[gen] -= 1;
        self.maybe_advance(&f, gen);
    }

    /// `lru_gen_soft_reclaim`: a memcg over its soft limit goes to the head, once.
    pub fn soft_reclaim(&self, id: MemcgId) {
        if self.seg_of(id) != MemcgOp::Head {
            self.rotate(id, MemcgOp::Head);
        }
    }

    /// The memcgs of one bin, head first (a snapshot).
    pub fn bin(&self, gen: usize, bin: usize) -> Vec<MemcgId> {
        self.lock.lock().fifo[gen][bin].iter().copied().collect()
    }

    /// The structure's invariants: every memcg on the LRU is in exactly one bin, of the
    /// generation it records; the counts agree with the bins; only the old (`seq`) and
    /// young (`seq + 1`) generations hold memcgs, and the old one is empty only if both are.
    pub fn check(&self) -> Result<(), String> {
        let f = self.lock.lock();
        let seq = self.seq.load(Ordering::Relaxed);
        let mut seen = vec![0u32; self.gen.len()];
        for (g, bins) in f.fifo.iter().enumerate() {
            let n: usize = bins.iter().map(VecDeque::len).sum();
            if n as u64 != f.nr_memcgs[g] {
                return Err(format!(
                    "generation {g} holds {n} memcgs but counts {}",
                    f.nr_memcgs[g]
                ));
            }
            for &id in bins.iter().flatten() {
                seen[usize::from(id) - 1] += 1;
                if self.gen_of(id) != Some(g) {
                    return Err(format!(
                        "memcg {id} in generation {g} records {:?}",
                        self.gen_of(id)
                    ));
                }
            }
        }
        for (i, &n) in seen.iter().enumerate() {
            let on = self.gen[i].load(Ordering::Relaxed) != UNHASHED;
            if n != u32::from(on) {
                return Err(format!("memcg {} is in {n} bins, on the LRU: {on}", i + 1));
            }
        }
        let (old, young) = (memcg_gen(seq), memcg_gen(seq + 1));
        let stale = memcg_gen(seq + 2);
        if f.nr_memcgs[stale] != 0 {
            return Err(format!(
                "generation {stale} (neither old nor young at seq {seq}) holds {} memcgs",
                f.nr_memcgs[stale]
            ));
        }
        if f.nr_memcgs[old] == 0 && f.nr_memcgs[young] != 0 {
            return Err(format!(
                "the old generation {old} is empty but seq {seq} did not move on"
            ));
        }
        Ok(())
    }
}

/// A memcg's protection (`memory.min`, `memory.low`), in pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protection {
    /// `memory.min`: never reclaimed at or below this.
    pub min: u64,
    /// `memory.low`: reclaimed at or below this only when nothing else helps.
    pub low: u64,
}

/// One node's memcgs, each with its lruvec of `nr_folios` folio slots, and the memcg LRU
/// that global reclaim walks (`lru_gen_shrink_node` with memcg enabled).
pub struct Node {
    lruvecs: Vec<Lruvec>,
    memcg_lru: MemcgLru,
    protection: Vec<Mutex<Protection>>,
    online: Vec<AtomicBool>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("memcgs", &self.lruvecs.len())
            .field("memcg_lru", &self.memcg_lru)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node with memcgs `1..=nr_memcgs`, all online, each lruvec with `nr_folios` slots
    /// and the given batches ([`Lruvec::with_batches`]); `seed` drives the bin choices.
    pub fn new(nr_memcgs: usize, nr_folios: usize, batches: (usize, usize), seed: u64) -> Self {
        assert!(
            (1..usize::from(u16::MAX)).contains(&nr_memcgs),
            "1 to 65534 memcgs"
        );
        let node = Node {
            lruvecs: (0..nr_memcgs)
                .map(|_| Lruvec::with_batches(nr_folios, batches.0, batches.1))
                .collect(),
            memcg_lru: MemcgLru::new(nr_memcgs, seed),
            protection: (0..nr_memcgs)
                .map(|_| Mutex::new(Protection::default()))
                .collect(),
            online: (0..nr_memcgs).map(|_| AtomicBool::new(true)).collect(),
        };
        for id in 1..=nr_memcgs as MemcgId {
            node.memcg_lru.online(id);
        }
        node
    }

    /// The number of memcgs.
    pub fn nr_memcgs(&self) -> usize {
        self.lruvecs.len()
    }

    /// The lruvec of memcg `id` (1-based).
    pub fn lruvec(&self, id: MemcgId) -> &Lruvec {
        &self.lruvecs[usize::from(id) - 1]
    }

    /// The memcg LRU.
    pub fn memcg_lru(&self) -> &MemcgLru {
        &self.memcg_lru
    }

    /// Whether memcg `id` is online.
    pub fn is_online(&self, id: MemcgId) -> bool {
        self.online[usize::from(id) - 1].load(Ordering::Acquire)
    }

    /// Sets memcg `id`'s `memory.min` and `memory.low` (pages).
    pub fn set_protection(&self, id: MemcgId, p: Protection) {
        *self.protection[usize::from(id) - 1].lock() = p;
    }

    /// Offlines memcg `id` (`mem_cgroup_css_offline`: `lru_gen_offline_memcg`); its pages
    /// stay until reclaimed, and reclaim scans them all without aging.
    pub fn offline(&self, id: MemcgId) {
        if self.online[usize::from(id) - 1].swap(false, Ordering::AcqRel) {
            self.lruvec(id).set_online(false);
            self.memcg_lru.offline(id);
        }
    }

    /// Releases offline memcg `id` from the memcg LRU (`lru_gen_release_memcg`, when its
    /// last reference goes).
    pub fn release(&self, id: MemcgId) {
        assert!(!self.is_online(id), "releasing online memcg {id}");
        self.memcg_lru.release(id);
    }

    /// The pages memcg `id` holds (its usage).
    pub fn usage(&self, id: MemcgId) -> u64 {
        self.lruvec(id).gen_sizes().iter().flatten().sum()
    }

    /// `shrink_one` (v6.6): reclaims from one memcg and answers how to rotate it; `owners`
    /// gets `id` once per folio it reclaimed (parallel to `sc.reclaimed`).
    fn shrink_one(
        &self,
        id: MemcgId,
        sc: &mut ScanControl,
        swappiness: u32,
        owners: &mut Vec<MemcgId>,
    ) -> MemcgOp {
        let p = *self.protection[usize::from(id) - 1].lock();
        let usage = self.usage(id);
        let root = id == 1;
        if !root && usage <= p.min {
            return MemcgOp::Young;
        }
        if !root && usage <= p.low && self.memcg_lru.seg_of(id) != MemcgOp::Tail {
            return MemcgOp::Tail;
        }
        let lruvec = self.lruvec(id);
        let success = lruvec.try_to_shrink_lruvec(sc, swappiness);
        owners.resize(sc.reclaimed.len(), id);
        if success && self.is_online(id) {
            return MemcgOp::Young;
        }
        if !success && lruvec.is_sizable(swappiness, sc.priority) {
            return MemcgOp::Nop;
        }
        if self.memcg_lru.seg_of(id) != MemcgOp::Tail {
            MemcgOp::Tail
        } else {
            MemcgOp::Young
        }
    }

    /// `shrink_many` (v6.6): the old generation's bins from a random one, each memcg
    /// reclaimed from and rotated as `shrink_one` answers, until the target is met.
    fn shrink_many(&self, sc: &mut ScanControl, swappiness: u32, owners: &mut Vec<MemcgId>) {
        let gen = memcg_gen(self.memcg_lru.seq());
        let first = self.memcg_lru.random_bin();
        let mut bin = first;
        loop {
            for id in self.memcg_lru.bin(gen, bin) {
                if self.memcg_lru.gen_of(id) != Some(gen) {
                    continue;
                }
                let op = self.shrink_one(id, sc, swappiness, owners);
                if op != MemcgOp::Nop {
                    self.memcg_lru.rotate(id, op);
                }
                // should_abort_scan: root reclaim stops at its target.
                if sc.nr_reclaimed >= sc.nr_to_reclaim {
                    return;
                }
            }
            bin = (bin + 1) % MEMCG_NR_BINS;
            if bin == first {
                return;
            }
        }
    }

    /// Global reclaim of at least `nr` pages from zones `0..=reclaim_idx` of the node: the
    /// priority loop (from `set_initial_priority` over the node's inactive pages) of
    /// `shrink_many`, retried as the allocator retries before an OOM (as
    /// [`Lruvec::reclaim_zones`]). Returns each reclaimed folio with its shadow entry and
    /// memcg.
    pub fn reclaim(
        &self,
        nr: u64,
        swappiness: u32,
        reclaim_idx: usize,
    ) -> Vec<(FolioId, Shadow, MemcgId)> {
        let mut sc = ScanControl::new(nr);
        sc.reclaim_idx = reclaim_idx;
        let mut owners = Vec::new();
        let min_batch = self.lruvecs[0].min_batch();
        let initial = || {
            let reclaimable = self.lruvecs.iter().map(|l| l.reclaimable(swappiness)).sum();
            initial_priority(reclaimable, nr, min_batch)
        };
        priority_loop(&mut sc, initial, |sc| {
            self.shrink_many(sc, swappiness, &mut owners)
        });
        sc.reclaimed
            .into_iter()
            .zip(owners)
            .map(|((f, s), id)| (f, s, id))
            .collect()
    }

    /// The memcg LRU's invariants, and every online memcg on it.
    pub fn check(&self) -> Result<(), String> {
        self.memcg_lru.check()?;
        for id in 1..=self.nr_memcgs() as MemcgId {
            if self.is_online(id) && self.memcg_lru.gen_of(id).is_none() {
                return Err(format!("online memcg {id} is not on the memcg LRU"));
            }
        }
        Ok(())
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;

    #[test]
    fn the_old_generation_emptying_makes_the_young_one_old() {
        let lru = MemcgLru::new(3, 7);
        for id in 1..=3 {
            lru.online(id);
        }
        lru.check().unwrap();
        assert_eq!(lru.seq(), 0);
        lru.rotate(1, MemcgOp::Young);
        lru.rotate(2, MemcgOp::Young);
        assert_eq!(lru.seq(), 0, "memcg 3 is still old");
        lru.check().unwrap();
        lru.rotate(3, MemcgOp::Young);
        assert_eq!(lru.seq(), 1, "the old generation emptied");
        for id in 1..=3 {
            assert_eq!(lru.gen_of(id), Some(memcg_gen(1)));
        }
        lru.check().unwrap();
    }

    #[test]
    fn head_and_tail_mark_the_segment_and_stay_in_the_generation() {
        let lru = MemcgLru::new(2, 3);
        lru.online(1);
        lru.online(2);
        lru.soft_reclaim(1);
        assert_eq!(lru.seg_of(1), MemcgOp::Head);
        assert_eq!(lru.gen_of(1), Some(0));
        lru.rotate(2, MemcgOp::Tail);
        assert_eq!(lru.seg_of(2), MemcgOp::Tail);
        lru.rotate(2, MemcgOp::Young);
        assert_eq!(lru.seg_of(2), MemcgOp::Nop, "young resets the segment");
        lru.offline(2);
        assert_eq!(lru.gen_of(2), Some(memcg_gen(lru.seq())), "offline: old");
        lru.release(2);
        assert_eq!(lru.gen_of(2), None);
        lru.release(1);
        lru.check().unwrap();
    }

    /// A node of `memcgs` memcgs, each holding `pages` file folios (ids from 0).
    fn populated(memcgs: usize, slots: usize, pages: u32, seed: u64) -> Node {
        let node = Node::new(memcgs, slots, (4, 16), seed);
        for id in 1..=memcgs as MemcgId {
            let l = node.lruvec(id);
            for f in 0..pages {
                l.init_folio(f, false, crate::mglru::ZONE_NORMAL);
                l.add_folio(f);
            }
        }
        node
    }

    /// Global reclaim visits every memcg in turn: with memcgs of equal, cold page sets,
    /// repeated reclaims take pages from all of them, not only the first.
    #[test]
    fn global_reclaim_is_fair_across_memcgs() {
        let node = populated(4, 64, 48, 11);
        let mut per = [0u64; 5];
        for _ in 0..20 {
            for (_, _, id) in node.reclaim(8, 60, 3) {
                per[usize::from(id)] += 1;
            }
            node.check().unwrap();
        }
        for id in 1..=4 {
            assert!(per[id] > 0, "memcg {id} never reclaimed from: {per:?}");
        }
        // A memcg reclaim has emptied is too small to help: its next visit sends it to the
        // tail, the one after to the young generation.
        let lru = node.memcg_lru();
        for id in 1..=4u16 {
            if node.usage(id) == 0 {
                let young = lru.gen_of(id) == Some(memcg_gen(lru.seq() + 1));
                assert!(
                    young || lru.seg_of(id) == MemcgOp::Tail,
                    "empty memcg {id}: generation {:?} (seq {}), segment {:?}",
                    lru.gen_of(id),
                    lru.seq(),
                    lru.seg_of(id)
                );
            }
        }
    }

    #[test]
    fn a_memcg_below_min_is_not_reclaimed_and_goes_young() {
        let node = populated(2, 32, 20, 5);
        node.set_protection(2, Protection { min: 20, low: 0 });
        let mut sc = ScanControl::new(4);
        sc.priority = 0;
        assert_eq!(
            node.shrink_one(2, &mut sc, 60, &mut Vec::new()),
            MemcgOp::Young
        );
        assert_eq!(sc.nr_reclaimed, 0);
        let got = node.reclaim(16, 60, 3);
        assert!(got.iter().all(|&(_, _, id)| id == 1), "{got:?}");
        assert_eq!(node.usage(2), 20);
    }
}
