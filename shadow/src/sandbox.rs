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

    fn off(&self, addr: usize, len: usize) -> Result<usize, SandboxError> {
        let off = addr
            .checked_sub(self.base())
            .ok_or(SandboxError::OutOfBounds { addr, len })?;
        if off.checked_add(len).is_none_or(|e| e > self.data.len()) {
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
    #[track_caller]
    #[inline(always)]
    pub fn store<T: Prim>(&mut self, addr: usize, v: Tainted<T>) -> Result<(), SandboxError> {
        let off = self.off(addr, T::BYTES)?;
        self.check_uaf(off, T::BYTES);
        v.value.write_le(&mut self.data[off..]);
        if v.shadow == T::ZERO {
            // A clean store: the same as unpoisoning its bytes, which changes nothing where
            // the shadow is already known clean.
            if !self.meta.quick_clean(off, T::BYTES) {
                self.meta.unpoison(off, T::BYTES);
            }
        } else {
            self.store_poisoned(off, v);
        }
        Ok(())
    }

    #[track_caller]
    #[inline(never)]
    fn store_poisoned<T: Prim>(&mut self, off: usize, v: Tainted<T>) {
        let mut sh = [0u8; 16];
        v.shadow.write_le(&mut sh);
        // The site is taken here, not inside a closure: `#[track_caller]` does not reach
        // into closures.
        let site = Site::here();
        let origin = v.origin.map(|o| o.chain(site));
        self.meta.store(off, &sh[..T::BYTES], origin);
    }

    /// Loads a value with its shadow and the origin of its first poisoned byte. Loading is
    /// never reported (only using is), except from freed memory.
    #[track_caller]
    #[inline(always)]
    pub fn load<T: Prim>(&self, addr: usize) -> Result<Tainted<T>, SandboxError> {
        let off = self.off(addr, T::BYTES)?;
        self.check_uaf(off, T::BYTES);
        let value = T::read_le(&self.data[off..]);
        if self.meta.quick_clean(off, T::BYTES) {
            return Ok(Tainted::init(value));
        }
        let sh = &self.meta.shadow()[off..off + T::BYTES];
        let shadow = T::read_le(sh);
        let origin = if shadow == T::ZERO {
            None
        } else {
            self.meta.first_origin(off, T::BYTES)
        };
        Ok(Tainted {
            value,
            shadow,
            origin,
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
