//! The multi-gen LRU (`CONFIG_LRU_GEN`): the kernel's page reclaim policy as a concurrent
//! structure over a simulated memory.
//!
//! Kernel mapping (mm/vmscan.c `lru_gen_*`, include/linux/mm_inline.h, include/linux/mmzone.h,
//! mm/swap.c `folio_inc_refs`, mm/workingset.c `lru_gen_eviction`/`lru_gen_refault`; Linux
//! v6.6, whose vmscan.c is the one this follows line for line where it says "v6.6").
//!
//! Faithful:
//! - Generations and tiers: `MIN_NR_GENS` 2, `MAX_NR_GENS` 4, `MAX_NR_TIERS` 4,
//!   `LRU_REFS_WIDTH` 2; `max_seq`, `min_seq[anon, file]`, `timestamps`,
//!   `folios[gen][type][zone]`, `nr_pages`, `avg_refaulted`/`avg_total`, `protected`,
//!   `evicted`/`refaulted` (`NR_HIST_GENS` 1, i.e. without `CONFIG_LRU_GEN_STATS`).
//! - The folio's flags word holds `gen + 1` and the fd reference counter, changed with
//!   compare-and-swap loops and no lock ([`folio`]: `folio_inc_refs`, `folio_update_gen`,
//!   `folio_inc_gen`); the lists, sizes and sequence numbers change under the lru_lock;
//!   `max_seq` is published with release after the sizes and timestamp it covers.
//! - Placement (`lru_gen_add_folio`), aging (`should_run_aging`, `try_to_inc_max_seq`,
//!   `inc_max_seq` with `inc_min_seq` batches that drop the lock and re-validate,
//!   the page-table walk with its two Bloom filters of `2^15` bits and k = 2,
//!   `suitable_to_scan`, `should_skip_mm`'s size rule), eviction (`isolate_folios`,
//!   `get_type_to_scan`, `get_tier_idx`, `scan_folios`, `sort_folio`, `isolate_folio`,
//!   `try_to_inc_min_seq`, `evict_folios`), rmap look-around (`lru_gen_look_around`), the
//!   `min_ttl` test (`lruvec_is_reclaimable`), reclaim retried as the page allocator does
//!   before an OOM (`MAX_RECLAIM_RETRIES`), the
//!   PID controller (`read_ctrl_pos`, `reset_ctrl_pos`, `positive_ctrl_err` with the gains
//!   1:2 between tiers and swappiness : 200 - swappiness between types), and refault
//!   accounting through shadow entries (token = `min_seq << LRU_REFS_WIDTH | refs - 1`; a
//!   refault is recent when `min_seq` has not moved since).
//! - The debugfs interfaces: the `lru_gen` and `lru_gen_full` dumps in the kernel's format
//!   and the `+`/`-` commands with the kernel's argument rules ([`debugfs`]).
//!
//! Different, and why:
//! - One node. A lruvec alone is the memcg-disabled case (`memcg` 0 in commands); with
//!   memcgs ([`memcg::Node`], ids from 1) each has its lruvec and global reclaim goes
//!   through the memcg LRU ([`memcg`] has its own mapping); `node` in commands must be 0.
//! - Checkers may scale `MIN_LRU_BATCH`/`MAX_LRU_BATCH` down per lruvec
//!   ([`Lruvec::with_batches`]) so a dozen folios reach the walk and `inc_min_seq`'s lock
//!   drop; the simulator and benches use the kernel's values.
//! - One process with one mapping per folio; no huge pages, and no non-leaf accessed bits
//!   (the `LRU_GEN_NONLEAF_YOUNG` capability is accepted and has no effect, as on an
//!   architecture without them).
//! - Reclaim frees what it isolates unless its PTE is young (then it is referenced and goes
//!   back active): no dirty pages, writeback, or swap-cache failures in the simulator
//!   (the flags exist and `sort_folio` honours them for the checkers).
//! - Time is a counter the caller sets ([`Lruvec::set_now`]); the simulator uses one
//!   millisecond per access.
//! - `SWAPPINESS_ANON_ONLY` (201) is taken from newer kernels, where it means "anon only".

pub mod debugfs;
pub mod folio;
mod lruvec;
pub mod memcg;
mod pgtable;
mod sim;

pub use lruvec::{
    gen_from_seq, positive_ctrl_err, tier_idx, type_to_scan, CtrlPos, Lruvec, ScanControl, Shadow,
    TierCounts, MAX_RECLAIM_RETRIES, MAX_SWAPPINESS, SWAPPINESS_ANON_ONLY,
};
pub use pgtable::{BLOOM_FILTER_SHIFT, PTRS_PER_PTE};
pub use sim::{Sim, SimStats};

/// A folio's slot in the simulated memory.
pub type FolioId = u32;

/// `MIN_NR_GENS`: the two youngest generations (the "active" ones).
pub const MIN_NR_GENS: usize = 2;
/// `MAX_NR_GENS`.
pub const MAX_NR_GENS: usize = 4;
/// `MAX_NR_TIERS`.
pub const MAX_NR_TIERS: usize = 4;
/// `LRU_REFS_WIDTH`: bits of the fd reference counter.
pub const LRU_REFS_WIDTH: u32 = 2;
/// `MIN_LRU_BATCH` (`BITS_PER_LONG`).
pub const MIN_LRU_BATCH: usize = 64;
/// `MAX_LRU_BATCH` (`MIN_LRU_BATCH * 64`).
pub const MAX_LRU_BATCH: usize = MIN_LRU_BATCH * 64;
/// `MAX_NR_ZONES` (DMA, DMA32, Normal, Movable).
pub const MAX_NR_ZONES: usize = 4;
/// The zone simulated folios live in (`ZONE_NORMAL`).
pub const ZONE_NORMAL: usize = 2;
/// `LRU_GEN_ANON`.
pub const ANON: usize = 0;
/// `LRU_GEN_FILE`.
pub const FILE: usize = 1;
/// `DEF_PRIORITY`.
pub const DEF_PRIORITY: u32 = 12;
/// `SWAP_CLUSTER_MAX`: direct reclaim's target.
pub const SWAP_CLUSTER_MAX: u64 = 32;
