//! The simulated process's page tables, its `lru_gen_mm_state` and the two Bloom filters
//! of the page-table walk (mm/vmscan.c, Linux v6.6).
//!
//! One process with one address space: a folio mapped at virtual page `v` sits in PTE
//! `v % 512` of the PTE table `v / 512` (what a PMD entry points to). The PTE's accessed
//! bit is the folio's `young` bit in [`super::Lruvec`], set by accessors without a lock; the
//! tables themselves change under the mm lock (the kernel's mmap lock and PTE locks).

use super::lruvec::NIL;
use super::FolioId;
use std::collections::{BTreeMap, HashMap};

/// PTEs per PTE table (`PTRS_PER_PTE`).
pub const PTRS_PER_PTE: usize = 512;

/// `BLOOM_FILTER_SHIFT`: each filter has 2^15 bits.
pub const BLOOM_FILTER_SHIFT: u32 = 15;

/// `NR_BLOOM_FILTERS`.
const NR_BLOOM_FILTERS: usize = 2;

/// The PTE tables, by PMD index.
#[derive(Default)]
pub(crate) struct PageTables {
    pmds: BTreeMap<u64, Box<[u32; PTRS_PER_PTE]>>,
    vpage: HashMap<FolioId, (u64, bool)>,
    nr_anon: usize,
    nr_file: usize,
}

impl PageTables {
    /// Maps folio `id` at `vpage` (replacing nothing: the slot must be free).
    pub(crate) fn map(&mut self, id: FolioId, vpage: u64, anon: bool) {
        let t = self
            .pmds
            .entry(vpage / PTRS_PER_PTE as u64)
            .or_insert_with(|| Box::new([NIL; PTRS_PER_PTE]));
        let slot = &mut t[(vpage % PTRS_PER_PTE as u64) as usize];
        assert_eq!(*slot, NIL, "virtual page {vpage} is already mapped");
        *slot = id;
        self.vpage.insert(id, (vpage, anon));
        if anon {
            self.nr_anon += 1;
        } else {
            self.nr_file += 1;
        }
    }

    /// Unmaps folio `id` if it is mapped (`try_to_unmap` before the folio is freed).
    pub(crate) fn unmap(&mut self, id: FolioId) {
        let Some((v, anon)) = self.vpage.remove(&id) else {
            return;
        };
        if anon {
            self.nr_anon -= 1;
        } else {
            self.nr_file -= 1;
        }
        let pmd = v / PTRS_PER_PTE as u64;
        if let Some(t) = self.pmds.get_mut(&pmd) {
            let slot = &mut t[(v % PTRS_PER_PTE as u64) as usize];
            debug_assert_eq!(*slot, id);
            *slot = NIL;
            if t.iter().all(|&s| s == NIL) {
                self.pmds.remove(&pmd);
            }
        }
    }

    /// The mapped pages of the types that may be evicted (`should_skip_mm`'s size).
    pub(crate) fn nr_mapped(&self, can_swap: bool) -> usize {
        self.nr_file + if can_swap { self.nr_anon } else { 0 }
    }

    /// Every PTE table with its PMD index, in address order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &[u32; PTRS_PER_PTE])> {
        self.pmds.iter().map(|(k, v)| (*k, &**v))
    }

    /// The folios mapped in the look-around window of folio `id` (`n` PTEs centred on it,
    /// inside its PTE table), with the table's PMD index.
    pub(crate) fn window(&self, id: FolioId, n: usize) -> Option<(u64, Vec<FolioId>)> {
        let (v, _) = *self.vpage.get(&id)?;
        let pmd = v / PTRS_PER_PTE as u64;
        let t = self.pmds.get(&pmd)?;
        let i = (v % PTRS_PER_PTE as u64) as usize;
        let (start, end) = if i < n / 2 {
            (0, n)
        } else if PTRS_PER_PTE - i < n / 2 {
            (PTRS_PER_PTE - n, PTRS_PER_PTE)
        } else {
            (i - n / 2, i + n / 2)
        };
        Some((
            pmd,
            t[start..end]
                .iter()
                .copied()
                .filter(|&s| s != NIL)
                .collect(),
        ))
    }
}

/// The two Bloom filters of PMD entries worth walking (`mm_state.filters`).
#[derive(Default)]
pub(crate) struct Bloom {
    filters: [Option<Box<[u64]>>; NR_BLOOM_FILTERS],
}

/// `get_item_key`: two bit positions from one 30-bit hash of the item (`hash_ptr`).
fn keys(item: u64) -> [usize; 2] {
    const GOLDEN_RATIO_64: u64 = 0x61C8_8646_80B5_83EB;
    let hash = (item.wrapping_mul(GOLDEN_RATIO_64) >> (64 - 2 * BLOOM_FILTER_SHIFT)) as usize;
    let mask = (1 << BLOOM_FILTER_SHIFT) - 1;
    [hash & mask, hash >> BLOOM_FILTER_SHIFT]
}

impl Bloom {
    fn gen(seq: u64) -> usize {
        (seq % NR_BLOOM_FILTERS as u64) as usize
    }

    /// `test_bloom_filter`: true if the filter of `seq` may hold `item` (or does not exist
    /// yet: then everything is walked).
    pub(crate) fn test(&self, seq: u64, item: u64) -> bool {
        let Some(f) = &self.filters[Self::gen(seq)] else {
            return true;
        };
        keys(item).iter().all(|&k| f[k / 64] & (1 << (k % 64)) != 0)
    }

    /// `update_bloom_filter`.
    pub(crate) fn update(&mut self, seq: u64, item: u64) {
        if let Some(f) = &mut self.filters[Self::gen(seq)] {
            for k in keys(item) {
                f[k / 64] |= 1 << (k % 64);
            }
        }
    }

    /// `reset_bloom_filter`: clears (or first allocates) the filter of `seq`.
    pub(crate) fn reset(&mut self, seq: u64) {
        let words = (1usize << BLOOM_FILTER_SHIFT) / 64;
        match &mut self.filters[Self::gen(seq)] {
            Some(f) => f.iter_mut().for_each(|w| *w = 0),
            slot @ None => *slot = Some(vec![0u64; words].into_boxed_slice()),
        }
    }
}

/// `lru_gen_mm_state` with the one process's page tables (what the mm_list lock and the
/// mmap lock protect).
pub(crate) struct MmState {
    /// `mm_state.seq`: the last `max_seq` whose walk is done.
    pub(crate) seq: u64,
    pub(crate) bloom: Bloom,
    pub(crate) pt: PageTables,
    /// `mm_state.stats` (`NR_HIST_GENS` 1: they accumulate).
    pub(crate) stats: [u64; 6],
}

impl MmState {
    pub(crate) fn new(seq: u64) -> Self {
        MmState {
            seq,
            bloom: Bloom::default(),
            pt: PageTables::default(),
            stats: [0; 6],
        }
    }

    /// `iterate_mm_list` at the first mm of an iteration for `max_seq`: the filter the walk
    /// fills (that of `max_seq + 1`) starts empty.
    pub(crate) fn begin_walk(&mut self, max_seq: u64) {
        self.bloom.reset(max_seq + 1);
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;

    #[test]
    fn a_missing_filter_passes_everything_and_a_reset_one_nothing() {
        let mut b = Bloom::default();
        assert!(b.test(3, 42));
        b.reset(3);
        assert!(!b.test(3, 42));
        b.update(3, 42);
        assert!(b.test(3, 42));
        assert!(b.test(4, 7), "the other filter does not exist yet");
    }

    #[test]
    fn the_window_is_clamped_to_the_pte_table() {
        let mut pt = PageTables::default();
        for v in 0..600u64 {
            pt.map(v as u32, v, true);
        }
        let (pmd, w) = pt.window(3, 64).expect("mapped");
        assert_eq!((pmd, w.len(), w[0], w[63]), (0, 64, 0, 63));
        let (_, w) = pt.window(510, 64).expect("mapped");
        assert_eq!((w[0], w[63]), (448, 511));
        let (pmd, w) = pt.window(530, 64).expect("mapped");
        assert_eq!(
            (pmd, w.len(), w[0]),
            (1, 64, 512),
            "clamped to the start of table 1"
        );
        for v in 520..540 {
            pt.unmap(v);
        }
        let (_, w) = pt.window(515, 64).expect("mapped");
        assert_eq!(w.len(), 64 - 20, "only the mapped PTEs count");
        pt.unmap(3);
        assert!(pt.window(3, 64).is_none());
    }
}
