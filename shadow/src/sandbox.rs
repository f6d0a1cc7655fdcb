//! A self-contained memory with shadow, origins and an allocator: what the sanitizer's own
//! tests and fuzz target run on, and the fast path for code that owns its memory.
//!
//! Addresses are plain numbers starting at a chosen base (default `0x1000`), so origin-slot
//! alignment behaves as it would on real memory. Allocations are never reused (freed blocks
//! stay quarantined), so every access to a freed block is reported as a use-after-free, as
//! KASAN would, at the access itself; a freed block's bytes also carry a `Free` origin, so a
//! value copied out of it reports `use-after-free` where it is used.

use crate::meta::{Meta, Run};
use crate::origin::{Created, Origin, Site};
use crate::report::{emit, BugKind, Report};
use crate::value::{Prim, Tainted};
use std::collections::BTreeMap;
use std::panic::Location;

/// Why an operation on the sandbox was refused (a bug in the caller, not in the checked code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxError {
    /// The sandbox is full.
    OutOfMemory,
    /// The range is not inside the sandbox.
    OutOfBounds {
        /// Start of the access.
        addr: usize,
        /// Its length.
        len: usize,
    },
    /// `free` of an address that is not the start of an allocation.
    BadFree(usize),
}

#[derive(Debug, Clone)]
struct Block {
    len: usize,
    freed: Option<Origin>,
}

/// Memory with shadow and origins.
#[derive(Debug, Clone)]
pub struct Sandbox {
    data: Vec<u8>,
    meta: Meta,
    blocks: BTreeMap<usize, Block>,
    top: usize,
    /// How many blocks are freed: while 0, accesses skip the freed-block lookup.
    freed: usize,
}

impl Sandbox {
    /// `capacity` bytes at address `0x1000`.
    pub fn new(capacity: usize) -> Self {
        Sandbox::with_base(0x1000, capacity)
    }

    /// `capacity` bytes at address `base` (any alignment).
    pub fn with_base(base: usize, capacity: usize) -> Self {
        Sandbox {
            data: vec![0; capacity],
            meta: Meta::new(base, capacity),
            blocks: BTreeMap::new(),
            top: 0,
            freed: 0,
        }
    }

    /// The first address.
    pub fn base(&self) -> usize {
        self.meta.base()
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    #[inline(always)]
    fn off(&self, addr: usize, len: usize) -> Result<usize, SandboxError> {
        // One subtraction and two comparisons: `addr` below the base wraps to a huge
        // offset, which the first comparison rejects.
        let off = addr.wrapping_sub(self.base());
        let cap = self.data.len();
        if off > cap || cap - off < len {
            return Err(SandboxError::OutOfBounds { addr, len });
        }
        Ok(off)
    }

    /// Allocates `len` bytes (8-aligned offsets), poisoned with an `Alloc` origin at the
    /// caller unless `zeroed`.
    #[track_caller]
    pub fn alloc(&mut self, len: usize, zeroed: bool) -> Result<usize, SandboxError> {
        let off = self.top.next_multiple_of(8);
        if off.checked_add(len).is_none_or(|e| e > self.data.len()) {
            return Err(SandboxError::OutOfMemory);
        }
        // A zero-length block still gets its own address (as kmalloc(0) never aliases).
        self.top = off + len.max(1);
        self.blocks.insert(off, Block { len, freed: None });
        if zeroed {
            self.data[off..off + len].fill(0);
            self.meta.unpoison(off, len);
        } else {
            self.meta
                .poison(off, len, Origin::new_at(Created::Alloc, Site::here()));
        }
        Ok(self.base() + off)
    }

    /// Frees the block at `addr`: its bytes are poisoned with a `Free` origin at the caller
    /// and every later access to them is a use-after-free. A double free is reported too.
    #[track_caller]
    pub fn free(&mut self, addr: usize) -> Result<(), SandboxError> {
        let off = self.off(addr, 0)?;
        let origin = Origin::new_at(Created::Free, Site::here());
        let b = self
            .blocks
            .get_mut(&off)
            .ok_or(SandboxError::BadFree(addr))?;
        if let Some(first) = b.freed {
            let len = b.len;
            emit(Report {
                kind: BugKind::UseAfterFree,
                site: Site::here(),
                origin: Some(first),
                bytes: Some((0, len.saturating_sub(1), len)),
                addr: Some(addr),
            });
            return Ok(());
        }
        b.freed = Some(origin);
        let len = b.len;
        self.freed += 1;
        self.meta.poison(off, len, origin);
        Ok(())
    }

    /// The free origin of a freed block overlapping `[off, off + len)`, if any.
    #[inline]
    fn freed_block(&self, off: usize, len: usize) -> Option<Origin> {
        if self.freed == 0 {
            return None;
        }
        let end = off + len.max(1);
        let first = self
            .blocks
            .range(..=off)
            .next_back()
            .map_or(off, |(s, _)| *s);
        self.blocks
            .range(first..end)
            .find(|(s, b)| **s + b.len.max(1) > off && b.freed.is_some())
            .and_then(|(_, b)| b.freed)
    }

    #[track_caller]
    #[inline(always)]
    fn check_uaf(&self, off: usize, len: usize) {
        if self.freed == 0 {
            return;
        }
        self.check_uaf_slow(off, len);
    }

    #[track_caller]
    #[cold]
    #[inline(never)]
    fn check_uaf_slow(&self, off: usize, len: usize) {
        if let Some(origin) = self.freed_block(off, len) {
            emit(Report {
                kind: BugKind::UseAfterFree,
                site: Site::here(),
                origin: Some(origin),
                bytes: Some((0, len.saturating_sub(1), len)),
                addr: Some(self.base() + off),
            });
        }
    }

    /// Stores `v` at `addr`: data, shadow and (if poisoned) origin, chained with a
    /// "stored to memory at" link for the caller.
    ///
    /// The fast path is what KMSAN's instrumentation does for a store: the data store plus
    /// one load of the shadow word. An initialized value stored over initialized bytes
    /// changes no metadata, so it stops there.
    #[track_caller]
    #[inline(always)]
    pub fn store<T: Prim>(&mut self, addr: usize, v: Tainted<T>) -> Result<(), SandboxError> {
        let off = self.off(addr, T::BYTES)?;
        self.check_uaf(off, T::BYTES);
        v.value.write_le(&mut self.data[off..off + T::BYTES]);
        if v.shadow == T::ZERO && self.meta.word::<T>(off) == T::ZERO {
            return Ok(());
        }
        store_meta(&mut self.meta, off, v);
        Ok(())
    }

    /// Loads a value with its shadow and the origin of its first poisoned byte. Loading is
    /// never reported (only using is), except from freed memory.
    ///
    /// The fast path loads the data and the shadow word; only a poisoned value goes on to
    /// look up its origin.
    #[track_caller]
    #[inline(always)]
    pub fn load<T: Prim>(&self, addr: usize) -> Result<Tainted<T>, SandboxError> {
        let off = self.off(addr, T::BYTES)?;
        self.check_uaf(off, T::BYTES);
        let value = T::read_le(&self.data[off..off + T::BYTES]);
        let shadow = self.meta.word::<T>(off);
        if shadow == T::ZERO {
            return Ok(Tainted::init(value));
        }
        Ok(load_meta(&self.meta, off, value, shadow))
    }

    /// A view of the `len` bytes at `addr` for a run of typed accesses: bounds and the
    /// use-after-free check are done once, here (an access to freed memory is reported at
    /// this call), and the window's accesses take offsets relative to `addr`. While the
    /// window lives the sandbox is borrowed, so nothing can be freed under it.
    #[track_caller]
    pub fn window(&mut self, addr: usize, len: usize) -> Result<Window<'_>, SandboxError> {
        let off = self.off(addr, len)?;
        self.check_uaf(off, len);
        debug_assert_eq!(self.meta.len(), self.data.len());
        let shadow = self.meta.shadow_ptr(off);
        Ok(Window {
            data: &mut self.data[off..off + len],
            meta: &mut self.meta,
            shadow,
            start: off,
            addr,
        })
    }

    /// Copies `n` bytes (non-overlapping; overlapping copies are `memmove`'s job, but are
    /// handled the same way here).
    #[track_caller]
    pub fn memcpy(&mut self, dst: usize, src: usize, n: usize) -> Result<(), SandboxError> {
        self.memmove(dst, src, n)
    }

    /// Copies `n` bytes, ranges may overlap; shadow and origins follow, each source origin
    /// chained with the caller as "stored to memory at".
    #[track_caller]
    pub fn memmove(&mut self, dst: usize, src: usize, n: usize) -> Result<(), SandboxError> {
        let d = self.off(dst, n)?;
        let s = self.off(src, n)?;
        self.check_uaf(s, n);
        self.check_uaf(d, n);
        self.data.copy_within(s..s + n, d);
        self.meta.move_within(d, s, n, &Site::here());
        Ok(())
    }

    /// Fills `n` bytes with `byte`: they become initialized.
    #[track_caller]
    pub fn memset(&mut self, dst: usize, byte: u8, n: usize) -> Result<(), SandboxError> {
        let d = self.off(dst, n)?;
        self.check_uaf(d, n);
        self.data[d..d + n].fill(byte);
        self.meta.unpoison(d, n);
        Ok(())
    }

    /// Poisons `n` bytes with a `Poison` origin at the caller (`kmsan_poison_memory`).
    #[track_caller]
    pub fn poison(&mut self, addr: usize, n: usize) -> Result<(), SandboxError> {
        let d = self.off(addr, n)?;
        self.meta
            .poison(d, n, Origin::new_at(Created::Poison, Site::here()));
        Ok(())
    }

    /// Marks `n` bytes initialized (`kmsan_unpoison_memory`).
    pub fn unpoison(&mut self, addr: usize, n: usize) -> Result<(), SandboxError> {
        let d = self.off(addr, n)?;
        self.meta.unpoison(d, n);
        Ok(())
    }

    /// `kmsan_check_memory`: reports each maximal run of uninitialized bytes with one origin
    /// in `[addr, addr + n)` as used at the caller. Returns the runs.
    #[track_caller]
    pub fn check(&self, addr: usize, n: usize) -> Result<Vec<Run>, SandboxError> {
        self.check_in(addr, n, None)
    }

    /// [`Sandbox::check`] naming the function of the use.
    #[track_caller]
    pub fn check_in(
        &self,
        addr: usize,
        n: usize,
        function: Option<&'static str>,
    ) -> Result<Vec<Run>, SandboxError> {
        let d = self.off(addr, n)?;
        let runs = self.meta.runs(d, n);
        for r in &runs {
            let kind = if r.origin.is_some_and(|o| o.is_uaf()) {
                BugKind::UseAfterFree
            } else {
                BugKind::UninitValue
            };
            emit(Report {
                kind,
                site: Site::new(Location::caller(), function),
                origin: r.origin,
                bytes: Some((r.first, r.last, n)),
                addr: Some(addr),
            });
        }
        Ok(runs)
    }

    /// The shadow byte of `addr`.
    pub fn shadow_at(&self, addr: usize) -> Result<u8, SandboxError> {
        let d = self.off(addr, 1)?;
        Ok(self.meta.shadow()[d])
    }

    /// The origin slot of `addr`.
    pub fn origin_at(&self, addr: usize) -> Result<Option<Origin>, SandboxError> {
        let d = self.off(addr, 1)?;
        Ok(self.meta.origin_at(d))
    }

    /// The data byte of `addr`.
    pub fn byte_at(&self, addr: usize) -> Result<u8, SandboxError> {
        let d = self.off(addr, 1)?;
        Ok(self.data[d])
    }

    /// Whether the block containing `addr` has been freed.
    pub fn is_freed(&self, addr: usize) -> bool {
        self.off(addr, 0)
            .ok()
            .and_then(|o| self.freed_block(o, 1))
            .is_some()
    }
}

/// A bounds-checked view of part of a [`Sandbox`] (see [`Sandbox::window`]): the typed
/// stores and loads of code that owns a block, with the same shadow and origin semantics
/// as [`Sandbox::store`] and [`Sandbox::load`].
#[derive(Debug)]
pub struct Window<'a> {
    data: &'a mut [u8],
    meta: &'a mut Meta,
    /// The shadow of the window's first byte. Taken from `meta` when the window is made
    /// and again after every change `meta` makes to its shadow, so it is always derived
    /// from the latest borrow of the shadow buffer.
    shadow: *const u8,
    /// Offset of the window's first byte in the sandbox.
    start: usize,
    /// Address of the window's first byte.
    addr: usize,
}

impl Window<'_> {
    /// The window's length in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True for an empty window.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The address of the window's first byte.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The shadow of the `T` at window offset `at`, which the caller has bounds-checked.
    #[inline(always)]
    fn word<T: Prim>(&self, at: usize) -> T {
        debug_assert!(at + T::BYTES <= self.data.len());
        let mut b = [0u8; 16];
        // SAFETY: `at + T::BYTES` is within the window (checked by `at()`), the window lies
        // inside the sandbox, and the sandbox's shadow is as long as its data and never
        // reallocated; `self.shadow` was derived from the shadow buffer after its last
        // change, and nothing writes the buffer while `&self` is held.
        unsafe {
            std::ptr::copy_nonoverlapping(self.shadow.add(at), b.as_mut_ptr(), T::BYTES);
        }
        T::read_le(&b)
    }

    #[inline(always)]
    fn at(&self, at: usize, len: usize) -> Result<usize, SandboxError> {
        let cap = self.data.len();
        if at > cap || cap - at < len {
            return Err(SandboxError::OutOfBounds {
                addr: self.addr.wrapping_add(at),
                len,
            });
        }
        Ok(at)
    }

    /// [`Sandbox::store`] at offset `at` of the window.
    #[track_caller]
    #[inline(always)]
    pub fn store<T: Prim>(&mut self, at: usize, v: Tainted<T>) -> Result<(), SandboxError> {
        let at = self.at(at, T::BYTES)?;
        v.value.write_le(&mut self.data[at..at + T::BYTES]);
        if v.shadow == T::ZERO && self.word::<T>(at) == T::ZERO {
            return Ok(());
        }
        store_meta(self.meta, self.start + at, v);
        self.shadow = self.meta.shadow_ptr(self.start);
        Ok(())
    }

    /// [`Sandbox::load`] at offset `at` of the window.
    #[inline(always)]
    pub fn load<T: Prim>(&self, at: usize) -> Result<Tainted<T>, SandboxError> {
        let at = self.at(at, T::BYTES)?;
        let value = T::read_le(&self.data[at..at + T::BYTES]);
        let shadow = self.word::<T>(at);
        if shadow == T::ZERO {
            return Ok(Tainted::init(value));
        }
        Ok(load_meta(self.meta, self.start + at, value, shadow))
    }
}

/// The metadata side of a store that poisons, or that initializes poisoned bytes.
#[track_caller]
#[inline(never)]
fn store_meta<T: Prim>(meta: &mut Meta, off: usize, v: Tainted<T>) {
    if v.shadow == T::ZERO {
        meta.unpoison(off, T::BYTES);
        return;
    }
    let mut sh = [0u8; 16];
    v.shadow.write_le(&mut sh);
    // The site is taken here, not inside a closure: `#[track_caller]` does not reach into
    // closures.
    let site = Site::here();
    let origin = v.origin.map(|o| o.chain(site));
    meta.store(off, &sh[..T::BYTES], origin);
}

/// A poisoned load: its origin is the first poisoned byte's.
#[inline(never)]
fn load_meta<T: Prim>(meta: &Meta, off: usize, value: T, shadow: T) -> Tainted<T> {
    Tainted {
        value,
        shadow,
        origin: meta.first_origin(off, T::BYTES),
    }
}
