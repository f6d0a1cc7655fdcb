//! `mglru_ops`: one task drives a small simulated memory (16 frames, 40 anon and 40 file
//! pages over three zones, charged to two memcgs: the root and memcg 2) through the
//! multi-gen LRU: accesses through page tables, file descriptors and shared file mappings,
//! global reclaim (through the memcg LRU) from every zone or only low ones, the debugfs
//! aging and eviction commands on either memcg (well-formed and not), swappiness changes,
//! memcg 2's `memory.min`/`memory.low`, soft limit, offlining and release. The
//! lruvec's batches are scaled down (`MIN_LRU_BATCH` 4, `MAX_LRU_BATCH` 16) so such a
//! memory reaches the page-table walk, look-around and several eviction batches.
//!
//! Checks after every operation: the lruvec's quiescent invariants ([`Lruvec::check`]:
//! the sliding window, every folio on exactly one list of a generation inside its type's
//! window and no younger than its flags say, `nr_pages` equal to the lists, no folio lost
//! or listed that is not resident); `max_seq` and `min_seq` never go back; a hit exactly
//! when the page was resident; a page is resident or shadowed, never both; the debugfs
//! commands answer as the kernel's argument rules say given the window before them (the
//! model predicts what the arguments alone decide); and before every eviction the PID
//! controller's decisions (`tier_idx` per type, `type_to_scan`) equal a re-derivation of
//! the kernel's formulas written independently here. Around reclaim: one with swappiness
//! 0 leaves every anon folio's generation and accessed bit as it found them (neither the
//! walk nor look-around may touch a type that cannot be evicted); one restricted to low
//! zones (a memcg's) that reclaims nothing found no resident folio it was allowed to take (ineligible
//! folios must not block the oldest generation; not asked once swap-constrained aging has
//! wrapped anon lists round, which can hide anon folios from reclaim as in the kernel); a
//! memcg at or below its `memory.min` loses no page to global reclaim; and the controller's `protected` counts
//! since `min_seq` last moved stay within the folios that can have left that generation.
//! Every check is per memcg, and the memcg LRU's own invariants are checked after every
//! operation.

use crate::target::Target;
use algos::mglru::folio::{lru_gen, lru_type, zone as folio_zone};
use algos::mglru::memcg::{MemcgId, MemcgOp, Protection};
use algos::mglru::Lruvec;
use algos::mglru::{
    debugfs::CmdError, tier_idx, type_to_scan, Sim, TierCounts, ANON, FILE, LRU_REFS_WIDTH,
    MAX_NR_GENS, MAX_NR_TIERS, MIN_LRU_BATCH, MIN_NR_GENS,
};
use arbitrary::Arbitrary;
use std::sync::Mutex;

/// Frames of the simulated memory.
pub const FRAMES: usize = 16;
/// Pages of each type.
pub const PAGES: u64 = 40;
/// Where anon page ids start (the virtual pages of the one process).
const ANON_BASE: u64 = 1 << 20;
/// The lruvec's scaled `MIN_LRU_BATCH` and `MAX_LRU_BATCH`.
pub const BATCHES: (usize, usize) = (4, 16);
/// Memcgs: the root (1) and memcg 2 (odd pages are charged to it).
pub const MEMCGS: usize = 2;

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Arbitrary)]
pub enum MglruOp {
    /// An access to page `page % 40` of a type: `anon` through the page table (a hit sets
    /// the accessed bit), else a read through a file descriptor.
    Access {
        /// The page.
        page: u8,
        /// Anon (page table) or file (fd).
        anon: bool,
    },
    /// Several accesses in a row, to pages `first, first + stride, ...` (scans and loops).
    Run {
        /// The first page.
        first: u8,
        /// The stride.
        stride: u8,
        /// How many (`len % 32 + 1`).
        len: u8,
        /// Anon or file.
        anon: bool,
    },
    /// Direct reclaim of `nr % 40 + 1` pages.
    Reclaim {
        /// Pages.
        nr: u8,
    },
    /// Memcg reclaim (the memcg's own lruvec, as at `memory.high`) of `nr % 40 + 1` pages
    /// from zones `0..=zone % 4` only, of memcg 2 if `memcg2` and it is not released,
    /// else of the root.
    ReclaimZones {
        /// Memcg 2 rather than the root.
        memcg2: bool,
        /// Pages.
        nr: u8,
        /// The highest eligible zone (`% 4`).
        zone: u8,
    },
    /// An access to file page `page % 40` through a shared mapping (a fault maps it).
    Mapped {
        /// The page.
        page: u8,
    },
    /// Memcg 2's protection: `memory.min` `min % 9`, `memory.low` `low % 17` pages.
    Protect {
        /// `memory.min`.
        min: u8,
        /// `memory.low`.
        low: u8,
    },
    /// Memcg 2's life: `op % 3` = 0 soft limit exceeded (`lru_gen_soft_reclaim`), 1
    /// offline, 2 release (once offline and empty; its pages are the root's from then on).
    Memcg {
        /// Which.
        op: u8,
    },
    /// `+ memcg 0 seq [can_swap [force_scan]]` with `seq` = `max_seq + delta` (delta in
    /// -1..=1), to memcg 2 if `memcg2` and it is not released, else to the root.
    Age {
        /// Memcg 2 rather than the root.
        memcg2: bool,
        /// -1, 0 or 1 (`delta % 3 - 1`).
        delta: u8,
        /// The optional arguments given: 0, 1 or 2 of them (`args % 3`).
        args: u8,
        /// `can_swap`.
        can_swap: bool,
        /// `force_scan`.
        force: bool,
    },
    /// `- memcg 0 seq [swappiness [nr_to_reclaim]]` with `seq` = `max_seq - back` (back in
    /// 0..=4), to memcg 2 if `memcg2` and it is not released, else to the root.
    Evict {
        /// Memcg 2 rather than the root.
        memcg2: bool,
        /// `back % 5`.
        back: u8,
        /// The optional arguments given (`args % 3`).
        args: u8,
        /// `swappiness % 202` (above 200 is refused).
        swappiness: u8,
        /// `nr_to_reclaim`.
        nr: u8,
    },
    /// Sets the swappiness reclaim uses: 0 (file only, the setting where which type may be
    /// touched matters most) for `sw % 4 == 0`, else `sw % 201`.
    Swappiness {
        /// The value.
        sw: u8,
    },
    /// Writes text to `/sys/kernel/mm/lru_gen/enabled` (or `min_ttl_ms`): a number in C's
    /// notation or `y`/`n` prefixed by `mode % 4` (0: the text as is, 1: a value from
    /// `n`, 2: `0x` and `n` in hex, 3: `0` and `n` in octal).
    Sysfs {
        /// `min_ttl_ms` rather than `enabled`.
        min_ttl: bool,
        /// How the value is written.
        mode: u8,
        /// The value (modes 1-3).
        n: u16,
        /// The text (mode 0, lossy UTF-8).
        text: Vec<u8>,
    },
    /// Writes arbitrary text to the debugfs file: it must be refused or run, never crash.
    Write {
        /// The text (lossy UTF-8).
        text: Vec<u8>,
    },
    /// The PID controller's pure decisions on counters given here (each scaled by 8, so
    /// they reach past `MIN_LRU_BATCH`), both types, cross-checked against the
    /// re-derivation: a tiny memory seldom refaults enough for the controller to matter.
    Pid {
        /// Per type: refaulted, evicted, avg_refaulted, avg_total (four tiers each), then
        /// protected (three tiers).
        counts: [[[u8; 4]; 5]; 2],
        /// `swappiness % 199 + 1`.
        sw: u8,
    },
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MglruRet {
    /// Done (checked inside).
    Done,
    /// A command succeeded.
    Ok,
    /// `EINVAL`.
    Inval,
    /// `ERANGE`.
    Range,
    /// The model's answer where the window decides between success and `ERANGE`.
    OkOrRange,
    /// The model's answer for arbitrary text.
    Any,
}

/// The system under test: the simulated memory.
pub struct MglruSut {
    sim: Mutex<Sim>,
    /// Per memcg (index `id - 1`): the window after the last operation.
    last: Mutex<Vec<(u64, [u64; 2])>>,
    /// Per memcg and type: the misses counted when the operation that last moved `min_seq`
    /// began.
    since_advance: Mutex<Vec<[u64; 2]>>,
    /// The misses counted when the current operation began.
    op_start_misses: Mutex<u64>,
    /// Memcg 2's protection.
    protection: Mutex<Protection>,
}

impl std::fmt::Debug for MglruSut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MglruSut").finish_non_exhaustive()
    }
}

/// The `mglru_ops` target.
#[derive(Debug, Clone)]
pub struct MglruOpsTarget {
    name: &'static str,
}

impl MglruOpsTarget {
    /// The target registered as `name`.
    pub fn new(name: &'static str) -> Self {
        MglruOpsTarget { name }
    }
}

/// Page `page % 40` of a type. Anon pages are their own virtual pages, at even offsets
/// from `ANON_BASE`; file page `p` is mapped (when it is) at the odd one after anon page
/// `p`, so the two types share PTE tables and look-around windows.
fn page_id(page: u8, anon: bool) -> u64 {
    let p = u64::from(page) % PAGES;
    if anon {
        ANON_BASE + 2 * p
    } else {
        p
    }
}

/// Where file page `p` is mapped.
fn file_vpage(p: u64) -> u64 {
    ANON_BASE + 2 * p + 1
}

fn ret_of(r: Result<(), CmdError>) -> MglruRet {
    match r {
        Ok(()) => MglruRet::Ok,
        Err(CmdError::Inval(_)) => MglruRet::Inval,
        Err(CmdError::Range(_)) => MglruRet::Range,
    }
}

/// The PID controller re-derived from the kernel's definitions (v6.6 `read_ctrl_pos`,
/// `positive_ctrl_err`, `get_tier_idx`, `get_type_to_scan`), written apart from
/// `algos::mglru` so a slip in either shows as a disagreement.
mod rederived {
    use super::*;

    /// (refaulted, total) of `tier`.
    fn position(c: &TierCounts, tier: usize) -> (u128, u128) {
        let refaulted = c.avg_refaulted[tier] + c.refaulted[tier];
        let protected = if tier == 0 { 0 } else { c.protected[tier - 1] };
        let total = c.avg_total[tier] + c.evicted[tier] + protected;
        (u128::from(refaulted), u128::from(total))
    }

    /// The process variable is no hotter than the setpoint: few refaults, or a refault rate
    /// (refaulted / total, with a batch of slack on the setpoint's side) times its gain no
    /// higher than the setpoint's.
    fn not_hotter(sp: (u128, u128, u128), pv: (u128, u128, u128)) -> bool {
        let batch = MIN_LRU_BATCH as u128;
        if pv.0 < batch {
            return true;
        }
        // pv.refaulted / pv.total * pv.gain^-1 <= (sp.refaulted + 1) / (sp.total + batch) * sp.gain^-1
        pv.0 * (sp.1 + batch) * sp.2 <= (sp.0 + 1) * pv.1 * pv.2
    }

    /// What reading a sysfs file back gives after `text` was written to it, or `None` if
    /// the kernel's rules (`kstrtouint` base 0, `y`/`n` for `enabled`; this model refuses
    /// `enabled` without the core bit) refuse it.
    pub(super) fn sysfs(min_ttl: bool, text: &str) -> Option<String> {
        let t = text.strip_suffix('\n').unwrap_or(text);
        if !min_ttl {
            match t.chars().next() {
                Some('y' | 'Y') => return Some("0x0007\n".into()),
                Some('n' | 'N') => return None,
                _ => {}
            }
        }
        let u = t.strip_prefix('+').unwrap_or(t);
        let v: u32 = if let Some(h) = u.strip_prefix("0x").or(u.strip_prefix("0X")) {
            u32::from_str_radix(h, 16)
                .ok()
                .filter(|_| h.chars().all(|c| c.is_ascii_hexdigit()))?
        } else if u.len() > 1 && u.starts_with('0') {
            u32::from_str_radix(&u[1..], 8)
                .ok()
                .filter(|_| u[1..].chars().all(|c| ('0'..='7').contains(&c)))?
        } else {
            u.parse::<u32>()
                .ok()
                .filter(|_| u.chars().all(|c| c.is_ascii_digit()))?
        };
        if min_ttl {
            Some(format!("{v}\n"))
        } else if v & 1 == 0 {
            None
        } else {
            Some(format!("0x{:04x}\n", v & 7))
        }
    }

    pub(super) fn tier_idx(c: &TierCounts) -> usize {
        let (r0, t0) = position(c, 0);
        (1..MAX_NR_TIERS)
            .find(|&t| {
                let (r, tot) = position(c, t);
                !not_hotter((r0, t0, 1), (r, tot, 2))
            })
            .unwrap_or(MAX_NR_TIERS)
            - 1
    }

    pub(super) fn type_to_scan(c: &[TierCounts; 2], swappiness: u32) -> (usize, usize) {
        let gains = [u128::from(swappiness), u128::from(200 - swappiness)];
        let (ra, ta) = position(&c[ANON], 0);
        let (rf, tf) = position(&c[FILE], 0);
        let ty = if not_hotter((ra, ta, gains[ANON]), (rf, tf, gains[FILE])) {
            FILE
        } else {
            ANON
        };
        let other = 1 - ty;
        let (ro, to) = position(&c[other], 0);
        let idx = (1..MAX_NR_TIERS)
            .find(|&t| {
                let (r, tot) = position(&c[ty], t);
                !not_hotter((ro, to, gains[other]), (r, tot, gains[ty]))
            })
            .unwrap_or(MAX_NR_TIERS)
            - 1;
        (ty, idx)
    }
}

impl MglruSut {
    /// Cross-checks every memcg's controller before an eviction.
    fn check_controller(sim: &Sim) -> Result<(), String> {
        for (_, lru) in sim.memcgs() {
            Self::check_controller_of(lru)?;
        }
        Ok(())
    }

    fn check_controller_of(lru: &Lruvec) -> Result<(), String> {
        let c = lru.ctrl_inputs();
        for ty in [ANON, FILE] {
            let (ours, theirs) = (tier_idx(&c[ty]), rederived::tier_idx(&c[ty]));
            if ours != theirs {
                return Err(format!("get_tier_idx of type {ty} is {ours}, the kernel's formula gives {theirs} for {:?}", c[ty]));
            }
        }
        for sw in [2u32, 60, 100, 140, 199] {
            let (ours, theirs) = (type_to_scan(&c, sw), rederived::type_to_scan(&c, sw));
            if ours != theirs {
                return Err(format!("get_type_to_scan at swappiness {sw} is {ours:?}, the kernel's formula gives {theirs:?} for {c:?}"));
            }
        }
        Ok(())
    }

    /// Anon folios' generations (from their flags) and accessed bits, by page.
    fn anon_state(sim: &Sim) -> Vec<(u64, Option<usize>, bool)> {
        (0..PAGES)
            .filter_map(|p| {
                let page = page_id(p as u8, true);
                let id = sim.frame_of(page)?;
                let lru = sim.lruvec_of_frame(id);
                Some((page, lru_gen(lru.flags(id)), lru.pte_young(id)))
            })
            .collect()
    }

    /// A reclaim that may not evict anon pages must leave them as they were.
    fn check_anon_untouched(sim: &Sim, before: &[(u64, Option<usize>, bool)], what: &str) {
        for &(page, gen, young) in before {
            let Some(id) = sim.frame_of(page) else {
                panic!("BUG: {what} with swappiness 0 evicted anon page {page:#x}");
            };
            let lru = sim.lruvec_of_frame(id);
            let now = (lru_gen(lru.flags(id)), lru.pte_young(id));
            assert_eq!(
                now,
                (gen, young),
                "BUG: {what} with swappiness 0 changed anon page {page:#x} (generation, accessed bit) from {:?} to {now:?}",
                (gen, young)
            );
        }
    }

    /// The memcg a command goes to: memcg 2 if asked and not released, else the root.
    fn commanded(sim: &Sim, memcg2: bool) -> MemcgId {
        if memcg2 && !sim.is_released(2) {
            2
        } else {
            1
        }
    }

    /// Memcg 2's usage if it is at or below its `memory.min` (global reclaim must leave it
    /// alone).
    fn min_protected(sim: &Sim, prot: Protection) -> Option<u64> {
        let node = sim.node()?;
        if sim.is_released(2) {
            return None;
        }
        let usage = node.usage(2);
        (usage <= prot.min).then_some(usage)
    }

    fn access(sim: &mut Sim, page: u64, anon: bool) {
        let was = sim.is_resident(page);
        let hit = sim.access(page, anon);
        assert_eq!(
            hit, was,
            "BUG: access to page {page:#x}: hit {hit}, but it was resident: {was}"
        );
        assert!(
            sim.is_resident(page),
            "BUG: page {page:#x} is not resident right after its access"
        );
    }
}

impl Target for MglruOpsTarget {
    type Op = MglruOp;
    type Ret = MglruRet;
    type Model = ();
    type Sut = MglruSut;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> MglruSut {
        let mut sim = Sim::with_memcgs(FRAMES, 60, BATCHES, MEMCGS, 0x5eed);
        sim.set_zones(3);
        let w = sim
            .memcgs()
            .iter()
            .map(|(_, l)| (l.max_seq(), l.min_seq()))
            .collect();
        MglruSut {
            sim: Mutex::new(sim),
            last: Mutex::new(w),
            since_advance: Mutex::new(vec![[0; 2]; MEMCGS]),
            op_start_misses: Mutex::new(0),
            protection: Mutex::new(Protection::default()),
        }
    }

    fn new_model(&self) {}

    fn apply(&self, sut: &MglruSut, op: &MglruOp) -> MglruRet {
        let mut sim = sut.sim.lock().unwrap_or_else(|e| e.into_inner());
        *sut.op_start_misses
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = sim.stats().misses;
        let prot = *sut.protection.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(
            op,
            MglruOp::Reclaim { .. } | MglruOp::ReclaimZones { .. } | MglruOp::Evict { .. }
        ) {
            // Reclaim drains the lru_add batch first: drain here, so the states compared
            // before and after are of the same folios on the lists.
            sim.drain();
        }
        // Global reclaim leaves a memcg at or below memory.min alone: a reclaim operation,
        // which adds no page, takes nothing from one that starts there (accesses can grow
        // it past the limit and reclaim can then overshoot back below it, as in the
        // kernel, so they are not judged this way).
        let guarded = matches!(op, MglruOp::Reclaim { .. })
            .then(|| MglruSut::min_protected(&sim, prot))
            .flatten();
        let ret = Self::apply_op(sut, &mut sim, op);
        if let Some(before) = guarded {
            if !sim.is_released(2) {
                let after = sim.node().map_or(0, |n| n.usage(2));
                assert!(
                    after >= before,
                    "BUG: memcg 2 at {before} pages, at or below memory.min {}, lost pages to global reclaim in {op:?}: {after} left",
                    prot.min
                );
            }
        }
        ret
    }

    fn step(&self, _m: &mut (), op: &MglruOp) -> MglruRet {
        Self::predict(op)
    }

    fn ret_eq(&self, real: &MglruRet, model: &MglruRet) -> bool {
        match (real, model) {
            (MglruRet::Ok | MglruRet::Range, MglruRet::OkOrRange)
            | (MglruRet::OkOrRange, MglruRet::Ok | MglruRet::Range)
            | (_, MglruRet::Any)
            | (MglruRet::Any, _) => true,
            (a, b) => a == b,
        }
    }

    fn invariants(&self, sut: &MglruSut, _m: &()) -> Result<(), String> {
        Self::check_state(sut)
    }

    fn dump(&self, sut: &MglruSut) -> String {
        let mut sim = sut.sim.lock().unwrap_or_else(|e| e.into_inner());
        sim.dump(true)
    }
}

impl MglruOpsTarget {
    fn apply_op(sut: &MglruSut, sim: &mut Sim, op: &MglruOp) -> MglruRet {
        match op {
            MglruOp::Access { page, anon } => {
                MglruSut::access(sim, page_id(*page, *anon), *anon);
                MglruRet::Done
            }
            MglruOp::Run {
                first,
                stride,
                len,
                anon,
            } => {
                for i in 0..=u64::from(*len % 32) {
                    let p = (u64::from(*first) + i * u64::from(*stride)) % PAGES;
                    MglruSut::access(sim, page_id(p as u8, *anon), *anon);
                }
                MglruRet::Done
            }
            MglruOp::Reclaim { nr } => {
                if let Err(e) = MglruSut::check_controller(sim) {
                    panic!("BUG: {e}");
                }
                let before = (sim.swappiness() == 0).then(|| MglruSut::anon_state(sim));
                sim.reclaim_now(u64::from(*nr % 40) + 1);
                if let Some(b) = before {
                    MglruSut::check_anon_untouched(sim, &b, "reclaim");
                }
                MglruRet::Done
            }
            MglruOp::ReclaimZones { memcg2, nr, zone } => {
                let idx = usize::from(*zone % 4);
                let memcg = MglruSut::commanded(sim, *memcg2);
                let before = (sim.swappiness() == 0).then(|| MglruSut::anon_state(sim));
                let got = sim.reclaim_memcg_now(memcg, u64::from(*nr % 40) + 1, idx);
                if let Some(b) = before {
                    MglruSut::check_anon_untouched(sim, &b, "reclaim");
                }
                if got == 0 && !sim.lruvec_of_memcg(memcg).swap_wrapped() {
                    // An OOM: nothing of the allowed types may be left in the memcg's
                    // eligible zones (unless swap-constrained aging has wrapped anon lists
                    // round: see `Lruvec::check`).
                    let allowed = |id| {
                        let f = sim.lruvec_of_frame(id).flags(id);
                        sim.owner_of(id) == memcg
                            && folio_zone(f) <= idx
                            && (sim.swappiness() != 0 || lru_type(f) == FILE)
                    };
                    let left: Vec<u64> = (0..FRAMES as u32)
                        .filter(|&id| sim.page_in(id).is_some() && allowed(id))
                        .filter_map(|id| sim.page_in(id))
                        .collect();
                    assert!(
                        left.is_empty(),
                        "BUG: reclaim from zones 0..={idx} (swappiness {}) reclaimed nothing, but pages {left:x?} were there to take",
                        sim.swappiness()
                    );
                }
                MglruRet::Done
            }
            MglruOp::Mapped { page } => {
                let p = u64::from(*page) % PAGES;
                let page = page_id(p as u8, false);
                let was = sim.is_resident(page);
                let hit = sim.access_mapped(page, file_vpage(p));
                assert_eq!(
                    hit, was,
                    "BUG: mapped access to page {page:#x}: hit {hit}, resident before: {was}"
                );
                MglruRet::Done
            }
            MglruOp::Age {
                memcg2,
                delta,
                args,
                can_swap,
                force,
            } => {
                let memcg = MglruSut::commanded(sim, *memcg2);
                let lru = sim.lruvec_of_memcg(memcg);
                let (max, min) = (lru.max_seq(), lru.min_seq());
                let seq = (max + u64::from(*delta % 3)).saturating_sub(1);
                let mut cmd = format!("+ {memcg} 0 {seq}");
                let n = *args % 3;
                if n >= 1 {
                    cmd += &format!(" {}", u8::from(*can_swap));
                }
                if n >= 2 {
                    cmd += &format!(" {}", u8::from(*force));
                }
                let r = ret_of(sim.command(&cmd));
                // Without force_scan (given as 0), aging refuses exactly when a type would
                // fold a generation eviction has not emptied.
                if n >= 2 && !*force && seq == max {
                    let swap_type = if n >= 1 && !*can_swap { FILE } else { ANON };
                    let refuse = min[swap_type] + MAX_NR_GENS as u64 - 1 <= max;
                    assert_eq!(
                        r == MglruRet::Range,
                        refuse,
                        "BUG: `{cmd}` with window {max} {min:?} answered {r:?}"
                    );
                }
                if r == MglruRet::Ok && seq == max {
                    let lru = sim.lruvec_of_memcg(memcg);
                    let now = lru.max_seq();
                    assert!(
                        now == max + 1,
                        "BUG: `{cmd}` succeeded but max_seq went {max} -> {now}"
                    );
                    // Aging folds a full window's oldest generation last thing: a type whose
                    // min_seq moved starts its generation's counters from zero
                    // (reset_ctrl_pos), having carried them into the averages.
                    let after = lru.min_seq();
                    let c = lru.ctrl_inputs();
                    for ty in [ANON, FILE] {
                        if after[ty] != min[ty] {
                            let t = &c[ty];
                            assert!(
                                t.refaulted == [0; MAX_NR_TIERS]
                                    && t.evicted == [0; MAX_NR_TIERS]
                                    && t.protected == [0; MAX_NR_TIERS - 1],
                                "BUG: `{cmd}` moved min_seq[{ty}] {} -> {} but its counters did not restart: {t:?}",
                                min[ty],
                                after[ty]
                            );
                        }
                    }
                }
                r
            }
            MglruOp::Evict {
                memcg2,
                back,
                args,
                swappiness,
                nr,
            } => {
                if let Err(e) = MglruSut::check_controller(sim) {
                    panic!("BUG: {e}");
                }
                let memcg = MglruSut::commanded(sim, *memcg2);
                let max = sim.lruvec_of_memcg(memcg).max_seq();
                let seq = max.saturating_sub(u64::from(*back % 5));
                let mut cmd = format!("- {memcg} 0 {seq}");
                let n = *args % 3;
                if n >= 1 {
                    cmd += &format!(" {}", u32::from(*swappiness) % 202);
                }
                if n >= 2 {
                    cmd += &format!(" {nr}");
                }
                let before = sim.resident();
                let anon = (n >= 1 && u32::from(*swappiness) % 202 == 0)
                    .then(|| MglruSut::anon_state(sim));
                let r = ret_of(sim.command(&cmd));
                if let Some(b) = anon {
                    MglruSut::check_anon_untouched(sim, &b, &format!("`{cmd}`"));
                }
                if n >= 2 && r == MglruRet::Ok {
                    // Eviction stops once nr_to_reclaim is met, one batch at most beyond.
                    let gone = before - sim.resident();
                    assert!(
                        gone <= usize::from(*nr) + MIN_LRU_BATCH,
                        "BUG: `{cmd}` reclaimed {gone}"
                    );
                }
                r
            }
            MglruOp::Protect { min, low } => {
                let p = Protection {
                    min: u64::from(*min % 9),
                    low: u64::from(*low % 17),
                };
                if let Some(n) = sim.node() {
                    n.set_protection(2, p);
                }
                *sut.protection.lock().unwrap_or_else(|e| e.into_inner()) = p;
                MglruRet::Done
            }
            MglruOp::Memcg { op } => {
                match op % 3 {
                    0 => {
                        if let Some(n) = sim.node() {
                            if n.memcg_lru().gen_of(2).is_some() {
                                n.memcg_lru().soft_reclaim(2);
                                assert_eq!(
                                    n.memcg_lru().seg_of(2),
                                    MemcgOp::Head,
                                    "BUG: soft reclaim left memcg 2 off the head segment"
                                );
                            }
                        }
                    }
                    1 => {
                        if !sim.is_released(2) {
                            sim.offline_memcg(2);
                            let n = sim.node().expect("memcgs");
                            let lru = n.memcg_lru();
                            assert!(
                                !n.is_online(2) && lru.gen_of(2).is_some(),
                                "BUG: offlining memcg 2 took it off the memcg LRU"
                            );
                        }
                    }
                    _ => {
                        sim.drain();
                        let (online, usage) = {
                            let n = sim.node().expect("memcgs");
                            (n.is_online(2), n.usage(2))
                        };
                        let was = sim.is_released(2);
                        let done = sim.release_memcg(2);
                        assert_eq!(
                            done,
                            !was && !online && usage == 0,
                            "BUG: release of memcg 2 (released {was}, online {online}, usage {usage}) answered {done}"
                        );
                        if done {
                            let n = sim.node().expect("memcgs");
                            assert_eq!(
                                n.memcg_lru().gen_of(2),
                                None,
                                "BUG: a released memcg is still on the memcg LRU"
                            );
                        }
                    }
                }
                MglruRet::Done
            }
            MglruOp::Sysfs {
                min_ttl,
                mode,
                n,
                text,
            } => {
                let file = if *min_ttl { "min_ttl_ms" } else { "enabled" };
                let text = match mode % 4 {
                    0 => String::from_utf8_lossy(text).into_owned(),
                    1 => format!("{n}\n"),
                    2 => format!("0x{n:x}"),
                    _ => format!("0{n:o}"),
                };
                let before = sim.read_sysfs(file);
                let r = sim.write_sysfs(file, &text);
                let after = sim.read_sysfs(file);
                let want = rederived::sysfs(*min_ttl, &text);
                match (&r, want) {
                    (Ok(()), Some(v)) => assert_eq!(
                        after,
                        Some(v),
                        "BUG: `{text}` written to {file} reads back as {after:?}"
                    ),
                    (Err(_), None) => {
                        assert_eq!(after, before, "BUG: the refused `{text}` changed {file}")
                    }
                    _ => panic!(
                        "BUG: {file} answered {r:?} to `{text}`, the kernel's rules say {:?}",
                        rederived::sysfs(*min_ttl, &text)
                    ),
                }
                MglruRet::Done
            }
            MglruOp::Swappiness { sw } => {
                sim.set_swappiness(if *sw % 4 == 0 {
                    0
                } else {
                    u32::from(*sw) % 201
                });
                MglruRet::Done
            }
            MglruOp::Write { text } => {
                let _ = sim.command(&String::from_utf8_lossy(text));
                MglruRet::Any
            }
            MglruOp::Pid { counts, sw } => {
                let tc = |k: &[[u8; 4]; 5]| {
                    let x = |a: [u8; 4]| a.map(|v| u64::from(v) * 8);
                    TierCounts {
                        refaulted: x(k[0]),
                        evicted: x(k[1]),
                        avg_refaulted: x(k[2]),
                        avg_total: x(k[3]),
                        protected: [k[4][0], k[4][1], k[4][2]].map(|v| u64::from(v) * 8),
                    }
                };
                let c = [tc(&counts[0]), tc(&counts[1])];
                let sw = u32::from(*sw) % 199 + 1;
                for ty in [ANON, FILE] {
                    let (ours, theirs) = (tier_idx(&c[ty]), rederived::tier_idx(&c[ty]));
                    assert_eq!(
                        ours, theirs,
                        "BUG: get_tier_idx gives {ours}, the kernel's formula {theirs}, for {:?}",
                        c[ty]
                    );
                }
                let (ours, theirs) = (type_to_scan(&c, sw), rederived::type_to_scan(&c, sw));
                assert_eq!(ours, theirs, "BUG: get_type_to_scan at swappiness {sw} gives {ours:?}, the kernel's formula {theirs:?}, for {c:?}");
                MglruRet::Done
            }
        }
    }

    /// What the kernel's argument rules decide for an operation (the model's answer).
    fn predict(op: &MglruOp) -> MglruRet {
        match op {
            MglruOp::Access { .. }
            | MglruOp::Run { .. }
            | MglruOp::Reclaim { .. }
            | MglruOp::ReclaimZones { .. }
            | MglruOp::Mapped { .. }
            | MglruOp::Protect { .. }
            | MglruOp::Memcg { .. }
            | MglruOp::Sysfs { .. }
            | MglruOp::Swappiness { .. }
            | MglruOp::Pid { .. } => MglruRet::Done,
            MglruOp::Age {
                delta, args, force, ..
            } => match delta % 3 {
                0 => MglruRet::Ok,
                2 => MglruRet::Inval,
                _ if *args % 3 < 2 || *force => MglruRet::Ok,
                _ => MglruRet::OkOrRange,
            },
            MglruOp::Evict {
                back,
                args,
                swappiness,
                ..
            } => {
                let bad_swappiness = *args % 3 >= 1 && u32::from(*swappiness) % 202 > 200;
                if bad_swappiness || (*back % 5) < MIN_NR_GENS as u8 {
                    MglruRet::Inval
                } else {
                    MglruRet::Ok
                }
            }
            MglruOp::Write { .. } => MglruRet::Any,
        }
    }

    /// The state checks after every operation.
    fn check_state(sut: &MglruSut) -> Result<(), String> {
        let sim = sut.sim.lock().unwrap_or_else(|e| e.into_inner());
        sim.check()?;
        let mut last = sut.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut since = sut.since_advance.lock().unwrap_or_else(|e| e.into_inner());
        let start = *sut
            .op_start_misses
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let misses = sim.stats().misses;
        for (m, lru) in sim.memcgs() {
            let i = usize::from(m) - 1;
            let now = (lru.max_seq(), lru.min_seq());
            let (max0, min0) = last[i];
            if now.0 < max0 || now.1[ANON] < min0[ANON] || now.1[FILE] < min0[FILE] {
                return Err(format!(
                    "memcg {m}: a sequence number went back: max_seq {max0} -> {}, min_seq {min0:?} -> {:?}",
                    now.0, now.1
                ));
            }
            last[i] = now;
            // protected[type] counts folios the tiers kept out of the oldest generation
            // since min_seq last moved: each left that generation once, so there can be no
            // more than the folios it held then plus those added (a miss each) since.
            let c = lru.ctrl_inputs();
            for ty in [ANON, FILE] {
                if now.1[ty] != min0[ty] {
                    since[i][ty] = start;
                }
                let p: u64 = c[ty].protected.iter().sum();
                let bound = FRAMES as u64 + misses - since[i][ty];
                if p > bound {
                    return Err(format!(
                        "memcg {m} type {ty}: {p} folios protected since min_seq last moved (at {}), but at most {bound} can have been in its oldest generation",
                        now.1[ty]
                    ));
                }
            }
        }
        for p in 0..PAGES {
            for anon in [false, true] {
                let id = page_id(p as u8, anon);
                if sim.is_resident(id) && sim.has_shadow(id) {
                    return Err(format!("page {id:#x} is resident and has a shadow entry"));
                }
            }
        }
        let _ = LRU_REFS_WIDTH;
        Ok(())
    }
}
