//! One lruvec's multi-gen LRU (`struct lru_gen_folio` and the functions of mm/vmscan.c
//! that work on it, Linux v6.6): the generation lists, aging, eviction, the PID controller
//! and refault accounting.
//!
//! Loops index the kernel's arrays by generation, type, zone and tier as vmscan.c does
//! (`for_each_gen_type_zone`), which reads closer to it than iterator chains.
#![allow(clippy::needless_range_loop)]

use super::folio::{self, *};
use super::pgtable::{Bloom, MmState, PageTables};
use super::{
    FolioId, ANON, DEF_PRIORITY, FILE, LRU_REFS_WIDTH, MAX_LRU_BATCH, MAX_NR_GENS, MAX_NR_TIERS,
    MAX_NR_ZONES, MIN_LRU_BATCH, MIN_NR_GENS,
};
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::Mutex;

/// `MAX_RECLAIM_RETRIES`: reclaim passes without progress before an OOM.
pub const MAX_RECLAIM_RETRIES: usize = 16;

/// No folio (an empty list end).
pub(crate) const NIL: u32 = u32::MAX;

/// On no list.
const OFF: u8 = u8::MAX;

/// `MAX_SWAPPINESS`.
pub const MAX_SWAPPINESS: u32 = 200;
/// Swappiness that evicts anon pages only (`SWAPPINESS_ANON_ONLY`, newer kernels: v6.14's
/// proactive-reclaim `swappiness=max`); accepted by [`Lruvec::evict_folios`].
pub const SWAPPINESS_ANON_ONLY: u32 = MAX_SWAPPINESS + 1;

#[derive(Clone, Copy, Default)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// What the lru_lock protects.
pub(crate) struct Lists {
    lists: [[[List; MAX_NR_ZONES]; 2]; MAX_NR_GENS],
    prev: Vec<u32>,
    next: Vec<u32>,
    /// The generation whose list each folio is on ([`OFF`] if none): the list membership,
    /// which the flags' generation does not say (promotions are sorted lazily).
    on: Vec<u8>,
    pub(crate) nr_pages: [[[i64; MAX_NR_ZONES]; 2]; MAX_NR_GENS],
    pub(crate) avg_refaulted: [[u64; MAX_NR_TIERS]; 2],
    pub(crate) avg_total: [[u64; MAX_NR_TIERS]; 2],
    /// `protected[hist][type][tier - 1]` (`NR_HIST_GENS` 1).
    pub(crate) protected: [[u64; MAX_NR_TIERS - 1]; 2],
}

impl Lists {
    fn is_empty(&self, gen: usize, ty: usize, zone: usize) -> bool {
        self.lists[gen][ty][zone].head == NIL
    }

    /// `list_add`: at the head (the young end).
    fn add(&mut self, gen: usize, ty: usize, zone: usize, id: u32) {
        let l = &mut self.lists[gen][ty][zone];
        let i = id as usize;
        debug_assert_eq!(self.on[i], OFF);
        self.prev[i] = NIL;
        self.next[i] = l.head;
        if l.head != NIL {
            self.prev[l.head as usize] = id;
        } else {
            l.tail = id;
        }
        l.head = id;
        self.on[i] = gen as u8;
    }

    /// `list_add_tail`: at the tail (evicted first).
    fn add_tail(&mut self, gen: usize, ty: usize, zone: usize, id: u32) {
        let l = &mut self.lists[gen][ty][zone];
        let i = id as usize;
        debug_assert_eq!(self.on[i], OFF);
        self.next[i] = NIL;
        self.prev[i] = l.tail;
        if l.tail != NIL {
            self.next[l.tail as usize] = id;
        } else {
            l.head = id;
        }
        l.tail = id;
        self.on[i] = gen as u8;
    }

    fn del(&mut self, gen: usize, ty: usize, zone: usize, id: u32) {
        let i = id as usize;
        debug_assert_eq!(self.on[i], gen as u8);
        let (p, n) = (self.prev[i], self.next[i]);
        let l = &mut self.lists[gen][ty][zone];
        if p != NIL {
            self.next[p as usize] = n;
        } else {
            debug_assert_eq!(l.head, id);
            l.head = n;
        }
        if n != NIL {
            self.prev[n as usize] = p;
        } else {
            debug_assert_eq!(l.tail, id);
            l.tail = p;
        }
        self.on[i] = OFF;
    }

    /// `lru_to_folio(head)`: the tail, the next folio eviction looks at.
    fn last(&self, gen: usize, ty: usize, zone: usize) -> Option<u32> {
        let t = self.lists[gen][ty][zone].tail;
        (t != NIL).then_some(t)
    }

    /// The folios of one list, head to tail.
    pub(crate) fn iter(
        &self,
        gen: usize,
        ty: usize,
        zone: usize,
    ) -> impl Iterator<Item = u32> + '_ {
        let mut cur = self.lists[gen][ty][zone].head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let id = cur;
            cur = self.next[id as usize];
            Some(id)
        })
    }

    /// The generation of the list folio `id` is on.
    fn list_gen(&self, id: u32) -> Option<usize> {
        let g = self.on[id as usize];
        (g != OFF).then_some(g as usize)
    }
}

/// `lru_gen_from_seq`.
#[inline]
pub fn gen_from_seq(seq: u64) -> usize {
    (seq % MAX_NR_GENS as u64) as usize
}

/// A reclaim request (`struct scan_control`, the part the policy reads) and its results.
#[derive(Debug, Clone)]
pub struct ScanControl {
    /// `priority`: scan `size >> priority` per round.
    pub priority: u32,
    /// `nr_to_reclaim`.
    pub nr_to_reclaim: u64,
    /// `nr_reclaimed`.
    pub nr_reclaimed: u64,
    /// `nr_scanned`.
    pub nr_scanned: u64,
    /// `reclaim_idx`: the highest zone reclaim may take from.
    pub reclaim_idx: usize,
    /// `may_swap`: anon folios may be evicted.
    pub may_swap: bool,
    /// The folios reclaimed, with the shadow entries their eviction left.
    pub reclaimed: Vec<(FolioId, Shadow)>,
}

impl ScanControl {
    /// A reclaim of `nr_to_reclaim` pages from every zone, swap allowed.
    pub fn new(nr_to_reclaim: u64) -> Self {
        ScanControl {
            priority: DEF_PRIORITY,
            nr_to_reclaim,
            nr_reclaimed: 0,
            nr_scanned: 0,
            reclaim_idx: MAX_NR_ZONES - 1,
            may_swap: true,
            reclaimed: Vec::new(),
        }
    }
}

/// A shadow entry (`pack_shadow` of `lru_gen_eviction`): the `min_seq` of the folio's type
/// at eviction and its reference count, and whether it had any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shadow {
    /// `token`: `min_seq << LRU_REFS_WIDTH | max(refs - 1, 0)`.
    pub token: u64,
    /// The shadow's workingset bit (`refs != 0`).
    pub workingset: bool,
    /// The folio's LRU type.
    pub ty: usize,
}

/// `struct ctrl_pos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtrlPos {
    /// Refaults (average plus this generation's).
    pub refaulted: u64,
    /// Evictions plus protections (average plus this generation's).
    pub total: u64,
    /// The gain.
    pub gain: u64,
}

/// `positive_ctrl_err` (v6.6): true if the process variable `pv` is not hotter than the
/// setpoint `sp`, i.e. its tier (or type) may be evicted.
#[inline]
pub fn positive_ctrl_err(sp: &CtrlPos, pv: &CtrlPos) -> bool {
    let batch = MIN_LRU_BATCH as u64;
    pv.refaulted < batch
        || pv.refaulted as u128 * (sp.total + batch) as u128 * sp.gain as u128
            <= (sp.refaulted + 1) as u128 * pv.total as u128 * pv.gain as u128
}

/// The PID controller's inputs for one type: the averages carried over from evicted
/// generations and the counts of the generation being evicted (`NR_HIST_GENS` 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierCounts {
    /// `avg_refaulted[type][tier]`.
    pub avg_refaulted: [u64; MAX_NR_TIERS],
    /// `avg_total[type][tier]`.
    pub avg_total: [u64; MAX_NR_TIERS],
    /// `refaulted[hist][type][tier]`.
    pub refaulted: [u64; MAX_NR_TIERS],
    /// `evicted[hist][type][tier]`.
    pub evicted: [u64; MAX_NR_TIERS],
    /// `protected[hist][type][tier - 1]`.
    pub protected: [u64; MAX_NR_TIERS - 1],
}

impl TierCounts {
    /// `read_ctrl_pos` (v6.6): the position of `tier` with `gain`.
    pub fn pos(&self, tier: usize, gain: u64) -> CtrlPos {
        let mut total = self.avg_total[tier] + self.evicted[tier];
        if tier > 0 {
            total += self.protected[tier - 1];
        }
        CtrlPos {
            refaulted: self.avg_refaulted[tier] + self.refaulted[tier],
            total,
            gain,
        }
    }
}

/// `get_tier_idx` (v6.6): the setpoint is tier 0 with gain 1, each higher tier a process
/// variable with gain 2; the first tier that refaults more than the setpoint allows is
/// protected with every tier above it. Returns the highest tier to evict.
pub fn tier_idx(c: &TierCounts) -> usize {
    let sp = c.pos(0, 1);
    let mut tier = 1;
    while tier < MAX_NR_TIERS {
        if !positive_ctrl_err(&sp, &c.pos(tier, 2)) {
            break;
        }
        tier += 1;
    }
    tier - 1
}

/// `get_type_to_scan` (v6.6): compares the types' tier 0 positions with the gains
/// `swappiness` (anon) and `200 - swappiness` (file); the colder type is scanned, with
/// the tier index from the other type's tier 0 as the setpoint. Returns `(type,
/// tier_idx)`. `swappiness` must be in 1..200 (the callers handle the ends).
pub fn type_to_scan(c: &[TierCounts; 2], swappiness: u32) -> (usize, usize) {
    let gain = [
        u64::from(swappiness),
        u64::from(MAX_SWAPPINESS - swappiness),
    ];
    let sp = c[ANON].pos(0, gain[ANON]);
    let pv = c[FILE].pos(0, gain[FILE]);
    let ty = usize::from(positive_ctrl_err(&sp, &pv));
    let sp = c[1 - ty].pos(0, gain[1 - ty]);
    let mut tier = 1;
    while tier < MAX_NR_TIERS {
        if !positive_ctrl_err(&sp, &c[ty].pos(tier, gain[ty])) {
            break;
        }
        tier += 1;
    }
    (ty, tier - 1)
}

/// One lruvec's multi-gen LRU over a fixed table of folios.
pub struct Lruvec {
    flags: Box<[AtomicU64]>,
    /// The PTE accessed bit of each folio's (single) mapping.
    young: Box<[AtomicBool]>,
    /// `lru_lock`.
    lists: Mutex<Lists>,
    max_seq: AtomicU64,
    min_seq: [AtomicU64; 2],
    /// `evicted[hist][type][tier]` (`NR_HIST_GENS` 1): changed without the lru_lock.
    evicted: [[AtomicU64; MAX_NR_TIERS]; 2],
    /// `refaulted[hist][type][tier]`.
    refaulted: [[AtomicU64; MAX_NR_TIERS]; 2],
    /// `enabled` capabilities (`LRU_GEN_CORE` 1, `LRU_GEN_MM_WALK` 2, `LRU_GEN_NONLEAF_YOUNG` 4).
    caps: AtomicU64,
    /// The page tables of the one simulated process, its mm_list state and Bloom filters.
    mm: Mutex<MmState>,
    /// The clock the timestamps read (`jiffies`, in milliseconds here).
    now: AtomicU64,
    /// `lru_gen_min_ttl` (milliseconds; 0 off).
    min_ttl: AtomicU64,
    /// `timestamps[gen]`: the birth time of each generation, written under the lru_lock
    /// before `max_seq` publishes it and read without the lock (the `min_ttl` check, the
    /// dumps).
    timestamps: [AtomicU64; MAX_NR_GENS],
    /// `MIN_LRU_BATCH` of this lruvec (see [`Lruvec::with_batches`]).
    min_batch: usize,
    /// `MAX_LRU_BATCH` of this lruvec.
    max_batch: usize,
    /// An aging with swapping constrained has advanced anon's `min_seq` over a list it left
    /// in place (see [`Lruvec::check`]).
    anon_wrapped: AtomicBool,
    /// `mem_cgroup_online` of the lruvec's memcg.
    online: AtomicBool,
}

impl std::fmt::Debug for Lruvec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lruvec")
            .field("max_seq", &self.max_seq())
            .field("min_seq", &self.min_seq())
            .finish_non_exhaustive()
    }
}

fn atomic_array<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

impl Lruvec {
    /// An lruvec for folios `0..nr_folios` (`lru_gen_init_lruvec`: `max_seq` =
    /// `MIN_NR_GENS + 1`, `min_seq` 0, every timestamp now).
    pub fn new(nr_folios: usize) -> Self {
        Self::with_batches(nr_folios, MIN_LRU_BATCH, MAX_LRU_BATCH)
    }

    /// [`Lruvec::new`] with `MIN_LRU_BATCH` and `MAX_LRU_BATCH` scaled down, for memories of
    /// a few dozen folios that checkers explore: the kernel's batches (64 and 4096) would
    /// never let such a memory reach the page-table walk (`should_skip_mm` skips a process
    /// of fewer than `MIN_LRU_BATCH` pages), a second eviction batch, or the lock drop of
    /// `inc_min_seq` between batches. The PID controller's threshold stays the kernel's
    /// `MIN_LRU_BATCH`. `0 < min <= max`.
    pub fn with_batches(nr_folios: usize, min: usize, max: usize) -> Self {
        assert!(nr_folios < NIL as usize, "folio ids are u32");
        assert!(0 < min && min <= max, "batches {min}/{max}");
        Lruvec {
            flags: (0..nr_folios).map(|_| AtomicU64::new(0)).collect(),
            young: (0..nr_folios).map(|_| AtomicBool::new(false)).collect(),
            lists: Mutex::new(Lists {
                lists: [[[EMPTY; MAX_NR_ZONES]; 2]; MAX_NR_GENS],
                prev: vec![NIL; nr_folios],
                next: vec![NIL; nr_folios],
                on: vec![OFF; nr_folios],
                nr_pages: [[[0; MAX_NR_ZONES]; 2]; MAX_NR_GENS],
                avg_refaulted: [[0; MAX_NR_TIERS]; 2],
                avg_total: [[0; MAX_NR_TIERS]; 2],
                protected: [[0; MAX_NR_TIERS - 1]; 2],
            }),
            timestamps: atomic_array(),
            max_seq: AtomicU64::new(MIN_NR_GENS as u64 + 1),
            min_seq: atomic_array(),
            evicted: [atomic_array(), atomic_array()],
            refaulted: [atomic_array(), atomic_array()],
            caps: AtomicU64::new(0x7),
            mm: Mutex::new(MmState::new(MIN_NR_GENS as u64)),
            now: AtomicU64::new(0),
            min_ttl: AtomicU64::new(0),
            min_batch: min,
            max_batch: max,
            anon_wrapped: AtomicBool::new(false),
            online: AtomicBool::new(true),
        }
    }

    /// Whether an aging with swapping constrained has advanced anon's `min_seq` over the
    /// oldest anon list without moving it (see [`Lruvec::check`]).
    pub fn swap_wrapped(&self) -> bool {
        self.anon_wrapped.load(Ordering::Relaxed)
    }

    /// This lruvec's `MIN_LRU_BATCH` (the eviction batch, the walk's and look-around's
    /// reach).
    pub fn min_batch(&self) -> usize {
        self.min_batch
    }

    /// The birth time of generation `seq`'s slot, read without the lock
    /// (`READ_ONCE(timestamps[gen])`): the time the aging that opened it published it, if
    /// `seq` is still inside the window.
    pub fn birth(&self, seq: u64) -> u64 {
        self.timestamps[gen_from_seq(seq)].load(Ordering::Relaxed)
    }

    /// `max_seq` and its generation's birth time, read without the lock in the order the
    /// kernel's readers use: a reader that sees a new `max_seq` sees the birth time the
    /// aging wrote for it (the release store that publishes `max_seq` orders it).
    pub fn youngest(&self) -> (u64, u64) {
        let max = self.max_seq();
        (max, self.birth(max))
    }

    /// `lruvec_is_reclaimable`'s `min_ttl` test (v6.6): false while the oldest file
    /// generation is younger than `min_ttl` ms, which `lru_gen_age_node` answers with an OOM
    /// kill rather than thrashing on the working set. True with `min_ttl` 0.
    pub fn is_reclaimable(&self, min_ttl: u64) -> bool {
        if min_ttl == 0 {
            return true;
        }
        let birth = self.birth(self.min_seq()[FILE]);
        birth + min_ttl <= self.now()
    }

    /// The number of folio slots.
    pub fn nr_folios(&self) -> usize {
        self.flags.len()
    }

    /// `max_seq` (`READ_ONCE`; published with release by aging).
    pub fn max_seq(&self) -> u64 {
        self.max_seq.load(Ordering::Acquire)
    }

    /// `min_seq[anon, file]`.
    pub fn min_seq(&self) -> [u64; 2] {
        [
            self.min_seq[ANON].load(Ordering::Acquire),
            self.min_seq[FILE].load(Ordering::Acquire),
        ]
    }

    /// Sets the clock (milliseconds) timestamps are taken from.
    pub fn set_now(&self, ms: u64) {
        self.now.store(ms, Ordering::Relaxed);
    }

    /// The clock.
    pub fn now(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }

    /// The `enabled` capabilities.
    pub fn caps(&self) -> u64 {
        self.caps.load(Ordering::Relaxed)
    }

    /// Sets the `enabled` capabilities other than `LRU_GEN_CORE` (turning the core off and
    /// back on moves folios to and from the classic lists, which this model has not).
    pub fn set_caps(&self, caps: u64) {
        self.caps.store(caps | 1, Ordering::Relaxed);
    }

    /// `min_ttl_ms`.
    pub fn min_ttl_ms(&self) -> u64 {
        self.min_ttl.load(Ordering::Relaxed)
    }

    /// Sets `min_ttl_ms`.
    pub fn set_min_ttl_ms(&self, ms: u64) {
        self.min_ttl.store(ms, Ordering::Relaxed);
    }

    /// The flags word of folio `id`.
    pub fn flags(&self, id: FolioId) -> u64 {
        self.flags[id as usize].load(Ordering::Relaxed)
    }

    fn get_nr_gens(&self, ty: usize) -> u64 {
        self.max_seq.load(Ordering::Relaxed) - self.min_seq[ty].load(Ordering::Relaxed) + 1
    }

    /// `seq_is_valid`.
    fn seq_is_valid(&self) -> bool {
        let (a, f) = (self.get_nr_gens(ANON), self.get_nr_gens(FILE));
        f >= MIN_NR_GENS as u64 && f <= a && a <= MAX_NR_GENS as u64
    }

    /// `lru_gen_is_active`: the two youngest generations count as active.
    fn is_active(&self, gen: usize) -> bool {
        let max = self.max_seq.load(Ordering::Relaxed);
        gen == gen_from_seq(max) || gen == gen_from_seq(max - 1)
    }

    // ---- accessors (no lock) ----------------------------------------------------------

    /// A fresh folio in slot `id`: its type and zone, off every list (`folio_lru_gen` -1).
    /// The slot must be free (never used, or its folio reclaimed).
    pub fn init_folio(&self, id: FolioId, anon: bool, zone: usize) {
        assert!(zone < MAX_NR_ZONES);
        let f = (if anon { PG_SWAPBACKED } else { 0 }) | ((zone as u64) << ZONE_PGOFF);
        self.flags[id as usize].store(f, Ordering::Relaxed);
        self.young[id as usize].store(false, Ordering::Relaxed);
    }

    /// An access through a file descriptor (`folio_mark_accessed`, the multi-gen branch:
    /// `folio_inc_refs`): no list move.
    pub fn mark_accessed(&self, id: FolioId) {
        folio::inc_refs(&self.flags[id as usize]);
    }

    /// An access through the page table: the hardware sets the PTE's accessed bit.
    pub fn touch_pte(&self, id: FolioId) {
        self.young[id as usize].store(true, Ordering::Relaxed);
    }

    /// `ptep_test_and_clear_young`.
    pub(crate) fn test_and_clear_young(&self, id: FolioId) -> bool {
        self.young[id as usize].swap(false, Ordering::Relaxed)
    }

    /// Whether the folio's PTE is young (checks and dumps).
    pub fn pte_young(&self, id: FolioId) -> bool {
        self.young[id as usize].load(Ordering::Relaxed)
    }

    /// Sets flags of folio `id` (dirty, writeback, active, unevictable ...) atomically.
    pub fn set_flags(&self, id: FolioId, clear: u64, set: u64) {
        folio::set_mask_bits(&self.flags[id as usize], clear, set);
    }

    // ---- list membership ---------------------------------------------------------------

    /// `lru_gen_update_size`.
    fn update_size(l: &mut Lists, ty: usize, zone: usize, old: Option<usize>, new: Option<usize>) {
        if let Some(o) = old {
            l.nr_pages[o][ty][zone] -= 1;
        }
        if let Some(n) = new {
            l.nr_pages[n][ty][zone] += 1;
        }
    }

    /// `lru_gen_add_folio` (v6.6) under the lru_lock. `PG_lru` is set here too
    /// (`lruvec_add_folio`'s caller's job in the kernel).
    fn add_locked(&self, l: &mut Lists, id: FolioId, reclaiming: bool) -> bool {
        let f = &self.flags[id as usize];
        let flags = f.load(Ordering::Relaxed);
        debug_assert!(
            lru_gen(flags).is_none(),
            "adding folio {id} that is on a list"
        );
        if flags & PG_UNEVICTABLE != 0 {
            return false;
        }
        let ty = lru_type(flags);
        let zone = folio::zone(flags);
        let max = self.max_seq.load(Ordering::Relaxed);
        let min = self.min_seq[ty].load(Ordering::Relaxed);
        let seq = if flags & PG_ACTIVE != 0 {
            max
        } else if (ty == ANON && flags & PG_SWAPCACHE == 0)
            || (flags & PG_RECLAIM != 0 && flags & (PG_DIRTY | PG_WRITEBACK) != 0)
        {
            max - 1
        } else if reclaiming || min + MIN_NR_GENS as u64 >= max {
            min
        } else {
            min + 1
        };
        let gen = gen_from_seq(seq);
        folio::set_mask_bits(f, LRU_GEN_MASK | PG_ACTIVE, gen_bits(gen) | PG_LRU);
        Self::update_size(l, ty, zone, None, Some(gen));
        if reclaiming {
            l.add_tail(gen, ty, zone, id);
        } else {
            l.add(gen, ty, zone, id);
        }
        true
    }

    /// `lruvec_add_folio`: puts folio `id` on its generation list (`lru_gen_add_folio`).
    /// `PG_active` (set by a fault, `folio_activate` or a kept reference) sends it to the
    /// youngest generation. Returns false for an unevictable folio.
    pub fn add_folio(&self, id: FolioId) -> bool {
        let mut l = self.lists.lock();
        self.add_locked(&mut l, id, false)
    }

    /// The drain of an `lru_add` folio batch (`folio_batch_move_lru` with `lru_add_fn`):
    /// [`Lruvec::add_folio`] for each, under one hold of the lru_lock.
    pub fn add_folios(&self, ids: &[FolioId]) {
        let mut l = self.lists.lock();
        for &id in ids {
            self.add_locked(&mut l, id, false);
        }
    }

    /// `lru_gen_del_folio` under the lru_lock.
    fn del_locked(&self, l: &mut Lists, id: FolioId, reclaiming: bool) -> bool {
        let f = &self.flags[id as usize];
        let flags = f.load(Ordering::Relaxed);
        let Some(gen) = lru_gen(flags) else {
            return false;
        };
        let lg = l.list_gen(id).expect("a folio with a generation is listed");
        let (ty, zone) = (lru_type(flags), folio::zone(flags));
        let keep = if !reclaiming && self.is_active(gen) {
            PG_ACTIVE
        } else {
            0
        };
        let old = folio::set_mask_bits(f, LRU_GEN_MASK, keep);
        let gen = lru_gen(old).expect("on a list");
        Self::update_size(l, ty, zone, Some(gen), None);
        l.del(lg, ty, zone, id);
        true
    }

    // ---- aging -------------------------------------------------------------------------

    /// `inc_min_seq` (v6.6): moves what is left of `ty`'s oldest generation to the next one,
    /// at most `MAX_LRU_BATCH` folios per call (false: not done, drop the lock and retry).
    fn inc_min_seq(&self, l: &mut Lists, ty: usize, can_swap: bool) -> bool {
        let mut remaining = self.max_batch;
        let old_gen = gen_from_seq(self.min_seq[ty].load(Ordering::Relaxed));
        if ty == ANON && !can_swap {
            self.anon_wrapped.store(true, Ordering::Relaxed);
        } else {
            for zone in 0..MAX_NR_ZONES {
                while let Some(id) = l.last(old_gen, ty, zone) {
                    let (new_gen, moved) = folio::inc_gen(&self.flags[id as usize], old_gen, false);
                    if moved {
                        Self::update_size(l, ty, zone, Some(old_gen), Some(new_gen));
                    }
                    l.del(old_gen, ty, zone, id);
                    l.add_tail(new_gen, ty, zone, id);
                    remaining -= 1;
                    if remaining == 0 {
                        return false;
                    }
                }
            }
        }
        self.reset_ctrl_pos(l, ty, true);
        self.min_seq[ty].fetch_add(1, Ordering::Release);
        true
    }

    /// `try_to_inc_min_seq` (v6.6): advances `min_seq` past empty generations, keeping anon
    /// and file together when swapping is allowed.
    fn try_to_inc_min_seq(&self, l: &mut Lists, can_swap: bool) -> bool {
        debug_assert!(self.seq_is_valid());
        let max = self.max_seq.load(Ordering::Relaxed);
        let cur = self.min_seq();
        let mut min_seq = cur;
        for ty in usize::from(!can_swap)..2 {
            'seq: while min_seq[ty] + MIN_NR_GENS as u64 <= max {
                let gen = gen_from_seq(min_seq[ty]);
                for zone in 0..MAX_NR_ZONES {
                    if !l.is_empty(gen, ty, zone) {
                        break 'seq;
                    }
                }
                min_seq[ty] += 1;
            }
        }
        if can_swap {
            min_seq[ANON] = min_seq[ANON].min(min_seq[FILE]);
            min_seq[FILE] = min_seq[ANON].max(cur[FILE]);
        }
        let mut success = false;
        for ty in usize::from(!can_swap)..2 {
            if min_seq[ty] == cur[ty] {
                continue;
            }
            self.reset_ctrl_pos(l, ty, true);
            self.min_seq[ty].store(min_seq[ty], Ordering::Release);
            success = true;
        }
        success
    }

    /// `inc_max_seq` (v6.6): opens a new youngest generation; if a type already has
    /// `MAX_NR_GENS`, its oldest is folded into the next first (dropping the lock between
    /// batches, and re-checking everything after retaking it, as bb5e7f234eac requires).
    fn inc_max_seq(&self, seq: u64, can_swap: bool, force_scan: bool) {
        'restart: loop {
            let mut l = self.lists.lock();
            // Another ager got there first.
            if seq < self.max_seq.load(Ordering::Relaxed) {
                return;
            }
            debug_assert!(self.seq_is_valid());
            for ty in (0..2).rev() {
                if self.get_nr_gens(ty) != MAX_NR_GENS as u64 {
                    continue;
                }
                debug_assert!(force_scan || !(ty == FILE || can_swap));
                if self.inc_min_seq(&mut l, ty, can_swap) {
                    continue;
                }
                drop(l);
                crate::sync::thread::yield_now();
                continue 'restart;
            }
            for ty in 0..2 {
                self.reset_ctrl_pos(&mut l, ty, false);
            }
            let next = gen_from_seq(seq + 1);
            self.timestamps[next].store(self.now(), Ordering::Relaxed);
            // Readers that see the new max_seq see the emptied slot, the sizes and the
            // timestamp above.
            self.max_seq.store(seq + 1, Ordering::Release);
            return;
        }
    }

    /// `try_to_inc_max_seq` (v6.6): the aging. With the page-table walk (`LRU_GEN_MM_WALK`)
    /// it walks the process's page tables (once per generation: the mm_list iteration of
    /// `max_seq`), moving young folios to the youngest generation; without, it relies on
    /// rmap look-around at eviction. Then it opens a new generation. False if another ager
    /// already aged `max_seq`.
    pub fn try_to_inc_max_seq(&self, max_seq: u64, can_swap: bool, force_scan: bool) -> bool {
        debug_assert!(max_seq <= self.max_seq());
        let walk = self.caps() & 2 != 0;
        let success = {
            let mut mm = self.mm.lock();
            if max_seq <= mm.seq {
                false
            } else if !walk {
                mm.seq += 1;
                true
            } else {
                mm.begin_walk(max_seq);
                let MmState { pt, bloom, .. } = &mut *mm;
                let batch = self.walk(pt, max_seq, can_swap, force_scan, bloom);
                for (s, d) in mm.stats.iter_mut().zip(batch.stats) {
                    *s += d;
                }
                mm.seq += 1;
                drop(mm);
                self.apply_batch(&batch);
                true
            }
        };
        if success {
            self.inc_max_seq(max_seq, can_swap, force_scan);
        }
        success
    }

    /// `walk_mm` over the simulated page tables: every young PTE of a folio on the lists is
    /// cleared and the folio moved (lazily) to the youngest generation; a PTE table is
    /// skipped unless the Bloom filter of `max_seq` has it (or `force_scan`), and a table
    /// dense with young PTEs goes into the filter of `max_seq + 1`. Returns the size changes
    /// (`walk->nr_pages`) to apply under the lru_lock.
    fn walk(
        &self,
        pt: &PageTables,
        max_seq: u64,
        can_swap: bool,
        force_scan: bool,
        bloom: &mut Bloom,
    ) -> Batch {
        let mut batch = Batch::default();
        let new_gen = gen_from_seq(max_seq);
        // should_skip_mm: a process with fewer than MIN_LRU_BATCH pages of the types that
        // may be evicted is not walked.
        if pt.nr_mapped(can_swap) < self.min_batch {
            return batch;
        }
        for (pmd, ptes) in pt.iter() {
            batch.stats[MM_NONLEAF_TOTAL] += 1;
            if !force_scan && !bloom.test(max_seq, pmd) {
                continue;
            }
            batch.stats[MM_NONLEAF_FOUND] += 1;
            let (mut total, mut young) = (0usize, 0usize);
            for &id in ptes.iter() {
                if id == NIL {
                    continue;
                }
                total += 1;
                batch.stats[MM_LEAF_TOTAL] += 1;
                if !self.young[id as usize].load(Ordering::Relaxed) {
                    batch.stats[MM_LEAF_OLD] += 1;
                    continue;
                }
                let flags = self.flags(id);
                if !can_swap && lru_type(flags) == ANON {
                    continue;
                }
                if !self.test_and_clear_young(id) {
                    continue;
                }
                young += 1;
                batch.stats[MM_LEAF_YOUNG] += 1;
                if let Some(old) = folio::update_gen(&self.flags[id as usize], new_gen) {
                    if old != new_gen {
                        batch.moved(flags, old, new_gen);
                    }
                }
            }
            if suitable_to_scan(total, young) {
                batch.stats[MM_NONLEAF_ADDED] += 1;
                bloom.update(max_seq + 1, pmd);
            }
        }
        batch
    }

    /// `reset_batch_size`: applies a walker's size changes under the lru_lock.
    fn apply_batch(&self, b: &Batch) {
        if b.is_empty() {
            return;
        }
        let mut l = self.lists.lock();
        for g in 0..MAX_NR_GENS {
            for t in 0..2 {
                for z in 0..MAX_NR_ZONES {
                    l.nr_pages[g][t][z] += b.nr_pages[g][t][z];
                }
            }
        }
    }

    // ---- the PID controller -------------------------------------------------------------

    /// The controller's inputs for type `ty` (what `read_ctrl_pos` reads).
    fn tier_counts(&self, l: &Lists, ty: usize) -> TierCounts {
        TierCounts {
            avg_refaulted: l.avg_refaulted[ty],
            avg_total: l.avg_total[ty],
            refaulted: std::array::from_fn(|t| self.refaulted[ty][t].load(Ordering::Relaxed)),
            evicted: std::array::from_fn(|t| self.evicted[ty][t].load(Ordering::Relaxed)),
            protected: l.protected[ty],
        }
    }

    /// The controller's inputs of both types (for checkers and the `lru_gen_full` dump).
    pub fn ctrl_inputs(&self) -> [TierCounts; 2] {
        let l = self.lists.lock();
        [self.tier_counts(&l, ANON), self.tier_counts(&l, FILE)]
    }

    /// `reset_ctrl_pos` (v6.6, `NR_HIST_GENS` 1): on `min_seq` advance (`carryover`) the
    /// averages take half of themselves plus half of this generation's counts, and the
    /// counts restart.
    fn reset_ctrl_pos(&self, l: &mut Lists, ty: usize, carryover: bool) {
        if !carryover {
            return;
        }
        for tier in 0..MAX_NR_TIERS {
            let r = self.refaulted[ty][tier].load(Ordering::Relaxed);
            l.avg_refaulted[ty][tier] = (l.avg_refaulted[ty][tier] + r) / 2;
            let mut sum = l.avg_total[ty][tier] + self.evicted[ty][tier].load(Ordering::Relaxed);
            if tier > 0 {
                sum += l.protected[ty][tier - 1];
            }
            l.avg_total[ty][tier] = sum / 2;
            self.refaulted[ty][tier].store(0, Ordering::Relaxed);
            self.evicted[ty][tier].store(0, Ordering::Relaxed);
            if tier > 0 {
                l.protected[ty][tier - 1] = 0;
            }
        }
    }

    fn get_tier_idx(&self, l: &Lists, ty: usize) -> usize {
        tier_idx(&self.tier_counts(l, ty))
    }

    fn get_type_to_scan(&self, l: &Lists, swappiness: u32) -> (usize, usize) {
        type_to_scan(
            &[self.tier_counts(l, ANON), self.tier_counts(l, FILE)],
            swappiness,
        )
    }

    /// The PID controller's decision for tests: `(type, tier_idx)` as `isolate_folios`
    /// would choose them now.
    pub fn type_and_tier(&self, swappiness: u32) -> (usize, usize) {
        let l = self.lists.lock();
        let min_seq = self.min_seq();
        let (ty, tier) = self.pick_type(&l, swappiness, min_seq);
        (ty, tier.unwrap_or_else(|| self.get_tier_idx(&l, ty)))
    }

    fn pick_type(&self, l: &Lists, swappiness: u32, min_seq: [u64; 2]) -> (usize, Option<usize>) {
        if swappiness == 0 {
            (FILE, None)
        } else if swappiness >= SWAPPINESS_ANON_ONLY || min_seq[ANON] < min_seq[FILE] {
            (ANON, None)
        } else if swappiness == 1 {
            (FILE, None)
        } else if swappiness == MAX_SWAPPINESS {
            (ANON, None)
        } else {
            let (t, tier) = self.get_type_to_scan(l, swappiness);
            (t, Some(tier))
        }
    }

    // ---- eviction ----------------------------------------------------------------------

    /// `sort_folio` (v6.6): true if the folio was moved rather than isolated.
    fn sort_folio(&self, l: &mut Lists, id: FolioId, sc: &ScanControl, tier_idx: usize) -> bool {
        let f = &self.flags[id as usize];
        let flags = f.load(Ordering::Relaxed);
        let gen = lru_gen(flags).expect("on a list");
        let ty = lru_type(flags);
        let zone = folio::zone(flags);
        let refs = lru_refs(flags);
        let tier = lru_tier_from_refs(refs);
        let lg = l.list_gen(id).expect("scanned folios are listed");
        let oldest = gen_from_seq(self.min_seq[ty].load(Ordering::Relaxed));
        if flags & PG_UNEVICTABLE != 0 {
            // Off to the unevictable list (not modelled: it just leaves the lists).
            self.del_locked(l, id, true);
            return true;
        }
        // Promoted by the aging: sort it onto its generation's list.
        if gen != oldest {
            l.del(lg, ty, zone, id);
            l.add(gen, ty, zone, id);
            return true;
        }
        // Protected by the tier (or at the maximum of fd accesses).
        if tier > tier_idx || refs == 1 << LRU_REFS_WIDTH {
            let (new_gen, moved) = folio::inc_gen(f, oldest, false);
            if moved {
                Self::update_size(l, ty, zone, Some(oldest), Some(new_gen));
            }
            l.del(lg, ty, zone, id);
            l.add_tail(new_gen, ty, zone, id);
            l.protected[ty][tier.max(1) - 1] += 1;
            return true;
        }
        // Ineligible zone.
        if zone > sc.reclaim_idx {
            let (new_gen, moved) = folio::inc_gen(f, oldest, false);
            if moved {
                Self::update_size(l, ty, zone, Some(oldest), Some(new_gen));
            }
            l.del(lg, ty, zone, id);
            l.add_tail(new_gen, ty, zone, id);
            return true;
        }
        // Waiting for writeback.
        if flags & PG_WRITEBACK != 0 || (ty == FILE && flags & PG_DIRTY != 0) {
            let (new_gen, moved) = folio::inc_gen(f, oldest, true);
            if moved {
                Self::update_size(l, ty, zone, Some(oldest), Some(new_gen));
            }
            l.del(lg, ty, zone, id);
            l.add(new_gen, ty, zone, id);
            return true;
        }
        false
    }

    /// `isolate_folio` (v6.6).
    ///
    /// The kernel makes its flag changes one after another (`folio_test_clear_lru`, the
    /// references cleared without `PG_referenced`, `PG_reclaim` and `PG_referenced`
    /// cleared, then `lru_gen_del_folio`'s generation cleared); here one compare-and-swap
    /// makes them all, so the outcomes a racing accessor can produce are a subset of the
    /// kernel's (it lands wholly before or after).
    fn isolate_folio(&self, l: &mut Lists, id: FolioId) -> bool {
        let f = &self.flags[id as usize];
        let mut old = f.load(Ordering::Relaxed);
        loop {
            if old & PG_LRU == 0 {
                return false;
            }
            // Without PG_referenced the references of the last generation are stale.
            let stale = if old & PG_REFERENCED == 0 {
                LRU_REFS_MASK | LRU_REFS_FLAGS
            } else {
                0
            };
            let new = old & !(PG_LRU | stale | PG_RECLAIM | PG_REFERENCED | LRU_GEN_MASK);
            match f.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(cur) => old = cur,
            }
        }
        let gen = lru_gen(old).expect("a folio with PG_lru is on a list");
        let lg = l.list_gen(id).expect("a folio with a generation is listed");
        let (ty, zone) = (lru_type(old), folio::zone(old));
        Self::update_size(l, ty, zone, Some(gen), None);
        l.del(lg, ty, zone, id);
        true
    }

    /// `scan_folios` (v6.6): sorts and isolates from the oldest generation of `ty`, zones
    /// from `reclaim_idx` down, until `MIN_LRU_BATCH` are isolated or `MAX_LRU_BATCH`
    /// looked at. Returns the pages scanned (0 if nothing was isolated and the budget was
    /// not used up).
    fn scan_folios(
        &self,
        l: &mut Lists,
        sc: &ScanControl,
        ty: usize,
        tier: usize,
        out: &mut Vec<FolioId>,
    ) -> u64 {
        if self.get_nr_gens(ty) == MIN_NR_GENS as u64 {
            return 0;
        }
        let gen = gen_from_seq(self.min_seq[ty].load(Ordering::Relaxed));
        let (mut scanned, mut isolated, mut remaining) = (0u64, 0usize, self.max_batch);
        for i in (1..=MAX_NR_ZONES).rev() {
            let zone = (sc.reclaim_idx + i) % MAX_NR_ZONES;
            let mut skipped: Vec<FolioId> = Vec::new();
            while let Some(id) = l.last(gen, ty, zone) {
                scanned += 1;
                if self.sort_folio(l, id, sc, tier) {
                } else if self.isolate_folio(l, id) {
                    out.push(id);
                    isolated += 1;
                } else {
                    l.del(gen, ty, zone, id);
                    skipped.push(id);
                }
                remaining -= 1;
                if remaining == 0 || isolated.max(skipped.len()) >= self.min_batch {
                    break;
                }
            }
            // list_splice(&moved, head): back at the head, in the order they were taken.
            for id in skipped.into_iter().rev() {
                l.add(gen, ty, zone, id);
            }
            if remaining == 0 || isolated >= self.min_batch {
                break;
            }
        }
        if isolated > 0 || remaining == 0 {
            scanned
        } else {
            0
        }
    }

    /// `isolate_folios` (v6.6): picks the type (swappiness, the PID controller) and scans
    /// it, or the other type if nothing came of it.
    fn isolate_folios(
        &self,
        l: &mut Lists,
        sc: &ScanControl,
        swappiness: u32,
        out: &mut Vec<FolioId>,
    ) -> (u64, usize) {
        let min_seq = self.min_seq();
        let (mut ty, mut tier) = self.pick_type(l, swappiness, min_seq);
        let mut scanned = 0;
        let start = usize::from(swappiness == 0 || swappiness >= SWAPPINESS_ANON_ONLY);
        for _ in start..2 {
            let t = match tier {
                Some(t) => t,
                None => self.get_tier_idx(l, ty),
            };
            scanned = self.scan_folios(l, sc, ty, t, out);
            if scanned > 0 {
                break;
            }
            ty = 1 - ty;
            tier = None;
        }
        (scanned, ty)
    }

    /// `evict_folios` (v6.6) with `shrink_folio_list` as the simulator has it: an isolated
    /// folio mapped young is referenced (its neighbours are looked around and the folio
    /// goes back, active); any other is reclaimed, leaving a shadow entry
    /// (`lru_gen_eviction`). Returns the pages scanned.
    pub fn evict_folios(&self, sc: &mut ScanControl, swappiness: u32) -> u64 {
        let mut list = Vec::new();
        let scanned = {
            let mut l = self.lists.lock();
            let (mut scanned, _ty) = self.isolate_folios(&mut l, sc, swappiness, &mut list);
            let can_swap = swappiness != 0;
            if self.try_to_inc_min_seq(&mut l, can_swap) {
                scanned += 1;
            }
            let ty = usize::from(swappiness == 0);
            if self.get_nr_gens(ty) == MIN_NR_GENS as u64 {
                scanned = 0;
            }
            scanned
        };
        if list.is_empty() {
            return scanned;
        }
        sc.nr_scanned += list.len() as u64;
        let mut keep = Vec::new();
        let mut evicted = [[0u64; MAX_NR_TIERS]; 2];
        let mut batch = Batch::default();
        for &id in &list {
            let flags = self.flags(id);
            if flags & PG_MAPPED != 0 && self.pte_young(id) {
                self.look_around(id, &mut batch);
                // folio_check_references: referenced once, kept; evict_folios puts a kept
                // folio back active.
                folio::set_mask_bits(
                    &self.flags[id as usize],
                    LRU_REFS_MASK | LRU_REFS_FLAGS,
                    PG_ACTIVE,
                );
                keep.push(id);
                continue;
            }
            let shadow = self.eviction(id, &mut evicted);
            sc.nr_reclaimed += 1;
            sc.reclaimed.push((id, shadow));
        }
        for (ty, tiers) in evicted.iter().enumerate() {
            for (tier, &n) in tiers.iter().enumerate() {
                if n != 0 {
                    self.evicted[ty][tier].fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        let mut l = self.lists.lock();
        for id in keep {
            self.add_locked(&mut l, id, false);
        }
        drop(l);
        self.apply_batch(&batch);
        scanned
    }

    /// `lru_gen_look_around` (v6.6, the walker's branch): around a young PTE found by rmap,
    /// up to `MIN_LRU_BATCH` neighbouring PTEs of its PTE table are harvested too: young
    /// ones are cleared and their folios move to the youngest generation; a dense table goes
    /// into the Bloom filter of `max_seq`.
    fn look_around(&self, id: FolioId, batch: &mut Batch) {
        let max_seq = self.max_seq();
        let new_gen = gen_from_seq(max_seq);
        let mut mm = self.mm.lock();
        let Some((pmd, window)) = mm.pt.window(id, self.min_batch) else {
            self.test_and_clear_young(id);
            return;
        };
        let can_swap = lru_type(self.flags(id)) == ANON;
        let (mut total, mut young) = (0usize, 0usize);
        for n in window {
            total += 1;
            if !self.pte_young(n) {
                continue;
            }
            let flags = self.flags(n);
            if !can_swap && lru_type(flags) == ANON {
                continue;
            }
            if !self.test_and_clear_young(n) {
                continue;
            }
            young += 1;
            if let Some(old) = folio::update_gen(&self.flags[n as usize], new_gen) {
                if old != new_gen {
                    batch.moved(flags, old, new_gen);
                }
            }
        }
        if suitable_to_scan(total, young) {
            mm.bloom.update(max_seq, pmd);
        }
    }

    /// `lru_gen_eviction` (v6.6): counts the eviction in its tier and returns the shadow
    /// entry. The folio is off the lists (isolated) and is freed by the caller.
    ///
    /// The eviction is counted in `evicted`, which the caller adds to the tier counters
    /// once per batch (the kernel adds each folio's as it goes; a concurrent reader sees
    /// the batch's at once, one of the values it could see in the kernel).
    fn eviction(&self, id: FolioId, evicted: &mut [[u64; MAX_NR_TIERS]; 2]) -> Shadow {
        let flags = self.flags(id);
        let ty = lru_type(flags);
        let refs = lru_refs(flags);
        let tier = lru_tier_from_refs(refs);
        let min_seq = self.min_seq[ty].load(Ordering::Acquire);
        let token = (min_seq << LRU_REFS_WIDTH) | refs.saturating_sub(1) as u64;
        evicted[ty][tier] += 1;
        if flags & PG_MAPPED != 0 {
            self.mm.lock().pt.unmap(id);
            self.young[id as usize].store(false, Ordering::Relaxed);
        }
        self.flags[id as usize].store(0, Ordering::Relaxed);
        Shadow {
            token,
            workingset: refs != 0,
            ty,
        }
    }

    /// `lru_gen_refault` (v6.6): folio `id` (just faulted back in, not yet on a list)
    /// refaults with `shadow`. If no generation went by since its eviction the refault is
    /// recent: it counts in its tier (feeding the PID controller), and a refault through a
    /// page fault, or of a folio that had had the maximum fd references, gets its references
    /// restored. `in_fault` says the access was through a page table.
    pub fn refault(&self, id: FolioId, shadow: Shadow, in_fault: bool) -> bool {
        let ty = shadow.ty;
        let min_seq = self.min_seq[ty].load(Ordering::Acquire);
        let recent = shadow.token >> LRU_REFS_WIDTH == min_seq;
        if !recent {
            return false;
        }
        let refs =
            (shadow.token & ((1 << LRU_REFS_WIDTH) - 1)) as usize + usize::from(shadow.workingset);
        let tier = lru_tier_from_refs(refs);
        self.refaulted[ty][tier].fetch_add(1, Ordering::Relaxed);
        if in_fault || refs >= (1 << LRU_REFS_WIDTH) - 1 {
            folio::set_mask_bits(&self.flags[id as usize], 0, LRU_REFS_MASK | PG_WORKINGSET);
        }
        true
    }

    // ---- reclaim -----------------------------------------------------------------------

    /// `should_run_aging` (v6.6): whether to age before evicting, and how many pages this
    /// round may scan.
    pub fn should_run_aging(&self, max_seq: u64, can_swap: bool, priority: u32) -> (bool, u64) {
        let min_seq = self.min_seq();
        let ty0 = usize::from(!can_swap);
        if min_seq[ty0] + MIN_NR_GENS as u64 > max_seq {
            return (true, 0);
        }
        let l = self.lists.lock();
        let (mut young, mut old, mut total) = (0u64, 0u64, 0u64);
        for ty in ty0..2 {
            for seq in min_seq[ty]..=max_seq {
                let gen = gen_from_seq(seq);
                let size: u64 = (0..MAX_NR_ZONES)
                    .map(|z| l.nr_pages[gen][ty][z].max(0) as u64)
                    .sum();
                total += size;
                if seq == max_seq {
                    young += size;
                } else if seq + MIN_NR_GENS as u64 == max_seq {
                    old += size;
                }
            }
        }
        // An offline memcg: everything is cold.
        if !self.is_online() {
            return (false, total);
        }
        let nr_to_scan = total >> priority;
        if min_seq[ty0] + (MIN_NR_GENS as u64) < max_seq {
            return (false, nr_to_scan);
        }
        let age = young * MIN_NR_GENS as u64 > total || old * (MIN_NR_GENS as u64 + 2) < total;
        (age, nr_to_scan)
    }

    /// `get_nr_to_scan` (v6.6): pages to scan, or -1 after aging succeeded, 0 to stop.
    fn get_nr_to_scan(&self, sc: &ScanControl, can_swap: bool) -> i64 {
        let max_seq = self.max_seq();
        let (age, nr) = self.should_run_aging(max_seq, can_swap, sc.priority);
        if !age {
            return nr as i64;
        }
        if sc.priority == DEF_PRIORITY {
            return nr as i64;
        }
        if self.try_to_inc_max_seq(max_seq, can_swap, false) {
            -1
        } else {
            0
        }
    }

    /// `try_to_shrink_lruvec` (v6.6): evicts until the round's budget is scanned or the
    /// reclaim target is met. True if it aged instead.
    pub fn try_to_shrink_lruvec(&self, sc: &mut ScanControl, swappiness: u32) -> bool {
        let swappiness = if sc.may_swap { swappiness } else { 0 };
        let mut scanned = 0u64;
        let nr_to_scan = loop {
            let nr = self.get_nr_to_scan(sc, swappiness != 0);
            if nr <= 0 {
                break nr;
            }
            let delta = self.evict_folios(sc, swappiness);
            if delta == 0 {
                break nr;
            }
            scanned += delta;
            if scanned >= nr as u64 {
                break nr;
            }
            // should_abort_scan (root reclaim).
            if sc.nr_reclaimed >= sc.nr_to_reclaim {
                break nr;
            }
        };
        nr_to_scan < 0
    }

    /// `set_initial_priority` (v6.6): a root reclaim of at least `MIN_LRU_BATCH` pages
    /// (kswapd's, whose target is the watermark gap) starts at the priority that makes one
    /// round's scan of the inactive pages about the target, instead of `DEF_PRIORITY`, so it
    /// ages as soon as `should_run_aging` asks (the first round at `DEF_PRIORITY` never does).
    fn initial_priority(&self, nr: u64, swappiness: u32) -> u32 {
        initial_priority(self.reclaimable(swappiness), nr, self.min_batch)
    }

    /// The inactive pages (`NR_INACTIVE_FILE`, and `NR_INACTIVE_ANON` if `swappiness`
    /// allows anon): every generation but the two youngest.
    pub fn reclaimable(&self, swappiness: u32) -> u64 {
        let sizes = self.gen_sizes();
        let max = self.max_seq();
        let mut reclaimable = 0u64;
        for (gen, s) in sizes.iter().enumerate() {
            if self.is_active_at(gen, max) {
                continue;
            }
            reclaimable += s[FILE];
            if swappiness != 0 {
                reclaimable += s[ANON];
            }
        }
        reclaimable
    }

    /// `lruvec_is_sizable` (v6.6): whether the pages of the types reclaim may take, scaled
    /// by the priority for an online memcg, come to anything.
    pub fn is_sizable(&self, swappiness: u32, priority: u32) -> bool {
        let min_seq = self.min_seq();
        let max_seq = self.max_seq();
        let sizes = self.gen_sizes();
        let mut total = 0u64;
        for ty in usize::from(swappiness == 0)..2 {
            for seq in min_seq[ty]..=max_seq {
                total += sizes[gen_from_seq(seq)][ty];
            }
        }
        if self.is_online() {
            total >> priority != 0
        } else {
            total != 0
        }
    }

    /// Whether the lruvec's memcg is online (`mem_cgroup_online`; true unless
    /// [`Lruvec::set_online`] said otherwise).
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// Marks the lruvec's memcg online or offline: an offline memcg's lruvec is scanned
    /// whole and never aged by reclaim (`should_run_aging`).
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Relaxed);
    }

    fn is_active_at(&self, gen: usize, max_seq: u64) -> bool {
        gen == gen_from_seq(max_seq) || gen == gen_from_seq(max_seq - 1)
    }

    /// Reclaim of at least `nr` pages from every zone: [`Lruvec::reclaim_zones`] with
    /// `reclaim_idx` the highest zone.
    pub fn reclaim(&self, nr: u64, swappiness: u32) -> Vec<(FolioId, Shadow)> {
        self.reclaim_zones(nr, swappiness, MAX_NR_ZONES - 1)
    }

    /// Reclaim of at least `nr` pages from zones `0..=reclaim_idx` (the priority loop of
    /// `do_try_to_free_pages` over this one lruvec, starting where `set_initial_priority`
    /// says): each round scans `size >> priority` more, aging when `should_run_aging` asks.
    /// A pass down to priority 0 that reclaims nothing is retried, as the page allocator
    /// retries reclaim (`MAX_RECLAIM_RETRIES` 16) before it declares an OOM; an empty result
    /// is that OOM. Returns the reclaimed folios with their shadow entries (possibly more
    /// than `nr`: eviction works in batches).
    pub fn reclaim_zones(
        &self,
        nr: u64,
        swappiness: u32,
        reclaim_idx: usize,
    ) -> Vec<(FolioId, Shadow)> {
        assert!(reclaim_idx < MAX_NR_ZONES);
        let mut sc = ScanControl::new(nr);
        sc.reclaim_idx = reclaim_idx;
        priority_loop(
            &mut sc,
            || self.initial_priority(nr, swappiness),
            |sc| {
                self.try_to_shrink_lruvec(sc, swappiness);
            },
        );
        sc.reclaimed
    }

    // ---- page tables -------------------------------------------------------------------

    /// Maps folio `id` at virtual page `vpage` of the simulated process (one mapping per
    /// folio): later page-table accesses set its PTE's accessed bit (`touch_pte`). Sets the
    /// (simulator's) mapped flag the placement and reclaim read.
    pub fn map(&self, id: FolioId, vpage: u64) {
        let anon = lru_type(self.flags(id)) == ANON;
        self.mm.lock().pt.map(id, vpage, anon);
        folio::set_mask_bits(&self.flags[id as usize], 0, PG_MAPPED);
    }

    // ---- debug interfaces --------------------------------------------------------------

    /// With the lru_lock held: the sizes of every generation (for the dumps).
    pub(crate) fn with_lists<R>(&self, f: impl FnOnce(&Lists) -> R) -> R {
        f(&self.lists.lock())
    }

    /// The page-table walk statistics (`mm_state.stats`: leaf total, old, young; non-leaf
    /// total, found in the Bloom filter, added to it).
    pub fn mm_stats(&self) -> [u64; 6] {
        self.mm.lock().stats
    }

    /// The per-tier counters (`refaulted`, `evicted`) of type `ty`.
    pub(crate) fn counters(&self, ty: usize, tier: usize) -> (u64, u64) {
        (
            self.refaulted[ty][tier].load(Ordering::Relaxed),
            self.evicted[ty][tier].load(Ordering::Relaxed),
        )
    }

    /// The pages of each (generation index, type), summed over zones (negative sizes count
    /// as 0, as the dump does).
    pub fn gen_sizes(&self) -> [[u64; 2]; MAX_NR_GENS] {
        let l = self.lists.lock();
        let mut s = [[0u64; 2]; MAX_NR_GENS];
        for (g, row) in s.iter_mut().enumerate() {
            for (t, v) in row.iter_mut().enumerate() {
                *v = (0..MAX_NR_ZONES)
                    .map(|z| l.nr_pages[g][t][z].max(0) as u64)
                    .sum();
            }
        }
        s
    }

    /// The quiescent invariants (no walk batch pending, no call in flight): the sliding
    /// window of each type holds between `MIN_NR_GENS` and `MAX_NR_GENS` generations with
    /// file's window inside anon's; every listed folio is on a list inside its type's window,
    /// of its own type and zone, with `PG_lru` and without `PG_active`, and the generation
    /// in its flags is inside the window too (the list and the flags differ until eviction
    /// sorts a promoted folio); lists of generations outside the window are empty;
    /// `nr_pages` equals the number of listed folios whose flags name each generation;
    /// folios off the lists have no generation. `expect_listed` gives the folios that must
    /// be on a list (the rest must not be), so no folio is lost or listed twice.
    ///
    /// One exception, the kernel's own: an aging with swapping constrained advances anon's
    /// `min_seq` without moving the oldest anon list, which wraps round to become the
    /// youngest ("cold/hot inversion", as vmscan.c's `inc_max_seq` says). A folio on that
    /// list that a walk had promoted keeps the generation index the walk gave it, which
    /// can then name a sequence number behind the window; eviction sorts it by that index
    /// when its list comes up, as the kernel does. Once `try_to_inc_min_seq` (with swapping
    /// allowed again) has passed that list's turn, the index lies behind the window: the
    /// folio is counted in no size `should_run_aging` reads, and sorting it moves it to a
    /// list outside the window, where it waits until `max_seq` comes round to that index.
    /// So once such a wrap has happened ([`Lruvec::swap_wrapped`]), anon folios and lists
    /// are not held to the window. (In a memory of nothing but such folios, reclaim finds
    /// nothing to scan: an OOM the kernel would declare too.)
    pub fn check(&self, expect_listed: &dyn Fn(FolioId) -> bool) -> Result<(), String> {
        self.check_locked(&self.lists.lock(), Some(expect_listed))
    }

    /// The invariants that hold whenever the lru_lock is free, even with accessors, walkers
    /// and look-arounds running (for checks at every scheduling point): the window, and the
    /// lists (each folio on at most one list, inside its type's window, of its own type and
    /// zone, links and list marks consistent). Not the flags' generations (a walker may
    /// promote with a `max_seq` two agings old) nor `nr_pages` (a walker's batch may be
    /// pending). Never blocks: if the lock is held, nothing is checked.
    pub fn check_concurrent(&self) -> Result<(), String> {
        match self.lists.try_lock() {
            Some(l) => self.check_locked(&l, None),
            None => Ok(()),
        }
    }

    /// [`Lruvec::check`] on locked lists; `expect_listed` `None` checks only what
    /// [`Lruvec::check_concurrent`] promises.
    fn check_locked(
        &self,
        l: &Lists,
        expect_listed: Option<&dyn Fn(FolioId) -> bool>,
    ) -> Result<(), String> {
        let quiescent = expect_listed.is_some();
        let max = self.max_seq.load(Ordering::Relaxed);
        let min = self.min_seq();
        if !self.seq_is_valid() {
            return Err(format!("window broken: max_seq {max}, min_seq {min:?}"));
        }
        let mut count = [[[0i64; MAX_NR_ZONES]; 2]; MAX_NR_GENS];
        let mut seen = vec![false; self.nr_folios()];
        for g in 0..MAX_NR_GENS {
            for t in 0..2 {
                let wrapped = t == ANON && self.swap_wrapped();
                let in_window = wrapped || (min[t]..=max).any(|s| gen_from_seq(s) == g);
                for z in 0..MAX_NR_ZONES {
                    let mut prev = NIL;
                    for id in l.iter(g, t, z) {
                        if !in_window {
                            return Err(format!(
                                "folio {id} on list gen {g} type {t} outside the window {}..={max}",
                                min[t]
                            ));
                        }
                        if std::mem::replace(&mut seen[id as usize], true) {
                            return Err(format!("folio {id} is on two lists (or twice on one)"));
                        }
                        if l.list_gen(id) != Some(g) {
                            return Err(format!(
                                "folio {id} on list gen {g} is marked {:?}",
                                l.list_gen(id)
                            ));
                        }
                        if l.prev[id as usize] != prev {
                            return Err(format!("folio {id}: broken back link"));
                        }
                        prev = id;
                        let flags = self.flags(id);
                        if lru_type(flags) != t || folio::zone(flags) != z {
                            return Err(format!(
                                "folio {id} of type {} zone {} on a type {t} zone {z} list",
                                lru_type(flags),
                                folio::zone(flags)
                            ));
                        }
                        if !quiescent {
                            continue;
                        }
                        let Some(fg) = lru_gen(flags) else {
                            return Err(format!(
                                "folio {id} on list gen {g} has no generation in its flags"
                            ));
                        };
                        if flags & PG_LRU == 0 || flags & PG_ACTIVE != 0 {
                            return Err(format!("folio {id} listed with flags {flags:#x} (PG_lru clear or PG_active set)"));
                        }
                        if !wrapped && !(min[t]..=max).any(|s| gen_from_seq(s) == fg) {
                            return Err(format!("folio {id}: generation {fg} in its flags is outside the window {}..={max} of type {t}", min[t]));
                        }
                        count[fg][t][z] += 1;
                    }
                }
            }
        }
        let Some(expect_listed) = expect_listed else {
            return Ok(());
        };
        if count != l.nr_pages {
            return Err(format!(
                "nr_pages {:?} but the lists hold {:?}",
                l.nr_pages, count
            ));
        }
        for id in 0..self.nr_folios() as u32 {
            let listed = seen[id as usize];
            if listed != expect_listed(id) {
                return Err(if listed {
                    format!("folio {id} is on a list but should not be")
                } else {
                    format!("folio {id} was lost: on no list")
                });
            }
            if !listed && lru_gen(self.flags(id)).is_some() {
                return Err(format!("folio {id} is on no list but has a generation"));
            }
            if l.list_gen(id).is_some() != listed {
                return Err(format!("folio {id}: list mark disagrees"));
            }
            if listed
                && l.list_gen(id)
                    .is_some_and(|g| !(0..MAX_NR_GENS).any(|x| x == g))
            {
                return Err(format!("folio {id}: bad list mark"));
            }
        }
        Ok(())
    }
}

/// `set_initial_priority` (v6.6): a root reclaim of at least `MIN_LRU_BATCH` (`min_batch`)
/// pages starts at the priority that makes one round's scan of the `reclaimable` (inactive)
/// pages about the target `nr`; a smaller one at `DEF_PRIORITY`.
pub(crate) fn initial_priority(reclaimable: u64, nr: u64, min_batch: usize) -> u32 {
    if nr < min_batch as u64 {
        return DEF_PRIORITY;
    }
    let fls = |x: u64| i64::from(u64::BITS - x.leading_zeros());
    (fls(reclaimable) - 1 - fls(nr - 1)).clamp(0, i64::from(DEF_PRIORITY)) as u32
}

/// The priority loop of direct reclaim (`do_try_to_free_pages`): from `initial()`'s
/// priority down to 0, one `round` at each, until `sc` has reclaimed its target; a pass
/// that reclaims nothing is retried, as the page allocator retries reclaim
/// (`MAX_RECLAIM_RETRIES`) before it declares an OOM.
pub(crate) fn priority_loop(
    sc: &mut ScanControl,
    initial: impl Fn() -> u32,
    mut round: impl FnMut(&mut ScanControl),
) {
    for _ in 0..MAX_RECLAIM_RETRIES {
        let mut priority = i64::from(initial());
        while priority >= 0 {
            sc.priority = priority as u32;
            round(sc);
            if sc.nr_reclaimed >= sc.nr_to_reclaim {
                return;
            }
            priority -= 1;
        }
        if sc.nr_reclaimed > 0 {
            return;
        }
    }
}

/// `suitable_to_scan`: a PTE table is worth the walk next time if it averages at least
/// one young PTE per cache line (8 PTEs).
fn suitable_to_scan(total: usize, young: usize) -> bool {
    let n = 8;
    young * n >= total
}

/// `MM_LEAF_TOTAL` .. `MM_NONLEAF_ADDED`: the walk statistics (`mm_state.stats`).
const MM_LEAF_TOTAL: usize = 0;
const MM_LEAF_OLD: usize = 1;
const MM_LEAF_YOUNG: usize = 2;
const MM_NONLEAF_TOTAL: usize = 3;
const MM_NONLEAF_FOUND: usize = 4;
const MM_NONLEAF_ADDED: usize = 5;

/// A walker's pending size changes (`walk->nr_pages`) and statistics.
#[derive(Default)]
pub(crate) struct Batch {
    nr_pages: [[[i64; MAX_NR_ZONES]; 2]; MAX_NR_GENS],
    batched: usize,
    stats: [u64; 6],
}

impl Batch {
    fn moved(&mut self, flags: u64, old: usize, new: usize) {
        let (t, z) = (lru_type(flags), folio::zone(flags));
        self.nr_pages[old][t][z] -= 1;
        self.nr_pages[new][t][z] += 1;
        self.batched += 1;
    }

    fn is_empty(&self) -> bool {
        self.batched == 0
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;

    #[test]
    fn the_controller_protects_the_first_tier_that_refaults_more_than_tier_0() {
        let c = TierCounts::default();
        assert_eq!(
            tier_idx(&c),
            MAX_NR_TIERS - 1,
            "no refaults: every tier is evicted"
        );
        let mut c = TierCounts {
            evicted: [1000; MAX_NR_TIERS],
            refaulted: [0, 0, 1000, 0],
            ..TierCounts::default()
        };
        assert_eq!(
            tier_idx(&c),
            1,
            "tier 2 refaults all it loses: tiers 2 and 3 protected"
        );
        // Fewer than MIN_LRU_BATCH refaults never count.
        c.refaulted[2] = MIN_LRU_BATCH as u64 - 1;
        assert_eq!(tier_idx(&c), MAX_NR_TIERS - 1);
        // With tier 0 refaulting as much, tier 2 is not hotter (gain 2 against 1).
        c.refaulted = [1000, 0, 1000, 0];
        assert_eq!(tier_idx(&c), MAX_NR_TIERS - 1);
    }

    #[test]
    fn the_controller_is_monotone_in_the_refaults() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..20_000 {
            let mut c = TierCounts::default();
            for t in 0..MAX_NR_TIERS {
                c.evicted[t] = next(2000);
                c.refaulted[t] = next(2000);
                c.avg_total[t] = next(2000);
                c.avg_refaulted[t] = next(2000);
            }
            for t in 0..MAX_NR_TIERS - 1 {
                c.protected[t] = next(500);
            }
            let base = tier_idx(&c);
            let t = 1 + next(MAX_NR_TIERS as u64 - 1) as usize;
            let mut hotter = c;
            hotter.refaulted[t] += 1 + next(3000);
            assert!(
                tier_idx(&hotter) <= base,
                "more refaults in tier {t} raised tier_idx: {c:?}"
            );
            let mut colder_sp = c;
            colder_sp.refaulted[0] += 1 + next(3000);
            assert!(
                tier_idx(&colder_sp) >= base,
                "more refaults in tier 0 lowered tier_idx: {c:?}"
            );
            // Types: more refaults in anon's tier 0 never makes anon the type to scan when
            // it was file.
            let sw = 1 + next(199) as u32;
            let d = [c, hotter];
            let (ty, _) = type_to_scan(&d, sw);
            let mut hot_anon = d;
            hot_anon[ANON].refaulted[0] += 1 + next(3000);
            if ty == FILE {
                assert_eq!(type_to_scan(&hot_anon, sw).0, FILE);
            }
        }
    }
}
