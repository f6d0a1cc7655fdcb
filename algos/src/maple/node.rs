//! Maple nodes: the kernel's 256-byte layouts, encoded node pointers and node metadata.
//!
//! A node is one parent word and 31 data words. How the data words are used depends on the
//! node's type, which (as in the kernel) is not stored in the node but in the low bits of
//! every pointer to it (an *encoded node*, `maple_enode`):
//!
//! | type | words 0.. | then | then | then |
//! |---|---|---|---|---|
//! | `Leaf64`, `Range64` (`maple_range_64`) | 15 pivots | 16 slots (the last slot doubles as metadata while the node is not full) | | |
//! | `Arange64` (`maple_arange_64`) | 9 pivots | 10 slots | 10 gaps | metadata, 1 pad |
//!
//! Pivot `i` is the inclusive upper bound of slot `i`; slot 0 starts at the node's minimum
//! and the last used slot ends at its maximum, both implied by the parent. Unused pivots are
//! zero. Metadata holds the offset of the last used slot (`end`) and, in allocation-tree
//! internal nodes, the offset of the largest gap.
//!
//! Every word is an atomic so that RCU readers racing with the writer never read torn
//! values; in RCU mode a published node is only changed in its gaps (which readers never
//! read), its parent word, and by single-slot pointer replacement.

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::rcu::{Cache, CacheStats, Guard, Owned, Ref, Shared};

/// Slots of a `maple_range_64` / `maple_leaf_64` node.
pub const RANGE64_SLOTS: usize = 16;
/// Slots of a `maple_arange_64` node.
pub const ARANGE64_SLOTS: usize = 10;
/// The deepest tree the kernel supports (`MAPLE_HEIGHT_MAX`).
pub const MAPLE_HEIGHT_MAX: u32 = 31;

/// Data words per node.
const WORDS: usize = 31;

/// Low-bit tag of an encoded node pointer (`xa_is_node`: `(v & 3) == 2`).
pub(crate) const NODE_TAG: usize = 0b10;
/// Shift of the node type inside an encoded node (`MAPLE_NODE_TYPE_SHIFT`).
const TYPE_SHIFT: usize = 3;
/// Mask of the pointer part of an encoded node (nodes are 256-byte aligned).
const NODE_MASK: usize = !0xff;
/// Parent word of the root node (`MAPLE_ROOT_NODE`).
const ROOT_PARENT: u64 = 1;
/// Shift of the slot offset inside a parent word.
const PARENT_SLOT_SHIFT: u64 = 3;

/// The kernel's node types that the tree uses (`maple_dense` is not used by the kernel's
/// trees either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NodeType {
    /// `maple_leaf_64`: a leaf; slots hold entries.
    Leaf64 = 1,
    /// `maple_range_64`: an internal node of a plain tree.
    Range64 = 2,
    /// `maple_arange_64`: an internal node of an allocation tree, with gaps.
    Arange64 = 3,
}

impl NodeType {
    #[inline(always)]
    fn from_bits(b: usize) -> NodeType {
        match b {
            1 => NodeType::Leaf64,
            2 => NodeType::Range64,
            3 => NodeType::Arange64,
            _ => bad_type(b),
        }
    }

    /// Number of slots (`mt_slots`).
    pub const fn slots(self) -> usize {
        match self {
            NodeType::Leaf64 | NodeType::Range64 => RANGE64_SLOTS,
            NodeType::Arange64 => ARANGE64_SLOTS,
        }
    }

    /// Number of pivots (`mt_pivots`).
    pub const fn pivots(self) -> usize {
        self.slots() - 1
    }

    /// The smallest `end` (offset of the last used slot) a node that is neither the root
    /// nor the rightmost of its level may have (`mt_min_slots`).
    pub const fn min_slots(self) -> usize {
        match self {
            NodeType::Leaf64 | NodeType::Range64 => RANGE64_SLOTS / 2 - 2,
            NodeType::Arange64 => ARANGE64_SLOTS / 2 - 1,
        }
    }

    /// Whether nodes of this type are leaves.
    pub const fn is_leaf(self) -> bool {
        matches!(self, NodeType::Leaf64)
    }

    const fn slot_base(self) -> usize {
        self.pivots()
    }

    const fn gap_base(self) -> usize {
        ARANGE64_SLOTS - 1 + ARANGE64_SLOTS
    }

    const fn meta_word(self) -> usize {
        match self {
            NodeType::Leaf64 | NodeType::Range64 => WORDS - 1,
            NodeType::Arange64 => ARANGE64_SLOTS - 1 + 2 * ARANGE64_SLOTS,
        }
    }
}

/// A maple node. 256 bytes and 256-byte aligned in production builds, so the low 8 bits
/// of every pointer to it are free for the type tag.
#[repr(C, align(256))]
pub struct Node {
    /// The parent's address with this node's slot offset in it, `ROOT_PARENT` for the root,
    /// or this node's own address once it is dead.
    parent: AtomicU64,
    w: [AtomicU64; WORDS],
}

#[cfg(not(mmcheck_model))]
const _: () = assert!(std::mem::size_of::<Node>() == 256);

impl Node {
    fn new() -> Node {
        Node {
            parent: AtomicU64::new(0),
            w: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    #[inline(always)]
    #[track_caller]
    fn get(&self, i: usize) -> u64 {
        san::read(&self.w[i]);
        self.w[i].load(Ordering::Relaxed)
    }

    #[inline(always)]
    fn put(&self, i: usize, v: u64) {
        san::write(&self.w[i]);
        self.w[i].store(v, Ordering::Relaxed)
    }

    /// Pivot `i` (`i < ty.pivots()`).
    #[inline(always)]
    #[track_caller]
    pub fn pivot(&self, ty: NodeType, i: usize) -> u64 {
        debug_assert!(i < ty.pivots());
        self.get(i)
    }

    /// Sets pivot `i`.
    #[inline(always)]
    pub fn set_pivot(&self, ty: NodeType, i: usize, v: u64) {
        debug_assert!(i < ty.pivots());
        self.put(i, v)
    }

    /// The pivot of slot `i`, or `max` for the last slot of a full node
    /// (`mas_safe_pivot`).
    #[inline(always)]
    pub fn safe_pivot(&self, ty: NodeType, i: usize, max: u64) -> u64 {
        if i >= ty.pivots() {
            max
        } else {
            self.get(i)
        }
    }

    /// Slot `i`, loaded with `Acquire` (`rcu_dereference`): an encoded child in internal
    /// nodes, an entry pointer (or 0 for NULL) in leaves.
    #[inline(always)]
    #[track_caller]
    pub fn slot(&self, ty: NodeType, i: usize) -> usize {
        debug_assert!(i < ty.slots());
        let w = &self.w[ty.slot_base() + i];
        san::read(w);
        w.load(Ordering::Acquire) as usize
    }

    /// Publishes slot `i` with `Release` (`rcu_assign_pointer`).
    #[inline(always)]
    pub fn set_slot(&self, ty: NodeType, i: usize, v: usize) {
        debug_assert!(i < ty.slots());
        let w = &self.w[ty.slot_base() + i];
        san::write(w);
        w.store(v as u64, Ordering::Release)
    }

    /// Gap `i` of an `Arange64` node.
    #[inline(always)]
    pub fn gap(&self, i: usize) -> u64 {
        self.get(NodeType::Arange64.gap_base() + i)
    }

    /// Sets gap `i` of an `Arange64` node.
    #[inline(always)]
    pub fn set_gap(&self, i: usize, v: u64) {
        self.put(NodeType::Arange64.gap_base() + i, v)
    }

    /// The metadata's `end`.
    #[inline(always)]
    fn meta_end(&self, ty: NodeType) -> usize {
        (self.get(ty.meta_word()) & 0xff) as usize
    }

    /// The metadata's largest-gap offset (`Arange64`).
    #[inline(always)]
    pub fn meta_gap(&self) -> usize {
        ((self.get(NodeType::Arange64.meta_word()) >> 8) & 0xff) as usize
    }

    /// Writes the metadata (`ma_set_meta`). For range nodes this overlays the last slot, so
    /// it is only written while the node is not full.
    #[inline(always)]
    pub fn set_meta(&self, ty: NodeType, end: usize, gap: usize) {
        self.put(ty.meta_word(), (end as u64) | ((gap as u64) << 8))
    }

    /// The offset of the last used slot (`ma_data_end`): a range node whose last pivot is
    /// unused keeps it in its metadata; one whose last pivot equals its maximum ends there;
    /// otherwise it is full.
    #[inline(always)]
    pub fn data_end(&self, ty: NodeType, max: u64) -> usize {
        if ty == NodeType::Arange64 {
            return self.meta_end(ty);
        }
        let last = ty.pivots() - 1;
        let p = self.get(last);
        if p == 0 {
            self.meta_end(ty)
        } else if p == max {
            last
        } else {
            ty.pivots()
        }
    }

    /// True once the node has been replaced (`ma_dead_node`): its parent word points to
    /// itself.
    #[inline(always)]
    pub fn is_dead(&self) -> bool {
        self.parent.load(Ordering::Acquire) == std::ptr::from_ref(self) as u64
    }

    /// Marks the node dead (`mas_put_in_tree`/`ma_free_rcu`'s marking). `Release`, so a
    /// reader that sees the mark also sees everything published before it.
    pub fn mark_dead(&self) {
        self.parent
            .store(std::ptr::from_ref(self) as u64, Ordering::Release);
    }

    /// The raw parent word.
    pub fn parent_word(&self) -> u64 {
        self.parent.load(Ordering::Acquire)
    }

    /// Records the parent: `parent` is an encoded node, `slot` this node's offset in it.
    pub fn set_parent(&self, parent: usize, slot: usize) {
        let w = (parent & NODE_MASK) as u64
            | ((slot as u64) << PARENT_SLOT_SHIFT)
            | (((parent >> TYPE_SHIFT) & 3) as u64) << 1;
        self.parent.store(w, Ordering::Release)
    }

    /// Marks this node as the root.
    pub fn set_root_parent(&self) {
        self.parent.store(ROOT_PARENT, Ordering::Release)
    }

    /// True if the parent word says this node is the root.
    pub fn is_root(&self) -> bool {
        self.parent_word() == ROOT_PARENT
    }

    /// The parent (encoded) and this node's slot offset in it, if not root or dead.
    pub fn parent(&self) -> Option<(usize, usize)> {
        let w = self.parent_word();
        if w == ROOT_PARENT || w == std::ptr::from_ref(self) as u64 {
            return None;
        }
        let ty = ((w >> 1) & 3) as usize;
        let slot = ((w >> PARENT_SLOT_SHIFT) & 0xf) as usize;
        let ptr = (w as usize) & NODE_MASK;
        Some((ptr | (ty << TYPE_SHIFT) | NODE_TAG, slot))
    }
}

/// True if `v` (a slot or root value) is an encoded node.
#[inline(always)]
pub fn is_node(v: usize) -> bool {
    v & 3 == NODE_TAG
}

/// A pointer that claims to be a node but carries no node type: a corrupted tree.
#[cold]
#[inline(never)]
fn bad_type(b: usize) -> ! {
    panic!("bad maple node type {b}")
}

/// The type of the encoded node `enode`.
#[inline(always)]
pub fn node_type(enode: usize) -> NodeType {
    NodeType::from_bits((enode >> TYPE_SHIFT) & 0xf)
}

/// Encodes `node` with type `ty`.
#[inline(always)]
pub fn encode(node: Shared<Node>, ty: NodeType) -> usize {
    let raw = node.to_raw();
    debug_assert_eq!(raw & !NODE_MASK, 0, "maple nodes are 256-byte aligned");
    raw | ((ty as usize) << TYPE_SHIFT) | NODE_TAG
}

/// The node pointer inside an encoded node.
#[inline(always)]
pub fn shared(enode: usize) -> Shared<Node> {
    // SAFETY: `enode` is an encoded node built by `encode` from a `Shared<Node>`.
    unsafe { Shared::from_raw(enode & NODE_MASK) }
}

/// The node behind `enode`, for the writer (who holds the tree's lock, so the node is not
/// freed under it; the model backends check that it is live).
///
/// # Safety
/// `enode` must be a node of the tree that the caller's lock keeps alive.
#[inline(always)]
#[track_caller]
pub unsafe fn wnode<'a>(enode: usize) -> &'a Node {
    // SAFETY: the caller's guarantee.
    unsafe { shared(enode).as_ref().expect("non-null node") }
}

/// The node behind `enode`, for a reader inside `guard`'s read section.
///
/// # Safety
/// `enode` must have been loaded from the tree during `guard`'s read section.
#[inline(always)]
pub unsafe fn rnode(enode: usize, guard: &Guard) -> Ref<'_, Node> {
    // SAFETY: the caller's guarantee.
    unsafe { shared(enode).deref(guard).expect("non-null node") }
}

/// How a reader reaches nodes and entries: inside an RCU read section (the [`Guard`]), or
/// holding the tree's lock ([`Locked`]), where no read section is needed because nothing
/// is freed under the lock holder.
pub trait Access {
    /// A borrowed node.
    type N<'a>: std::ops::Deref<Target = Node>
    where
        Self: 'a;

    /// The node behind `enode`.
    ///
    /// # Safety
    /// `enode` was loaded from the tree under this access (the read section, or the lock).
    unsafe fn node(&self, enode: usize) -> Self::N<'_>;

    /// A clone of the value behind the non-zero leaf slot `raw`.
    ///
    /// # Safety
    /// As for [`Access::node`].
    unsafe fn entry<T: Clone + Send + 'static>(&self, raw: usize) -> T;
}

impl Access for Guard {
    type N<'a> = Ref<'a, Node>;

    #[inline(always)]
    unsafe fn node(&self, enode: usize) -> Ref<'_, Node> {
        // SAFETY: the caller's guarantee.
        unsafe { rnode(enode, self) }
    }

    #[inline(always)]
    unsafe fn entry<T: Clone + Send + 'static>(&self, raw: usize) -> T {
        // SAFETY: the caller's guarantee.
        unsafe { rentry(raw, self) }
    }
}

/// Access by the holder of the tree's lock.
#[derive(Debug, Clone, Copy)]
pub struct Locked;

impl Access for Locked {
    type N<'a> = &'a Node;

    #[inline(always)]
    unsafe fn node(&self, enode: usize) -> &Node {
        // SAFETY: the caller's guarantee.
        unsafe { wnode(enode) }
    }

    #[inline(always)]
    unsafe fn entry<T: Clone + Send + 'static>(&self, raw: usize) -> T {
        // SAFETY: the caller's guarantee.
        unsafe { wentry(raw) }
    }
}

/// Starts fetching all four cache lines of the node behind `enode`, so that the pivot
/// scan and the slot read of the next level wait for one memory access, not several in a
/// row. Only a hint: it does not read the node (prefetches never fault), and it is left
/// out under Miri and the model backends.
#[inline(always)]
pub fn prefetch(enode: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri), not(mmcheck_model)))]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = (enode & NODE_MASK) as *const i8;
        for line in 0..4 {
            // SAFETY: a prefetch of any address is defined (it never faults), and SSE is
            // part of the x86_64 baseline.
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64 * line))
            };
        }
    }
    let _ = enode;
}

/// The node cache (`maple_node_cache`): every node of every tree comes from it.
/// Its slots carry side words, where the `sanitize` feature keeps each node's shadow.
static NODES: Cache<Node> = Cache::with_side_words("maple_node");

/// The node cache's counters.
pub fn cache_stats() -> CacheStats {
    NODES.stats()
}

/// Allocates a zeroed node (the caller has already asked the fault injector).
pub fn alloc_node() -> Shared<Node> {
    let n = NODES.alloc(Node::new());
    // SAFETY: just allocated, not yet visible to anyone.
    san::alloc(unsafe { n.as_ref() }.expect("non-null"));
    n
}

impl Drop for Node {
    fn drop(&mut self) {
        san::dealloc(self);
    }
}

/// The node's shadow under the `sanitize` feature: a new node's data words are poisoned
/// (the kernel's node cache does not zero them), each write initializes its word, and each
/// read checks it, so code that reads a pivot, slot, gap or metadata word it never wrote
/// gets a `KMSAN: uninit-value` report. Freed nodes are reported by the RCU layer (the model
/// RCU poisons quarantined objects as freed). Without the feature all of this is empty.
///
/// On the std backend the shadow is a [`shadow::words`] side word of the node's slab slot
/// (one poison bit per data word, found by address arithmetic), checked by the runtime's
/// uninstrumented entry points; node words are atomics, written and read whole, so a bit
/// per word is exact. On the model backends, whose nodes are not in slab chunks, node
/// memory is a region of the [`shadow::registry`].
mod san {
    use super::Node;
    use crate::sync::atomic::AtomicU64;

    #[cfg(feature = "sanitize")]
    fn words(n: &Node) -> (usize, usize) {
        (
            std::ptr::from_ref(&n.w) as usize,
            std::mem::size_of_val(&n.w),
        )
    }

    /// The side word of the node holding `addr`, and the index of the data word at `addr`.
    #[cfg(all(feature = "sanitize", not(mmcheck_model)))]
    #[inline(always)]
    fn side(addr: usize) -> (&'static crate::sync::slab::SideWord, usize) {
        // SAFETY: `addr` is in a node, and every node comes from `NODES`, which has side
        // words.
        let side = unsafe { super::NODES.side_word(addr) };
        let side = side.expect("the std backend's caches are slabs");
        // Nodes are slot-sized and slot-aligned; data words follow the parent word.
        let node = addr & super::NODE_MASK;
        (side, (addr - node) / 8 - 1)
    }

    #[inline(always)]
    pub(super) fn alloc(n: &Node) {
        #[cfg(all(feature = "sanitize", not(mmcheck_model)))]
        {
            let (a, len) = words(n);
            let origin =
                shadow::Origin::depot(shadow::Created::Alloc, std::panic::Location::caller());
            shadow::words::poison(side(a).0, len / 8, origin);
        }
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        {
            let (a, len) = words(n);
            shadow::registry::register(a, len, false);
        }
        let _ = n;
    }

    #[inline(always)]
    pub(super) fn dealloc(n: &Node) {
        #[cfg(all(feature = "sanitize", not(mmcheck_model)))]
        shadow::words::clear(side(words(n).0).0);
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        shadow::registry::unregister(words(n).0);
        let _ = n;
    }

    #[inline(always)]
    pub(super) fn write(w: &AtomicU64) {
        #[cfg(all(feature = "sanitize", not(mmcheck_model)))]
        {
            let (side, i) = side(std::ptr::from_ref(w) as usize);
            shadow::words::store(side, i);
        }
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        shadow::registry::unpoison(std::ptr::from_ref(w) as usize, 8);
        let _ = w;
    }

    #[inline(always)]
    #[track_caller]
    pub(super) fn read(w: &AtomicU64) {
        #[cfg(all(feature = "sanitize", not(mmcheck_model)))]
        {
            let a = std::ptr::from_ref(w) as usize;
            let (side, i) = side(a);
            shadow::words::load(
                side,
                i,
                a,
                std::panic::Location::caller(),
                Some("maple node read"),
            );
        }
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        shadow::registry::check_in(std::ptr::from_ref(w) as usize, 8, Some("maple node read"));
        let _ = w;
    }
}

/// An entry: the value behind a leaf slot. Aligned so that an entry pointer never looks
/// like an encoded node.
#[repr(align(8))]
pub struct Entry<T>(pub T);

/// Low bits of a *value entry*: a primitive integer kept in the slot word itself instead
/// of behind a pointer, as the kernel's users keep small integers as `xa_mk_value` entries.
/// The kernel tags them with bit 0; here bits 0 and 1 are taken by the write planner's
/// placeholders (see `write.rs`), so a value entry is `bits << 3 | 0b100` and holds values
/// below 2^61. Entry pointers are 8-aligned (low bits `000`), encoded nodes end in `010`.
pub(crate) const VALUE_TAG: usize = 0b100;
/// Mask of the three tag bits of a leaf slot.
const ENTRY_TAG_MASK: usize = 0b111;
/// Values at or above this are boxed even when `T` is an integer.
const VALUE_LIMIT: u64 = 1 << 61;

/// True if the leaf slot `raw` holds a value entry rather than a pointer.
#[inline(always)]
pub fn is_value(raw: usize) -> bool {
    raw & ENTRY_TAG_MASK == VALUE_TAG
}

/// The primitive integer types whose values can live in a slot word: no padding, no
/// destructor, at most 8 bytes, and every bit pattern is a value, so a slot word can be
/// turned back into one.
#[inline(always)]
fn is_int<T: 'static>() -> bool {
    use std::any::TypeId;
    let t = TypeId::of::<T>();
    t == TypeId::of::<u64>()
        || t == TypeId::of::<u32>()
        || t == TypeId::of::<usize>()
        || t == TypeId::of::<i64>()
        || t == TypeId::of::<i32>()
        || t == TypeId::of::<isize>()
        || t == TypeId::of::<u16>()
        || t == TypeId::of::<u8>()
        || t == TypeId::of::<i16>()
        || t == TypeId::of::<i8>()
}

/// The bits of `v` if it can be a value entry.
#[inline(always)]
fn value_bits<T: 'static>(v: &T) -> Option<u64> {
    if !is_int::<T>() {
        return None;
    }
    // SAFETY: `T` is one of the integer types of `is_int`, of the size matched, so reading
    // it as the unsigned integer of that size reads initialized bytes of the same layout.
    let bits = unsafe {
        match std::mem::size_of::<T>() {
            1 => u64::from(std::mem::transmute_copy::<T, u8>(v)),
            2 => u64::from(std::mem::transmute_copy::<T, u16>(v)),
            4 => u64::from(std::mem::transmute_copy::<T, u32>(v)),
            8 => std::mem::transmute_copy::<T, u64>(v),
            _ => return None,
        }
    };
    (bits < VALUE_LIMIT).then_some(bits)
}

/// The value of the value entry `raw`.
///
/// # Safety
/// `raw` was made by [`alloc_entry`] for this `T` and is a value entry.
#[inline(always)]
unsafe fn value_of<T: 'static>(raw: usize) -> T {
    let bits = (raw >> 3) as u64;
    // SAFETY: `alloc_entry` made a value entry only for an integer `T` of this size, from
    // a value of it; truncating restores its bytes.
    unsafe {
        match std::mem::size_of::<T>() {
            1 => std::mem::transmute_copy::<u8, T>(&(bits as u8)),
            2 => std::mem::transmute_copy::<u16, T>(&(bits as u16)),
            4 => std::mem::transmute_copy::<u32, T>(&(bits as u32)),
            _ => std::mem::transmute_copy::<u64, T>(&bits),
        }
    }
}

/// Makes the slot word for `v`: a value entry for a small integer, otherwise a pointer to
/// a new boxed [`Entry`].
pub fn alloc_entry<T: Send + 'static>(v: T) -> usize {
    if let Some(bits) = value_bits(&v) {
        return ((bits as usize) << 3) | VALUE_TAG;
    }
    let raw = Owned::new(Entry(v)).into_shared().to_raw();
    debug_assert_eq!(raw & ENTRY_TAG_MASK, 0);
    raw
}

/// A clone of the value behind a non-zero leaf slot, for the writer.
///
/// # Safety
/// `raw` must be a live entry of the tree, kept alive by the caller's lock.
#[inline(always)]
pub unsafe fn wentry<T: Clone + Send + 'static>(raw: usize) -> T {
    if is_value(raw) {
        // SAFETY: a value entry of this tree.
        return unsafe { value_of(raw) };
    }
    // SAFETY: the caller's guarantee.
    unsafe {
        Shared::<Entry<T>>::from_raw(raw)
            .as_ref()
            .expect("non-null entry")
            .0
            .clone()
    }
}

/// A second slot word holding the same value as `raw` (when a store splits a range in
/// two, each part needs an entry of its own): the word itself for a value entry, a new box
/// otherwise.
///
/// # Safety
/// As for [`wentry`].
pub unsafe fn clone_entry<T: Clone + Send + 'static>(raw: usize) -> usize {
    if is_value(raw) {
        raw
    } else {
        // SAFETY: the caller's guarantee.
        alloc_entry(unsafe { wentry::<T>(raw) })
    }
}

/// Clones the value of the entry `raw` for a reader.
///
/// # Safety
/// `raw` must have been loaded from the tree during `guard`'s read section.
#[inline(always)]
pub unsafe fn rentry<T: Clone + Send + 'static>(raw: usize, guard: &Guard) -> T {
    if is_value(raw) {
        // SAFETY: a value entry of this tree.
        return unsafe { value_of(raw) };
    }
    // SAFETY: the caller's guarantee.
    let r = unsafe {
        Shared::<Entry<T>>::from_raw(raw)
            .deref(guard)
            .expect("non-null entry")
    };
    r.0.clone()
}

/// Frees an entry that readers may still see, after a grace period. Value entries own
/// nothing.
///
/// # Safety
/// Unpublished, and retired or freed once.
pub unsafe fn retire_entry<T: Send + 'static>(raw: usize, rcu: bool) {
    if is_value(raw) {
        return;
    }
    // SAFETY: the caller's guarantee.
    unsafe {
        let s = Shared::<Entry<T>>::from_raw(raw);
        if rcu {
            s.retire()
        } else {
            s.free_now()
        }
    }
}

/// Frees an entry that was never published (or with no reader left), now.
///
/// # Safety
/// Unreachable by readers, freed once; 0 is ignored.
pub unsafe fn free_entry_now<T: Send + 'static>(raw: usize) {
    if raw != 0 && !is_value(raw) {
        // SAFETY: the caller's guarantee.
        unsafe { Shared::<Entry<T>>::from_raw(raw).free_now() }
    }
}

/// Frees a node: after a grace period in RCU mode, now otherwise. A node that is still in
/// the tree must be marked dead first (the kernel warns in `ma_free_rcu` otherwise).
///
/// # Safety
/// Unpublished, and retired or freed once.
#[track_caller]
pub unsafe fn free_node(enode: usize, rcu: bool) {
    // SAFETY: the caller's guarantee.
    unsafe {
        let s = shared(enode);
        // `ma_free_rcu`'s warning: a reader that still holds the node must be able to see
        // that it was replaced.
        assert!(
            wnode(enode).is_dead(),
            "maple: freeing node {enode:#x} that was not marked dead"
        );
        if rcu {
            NODES.retire(s)
        } else {
            NODES.free_now(s)
        }
    }
}

/// Frees a node that was never published.
///
/// # Safety
/// Never published; freed once.
pub unsafe fn free_unused(n: Shared<Node>) {
    // SAFETY: never visible to anyone.
    unsafe { NODES.free_now(n) }
}
