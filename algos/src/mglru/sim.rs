//! The simulator's memory: `frames` page frames, a page cache of shadow entries, and the
//! multi-gen LRU reclaiming when no frame is free, as direct reclaim would.

use super::folio::PG_MAPPED;
use super::folio::{PG_ACTIVE, PG_SWAPCACHE};
use super::{FolioId, Lruvec, Shadow, MAX_LRU_BATCH, MAX_NR_ZONES, MIN_LRU_BATCH, ZONE_NORMAL};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hash for page numbers (as rustc's FxHash): the page maps are on every
/// access, and SipHash's protection against chosen keys buys nothing for a trace.
#[derive(Default, Clone, Copy)]
struct PageHasher(u64);

impl Hasher for PageHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by page number.
type PageMap<V> = HashMap<u64, V, BuildHasherDefault<PageHasher>>;

/// What a simulation counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Accesses.
    pub accesses: u64,
    /// Misses (cold misses included).
    pub misses: u64,
    /// Misses on pages evicted before (workingset refaults).
    pub refaults: u64,
    /// Refaults within the window the controller counts (`lru_gen_refault` "recent").
    pub recent_refaults: u64,
    /// Reclaim calls.
    pub reclaims: u64,
    /// Pages reclaimed.
    pub reclaimed: u64,
    /// Reclaims that found nothing of the types the swappiness allows (the kernel's OOM).
    pub ooms: u64,
    /// Reclaims that found the oldest generation younger than `min_ttl_ms`: the kernel
    /// kills a process there rather than thrash; the simulator counts it and reclaims.
    pub ttl_ooms: u64,
}

/// A memory of page frames managed by the multi-gen LRU.
pub struct Sim {
    lru: Lruvec,
    free: Vec<FolioId>,
    resident: PageMap<FolioId>,
    page_of: Vec<u64>,
    shadows: PageMap<Shadow>,
    swappiness: u32,
    stats: SimStats,
    /// Zones new folios are spread over (1: all in `ZONE_NORMAL`).
    zones: usize,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("frames", &self.page_of.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A memory of `frames` frames (at least 1) with `swappiness` (0-200; 60 is the
    /// kernel's default).
    pub fn new(frames: usize, swappiness: u32) -> Self {
        Self::with_batches(frames, swappiness, MIN_LRU_BATCH, MAX_LRU_BATCH)
    }

    /// [`Sim::new`] over an lruvec with scaled-down batches
    /// ([`Lruvec::with_batches`]); reclaim on a full memory asks for `min_batch` pages.
    pub fn with_batches(
        frames: usize,
        swappiness: u32,
        min_batch: usize,
        max_batch: usize,
    ) -> Self {
        assert!(frames > 0, "a memory needs a frame");
        Sim {
            lru: Lruvec::with_batches(frames, min_batch, max_batch),
            free: (0..frames as FolioId).rev().collect(),
            resident: PageMap::with_capacity_and_hasher(frames, Default::default()),
            page_of: vec![u64::MAX; frames],
            shadows: PageMap::default(),
            swappiness,
            stats: SimStats::default(),
            zones: 1,
        }
    }

    /// Spreads new folios over `n` zones (1 to 3: `ZONE_NORMAL`; `ZONE_NORMAL` and
    /// `ZONE_MOVABLE`; `ZONE_DMA32` to `ZONE_MOVABLE`), by page number, so reclaim
    /// restricted to low zones ([`Sim::reclaim_zones_now`]) has ineligible folios to pass.
    pub fn set_zones(&mut self, n: usize) {
        assert!((1..MAX_NR_ZONES).contains(&n), "1 to 3 zones");
        self.zones = n;
    }

    /// The zone a new folio of `page` goes into.
    pub fn zone_of(&self, page: u64) -> usize {
        let first = if self.zones == 3 { 1 } else { ZONE_NORMAL };
        first + (page % self.zones as u64) as usize
    }

    /// The lruvec (for dumps, commands and checks).
    pub fn lruvec(&self) -> &Lruvec {
        &self.lru
    }

    /// The counts so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// One access to `page`: `anon` through the page table (a hit sets the PTE's accessed
    /// bit), else through a file descriptor (a hit bumps the reference counter). A miss
    /// reclaims if no frame is free, then faults the page in. Returns whether it hit.
    pub fn access(&mut self, page: u64, anon: bool) -> bool {
        self.stats.accesses += 1;
        self.lru.set_now(self.stats.accesses);
        if let Some(&id) = self.resident.get(&page) {
            if anon {
                self.lru.touch_pte(id);
            } else {
                self.lru.mark_accessed(id);
            }
            return true;
        }
        self.stats.misses += 1;
        if self.free.is_empty() {
            self.reclaim();
        }
        let id = self.free.pop().expect("reclaim frees at least one frame");
        self.lru.init_folio(id, anon, self.zone_of(page));
        if let Some(sh) = self.shadows.remove(&page) {
            self.stats.refaults += 1;
            if anon {
                // Swapped back in: it is in the swap cache.
                self.lru.set_flags(id, 0, PG_SWAPCACHE);
            }
            if self.lru.refault(id, sh, anon) {
                self.stats.recent_refaults += 1;
            }
        }
        if anon {
            // A page fault: mapped, young, and added active (`lru_gen_in_fault`).
            self.lru.map(id, page);
            self.lru.touch_pte(id);
            self.lru.set_flags(id, 0, PG_ACTIVE);
        }
        self.lru.add_folio(id);
        if !anon {
            // The read that brought it in marks it accessed (filemap_read).
            self.lru.mark_accessed(id);
        }
        self.page_of[id as usize] = page;
        self.resident.insert(page, id);
        false
    }

    /// Memory is full: reclaim as kswapd would, a batch of `MIN_LRU_BATCH` pages (its target
    /// is the watermark gap, at least that much), which sets its initial priority.
    fn reclaim(&mut self) {
        self.stats.reclaims += 1;
        if !self.lru.is_reclaimable(self.lru.min_ttl_ms()) {
            self.stats.ttl_ooms += 1;
        }
        let out = self
            .lru
            .reclaim(self.lru.min_batch() as u64, self.swappiness);
        self.release(out);
        if self.free.is_empty() {
            // Nothing of the types this swappiness may evict (swappiness 0 and a memory
            // full of anon pages): the kernel would kill a process. The simulator counts
            // it and reclaims both types instead, so the trace can go on.
            self.stats.ooms += 1;
            let out = self
                .lru
                .reclaim(self.lru.min_batch() as u64, super::MAX_SWAPPINESS / 2);
            self.release(out);
        }
        assert!(
            !self.free.is_empty(),
            "reclaim freed nothing: {:?}",
            self.lru
        );
    }

    /// Frees the frames of reclaimed folios, keeping their shadow entries.
    fn release(&mut self, out: Vec<(FolioId, Shadow)>) {
        for (id, shadow) in out {
            let page = std::mem::replace(&mut self.page_of[id as usize], u64::MAX);
            self.resident.remove(&page);
            self.shadows.insert(page, shadow);
            self.free.push(id);
            self.stats.reclaimed += 1;
        }
    }

    /// Runs debugfs commands (`+ 0 0 seq ...`, `- 0 0 seq ...`; see [`super::debugfs`]).
    pub fn command(&mut self, cmds: &str) -> Result<(), super::debugfs::CmdError> {
        let out = super::debugfs::write(&self.lru, cmds, self.swappiness)?;
        self.release(out);
        Ok(())
    }

    /// The quiescent invariants of the lruvec, with the frames the simulator says are in
    /// use as the folios that must be listed.
    pub fn check(&self) -> Result<(), String> {
        self.lru.check(&|id| self.page_of[id as usize] != u64::MAX)
    }

    /// Resident pages.
    pub fn resident(&self) -> usize {
        self.resident.len()
    }

    /// Whether `page` is resident.
    pub fn is_resident(&self, page: u64) -> bool {
        self.resident.contains_key(&page)
    }

    /// Whether `page` has a shadow entry (was evicted and not faulted back in).
    pub fn has_shadow(&self, page: u64) -> bool {
        self.shadows.contains_key(&page)
    }

    /// The swappiness reclaim uses.
    pub fn swappiness(&self) -> u32 {
        self.swappiness
    }

    /// Changes the swappiness (0-200, `vm.swappiness`'s range).
    pub fn set_swappiness(&mut self, s: u32) {
        assert!(s <= super::MAX_SWAPPINESS);
        self.swappiness = s;
    }

    /// Direct reclaim of `nr` pages now (as if an allocation needed them), whether or not a
    /// frame is free.
    pub fn reclaim_now(&mut self, nr: u64) -> u64 {
        self.stats.reclaims += 1;
        let out = self.lru.reclaim(nr, self.swappiness);
        let n = out.len() as u64;
        self.release(out);
        n
    }

    /// Direct reclaim of `nr` pages from zones `0..=reclaim_idx` only (an allocation that
    /// can use low zones only, `sc->reclaim_idx`). Returns the pages reclaimed.
    pub fn reclaim_zones_now(&mut self, nr: u64, reclaim_idx: usize) -> u64 {
        self.stats.reclaims += 1;
        let out = self.lru.reclaim_zones(nr, self.swappiness, reclaim_idx);
        let n = out.len() as u64;
        self.release(out);
        n
    }

    /// An access to file page `page` through a shared mapping at virtual page `vpage`
    /// (`mmap` of the file): a miss faults it in as a page fault does (added active,
    /// `lru_gen_in_fault`), and the page is mapped at `vpage` if it was not mapped yet;
    /// either way the access sets the PTE's accessed bit. Returns whether it hit.
    pub fn access_mapped(&mut self, page: u64, vpage: u64) -> bool {
        self.stats.accesses += 1;
        self.lru.set_now(self.stats.accesses);
        if let Some(&id) = self.resident.get(&page) {
            if self.lru.flags(id) & PG_MAPPED == 0 {
                self.lru.map(id, vpage);
            }
            self.lru.touch_pte(id);
            true
        } else {
            self.stats.misses += 1;
            if self.free.is_empty() {
                self.reclaim();
            }
            let id = self.free.pop().expect("reclaim frees at least one frame");
            self.lru.init_folio(id, false, self.zone_of(page));
            if let Some(sh) = self.shadows.remove(&page) {
                self.stats.refaults += 1;
                if self.lru.refault(id, sh, true) {
                    self.stats.recent_refaults += 1;
                }
            }
            self.lru.map(id, vpage);
            self.lru.touch_pte(id);
            self.lru.set_flags(id, 0, PG_ACTIVE);
            self.lru.add_folio(id);
            self.page_of[id as usize] = page;
            self.resident.insert(page, id);
            false
        }
    }

    /// The frame of `page`, if resident.
    pub fn frame_of(&self, page: u64) -> Option<FolioId> {
        self.resident.get(&page).copied()
    }

    /// The page in frame `id`, if any.
    pub fn page_in(&self, id: FolioId) -> Option<u64> {
        let p = self.page_of[id as usize];
        (p != u64::MAX).then_some(p)
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) for the tests' traces.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn invariants_hold_through_a_mixed_trace() {
        let mut sim = Sim::new(300, 60);
        let mut r = rng(7);
        for i in 0..60_000u64 {
            let x = r();
            let anon = x % 3 == 0;
            // Hot set of 200 pages, a cold tail of 5,000, and a scan now and then.
            let page = if i % 1000 < 50 {
                100_000 + i
            } else if x % 4 != 0 {
                (x >> 8) % 200
            } else {
                200 + (x >> 8) % 5_000
            };
            sim.access(page + if anon { 1 << 40 } else { 0 }, anon);
            if i % 997 == 0 {
                sim.check()
                    .unwrap_or_else(|e| panic!("after {i} accesses: {e}"));
            }
        }
        sim.check().expect("quiescent invariants at the end");
        let st = sim.stats();
        assert_eq!(st.accesses, 60_000);
        assert!(st.misses < st.accesses && st.misses >= 300);
        assert_eq!(
            sim.resident() as u64 + st.reclaimed,
            st.misses,
            "every miss became a resident page or was reclaimed"
        );
        let max = sim.lruvec().max_seq();
        assert!(max > 3, "the aging ran (max_seq {max})");
    }

    #[test]
    fn swappiness_0_with_only_anon_pages_is_an_oom_and_the_trace_goes_on() {
        let mut sim = Sim::new(16, 0);
        for r in 0..10 {
            for p in 0..40u64 {
                sim.access((1 << 20) + ((p * 7 + r) % 40), true);
            }
        }
        let st = sim.stats();
        assert!(
            st.ooms > 0,
            "file-only reclaim cannot free anon pages: {st:?}"
        );
        assert_eq!(st.accesses, 400);
        sim.check().expect("invariants");
    }

    #[test]
    fn a_hot_set_survives_a_one_time_scan() {
        // 100 hot file pages read again and again, then one pass over 1,000 cold pages:
        // the hot pages have fd references (tiers), the scan pages none.
        let mut sim = Sim::new(400, 60);
        for _ in 0..20 {
            for p in 0..100 {
                sim.access(p, false);
            }
        }
        for p in 1_000..2_000 {
            sim.access(p, false);
        }
        let before = sim.stats().misses;
        for p in 0..100 {
            sim.access(p, false);
        }
        let lost = sim.stats().misses - before;
        assert!(lost < 10, "the scan pushed out {lost} of the 100 hot pages");
    }
}
