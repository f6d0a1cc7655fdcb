//! The simulator's memory: `frames` page frames, a page cache of shadow entries, and the
//! multi-gen LRU reclaiming when no frame is free, as direct reclaim would.

use super::folio::PG_MAPPED;
use super::folio::{PG_ACTIVE, PG_SWAPCACHE};
use super::memcg::{MemcgId, Node};
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

/// Slots per page-cache node (`XA_CHUNK_SIZE`).
const CHUNK: u64 = 64;
/// An empty slot: no page there, resident or evicted.
const EMPTY: Slot = Slot(u64::MAX);

/// The page cache: a two-level table in the spirit of the kernel's xarray, nodes of 64
/// slots. The nodes of the first 2^20 node numbers (page numbers below 2^26, what dense
/// traces use) are found by direct index, the rest through a map of node numbers.
#[derive(Default)]
struct PageCache {
    dense: Vec<u32>,
    sparse: PageMap<u32>,
    slots: Vec<[Slot; CHUNK as usize]>,
}

/// Node numbers found by direct index.
const DENSE_NODES: u64 = 1 << 20;
/// No node (in `dense`).
const NO_NODE: u32 = u32::MAX;

impl PageCache {
    fn node(&self, chunk: u64) -> Option<u32> {
        if chunk < DENSE_NODES {
            let n = *self.dense.get(chunk as usize)?;
            (n != NO_NODE).then_some(n)
        } else {
            self.sparse.get(&chunk).copied()
        }
    }

    fn get(&self, page: u64) -> Option<Slot> {
        let n = self.node(page / CHUNK)?;
        let s = self.slots[n as usize][(page % CHUNK) as usize];
        (s != EMPTY).then_some(s)
    }

    fn insert(&mut self, page: u64, slot: Slot) {
        let chunk = page / CHUNK;
        let n = match self.node(chunk) {
            Some(n) => n,
            None => {
                let n = self.slots.len() as u32;
                self.slots.push([EMPTY; CHUNK as usize]);
                if chunk < DENSE_NODES {
                    let c = chunk as usize;
                    if c >= self.dense.len() {
                        self.dense.resize((c + 1).next_power_of_two(), NO_NODE);
                    }
                    self.dense[c] = n;
                } else {
                    self.sparse.insert(chunk, n);
                }
                n
            }
        };
        self.slots[n as usize][(page % CHUNK) as usize] = slot;
    }
}

/// A page cache slot, as the kernel's xarray holds either a folio or the shadow entry its
/// eviction left (one map, so a miss looks the page up once): the frame with the top bit
/// set, or a packed shadow entry (`pack_shadow`: memcg id, token, type, workingset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot(u64);

const RESIDENT: u64 = 1 << 63;
/// Bits of a shadow's token (`min_seq << LRU_REFS_WIDTH | refs`): 2^44 generations.
const TOKEN_BITS: u32 = 46;

impl Slot {
    fn resident(id: FolioId) -> Self {
        Slot(RESIDENT | u64::from(id))
    }

    fn frame(self) -> Option<FolioId> {
        (self.0 & RESIDENT != 0).then_some(self.0 as FolioId)
    }

    fn shadow(sh: Shadow, memcg: MemcgId) -> Self {
        assert!(
            sh.token < 1 << TOKEN_BITS,
            "shadow token {} too wide",
            sh.token
        );
        Slot(
            (u64::from(memcg) << (TOKEN_BITS + 2))
                | (sh.token << 2)
                | ((sh.ty as u64) << 1)
                | u64::from(sh.workingset),
        )
    }

    fn unpack(self) -> Option<(Shadow, MemcgId)> {
        if self.0 & RESIDENT != 0 {
            return None;
        }
        let sh = Shadow {
            token: (self.0 >> 2) & ((1 << TOKEN_BITS) - 1),
            workingset: self.0 & 1 != 0,
            ty: ((self.0 >> 1) & 1) as usize,
        };
        Some((sh, (self.0 >> (TOKEN_BITS + 2)) as MemcgId))
    }
}

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

/// The lruvecs a simulation reclaims from.
enum Mem {
    /// Memcg disabled: one lruvec (`pgdat->__lruvec`).
    Single(Box<Lruvec>),
    /// Memcgs `1..=n`, each page charged to one, global reclaim through the memcg LRU.
    Node(Box<Node>),
}

/// A memory of page frames managed by the multi-gen LRU.
pub struct Sim {
    mem: Mem,
    free: Vec<FolioId>,
    /// The page cache: every page resident or evicted with a shadow entry.
    cache: PageCache,
    /// Resident pages.
    nr_resident: usize,
    page_of: Vec<u64>,
    /// The memcg each frame's folio is charged to (0 with memcg disabled).
    owner: Vec<MemcgId>,
    /// Memcgs released (their pages are charged to the root memcg from then on).
    released: Vec<bool>,
    swappiness: u32,
    stats: SimStats,
    /// Zones new folios are spread over (1: all in `ZONE_NORMAL`).
    zones: usize,
    /// The `lru_add` folio batch: new folios not on an LRU list yet.
    pending: Vec<(MemcgId, FolioId)>,
}

/// `PAGEVEC_SIZE`: the `lru_add` batch is moved to the LRU when it holds this many.
pub const LRU_ADD_BATCH: usize = 15;

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
        let lru = Box::new(Lruvec::with_batches(frames, min_batch, max_batch));
        Self::over(Mem::Single(lru), frames, swappiness, 0)
    }

    /// A memory of `frames` frames shared by `memcgs` memcgs (ids `1..=memcgs`; page `p`
    /// is charged to memcg `1 + p % memcgs`), reclaimed globally through the memcg LRU
    /// ([`Node`]); `seed` drives the memcg LRU's bin choices.
    pub fn with_memcgs(
        frames: usize,
        swappiness: u32,
        batches: (usize, usize),
        memcgs: usize,
        seed: u64,
    ) -> Self {
        assert!(frames > 0, "a memory needs a frame");
        let node = Node::new(memcgs, frames, batches, seed);
        Self::over(Mem::Node(Box::new(node)), frames, swappiness, memcgs)
    }

    fn over(mem: Mem, frames: usize, swappiness: u32, memcgs: usize) -> Self {
        Sim {
            mem,
            free: (0..frames as FolioId).rev().collect(),
            cache: PageCache::default(),
            nr_resident: 0,
            page_of: vec![u64::MAX; frames],
            owner: vec![0; frames],
            released: vec![false; memcgs + 1],
            swappiness,
            stats: SimStats::default(),
            zones: 1,
            pending: Vec::with_capacity(LRU_ADD_BATCH),
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

    /// The memcg a new folio of `page` is charged to: 0 with memcg disabled; else
    /// `1 + page % memcgs`, or the root memcg (1) once that memcg is released.
    pub fn memcg_of(&self, page: u64) -> MemcgId {
        match &self.mem {
            Mem::Single(_) => 0,
            Mem::Node(n) => {
                let id = 1 + (page % n.nr_memcgs() as u64) as MemcgId;
                if self.released[usize::from(id)] {
                    1
                } else {
                    id
                }
            }
        }
    }

    /// The lruvec of memcg `id` (0 with memcg disabled).
    pub fn lruvec_of_memcg(&self, id: MemcgId) -> &Lruvec {
        match &self.mem {
            Mem::Single(l) => {
                assert_eq!(id, 0, "memcg disabled");
                l
            }
            Mem::Node(n) => n.lruvec(id),
        }
    }

    /// The lruvec frame `id`'s folio is on (or was last on).
    pub fn lruvec_of_frame(&self, id: FolioId) -> &Lruvec {
        match &self.mem {
            Mem::Single(l) => l,
            Mem::Node(n) => n.lruvec(self.owner[id as usize]),
        }
    }

    /// The lruvec (with memcgs, the root memcg's), for dumps, commands and checks.
    pub fn lruvec(&self) -> &Lruvec {
        match &self.mem {
            Mem::Single(l) => l,
            Mem::Node(n) => n.lruvec(1),
        }
    }

    /// Every memcg id with its lruvec (`[(0, lruvec)]` with memcg disabled).
    pub fn memcgs(&self) -> Vec<(MemcgId, &Lruvec)> {
        match &self.mem {
            Mem::Single(l) => vec![(0, l)],
            Mem::Node(n) => (1..=n.nr_memcgs() as MemcgId)
                .map(|id| (id, n.lruvec(id)))
                .collect(),
        }
    }

    /// The node of memcgs, if memcg is enabled.
    pub fn node(&self) -> Option<&Node> {
        match &self.mem {
            Mem::Single(_) => None,
            Mem::Node(n) => Some(n),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    fn tick(&mut self) {
        self.stats.accesses += 1;
    }

    /// Sets every lruvec's clock to the access count (one millisecond per access). Only
    /// reclaim, the commands and the dumps read the clock, so a hit does not pay for it.
    fn sync_clock(&self) {
        let now = self.stats.accesses;
        match &self.mem {
            Mem::Single(l) => l.set_now(now),
            Mem::Node(n) => {
                for id in 1..=n.nr_memcgs() as MemcgId {
                    n.lruvec(id).set_now(now);
                }
            }
        }
    }

    /// Takes a free frame for `page` (reclaiming if none is free), charged to its memcg,
    /// with a fresh folio of the type; a shadow entry left by the page's eviction from the
    /// same memcg counts as a refault there. Returns the frame and its memcg.
    fn fault_in(&mut self, page: u64, anon: bool, in_fault: bool) -> (FolioId, MemcgId) {
        self.stats.misses += 1;
        self.sync_clock();
        if self.free.is_empty() {
            self.reclaim();
        }
        let id = self.free.pop().expect("reclaim frees at least one frame");
        let memcg = self.memcg_of(page);
        self.owner[id as usize] = memcg;
        let zone = self.zone_of(page);
        self.lruvec_of_memcg(memcg).init_folio(id, anon, zone);
        if let Some((sh, from)) = self.cache.get(page).and_then(Slot::unpack) {
            self.stats.refaults += 1;
            let lru = self.lruvec_of_memcg(memcg);
            if anon {
                // Swapped back in: it is in the swap cache.
                lru.set_flags(id, 0, PG_SWAPCACHE);
            }
            if from == memcg && lru.refault(id, sh, in_fault) {
                self.stats.recent_refaults += 1;
            }
        }
        (id, memcg)
    }

    fn settle(&mut self, page: u64, id: FolioId) {
        self.page_of[id as usize] = page;
        self.cache.insert(page, Slot::resident(id));
        self.nr_resident += 1;
    }

    /// One access to `page`: `anon` through the page table (a hit sets the PTE's accessed
    /// bit), else through a file descriptor (a hit bumps the reference counter). A miss
    /// reclaims if no frame is free, then faults the page in. Returns whether it hit.
    pub fn access(&mut self, page: u64, anon: bool) -> bool {
        self.tick();
        if let Some(id) = self.cache.get(page).and_then(Slot::frame) {
            let lru = self.lruvec_of_frame(id);
            if anon {
                lru.touch_pte(id);
            } else {
                lru.mark_accessed(id);
            }
            return true;
        }
        let (id, memcg) = self.fault_in(page, anon, anon);
        let lru = self.lruvec_of_memcg(memcg);
        if anon {
            // A page fault: mapped, young, and added active (`lru_gen_in_fault`).
            lru.map(id, page);
            lru.touch_pte(id);
            lru.set_flags(id, 0, PG_ACTIVE);
        } else {
            // The read that brought it in marks it accessed (filemap_read), while the
            // folio is still in the lru_add batch, as in the kernel.
            lru.mark_accessed(id);
        }
        self.lru_add(memcg, id);
        self.settle(page, id);
        false
    }

    /// An access to file page `page` through a shared mapping at virtual page `vpage`
    /// (`mmap` of the file): a miss faults it in as a page fault does (added active,
    /// `lru_gen_in_fault`), and the page is mapped at `vpage` if it was not mapped yet;
    /// either way the access sets the PTE's accessed bit. Returns whether it hit.
    pub fn access_mapped(&mut self, page: u64, vpage: u64) -> bool {
        self.tick();
        if let Some(id) = self.cache.get(page).and_then(Slot::frame) {
            let lru = self.lruvec_of_frame(id);
            if lru.flags(id) & PG_MAPPED == 0 {
                lru.map(id, vpage);
            }
            lru.touch_pte(id);
            return true;
        }
        let (id, memcg) = self.fault_in(page, false, true);
        let lru = self.lruvec_of_memcg(memcg);
        lru.map(id, vpage);
        lru.touch_pte(id);
        lru.set_flags(id, 0, PG_ACTIVE);
        self.lru_add(memcg, id);
        self.settle(page, id);
        false
    }

    /// Reclaim of `nr` pages from zones `0..=reclaim_idx` at `swappiness`: the lruvec's
    /// with memcg disabled, global reclaim through the memcg LRU with it.
    fn reclaim_raw(&self, nr: u64, swappiness: u32, reclaim_idx: usize) -> Vec<(FolioId, Shadow)> {
        match &self.mem {
            Mem::Single(l) => l.reclaim_zones(nr, swappiness, reclaim_idx),
            Mem::Node(n) => n
                .reclaim(nr, swappiness, reclaim_idx)
                .into_iter()
                .map(|(f, s, _)| (f, s))
                .collect(),
        }
    }

    /// `folio_add_lru`: into the `lru_add` batch, which goes to the LRU when full.
    fn lru_add(&mut self, memcg: MemcgId, id: FolioId) {
        self.pending.push((memcg, id));
        if self.pending.len() == LRU_ADD_BATCH {
            self.drain();
        }
    }

    /// `lru_add_drain`: the `lru_add` batch onto the LRU lists (reclaim, the commands and
    /// memcg changes drain it first, as the kernel's do).
    pub fn drain(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable_by_key(|&(m, _)| m);
        for run in pending.chunk_by(|a, b| a.0 == b.0) {
            let ids: Vec<FolioId> = run.iter().map(|&(_, id)| id).collect();
            self.lruvec_of_memcg(run[0].0).add_folios(&ids);
        }
        pending.clear();
        self.pending = pending;
    }

    /// Memory is full: reclaim as kswapd would, a batch of `MIN_LRU_BATCH` pages (its target
    /// is the watermark gap, at least that much), which sets its initial priority.
    fn reclaim(&mut self) {
        self.drain();
        self.stats.reclaims += 1;
        let min_ttl = self.lruvec().min_ttl_ms();
        if !self.memcgs().iter().any(|(_, l)| l.is_reclaimable(min_ttl)) {
            self.stats.ttl_ooms += 1;
        }
        let batch = self.lruvec().min_batch() as u64;
        let out = self.reclaim_raw(batch, self.swappiness, MAX_NR_ZONES - 1);
        self.release(out);
        if self.free.is_empty() {
            // Nothing of the types this swappiness may evict (swappiness 0 and a memory
            // full of anon pages): the kernel would kill a process. The simulator counts
            // it and reclaims both types instead, so the trace can go on.
            self.stats.ooms += 1;
            let out = self.reclaim_raw(batch, super::MAX_SWAPPINESS / 2, MAX_NR_ZONES - 1);
            self.release(out);
        }
        assert!(!self.free.is_empty(), "reclaim freed nothing: {self:?}");
    }

    /// Frees the frames of reclaimed folios, keeping their shadow entries.
    fn release(&mut self, out: Vec<(FolioId, Shadow)>) {
        for (id, shadow) in out {
            let page = std::mem::replace(&mut self.page_of[id as usize], u64::MAX);
            self.cache
                .insert(page, Slot::shadow(shadow, self.owner[id as usize]));
            self.nr_resident -= 1;
            self.free.push(id);
            self.stats.reclaimed += 1;
        }
    }

    /// Runs debugfs commands (`+ memcg 0 seq ...`, `- memcg 0 seq ...`, memcg 0 with memcg
    /// disabled; see [`super::debugfs`]).
    pub fn command(&mut self, cmds: &str) -> Result<(), super::debugfs::CmdError> {
        self.drain();
        self.sync_clock();
        let out = {
            let memcgs = self.memcgs();
            let lookup = |id: u64| {
                memcgs
                    .iter()
                    .find(|&&(m, _)| u64::from(m) == id && !self.released[usize::from(m)])
                    .map(|&(_, l)| l)
            };
            super::debugfs::write_memcgs(&lookup, cmds, self.swappiness)?
        };
        self.release(out);
        Ok(())
    }

    /// Writes `/sys/kernel/mm/lru_gen/<file>` (`enabled` or `min_ttl_ms`; see
    /// [`super::debugfs::write_enabled`]) for every memcg's lruvec.
    pub fn write_sysfs(&mut self, file: &str, text: &str) -> Result<(), super::debugfs::CmdError> {
        let lruvecs: Vec<&Lruvec> = self.memcgs().into_iter().map(|(_, l)| l).collect();
        match file {
            "enabled" => super::debugfs::write_enabled(&lruvecs, text),
            "min_ttl_ms" => super::debugfs::write_min_ttl_ms(&lruvecs, text),
            f => Err(super::debugfs::CmdError::Inval(format!("no file `{f}`"))),
        }
    }

    /// Reads `/sys/kernel/mm/lru_gen/<file>` (`enabled` or `min_ttl_ms`).
    pub fn read_sysfs(&self, file: &str) -> Option<String> {
        match file {
            "enabled" => Some(super::debugfs::read_enabled(self.lruvec())),
            "min_ttl_ms" => Some(super::debugfs::read_min_ttl_ms(self.lruvec())),
            _ => None,
        }
    }

    /// The `lru_gen` (or `lru_gen_full`) dump of every memcg, after draining the `lru_add`
    /// batch (so every resident page shows).
    pub fn dump(&mut self, full: bool) -> String {
        self.drain();
        self.sync_clock();
        let memcgs: Vec<(MemcgId, &Lruvec)> = self
            .memcgs()
            .into_iter()
            .filter(|&(m, _)| !self.released[usize::from(m)])
            .collect();
        super::debugfs::dump_memcgs(&memcgs, full)
    }

    /// The quiescent invariants of every lruvec, with the frames the simulator says are in
    /// use by each memcg (less those still in the `lru_add` batch) as the folios that must
    /// be listed there, and the memcg LRU's.
    pub fn check(&self) -> Result<(), String> {
        for (m, l) in self.memcgs() {
            l.check(&|id| {
                self.page_of[id as usize] != u64::MAX
                    && self.owner[id as usize] == m
                    && !self.pending.iter().any(|&(_, p)| p == id)
            })
            .map_err(|e| if m == 0 { e } else { format!("memcg {m}: {e}") })?;
        }
        if let Some(n) = self.node() {
            n.check()?;
        }
        Ok(())
    }

    /// Resident pages.
    pub fn resident(&self) -> usize {
        self.nr_resident
    }

    /// Whether `page` is resident.
    pub fn is_resident(&self, page: u64) -> bool {
        self.frame_of(page).is_some()
    }

    /// Whether `page` has a shadow entry (was evicted and not faulted back in).
    pub fn has_shadow(&self, page: u64) -> bool {
        self.cache.get(page).is_some_and(|s| s.unpack().is_some())
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
        self.reclaim_zones_now(nr, MAX_NR_ZONES - 1)
    }

    /// Direct reclaim of `nr` pages from zones `0..=reclaim_idx` only (an allocation that
    /// can use low zones only, `sc->reclaim_idx`). Returns the pages reclaimed.
    pub fn reclaim_zones_now(&mut self, nr: u64, reclaim_idx: usize) -> u64 {
        self.reclaim_by(|sim| sim.reclaim_raw(nr, sim.swappiness, reclaim_idx))
    }

    /// A reclaim asked for from outside (not by a miss): the `lru_add` batch drained and
    /// the clock synced first, the reclaimed frames freed after. Returns the pages.
    fn reclaim_by(&mut self, reclaim: impl FnOnce(&Self) -> Vec<(FolioId, Shadow)>) -> u64 {
        self.drain();
        self.stats.reclaims += 1;
        self.sync_clock();
        let out = reclaim(self);
        let n = out.len() as u64;
        self.release(out);
        n
    }

    /// Reclaim of `nr` pages from memcg `id`'s lruvec alone (0 with memcg disabled), zones
    /// `0..=reclaim_idx`: the lruvec's own priority loop, as memcg reclaim
    /// (`lru_gen_shrink_lruvec`, at `memory.high` or `memory.max`) runs it, without the
    /// memcg LRU. Returns the pages reclaimed.
    pub fn reclaim_memcg_now(&mut self, id: MemcgId, nr: u64, reclaim_idx: usize) -> u64 {
        self.reclaim_by(|sim| {
            sim.lruvec_of_memcg(id)
                .reclaim_zones(nr, sim.swappiness, reclaim_idx)
        })
    }

    /// Offlines memcg `id` (memcg enabled): its pages stay, reclaim scans them whole.
    pub fn offline_memcg(&mut self, id: MemcgId) {
        self.drain();
        self.node().expect("memcg enabled").offline(id);
    }

    /// Releases memcg `id` once it is offline and holds no page: it leaves the memcg LRU,
    /// and its pages are charged to the root memcg from then on. False (nothing done) if
    /// it is the root, online, still holds pages, or was released already.
    pub fn release_memcg(&mut self, id: MemcgId) -> bool {
        self.drain();
        let n = self.node().expect("memcg enabled");
        if id == 1 || n.is_online(id) || n.usage(id) != 0 || self.released[usize::from(id)] {
            return false;
        }
        n.release(id);
        self.released[usize::from(id)] = true;
        true
    }

    /// Whether memcg `id` was released.
    pub fn is_released(&self, id: MemcgId) -> bool {
        self.released[usize::from(id)]
    }

    /// The frame of `page`, if resident.
    pub fn frame_of(&self, page: u64) -> Option<FolioId> {
        self.cache.get(page).and_then(Slot::frame)
    }

    /// The page in frame `id`, if any.
    pub fn page_in(&self, id: FolioId) -> Option<u64> {
        let p = self.page_of[id as usize];
        (p != u64::MAX).then_some(p)
    }

    /// The memcg frame `id`'s folio is charged to.
    pub fn owner_of(&self, id: FolioId) -> MemcgId {
        self.owner[id as usize]
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

    #[test]
    fn memcgs_share_the_memory_and_global_reclaim_takes_from_each() {
        let mut sim = Sim::with_memcgs(200, 60, (8, 64), 3, 9);
        let mut r = rng(3);
        for i in 0..40_000u64 {
            let x = r();
            let anon = x % 4 == 0;
            let page = (x >> 8) % 1_500 + if anon { 1 << 40 } else { 0 };
            sim.access(page, anon);
            if i % 1_999 == 0 {
                sim.check()
                    .unwrap_or_else(|e| panic!("after {i} accesses: {e}"));
            }
        }
        sim.check().expect("invariants at the end");
        let node = sim.node().expect("memcg enabled");
        for id in 1..=3 {
            assert!(node.usage(id) > 0, "memcg {id} holds pages");
            assert!(node.lruvec(id).max_seq() > 3, "memcg {id} was aged");
        }
        let st = sim.stats();
        assert_eq!(sim.resident() as u64 + st.reclaimed, st.misses);
        let dump = sim.dump(false);
        for id in 1..=3 {
            assert!(
                dump.contains(&format!(
                    "memcg {id:5} {}",
                    crate::mglru::debugfs::memcg_path(id)
                )),
                "{dump}"
            );
        }
        // Offline memcg 3, reclaim until it is empty, release it: its pages go to the root.
        sim.offline_memcg(3);
        while node_usage(&sim, 3) > 0 {
            assert!(
                sim.reclaim_now(64) > 0,
                "an offline memcg's pages are reclaimable"
            );
        }
        assert!(sim.release_memcg(3));
        assert_eq!(sim.memcg_of(2), 1, "page 2 was memcg 3's; now the root's");
        sim.access(2, false);
        sim.check().expect("invariants after release");
        assert!(
            sim.command("+ 3 0 9").is_err(),
            "a released memcg takes no commands"
        );
    }

    fn node_usage(sim: &Sim, id: MemcgId) -> u64 {
        sim.node().expect("memcg enabled").usage(id)
    }
}
