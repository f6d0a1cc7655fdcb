//! A folio's flags word and the lock-free updates the kernel makes to it
//! (include/linux/mm_inline.h, mm/swap.c, mm/vmscan.c as of Linux v6.6).
//!
//! The word holds the page flags the policy reads (`PG_referenced`, `PG_workingset`,
//! `PG_active`, `PG_lru`, `PG_reclaim`, dirty/writeback, unevictable, `PG_swapbacked` for
//! anon), the generation counter (`gen + 1` while the folio is on a multi-gen list, 0
//! otherwise; `LRU_GEN_WIDTH` 3 bits) and the reference counter of fd accesses
//! (`LRU_REFS_WIDTH` 2 bits). Accessors change it with compare-and-swap loops, with no lock,
//! as `folio_inc_refs`, `folio_update_gen` and `folio_inc_gen` do; everything else that
//! reads it may see it change at any moment and must re-read.

use super::{LRU_REFS_WIDTH, MAX_NR_GENS, MAX_NR_TIERS};
use crate::sync::atomic::{AtomicU64, Ordering};

/// `PG_referenced`.
pub const PG_REFERENCED: u64 = 1 << 0;
/// `PG_workingset`.
pub const PG_WORKINGSET: u64 = 1 << 1;
/// `PG_active`.
pub const PG_ACTIVE: u64 = 1 << 2;
/// `PG_lru`: on an LRU list (cleared by isolation).
pub const PG_LRU: u64 = 1 << 3;
/// `PG_reclaim`.
pub const PG_RECLAIM: u64 = 1 << 4;
/// `PG_dirty`.
pub const PG_DIRTY: u64 = 1 << 5;
/// `PG_writeback`.
pub const PG_WRITEBACK: u64 = 1 << 6;
/// `PG_unevictable`.
pub const PG_UNEVICTABLE: u64 = 1 << 7;
/// `PG_swapbacked`: an anon folio (the anon LRU type).
pub const PG_SWAPBACKED: u64 = 1 << 8;
/// Not a kernel flag: the folio is mapped through a (simulated) page table.
pub const PG_MAPPED: u64 = 1 << 9;
/// `PG_swapcache`: an anon folio with a swap slot (swapped out before).
pub const PG_SWAPCACHE: u64 = 1 << 10;

/// `LRU_REFS_FLAGS`: the flags that count as references.
pub const LRU_REFS_FLAGS: u64 = PG_REFERENCED | PG_WORKINGSET;

/// Where the generation counter starts (`LRU_GEN_PGOFF`).
pub const LRU_GEN_PGOFF: u32 = 16;
/// `LRU_GEN_WIDTH`: enough bits for `MAX_NR_GENS + 1` values.
pub const LRU_GEN_WIDTH: u32 = 3;
/// `LRU_GEN_MASK`.
pub const LRU_GEN_MASK: u64 = ((1 << LRU_GEN_WIDTH) - 1) << LRU_GEN_PGOFF;
/// Where the reference counter starts (`LRU_REFS_PGOFF`).
pub const LRU_REFS_PGOFF: u32 = 20;
/// `LRU_REFS_MASK`.
pub const LRU_REFS_MASK: u64 = ((1 << LRU_REFS_WIDTH) - 1) << LRU_REFS_PGOFF;
/// Where the zone number starts (fixed for the folio's life).
pub const ZONE_PGOFF: u32 = 24;
/// The zone bits.
pub const ZONE_MASK: u64 = 0b11 << ZONE_PGOFF;

const _: () = assert!((1 << LRU_GEN_WIDTH) > MAX_NR_GENS);

/// `order_base_2(n)`: the smallest `k` with `2^k >= n` (0 for 0 and 1).
#[inline]
pub fn order_base_2(n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as usize
    }
}

/// `lru_tier_from_refs` (v6.6): `refs` counts the accesses beyond the first
/// ([`lru_refs`]), so `N` accesses through file descriptors land in tier
/// `order_base_2(N)`.
#[inline]
pub fn lru_tier_from_refs(refs: usize) -> usize {
    debug_assert!(refs <= 1 << LRU_REFS_WIDTH);
    let t = order_base_2(refs + 1);
    debug_assert!(t < MAX_NR_TIERS);
    t
}

/// `folio_lru_refs` (v6.6): the reference counter plus `PG_workingset`.
#[inline]
pub fn lru_refs(flags: u64) -> usize {
    (((flags & LRU_REFS_MASK) >> LRU_REFS_PGOFF) + u64::from(flags & PG_WORKINGSET != 0)) as usize
}

/// `folio_lru_gen`: the generation index, or `None` off the multi-gen lists.
#[inline]
pub fn lru_gen(flags: u64) -> Option<usize> {
    let g = ((flags & LRU_GEN_MASK) >> LRU_GEN_PGOFF) as usize;
    g.checked_sub(1)
}

/// `folio_is_file_lru`: 1 for file, 0 for anon.
#[inline]
pub fn lru_type(flags: u64) -> usize {
    usize::from(flags & PG_SWAPBACKED == 0)
}

/// The folio's zone.
#[inline]
pub fn zone(flags: u64) -> usize {
    ((flags & ZONE_MASK) >> ZONE_PGOFF) as usize
}

/// The generation counter value for generation `gen`.
#[inline]
pub fn gen_bits(gen: usize) -> u64 {
    debug_assert!(gen < MAX_NR_GENS);
    ((gen as u64) + 1) << LRU_GEN_PGOFF
}

/// `folio_inc_refs` (mm/swap.c, v6.6): an access through a file descriptor. The first sets
/// `PG_referenced`, the second `PG_workingset`, later ones count up to the counter's
/// maximum; no list move.
pub fn inc_refs(f: &AtomicU64) {
    let mut old = f.load(Ordering::Relaxed);
    loop {
        if old & PG_UNEVICTABLE != 0 {
            return;
        }
        let new = if old & PG_REFERENCED == 0 {
            old | PG_REFERENCED
        } else if old & PG_WORKINGSET == 0 {
            old | PG_WORKINGSET
        } else if old & LRU_REFS_MASK == LRU_REFS_MASK {
            return;
        } else {
            old + (1 << LRU_REFS_PGOFF)
        };
        match f.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(cur) => old = cur,
        }
    }
}

/// `folio_update_gen` (v6.6): the page-table walk found the folio young: move it to `gen`
/// lazily (its list is sorted later, by eviction), clearing the fd references. A folio off
/// the lists (isolated) only gets `PG_referenced`. Returns the old generation.
pub fn update_gen(f: &AtomicU64, gen: usize) -> Option<usize> {
    let mut old = f.load(Ordering::Relaxed);
    loop {
        let new = if old & LRU_GEN_MASK == 0 {
            old | PG_REFERENCED
        } else {
            (old & !(LRU_GEN_MASK | LRU_REFS_MASK | LRU_REFS_FLAGS)) | gen_bits(gen)
        };
        match f.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return lru_gen(old),
            Err(cur) => old = cur,
        }
    }
}

/// `folio_inc_gen` (v6.6): move a folio of the oldest generation `old_gen` to the next one,
/// unless a walker already moved it elsewhere (then that generation is returned and
/// nothing changes). Clears the fd references; `reclaiming` sets `PG_reclaim`. Returns the
/// generation the folio is in now; the caller updates the sizes (under the lru_lock) when
/// it moved.
pub fn inc_gen(f: &AtomicU64, old_gen: usize, reclaiming: bool) -> (usize, bool) {
    let mut old = f.load(Ordering::Relaxed);
    loop {
        debug_assert!(
            old & LRU_GEN_MASK != 0,
            "folio_inc_gen on a folio off the lists"
        );
        if let Some(g) = lru_gen(old) {
            if g != old_gen {
                return (g, false);
            }
        }
        let new_gen = (old_gen + 1) % MAX_NR_GENS;
        let mut new = (old & !(LRU_GEN_MASK | LRU_REFS_MASK | LRU_REFS_FLAGS)) | gen_bits(new_gen);
        if reclaiming {
            new |= PG_RECLAIM;
        }
        match f.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return (new_gen, true),
            Err(cur) => old = cur,
        }
    }
}

/// `set_mask_bits(&flags, clear, set)`: an atomic read-modify-write of some bits.
pub fn set_mask_bits(f: &AtomicU64, clear: u64, set: u64) -> u64 {
    let mut old = f.load(Ordering::Relaxed);
    loop {
        let new = (old & !clear) | set;
        match f.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return old,
            Err(cur) => old = cur,
        }
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;

    #[test]
    fn n_fd_accesses_land_in_tier_order_base_2_of_n() {
        let f = AtomicU64::new(gen_bits(0));
        let tier = |f: &AtomicU64| {
            let v = f.load(Ordering::Relaxed);
            if v & PG_REFERENCED == 0 {
                0
            } else {
                lru_tier_from_refs(lru_refs(v))
            }
        };
        let mut tiers = Vec::new();
        for _ in 0..9 {
            inc_refs(&f);
            tiers.push(tier(&f));
        }
        // N = 1..=9 accesses: order_base_2(N), capped at the last tier.
        assert_eq!(tiers, vec![0, 1, 2, 2, 3, 3, 3, 3, 3]);
        assert_eq!(lru_refs(f.load(Ordering::Relaxed)), 1 << LRU_REFS_WIDTH);
    }

    #[test]
    fn update_gen_moves_lazily_and_clears_references() {
        let f = AtomicU64::new(gen_bits(1) | PG_REFERENCED | PG_WORKINGSET | (2 << LRU_REFS_PGOFF));
        assert_eq!(update_gen(&f, 3), Some(1));
        let v = f.load(Ordering::Relaxed);
        assert_eq!(lru_gen(v), Some(3));
        assert_eq!(v & (LRU_REFS_MASK | LRU_REFS_FLAGS), 0);
        // Off the lists: only PG_referenced.
        let g = AtomicU64::new(0);
        assert_eq!(update_gen(&g, 2), None);
        assert_eq!(g.load(Ordering::Relaxed), PG_REFERENCED);
    }

    #[test]
    fn inc_gen_leaves_a_folio_a_walker_moved() {
        let f = AtomicU64::new(gen_bits(2));
        assert_eq!(inc_gen(&f, 1, false), (2, false));
        assert_eq!(inc_gen(&f, 2, true), (3, true));
        assert_ne!(f.load(Ordering::Relaxed) & PG_RECLAIM, 0);
        let w = AtomicU64::new(gen_bits(3));
        assert_eq!(inc_gen(&w, 3, false), (0, true), "wraps modulo MAX_NR_GENS");
    }

    #[test]
    fn order_base_2_is_the_ceiling_log() {
        let v: Vec<usize> = (0..10).map(order_base_2).collect();
        assert_eq!(v, vec![0, 0, 1, 2, 2, 3, 3, 3, 3, 4]);
    }
}
