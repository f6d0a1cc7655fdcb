//! The kernel's own replacement policies as simulator policies:
//!
//! - `mglru`: [`algos::mglru::Sim`], the multi-gen LRU of Linux v6.6 managing the frames (a
//!   miss with no free frame runs direct reclaim, which frees up to a batch of pages, as the
//!   kernel does: `SWAP_CLUSTER_MAX` targets, eviction in batches of up to `MIN_LRU_BATCH`),
//!   swappiness 60;
//! - `active-inactive`: the two-list LRU that MGLRU replaces (mm/vmscan.c
//!   `shrink_active_list`/`shrink_inactive_list`, mm/swap.c `folio_mark_accessed`,
//!   mm/workingset.c refault distances), described below.
//!
//! Both reclaim in batches when memory is full, so between reclaims a few frames stay free:
//! their miss counts include that effect, which the textbook policies (evicting exactly one
//! page per miss) do not have.

use super::{Access, Policy};
use std::collections::HashMap;

/// Whether `mglru` runs in this build. The multi-gen LRU reaches atomics and locks through
/// `algos::sync`, which a build with the `shuttle` feature routes to shuttle's primitives,
/// usable only inside a shuttle execution; such a build leaves the policy out.
pub const MGLRU_AVAILABLE: bool = !cfg!(feature = "shuttle");

/// `mglru`.
pub struct Mglru {
    sim: algos::mglru::Sim,
}

impl Mglru {
    /// A memory of `frames` frames under the multi-gen LRU.
    pub fn new(frames: usize) -> Self {
        Mglru {
            sim: algos::mglru::Sim::new(frames, 60),
        }
    }

    /// The registry's constructor: refuses in a build where the policy cannot run
    /// ([`MGLRU_AVAILABLE`]).
    pub fn build(frames: usize) -> Result<Box<dyn Policy>, String> {
        if !MGLRU_AVAILABLE {
            return Err("policy `mglru` needs mmcheck built without the shuttle feature".into());
        }
        Ok(Box::new(Mglru::new(frames)))
    }

    /// The simulated memory.
    pub fn sim(&self) -> &algos::mglru::Sim {
        &self.sim
    }

    /// The simulated memory, to drain and dump (`lru_gen`).
    pub fn sim_mut(&mut self) -> &mut algos::mglru::Sim {
        &mut self.sim
    }
}

impl Policy for Mglru {
    fn name(&self) -> String {
        "mglru".into()
    }

    fn access(&mut self, a: Access) -> bool {
        self.sim.access(a.page, a.anon)
    }
}

const NIL: u32 = u32::MAX;
/// `SWAP_CLUSTER_MAX`: what one reclaim pass aims to free.
const SWAP_CLUSTER_MAX: usize = 32;

#[derive(Clone, Copy)]
struct Node {
    page: u64,
    prev: u32,
    next: u32,
    active: bool,
    /// `PG_referenced`.
    referenced: bool,
    /// The PTE's accessed bit (a page accessed through page tables).
    young: bool,
    /// Accessed through page tables (the kernel's "mapped" folio).
    mapped: bool,
}

#[derive(Clone, Copy, Default)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
}

/// `active-inactive`: the kernel's two-list LRU before MGLRU, on one pair of lists for both
/// page types (the kernel keeps a pair per type and balances them by swappiness and scan
/// cost; a trace simulator has no costs to balance).
///
/// - A new page goes to the head of the inactive list (both types, as since v5.9), unless
///   its refault distance says it was part of the workingset: the number of evictions and
///   activations since it was evicted (`nonresident_age`) is at most the active list's
///   size; then it starts active (`workingset_refault`).
/// - An access through a file descriptor is `folio_mark_accessed`: an unreferenced page
///   becomes referenced, a referenced inactive page is activated. An access through a page
///   table only sets the PTE's accessed bit.
/// - Reclaim, when no frame is free, frees up to `SWAP_CLUSTER_MAX` pages: first, while
///   the inactive list is shorter than the active one (`inactive_is_low` with ratio 1, a
///   memory under 1 GiB), pages move from the active tail to the inactive head, their PTE
///   bits cleared (`shrink_active_list`); then the inactive tail is scanned
///   (`folio_check_references`): a young PTE keeps the page (rotated, referenced) the first
///   time and activates it if it was referenced already; a referenced unmapped page is
///   reclaimed (the kernel's "clean page"); everything else is evicted, leaving a shadow
///   entry with the current `nonresident_age`.
pub struct ActiveInactive {
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: HashMap<u64, u32>,
    active: List,
    inactive: List,
    frames: usize,
    /// `lruvec->nonresident_age`: evictions plus activations.
    age: u64,
    /// Shadow entries: the age at eviction.
    shadows: HashMap<u64, u64>,
}

impl ActiveInactive {
    /// A memory of `frames` frames (at least 1).
    pub fn new(frames: usize) -> Self {
        assert!(frames > 0);
        ActiveInactive {
            nodes: Vec::with_capacity(frames),
            free: Vec::new(),
            index: HashMap::with_capacity(frames),
            active: List {
                head: NIL,
                tail: NIL,
                len: 0,
            },
            inactive: List {
                head: NIL,
                tail: NIL,
                len: 0,
            },
            frames,
            age: 0,
            shadows: HashMap::new(),
        }
    }

    fn list(&mut self, active: bool) -> &mut List {
        if active {
            &mut self.active
        } else {
            &mut self.inactive
        }
    }

    fn unlink(&mut self, i: u32) {
        let Node {
            prev, next, active, ..
        } = self.nodes[i as usize];
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            self.list(active).head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            self.list(active).tail = prev;
        }
        self.list(active).len -= 1;
    }

    fn push_head(&mut self, i: u32, active: bool) {
        let head = self.list(active).head;
        let n = &mut self.nodes[i as usize];
        n.active = active;
        n.prev = NIL;
        n.next = head;
        if head != NIL {
            self.nodes[head as usize].prev = i;
        } else {
            self.list(active).tail = i;
        }
        let l = self.list(active);
        l.head = i;
        l.len += 1;
    }

    fn activate(&mut self, i: u32) {
        self.unlink(i);
        self.nodes[i as usize].referenced = false;
        self.push_head(i, true);
        self.age += 1;
    }

    /// `shrink_active_list`: deactivate from the active tail.
    fn deactivate(&mut self, n: usize) {
        for _ in 0..n {
            let t = self.active.tail;
            if t == NIL {
                return;
            }
            self.unlink(t);
            self.nodes[t as usize].young = false;
            self.push_head(t, false);
        }
    }

    /// Frees up to `SWAP_CLUSTER_MAX` frames (at least one).
    fn reclaim(&mut self) {
        let mut freed = 0;
        let mut scanned = 0;
        while freed < SWAP_CLUSTER_MAX && scanned < 4 * self.frames {
            if self.inactive.len < self.active.len || self.inactive.len == 0 {
                let n = SWAP_CLUSTER_MAX.min(self.active.len);
                self.deactivate(n.max(1));
            }
            let t = self.inactive.tail;
            if t == NIL {
                break;
            }
            scanned += 1;
            let node = self.nodes[t as usize];
            let referenced_ptes = node.young;
            let referenced_page = node.referenced;
            self.nodes[t as usize].young = false;
            self.nodes[t as usize].referenced = false;
            if referenced_ptes {
                self.nodes[t as usize].referenced = true;
                if referenced_page {
                    self.activate(t);
                } else {
                    self.unlink(t);
                    self.push_head(t, false);
                }
                continue;
            }
            // Evict.
            self.unlink(t);
            self.index.remove(&node.page);
            self.shadows.insert(node.page, self.age);
            self.age += 1;
            self.free.push(t);
            freed += 1;
        }
        if freed == 0 {
            // Everything was referenced twice over: take the inactive tail anyway.
            let t = if self.inactive.tail != NIL {
                self.inactive.tail
            } else {
                self.active.tail
            };
            let page = self.nodes[t as usize].page;
            self.unlink(t);
            self.index.remove(&page);
            self.shadows.insert(page, self.age);
            self.age += 1;
            self.free.push(t);
        }
    }
}

impl Policy for ActiveInactive {
    fn name(&self) -> String {
        "active-inactive".into()
    }

    fn access(&mut self, a: Access) -> bool {
        if let Some(&i) = self.index.get(&a.page) {
            let n = &mut self.nodes[i as usize];
            if a.anon {
                n.young = true;
                n.mapped = true;
            } else if !n.active && n.referenced {
                self.activate(i);
            } else {
                n.referenced = true;
            }
            return true;
        }
        let i = if let Some(i) = self.free.pop() {
            i
        } else if self.nodes.len() < self.frames {
            self.nodes.push(Node {
                page: 0,
                prev: NIL,
                next: NIL,
                active: false,
                referenced: false,
                young: false,
                mapped: false,
            });
            (self.nodes.len() - 1) as u32
        } else {
            self.reclaim();
            self.free.pop().expect("reclaim frees a frame")
        };
        // A read through a file descriptor marks the new page accessed (filemap_read's
        // folio_mark_accessed): referenced, so a second read activates it. A fault maps it
        // young.
        self.nodes[i as usize] = Node {
            page: a.page,
            prev: NIL,
            next: NIL,
            active: false,
            referenced: !a.anon,
            young: a.anon,
            mapped: a.anon,
        };
        // workingset_refault: activate if the refault distance fits the active list.
        let workingset = self
            .shadows
            .remove(&a.page)
            .is_some_and(|eviction| self.age - eviction <= self.active.len as u64);
        self.push_head(i, false);
        if workingset {
            self.activate(i);
        }
        self.index.insert(a.page, i);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut dyn Policy, pages: impl IntoIterator<Item = u64>) -> u64 {
        pages
            .into_iter()
            .filter(|&x| !p.access(Access::read(x)))
            .count() as u64
    }

    #[test]
    fn active_inactive_keeps_a_twice_read_set_through_a_scan() {
        let hot_lost = |p: &mut dyn Policy| {
            // 100 pages read twice (activated), then a scan of 1,000 pages read once.
            run(p, (0..100).chain(0..100));
            run(p, 1_000..2_000);
            run(p, 0..100)
        };
        let ai = hot_lost(&mut ActiveInactive::new(200));
        let lru = hot_lost(&mut super::super::policies::Lru::new(200));
        assert_eq!(lru, 100, "LRU loses the whole hot set to the scan");
        // The active list is trimmed until the inactive one is as long (ratio 1 under 1 GiB):
        // one deactivation batch of the hot set goes, the rest stays.
        assert!(
            ai <= SWAP_CLUSTER_MAX as u64,
            "active-inactive lost {ai} of the 100 hot pages"
        );
    }

    #[cfg(not(feature = "shuttle"))]
    #[test]
    fn both_kernel_policies_count_every_access() {
        for p in [
            &mut ActiveInactive::new(64) as &mut dyn Policy,
            &mut Mglru::new(64),
        ] {
            // A hot tenth of 300 pages takes most accesses.
            let misses = run(
                p,
                (0..5_000u64).map(|i| if i % 4 == 0 { (i * 7919) % 300 } else { i % 30 }),
            );
            assert!((300..2_500).contains(&misses), "{}: {misses}", p.name());
        }
    }
}
