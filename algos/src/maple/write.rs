//! The write side: planning a store (which of the kernel's write paths it takes and which
//! nodes it builds), node preallocation, and executing the plan (build, publish, mark dead,
//! free after a grace period, propagate gaps).
//!
//! A store of `[first, last]` is first planned without touching the tree. The plan lists
//! the new nodes bottom-up (the kernel's big-node scratch area becomes the `items` of each
//! level), how they are published, and what dies. Only then are the nodes allocated, all at
//! once, as `mas_preallocate` does; if that fails the caller drops the lock, allocates, and
//! plans again from a fresh walk (`mas_nomem`).
//!
//! Write paths, named as in `lib/maple_tree.c`:
//! * exact fit: the range is exactly one existing slot and the entry is not NULL; the slot
//!   pointer is replaced in place (also in RCU mode: one pointer store is atomic for readers);
//! * slot store / append / node store in place (not in RCU mode): the new content fits the
//!   leaf, which is rewritten where it is;
//! * node store: the leaf is rebuilt as one new node that replaces it in its parent;
//! * split: a level's content needs more than one node; the parent level is rebuilt too;
//! * spanning store: the range covers more than one leaf (or is NULL and ends at a leaf's
//!   maximum: a leaf other than the rightmost may not end with NULL), so the leaves from the
//!   first to the last are rebuilt together, and every level above up to their common
//!   ancestor;
//! * rebalance: a rebuilt node would be below the minimum occupancy, so the node to its right
//!   at the same level is pulled into it.
//!
//! In RCU mode no node that readers can reach is changed except by the exact fit and by gap
//! updates (readers never read gaps): nodes are copied, the copy is published with one
//! pointer store, and the replaced nodes are marked dead and freed after a grace period.

use super::node::{
    self, alloc_node, encode, free_node, free_unused, is_node, node_type, retire_entry, wnode,
    Node, NodeType,
};
use super::{Core, WriteStats};
use crate::sync::atomic::Ordering;
use crate::sync::rcu::Shared;

/// One slot of a level being rebuilt: its inclusive upper bound, its content and (for a
/// child) the child's largest gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Item {
    pub last: u64,
    pub slot: usize,
    pub gap: u64,
}

/// Tag of a slot value that stands for the `k`-th new node of the plan (`k << 2 | 1`).
const NEW_TAG: usize = 0b01;
/// Tag of a slot value that stands for a copy of an entry (`entry | 3`): the right-hand
/// remainder of a range that a store split in two.
const CLONE_TAG: usize = 0b11;

fn new_ref(k: usize) -> usize {
    (k << 2) | NEW_TAG
}

/// One step of a walk: the node, its implied limits, and the offset taken in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub enode: usize,
    pub min: u64,
    pub max: u64,
    pub off: usize,
}

/// A node the plan builds.
#[derive(Debug, Clone)]
pub(crate) struct Build {
    pub ty: NodeType,
    pub min: u64,
    pub max: u64,
    pub items: Vec<Item>,
}

/// How the plan makes its result visible.
#[derive(Debug, Clone)]
pub(crate) enum Publish {
    /// The root becomes this value (0, an entry, an existing node or a new node reference).
    Root(usize),
    /// Slot `off` of the existing node `parent` becomes the new node reference `new`.
    Slot { path: Vec<Step>, new: usize },
    /// The existing leaf at the end of `path` is rewritten in place with `items`.
    InPlace { path: Vec<Step>, items: Vec<Item> },
    /// Slot `off` of the leaf at the end of `path` gets `entry`.
    ExactFit { path: Vec<Step>, entry: usize },
}

/// Which kernel write path a plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ExactFit,
    SlotStore,
    Append,
    NodeStore,
    Split,
    Spanning,
    Root,
}

/// A planned store.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub builds: Vec<Build>,
    pub publish: Publish,
    /// Old nodes rebuilt into new ones: marked dead, freed after a grace period.
    pub rebuilt: Vec<usize>,
    /// Old subtrees wholly overwritten, with their limits: every node and entry in them
    /// dies (nodes in `rebuilt` are skipped: their contents moved).
    pub dropped: Vec<(usize, u64, u64)>,
    /// Old entries overwritten.
    pub dead_entries: Vec<usize>,
    pub height: u32,
    pub kind: Kind,
    pub rebalanced: bool,
    /// A full node shared its content with a sibling instead of splitting.
    pub pushed: bool,
    /// The range actually written (a NULL store grows over adjacent NULLs).
    pub first: u64,
    pub last: u64,
}

/// Buffers the planner reuses from one write to the next, kept in the writer (the kernel
/// plans in a `maple_big_node` on the stack): with them a write that changes one leaf in
/// place allocates nothing but its entry.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    steps: Vec<Vec<Step>>,
    items: Vec<Vec<Item>>,
}

impl Scratch {
    /// An empty walk buffer.
    fn steps(&mut self) -> Vec<Step> {
        self.steps.pop().unwrap_or_default()
    }

    /// An empty item buffer.
    fn items(&mut self) -> Vec<Item> {
        self.items.pop().unwrap_or_default()
    }

    /// Takes a walk buffer back.
    fn give_steps(&mut self, mut v: Vec<Step>) {
        if self.steps.len() < 4 {
            v.clear();
            self.steps.push(v);
        }
    }

    /// Takes an item buffer back.
    fn give_items(&mut self, mut v: Vec<Item>) {
        if self.items.len() < 4 {
            v.clear();
            self.items.push(v);
        }
    }
}

/// The walk toward `index` from `from` (an encoded node and its limits), one step per level
/// appended to `path`, until `path` holds `depth + 1` steps or reaches a leaf. Each child
/// is prefetched whole before its pivots are read.
///
/// # Safety
/// The caller holds the tree's lock, `from` is a live node of the tree that covers `index`,
/// and the tree has `depth + 1` levels (or `depth` is past the leaves).
pub(crate) unsafe fn descend(
    path: &mut Vec<Step>,
    from: (usize, u64, u64),
    index: u64,
    depth: usize,
) {
    let (mut enode, mut min, mut max) = from;
    loop {
        debug_assert!(is_node(enode));
        let ty = node_type(enode);
        // SAFETY: under the lock every node reachable from the root is live.
        let n = unsafe { wnode(enode) };
        let end = n.data_end(ty, max);
        let mut off = 0;
        while off < end && n.pivot(ty, off) < index {
            off += 1;
        }
        path.push(Step {
            enode,
            min,
            max,
            off,
        });
        if path.len() > depth || ty.is_leaf() {
            return;
        }
        let cmin = if off == 0 {
            min
        } else {
            n.pivot(ty, off - 1) + 1
        };
        let cmax = if off < end { n.pivot(ty, off) } else { max };
        enode = n.slot(ty, off);
        node::prefetch(enode);
        min = cmin;
        max = cmax;
    }
}

/// Reads the items of an existing node.
///
/// # Safety
/// `enode` is a live node of the tree, and the caller holds the tree's lock.
pub(crate) unsafe fn items_of(enode: usize, min: u64, max: u64) -> Vec<Item> {
    // SAFETY: the caller's guarantee.
    unsafe { items_of_in(enode, min, max, Vec::new()) }
}

/// [`items_of`] into `out` (cleared first).
///
/// # Safety
/// As for [`items_of`].
unsafe fn items_of_in(enode: usize, min: u64, max: u64, mut out: Vec<Item>) -> Vec<Item> {
    let ty = node_type(enode);
    // SAFETY: the caller's guarantee.
    let n = unsafe { wnode(enode) };
    let end = n.data_end(ty, max);
    out.clear();
    out.reserve(end + 1);
    let _ = min;
    for i in 0..=end {
        let last = if i == end {
            max
        } else {
            n.safe_pivot(ty, i, max)
        };
        let slot = n.slot(ty, i);
        let gap = if ty == NodeType::Arange64 {
            n.gap(i)
        } else {
            0
        };
        out.push(Item { last, slot, gap });
    }
    out
}

/// The largest gap in a leaf's items.
pub(crate) fn leaf_gap(items: &[Item], min: u64) -> u64 {
    let mut lo = min;
    let mut best = 0;
    for it in items {
        if it.slot == 0 {
            best = best.max(it.last.wrapping_sub(lo).wrapping_add(1));
        }
        lo = it.last.wrapping_add(1);
    }
    best
}

/// The largest gap below an existing node.
///
/// # Safety
/// `enode` is live and the caller holds the lock.
pub(crate) unsafe fn max_gap_of(enode: usize, min: u64, max: u64) -> u64 {
    let ty = node_type(enode);
    // SAFETY: the caller's guarantee.
    let n = unsafe { wnode(enode) };
    match ty {
        NodeType::Arange64 => n.gap(n.meta_gap()),
        // SAFETY: as above.
        NodeType::Leaf64 => leaf_gap(&unsafe { items_of(enode, min, max) }, min),
        NodeType::Range64 => 0,
    }
}

/// The gap a build will have.
fn build_gap(b: &Build) -> u64 {
    match b.ty {
        NodeType::Leaf64 => leaf_gap(&b.items, b.min),
        NodeType::Arange64 => b.items.iter().map(|i| i.gap).max().unwrap_or(0),
        NodeType::Range64 => 0,
    }
}

/// Whether a split follows a push into a sibling, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Push {
    None,
    Left,
    Right,
}

/// Sizes of the nodes `items` is split into: as even as possible, each within `ty`'s
/// capacity and (when there is more than one) at least its minimum, and (leaves) with no
/// node but the last ending in NULL.
fn split_sizes(items: &[Item], min: u64, ty: NodeType, push: Push) -> Vec<usize> {
    let n = items.len();
    let cap = ty.slots();
    if n <= cap {
        return vec![n];
    }
    let minc = ty.min_slots() + 1;
    let mut k = n.div_ceil(cap);
    loop {
        // `mas_push_data`'s split point: the left node is filled to `slots - 1` (pushing
        // left) or the right node gets `slots - 1` (pushing right), if both halves keep
        // the minimum occupancy.
        let pushed = match push {
            Push::Left if k == 2 && n >= cap - 1 + minc && n - (cap - 1) <= cap => {
                Some(vec![cap - 1, n - (cap - 1)])
            }
            Push::Right if k == 2 && n >= cap - 1 + minc && n - (cap - 1) <= cap => {
                Some(vec![n - (cap - 1), cap - 1])
            }
            _ => None,
        };
        let even = pushed.is_none();
        let mut sizes: Vec<usize> =
            pushed.unwrap_or_else(|| (0..k).map(|j| n / k + usize::from(j < n % k)).collect());
        if even && k == 2 {
            // `mab_calc_split`'s density rule: while the left node would cover fewer
            // indexes than a node has slots, give it one more item, as long as the right
            // node keeps more than its minimum.
            while sizes[0] < cap
                && items[sizes[0] - 1].last.wrapping_sub(min) < (cap - 1) as u64
                && sizes[1] > minc
            {
                sizes[0] += 1;
                sizes[1] -= 1;
            }
        }
        if !ty.is_leaf() {
            return sizes;
        }
        // `mab_no_null_split`: no node but the last may end in NULL. Adjacent NULLs are
        // merged, so moving a boundary by one slot fixes it.
        let mut ok = true;
        let mut start = 0;
        for j in 0..k - 1 {
            let end = start + sizes[j];
            if items[end - 1].slot == 0 {
                if sizes[j] < cap && sizes[j + 1] > minc {
                    sizes[j] += 1;
                    sizes[j + 1] -= 1;
                } else if sizes[j] > minc && sizes[j + 1] < cap {
                    sizes[j] -= 1;
                    sizes[j + 1] += 1;
                } else {
                    ok = false;
                    break;
                }
            }
            start += sizes[j];
        }
        if ok {
            return sizes;
        }
        k += 1;
    }
}

impl Core {
    /// The current root value.
    pub(crate) fn root(&self) -> usize {
        self.root.load(Ordering::Acquire)
    }

    /// The writer's walk from the root toward `index`, down to depth `depth` (0 = root).
    ///
    /// # Safety
    /// The caller holds the tree's lock and the tree has at least `depth + 1` levels.
    pub(crate) unsafe fn walk_to(&self, index: u64, depth: usize) -> Vec<Step> {
        // SAFETY: the caller's guarantee.
        unsafe { self.walk_to_in(index, depth, Vec::new()) }
    }

    /// [`Core::walk_to`] into `path` (cleared first).
    ///
    /// # Safety
    /// As for [`Core::walk_to`].
    unsafe fn walk_to_in(&self, index: u64, depth: usize, mut path: Vec<Step>) -> Vec<Step> {
        path.clear();
        path.reserve(depth + 1);
        // SAFETY: the caller's guarantee.
        unsafe { descend(&mut path, (self.root(), 0, u64::MAX), index, depth) };
        path
    }

    /// The limits of slot `off` of the node at `s`.
    ///
    /// # Safety
    /// As [`Core::walk_to`].
    pub(crate) unsafe fn slot_limits(s: &Step) -> (u64, u64) {
        let ty = node_type(s.enode);
        // SAFETY: the caller's guarantee.
        let n = unsafe { wnode(s.enode) };
        let end = n.data_end(ty, s.max);
        let lo = if s.off == 0 {
            s.min
        } else {
            n.pivot(ty, s.off - 1) + 1
        };
        let hi = if s.off < end {
            n.pivot(ty, s.off)
        } else {
            s.max
        };
        (lo, hi)
    }

    /// Plans the store of `entry` (an entry pointer, or 0 for NULL) over `[first, last]`.
    ///
    /// # Safety
    /// The caller holds the tree's lock.
    pub(crate) unsafe fn plan(
        &self,
        first: u64,
        last: u64,
        entry: usize,
        scratch: &mut Scratch,
    ) -> Plan {
        let alloc = self.is_alloc();
        let rcu = self.in_rcu();
        let root = self.root();
        let height = self.height.load(Ordering::Relaxed);
        let mut plan = Plan {
            builds: Vec::new(),
            publish: Publish::Root(0),
            rebuilt: Vec::new(),
            dropped: Vec::new(),
            dead_entries: Vec::new(),
            height,
            kind: Kind::Root,
            rebalanced: false,
            pushed: false,
            first,
            last,
        };

        if !is_node(root) {
            // An empty tree, or a single entry at index 0 held in the root.
            if first == 0 && last == 0 && entry != 0 {
                if root != 0 {
                    plan.dead_entries.push(root);
                }
                plan.publish = Publish::Root(entry);
                plan.height = 0;
                return plan;
            }
            let old = if root == 0 {
                vec![Item {
                    last: u64::MAX,
                    slot: 0,
                    gap: 0,
                }]
            } else {
                vec![
                    Item {
                        last: 0,
                        slot: root,
                        gap: 0,
                    },
                    Item {
                        last: u64::MAX,
                        slot: 0,
                        gap: 0,
                    },
                ]
            };
            let (cur, f, l) = overlay(
                &old,
                0,
                &old,
                0,
                true,
                first,
                last,
                entry,
                &mut plan.dead_entries,
                Vec::new(),
            );
            plan.first = f;
            plan.last = l;
            new_root(&mut plan, cur);
            return plan;
        }

        let h = height as usize;
        let leaf = h - 1;
        // SAFETY: the lock is held and the tree has `h` levels.
        let mut lpath = unsafe { self.walk_to_in(first, leaf, scratch.steps()) };
        let l = *lpath.last().expect("non-empty path");
        // `mas_is_span_wr`: past the leaf, or NULL up to a leaf's end (not the rightmost).
        let spans = |s: &Step| last > s.max || (entry == 0 && last == s.max && s.max != u64::MAX);
        // The walk to `last`, when it ends in another leaf (otherwise it is `lpath`, which
        // is only copied if the general case below needs a path of its own).
        let mut rwalk: Option<Vec<Step>> = None;
        if spans(&l) {
            // SAFETY: as above.
            let mut p = unsafe { self.walk_to(last, leaf) };
            let r = *p.last().expect("non-empty path");
            if entry == 0 && last == r.max && r.max != u64::MAX {
                // SAFETY: as above.
                p = unsafe { self.walk_to(last + 1, leaf) };
            }
            rwalk = Some(p);
        }
        let r = rwalk
            .as_ref()
            .map_or(l, |p| *p.last().expect("non-empty path"));
        // SAFETY: live nodes under the lock.
        let litems = unsafe { items_of_in(l.enode, l.min, l.max, scratch.items()) };

        if l.enode == r.enode {
            // Exact fit: one whole non-NULL-merging slot.
            // SAFETY: as above.
            let (lo, hi) = unsafe { Core::slot_limits(&l) };
            if lo == first && hi == last && entry != 0 {
                let old = litems[l.off].slot;
                if old != 0 {
                    plan.dead_entries.push(old);
                }
                plan.publish = Publish::ExactFit { path: lpath, entry };
                plan.kind = Kind::ExactFit;
                scratch.give_items(litems);
                return plan;
            }
        }
        let other;
        let ritems: &[Item] = if r.enode == l.enode {
            &litems
        } else {
            // SAFETY: as above.
            other = unsafe { items_of(r.enode, r.min, r.max) };
            &other
        };
        let (mut cur, f, la) = overlay(
            &litems,
            l.min,
            ritems,
            r.min,
            l.enode == r.enode,
            first,
            last,
            entry,
            &mut plan.dead_entries,
            scratch.items(),
        );
        plan.first = f;
        plan.last = la;
        if f == 0 && la == u64::MAX {
            // `mas_new_root`: the store covers everything.
            plan.rebuilt.push(root);
            // SAFETY: the root is live under the lock.
            let top = unsafe { items_of(root, 0, u64::MAX) };
            if !node_type(root).is_leaf() {
                // Every old entry lies in these subtrees and dies with them.
                plan.dropped
                    .extend(starts(&top, 0).map(|(s, it)| (it.slot, s, it.last)));
                plan.dead_entries.clear();
            }
            plan.kind = Kind::Root;
            new_root(&mut plan, cur);
            scratch.give_items(litems);
            return plan;
        }

        let leaf_ty = NodeType::Leaf64;
        let fits_in_place = l.enode == r.enode
            && cur.len() <= leaf_ty.slots()
            && (cur.len() > leaf_ty.min_slots() || h == 1 || l.max == u64::MAX);
        if !rcu && fits_in_place {
            plan.kind = if cur.len() == litems.len() {
                Kind::SlotStore
            } else if cur.len() > litems.len()
                && cur[..litems.len() - 1] == litems[..litems.len() - 1]
            {
                Kind::Append
            } else {
                Kind::NodeStore
            };
            plan.publish = Publish::InPlace {
                path: lpath,
                items: cur,
            };
            scratch.give_items(litems);
            return plan;
        }
        scratch.give_items(litems);

        // The general case: rebuild levels bottom-up.
        let mut rpath = rwalk.unwrap_or_else(|| lpath.clone());
        plan.kind = if l.enode != r.enode {
            Kind::Spanning
        } else {
            Kind::NodeStore
        };
        let internal = if alloc {
            NodeType::Arange64
        } else {
            NodeType::Range64
        };
        let mut d = leaf;
        let mut ty = leaf_ty;
        let mut rebuilt: Vec<usize> = vec![l.enode];
        if r.enode != l.enode {
            rebuilt.push(r.enode);
        }
        loop {
            let (a, b) = (lpath[d], rpath[d]);
            let mut lo = a.min;
            let mut hi = b.max;
            let mut bnode = b.enode;
            if d > 0 && cur.len() <= ty.min_slots() && hi != u64::MAX {
                // Rebalance: pull in the node to the right at this level.
                // SAFETY: as above.
                let npath = unsafe { self.walk_to(hi + 1, d) };
                let n = npath[d];
                // SAFETY: as above.
                cur.extend(unsafe { items_of(n.enode, n.min, n.max) });
                rebuilt.push(n.enode);
                rpath = npath;
                hi = n.max;
                bnode = n.enode;
                plan.rebalanced = true;
            }
            let mut push = Push::None;
            if d > 0 && cur.len() > ty.slots() {
                // `mas_push_data`: before splitting, try to share the content with the
                // sibling on the left, then on the right, so the parent does not grow. The
                // kernel compares the sum of the two data ends (counts - 1) with `space`.
                let space = |hi: u64| {
                    2 * ty.slots() - 2 - usize::from(ty.is_leaf()) - usize::from(hi == u64::MAX)
                };
                let pa = lpath[d - 1];
                if pa.off > 0 {
                    // SAFETY: as above.
                    let pitems = unsafe { items_of(pa.enode, pa.min, pa.max) };
                    let smin = if pa.off >= 2 {
                        pitems[pa.off - 2].last + 1
                    } else {
                        pa.min
                    };
                    let sib = pitems[pa.off - 1];
                    // SAFETY: as above.
                    let sitems = unsafe { items_of(sib.slot, smin, sib.last) };
                    if sitems.len() + cur.len() < space(hi) + 2 {
                        let mut c = sitems;
                        c.append(&mut cur);
                        cur = c;
                        lo = smin;
                        rebuilt.push(sib.slot);
                        lpath[d - 1].off -= 1;
                        lpath[d] = Step {
                            enode: sib.slot,
                            min: smin,
                            max: sib.last,
                            off: 0,
                        };
                        plan.pushed = true;
                        push = Push::Left;
                    }
                }
                let pb = rpath[d - 1];
                if !plan.pushed {
                    // SAFETY: as above.
                    let pitems = unsafe { items_of(pb.enode, pb.min, pb.max) };
                    if pb.off + 1 < pitems.len() {
                        let smin = pitems[pb.off].last + 1;
                        let sib = pitems[pb.off + 1];
                        // SAFETY: as above.
                        let sitems = unsafe { items_of(sib.slot, smin, sib.last) };
                        if sitems.len() + cur.len() < space(sib.last) + 2 {
                            cur.extend(sitems);
                            hi = sib.last;
                            bnode = sib.slot;
                            rebuilt.push(sib.slot);
                            rpath[d - 1].off += 1;
                            rpath[d] = Step {
                                enode: sib.slot,
                                min: smin,
                                max: sib.last,
                                off: 0,
                            };
                            plan.pushed = true;
                            push = Push::Right;
                        }
                    }
                }
            }
            if d == 0 {
                // The root level.
                let sizes = split_sizes(&cur, 0, ty, Push::None);
                if sizes.len() == 1 {
                    let mut top = if !ty.is_leaf() && cur.len() == 1 {
                        // One child left: it becomes the root.
                        plan.height -= 1;
                        cur[0].slot
                    } else {
                        plan.builds.push(Build {
                            ty,
                            min: 0,
                            max: u64::MAX,
                            items: cur,
                        });
                        new_ref(plan.builds.len() - 1)
                    };
                    // A root with a single child collapses further.
                    loop {
                        let single = if top & 3 == NEW_TAG {
                            let b = &plan.builds[top >> 2];
                            (!b.ty.is_leaf() && b.items.len() == 1).then(|| b.items[0].slot)
                        } else {
                            let ty = node_type(top);
                            // SAFETY: a live node under the lock.
                            let n = unsafe { wnode(top) };
                            (!ty.is_leaf() && n.data_end(ty, u64::MAX) == 0).then(|| {
                                rebuilt.push(top);
                                n.slot(ty, 0)
                            })
                        };
                        match single {
                            Some(child) => {
                                plan.height -= 1;
                                top = child;
                            }
                            None => break,
                        }
                    }
                    plan.publish = Publish::Root(top);
                } else {
                    let first_new = plan.builds.len();
                    let parent_items = self.push_builds(&mut plan, &cur, &sizes, ty, 0, u64::MAX);
                    let _ = first_new;
                    plan.builds.push(Build {
                        ty: internal,
                        min: 0,
                        max: u64::MAX,
                        items: parent_items,
                    });
                    plan.publish = Publish::Root(new_ref(plan.builds.len() - 1));
                    plan.height += 1;
                    if plan.kind == Kind::NodeStore {
                        plan.kind = Kind::Split;
                    }
                }
                break;
            }
            let sizes = split_sizes(&cur, lo, ty, push);
            if sizes.len() > 1 && plan.kind == Kind::NodeStore {
                plan.kind = Kind::Split;
            }
            let new_items = self.push_builds(&mut plan, &cur, &sizes, ty, lo, hi);
            if new_items.len() == 1 && a.enode == bnode {
                // One node replaced by one node with the same limits.
                plan.publish = Publish::Slot {
                    path: lpath[..d].to_vec(),
                    new: new_items[0].slot,
                };
                break;
            }
            // Move up: the parents' slots around the rebuilt run are kept.
            let (pa, pb) = (lpath[d - 1], rpath[d - 1]);
            // SAFETY: as above.
            let pa_items = unsafe { items_of(pa.enode, pa.min, pa.max) };
            let pb_items = if pb.enode == pa.enode {
                pa_items.clone()
            } else {
                // SAFETY: as above.
                unsafe { items_of(pb.enode, pb.min, pb.max) }
            };
            let mut next = pa_items[..pa.off].to_vec();
            next.extend_from_slice(&new_items);
            next.extend_from_slice(&pb_items[pb.off + 1..]);
            let pa_r: Vec<(u64, Item)> = starts(&pa_items, pa.min).map(|(s, i)| (s, *i)).collect();
            let pb_r: Vec<(u64, Item)> = starts(&pb_items, pb.min).map(|(s, i)| (s, *i)).collect();
            let between: Vec<(u64, Item)> = if pa.enode == pb.enode {
                pa_r[pa.off + 1..pb.off.max(pa.off + 1)].to_vec()
            } else {
                pa_r[pa.off + 1..]
                    .iter()
                    .chain(&pb_r[..pb.off])
                    .copied()
                    .collect()
            };
            plan.dropped.extend(
                between
                    .into_iter()
                    .filter(|(_, it)| !rebuilt.contains(&it.slot))
                    .map(|(s, it)| (it.slot, s, it.last)),
            );
            rebuilt.push(pa.enode);
            if pb.enode != pa.enode {
                rebuilt.push(pb.enode);
            }
            cur = next;
            ty = internal;
            d -= 1;
        }
        plan.rebuilt = rebuilt;
        plan
    }

    /// Adds one build per part of `cur` (split by `sizes`) and returns the items that point
    /// to them.
    fn push_builds(
        &self,
        plan: &mut Plan,
        cur: &[Item],
        sizes: &[usize],
        ty: NodeType,
        lo: u64,
        hi: u64,
    ) -> Vec<Item> {
        let mut out = Vec::with_capacity(sizes.len());
        let mut start = 0;
        let mut min = lo;
        for (j, &s) in sizes.iter().enumerate() {
            let items = cur[start..start + s].to_vec();
            let max = if j + 1 == sizes.len() {
                hi
            } else {
                items[s - 1].last
            };
            let b = Build {
                ty,
                min,
                max,
                items,
            };
            let gap = build_gap(&b);
            plan.builds.push(b);
            out.push(Item {
                last: max,
                slot: new_ref(plan.builds.len() - 1),
                gap,
            });
            start += s;
            min = max.wrapping_add(1);
        }
        out
    }

    /// Executes `plan` with the preallocated `nodes`.
    ///
    /// # Safety
    /// The caller holds the lock, `plan` was made under it with no change to the tree since,
    /// and `nodes` came from [`Core::prealloc`] for it.
    pub(crate) unsafe fn execute<T: Clone + Send + Sync + 'static>(
        &self,
        mut plan: Plan,
        nodes: Vec<Shared<Node>>,
        stats: &mut WriteStats,
        scratch: &mut Scratch,
    ) {
        let rcu = self.in_rcu();
        let alloc = self.is_alloc();
        let encoded: Vec<usize> = nodes
            .iter()
            .zip(&plan.builds)
            .map(|(n, b)| encode(*n, b.ty))
            .collect();
        let resolve = |v: usize| -> usize {
            match v & 3 {
                NEW_TAG if v != 0 => encoded[v >> 2],
                CLONE_TAG => {
                    // SAFETY: the entry is live (it is still in the tree).
                    unsafe { node::clone_entry::<T>(v & !3) }
                }
                _ => v,
            }
        };
        // Build bottom-up: children before parents.
        for (k, b) in plan.builds.iter().enumerate() {
            let items: Vec<Item> = b
                .items
                .iter()
                .map(|i| Item {
                    slot: resolve(i.slot),
                    ..*i
                })
                .collect();
            // SAFETY: the node is new and unpublished.
            let n = unsafe { wnode(encoded[k]) };
            write_node(n, b.ty, &items, b.max);
            if !b.ty.is_leaf() {
                for (i, it) in items.iter().enumerate() {
                    // SAFETY: children are live (old ones) or new.
                    unsafe { wnode(it.slot) }.set_parent(encoded[k], i);
                }
            }
        }
        // Publish. The walk is kept only where gaps are tracked.
        let mut gap_path: Option<Vec<Step>> = None;
        let mut keep = |path: Vec<Step>| {
            if alloc {
                Some(path)
            } else {
                scratch.give_steps(path);
                None
            }
        };
        let publish = std::mem::replace(&mut plan.publish, Publish::Root(0));
        match publish {
            Publish::Root(v) => {
                let v = resolve(v);
                if is_node(v) {
                    // SAFETY: live or new.
                    unsafe { wnode(v) }.set_root_parent();
                }
                self.height.store(plan.height, Ordering::Release);
                self.root.store(v, Ordering::Release);
            }
            Publish::Slot { path, new } => {
                let v = resolve(new);
                let p = *path.last().expect("a parent");
                let pty = node_type(p.enode);
                // SAFETY: live under the lock.
                let pn = unsafe { wnode(p.enode) };
                // SAFETY: new.
                unsafe { wnode(v) }.set_parent(p.enode, p.off);
                pn.set_slot(pty, p.off, v);
                gap_path = keep(path);
            }
            Publish::InPlace { path, mut items } => {
                let s = *path.last().expect("a leaf");
                for it in &mut items {
                    it.slot = resolve(it.slot);
                }
                // SAFETY: live under the lock; not in RCU mode, so no reader can see it.
                write_node(unsafe { wnode(s.enode) }, NodeType::Leaf64, &items, s.max);
                gap_path = keep(path);
                scratch.give_items(items);
            }
            Publish::ExactFit { path, entry } => {
                let s = *path.last().expect("a leaf");
                // SAFETY: live under the lock.
                unsafe { wnode(s.enode) }.set_slot(NodeType::Leaf64, s.off, entry);
                gap_path = keep(path);
            }
        }
        // Everything replaced dies.
        for &e in &plan.rebuilt {
            // SAFETY: replaced nodes are no longer reachable from the root.
            unsafe { wnode(e) }.mark_dead();
        }
        for &(d, min, max) in &plan.dropped {
            // SAFETY: unreachable now; subtrees hold no rebuilt node's contents.
            unsafe { drop_subtree::<T>(d, min, max, &plan.rebuilt, rcu) };
        }
        for &e in &plan.rebuilt {
            // SAFETY: dead and unreachable; freed once.
            unsafe { free_node(e, rcu) };
        }
        for &e in &plan.dead_entries {
            // SAFETY: overwritten, so unreachable; retired once.
            unsafe { retire_entry::<T>(e, rcu) };
        }
        if alloc {
            if let Some(path) = gap_path {
                // SAFETY: the path's nodes are live (only the published child changed).
                unsafe { update_gaps(&path) };
                scratch.give_steps(path);
            }
        }
        match plan.kind {
            Kind::ExactFit => stats.exact_fit += 1,
            Kind::SlotStore => stats.slot_store += 1,
            Kind::Append => stats.append += 1,
            Kind::NodeStore => stats.node_store += 1,
            Kind::Split => stats.split += 1,
            Kind::Spanning => stats.spanning_store += 1,
            Kind::Root => stats.root_store += 1,
        }
        if plan.rebalanced {
            stats.rebalance += 1;
        }
        if plan.pushed {
            stats.push += 1;
        }
    }
}

/// `mas_new_root` / `mas_root_expand`: the whole tree becomes `cur`, a list covering every
/// index: nothing if it is one NULL, else a single root leaf.
fn new_root(plan: &mut Plan, cur: Vec<Item>) {
    if cur.len() == 1 && cur[0].slot == 0 {
        plan.publish = Publish::Root(0);
        plan.height = 0;
        return;
    }
    plan.builds.push(Build {
        ty: NodeType::Leaf64,
        min: 0,
        max: u64::MAX,
        items: cur,
    });
    plan.publish = Publish::Root(new_ref(plan.builds.len() - 1));
    plan.height = 1;
}

/// Writes `items` into `n` (all pivots, slots, metadata and gaps).
fn write_node(n: &Node, ty: NodeType, items: &[Item], max: u64) {
    let end = items.len() - 1;
    debug_assert!(end < ty.slots());
    for i in 0..ty.pivots() {
        let p = match items.get(i) {
            Some(it) if i < end => it.last,
            _ if i == end => max,
            _ => 0,
        };
        n.set_pivot(ty, i, p);
    }
    for (i, it) in items.iter().enumerate() {
        n.set_slot(ty, i, it.slot);
    }
    let mut gap_off = 0;
    if ty == NodeType::Arange64 {
        for (i, it) in items.iter().enumerate() {
            n.set_gap(i, it.gap);
            if it.gap > items[gap_off].gap {
                gap_off = i;
            }
        }
        for i in items.len()..ty.slots() {
            n.set_gap(i, 0);
        }
    }
    // Unused slots are cleared; range nodes keep the metadata in the last slot, which is
    // free while the node is not full, arange nodes in a word of their own.
    let meta_in_slot = ty != NodeType::Arange64;
    for i in items.len()..ty.slots() - usize::from(meta_in_slot) {
        n.set_slot(ty, i, 0);
    }
    if end < ty.pivots() || !meta_in_slot {
        n.set_meta(ty, end, gap_off);
    }
}

/// Marks dead and frees every node (and, in leaves, every entry) below `enode`, skipping
/// nodes in `keep` (their contents moved to new nodes; they are freed separately).
///
/// # Safety
/// The subtree is unreachable from the root and the caller holds the lock.
unsafe fn drop_subtree<T: Send + 'static>(
    enode: usize,
    min: u64,
    max: u64,
    keep: &[usize],
    rcu: bool,
) {
    if keep.contains(&enode) {
        return;
    }
    let ty = node_type(enode);
    // SAFETY: unreachable but not yet freed.
    let items = unsafe { items_of(enode, min, max) };
    for (s, it) in starts(&items, min) {
        if ty.is_leaf() {
            if it.slot != 0 {
                // SAFETY: the entry was only reachable through this dead leaf.
                unsafe { retire_entry::<T>(it.slot, rcu) };
            }
        } else {
            // SAFETY: as for this node.
            unsafe { drop_subtree::<T>(it.slot, s, it.last, keep, rcu) };
        }
    }
    // SAFETY: as above.
    unsafe { wnode(enode) }.mark_dead();
    // SAFETY: unreachable, freed once.
    unsafe { free_node(enode, rcu) };
}

/// After the child at the end of `path` changed: recomputes the gaps up to the root
/// (`mas_update_gap`), in place.
///
/// # Safety
/// The path's nodes are live and the caller holds the lock.
unsafe fn update_gaps(path: &[Step]) {
    // The gap of the deepest node on the path (the changed one, or the parent of a
    // published child).
    let last = *path.last().expect("non-empty");
    let ty = node_type(last.enode);
    // SAFETY: the caller's guarantee.
    let mut gap = unsafe { max_gap_of(last.enode, last.min, last.max) };
    if ty == NodeType::Arange64 {
        // A child of `last` was replaced: refresh that child's gap first.
        // SAFETY: as above.
        let n = unsafe { wnode(last.enode) };
        let child = n.slot(ty, last.off);
        // SAFETY: as above.
        let (lo, hi) = unsafe { Core::slot_limits(&last) };
        // SAFETY: as above.
        let cg = unsafe { max_gap_of(child, lo, hi) };
        gap = set_child_gap(n, last.off, cg, last.max);
    }
    for s in path.iter().rev().skip(1) {
        // SAFETY: as above.
        let n = unsafe { wnode(s.enode) };
        if n.gap(s.off) == gap {
            return;
        }
        gap = set_child_gap(n, s.off, gap, s.max);
    }
}

/// Sets gap `off` of an arange node, refreshes its largest-gap metadata, and returns its
/// new largest gap.
fn set_child_gap(n: &Node, off: usize, gap: u64, max: u64) -> u64 {
    let ty = NodeType::Arange64;
    n.set_gap(off, gap);
    let end = n.data_end(ty, max);
    let mut best = 0;
    for i in 0..=end {
        if n.gap(i) > n.gap(best) {
            best = i;
        }
    }
    n.set_meta(ty, end, best);
    n.gap(best)
}

/// The content of `[l.min, r.max]` after storing `entry` over `[first, last]`: the items of
/// the leftmost leaf before `first`, the new item, the items of the rightmost leaf after
/// `last`; adjacent NULLs merged. Overwritten entries go to `dead`. Returns the items and
/// the range actually written. `same` says the two leaves are one.
#[allow(clippy::too_many_arguments)]
fn overlay(
    litems: &[Item],
    lmin: u64,
    ritems: &[Item],
    rmin: u64,
    same: bool,
    first: u64,
    last: u64,
    entry: usize,
    dead: &mut Vec<usize>,
    mut out: Vec<Item>,
) -> (Vec<Item>, u64, u64) {
    out.clear();
    out.reserve(litems.len() + 2);
    let mut split_left: Option<usize> = None;
    for (i, (start, it)) in starts(litems, lmin).enumerate() {
        if it.last < first {
            out.push(*it);
            continue;
        }
        if start < first {
            out.push(Item {
                last: first - 1,
                ..*it
            });
            split_left = Some(i);
        }
        break;
    }
    let mut overwritten = |items: &[Item], min: u64| {
        for (start, it) in starts(items, min) {
            if start >= first && it.last <= last && it.slot != 0 {
                dead.push(it.slot);
            }
        }
    };
    overwritten(litems, lmin);
    if !same {
        overwritten(ritems, rmin);
    }
    let pos = out.len();
    out.push(Item {
        last,
        slot: entry,
        gap: 0,
    });
    for (i, (_, it)) in starts(ritems, rmin).enumerate() {
        if it.last <= last {
            continue;
        }
        let mut it = *it;
        if same && split_left == Some(i) && it.slot != 0 {
            // The store split this range in two: the right part gets its own entry.
            it.slot |= CLONE_TAG;
        }
        out.push(it);
    }
    let (mut f, mut l) = (first, last);
    if entry == 0 {
        // Grow the NULL over its NULL neighbours (`mas_wr_extend_null`).
        if pos + 1 < out.len() && out[pos + 1].slot == 0 {
            l = out[pos + 1].last;
            out[pos].last = l;
            out.remove(pos + 1);
        }
        if pos > 0 && out[pos - 1].slot == 0 {
            f = if pos > 1 { out[pos - 2].last + 1 } else { lmin };
            out[pos - 1].last = l;
            out.remove(pos);
        }
    }
    (out, f, l)
}

/// Each item with the first index it covers.
pub(crate) fn starts(items: &[Item], min: u64) -> impl Iterator<Item = (u64, &Item)> {
    let mut lo = min;
    items.iter().map(move |it| {
        let s = lo;
        lo = it.last.wrapping_add(1);
        (s, it)
    })
}

/// `mas_preallocate`: takes the plan's nodes from `reserve` (what an earlier `mas_nomem`
/// allocated) and allocates the rest without sleeping, which the fault injector can fail.
/// On failure the nodes gathered so far are handed back for the blocking allocation.
pub(crate) fn prealloc(
    plan: &Plan,
    mut reserve: Vec<Shared<Node>>,
) -> Result<Vec<Shared<Node>>, Vec<Shared<Node>>> {
    let need = plan.builds.len();
    while reserve.len() > need {
        let n = reserve.pop().expect("non-empty");
        // SAFETY: never published.
        unsafe { free_unused(n) };
    }
    while reserve.len() < need {
        if crate::sync::fault::should_fail("maple_node_alloc") {
            return Err(reserve);
        }
        reserve.push(alloc_node());
    }
    Ok(reserve)
}

/// `mas_alloc_nodes` with a blocking allocation (the lock is not held): tops `have` up to
/// `need` nodes. `None` (everything freed) if even this allocation fails.
pub(crate) fn alloc_blocking(
    need: usize,
    mut have: Vec<Shared<Node>>,
) -> Option<Vec<Shared<Node>>> {
    while have.len() < need {
        if crate::sync::fault::should_fail("maple_node_alloc") {
            for n in have {
                // SAFETY: never published.
                unsafe { free_unused(n) };
            }
            return None;
        }
        have.push(alloc_node());
    }
    Some(have)
}

/// Frees a whole tree that was just unpublished (`mte_destroy_walk`).
///
/// # Safety
/// Unreachable from the tree; the caller holds the lock or has exclusive access.
pub(crate) unsafe fn drop_tree<T: Send + 'static>(root: usize, rcu: bool) {
    // SAFETY: the caller's guarantee.
    unsafe { drop_subtree::<T>(root, 0, u64::MAX, &[], rcu) }
}
