//! The BPF memory allocator (`kernel/bpf/memalloc.c`, `include/linux/bpf_mem_alloc.h`):
//! per-CPU caches of free objects that any context, NMI included, can allocate from and free
//! to without blocking, refilled and trimmed by irq_work, with frees that may need a normal
//! RCU grace period (`free_rcu`) and memory that leaves the caches only after an RCU
//! tasks-trace grace period *and* a normal one.
//!
//! # Kernel mapping
//!
//! Faithful (the modern mainline design, about v6.11 and later): the 11 size classes in the
//! kernel's `sizes[]` order and its `size_index` table ([`UNIT_SIZES`], [`size_class`]);
//! the 8-byte object header that is the free-list link while free and the owning cache (the
//! *hint*) while allocated, from which the free side picks the class (7ac5c53e0073) and the
//! trim target (822fb26bdb55); the watermarks and prefill counts ([`watermarks`]); per CPU
//! and class a cache with `free_llist`, `free_llist_extra`, `free_by_rcu`, `waiting_for_gp`,
//! `free_by_rcu_ttrace`, `waiting_for_gp_ttrace`, `free_llist_extra_rcu`, `free_cnt`, the
//! `active` re-entrancy counter, `tgt`, `draining` and the two in-progress flags; the fast
//! paths inside an interrupt-disabled section with irq_work raised before interrupts come
//! back (d2fc491bc41d, 9d7f77f997d9); `bpf_mem_refill` (alloc_bulk reusing the tasks-trace
//! lists under the cache lock of 1c21452d02ee, then fresh zeroed objects from the backing
//! allocator, 997849c4b969; free_bulk trimming to (low+high)/2 into `tgt`'s tasks-trace
//! list), `check_free_by_rcu`, the two grace-period callbacks with one in flight per list,
//! and destroy (draining flag, `irq_work_sync`, draining the seven lists, deferring the
//! final free while callbacks are pending, the leak check of 4ed8b5bcfada).
//!
//! Different, and why:
//! - A tasks-trace grace period does not imply a normal one here (the kernel's
//!   `rcu_trace_implies_rcu_gp()` is taken as false): the tasks-trace callback queues a
//!   normal-RCU callback that frees, so both grace periods always pass.
//! - The backing allocator is the process allocator (`std::alloc::System`, glibc's malloc)
//!   in place of kmalloc, asked through the fault injector (`bpf_mem_refill` may fail; the
//!   prefill, GFP_KERNEL in the kernel, is not failed).
//! - Destroy defers the final free by reference counting: every queued callback and irq_work
//!   holds the allocator's shared state, which goes away (with its leak check) when the last
//!   of them has run; the kernel copies the allocator and queues a work item that waits with
//!   `rcu_barrier` for the same end.
//! - Per-CPU object mode exists for the fixed-size allocator (`MemAlloc::new(size, true)`:
//!   a 16-byte object whose second word points to a per-CPU area of `size` bytes per CPU,
//!   low 1/high 3/batch 1, prefill 1). The kernel's separate
//!   `bpf_mem_alloc_percpu_init`/`percpu_unit_init` for the global per-CPU allocator, the
//!   memcg accounting (`objcg`) and the 2026 destructor hooks are not modelled.
//! - A CPU is the logical CPU of [`crate::sync::cpu`]: the fast paths run inside
//!   [`irq_save`](crate::sync::cpu::irq_save), which claims the CPU against every other
//!   thread, so two threads never run one CPU's fast path at once, and interrupts are the
//!   injected ones of the checking hooks. `bpf_mem_cache_alloc_flags(GFP_KERNEL)`'s direct
//!   fallback is [`MemAlloc::cache_alloc_or_backing`].
//! - `free`/`free_rcu` in fixed-size mode and `cache_free` in size-class mode follow the
//!   hint to the right cache instead of dereferencing the other mode's missing array.

mod llist;

use crate::sync::atomic::{AtomicBool, AtomicIsize, AtomicU32, AtomicUsize, Ordering};
use crate::sync::irq_work::{self, IrqWork};
use crate::sync::shared::{Arc, Weak};
#[cfg(any(mmcheck_hooks, all(feature = "sanitize", mmcheck_model)))]
use crate::sync::stat::CheckLock;
use crate::sync::stat::Counter;
#[cfg(mmcheck_hooks)]
use crate::sync::stat::Word;
use crate::sync::{cpu, fault, rcu, Mutex};
use llist::{for_each, link, Llist, LINK_PREFIX};
use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::NonNull;

/// The kernel's `sizes[]`: the unit sizes of the 11 classes, in its index order.
pub const UNIT_SIZES: [usize; 11] = [96, 192, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/// Number of size classes (`NUM_CACHES`).
pub const NUM_CACHES: usize = 11;

/// The largest unit (`BPF_MEM_ALLOC_SIZE_MAX`).
pub const SIZE_MAX: usize = 4096;

/// The object header (`LLIST_NODE_SZ`): the link while free, the hint while allocated.
pub const HEADER: usize = 8;

/// The object of the per-CPU mode: the header and the per-CPU area pointer.
pub const PERCPU_OBJ_SIZE: usize = 16;

/// The kernel's `size_index`: the class (1-based) of each 8-byte step up to 192.
const SIZE_INDEX: [u8; 24] = [
    3, 3, 4, 4, 5, 5, 5, 5, 1, 1, 1, 1, 6, 6, 6, 6, 2, 2, 2, 2, 2, 2, 2, 2,
];

/// `bpf_mem_cache_idx(size)`: the index into [`UNIT_SIZES`] of the smallest class holding
/// `size` bytes (header included); `None` for 0 and above 4096.
pub fn size_class(size: usize) -> Option<usize> {
    if size == 0 || size > SIZE_MAX {
        return None;
    }
    if size <= 192 {
        return Some(usize::from(SIZE_INDEX[(size - 1) / 8]) - 1);
    }
    // fls(size - 1) - 2: 193..=256 → 6, …, 2049..=4096 → 10.
    let fls = (usize::BITS - (size - 1).leading_zeros()) as usize;
    Some(fls - 2)
}

/// A cache's watermarks and prefill count (`init_refill_work`, `prefill_mem_cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Watermarks {
    /// Below this many free objects a refill is raised.
    pub low: usize,
    /// Above this many a trim is raised.
    pub high: usize,
    /// Objects a refill adds.
    pub batch: usize,
    /// Objects put in each cache at init.
    pub prefill: usize,
}

/// The kernel's watermarks for a cache of `unit_size` (per-CPU mode: 1/3/1, prefill 1;
/// units up to 256: 32/96/48, prefill 4; larger: scaled to 32·256 and 96·256 bytes).
pub fn watermarks(unit_size: usize, percpu: bool) -> Watermarks {
    let (low, high) = if percpu {
        (1, 3)
    } else if unit_size <= 256 {
        (32, 96)
    } else {
        ((32 * 256 / unit_size).max(1), (96 * 256 / unit_size).max(3))
    };
    Watermarks {
        low,
        high,
        // Division before the multiplication, as the kernel writes it.
        batch: ((high - low) / 4 * 3).max(1),
        prefill: if !percpu && unit_size <= 256 { 4 } else { 1 },
    }
}

/// Why an allocator could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemAllocError {
    /// `MemAlloc::new(0, true)`: a per-CPU allocator needs a size (`-EINVAL`).
    InvalidSize,
    /// The backing allocator could not provide the caches (`-ENOMEM`).
    NoMem,
}

impl std::fmt::Display for MemAllocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MemAllocError::InvalidSize => "invalid size for a per-CPU allocator",
            MemAllocError::NoMem => "out of memory",
        })
    }
}

impl std::error::Error for MemAllocError {}

/// A broken invariant found by [`MemAlloc::validate`] (or by the checking hooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Violation {}

/// How often each path of the allocator ran, over the whole process (all allocators): what
/// a generator test asserts random inputs reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathStats {
    /// `bpf_mem_refill` runs that called `alloc_bulk`.
    pub refill: u64,
    /// Objects `alloc_bulk` reused from the tasks-trace lists.
    pub reused: u64,
    /// Objects taken fresh from the backing allocator.
    pub fresh: u64,
    /// `alloc_bulk` stopped by a backing-allocation failure.
    pub refill_failed: u64,
    /// `free_bulk` runs (trims).
    pub trim: u64,
    /// Allocations that found the cache busy (`active` taken: a nested NMI).
    pub nested_null: u64,
    /// Frees that went to `free_llist_extra` (nested).
    pub nested_free: u64,
    /// `free_rcu`s that went to `free_llist_extra_rcu` (nested).
    pub nested_free_rcu: u64,
    /// Normal grace periods started by `check_free_by_rcu`.
    pub rcu_gp: u64,
    /// Tasks-trace grace periods started by `do_call_rcu_ttrace`.
    pub ttrace_gp: u64,
    /// `__free_by_rcu` callbacks run.
    pub free_by_rcu_done: u64,
    /// `__free_rcu` runs (objects back to the backing allocator after both grace periods).
    pub ttrace_done: u64,
    /// Objects freed directly by a draining cache (destroy).
    pub drained: u64,
}

macro_rules! path_counters {
    ($($f:ident),*) => {
        struct Paths { $($f: Counter),* }
        static PATHS: Paths = Paths { $($f: Counter::new()),* };
        /// The process-wide [`PathStats`].
        pub fn path_stats() -> PathStats {
            PathStats { $($f: PATHS.$f.get()),* }
        }
    };
}
path_counters!(
    refill,
    reused,
    fresh,
    refill_failed,
    trim,
    nested_null,
    nested_free,
    nested_free_rcu,
    rcu_gp,
    ttrace_gp,
    free_by_rcu_done,
    ttrace_done,
    drained
);

/// One CPU's cache of one class (`struct bpf_mem_cache`).
#[repr(align(128))]
struct Cache {
    /// Owner-only free list (`__llist_add`/`__llist_del_first` inside `active`).
    free_llist: Llist,
    /// Length of `free_llist`; written only by the owner, read by anyone.
    free_cnt: AtomicIsize,
    /// Re-entrancy counter (`local_t active`): plain load and store by the owning CPU.
    active: AtomicU32,
    /// Frees that found `active` busy (an NMI inside a fast path): atomic pushes.
    free_llist_extra: Llist,
    /// `free_rcu` objects, owner-only, with their tail.
    free_by_rcu: Llist,
    free_by_rcu_tail: AtomicUsize,
    /// `free_rcu` objects waiting for a normal grace period, with their tail.
    waiting_for_gp: Llist,
    waiting_for_gp_tail: AtomicUsize,
    /// Objects on their way to the backing allocator; other CPUs push here.
    free_by_rcu_ttrace: Llist,
    /// Objects waiting for the tasks-trace (then normal) grace period.
    waiting_for_gp_ttrace: Llist,
    /// Nested `free_rcu`s.
    free_llist_extra_rcu: Llist,
    call_rcu_in_progress: AtomicU32,
    call_rcu_ttrace_in_progress: AtomicU32,
    /// The cache that allocated the last object freed here (the trim target).
    tgt: AtomicUsize,
    draining: AtomicBool,
    /// Serialises `del_first` on the tasks-trace lists against their `del_all`
    /// (1c21452d02ee).
    lock: Mutex<()>,
    unit_size: usize,
    percpu_size: usize,
    low: isize,
    high: isize,
    batch: usize,
    cpu: usize,
    class: usize,
    /// The refill irq_work (`refill_work`).
    refill: Arc<IrqWork>,
    /// `alloc_bulk` runs that stopped short on a backing-allocation failure.
    refill_failed: Counter,
    // Accounting for `validate` (single-writer counters where noted).
    /// Objects obtained from the backing allocator.
    obtained: Counter,
    /// Objects returned to it.
    returned: Counter,
    /// Objects handed out by this cache (owner only).
    allocs: Counter,
    /// Objects freed to this cache (owner only).
    frees: Counter,
}

impl Cache {
    #[inline(always)]
    fn addr(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// `local_inc_return(&c->active)`.
    #[inline(always)]
    fn inc_active(&self) -> u32 {
        let a = self.active.load(Ordering::Relaxed) + 1;
        self.active.store(a, Ordering::Relaxed);
        a
    }

    /// `local_dec(&c->active)` at the end of the section whose [`Cache::inc_active`]
    /// returned `a`. Nested contexts (an NMI inside the section) leave the counter as they
    /// found it, so it holds `a` again here, and the store writes `a - 1` without waiting
    /// for the load: the counter is on the critical dependency chain of every fast path, and
    /// a load-then-store decrement doubles that chain. The load only checks the balance: a
    /// nested context that did not undo its increment is reported here, at the first section
    /// it outlives.
    #[inline(always)]
    fn dec_active(&self, a: u32) {
        let now = self.active.load(Ordering::Relaxed);
        if now != a {
            unbalanced_active(self.cpu, a, now);
        }
        self.active.store(a.wrapping_sub(1), Ordering::Relaxed);
    }

    #[inline(always)]
    fn cnt(&self) -> isize {
        self.free_cnt.load(Ordering::Relaxed)
    }

    #[inline(always)]
    fn set_cnt(&self, n: isize) {
        self.free_cnt.store(n, Ordering::Relaxed);
    }
}

/// Hashes object addresses for the checking maps: a multiplicative hash of the address
/// without its alignment bits (the maps are on every checked operation; std's SipHash
/// costs more than the operation it checks).
#[cfg(mmcheck_hooks)]
#[derive(Default, Clone, Copy)]
struct AddrHasher(u64);

#[cfg(mmcheck_hooks)]
impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = ((n as u64) >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The seven lists of a cache, in `drain_mem_cache`'s naming and walking order.
const LIST_NAMES: [&str; 7] = [
    "free_llist",
    "free_llist_extra",
    "free_by_rcu",
    "waiting_for_gp",
    "free_by_rcu_ttrace",
    "waiting_for_gp_ttrace",
    "free_llist_extra_rcu",
];

/// A cache's name in reports: `cpu N class K (unit U)`.
struct CacheName<'a>(&'a Cache);

impl std::fmt::Display for CacheName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.0;
        write!(f, "cpu {} class {} (unit {})", c.cpu, c.class, c.unit_size)
    }
}

/// The hasher of the checking maps.
#[cfg(mmcheck_hooks)]
type AddrHash = std::hash::BuildHasherDefault<AddrHasher>;

/// What the checking hooks remember of every object (`mmcheck_hooks` builds).
#[cfg(mmcheck_hooks)]
#[derive(Debug, Clone, Copy)]
struct ObjState {
    /// Handed out and not freed.
    live: bool,
    /// The class of the cache that handed it out last.
    class: usize,
    /// Grace periods completed (normal, tasks-trace) when it last entered
    /// `waiting_for_gp_ttrace`, or when it was freed with `free_rcu`.
    gp_stamp: Option<(u64, u64)>,
    /// Normal grace periods completed when it was last freed with `free_rcu`.
    rcu_freed_at: Option<u64>,
    /// Given back to the backing allocator (on the model backends its memory is kept, so
    /// the address is not reused while the allocator lives).
    released: bool,
    /// By which path.
    released_by: &'static str,
    /// The last `validate` that found it on a list (a second sighting in the same one is an
    /// object on two lists).
    listed_in: usize,
}

/// The allocator's shared state. Callbacks and irq_work hold it, so it outlives a
/// [`MemAlloc`] dropped while they are pending.
struct Inner {
    caches: Box<[Cache]>,
    /// Classes per CPU: 11, or 1 in fixed-size mode.
    nclasses: usize,
    fixed: bool,
    percpu: bool,
    /// The per-CPU area size of per-CPU mode (0 otherwise).
    percpu_unit: usize,
    /// Grace-period callbacks queued and not yet run.
    in_flight: Counter,
    /// The final accounting once the allocator was destroyed: objects returned to the
    /// backing allocator by destroy and by late callbacks.
    destroyed: AtomicBool,
    #[cfg(mmcheck_hooks)]
    objects: CheckLock<std::collections::HashMap<usize, ObjState, AddrHash>>,
    /// Checking builds: `validate` calls so far (each marks the objects it finds listed).
    #[cfg(mmcheck_hooks)]
    validations: Word,
    /// Checking builds on std: held by `validate` and by every grace-period callback.
    #[cfg(all(mmcheck_hooks, not(mmcheck_model)))]
    checking: CheckLock<()>,
    /// Freed objects kept poisoned until the allocator's state goes away (model backends
    /// with the sanitizer), so a late reader is a use-after-free report.
    #[cfg(all(feature = "sanitize", mmcheck_model))]
    quarantine: CheckLock<Vec<(usize, Layout)>>,
}

// SAFETY: the raw object addresses in the lists are owned by the allocator, and every list
// follows the access rules written at its field (owner CPU under the claim, or atomics).
unsafe impl Send for Inner {}
// SAFETY: as above.
unsafe impl Sync for Inner {}

/// A BPF memory allocator (`struct bpf_mem_alloc`): either 11 size classes
/// (`MemAlloc::new(0, false)`) or one fixed-size cache (`MemAlloc::new(size, percpu)`).
/// Dropping it is `bpf_mem_alloc_destroy`.
pub struct MemAlloc {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemAlloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemAlloc")
            .field("fixed", &self.inner.fixed)
            .field("percpu", &self.inner.percpu)
            .field("cpus", &self.nr_cpus())
            .finish_non_exhaustive()
    }
}

impl MemAlloc {
    /// `bpf_mem_alloc_init(ma, size, percpu)`: `size == 0` gives the 11 size classes (not
    /// with `percpu`: [`MemAllocError::InvalidSize`]); otherwise one cache per CPU of unit
    /// `size + 8` (per-CPU mode: 16-byte objects pointing at `size` bytes per CPU). Every
    /// cache of every CPU is prefilled.
    pub fn new(size: usize, percpu: bool) -> Result<MemAlloc, MemAllocError> {
        if percpu && size == 0 {
            return Err(MemAllocError::InvalidSize);
        }
        let fixed = size != 0;
        let units: Vec<usize> = if !fixed {
            UNIT_SIZES.to_vec()
        } else if percpu {
            vec![size]
        } else {
            vec![size.checked_add(HEADER).ok_or(MemAllocError::InvalidSize)?]
        };
        if Layout::from_size_align(units[0] + LINK_PREFIX, 8).is_err() {
            return Err(MemAllocError::InvalidSize);
        }
        let nclasses = units.len();
        let ncpus = cpu::nr_cpus();
        let mut caches = Vec::new();
        caches
            .try_reserve_exact(ncpus * nclasses)
            .map_err(|_| MemAllocError::NoMem)?;
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            for c in 0..ncpus {
                for (k, &unit) in units.iter().enumerate() {
                    let wm = watermarks(unit, percpu);
                    let w = weak.clone();
                    let idx = c * nclasses + k;
                    caches.push(Cache {
                        free_llist: Llist::new(),
                        free_cnt: AtomicIsize::new(0),
                        active: AtomicU32::new(0),
                        free_llist_extra: Llist::new(),
                        free_by_rcu: Llist::new(),
                        free_by_rcu_tail: AtomicUsize::new(0),
                        waiting_for_gp: Llist::new(),
                        waiting_for_gp_tail: AtomicUsize::new(0),
                        free_by_rcu_ttrace: Llist::new(),
                        waiting_for_gp_ttrace: Llist::new(),
                        free_llist_extra_rcu: Llist::new(),
                        call_rcu_in_progress: AtomicU32::new(0),
                        call_rcu_ttrace_in_progress: AtomicU32::new(0),
                        tgt: AtomicUsize::new(0),
                        draining: AtomicBool::new(false),
                        lock: Mutex::new(()),
                        unit_size: unit,
                        percpu_size: if percpu { PERCPU_OBJ_SIZE } else { 0 },
                        low: wm.low as isize,
                        high: wm.high as isize,
                        batch: wm.batch,
                        cpu: c,
                        class: k,
                        refill_failed: Counter::new(),
                        refill: IrqWork::new(move || {
                            // Destroy waits for this work (`irq_work_sync`): running after it
                            // is the kernel's use-after-free of the freed caches
                            // (3d05818707bb), reachable when the work is threaded
                            // (PREEMPT_RT).
                            match w.upgrade() {
                                Some(inner) if !inner.destroyed.load(Ordering::Acquire) => {
                                    inner.refill(&inner.caches[idx]);
                                }
                                _ => warn(format_args!(
                                    "refill irq_work ran after bpf_mem_alloc_destroy                                      (use-after-free of the caches)"
                                )),
                            }
                        }),
                        obtained: Counter::new(),
                        returned: Counter::new(),
                        allocs: Counter::new(),
                        frees: Counter::new(),
                    });
                }
            }
            Inner {
                caches: std::mem::take(&mut caches).into_boxed_slice(),
                nclasses,
                fixed,
                percpu,
                percpu_unit: if percpu { size } else { 0 },
                in_flight: Counter::new(),
                destroyed: AtomicBool::new(false),
                #[cfg(all(mmcheck_hooks, not(mmcheck_model)))]
                checking: CheckLock::new(()),
                #[cfg(mmcheck_hooks)]
                validations: Word::new(0),
                #[cfg(mmcheck_hooks)]
                objects: CheckLock::new(std::collections::HashMap::with_capacity_and_hasher(
                    512,
                    AddrHash::default(),
                )),
                #[cfg(all(feature = "sanitize", mmcheck_model))]
                quarantine: CheckLock::new(Vec::new()),
            }
        });
        for c in inner.caches.iter() {
            c.tgt.store(c.addr(), Ordering::Relaxed);
        }
        // Prefill (GFP_KERNEL in the kernel: not failed by the injector), from this thread
        // on every CPU's behalf, as `prefill_mem_cache` runs on the init task.
        fault::without_faults(|| {
            for c in inner.caches.iter() {
                let n = watermarks(c.unit_size, percpu).prefill;
                inner.alloc_bulk(c, n);
            }
        });
        Ok(MemAlloc { inner })
    }

    /// The number of CPUs the allocator has caches for.
    pub fn nr_cpus(&self) -> usize {
        self.inner.caches.len() / self.inner.nclasses
    }

    /// True for the fixed-size mode.
    pub fn is_fixed_size(&self) -> bool {
        self.inner.fixed
    }

    /// True for per-CPU object mode.
    pub fn is_percpu(&self) -> bool {
        self.inner.percpu
    }

    /// `bpf_mem_alloc(ma, size)`: an object of at least `size` bytes from the current CPU's
    /// cache of the class of `size + 8`. `None` for 0, for `size + 8 > 4096`, in fixed-size
    /// mode, or when the cache is empty or busy (an NMI inside its fast path).
    #[inline]
    pub fn alloc(&self, size: usize) -> Option<NonNull<u8>> {
        if self.inner.fixed || size == 0 {
            return None;
        }
        let class = size_class(size.checked_add(HEADER)?)?;
        self.inner.unit_alloc(class).map(user_ptr)
    }

    /// `bpf_mem_free(ma, ptr)`: returns the object to the current CPU's cache of the class
    /// its header names; it may be handed out again at once (type-stable memory).
    ///
    /// # Safety
    /// `ptr` came from [`MemAlloc::alloc`] (or `cache_alloc`) of this allocator and is freed
    /// once; nothing uses it afterwards except RCU readers that tolerate reuse.
    #[inline]
    pub unsafe fn free(&self, ptr: NonNull<u8>) {
        let obj = ptr.as_ptr() as usize - HEADER;
        // SAFETY: the caller's guarantee.
        let class = unsafe { self.inner.class_of(obj) };
        // SAFETY: as above.
        unsafe { self.inner.unit_free(obj, class) }
    }

    /// `bpf_mem_free_rcu(ma, ptr)`: as [`MemAlloc::free`], but the object is not handed out
    /// again before a normal RCU grace period has passed.
    ///
    /// # Safety
    /// As for [`MemAlloc::free`].
    pub unsafe fn free_rcu(&self, ptr: NonNull<u8>) {
        let obj = ptr.as_ptr() as usize - HEADER;
        // SAFETY: the caller's guarantee.
        let class = unsafe { self.inner.class_of(obj) };
        // SAFETY: as above.
        unsafe { self.inner.unit_free_rcu(obj, class) }
    }

    /// `bpf_mem_cache_alloc(ma)`: an object of the fixed-size cache; `None` in size-class
    /// mode or when the cache is empty or busy.
    #[inline]
    pub fn cache_alloc(&self) -> Option<NonNull<u8>> {
        if !self.inner.fixed {
            return None;
        }
        self.inner.unit_alloc(0).map(user_ptr)
    }

    /// `bpf_mem_cache_alloc_flags(ma, GFP_KERNEL)`: [`MemAlloc::cache_alloc`], and when that
    /// gives nothing, an object straight from the backing allocator with its owner hint
    /// written (75a442581d05).
    pub fn cache_alloc_or_backing(&self) -> Option<NonNull<u8>> {
        if let Some(p) = self.cache_alloc() {
            return Some(p);
        }
        if !self.inner.fixed {
            return None;
        }
        let irqs = cpu::irq_save();
        let c = self.inner.cache(irqs.cpu(), 0);
        let obj = self.inner.backing_alloc(c)?;
        // SAFETY: a fresh object we own.
        unsafe { link(obj) }.store(c.addr(), Ordering::Relaxed);
        // Counted as handed out by that cache (inside its CPU's section), so conservation
        // holds.
        c.allocs.add_local(1);
        drop(irqs);
        self.inner.note_alloc(obj, c);
        Some(user_ptr(obj))
    }

    /// `bpf_mem_cache_free(ma, ptr)`.
    ///
    /// # Safety
    /// As for [`MemAlloc::free`].
    #[inline]
    pub unsafe fn cache_free(&self, ptr: NonNull<u8>) {
        // SAFETY: the caller's guarantee; the hint finds the cache in either mode.
        unsafe { self.free(ptr) }
    }

    /// `bpf_mem_cache_free_rcu(ma, ptr)`.
    ///
    /// # Safety
    /// As for [`MemAlloc::free`].
    pub unsafe fn cache_free_rcu(&self, ptr: NonNull<u8>) {
        // SAFETY: the caller's guarantee.
        unsafe { self.free_rcu(ptr) }
    }

    /// The per-CPU area of `cpu` of a per-CPU-mode object (`per_cpu_ptr` of the pointer the
    /// object holds); `None` in the other modes.
    ///
    /// # Safety
    /// `ptr` is a live object of this allocator.
    pub unsafe fn percpu_area(&self, ptr: NonNull<u8>, cpu: usize) -> Option<NonNull<u8>> {
        if !self.inner.percpu {
            return None;
        }
        // SAFETY: the object's second word holds the area pointer.
        let area = unsafe { ptr.as_ptr().cast::<usize>().read() };
        NonNull::new((area + (cpu % self.nr_cpus()) * self.inner.percpu_unit) as *mut u8)
    }

    /// Runs every pending irq_work and grace-period callback of the allocator until none is
    /// left (quiescence). Must not be called inside an RCU read section.
    pub fn drain_deferred(&self) {
        self.inner.drain_deferred();
    }

    /// `free_cnt` of `cpu`'s cache of `class` (0 in fixed-size mode). Out-of-range
    /// arguments give 0.
    pub fn free_count(&self, cpu: usize, class: usize) -> usize {
        if cpu >= self.nr_cpus() || class >= self.inner.nclasses {
            return 0;
        }
        usize::try_from(self.inner.cache(cpu, class).cnt()).unwrap_or(0)
    }

    /// How many refills of `cpu`'s cache of `class` stopped short on a failure of the
    /// backing allocator (after one, that cache may be found empty until a refill succeeds).
    pub fn refill_failures(&self, cpu: usize, class: usize) -> u64 {
        if cpu >= self.nr_cpus() || class >= self.inner.nclasses {
            return 0;
        }
        self.inner.cache(cpu, class).refill_failed.get()
    }

    /// Objects obtained from and returned to the backing allocator so far, over all caches.
    pub fn backing_stats(&self) -> (u64, u64) {
        let obtained = self.inner.caches.iter().map(|c| c.obtained.get()).sum();
        let returned = self.inner.caches.iter().map(|c| c.returned.get()).sum();
        (obtained, returned)
    }

    /// Bytes held by the allocator's caches on `cpu` (objects on any of its lists, at their
    /// unit size): the per-CPU memory the kernel's comment estimates.
    pub fn cached_bytes(&self, cpu: usize) -> usize {
        let inner = &self.inner;
        (0..inner.nclasses)
            .map(|k| {
                let c = inner.cache(cpu % inner.ncpus(), k);
                let mut n = 0;
                // SAFETY: quiescent (the caller's moment): nobody changes the lists.
                Inner::visit_chains(c, Llist::first, |_, _| n += 1);
                n * c.unit_size
            })
            .sum()
    }

    /// Checks every invariant that holds at a quiescent point (no operation in flight):
    /// per-cache `free_cnt` equals the length of `free_llist` and `active` is 0; no object is
    /// on two lists; objects obtained − returned == objects on lists + live objects; every
    /// object on a cache's lists has that cache's unit size (checking builds: was handed
    /// out by a cache of that class); at most one callback in flight per list, and a
    /// waiting list non-empty only while its callback is in flight; `tgt` has the same unit
    /// size.
    pub fn validate(&self) -> Result<(), Violation> {
        self.inner.validate()
    }
}

impl Drop for MemAlloc {
    /// `bpf_mem_alloc_destroy`.
    fn drop(&mut self) {
        self.inner.destroy();
    }
}

#[inline(always)]
fn user_ptr(obj: usize) -> NonNull<u8> {
    // SAFETY: objects are non-null allocations; the header is inside them.
    unsafe { NonNull::new_unchecked((obj + HEADER) as *mut u8) }
}

/// What a released object's link holds under the models: the backing allocator's own use of
/// the word (an address no object has).
const FREED_LINK: usize = 0x6b6b_6b6b_6b6b_6b68;

/// Raises a checking failure: a panic the harness titles (the kernel WARNs).
#[cold]
#[track_caller]
fn warn(msg: std::fmt::Arguments<'_>) -> ! {
    panic!("WARNING: bpf_mem_alloc: {msg}")
}

/// The report of [`Cache::dec_active`]'s balance check.
#[cold]
#[inline(never)]
fn unbalanced_active(cpu: usize, expected: u32, found: u32) -> ! {
    warn(format_args!(
        "active is {found} at the end of a section on cpu {cpu} that raised it to {expected}: a nested context did not undo its increment"
    ))
}

impl Inner {
    /// `cpu`'s cache of `class`; `cpu` is below `nr_cpus` (a claimed CPU, or checked).
    #[inline(always)]
    fn cache(&self, cpu: usize, class: usize) -> &Cache {
        let i = cpu * self.nclasses + class;
        debug_assert!(i < self.caches.len(), "cache {i} out of range");
        // SAFETY: `cpu` is below `nr_cpus()`, fixed for the process, for which the caches
        // were made (a claimed CPU, or checked by the caller), and `class` below `nclasses`.
        unsafe { self.caches.get_unchecked(i) }
    }

    fn ncpus(&self) -> usize {
        self.caches.len() / self.nclasses
    }

    /// The cache named by an object's hint, checked to be one of ours.
    ///
    /// # Safety
    /// `obj` is an allocated object of some allocator.
    #[inline(always)]
    unsafe fn hint(&self, obj: usize) -> &Cache {
        // SAFETY: the caller's guarantee.
        let h = unsafe { link(obj) }.load(Ordering::Relaxed);
        let off = h.wrapping_sub(self.caches.as_ptr() as usize);
        let size = std::mem::size_of::<Cache>();
        if off >= self.caches.len() * size || off % size != 0 {
            warn(format_args!(
                "object {:#x} is not allocated from this allocator (header {h:#x})",
                obj + HEADER
            ));
        }
        // SAFETY: `h` is the address of one of our caches (checked above).
        unsafe { &*(h as *const Cache) }
    }

    /// The class the free side uses: `bpf_mem_cache_idx(hint->unit_size)`.
    ///
    /// # Safety
    /// As for [`Inner::hint`].
    #[inline(always)]
    unsafe fn class_of(&self, obj: usize) -> usize {
        // SAFETY: the caller's guarantee.
        let c = unsafe { self.hint(obj) };
        if self.fixed {
            return 0;
        }
        match size_class(c.unit_size) {
            Some(k) => k,
            None => warn(format_args!("hint unit size {} has no class", c.unit_size)),
        }
    }

    // ---- the fast paths --------------------------------------------------------------

    /// `unit_alloc`.
    #[inline]
    fn unit_alloc(&self, class: usize) -> Option<usize> {
        cpu::interrupt_point("unit_alloc:entry");
        let irqs = cpu::irq_save();
        let c = self.cache(irqs.cpu(), class);
        let mut obj = None;
        let mut cnt: isize = 0;
        let active = c.inc_active();
        if active == 1 {
            cpu::interrupt_point("unit_alloc:active");
            // SAFETY: `active` is ours and the CPU is claimed: nobody else touches the list.
            if let Some(o) = unsafe { c.free_llist.pop_local() } {
                cnt = c.cnt() - 1;
                c.set_cnt(cnt);
                // The hint: the owning cache, in the header.
                // SAFETY: we own `o` now.
                unsafe { link(o) }.store(c.addr(), Ordering::Relaxed);
                c.allocs.add_local(1);
                obj = Some(o);
            }
        } else {
            PATHS.nested_null.add(1);
        }
        c.dec_active(active);
        if cnt < 0 {
            warn(format_args!("free_cnt below zero on cpu {}", c.cpu));
        }
        if cnt < c.low {
            irq_work::queue(&c.refill);
        }
        drop(irqs);
        if let Some(o) = obj {
            self.note_alloc(o, c);
        }
        obj
    }

    /// `unit_free`.
    ///
    /// # Safety
    /// `obj` is a live object of this allocator of class `class`, freed once.
    #[inline]
    unsafe fn unit_free(&self, obj: usize, class: usize) {
        self.note_free(obj, class, false);
        // SAFETY: the caller's guarantee.
        let hint = unsafe { link(obj) }.load(Ordering::Relaxed);
        cpu::interrupt_point("unit_free:entry");
        let irqs = cpu::irq_save();
        let c = self.cache(irqs.cpu(), class);
        c.tgt.store(hint, Ordering::Relaxed);
        let mut cnt: isize = 0;
        let active = c.inc_active();
        if active == 1 {
            cpu::interrupt_point("unit_free:active");
            // SAFETY: `active` is ours on the claimed CPU.
            unsafe { c.free_llist.push_local(obj) };
            cnt = c.cnt() + 1;
            c.set_cnt(cnt);
        } else {
            // Re-entered (an NMI inside a fast path): the atomic side list.
            // SAFETY: we own `obj`.
            unsafe { c.free_llist_extra.push(obj) };
            PATHS.nested_free.add(1);
        }
        c.frees.add_local(1);
        c.dec_active(active);
        if cnt > c.high {
            irq_work::queue(&c.refill);
        }
        drop(irqs);
    }

    /// `unit_free_rcu`.
    ///
    /// # Safety
    /// As for [`Inner::unit_free`].
    unsafe fn unit_free_rcu(&self, obj: usize, class: usize) {
        self.note_free(obj, class, true);
        // SAFETY: the caller's guarantee.
        let hint = unsafe { link(obj) }.load(Ordering::Relaxed);
        cpu::interrupt_point("unit_free_rcu:entry");
        let irqs = cpu::irq_save();
        let c = self.cache(irqs.cpu(), class);
        c.tgt.store(hint, Ordering::Relaxed);
        let active = c.inc_active();
        if active == 1 {
            cpu::interrupt_point("unit_free_rcu:active");
            // SAFETY: `active` is ours on the claimed CPU.
            unsafe {
                if c.free_by_rcu.is_empty() {
                    c.free_by_rcu_tail.store(obj, Ordering::Relaxed);
                }
                c.free_by_rcu.push_local(obj);
            }
        } else {
            // SAFETY: we own `obj`.
            unsafe { c.free_llist_extra_rcu.push(obj) };
            PATHS.nested_free_rcu.add(1);
        }
        c.frees.add_local(1);
        c.dec_active(active);
        if c.call_rcu_in_progress.load(Ordering::Acquire) == 0 {
            irq_work::queue(&c.refill);
        }
        drop(irqs);
    }

    // ---- deferred work ---------------------------------------------------------------

    /// `bpf_mem_refill`: the irq_work, on the cache's own CPU.
    fn refill(&self, c: &Cache) {
        let cnt = c.cnt();
        if cnt < c.low {
            PATHS.refill.add(1);
            self.alloc_bulk(c, c.batch);
        } else if cnt > c.high {
            PATHS.trim.add(1);
            self.free_bulk(c);
        }
        self.check_free_by_rcu(c);
    }

    /// `add_obj_to_free_list`.
    fn add_obj_to_free_list(&self, c: &Cache, obj: usize) {
        let irqs = cpu::irq_save();
        let active = c.inc_active();
        if active != 1 {
            warn(format_args!(
                "refill re-entered a busy cache on cpu {}",
                c.cpu
            ));
        }
        // SAFETY: `active` is ours on the claimed CPU; we own `obj`.
        unsafe { c.free_llist.push_local(obj) };
        c.set_cnt(c.cnt() + 1);
        c.dec_active(active);
        drop(irqs);
    }

    /// `alloc_bulk`: up to `n` objects onto `free_llist`, first from the tasks-trace lists
    /// (objects on their way out, type-stable memory), then fresh from the backing
    /// allocator, stopping at its first failure.
    fn alloc_bulk(&self, c: &Cache, n: usize) {
        let mut got = 0;
        {
            let _lock = c.lock.lock();
            while got < n {
                let Some(obj) = c
                    .free_by_rcu_ttrace
                    .del_first_checked(|o| self.reuse_link_read(o))
                else {
                    break;
                };
                self.note_reuse(obj);
                self.add_obj_to_free_list(c, obj);
                PATHS.reused.add(1);
                got += 1;
                cpu::interrupt_point("alloc_bulk:reuse");
            }
            while got < n {
                let Some(obj) = c
                    .waiting_for_gp_ttrace
                    .del_first_checked(|o| self.reuse_link_read(o))
                else {
                    break;
                };
                self.note_reuse(obj);
                self.add_obj_to_free_list(c, obj);
                PATHS.reused.add(1);
                got += 1;
            }
        }
        while got < n {
            if fault::should_fail("bpf_mem_refill") {
                PATHS.refill_failed.add(1);
                c.refill_failed.add(1);
                return;
            }
            let Some(obj) = self.backing_alloc(c) else {
                PATHS.refill_failed.add(1);
                c.refill_failed.add(1);
                return;
            };
            PATHS.fresh.add(1);
            self.add_obj_to_free_list(c, obj);
            got += 1;
            cpu::interrupt_point("alloc_bulk:fresh");
        }
    }

    /// Before `alloc_bulk`'s `llist_del_first` reads the link of the head it loaded: an
    /// interrupt point (an NMI that stalls this CPU here widens the window in which another
    /// CPU's `llist_del_all` could take and free that head), then the check that it was not.
    fn reuse_link_read(&self, obj: usize) {
        cpu::interrupt_point("alloc_bulk:del_first");
        self.note_link_read(obj);
    }

    /// `free_bulk`: trims `free_llist` to (low + high) / 2 and hands the surplus, and the
    /// nested frees of `free_llist_extra`, to the owner cache `tgt`'s tasks-trace path.
    fn free_bulk(&self, c: &Cache) {
        let tgt_addr = c.tgt.load(Ordering::Relaxed);
        // SAFETY: `tgt` is always a cache of this allocator (set from checked hints).
        let tgt = unsafe { &*(tgt_addr as *const Cache) };
        if tgt.unit_size != c.unit_size || tgt.percpu_size != c.percpu_size {
            warn(format_args!(
                "free_bulk: target unit size {} differs from {}",
                tgt.unit_size, c.unit_size
            ));
        }
        let target = (c.low + c.high) / 2;
        loop {
            let irqs = cpu::irq_save();
            let active = c.inc_active();
            if active != 1 {
                warn(format_args!("free_bulk re-entered a busy cache"));
            }
            // SAFETY: `active` is ours on the claimed CPU.
            let obj = unsafe { c.free_llist.pop_local() };
            let cnt = if obj.is_some() {
                let n = c.cnt() - 1;
                c.set_cnt(n);
                n
            } else {
                0
            };
            c.dec_active(active);
            drop(irqs);
            if let Some(o) = obj {
                // SAFETY: we own `o`.
                unsafe { tgt.free_by_rcu_ttrace.push(o) };
            }
            cpu::interrupt_point("free_bulk:loop");
            if cnt <= target {
                break;
            }
        }
        // SAFETY: the chain is ours after `del_all`.
        unsafe {
            for_each(c.free_llist_extra.del_all(), |o| {
                tgt.free_by_rcu_ttrace.push(o);
            })
        };
        self.do_call_rcu_ttrace(tgt);
    }

    /// `do_call_rcu_ttrace`: starts the tasks-trace grace period of `c`'s
    /// `free_by_rcu_ttrace` unless one is in flight.
    fn do_call_rcu_ttrace(&self, c: &Cache) {
        if c.call_rcu_ttrace_in_progress.swap(1, Ordering::AcqRel) == 1 {
            if c.draining.load(Ordering::Acquire) {
                let first = {
                    let _lock = c.lock.lock();
                    c.free_by_rcu_ttrace.del_all()
                };
                self.free_all(
                    c,
                    first,
                    "do_call_rcu_ttrace (draining, grace period in flight)",
                );
            }
            return;
        }
        if !c.waiting_for_gp_ttrace.is_empty() {
            warn(format_args!(
                "waiting_for_gp_ttrace not empty at a new grace period"
            ));
        }
        {
            let _lock = c.lock.lock();
            // SAFETY: the chain is ours after `del_all`.
            unsafe {
                for_each(c.free_by_rcu_ttrace.del_all(), |o| {
                    self.note_gp_stamp(o);
                    c.waiting_for_gp_ttrace.push(o);
                })
            };
        }
        if c.draining.load(Ordering::Acquire) {
            self.free_rcu_ttrace_done(c);
            return;
        }
        PATHS.ttrace_gp.add(1);
        let (me, idx) = self.callback_ref(c);
        rcu::tasks_trace::call_rcu(move || {
            // A tasks-trace grace period does not imply a normal one: wait for that too.
            rcu::call_rcu(move || {
                me.exclude_checks(|| me.free_rcu_ttrace_done(&me.caches[idx]));
                me.in_flight.sub(1);
            });
        });
    }

    /// `__free_rcu`: after both grace periods, the waiting objects go back to the backing
    /// allocator and the next tasks-trace grace period may start.
    fn free_rcu_ttrace_done(&self, c: &Cache) {
        PATHS.ttrace_done.add(1);
        let first = {
            let _lock = c.lock.lock();
            c.waiting_for_gp_ttrace.del_all()
        };
        self.free_all(c, first, "__free_rcu");
        c.call_rcu_ttrace_in_progress.store(0, Ordering::Release);
    }

    /// `check_free_by_rcu`: moves nested `free_rcu`s to `free_by_rcu` and starts a normal
    /// grace period for `free_by_rcu` unless one is in flight.
    fn check_free_by_rcu(&self, c: &Cache) {
        if !c.free_llist_extra_rcu.is_empty() {
            let irqs = cpu::irq_save();
            let active = c.inc_active();
            if active == 1 {
                // SAFETY: the chain is ours; `active` is ours on the claimed CPU.
                unsafe {
                    for_each(c.free_llist_extra_rcu.del_all(), |o| {
                        if c.free_by_rcu.is_empty() {
                            c.free_by_rcu_tail.store(o, Ordering::Relaxed);
                        }
                        c.free_by_rcu.push_local(o);
                    })
                };
            }
            c.dec_active(active);
            drop(irqs);
        }
        if c.free_by_rcu.is_empty() {
            return;
        }
        if c.call_rcu_in_progress.swap(1, Ordering::AcqRel) == 1 {
            // The kernel asks RCU to hurry here; the model's grace periods are steps.
            return;
        }
        if !c.waiting_for_gp.is_empty() {
            warn(format_args!(
                "waiting_for_gp not empty at a new grace period"
            ));
        }
        {
            let irqs = cpu::irq_save();
            let active = c.inc_active();
            if active == 1 {
                cpu::interrupt_point("check_free_by_rcu:active");
                c.waiting_for_gp_tail.store(
                    c.free_by_rcu_tail.load(Ordering::Relaxed),
                    Ordering::Relaxed,
                );
                c.waiting_for_gp.set_local(c.free_by_rcu.take_local());
            }
            c.dec_active(active);
            drop(irqs);
        }
        if c.draining.load(Ordering::Acquire) {
            let first = c.waiting_for_gp.del_all();
            self.free_all(c, first, "check_free_by_rcu (draining)");
            c.call_rcu_in_progress.store(0, Ordering::Release);
            return;
        }
        PATHS.rcu_gp.add(1);
        let (me, idx) = self.callback_ref(c);
        rcu::call_rcu(move || {
            me.exclude_checks(|| me.free_by_rcu_done(&me.caches[idx]));
            me.in_flight.sub(1);
        });
    }

    /// `__free_by_rcu`: after a normal grace period the `free_rcu` objects join `tgt`'s
    /// tasks-trace path (where its refill may reuse them).
    fn free_by_rcu_done(&self, c: &Cache) {
        PATHS.free_by_rcu_done.add(1);
        let tgt_addr = c.tgt.load(Ordering::Relaxed);
        // SAFETY: `tgt` is always a cache of this allocator.
        let tgt = unsafe { &*(tgt_addr as *const Cache) };
        if tgt.unit_size != c.unit_size || tgt.percpu_size != c.percpu_size {
            warn(format_args!("__free_by_rcu: target unit size differs"));
        }
        let first = c.waiting_for_gp.del_all();
        if first != 0 {
            let last = c.waiting_for_gp_tail.load(Ordering::Relaxed);
            // SAFETY: the chain first..=last is ours after `del_all`.
            unsafe { tgt.free_by_rcu_ttrace.push_batch(first, last) };
            self.do_call_rcu_ttrace(tgt);
        }
        c.call_rcu_in_progress.store(0, Ordering::Release);
    }

    /// A reference for a grace-period callback on `c`: the shared state (kept alive until
    /// the callback has run) and the cache's index.
    fn callback_ref(&self, c: &Cache) -> (Arc<Inner>, usize) {
        let idx = (c.addr() - self.caches.as_ptr() as usize) / std::mem::size_of::<Cache>();
        // The caches live inside an `Arc<Inner>`: rebuild a strong reference to it.
        // SAFETY: `self` is the `Inner` of a live `Arc` (every caller runs on behalf of a
        // `MemAlloc`, an irq_work that upgraded its `Weak`, or a callback holding one).
        let me = unsafe {
            let p = std::ptr::from_ref(self);
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        };
        self.in_flight.add(1);
        (me, idx)
    }

    // ---- the backing allocator --------------------------------------------------------

    fn layout(&self, c: &Cache) -> Layout {
        let size = if self.percpu {
            PERCPU_OBJ_SIZE
        } else {
            c.unit_size
        };
        Layout::from_size_align(size + LINK_PREFIX, 8).expect("checked at init")
    }

    /// A fresh, zeroed object (`kmalloc_node(..., __GFP_ZERO)`); per-CPU mode also
    /// allocates its per-CPU area.
    fn backing_alloc(&self, c: &Cache) -> Option<usize> {
        let layout = self.layout(c);
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { System.alloc_zeroed(layout) } as usize;
        if base == 0 {
            return None;
        }
        let obj = base + LINK_PREFIX;
        if crate::sync::MODEL {
            // SAFETY: the prefix is ours and sized for the link word.
            unsafe { (base as *mut AtomicUsize).write(AtomicUsize::new(0)) };
        }
        if self.percpu {
            let area_layout =
                Layout::from_size_align((self.percpu_unit * self.ncpus()).max(1), 8).ok()?;
            // SAFETY: non-zero size.
            let area = unsafe { System.alloc_zeroed(area_layout) } as usize;
            if area == 0 {
                // SAFETY: allocated just above with `layout`.
                unsafe { self.dealloc_raw(obj, layout) };
                return None;
            }
            // SAFETY: the object's second word is ours.
            unsafe { ((obj + HEADER) as *mut usize).write(area) };
        }
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        shadow::registry::register(obj + HEADER, layout.size() - LINK_PREFIX - HEADER, true);
        c.obtained.add(1);
        self.note_fresh(obj, c);
        Some(obj)
    }

    /// Returns a chain of objects to the backing allocator (`free_all`).
    #[track_caller]
    fn free_all(&self, c: &Cache, first: usize, site: &'static str) {
        let layout = self.layout(c);
        // SAFETY: the chain is ours.
        unsafe {
            for_each(first, |o| {
                self.note_backing_free(o, site);
                c.returned.add(1);
                self.release(o, layout);
            })
        };
    }

    /// Gives one object's memory back (model backends with the sanitizer: poisons it as
    /// freed and keeps it until the allocator's state goes away).
    ///
    /// # Safety
    /// `obj` is ours and on no list.
    #[track_caller]
    unsafe fn release(&self, obj: usize, layout: Layout) {
        if crate::sync::MODEL {
            // The backing allocator takes the object's first word for its own free list, as
            // SLUB does; under the models that write is what a late `llist_del_first` read of
            // the link races with, so the model checkers see the two accesses conflict.
            // SAFETY: the caller's guarantee; the link word lives until `dealloc_raw`.
            unsafe { link(obj) }.store(FREED_LINK, Ordering::Relaxed);
        }
        if self.percpu {
            // SAFETY: the object's second word holds its area.
            let area = unsafe { ((obj + HEADER) as *const usize).read() };
            let area_layout = Layout::from_size_align((self.percpu_unit * self.ncpus()).max(1), 8)
                .expect("made at alloc");
            // SAFETY: allocated by `backing_alloc` with this layout.
            unsafe { System.dealloc(area as *mut u8, area_layout) };
        }
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        {
            shadow::registry::poison_freed_at(
                obj + HEADER,
                shadow::Site::new(
                    std::panic::Location::caller(),
                    Some("bpf_mem_alloc free_all"),
                ),
            );
            self.quarantine.with(|q| q.push((obj, layout)));
        }
        #[cfg(not(all(feature = "sanitize", mmcheck_model)))]
        // SAFETY: the caller's guarantee.
        unsafe {
            self.dealloc_raw(obj, layout)
        }
    }

    /// # Safety
    /// `obj` came from `backing_alloc` with `layout` and is not used again.
    unsafe fn dealloc_raw(&self, obj: usize, layout: Layout) {
        let base = obj - LINK_PREFIX;
        if crate::sync::MODEL {
            // SAFETY: constructed by `backing_alloc`.
            unsafe { std::ptr::drop_in_place(base as *mut AtomicUsize) };
        }
        // SAFETY: the caller's guarantee.
        unsafe { System.dealloc(base as *mut u8, layout) };
    }

    // ---- destroy ----------------------------------------------------------------------

    /// `bpf_mem_alloc_destroy`: per cache, set `draining`, wait for the refill irq_work,
    /// drain the seven lists; callbacks still in flight free what they hold when they run
    /// (they see `draining`), and the state goes away after the last of them.
    fn destroy(&self) {
        for c in self.caches.iter() {
            c.draining.store(true, Ordering::Release);
            irq_work::sync(&c.refill);
            self.drain_cache(c);
        }
        self.destroyed.store(true, Ordering::Release);
    }

    /// `drain_mem_cache`, in the kernel's order.
    fn drain_cache(&self, c: &Cache) {
        PATHS.drained.add(1);
        let lists = [
            {
                let _lock = c.lock.lock();
                c.free_by_rcu_ttrace.del_all()
            },
            {
                let _lock = c.lock.lock();
                c.waiting_for_gp_ttrace.del_all()
            },
            c.free_llist.take_local(),
            c.free_llist_extra.del_all(),
            c.free_by_rcu.take_local(),
            c.free_llist_extra_rcu.del_all(),
            c.waiting_for_gp.del_all(),
        ];
        c.set_cnt(0);
        for first in lists {
            self.free_all(c, first, "drain_mem_cache");
        }
    }

    fn drain_deferred(&self) {
        // Bounded: each round delivers the irq_work and completes a grace period of each
        // flavour; a chain needs at most four (normal, tasks-trace, normal, refill).
        for _ in 0..64 {
            irq_work::run_all();
            if self.in_flight.get() == 0 && !self.caches.iter().any(|c| c.refill.is_busy()) {
                return;
            }
            rcu::synchronize();
            rcu::tasks_trace::synchronize();
            rcu::synchronize();
        }
        // Callbacks of other threads' collectors may still be queued (std backend); they
        // hold the state alive and run later.
    }

    // ---- checking ---------------------------------------------------------------------

    /// Every list of `c` with its nodes (at a quiescent point; for the std tests).
    #[cfg(all(test, not(mmcheck_model)))]
    fn lists(&self, c: &Cache) -> [(&'static str, Vec<usize>); 7] {
        // SAFETY: quiescent: nobody changes the lists while we walk them.
        Self::chains(c, Llist::first)
    }

    /// Every list of `c`, detached (for the final free).
    fn take_lists(&self, c: &Cache) -> [(&'static str, Vec<usize>); 7] {
        // SAFETY: the state is going away; each chain is ours after `del_all`.
        Self::chains(c, Llist::del_all_rmw)
    }

    /// The seven lists of `c`, in `drain_mem_cache`'s naming, each as the nodes of the
    /// chain `head` gives for it (its first node, or the chain detached).
    ///
    /// The caller guarantees that the chains `head` returns are not changed meanwhile.
    fn chains(c: &Cache, head: impl Fn(&Llist) -> usize) -> [(&'static str, Vec<usize>); 7] {
        let mut out = LIST_NAMES.map(|n| (n, Vec::new()));
        Self::visit_chains(c, head, |k, o| out[k].1.push(o));
        out
    }

    /// Calls `f(k, node)` for every node of `c`'s seven lists, `k` the list's index in
    /// [`LIST_NAMES`], walking the chains `head` gives (the caller guarantees they do not
    /// change meanwhile).
    fn visit_chains(c: &Cache, head: impl Fn(&Llist) -> usize, mut f: impl FnMut(usize, usize)) {
        let lists = [
            &c.free_llist,
            &c.free_llist_extra,
            &c.free_by_rcu,
            &c.waiting_for_gp,
            &c.free_by_rcu_ttrace,
            &c.waiting_for_gp_ttrace,
            &c.free_llist_extra_rcu,
        ];
        for (k, l) in lists.into_iter().enumerate() {
            // SAFETY: the caller's guarantee.
            unsafe { for_each(head(l), |o| f(k, o)) };
        }
    }

    fn validate(&self) -> Result<(), Violation> {
        self.exclude_checks(|| self.validate_excluded())
    }

    /// Checking builds on std: runs `f` excluding the grace-period callbacks, which any
    /// thread may run (the std RCU backend runs them where epochs advance), so `validate`
    /// never sees a callback half-way through moving objects. A no-op elsewhere (under the
    /// models a blocking lock the schedulers cannot see would hang them, and callbacks run
    /// only at explicit steps there).
    fn exclude_checks<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(all(mmcheck_hooks, not(mmcheck_model)))]
        {
            // Reentrant: a callback may queue another whose grace period has passed, and the
            // epoch backend may run that one at once on this thread.
            crate::sync::backend_thread_local! {
                static HELD: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            let me = std::ptr::from_ref(self) as usize;
            if HELD.with(|h| h.borrow().contains(&me)) {
                return f();
            }
            self.checking.with(|()| {
                HELD.with(|h| h.borrow_mut().push(me));
                struct Pop(usize);
                impl Drop for Pop {
                    fn drop(&mut self) {
                        let me = self.0;
                        let _ = HELD.try_with(|h| h.borrow_mut().retain(|&x| x != me));
                    }
                }
                let _pop = Pop(me);
                f()
            })
        }
        #[cfg(not(all(mmcheck_hooks, not(mmcheck_model))))]
        {
            f()
        }
    }

    fn validate_excluded(&self) -> Result<(), Violation> {
        let err = |s: String| Err(Violation(s));
        // Checking builds mark every listed object in the registry with this validation's
        // number, so an object on two lists is found as it is met a second time; other
        // builds collect them all and sort (a duplicate is then a neighbour).
        #[cfg(mmcheck_hooks)]
        let pass = {
            let n = self.validations.get() + 1;
            self.validations.set(n);
            n
        };
        #[cfg(not(mmcheck_hooks))]
        let pass = 0;
        #[cfg(not(mmcheck_hooks))]
        let mut seen: Vec<usize> = Vec::with_capacity(256);
        let mut listed: Vec<usize> = Vec::with_capacity(128);
        let mut on_lists = 0u64;
        let (mut obtained, mut returned, mut allocs, mut frees) = (0u64, 0u64, 0u64, 0u64);
        for c in self.caches.iter() {
            // Formatted only for a report.
            let at = CacheName(c);
            if c.active.load(Ordering::Relaxed) != 0 {
                return err(format!(
                    "{at}: active is {} at rest",
                    c.active.load(Ordering::Relaxed)
                ));
            }
            listed.clear();
            let mut free_llist = 0isize;
            // SAFETY: quiescent: nobody changes the lists while we walk them.
            Self::visit_chains(c, Llist::first, |k, o| {
                free_llist += isize::from(k == 0);
                listed.push(o);
            });
            if free_llist != c.cnt() {
                return err(format!(
                    "{at}: free_cnt {} but free_llist holds {free_llist}",
                    c.cnt()
                ));
            }
            for (flag, list, name) in [
                (&c.call_rcu_in_progress, &c.waiting_for_gp, "waiting_for_gp"),
                (
                    &c.call_rcu_ttrace_in_progress,
                    &c.waiting_for_gp_ttrace,
                    "waiting_for_gp_ttrace",
                ),
            ] {
                let f = flag.load(Ordering::Acquire);
                if f > 1 {
                    return err(format!("{at}: in-progress flag of {name} is {f}"));
                }
                if f == 0 && !list.is_empty() {
                    return err(format!(
                        "{at}: {name} holds objects with no callback in flight"
                    ));
                }
            }
            // SAFETY: `tgt` is always a cache of this allocator.
            let tgt = unsafe { &*(c.tgt.load(Ordering::Relaxed) as *const Cache) };
            if tgt.unit_size != c.unit_size {
                return err(format!("{at}: tgt has unit size {}", tgt.unit_size));
            }
            match self.check_listed_class(&listed, c, pass) {
                Ok(None) => {}
                Ok(Some(twice)) => return err(self.twice_listed(twice)),
                Err(s) => return err(format!("{at}: {s}")),
            }
            on_lists += listed.len() as u64;
            #[cfg(not(mmcheck_hooks))]
            seen.extend_from_slice(&listed);
            obtained += c.obtained.get();
            returned += c.returned.get();
            allocs += c.allocs.get();
            frees += c.frees.get();
        }
        #[cfg(not(mmcheck_hooks))]
        {
            seen.sort_unstable();
            if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
                return err(self.twice_listed(w[0]));
            }
        }
        let live = allocs.wrapping_sub(frees);
        if obtained.wrapping_sub(returned) != on_lists.wrapping_add(live) {
            return err(format!(
                "conservation: obtained {obtained} - returned {returned} != on lists {on_lists} + live {live}"
            ));
        }
        Ok(())
    }

    /// The report of an object found on two lists: where it is (a second walk, on failure
    /// only).
    fn twice_listed(&self, obj: usize) -> String {
        let mut at = Vec::new();
        for c in self.caches.iter() {
            // SAFETY: quiescent, as in `validate_excluded`.
            Self::visit_chains(c, Llist::first, |k, o| {
                if o == obj {
                    at.push(format!("{} of {}", LIST_NAMES[k], CacheName(c)));
                }
            });
        }
        format!("object {:#x} on {}", obj + HEADER, at.join(" and on "))
    }

    /// Checking builds: every object on `c`'s lists is known to the registry, was handed
    /// out by a cache of `c`'s class (or never handed out) and is not live; each is marked
    /// with validation `pass`, and the first one already marked (listed twice) is returned.
    /// One look-up of the registry for all. Other builds check nothing here.
    fn check_listed_class(
        &self,
        listed: &[usize],
        c: &Cache,
        pass: usize,
    ) -> Result<Option<usize>, String> {
        #[cfg(mmcheck_hooks)]
        return self.objects.with(|m| {
            for &obj in listed {
                let Some(st) = m.get_mut(&obj) else {
                    return Err(format!(
                        "object {:#x} is on a list but never came from the backing allocator",
                        obj + HEADER
                    ));
                };
                if st.listed_in == pass {
                    return Ok(Some(obj));
                }
                st.listed_in = pass;
                if st.live {
                    return Err(format!("object {:#x} is on a list but live", obj + HEADER));
                }
                if st.class != c.class {
                    return Err(format!(
                        "object {:#x} of class {} is on a list of class {}",
                        obj + HEADER,
                        st.class,
                        c.class
                    ));
                }
            }
            Ok(None)
        });
        #[cfg(not(mmcheck_hooks))]
        {
            let _ = (listed, c, pass);
            Ok(None)
        }
    }

    /// Checking builds: an object is handed out; it must not be live already, and a
    /// `free_rcu` object must have waited for a normal grace period.
    #[inline(always)]
    fn note_alloc(&self, obj: usize, c: &Cache) {
        // Read outside the lock: nothing but the map is touched while it is held.
        #[cfg(mmcheck_hooks)]
        let gp_done = rcu::stats().gp_completed;
        #[cfg(mmcheck_hooks)]
        self.objects.with(|m| {
            let st = m.entry(obj).or_insert(ObjState {
                live: false,
                class: c.class,
                gp_stamp: None,
                rcu_freed_at: None,
                released: false,
                released_by: "",
                listed_in: 0,
            });
            if st.released {
                warn(format_args!(
                    "object {:#x} handed out after it went back to the backing allocator",
                    obj + HEADER
                ));
            }
            if st.live {
                warn(format_args!("object {:#x} handed out twice", obj + HEADER));
            }
            // A `free_rcu` object comes back only through the tasks-trace lists, which it
            // reaches after a normal grace period (`note_reuse` clears the mark); under the
            // models the grace-period count is checked as well.
            if let Some(at) = st.rcu_freed_at {
                let counted = crate::sync::MODEL && gp_done > at;
                if !counted {
                    warn(format_args!(
                        "object {:#x} freed with free_rcu was handed out again before a \
                         normal grace period",
                        obj + HEADER
                    ));
                }
            }
            st.live = true;
            st.class = c.class;
            st.rcu_freed_at = None;
        });
        let _ = (obj, c);
    }

    /// Checking builds: an object is freed; it must be live, and the free side's class must
    /// be the class that handed it out.
    #[inline(always)]
    fn note_free(&self, obj: usize, class: usize, rcu_free: bool) {
        #[cfg(mmcheck_hooks)]
        let gp_done = rcu::stats().gp_completed;
        #[cfg(mmcheck_hooks)]
        self.objects.with(|m| match m.get_mut(&obj) {
            Some(st) if st.live => {
                if st.class != class {
                    warn(format_args!(
                        "object {:#x} allocated from class {} freed to class {}",
                        obj + HEADER,
                        st.class,
                        class
                    ));
                }
                st.live = false;
                st.rcu_freed_at = rcu_free.then_some(gp_done);
            }
            _ => warn(format_args!(
                "free of object {:#x} that is not allocated (double free?)",
                obj + HEADER
            )),
        });
        let _ = (obj, class, rcu_free);
    }

    /// Checking builds: a fresh object from the backing allocator (its address may have been
    /// an earlier object's on the std backend).
    fn note_fresh(&self, obj: usize, c: &Cache) {
        #[cfg(mmcheck_hooks)]
        self.objects.with(|m| {
            if let Some(old) = m.get(&obj) {
                if crate::sync::MODEL && !old.released {
                    warn(format_args!(
                        "the backing allocator handed out {:#x}, which the allocator still holds",
                        obj + HEADER
                    ));
                }
            }
            m.insert(
                obj,
                ObjState {
                    live: false,
                    class: c.class,
                    gp_stamp: None,
                    rcu_freed_at: None,
                    released: false,
                    released_by: "",
                    listed_in: 0,
                },
            );
        });
        let _ = (obj, c);
    }

    /// Checking builds: `alloc_bulk` is about to read the link of `obj`, the head of a
    /// tasks-trace list; it must not have gone back to the backing allocator meanwhile.
    fn note_link_read(&self, obj: usize) {
        #[cfg(mmcheck_hooks)]
        {
            let by = self.objects.with(|m| {
                m.get(&obj)
                    .filter(|st| st.released)
                    .map(|st| st.released_by)
            });
            if let Some(by) = by {
                warn(format_args!(
                    "llist_del_first read the link of {:#x} after {by} gave it back to the \
                     backing allocator (del_first racing del_all)",
                    obj + HEADER
                ));
            }
        }
        let _ = obj;
    }

    /// Checking builds: an object leaves the tasks-trace lists for reuse.
    fn note_reuse(&self, obj: usize) {
        #[cfg(mmcheck_hooks)]
        self.objects.with(|m| {
            if let Some(st) = m.get_mut(&obj) {
                if st.released {
                    warn(format_args!(
                        "object {:#x} reused from a tasks-trace list after it went back to the \
                         backing allocator",
                        obj + HEADER
                    ));
                }
                st.gp_stamp = None;
                // On the tasks-trace lists a `free_rcu` object has had its grace period.
                st.rcu_freed_at = None;
            }
        });
        let _ = obj;
    }

    /// Checking builds: an object starts waiting for the tasks-trace grace period.
    fn note_gp_stamp(&self, obj: usize) {
        #[cfg(mmcheck_hooks)]
        let stamp = (
            rcu::stats().gp_started,
            rcu::tasks_trace::stats().gp_started,
        );
        #[cfg(mmcheck_hooks)]
        self.objects.with(|m| {
            if let Some(st) = m.get_mut(&obj) {
                st.gp_stamp = Some(stamp);
            }
        });
        let _ = obj;
    }

    /// Checking builds: an object goes back to the backing allocator; unless the allocator
    /// is draining, a normal and a tasks-trace grace period must have completed since it
    /// started waiting (model backends, which count grace periods).
    fn note_backing_free(&self, obj: usize, site: &'static str) {
        #[cfg(mmcheck_hooks)]
        {
            // The std backend gives the memory back (its address may come back fresh, see
            // `note_fresh`); the models keep it, and keep the record to catch a second free.
            let st = self.objects.with(|m| {
                if crate::sync::MODEL {
                    m.get_mut(&obj).map(|st| {
                        let before = *st;
                        st.released = true;
                        st.released_by = site;
                        before
                    })
                } else {
                    m.remove(&obj)
                }
            });
            if let Some(st) = st {
                if st.released {
                    warn(format_args!(
                        "object {:#x} given back to the backing allocator twice",
                        obj + HEADER
                    ));
                }
                if st.live {
                    warn(format_args!(
                        "live object {:#x} freed to the backing allocator",
                        obj + HEADER
                    ));
                }
                let draining = self
                    .caches
                    .iter()
                    .any(|c| c.draining.load(Ordering::Relaxed));
                match st.gp_stamp {
                    // Unless the allocator is being destroyed, memory leaves only from
                    // `waiting_for_gp_ttrace`, after both grace periods.
                    None if !draining => warn(format_args!(
                        "object {:#x} returned to the backing allocator without waiting for \
                         the grace periods",
                        obj + HEADER
                    )),
                    Some((r, t)) if crate::sync::MODEL && !draining => {
                        let rc = rcu::stats().gp_completed;
                        let tc = rcu::tasks_trace::stats().gp_completed;
                        if rc <= r || tc <= t {
                            warn(format_args!(
                                "object {:#x} returned to the backing allocator before both \
                                 grace periods (normal {rc}/{r}, tasks-trace {tc}/{t})",
                                obj + HEADER
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        let _ = (obj, site);
    }
}

impl Drop for Inner {
    /// The final free (`free_mem_alloc_no_barrier`) with the kernel's leak check: after
    /// destroy and every callback, no list holds anything.
    fn drop(&mut self) {
        let mut leaked = 0usize;
        for i in 0..self.caches.len() {
            let c = &self.caches[i];
            // Taken with read-modify-writes, which see the latest head whichever thread
            // drains last: the last reference may drop on a thread whose only ordering with
            // the drain is the reference count, which loom does not see.
            let lists = self.take_lists(c);
            let n: usize = lists.iter().map(|(_, v)| v.len()).sum();
            leaked += n;
            if n > 0 {
                // A list must not hold memory that went back to the backing allocator.
                #[cfg(mmcheck_hooks)]
                for (name, v) in &lists {
                    for &o in v {
                        let by = self
                            .objects
                            .with(|m| m.get(&o).filter(|st| st.released).map(|st| st.released_by));
                        if let Some(by) = by {
                            warn(format_args!(
                                "object {:#x} is on {name} of cpu {} after {by} gave it back to \
                                 the backing allocator",
                                o + HEADER,
                                c.cpu
                            ));
                        }
                    }
                }
                // Free them anyway (a model execution ended with callbacks unrun, or a bug).
                let first: Vec<usize> = lists.into_iter().flat_map(|(_, v)| v).collect();
                let layout = self.layout(c);
                for o in first {
                    // SAFETY: the state is going away; nothing else reaches the objects.
                    unsafe { self.dealloc_or_keep(o, layout) };
                }
            }
        }
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        for (obj, layout) in self.quarantine.with(std::mem::take) {
            shadow::registry::unregister(obj + HEADER);
            // SAFETY: quarantined objects are released once, here.
            unsafe { self.dealloc_raw(obj, layout) };
        }
        let all_ran = self.in_flight.get() == 0;
        if leaked > 0
            && all_ran
            && self.destroyed.load(Ordering::Acquire)
            && !crate::sync::panicking()
        {
            warn(format_args!(
                "{leaked} objects left on the lists after destroy (leak)"
            ));
        }
    }
}

impl Inner {
    /// # Safety
    /// `obj` is ours and unreachable.
    unsafe fn dealloc_or_keep(&self, obj: usize, layout: Layout) {
        if self.percpu {
            // SAFETY: the object's second word holds its area.
            let area = unsafe { ((obj + HEADER) as *const usize).read() };
            let area_layout = Layout::from_size_align((self.percpu_unit * self.ncpus()).max(1), 8)
                .expect("made at alloc");
            // SAFETY: allocated by `backing_alloc`.
            unsafe { System.dealloc(area as *mut u8, area_layout) };
        }
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        shadow::registry::unregister(obj + HEADER);
        // SAFETY: the caller's guarantee.
        unsafe { self.dealloc_raw(obj, layout) };
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests;

#[cfg(all(test, mmcheck_shuttle))]
mod model_tests;
