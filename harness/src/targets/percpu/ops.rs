//! `percpu_ops`: the BPF memory allocator (`algos::percpu`) in all three modes against a
//! multiset model of the live objects.
//!
//! The model is the harness's own record of every live object: which allocator and mode
//! it came from, the size asked for, and the bytes written into it (a stamp at both ends of
//! the requested size; in per-CPU mode, in the CPU 0 area). After every step the record is
//! checked against the allocator: each live object still holds its stamp (contents survive
//! until freed, nothing is handed out twice), no two live objects overlap, and `validate()`
//! holds (per-cache `free_cnt`, no object on two lists, conservation, in-flight callbacks,
//! and, with the hooks, the class of every free and that `free_rcu` objects waited a grace
//! period). An allocation may return NULL only for a size the kernel refuses, or when it is
//! excused: it ran nested in an interrupt (the cache is busy) or the backing allocator has
//! failed in this run (an empty cache whose refill failed); any other NULL is a failure (the
//! spurious NULL of d2fc491bc41d, a stuck `active`).
//!
//! Interrupts: the engine delivers IRQs and NMIs at the allocator's interrupt points
//! (`unit_alloc`, `unit_free`, `unit_free_rcu` entry and inside `active`, `alloc_bulk`,
//! `free_bulk`, `check_free_by_rcu`); the nested operation is an allocation or a free on the
//! same CPU, so nesting reaches depth two (an NMI inside an IRQ handler's fast path).
//! Operations that block, sleep or migrate (grace periods, drain, destroy, `Migrate`, the
//! GFP_KERNEL fallback `AllocFallback`) are not run nested.

use crate::target::Target;
use algos::percpu::{size_class, MemAlloc, HEADER};
use algos::sync::cpu::{self, Interrupt};
use algos::sync::{fault, irq_work, rcu};
use arbitrary::Arbitrary;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Slots for live objects.
pub const SLOTS: usize = 256;
/// A slot being filled.
const BUSY: usize = 1;
/// The fixed-size mode's object size.
pub const FIXED_SIZE: usize = 40;
/// The per-CPU mode's per-CPU area size.
pub const PERCPU_SIZE: usize = 24;

/// Which allocator an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum Mode {
    /// The 11 size classes (`MemAlloc::new(0, false)`).
    Classes,
    /// One fixed-size cache (`MemAlloc::new(40, false)`).
    Fixed,
    /// Per-CPU objects (`MemAlloc::new(24, true)`).
    Percpu,
}

impl Mode {
    fn index(self) -> usize {
        match self {
            Mode::Classes => 0,
            Mode::Fixed => 1,
            Mode::Percpu => 2,
        }
    }
    fn from_index(i: u64) -> Mode {
        match i {
            0 => Mode::Classes,
            1 => Mode::Fixed,
            _ => Mode::Percpu,
        }
    }
}

/// An operation on the allocators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Arbitrary)]
pub enum PercpuOp {
    /// Allocate into a slot (`bpf_mem_alloc(size)`, or `bpf_mem_cache_alloc` in the fixed
    /// and per-CPU modes, which ignore `size`). Sizes above 4088 are refused.
    Alloc {
        /// Which allocator.
        mode: Mode,
        /// The size asked for (size-class mode), taken modulo 4200.
        size: u16,
        /// The slot, modulo [`SLOTS`].
        slot: u8,
    },
    /// `bpf_mem_cache_alloc_flags(GFP_KERNEL)` on the fixed-size allocator: the cache, or
    /// straight from the backing allocator when the cache is empty.
    AllocFallback {
        /// The slot.
        slot: u8,
    },
    /// Allocate up to `n` objects into free slots from `start` on.
    AllocBatch {
        /// Which allocator.
        mode: Mode,
        /// The size asked for, modulo 4200.
        size: u16,
        /// Where to start looking for free slots.
        start: u8,
        /// How many.
        n: u8,
    },
    /// PREEMPT_RT irq_work on this thread (`irq_work::set_threaded`): refill and trim stay
    /// raised after the call that raised them, until [`PercpuOp::IrqWorkThread`], a drain or
    /// a destroy runs them.
    Threaded {
        /// On or off.
        on: bool,
    },
    /// The current CPU's irq_work thread runs (PREEMPT_RT), or its IPI arrives.
    IrqWorkThread,
    /// Free the object of a slot (`bpf_mem_free` / `bpf_mem_cache_free`).
    Free {
        /// The slot.
        slot: u8,
    },
    /// Free with `free_rcu`.
    FreeRcu {
        /// The slot.
        slot: u8,
    },
    /// Free up to `n` live objects from slot `start` on, with `free_rcu` if `rcu`.
    FreeBatch {
        /// Where to start.
        start: u8,
        /// How many.
        n: u8,
        /// `free_rcu` instead of `free`.
        rcu: bool,
    },
    /// Move the thread to logical CPU `cpu` (modulo the CPU count): later frees of objects
    /// allocated before are cross-CPU frees.
    Migrate {
        /// The CPU.
        cpu: u8,
    },
    /// Let a normal and a tasks-trace grace period pass (their callbacks run).
    GracePeriod,
    /// `drain_deferred` on every allocator.
    Drain,
    /// Destroy an allocator with its live objects freed first (some with `free_rcu`, so
    /// objects sit on every list and callbacks are in flight), and make a fresh one.
    Destroy {
        /// Which allocator.
        mode: Mode,
    },
    /// Check every live object's stamp.
    CheckAll,
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PercpuRet {
    /// Nothing to compare.
    Done,
    /// An object was handed out (or the model: one must be).
    Got,
    /// NULL; `excused` when nested in an interrupt or after a backing-allocation failure.
    Null {
        /// Whether a NULL is allowed here.
        excused: bool,
    },
    /// The size is refused (the model's answer for sizes above 4088 and 0).
    Refused,
    /// A batch: how many objects it got.
    Batch,
    /// The harness found a broken object (stamp, overlap).
    Violation(String),
}

/// One live object.
struct Slot {
    /// The user pointer, or 0.
    ptr: AtomicUsize,
    /// mode (2 bits) | size (16 bits) << 2 | stamp (8 bits) << 18.
    meta: AtomicU64,
}

/// The allocators and the record of live objects.
pub struct PercpuSut {
    /// The fixed-size mode's object size ([`FIXED_SIZE`], or a large unit for the schedule
    /// target, whose watermarks are then 1/3/1).
    fixed_size: usize,
    /// Each mode's allocator, made when an operation first uses it (most inputs use one or
    /// two modes; making, checking and destroying the others would be most of an
    /// execution's time), and `None` again after a destroy.
    allocs: [RwLock<Option<Arc<MemAlloc>>>; 3],
    slots: Box<[Slot]>,
    /// Every object the harness holds (from its allocation to its free), by span.
    live: Mutex<LiveSpans>,
    /// A running stamp.
    seq: AtomicUsize,
}

impl std::fmt::Debug for PercpuSut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PercpuSut").finish_non_exhaustive()
    }
}

fn new_alloc(mode: Mode, fixed_size: usize) -> Arc<MemAlloc> {
    let ma = match mode {
        Mode::Classes => MemAlloc::new(0, false),
        Mode::Fixed => MemAlloc::new(fixed_size, false),
        Mode::Percpu => MemAlloc::new(PERCPU_SIZE, true),
    };
    Arc::new(ma.expect("the target's sizes are valid"))
}

impl PercpuSut {
    /// A record with the allocators in `eager` made now, the others when first used;
    /// fixed-size mode with objects of `fixed_size`.
    pub fn new(fixed_size: usize, eager: &[Mode]) -> Self {
        let made = |m: Mode| RwLock::new(eager.contains(&m).then(|| new_alloc(m, fixed_size)));
        PercpuSut {
            fixed_size,
            allocs: [made(Mode::Classes), made(Mode::Fixed), made(Mode::Percpu)],
            slots: (0..SLOTS)
                .map(|_| Slot {
                    ptr: AtomicUsize::new(0),
                    meta: AtomicU64::new(0),
                })
                .collect(),
            live: Mutex::new(LiveSpans(Vec::with_capacity(2 * SLOTS))),
            seq: AtomicUsize::new(0),
        }
    }

    /// The bytes the harness stamps: the requested size (the per-CPU area in per-CPU
    /// mode).
    fn stamp_len(&self, mode: Mode, size: usize) -> usize {
        match mode {
            Mode::Classes => size,
            Mode::Fixed => self.fixed_size,
            Mode::Percpu => PERCPU_SIZE,
        }
    }

    /// `mode`'s allocator, made now if no operation has used it yet.
    pub(super) fn ma(&self, mode: Mode) -> Arc<MemAlloc> {
        let made = self.allocs[mode.index()]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        made.unwrap_or_else(|| self.make(mode))
    }

    /// Makes `mode`'s allocator (`bpf_mem_alloc_init`) with no interrupt injected meanwhile:
    /// the kernel does not create an allocator from an interrupt handler, and the first use
    /// may be one (an operation nested in an interrupt).
    #[cold]
    fn make(&self, mode: Mode) -> Arc<MemAlloc> {
        let _quiet = Quiet::new();
        self.allocs[mode.index()]
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| new_alloc(mode, self.fixed_size))
            .clone()
    }

    /// The allocators made so far, with their modes.
    pub(super) fn made(&self) -> Vec<(Mode, Arc<MemAlloc>)> {
        [Mode::Classes, Mode::Fixed, Mode::Percpu]
            .into_iter()
            .filter_map(|m| {
                let a = self.allocs[m.index()]
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                a.map(|a| (m, a))
            })
            .collect()
    }

    /// Where the stamp of an object lives.
    pub(super) fn stamp_area(ma: &MemAlloc, mode: Mode, ptr: usize) -> usize {
        match mode {
            Mode::Percpu => {
                let p = NonNull::new(ptr as *mut u8).expect("live");
                // SAFETY: a live per-CPU object of `ma`.
                unsafe { ma.percpu_area(p, 0) }
                    .expect("per-CPU mode")
                    .as_ptr() as usize
            }
            _ => ptr,
        }
    }

    fn write_stamp(area: usize, len: usize, stamp: u8) {
        for (i, off) in stamp_offsets(len).enumerate() {
            // SAFETY: `off < len`, inside the live object.
            unsafe { ((area + off) as *mut u8).write(stamp.wrapping_add(i as u8)) };
        }
    }

    fn check_stamp(area: usize, len: usize, stamp: u8) -> Result<(), String> {
        // The stamped bytes compared as two runs (the checks run on every few steps, over
        // every live object): `[0, min(len, 16))` and `[max(len - 8, 16), len)`, byte `i` of
        // the stamp order holding `stamp + i`. The byte walk below only names the first bad
        // byte.
        let want: [u8; 24] = std::array::from_fn(|i| stamp.wrapping_add(i as u8));
        let read = |off: usize, n: usize| {
            // SAFETY: `off + n <= len`, inside the live object, as in `write_stamp`.
            unsafe { std::slice::from_raw_parts((area + off) as *const u8, n) }
        };
        let intact = if len <= 24 {
            read(0, len) == &want[..len]
        } else {
            read(0, 16) == &want[..16] && read(len - 8, 8) == &want[16..]
        };
        if intact {
            return Ok(());
        }
        for (i, off) in stamp_offsets(len).enumerate() {
            // SAFETY: as in `write_stamp`.
            let got = unsafe { ((area + off) as *const u8).read() };
            let want = stamp.wrapping_add(i as u8);
            if got != want {
                return Err(format!(
                    "live object byte {off} holds {got:#04x}, written {want:#04x}: its memory \
                     was handed out again or overwritten while live"
                ));
            }
        }
        Ok(())
    }

    fn alloc_one(&self, mode: Mode, size: usize) -> (PercpuRet, Option<(usize, u64)>) {
        self.alloc_with(mode, size, false)
    }

    fn alloc_with(
        &self,
        mode: Mode,
        size: usize,
        fallback: bool,
    ) -> (PercpuRet, Option<(usize, u64)>) {
        let ma = self.ma(mode);
        // A refill raised earlier in threaded mode and not yet run leaves the cache empty.
        let raised_before = irq_work::raised_on(cpu::current());
        let got = match mode {
            Mode::Classes => ma.alloc(size),
            Mode::Fixed if fallback => ma.cache_alloc_or_backing(),
            Mode::Fixed | Mode::Percpu => ma.cache_alloc(),
        };
        let Some(p) = got else {
            let refused =
                mode == Mode::Classes && (size == 0 || size_class(size + HEADER).is_none());
            if refused {
                return (PercpuRet::Refused, None);
            }
            // Allowed: nested in an interrupt (the cache is busy), with a refill still raised
            // (threaded irq_work), or a refill of this cache has failed (this thread's, or another task's on the same CPU).
            let class = match mode {
                Mode::Classes => size_class(size + HEADER).unwrap_or(0),
                _ => 0,
            };
            // PREEMPT_RT: the refill that would have filled it is still raised.
            let excused = cpu::in_interrupt()
                || raised_before
                || irq_work::raised_on(cpu::current())
                || fault::stats().failed > 0
                || ma.refill_failures(cpu::current(), class) > 0;
            return (PercpuRet::Null { excused }, None);
        };
        if mode == Mode::Classes && (size == 0 || size_class(size + HEADER).is_none()) {
            return (
                PercpuRet::Violation(format!(
                    "alloc({size}) returned an object for a refused size"
                )),
                None,
            );
        }
        let stamp = (self.seq.fetch_add(1, Ordering::Relaxed) % 251) as u8;
        let len = self.stamp_len(mode, size);
        let ptr = p.as_ptr() as usize;
        if let Err(e) = self.live().insert(ptr - HEADER, HEADER + len.max(8)) {
            return (PercpuRet::Violation(e), None);
        }
        Self::write_stamp(Self::stamp_area(&ma, mode, ptr), len, stamp);
        let meta = mode.index() as u64 | (len as u64) << 2 | u64::from(stamp) << 18;
        (PercpuRet::Got, Some((p.as_ptr() as usize, meta)))
    }

    /// Puts an object in slot `i`, or frees it if the slot is taken.
    fn place(&self, i: usize, obj: (usize, u64)) {
        let s = &self.slots[i % SLOTS];
        // Claim the slot (BUSY), then write its record, then publish the pointer: a nested
        // operation never sees a pointer with another object's record.
        if s.ptr
            .compare_exchange(0, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            s.meta.store(obj.1, Ordering::Relaxed);
            s.ptr.store(obj.0, Ordering::Release);
        } else {
            // Filled by a nested operation meanwhile: give this one back.
            let mode = Mode::from_index(obj.1 & 3);
            self.release(mode, obj.0, false);
        }
    }

    fn release(&self, mode: Mode, ptr: usize, rcu_free: bool) {
        self.live().remove(ptr - HEADER);
        let ma = self.ma(mode);
        let p = NonNull::new(ptr as *mut u8).expect("live");
        // SAFETY: `ptr` is a live object of `ma`, taken out of its slot, freed once.
        unsafe {
            match (mode, rcu_free) {
                (Mode::Classes, false) => ma.free(p),
                (Mode::Classes, true) => ma.free_rcu(p),
                (_, false) => ma.cache_free(p),
                (_, true) => ma.cache_free_rcu(p),
            }
        }
    }

    /// The object in slot `i` and its record, if any.
    pub(super) fn peek(&self, i: usize) -> Option<(usize, u64)> {
        let s = &self.slots[i % SLOTS];
        let ptr = s.ptr.load(Ordering::Acquire);
        (ptr != 0 && ptr != BUSY).then(|| (ptr, s.meta.load(Ordering::Relaxed)))
    }

    /// Takes slot `i`'s object out, checks its stamp, frees it.
    fn free_slot(&self, i: usize, rcu_free: bool) -> PercpuRet {
        let s = &self.slots[i % SLOTS];
        let ptr = s.ptr.load(Ordering::Acquire);
        if ptr == 0 || ptr == BUSY {
            return PercpuRet::Done;
        }
        let meta = s.meta.load(Ordering::Relaxed);
        if s.ptr
            .compare_exchange(ptr, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return PercpuRet::Done;
        }
        let mode = Mode::from_index(meta & 3);
        let len = ((meta >> 2) & 0xffff) as usize;
        let stamp = (meta >> 18) as u8;
        let ma = self.ma(mode);
        if let Err(e) = Self::check_stamp(Self::stamp_area(&ma, mode, ptr), len, stamp) {
            return PercpuRet::Violation(format!("slot {}: {e}", i % SLOTS));
        }
        self.release(mode, ptr, rcu_free);
        PercpuRet::Done
    }

    /// Checks every live object's stamp (overlaps are refused as objects are handed out, by
    /// [`LiveSpans`]).
    pub(super) fn check_all(&self) -> Result<(), String> {
        let mut mas: [Option<Arc<MemAlloc>>; 3] = [None, None, None];
        for (m, a) in self.made() {
            mas[m.index()] = Some(a);
        }
        for (i, s) in self.slots.iter().enumerate() {
            let ptr = s.ptr.load(Ordering::Acquire);
            if ptr == 0 || ptr == BUSY {
                continue;
            }
            let meta = s.meta.load(Ordering::Relaxed);
            let mode = Mode::from_index(meta & 3);
            let len = ((meta >> 2) & 0xffff) as usize;
            let Some(ma) = &mas[mode.index()] else {
                return Err(format!(
                    "slot {i} holds a {mode:?} object but that allocator is not made"
                ));
            };
            Self::check_stamp(Self::stamp_area(ma, mode, ptr), len, (meta >> 18) as u8)
                .map_err(|e| format!("slot {i}: {e}"))?;
        }
        Ok(())
    }

    fn live(&self) -> std::sync::MutexGuard<'_, LiveSpans> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Destroys `mode`'s allocator. No interrupt is injected meanwhile: a nested allocation
    /// from the allocator being destroyed would outlive it in a slot (the kernel's caller,
    /// a map being freed, has no users left either).
    fn destroy(&self, mode: Mode) {
        let _quiet = Quiet::new();
        // Free this allocator's live objects, every third with free_rcu.
        let mut k = 0;
        for i in 0..SLOTS {
            let s = &self.slots[i];
            let meta = s.meta.load(Ordering::Relaxed);
            let p = s.ptr.load(Ordering::Acquire);
            if p != 0 && p != BUSY && Mode::from_index(meta & 3) == mode {
                k += 1;
                let _ = self.free_slot(i, k % 3 == 0);
            }
        }
        let old = self.allocs[mode.index()]
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(old);
        // The irq_work threads run after the destroy (PREEMPT_RT): work the destroy did not
        // wait for runs now, on freed caches.
        irq_work::run_all();
    }
}

/// No interrupt injection on this thread while it lives (the plan is put back on drop).
struct Quiet(Option<cpu::InterruptPlan>);

impl Quiet {
    fn new() -> Self {
        Quiet(cpu::uninstall())
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            cpu::install(p);
        }
    }
}

/// The spans of the live objects, sorted by start. Objects only overlap if one is handed
/// out over another, so each allocation is checked against its neighbours as it is
/// recorded: the overlap is reported at the step that made it, and no check re-sorts every
/// live object. A sorted vector (at most a few hundred spans, one binary search and one
/// short move per change) rather than a tree: no allocation per object.
#[derive(Debug, Default)]
struct LiveSpans(Vec<(usize, usize)>);

impl LiveSpans {
    /// Records `[start, start + extent)`, or names the live span it overlaps.
    fn insert(&mut self, start: usize, extent: usize) -> Result<(), String> {
        let end = start + extent;
        let at = self.0.partition_point(|&(s, _)| s < start);
        let before = at.checked_sub(1).map(|i| self.0[i]);
        let after = self.0.get(at).copied();
        for (s, e) in before.into_iter().chain(after) {
            if s < end && start < e {
                return Err(format!(
                    "an object handed out at {start:#x} ({extent} bytes with its header) \
                     overlaps a live one at {s:#x} ({} bytes)",
                    e - s
                ));
            }
        }
        self.0.insert(at, (start, end));
        Ok(())
    }

    /// Forgets the span that starts at `start`.
    fn remove(&mut self, start: usize) {
        if let Ok(i) = self.0.binary_search_by_key(&start, |&(s, _)| s) {
            self.0.remove(i);
        }
    }
}

fn stamp_offsets(len: usize) -> impl Iterator<Item = usize> {
    let head = 0..len.min(16);
    let tail = len.saturating_sub(8).max(16)..len;
    head.chain(tail)
}

/// The `percpu_ops` target.
#[derive(Debug, Clone)]
pub struct PercpuOpsTarget {
    name: &'static str,
}

impl PercpuOpsTarget {
    /// The target registered as `name`.
    pub fn new(name: &'static str) -> Self {
        PercpuOpsTarget { name }
    }
}

impl Target for PercpuOpsTarget {
    type Op = PercpuOp;
    type Ret = PercpuRet;
    type Model = ();
    type Sut = PercpuSut;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> PercpuSut {
        cpu::bind(0);
        PercpuSut::new(FIXED_SIZE, &[])
    }

    fn new_model(&self) {}

    fn apply(&self, sut: &PercpuSut, op: &PercpuOp) -> PercpuRet {
        match *op {
            PercpuOp::Alloc { mode, size, slot } => {
                let (ret, obj) = sut.alloc_one(mode, usize::from(size % 4200));
                if let Some(obj) = obj {
                    let s = &sut.slots[usize::from(slot) % SLOTS];
                    if s.ptr.load(Ordering::Acquire) != 0 {
                        // Occupied: free the old one first (its stamp checked).
                        if let v @ PercpuRet::Violation(_) = sut.free_slot(usize::from(slot), false)
                        {
                            return v;
                        }
                    }
                    sut.place(usize::from(slot), obj);
                }
                ret
            }
            PercpuOp::AllocFallback { slot } => {
                let (ret, obj) = sut.alloc_with(Mode::Fixed, FIXED_SIZE, true);
                if let Some(obj) = obj {
                    if let v @ PercpuRet::Violation(_) = sut.free_slot(usize::from(slot), false) {
                        return v;
                    }
                    sut.place(usize::from(slot), obj);
                }
                ret
            }
            PercpuOp::AllocBatch {
                mode,
                size,
                start,
                n,
            } => {
                let size = usize::from(size % 4200);
                let mut placed = 0;
                let mut i = usize::from(start);
                let mut tries = 0;
                while placed < usize::from(n) && tries < SLOTS {
                    tries += 1;
                    if sut.slots[i % SLOTS].ptr.load(Ordering::Acquire) == 0 {
                        match sut.alloc_one(mode, size) {
                            (_, Some(obj)) => {
                                sut.place(i, obj);
                                placed += 1;
                            }
                            (PercpuRet::Null { excused: false }, None) => {
                                return PercpuRet::Null { excused: false }
                            }
                            (v @ PercpuRet::Violation(_), _) => return v,
                            _ => break,
                        }
                    }
                    i += 1;
                }
                PercpuRet::Batch
            }
            PercpuOp::Free { slot } => sut.free_slot(usize::from(slot), false),
            PercpuOp::FreeRcu { slot } => sut.free_slot(usize::from(slot), true),
            PercpuOp::FreeBatch { start, n, rcu } => {
                let mut freed = 0;
                for k in 0..SLOTS {
                    if freed >= usize::from(n) {
                        break;
                    }
                    let i = usize::from(start) + k;
                    if sut.slots[i % SLOTS].ptr.load(Ordering::Acquire) != 0 {
                        if let v @ PercpuRet::Violation(_) = sut.free_slot(i, rcu) {
                            return v;
                        }
                        freed += 1;
                    }
                }
                PercpuRet::Batch
            }
            PercpuOp::Migrate { cpu: c } => {
                cpu::bind(usize::from(c));
                PercpuRet::Done
            }
            PercpuOp::Threaded { on } => {
                irq_work::set_threaded(on);
                PercpuRet::Done
            }
            PercpuOp::IrqWorkThread => {
                cpu::deliver_irq_work(cpu::current());
                PercpuRet::Done
            }
            PercpuOp::GracePeriod => {
                rcu::synchronize();
                rcu::tasks_trace::synchronize();
                rcu::synchronize();
                PercpuRet::Done
            }
            PercpuOp::Drain => {
                for (_, ma) in sut.made() {
                    ma.drain_deferred();
                }
                PercpuRet::Done
            }
            PercpuOp::Destroy { mode } => {
                sut.destroy(mode);
                PercpuRet::Done
            }
            PercpuOp::CheckAll => match sut.check_all() {
                Ok(()) => PercpuRet::Done,
                Err(e) => PercpuRet::Violation(e),
            },
        }
    }

    fn step(&self, _model: &mut (), op: &PercpuOp) -> PercpuRet {
        match *op {
            PercpuOp::Alloc { mode, size, .. } => {
                let size = usize::from(size % 4200);
                if mode == Mode::Classes && (size == 0 || size_class(size + HEADER).is_none()) {
                    PercpuRet::Refused
                } else {
                    PercpuRet::Got
                }
            }
            PercpuOp::AllocFallback { .. } => PercpuRet::Got,
            PercpuOp::AllocBatch { .. } | PercpuOp::FreeBatch { .. } => PercpuRet::Batch,
            _ => PercpuRet::Done,
        }
    }

    fn ret_eq(&self, real: &PercpuRet, model: &PercpuRet) -> bool {
        match (real, model) {
            // Either argument order (the linearizability search passes them both ways).
            (PercpuRet::Null { excused: true }, PercpuRet::Got)
            | (PercpuRet::Got, PercpuRet::Null { excused: true }) => true,
            (a, b) => a == b,
        }
    }

    fn invariants(&self, sut: &PercpuSut, _model: &()) -> Result<(), String> {
        sut.check_all()
    }

    fn validate(&self, sut: &PercpuSut) -> Result<(), String> {
        for (m, ma) in sut.made() {
            ma.validate().map_err(|e| format!("{m:?} allocator: {e}"))?;
        }
        Ok(())
    }

    fn quick_check(
        &self,
        _sut: &PercpuSut,
        _model: &(),
        op: &PercpuOp,
    ) -> Option<Result<(), String>> {
        match op {
            // Their objects were checked as they were freed, or written as they were made;
            // the refills and trims they raised are covered by the allocator's own checks
            // (each a panic at the first wrong step) and by the full checks every few steps.
            // A move to another CPU or to threaded irq_work changes no structure.
            PercpuOp::Alloc { .. }
            | PercpuOp::AllocFallback { .. }
            | PercpuOp::AllocBatch { .. }
            | PercpuOp::Free { .. }
            | PercpuOp::FreeRcu { .. }
            | PercpuOp::FreeBatch { .. }
            | PercpuOp::Migrate { .. }
            | PercpuOp::Threaded { .. } => Some(Ok(())),
            _ => None,
        }
    }

    fn interrupt_op_allowed(&self, op: &PercpuOp, _kind: Interrupt) -> bool {
        matches!(
            op,
            PercpuOp::Alloc { .. } | PercpuOp::Free { .. } | PercpuOp::FreeRcu { .. }
        )
    }

    fn dump(&self, sut: &PercpuSut) -> String {
        let mut out = String::new();
        for (m, ma) in sut.made() {
            let (o, r) = ma.backing_stats();
            out.push_str(&format!(
                "{m:?}: backing obtained {o} returned {r}; free_cnt"
            ));
            for c in 0..ma.nr_cpus() {
                let classes = if m == Mode::Classes { 11 } else { 1 };
                let counts: Vec<usize> = (0..classes).map(|k| ma.free_count(c, k)).collect();
                out.push_str(&format!(" cpu{c}={counts:?}"));
            }
            out.push('\n');
        }
        let live = sut
            .slots
            .iter()
            .filter(|s| s.ptr.load(Ordering::Relaxed) != 0)
            .count();
        out.push_str(&format!("live objects: {live}\n"));
        out
    }
}

impl Drop for PercpuSut {
    fn drop(&mut self) {
        // Give every live object back before the allocators go.
        for i in 0..SLOTS {
            let _ = self.free_slot(i, false);
        }
        for a in &self.allocs {
            drop(a.write().unwrap_or_else(|e| e.into_inner()).take());
        }
        // Work a destroy left raised runs now, in this input (PREEMPT_RT mode), and the next
        // input starts without it.
        irq_work::run_all();
        irq_work::set_threaded(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-wise stamp check agrees with the byte walk: every stamped byte is checked
    /// (a corrupted one is reported at its offset) and no other byte is.
    #[test]
    fn stamp_check_covers_exactly_the_stamped_bytes() {
        for len in 0..80 {
            let mut buf = vec![0u8; len + 1];
            let area = buf.as_mut_ptr() as usize;
            PercpuSut::write_stamp(area, len, 0xf0);
            assert_eq!(PercpuSut::check_stamp(area, len, 0xf0), Ok(()), "len {len}");
            if len > 0 {
                assert!(
                    PercpuSut::check_stamp(area, len, 0xf1).is_err(),
                    "len {len}"
                );
            }
            let stamped: Vec<usize> = stamp_offsets(len).collect();
            for off in 0..len {
                let mut bad = buf.clone();
                bad[off] ^= 0x40;
                let got = PercpuSut::check_stamp(bad.as_ptr() as usize, len, 0xf0);
                if stamped.contains(&off) {
                    let e = got.expect_err("a corrupted stamped byte");
                    assert!(e.starts_with(&format!("live object byte {off} ")), "{e}");
                } else {
                    assert_eq!(got, Ok(()), "len {len}: byte {off} is not stamped");
                }
            }
        }
    }

    /// A span is refused exactly when it overlaps one of the recorded ones, whichever side
    /// it lies on, and a removed span no longer counts.
    #[test]
    fn live_spans_refuse_exactly_the_overlapping_objects() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m) as usize
        };
        for _ in 0..500 {
            let mut live = LiveSpans::default();
            let mut held: Vec<(usize, usize)> = Vec::new();
            for _ in 0..40 {
                if !held.is_empty() && next(3) == 0 {
                    let (s, _) = held.swap_remove(next(held.len() as u64));
                    live.remove(s);
                    continue;
                }
                let (s, n) = (0x7f00_0000_0000 + 8 * next(256), 8 + next(100));
                let pairwise = held.iter().any(|&(hs, hn)| hs < s + n && s < hs + hn);
                let got = live.insert(s, n);
                assert_eq!(got.is_err(), pairwise, "{s:#x}+{n} against {held:x?}");
                if got.is_ok() {
                    held.push((s, n));
                }
            }
        }
    }
}
