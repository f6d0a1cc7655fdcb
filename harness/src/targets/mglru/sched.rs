//! `mglru_sched`: the multi-gen LRU on the schedule engine. Two to four tasks share one
//! lruvec of 12 frames (anon folios mapped through the page table, file folios mapped or
//! read through file descriptors, over two zones) and run, in any interleaving: page-table
//! accesses (the accessed bit, no lock) and fd reads (`folio_inc_refs`, a compare-and-swap
//! loop on the flags, no lock), page faults that bring a freed frame back, the aging
//! (`+` through debugfs: the page-table walk with its lock-free promotions, then
//! `inc_max_seq`, which folds a full window batch by batch, dropping the lru_lock between
//! batches), eviction (`evict_folios`: isolation under the lock, look-around outside it)
//! and reclaim. The lruvec's batches are scaled down (`MIN_LRU_BATCH` 2, `MAX_LRU_BATCH`
//! 2), so folding a generation of three folios takes two batches: the lock drop of
//! `inc_min_seq`, where bb5e7f234eac's race lives, is reached.
//!
//! Checks: at every scheduling point where the lru_lock is free, the window and the lists
//! ([`Lruvec::check_concurrent`]: at most one list per folio, inside its type's window,
//! of its own type and zone); after the scenario, at quiescence, everything
//! [`Lruvec::check`] checks (every resident folio on exactly one list, no freed one listed,
//! flags and `nr_pages` agreeing with the lists), and every frame either resident or free,
//! never both or neither (no folio lost).

use crate::target::Target;
use algos::mglru::folio::{PG_ACTIVE, PG_MAPPED};
use algos::mglru::{debugfs, Lruvec, ScanControl, SWAPPINESS_ANON_ONLY};
use arbitrary::Arbitrary;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Frames of the shared memory.
pub const SCHED_FRAMES: usize = 12;
/// The lruvec's scaled `MIN_LRU_BATCH` and `MAX_LRU_BATCH`.
pub const SCHED_BATCHES: (usize, usize) = (2, 2);
/// The swappiness values `Evict` chooses from: file only, the default, anon first, anon
/// only.
const SWAPPINESS: [u32; 4] = [0, 60, 200, SWAPPINESS_ANON_ONLY];

/// An operation of `mglru_sched`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum MglruSchedOp {
    /// An access through the page table to frame `n % 12` (if it is resident and mapped):
    /// the hardware sets the accessed bit.
    Touch(u8),
    /// A read through a file descriptor of frame `n % 12` (if resident):
    /// `folio_mark_accessed`, a lock-free update of its flags.
    Read(u8),
    /// A page fault into a free frame (if any): anon (mapped, young, active) or file.
    Fault {
        /// Anon or file.
        anon: bool,
    },
    /// `+ 0 0 max_seq can_swap force_scan`: one aging.
    Age {
        /// `can_swap`.
        can_swap: bool,
        /// `force_scan`.
        force: bool,
    },
    /// One `evict_folios` round at a swappiness from {0, 60, 200, anon only} (`% 4`).
    Evict(u8),
    /// Direct reclaim of `n % 4 + 1` pages at swappiness 60.
    Reclaim(u8),
}

/// What an operation returned (every operation's outcome is judged by the invariants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MglruSchedRet {
    /// Done.
    Done,
}

/// The shared memory: the lruvec and which frames hold a folio.
pub struct MglruSchedSut {
    lru: Lruvec,
    resident: Vec<AtomicBool>,
    /// Free frames (the page allocator's free list).
    free: Mutex<Vec<u32>>,
}

impl std::fmt::Debug for MglruSchedSut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MglruSchedSut")
            .field("lru", &self.lru)
            .finish_non_exhaustive()
    }
}

impl MglruSchedSut {
    /// Frame `id` gets a new folio: anon ones are mapped (at their frame number, so the
    /// frames share one PTE table) and faulted in young and active; file ones in even
    /// frames are mapped too, the rest only read through file descriptors.
    fn fault_in(&self, id: u32, anon: bool) {
        let zone = 1 + (id as usize % 2);
        self.lru.init_folio(id, anon, zone);
        if anon || id % 2 == 0 {
            self.lru.map(id, u64::from(id));
            self.lru.touch_pte(id);
            self.lru.set_flags(id, 0, PG_ACTIVE);
        } else {
            self.lru.mark_accessed(id);
        }
        // Resident before it is on a list: from then on reclaim may take it (and mark the
        // frame free again) at any moment.
        self.resident[id as usize].store(true, Ordering::Release);
        self.lru.add_folio(id);
    }

    /// Frees the frames of reclaimed folios.
    fn release(&self, ids: impl IntoIterator<Item = u32>) {
        let ids: Vec<u32> = ids.into_iter().collect();
        for &id in &ids {
            self.resident[id as usize].store(false, Ordering::Release);
        }
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids);
    }

    fn frame(n: u8) -> u32 {
        u32::from(n) % SCHED_FRAMES as u32
    }
}

/// The `mglru_sched` target.
#[derive(Debug, Clone)]
pub struct MglruSchedTarget {
    name: &'static str,
}

impl MglruSchedTarget {
    /// The target registered as `name`.
    pub fn new(name: &'static str) -> Self {
        MglruSchedTarget { name }
    }
}

impl Target for MglruSchedTarget {
    type Op = MglruSchedOp;
    type Ret = MglruSchedRet;
    type Model = ();
    type Sut = MglruSchedSut;

    fn name(&self) -> &'static str {
        self.name
    }

    /// Ten of the twelve frames resident (anon in frames 0-5, file in 6-9), two free.
    fn new_sut(&self) -> MglruSchedSut {
        let (min, max) = SCHED_BATCHES;
        let sut = MglruSchedSut {
            lru: Lruvec::with_batches(SCHED_FRAMES, min, max),
            resident: (0..SCHED_FRAMES).map(|_| AtomicBool::new(false)).collect(),
            free: Mutex::new(vec![11, 10]),
        };
        for id in 0..10u32 {
            sut.fault_in(id, id < 6);
        }
        sut
    }

    fn new_model(&self) {}

    fn apply(&self, sut: &MglruSchedSut, op: &MglruSchedOp) -> MglruSchedRet {
        let lru = &sut.lru;
        match *op {
            MglruSchedOp::Touch(n) => {
                let id = MglruSchedSut::frame(n);
                if sut.resident[id as usize].load(Ordering::Acquire)
                    && lru.flags(id) & PG_MAPPED != 0
                {
                    lru.touch_pte(id);
                }
            }
            MglruSchedOp::Read(n) => {
                let id = MglruSchedSut::frame(n);
                if sut.resident[id as usize].load(Ordering::Acquire) {
                    lru.mark_accessed(id);
                }
            }
            MglruSchedOp::Fault { anon } => {
                let id = sut.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
                if let Some(id) = id {
                    sut.fault_in(id, anon);
                }
            }
            MglruSchedOp::Age { can_swap, force } => {
                let cmd = format!(
                    "+ 0 0 {} {} {}",
                    lru.max_seq(),
                    u8::from(can_swap),
                    u8::from(force)
                );
                // ERANGE (a fold eviction has not made room for) and a lost race with
                // another ager are both answers; the invariants judge the state.
                let _ = debugfs::write(lru, &cmd, 60);
            }
            MglruSchedOp::Evict(s) => {
                let mut sc = ScanControl::new(2);
                sc.priority = 0;
                lru.evict_folios(&mut sc, SWAPPINESS[usize::from(s % 4)]);
                sut.release(sc.reclaimed.into_iter().map(|(id, _)| id));
            }
            MglruSchedOp::Reclaim(n) => {
                let out = lru.reclaim(u64::from(n % 4) + 1, 60);
                sut.release(out.into_iter().map(|(id, _)| id));
            }
        }
        MglruSchedRet::Done
    }

    fn step(&self, _model: &mut (), _op: &MglruSchedOp) -> MglruSchedRet {
        MglruSchedRet::Done
    }

    fn check_concurrent(&self, sut: &MglruSchedSut) -> Result<(), String> {
        sut.lru.check_concurrent()
    }

    fn validate(&self, sut: &MglruSchedSut) -> Result<(), String> {
        let free = sut.free.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for id in 0..SCHED_FRAMES as u32 {
            let resident = sut.resident[id as usize].load(Ordering::Acquire);
            let n_free = free.iter().filter(|&&f| f == id).count();
            if usize::from(!resident) != n_free {
                return Err(format!(
                    "frame {id}: resident {resident}, on the free list {n_free} times"
                ));
            }
        }
        sut.lru
            .check(&|id| sut.resident[id as usize].load(Ordering::Acquire))
    }

    fn dump(&self, sut: &MglruSchedSut) -> String {
        debugfs::dump(&sut.lru, true)
    }
}
