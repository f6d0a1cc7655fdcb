//! LIRS (Jiang and Zhang, SIGMETRICS '02), as libCacheSim's `LIRS.c`, whose miss counts it
//! reproduces, departures from the paper included.
//!
//! The LIR set has `c - h` frames and the resident HIR set `h = max(1, trunc(0.01 c))`. The
//! stack `S` (recency, LIR and HIR entries, resident or not) and the queue `Q` (resident HIR
//! pages) are LRU lists of their own, and `NH` lists the non-resident HIR entries of `S` in the
//! order they lost residence. What libCacheSim does, and this model with it:
//!
//! - every access first moves the page to the head of `S` and of `Q`, where it has entries;
//! - a LIR hit prunes `S` (drops HIR entries from its bottom until a LIR entry or the head);
//! - a resident HIR hit in `S` removes it from `Q`, makes room in the LIR set (each
//!   *demotion* moves `S`'s bottom LIR entry to `Q`'s head as a resident HIR, evicting `Q`'s
//!   oldest page first if `Q` is full, and prunes) and makes it LIR;
//! - **departure**: a hit on a page in `Q` without an `S` entry demotes LIR pages as if the
//!   page were becoming LIR (so while the LIR set is full, one LIR page moves to `Q`), then
//!   gives the page a resident HIR entry in `S`; when `Q` has a single frame (fewer than 200
//!   frames) that demotion evicts the hit page itself from `Q`, and the page stays "resident"
//!   in `S` while counted nowhere, so the cache can hold more pages than it has frames;
//! - a miss on a non-resident HIR entry of `S` demotes LIR pages until the LIR set has room,
//!   and makes the page LIR;
//! - a miss on an unknown page makes it LIR while the LIR set has room, else a resident HIR
//!   page in `S` and `Q` (evicting `Q`'s oldest first when everything is full);
//! - an evicted HIR page that still has an `S` entry becomes non-resident and joins `NH`;
//! - after every access, while `S` has more than `2c` entries, the oldest non-resident entry
//!   (the tail of `NH`) is dropped from `S`.
//!
//! With one frame the LIR set is empty and libCacheSim admits nothing: every access misses.

use super::{Arena, List, NIL};
use crate::sim::{page_map, Access, PageMap, Policy};

/// Flags of an entry.
#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    lir: bool,
    resident: bool,
}

const HIR_RESIDENT: Flags = Flags {
    lir: false,
    resident: true,
};

/// An entry: its flags, and the next older entry of the same page in the same list.
///
/// libCacheSim keeps each list's entries in a chained hash table that does not refuse a
/// second entry for a page: a lookup finds the newest, a removal by page removes the newest,
/// an eviction removes the list's tail entry itself. In caches of a few frames its LIRS does
/// insert such duplicates (S's bottom entry is not always LIR there, and a demoted entry may
/// already be in Q), so entries of one page are chained here the same way.
#[derive(Clone, Copy, Debug)]
struct Entry {
    flags: Flags,
    older: u32,
}

const S: usize = 0;
const Q: usize = 1;
const NH: usize = 2;

/// LIRS.
pub struct Lirs {
    frames: usize,
    lir_max: i64,
    hir_max: i64,
    lir_count: i64,
    hir_count: i64,
    /// Resident pages as libCacheSim counts them.
    occupied: i64,
    /// A page's newest node in S, Q and NH (`NIL` where it has none).
    map: PageMap<[u32; 3]>,
    arena: Arena<Entry>,
    lists: [List; 3],
}

impl Lirs {
    /// An empty LIRS cache of `frames` page frames.
    pub fn new(frames: usize) -> Self {
        let hir_max = ((0.01 * frames as f64) as i64).max(1);
        Lirs {
            frames,
            lir_max: frames as i64 - hir_max,
            hir_max,
            lir_count: 0,
            hir_count: 0,
            occupied: 0,
            map: page_map(3 * frames),
            arena: Arena::with_capacity(3 * frames),
            lists: [List::default(); 3],
        }
    }

    fn slot(&self, page: u64, which: usize) -> u32 {
        self.map.get(&page).map_or(NIL, |s| s[which])
    }

    fn flags(&self, i: u32) -> Flags {
        self.arena.node(i).data.flags
    }

    fn flags_mut(&mut self, i: u32) -> &mut Flags {
        &mut self.arena.node_mut(i).data.flags
    }

    /// The flags of `page`'s newest entry in S, if any.
    fn s_flags(&self, page: u64) -> Option<Flags> {
        let i = self.slot(page, S);
        (i != NIL).then(|| self.flags(i))
    }

    /// Adds an entry for `page` at the head of list `which`.
    fn insert(&mut self, which: usize, page: u64, flags: Flags) {
        let slots = self.map.entry(page).or_insert([NIL; 3]);
        let older = slots[which];
        let i = self.arena.alloc(page, Entry { flags, older });
        slots[which] = i;
        self.arena.push_head(&mut self.lists[which], i);
    }

    /// Takes node `i` (an entry of `page` in list `which`, already unlinked from the list)
    /// out of its page's chain and frees it.
    fn unchain(&mut self, which: usize, page: u64, i: u32) {
        let older = self.arena.node(i).data.older;
        self.arena.release(i);
        let Some(slots) = self.map.get_mut(&page) else {
            return;
        };
        if slots[which] == i {
            slots[which] = older;
            if *slots == [NIL; 3] {
                self.map.remove(&page);
            }
            return;
        }
        let mut cur = slots[which];
        while cur != NIL {
            let next = self.arena.node(cur).data.older;
            if next == i {
                self.arena.node_mut(cur).data.older = older;
                return;
            }
            cur = next;
        }
    }

    /// Removes `page`'s newest entry from list `which`; whether it had one.
    fn remove(&mut self, which: usize, page: u64) -> bool {
        let i = self.slot(page, which);
        if i == NIL {
            return false;
        }
        self.arena.unlink(&mut self.lists[which], i);
        self.unchain(which, page, i);
        true
    }

    /// Removes the oldest entry of list `which`.
    fn pop_tail(&mut self, which: usize) -> Option<(u64, Flags)> {
        let t = self.arena.pop_tail(&mut self.lists[which])?;
        let (page, flags) = (self.arena.page(t), self.flags(t));
        self.unchain(which, page, t);
        Some((page, flags))
    }

    /// Drops HIR entries from the bottom of S until a LIR entry (or S's head) is there.
    fn prune(&mut self) {
        loop {
            let t = self.lists[S].tail_raw();
            if t == self.lists[S].head_raw() {
                return;
            }
            let (page, f) = (self.arena.page(t), self.flags(t));
            if f.lir {
                return;
            }
            let resident = f.resident;
            if !resident {
                self.remove(NH, page);
            }
            self.pop_tail(S);
        }
    }

    /// Evicts the oldest resident HIR page (Q's tail); false if Q is empty.
    fn evict_hir(&mut self) -> bool {
        let Some((page, _)) = self.pop_tail(Q) else {
            return false;
        };
        self.hir_count -= 1;
        let s = self.slot(page, S);
        if s != NIL {
            self.flags_mut(s).resident = false;
            self.insert(NH, page, Flags::default());
        }
        self.occupied -= 1;
        true
    }

    /// Demotes S's bottom entry to a resident HIR page in Q; false if S is empty. The bottom
    /// entry is LIR after pruning, except in caches of a few frames, where libCacheSim demotes
    /// whatever is there the same way (counting it as a LIR page), and so does this.
    fn evict_lir(&mut self) -> bool {
        let Some((page, _)) = self.pop_tail(S) else {
            return false;
        };
        self.lir_count -= 1;
        self.occupied -= 1;
        while self.hir_count + 1 > self.hir_max {
            if !self.evict_hir() {
                break;
            }
        }
        self.insert(Q, page, HIR_RESIDENT);
        self.hir_count += 1;
        self.occupied += 1;
        self.prune();
        true
    }

    /// Demotes LIR pages until the LIR set has room for one more.
    fn make_lir_room(&mut self) {
        while self.lir_count + 1 > self.lir_max {
            if !self.evict_lir() {
                break;
            }
        }
    }

    /// After every access: bounds S by dropping the oldest non-resident entries.
    fn limit_stack(&mut self) {
        while self.lists[S].len() > 2 * self.frames {
            let Some(t) = self.lists[NH].tail() else {
                break;
            };
            let page = self.arena.page(t);
            self.remove(S, page);
            self.pop_tail(NH);
        }
    }

    /// The lookup with promotion; whether it is a hit.
    fn find(&mut self, page: u64) -> bool {
        let slots = self.map.get(&page).copied().unwrap_or([NIL; 3]);
        if slots[S] != NIL {
            self.arena.move_to_head(&mut self.lists[S], slots[S]);
        }
        if slots[Q] != NIL {
            self.arena.move_to_head(&mut self.lists[Q], slots[Q]);
        }
        if slots[S] != NIL {
            let f = self.flags(slots[S]);
            if f.lir {
                self.prune();
                true
            } else if f.resident {
                // A resident HIR page with a recent S entry becomes LIR.
                if slots[Q] != NIL {
                    self.hir_count -= 1;
                    self.remove(Q, page);
                    self.occupied -= 1;
                }
                self.make_lir_room();
                // (The entry is at S's head, so demotions cannot have removed it unless it is
                // S's only entry, which libCacheSim would then write through a freed pointer;
                // its newest entry, if any, is updated instead.)
                let s = self.slot(page, S);
                if s != NIL {
                    self.flags_mut(s).lir = true;
                }
                self.lir_count += 1;
                self.occupied += 1;
                true
            } else {
                false
            }
        } else if slots[Q] != NIL {
            // A resident HIR page without an S entry (libCacheSim's departure, see above).
            self.make_lir_room();
            self.insert(S, page, HIR_RESIDENT);
            true
        } else {
            false
        }
    }

    /// libCacheSim's `can_insert`, which also makes room; whether the page is admitted.
    fn admit(&mut self, page: u64) -> bool {
        match self.s_flags(page) {
            Some(f) if !f.lir && !f.resident => {
                self.make_lir_room();
                self.remove(NH, page);
                true
            }
            Some(_) => false,
            None if self.slot(page, Q) != NIL => false,
            None => {
                if self.lir_max < 1 || self.hir_max < 1 {
                    return false;
                }
                if self.lir_count + 1 > self.lir_max && self.hir_count + 1 > self.hir_max {
                    while self.hir_count + 1 > self.hir_max {
                        if !self.evict_hir() {
                            break;
                        }
                    }
                }
                true
            }
        }
    }

    /// One round of libCacheSim's `evict`; whether it did anything.
    fn evict(&mut self, page: u64) -> bool {
        match self.s_flags(page) {
            Some(f) if !f.lir && !f.resident => {
                while self.hir_count >= self.hir_max {
                    if !self.evict_hir() {
                        break;
                    }
                }
                self.evict_lir();
                true
            }
            None if self.slot(page, Q) == NIL => {
                self.lir_count + 1 > self.lir_max
                    && self.hir_count + 1 > self.hir_max
                    && self.evict_hir()
            }
            _ => false,
        }
    }

    /// libCacheSim's `insert` after a miss.
    fn insert_missed(&mut self, page: u64) {
        let s = self.slot(page, S);
        if s != NIL {
            let f = self.flags_mut(s);
            if !f.lir && !f.resident {
                f.lir = true;
                f.resident = true;
                self.lir_count += 1;
                self.occupied += 1;
            }
        } else if self.slot(page, Q) == NIL {
            if self.lir_count < self.lir_max {
                self.insert(
                    S,
                    page,
                    Flags {
                        lir: true,
                        resident: true,
                    },
                );
                self.lir_count += 1;
            } else {
                self.insert(S, page, HIR_RESIDENT);
                self.insert(Q, page, HIR_RESIDENT);
                self.hir_count += 1;
            }
            self.occupied += 1;
        }
    }
}

impl Policy for Lirs {
    fn name(&self) -> String {
        "lirs".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        let hit = self.find(a.page);
        if !hit && self.admit(a.page) {
            while self.occupied + 1 > self.frames as i64 {
                if !self.evict(a.page) {
                    break;
                }
            }
            self.insert_missed(a.page);
        }
        self.limit_stack();
        hit
    }
}
