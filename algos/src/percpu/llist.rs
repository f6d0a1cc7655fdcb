//! The intrusive singly linked lists of the allocator (`include/linux/llist.h`): the link is
//! the object's header word.
//!
//! Two disciplines share one type, as in the kernel. The *atomic* operations
//! ([`Llist::push`], [`Llist::push_batch`], [`Llist::del_all`], [`Llist::del_first`]) may run
//! on several CPUs at once, with llist.h's rule: any number of pushers, and `del_first`
//! from one consumer at a time, which must not race `del_all` (the allocator holds its
//! cache lock there, 1c21452d02ee). The *local* operations (`__llist_add`,
//! `__llist_del_first`, `__llist_del_all`) are plain loads and stores for lists only the
//! owning CPU touches inside its `active` section.
//!
//! The header word: on the std backend it is the object's first 8 bytes, as in the kernel.
//! On loom and shuttle it is a facade atomic placed just before the object (the backing
//! allocator reserves room for it), because a model atomic is not 8 bytes and must be
//! constructed; the object's own first 8 bytes then stay reserved and unused.

use crate::sync::atomic::{AtomicUsize, Ordering};

/// Bytes the backing allocator reserves before an object for its link word.
pub(super) const LINK_PREFIX: usize = if crate::sync::MODEL {
    std::mem::size_of::<AtomicUsize>().next_multiple_of(16)
} else {
    0
};

/// The header word of the object at `obj`: the next link while free, the owning cache (the
/// hint) while allocated.
///
/// # Safety
/// `obj` is an object of the allocator whose memory has not gone back to the backing
/// allocator.
#[inline(always)]
pub(super) unsafe fn link<'a>(obj: usize) -> &'a AtomicUsize {
    // SAFETY: the caller's guarantee; the word is 8-aligned and initialised (std: it is plain
    // memory, always a valid `AtomicUsize`; models: constructed by the backing allocator).
    unsafe { &*((obj - LINK_PREFIX) as *const AtomicUsize) }
}

/// A list head. Empty is 0.
#[derive(Debug)]
pub(super) struct Llist {
    head: AtomicUsize,
}

impl Llist {
    pub(super) fn new() -> Self {
        Llist {
            head: AtomicUsize::new(0),
        }
    }

    /// True if empty (a racy read for lists others push to).
    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire) == 0
    }

    /// The first node, without removing it (for walks at quiescent points).
    pub(super) fn first(&self) -> usize {
        self.head.load(Ordering::Acquire)
    }

    /// `llist_add`: pushes `obj` atomically.
    ///
    /// # Safety
    /// `obj` is an allocator object owned by the caller.
    #[inline]
    pub(super) unsafe fn push(&self, obj: usize) {
        // SAFETY: the caller's guarantee.
        unsafe { self.push_batch(obj, obj) }
    }

    /// `llist_add_batch`: pushes the chain `first ..= last` atomically.
    ///
    /// # Safety
    /// The chain is linked through header words and owned by the caller.
    pub(super) unsafe fn push_batch(&self, first: usize, last: usize) {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: the caller owns `last`.
            unsafe { link(last) }.store(head, Ordering::Relaxed);
            match self
                .head
                .compare_exchange_weak(head, first, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }

    /// `llist_del_all`: takes the whole chain atomically; returns its first node or 0.
    #[inline]
    pub(super) fn del_all(&self) -> usize {
        if self.head.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.head.swap(0, Ordering::Acquire)
    }

    /// Takes the whole chain with a swap even when the head looks empty (a read-modify-write
    /// sees the latest head in every memory model).
    pub(super) fn del_all_rmw(&self) -> usize {
        self.head.swap(0, Ordering::AcqRel)
    }

    /// `llist_del_first`: pops one node atomically. One consumer at a time, not racing
    /// [`Llist::del_all`]. `before_read(node)` runs before it reads a node's link: the
    /// checking hooks report a node that has already gone back to the backing allocator
    /// (the read of freed memory that a `del_first` racing a `del_all` makes).
    pub(super) fn del_first_checked(&self, before_read: impl Fn(usize)) -> Option<usize> {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            if head == 0 {
                return None;
            }
            // Another CPU's `del_all` may take `head` (and free it) right here, unless the
            // caller holds the lock the consumer rule asks for: let the schedulers switch.
            crate::sync::switch_point();
            before_read(head);
            // SAFETY: `head` is on the list, and the consumer rule keeps it from being taken
            // (and freed) by anyone else while we read its link.
            let next = unsafe { link(head) }.load(Ordering::Relaxed);
            match self
                .head
                .compare_exchange(head, next, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return Some(head),
                Err(h) => head = h,
            }
        }
    }

    /// `__llist_add`: a push with plain loads and stores, for a list only this context
    /// touches.
    ///
    /// # Safety
    /// As [`Llist::push`], and nobody else touches the list meanwhile.
    #[inline(always)]
    pub(super) unsafe fn push_local(&self, obj: usize) {
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: the caller owns `obj`.
        unsafe { link(obj) }.store(head, Ordering::Relaxed);
        self.head.store(obj, Ordering::Relaxed);
    }

    /// `__llist_del_first`.
    ///
    /// # Safety
    /// Nobody else touches the list meanwhile.
    #[inline(always)]
    pub(super) unsafe fn pop_local(&self) -> Option<usize> {
        let head = self.head.load(Ordering::Relaxed);
        if head == 0 {
            return None;
        }
        // SAFETY: `head` is on our list.
        let next = unsafe { link(head) }.load(Ordering::Relaxed);
        self.head.store(next, Ordering::Relaxed);
        Some(head)
    }

    /// `__llist_del_all`.
    pub(super) fn take_local(&self) -> usize {
        let head = self.head.load(Ordering::Relaxed);
        if head != 0 {
            self.head.store(0, Ordering::Relaxed);
        }
        head
    }

    /// Sets the head (`waiting_for_gp.first = ...`).
    pub(super) fn set_local(&self, first: usize) {
        self.head.store(first, Ordering::Release);
    }
}

/// Walks a detached chain starting at `first`, calling `f` on each node; `f` may reuse the
/// node's link (the next pointer is read before `f` runs).
///
/// # Safety
/// The chain is owned by the caller.
pub(super) unsafe fn for_each(first: usize, mut f: impl FnMut(usize)) {
    let mut n = first;
    while n != 0 {
        // SAFETY: the caller owns the chain.
        let next = unsafe { link(n) }.load(Ordering::Relaxed);
        f(n);
        n = next;
    }
}
