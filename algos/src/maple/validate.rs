//! `mt_validate`: every structural invariant the kernel's debug checks verify.

use super::node::{is_node, node_type, wnode, NodeType, MAPLE_HEIGHT_MAX};
use super::write::{items_of, starts};
use super::Core;
use crate::sync::atomic::Ordering;

/// What `validate` found wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateError(pub String);

impl std::fmt::Display for ValidateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "maple tree invalid: {}", self.0)
    }
}

impl std::error::Error for ValidateError {}

macro_rules! bail {
    ($($t:tt)*) => { return Err(ValidateError(format!($($t)*))) };
}

struct Walk {
    alloc: bool,
    height: u32,
    /// The last slot of the previous leaf, in index order (NULL runs across leaves).
    prev_leaf_last_null: Option<bool>,
    leaves: usize,
}

/// Checks the whole tree.
///
/// # Safety
/// The caller holds the tree's lock.
pub(crate) unsafe fn validate(core: &Core) -> Result<(), ValidateError> {
    let root = core.root.load(Ordering::Acquire);
    let height = core.height.load(Ordering::Acquire);
    if height > MAPLE_HEIGHT_MAX {
        bail!("height {height} exceeds MAPLE_HEIGHT_MAX");
    }
    if !is_node(root) {
        if height != 0 {
            bail!("root is not a node but height is {height}");
        }
        if root & 3 != 0 {
            bail!("root entry {root:#x} has tag bits set");
        }
        return Ok(());
    }
    // SAFETY: under the lock.
    let r = unsafe { wnode(root) };
    if !r.is_root() {
        bail!(
            "root node's parent word {:#x} does not mark it as root",
            r.parent_word()
        );
    }
    let mut w = Walk {
        alloc: core.is_alloc(),
        height,
        prev_leaf_last_null: None,
        leaves: 0,
    };
    // SAFETY: under the lock.
    unsafe { check(&mut w, root, 0, u64::MAX, 1, None) }?;
    Ok(())
}

/// Checks `enode` (limits `[min, max]`, at `depth`, with `expect_gap` recorded for it in
/// its parent) and everything below.
unsafe fn check(
    w: &mut Walk,
    enode: usize,
    min: u64,
    max: u64,
    depth: u32,
    expect_gap: Option<u64>,
) -> Result<(), ValidateError> {
    let ty = node_type(enode);
    // SAFETY: the caller holds the lock; reachable nodes are live.
    let n = unsafe { wnode(enode) };
    if n.is_dead() {
        bail!("node {enode:#x} [{min:#x}, {max:#x}] reachable but dead");
    }
    let alloc_ty = if w.alloc {
        NodeType::Arange64
    } else {
        NodeType::Range64
    };
    if !ty.is_leaf() && ty != alloc_ty {
        bail!("internal node {enode:#x} has type {ty:?}, the tree needs {alloc_ty:?}");
    }
    if ty.is_leaf() != (depth == w.height) {
        bail!(
            "node {enode:#x} [{min:#x}, {max:#x}] of type {ty:?} at depth {depth}, height {}",
            w.height
        );
    }
    let end = n.data_end(ty, max);
    if end >= ty.slots() {
        bail!("node {enode:#x} data end {end} beyond {} slots", ty.slots());
    }
    let is_root = depth == 1;
    if !is_root && max != u64::MAX && end < ty.min_slots() {
        bail!(
            "node {enode:#x} [{min:#x}, {max:#x}] has end {end}, below the minimum {}",
            ty.min_slots()
        );
    }
    // Pivots: strictly increasing, inside the limits, the used end at max, unused zero.
    let mut prev = None::<u64>;
    for i in 0..ty.pivots() {
        let p = n.pivot(ty, i);
        if i < end {
            if p < min || p >= max {
                bail!("node {enode:#x} pivot {i} = {p:#x} outside [{min:#x}, {max:#x})");
            }
            if let Some(q) = prev {
                if p <= q {
                    bail!(
                        "node {enode:#x} pivot {i} = {p:#x} not above pivot {} = {q:#x}",
                        i - 1
                    );
                }
            }
            prev = Some(p);
        } else if i == end {
            if p != max {
                bail!("node {enode:#x} last pivot {i} = {p:#x}, node max {max:#x}");
            }
        } else if p != 0 {
            bail!("node {enode:#x} unused pivot {i} = {p:#x} not zero");
        }
    }
    // SAFETY: as above.
    let items = unsafe { items_of(enode, min, max) };
    if ty.is_leaf() {
        w.leaves += 1;
        let mut last_null = w.prev_leaf_last_null;
        for (i, (s, it)) in starts(&items, min).enumerate() {
            if it.slot & 3 != 0 {
                bail!(
                    "leaf {enode:#x} slot {i} holds {:#x}, not an entry",
                    it.slot
                );
            }
            let null = it.slot == 0;
            if null && last_null == Some(true) {
                bail!("consecutive NULLs ending at leaf {enode:#x} slot {i} (index {s:#x})");
            }
            last_null = Some(null);
        }
        if items.last().is_some_and(|it| it.slot == 0) && max != u64::MAX {
            bail!("leaf {enode:#x} [{min:#x}, {max:#x}] ends in NULL but is not the rightmost");
        }
        w.prev_leaf_last_null = last_null;
        if let Some(g) = expect_gap {
            // Computed here, independently of the writer's own gap code.
            let mut real = 0u64;
            for (s, it) in starts(&items, min) {
                if it.slot == 0 {
                    real = real.max(it.last.wrapping_sub(s).wrapping_add(1));
                }
            }
            if g != real {
                bail!(
                    "parent records gap {g:#x} for leaf {enode:#x}, its largest gap is {real:#x}"
                );
            }
        }
        return Ok(());
    }
    if ty == NodeType::Arange64 {
        let mut best = 0;
        for i in 0..=end {
            if n.gap(i) > n.gap(best) {
                best = i;
            }
        }
        if n.gap(n.meta_gap()) != n.gap(best) || n.meta_gap() > end {
            bail!(
                "node {enode:#x} metadata names gap {} ({:#x}); the largest is gap {best} ({:#x})",
                n.meta_gap(),
                n.gap(n.meta_gap().min(end)),
                n.gap(best)
            );
        }
        if let Some(g) = expect_gap {
            if g != n.gap(best) {
                bail!(
                    "parent records gap {g:#x} for node {enode:#x}, its largest is {:#x}",
                    n.gap(best)
                );
            }
        }
    }
    for (i, (s, it)) in starts(&items, min).enumerate() {
        if it.slot == 0 || !is_node(it.slot) {
            bail!(
                "internal node {enode:#x} slot {i} holds {:#x}, not a node",
                it.slot
            );
        }
        // SAFETY: as above.
        let c = unsafe { wnode(it.slot) };
        match c.parent() {
            Some((p, off)) if p & !0xff == enode & !0xff && off == i && node_type(p) == ty => {}
            other => bail!(
                "child {:#x} in slot {i} of {enode:#x} has parent {:?} (word {:#x})",
                it.slot,
                other,
                c.parent_word()
            ),
        }
        let g = (ty == NodeType::Arange64).then_some(it.gap);
        // SAFETY: as above.
        unsafe { check(w, it.slot, s, it.last, depth + 1, g) }?;
    }
    Ok(())
}

/// The number of slots used by each node, level by level from the root (a compact
/// `mt_dump`).
///
/// # Safety
/// The caller holds the tree's lock.
pub(crate) unsafe fn shape(core: &Core) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let root = core.root.load(Ordering::Acquire);
    if !is_node(root) {
        return out;
    }
    let mut level = vec![(root, 0u64, u64::MAX)];
    while !level.is_empty() {
        let mut next = Vec::new();
        let mut counts = Vec::new();
        for (e, min, max) in level {
            // SAFETY: the caller's guarantee.
            let items = unsafe { items_of(e, min, max) };
            counts.push(items.len());
            if !node_type(e).is_leaf() {
                next.extend(starts(&items, min).map(|(s, it)| (it.slot, s, it.last)));
            }
        }
        out.push(counts);
        level = next;
    }
    out
}

/// Most lines [`dump`] writes (a report should stay readable).
const DUMP_LINES: usize = 400;

/// `mt_dump`: every node, depth first, with its range and its entries (`[first, last]
/// slot`), gaps for allocation-tree nodes; the lone root entry if there is no node.
///
/// # Safety
/// The caller holds the tree's lock.
pub(crate) unsafe fn dump(core: &Core) -> String {
    use std::fmt::Write as _;
    let root = core.root.load(Ordering::Acquire);
    let height = core.height.load(Ordering::Acquire);
    let mut out = format!(
        "maple tree: height {height}, {}{}\n",
        if core.is_alloc() { "alloc" } else { "range" },
        if core.in_rcu() { ", rcu" } else { "" }
    );
    if !is_node(root) {
        let _ = writeln!(out, "root entry {root:#x}");
        return out;
    }
    let mut lines = 1;
    let mut stack = vec![(root, 0u64, u64::MAX, 0usize)];
    while let Some((e, min, max, depth)) = stack.pop() {
        if lines >= DUMP_LINES {
            let _ = writeln!(out, "... ({} more nodes not shown)", stack.len() + 1);
            break;
        }
        let ty = node_type(e);
        // SAFETY: the caller's guarantee.
        let items = unsafe { items_of(e, min, max) };
        let pad = "  ".repeat(depth);
        let _ = writeln!(
            out,
            "{pad}{ty:?} {:#x} [{min}, {max}] {} slots",
            e & !0xff,
            items.len()
        );
        lines += 1;
        let mut children = Vec::new();
        for (start, it) in starts(&items, min) {
            let gap = if ty == NodeType::Arange64 {
                format!(" gap {}", it.gap)
            } else {
                String::new()
            };
            let _ = writeln!(out, "{pad}  [{start}, {}] {:#x}{gap}", it.last, it.slot);
            lines += 1;
            if !ty.is_leaf() {
                children.push((it.slot, start, it.last, depth + 1));
            }
        }
        stack.extend(children.into_iter().rev());
    }
    out
}
