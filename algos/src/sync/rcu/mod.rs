//! Read-copy-update: read-side sections, grace periods, deferred free.
//!
//! Kernel counterparts: `rcu_read_lock`/`rcu_read_unlock` ([`read_lock`] and dropping its
//! [`Guard`]), `synchronize_rcu` ([`synchronize`]), `call_rcu` ([`call_rcu`]), `kfree_rcu`
//! ([`Shared::retire`]), `rcu_barrier` ([`barrier`]), `rcu_dereference` ([`Atomic::load`])
//! and `rcu_assign_pointer` ([`Atomic::swap`] with `Release`).
//!
//! Two implementations sit behind this one API, one file each (`epoch.rs`, `model.rs`);
//! the slab behind [`Cache`] is [`super::slab`]:
//!
//! * **std backend** (production): crossbeam-epoch. A read section is a pinned epoch; a
//!   grace period has elapsed once a deferred function queued after the update has run, which
//!   crossbeam-epoch guarantees happens only after every participant pinned at that time has
//!   unpinned.
//! * **loom and shuttle backends** (the model): grace periods are explicit steps. A grace
//!   period starts by snapshotting the threads that are inside a read section and completes
//!   once each of them has left that section; callbacks queued before it started then run.
//!   Steps are taken by [`poll`] (the harness or a GP-driver thread calls it) or by the
//!   blocking [`synchronize`] and [`barrier`]. Objects freed through this module are never
//!   returned to the allocator during the execution: they are *quarantined* and marked dead,
//!   so a reader that touches one through a [`Ref`] gets a `BUG: RCU: use-after-free` report
//!   (a panic the harness titles) instead of undefined behaviour. Quarantined memory is
//!   released when the model execution ends.
//!
//! What differs from the kernel: two flavours, normal RCU and RCU tasks-trace
//! ([`tasks_trace`]), not SRCU or tasks-RCU; a read section is tied to a guard value rather
//! than to preemption being disabled.

#[cfg(not(mmcheck_model))]
mod epoch;
#[cfg(mmcheck_model)]
mod model;

#[cfg(not(mmcheck_model))]
use epoch as backend;
#[cfg(mmcheck_model)]
use model as backend;

use super::atomic::{AtomicPtr, Ordering};
use std::ops::Deref;
use std::panic::Location;
use std::ptr::{self, NonNull};

/// The header every RCU-managed object carries. Zero-sized in production.
struct Header {
    #[cfg(mmcheck_model)]
    state: std::sync::atomic::AtomicU8,
    #[cfg(mmcheck_model)]
    freed_at: std::sync::Mutex<Option<&'static Location<'static>>>,
}

#[cfg(mmcheck_model)]
const LIVE: u8 = 0;
#[cfg(mmcheck_model)]
const RETIRED: u8 = 1;
#[cfg(mmcheck_model)]
const FREED: u8 = 2;

impl Header {
    fn new() -> Self {
        Header {
            #[cfg(mmcheck_model)]
            state: std::sync::atomic::AtomicU8::new(LIVE),
            #[cfg(mmcheck_model)]
            freed_at: std::sync::Mutex::new(None),
        }
    }

    /// Reports a use-after-free if the object has been freed (model backends only): through
    /// the shadow sanitizer with the `sanitize` feature, by the dead check otherwise.
    #[inline(always)]
    #[track_caller]
    fn check_live(&self) {
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        if self.state.load(std::sync::atomic::Ordering::Acquire) == FREED {
            let addr = std::ptr::from_ref(self) as usize;
            shadow::registry::check(addr, std::mem::size_of::<Header>().max(1));
        }
        #[cfg(mmcheck_model)]
        if self.state.load(std::sync::atomic::Ordering::Acquire) == FREED {
            let freed = self.freed_at.lock().unwrap_or_else(|e| e.into_inner());
            let site = Location::caller();
            panic!(
                "BUG: RCU: use-after-free in {}:{}\n\
                 An RCU reader touched an object after it was freed.\n\
                 Use at: {}\n\
                 Freed at: {}\n\
                 The reader's access is not covered by a grace period that started after the \
                 object was unpublished (freed too early, or read outside a read section).",
                site.file(),
                site.line(),
                site,
                freed
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "<unknown>".into()),
            );
        }
    }
}

/// Between loading an RCU pointer and using what it points to lies the window of every RCU
/// use-after-free (StackRot's among them): a writer that unpublishes and frees the object
/// there, without waiting for a grace period, leaves the reader with freed memory. This
/// makes `rcu_dereference` a scheduling point there under shuttle (see
/// [`super::switch_point`]). Loom already explores this window at the pointer's own loom
/// load, and the std backend has no schedule: nothing there.
#[inline(always)]
fn dereference_point() {
    #[cfg(mmcheck_shuttle)]
    super::switch_point();
}

/// An RCU-managed allocation: a header and the value. `repr(C)` puts the header first, so
/// the sanitizer's region for an object is keyed by the allocation's address.
#[repr(C)]
struct RcuBox<T> {
    header: Header,
    value: T,
}

/// A read-side critical section. Objects loaded through it stay valid until it is dropped.
/// Sections nest. A guard cannot move to another thread.
pub struct Guard {
    _section: backend::Section,
}

/// The RCU flavours: each has its own readers, grace periods and callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Normal RCU (`rcu_read_lock`, `call_rcu`).
    Rcu,
    /// RCU tasks-trace (`rcu_read_lock_trace`, `call_rcu_tasks_trace`): the flavour sleepable
    /// BPF programs read under.
    TasksTrace,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rcu::Guard")
    }
}

/// Enters a read-side critical section (`rcu_read_lock`).
#[inline]
pub fn read_lock() -> Guard {
    Guard {
        _section: backend::section(Flavor::Rcu),
    }
}

/// True if the current thread is inside a read-side critical section.
pub fn in_read_section() -> bool {
    backend::in_section(Flavor::Rcu)
}

/// Waits for a full grace period (`synchronize_rcu`): every read section that was running
/// when this was called has ended when it returns. Callbacks whose grace period completed
/// are run.
///
/// # Panics
/// If called inside a read section, which would wait forever (the kernel's lockdep splat).
#[track_caller]
pub fn synchronize() {
    assert!(
        !in_read_section(),
        "BUG: RCU: synchronize() inside a read-side critical section at {}",
        Location::caller()
    );
    backend::synchronize(Flavor::Rcu);
}

/// Queues `f` to run after a grace period (`call_rcu`).
///
/// In production it runs on whichever thread next collects crossbeam-epoch garbage; in the
/// model it runs when a grace period that started after this call completes.
pub fn call_rcu(f: impl FnOnce() + Send + 'static) {
    backend::call_rcu(Flavor::Rcu, Box::new(f));
}

/// Waits until every callback queued before this call has run (`rcu_barrier`).
#[track_caller]
pub fn barrier() {
    assert!(
        !in_read_section(),
        "BUG: RCU: barrier() inside a read-side critical section at {}",
        Location::caller()
    );
    backend::barrier(Flavor::Rcu);
}

/// Takes one step of grace-period processing without blocking: completes the grace period in
/// flight if its readers are gone (running the callbacks it covers), or starts one if
/// callbacks are waiting. Returns true if anything changed. This is how the harness and
/// GP-driver threads move the model forward; in production it only helps crossbeam-epoch
/// collect.
pub fn poll() -> bool {
    backend::poll(Flavor::Rcu)
}

/// Counters of the model RCU, for tests and reports. All zero in production.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Grace periods started.
    pub gp_started: u64,
    /// Grace periods completed.
    pub gp_completed: u64,
    /// Callbacks queued and not yet run.
    pub callbacks_pending: usize,
    /// Objects freed and held in quarantine.
    pub quarantined: usize,
}

/// The model's counters (all zero in production).
pub fn stats() -> Stats {
    backend::stats(Flavor::Rcu)
}

pub mod tasks_trace {
    //! RCU tasks-trace, the second flavour (`rcu_read_lock_trace`, `call_rcu_tasks_trace`,
    //! `synchronize_rcu_tasks_trace`, `rcu_barrier_tasks_trace`): sleepable BPF programs
    //! read under it, and the BPF allocator waits for it before memory leaves its caches.
    //!
    //! Its grace periods are independent of normal RCU's: a normal read section does not hold
    //! off a tasks-trace grace period, and a tasks-trace section does not hold off a normal
    //! one, on every backend (std: a second crossbeam-epoch collector; model: a second
    //! explicit-step model). Nor does one imply the other (the kernel's
    //! `rcu_trace_implies_rcu_gp()` is taken as false): a user that needs both waits for
    //! both, as the BPF allocator does.
    use super::{backend, Flavor, Location, Stats};

    /// A tasks-trace read-side section; ends when dropped. Sections nest; not `Send`.
    pub struct Guard {
        _section: backend::Section,
    }

    impl std::fmt::Debug for Guard {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("rcu::tasks_trace::Guard")
        }
    }

    /// Enters a tasks-trace read section (`rcu_read_lock_trace`).
    #[inline]
    pub fn read_lock() -> Guard {
        Guard {
            _section: backend::section(Flavor::TasksTrace),
        }
    }

    /// True inside a tasks-trace read section.
    pub fn in_read_section() -> bool {
        backend::in_section(Flavor::TasksTrace)
    }

    /// Waits for a full tasks-trace grace period (`synchronize_rcu_tasks_trace`).
    ///
    /// # Panics
    /// Inside a tasks-trace read section.
    #[track_caller]
    pub fn synchronize() {
        assert!(
            !in_read_section(),
            "BUG: RCU: synchronize_rcu_tasks_trace() inside a tasks-trace read section at {}",
            Location::caller()
        );
        backend::synchronize(Flavor::TasksTrace);
    }

    /// Queues `f` to run after a tasks-trace grace period (`call_rcu_tasks_trace`).
    pub fn call_rcu(f: impl FnOnce() + Send + 'static) {
        backend::call_rcu(Flavor::TasksTrace, Box::new(f));
    }

    /// Waits until every tasks-trace callback queued before has run
    /// (`rcu_barrier_tasks_trace`).
    ///
    /// # Panics
    /// Inside a tasks-trace read section.
    #[track_caller]
    pub fn barrier() {
        assert!(
            !in_read_section(),
            "BUG: RCU: rcu_barrier_tasks_trace() inside a tasks-trace read section at {}",
            Location::caller()
        );
        backend::barrier(Flavor::TasksTrace);
    }

    /// One step of tasks-trace grace-period processing, as [`super::poll`].
    pub fn poll() -> bool {
        backend::poll(Flavor::TasksTrace)
    }

    /// The tasks-trace model's counters (all zero in production).
    pub fn stats() -> Stats {
        backend::stats(Flavor::TasksTrace)
    }
}

/// An owned, not yet published RCU object.
pub struct Owned<T> {
    ptr: NonNull<RcuBox<T>>,
}

// SAFETY: an `Owned` is a unique owner of a heap value, like `Box<T>`.
unsafe impl<T: Send> Send for Owned<T> {}
// SAFETY: shared access to an `Owned` only gives `&T`.
unsafe impl<T: Sync> Sync for Owned<T> {}

impl<T> Owned<T> {
    /// Allocates `value` as an RCU object.
    pub fn new(value: T) -> Self {
        let b = Box::new(RcuBox {
            header: Header::new(),
            value,
        });
        #[cfg(all(feature = "sanitize", mmcheck_model))]
        shadow::registry::register(
            std::ptr::from_ref(&b.header) as usize,
            std::mem::size_of::<Header>().max(1),
            true,
        );
        Owned {
            // SAFETY: `Box::into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(Box::into_raw(b)) },
        }
    }

    /// Gives up ownership: the object becomes a [`Shared`] the caller publishes (through
    /// its own slots) and later retires or frees exactly once.
    pub fn into_shared(self) -> Shared<T> {
        Shared {
            ptr: self.into_raw(),
        }
    }

    fn into_raw(self) -> *mut RcuBox<T> {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl<T> std::fmt::Debug for Owned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Owned({:p})", self.ptr)
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we own the allocation and nobody else can see it yet.
        unsafe { &self.ptr.as_ref().value }
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        forget_shadow(self.ptr.as_ptr());
        // SAFETY: never published, so no reader can hold it; we are the unique owner.
        unsafe { drop(Box::from_raw(self.ptr.as_ptr())) }
    }
}

/// Drops the sanitizer's region of an object about to be deallocated.
#[inline(always)]
fn forget_shadow<T>(p: *mut RcuBox<T>) {
    #[cfg(all(feature = "sanitize", mmcheck_model))]
    shadow::registry::unregister(p as usize);
    let _ = p;
}

/// A raw pointer to a published (or formerly published) RCU object, as seen by the updater.
pub struct Shared<T> {
    ptr: *mut RcuBox<T>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}

impl<T> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shared({:p})", self.ptr)
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(self.ptr, other.ptr)
    }
}
impl<T> Eq for Shared<T> {}

impl<T: Send + 'static> Shared<T> {
    /// The null pointer.
    pub fn null() -> Self {
        Shared {
            ptr: ptr::null_mut(),
        }
    }

    /// True if this is the null pointer.
    pub fn is_null(&self) -> bool {
        self.ptr.is_null()
    }

    /// The pointer as an integer, for structures that keep tagged pointers in atomic
    /// words (the maple tree's encoded nodes). Allocations are aligned to at least
    /// `align_of::<T>()`, so the low bits below that are free for tags.
    pub fn to_raw(self) -> usize {
        self.ptr as usize
    }

    /// The inverse of [`Shared::to_raw`].
    ///
    /// # Safety
    /// `raw` must be zero or come from [`Shared::to_raw`] of an object of type `T`.
    pub unsafe fn from_raw(raw: usize) -> Self {
        Shared {
            ptr: raw as *mut RcuBox<T>,
        }
    }

    /// `rcu_dereference` of a pointer the caller loaded itself: the object for a reader
    /// whose read section began before the object could have been unpublished. Every
    /// dereference of the returned [`Ref`] is checked against the model's quarantine.
    ///
    /// # Safety
    /// The pointer must have been loaded (with `Acquire`) from a published slot during
    /// `guard`'s read section, or belong to the updater.
    #[inline]
    pub unsafe fn deref<'g>(self, _guard: &'g Guard) -> Option<Ref<'g, T>> {
        dereference_point();
        // SAFETY: the caller's guarantee; the model checks it on every dereference.
        let b = unsafe { self.ptr.as_ref()? };
        Some(Ref { b })
    }

    /// The object, for the updater.
    ///
    /// # Safety
    /// The object must not have been freed: the caller is the updater that owns it (under the
    /// structure's lock), or holds a read section that began before it was unpublished.
    #[track_caller]
    pub unsafe fn as_ref<'a>(&self) -> Option<&'a T> {
        // SAFETY: the caller guarantees the object is alive (model: checked below).
        let b = unsafe { self.ptr.as_ref()? };
        b.header.check_live();
        Some(&b.value)
    }

    /// Frees the object after a grace period (`kfree_rcu`). Returns immediately.
    ///
    /// # Safety
    /// The object must already be unreachable for new readers (unpublished), and must be
    /// retired or freed only once.
    #[track_caller]
    pub unsafe fn retire(self) {
        if self.ptr.is_null() {
            return;
        }
        #[cfg(not(mmcheck_model))]
        {
            let p = SendPtr(self.ptr);
            crossbeam_epoch::pin().defer(move || {
                let p = p;
                // SAFETY: a grace period has elapsed, so no reader holds the object, and the
                // caller retired it once.
                unsafe { drop(Box::from_raw(p.0)) }
            });
        }
        #[cfg(mmcheck_model)]
        {
            let site = Location::caller();
            // SAFETY: caller guarantees the object is not yet freed.
            let b = unsafe { &*self.ptr };
            let prev = b
                .header
                .state
                .swap(RETIRED, std::sync::atomic::Ordering::AcqRel);
            assert_eq!(
                prev, LIVE,
                "BUG: RCU: double-free in {site}: object retired twice"
            );
            let p = SendPtr(self.ptr);
            model::call_rcu(
                Flavor::Rcu,
                Box::new(move || {
                    let p = p;
                    // SAFETY: the grace period has elapsed; the object moves to quarantine.
                    unsafe { model::quarantine(p.0, site) }
                }),
            );
        }
    }

    /// Frees the object now. Correct only when no reader can hold it (it was never published,
    /// or the structure is not in RCU mode). Freeing a published object here is the classic
    /// too-early free, which the model reports when a reader touches it.
    ///
    /// # Safety
    /// Called once per object, and (in production) with no reader able to reach it.
    #[track_caller]
    pub unsafe fn free_now(self) {
        if self.ptr.is_null() {
            return;
        }
        #[cfg(not(mmcheck_model))]
        {
            // SAFETY: guaranteed by the caller.
            unsafe { drop(Box::from_raw(self.ptr)) }
        }
        #[cfg(mmcheck_model)]
        {
            // SAFETY: quarantined rather than freed, so a racing reader stays defined.
            unsafe { model::quarantine(self.ptr, Location::caller()) }
        }
    }
}

/// A cache of same-typed RCU objects (`kmem_cache`): the kernel's maple nodes come from
/// one (`maple_node_cache`), and so do this crate's.
///
/// In production the objects are carved out of 2 MiB chunks aligned to 2 MiB, which are
/// offered to the kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`), as slab
/// memory in the kernel's direct map sits on huge pages; freed objects go to a free list and
/// are reused. A structure whose nodes are reached in a dependent chain (a tree descent)
/// then takes one TLB miss less per level than it would with nodes scattered over 4 KiB
/// pages. Chunks are kept for the life of the process, like a slab cache that never
/// shrinks. On the model backends a cache is plain [`Owned::new`], [`Shared::retire`] and
/// [`Shared::free_now`], so the model's quarantine and use-after-free reports apply
/// unchanged.
///
/// **Side words.** A cache made with [`Cache::with_side_words`] gives each slot one
/// [`AtomicU64`](std::sync::atomic::AtomicU64) of metadata, kept in an array at the start
/// of the slot's chunk and found from any address inside the object by arithmetic alone
/// ([`Cache::side_word`]): the chunk is the address rounded down to 2 MiB, the slot its
/// offset divided by the slot size. That is the direct shadow mapping a sanitizer runtime
/// wants (KASAN and KMSAN find shadow by address arithmetic, not by a lookup); the maple
/// node cache keeps its nodes' shadow there.
pub struct Cache<T> {
    /// What the cache holds, for reports.
    name: &'static str,
    #[cfg(not(mmcheck_model))]
    slab: parking_lot::Mutex<slab::Slab>,
    _objects: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Cache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("rcu::Cache")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub use super::slab::CacheStats;

#[cfg(not(mmcheck_model))]
use super::slab;

impl<T: Send + 'static> Cache<T> {
    /// An empty cache; `name` appears in reports.
    pub const fn new(name: &'static str) -> Self {
        Cache {
            name,
            #[cfg(not(mmcheck_model))]
            slab: parking_lot::Mutex::new(slab::Slab::new(false)),
            _objects: std::marker::PhantomData,
        }
    }

    /// An empty cache whose slots each have a side word (see [`Cache::side_word`]). Slots
    /// must be at least 16 bytes; the side words of a chunk take `8 / slot size` of it.
    pub const fn with_side_words(name: &'static str) -> Self {
        Cache {
            name,
            #[cfg(not(mmcheck_model))]
            slab: parking_lot::Mutex::new(slab::Slab::new(true)),
            _objects: std::marker::PhantomData,
        }
    }

    /// The side word of the slot holding address `addr`, found by address arithmetic alone
    /// (no lock, no lookup). The word is zero when its chunk is made and otherwise belongs
    /// to the cache's user, who keeps it across `alloc` and free as it likes. `None` on the
    /// model backends, whose objects are not in chunks.
    ///
    /// # Safety
    /// This cache was made with [`Cache::with_side_words`], and `addr` lies inside an
    /// object allocated from it (live, or freed but not yet reused is fine: chunks are never
    /// given back).
    #[inline(always)]
    pub unsafe fn side_word(&self, addr: usize) -> Option<&'static super::slab::SideWord> {
        #[cfg(not(mmcheck_model))]
        {
            // SAFETY: the caller's guarantee.
            Some(unsafe { slab::side_word(slab::Shape::of::<RcuBox<T>>(), addr) })
        }
        #[cfg(mmcheck_model)]
        {
            let _ = addr;
            None
        }
    }

    /// Allocates `value` in the cache, unpublished. It must end with [`Cache::retire`] or
    /// [`Cache::free_now`] on this cache (never with [`Shared::retire`] or
    /// [`Shared::free_now`]).
    pub fn alloc(&'static self, value: T) -> Shared<T> {
        #[cfg(not(mmcheck_model))]
        {
            let p = self.slab.lock().alloc(slab::Shape::of::<RcuBox<T>>());
            let p = p.cast::<RcuBox<T>>();
            // SAFETY: `p` is a free slot of the right size and alignment.
            unsafe {
                p.write(RcuBox {
                    header: Header::new(),
                    value,
                })
            };
            Shared { ptr: p }
        }
        #[cfg(mmcheck_model)]
        {
            Owned::new(value).into_shared()
        }
    }

    /// Drops the object and returns its memory to the cache after a grace period.
    ///
    /// # Safety
    /// As for [`Shared::retire`]; `s` came from [`Cache::alloc`] on this cache.
    #[track_caller]
    pub unsafe fn retire(&'static self, s: Shared<T>) {
        if s.ptr.is_null() {
            return;
        }
        #[cfg(not(mmcheck_model))]
        {
            let p = SendPtr(s.ptr);
            crossbeam_epoch::pin().defer(move || {
                let p = p;
                // SAFETY: a grace period has elapsed and the object was retired once.
                unsafe { self.release(p.0) }
            });
        }
        #[cfg(mmcheck_model)]
        // SAFETY: the caller's guarantee; the model quarantines it.
        unsafe {
            s.retire()
        }
    }

    /// Drops the object and returns its memory to the cache now.
    ///
    /// # Safety
    /// As for [`Shared::free_now`]; `s` came from [`Cache::alloc`] on this cache.
    #[track_caller]
    pub unsafe fn free_now(&'static self, s: Shared<T>) {
        if s.ptr.is_null() {
            return;
        }
        #[cfg(not(mmcheck_model))]
        // SAFETY: the caller's guarantee.
        unsafe {
            self.release(s.ptr)
        }
        #[cfg(mmcheck_model)]
        // SAFETY: the caller's guarantee; the model quarantines it.
        unsafe {
            s.free_now()
        }
    }

    /// Drops the object in place and puts its slot on the free list.
    ///
    /// # Safety
    /// `p` is a live object of this cache that nobody can reach any more.
    #[cfg(not(mmcheck_model))]
    unsafe fn release(&self, p: *mut RcuBox<T>) {
        // SAFETY: the caller's guarantee.
        unsafe { ptr::drop_in_place(p) };
        // SAFETY: the slot came from this cache's slab and is dead now.
        unsafe { self.slab.lock().free(p.cast()) };
    }

    /// The cache's counters.
    pub fn stats(&self) -> CacheStats {
        #[cfg(not(mmcheck_model))]
        {
            self.slab.lock().stats()
        }
        #[cfg(mmcheck_model)]
        {
            CacheStats::default()
        }
    }
}

struct SendPtr<T>(*mut RcuBox<T>);
// SAFETY: the pointee is `Send`, and the pointer is only used by the one callback that frees it.
unsafe impl<T: Send> Send for SendPtr<T> {}

/// A reference obtained under a read section. Every dereference is checked against the
/// model's quarantine, so a too-early free is reported at the first access after it.
pub struct Ref<'g, T> {
    b: &'g RcuBox<T>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    #[inline(always)]
    #[track_caller]
    fn deref(&self) -> &T {
        self.b.header.check_live();
        &self.b.value
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// An RCU-protected pointer slot (an `__rcu` pointer).
pub struct Atomic<T> {
    ptr: AtomicPtr<RcuBox<T>>,
}

// SAFETY: the slot hands out `&T` to readers on any thread and moves `T` between threads.
unsafe impl<T: Send + Sync> Send for Atomic<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Atomic<T> {}

impl<T: Send + 'static> Atomic<T> {
    /// An empty slot.
    pub fn null() -> Self {
        Atomic {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// A slot holding a new object.
    pub fn new(value: T) -> Self {
        Atomic {
            ptr: AtomicPtr::new(Owned::new(value).into_raw()),
        }
    }

    /// `rcu_dereference`: loads the object for a reader. Use `Acquire` (or stronger).
    #[inline]
    #[track_caller]
    pub fn load<'g>(&self, ord: Ordering, _guard: &'g Guard) -> Option<Ref<'g, T>> {
        let p = self.ptr.load(ord);
        dereference_point();
        // SAFETY: the guard keeps everything reachable at load time alive until it drops;
        // the model checks this claim on every dereference.
        let b = unsafe { p.as_ref()? };
        Some(Ref { b })
    }

    /// Loads the raw pointer, for the updater (`rcu_dereference_protected`).
    pub fn load_shared(&self, ord: Ordering) -> Shared<T> {
        Shared {
            ptr: self.ptr.load(ord),
        }
    }

    /// `rcu_assign_pointer` + `xchg`: publishes `new` (or empties the slot) and returns the
    /// previous object, which the caller must retire (or free if never visible).
    pub fn swap(&self, new: Option<Owned<T>>, ord: Ordering) -> Shared<T> {
        let p = new.map_or(ptr::null_mut(), Owned::into_raw);
        Shared {
            ptr: self.ptr.swap(p, ord),
        }
    }

    /// Publishes `new` if the slot still holds `current`; on failure gives `new` back.
    pub fn compare_exchange(
        &self,
        current: Shared<T>,
        new: Owned<T>,
        success: Ordering,
        failure: Ordering,
    ) -> Result<Shared<T>, Owned<T>> {
        let p = new.ptr.as_ptr();
        match self.ptr.compare_exchange(current.ptr, p, success, failure) {
            Ok(old) => {
                std::mem::forget(new);
                Ok(Shared { ptr: old })
            }
            Err(_) => Err(new),
        }
    }
}

impl<T> std::fmt::Debug for Atomic<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rcu::Atomic")
    }
}

impl<T> Drop for Atomic<T> {
    fn drop(&mut self) {
        #[cfg(mmcheck_loom)]
        let p = self.ptr.with_mut(|p| *p);
        #[cfg(not(mmcheck_loom))]
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            forget_shadow(p);
            // SAFETY: `&mut self` means no reader can reach the slot any more.
            unsafe { drop(Box::from_raw(p)) }
        }
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    //! Production-backend tests; also the Miri suite for this module's `unsafe`.
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    struct Tracked(Arc<AtomicUsize>, u32);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A cache used by one test only (the counters are per cache).
    static TEST_CACHE: Cache<Tracked> = Cache::new("test");

    #[test]
    fn the_two_flavours_do_not_hold_off_each_other() {
        // A normal reader does not delay a tasks-trace grace period...
        let g = read_lock();
        tasks_trace::synchronize();
        assert!(in_read_section() && !tasks_trace::in_read_section());
        drop(g);
        // ...nor a tasks-trace reader a normal one.
        let t = tasks_trace::read_lock();
        synchronize();
        assert!(tasks_trace::in_read_section());
        drop(t);
        // A tasks-trace reader on another thread does hold off a tasks-trace callback.
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let _t = tasks_trace::read_lock();
            ready_tx.send(()).expect("main waits");
            rx.recv().expect("main signals");
        });
        ready_rx.recv().expect("reader entered");
        let r2 = ran.clone();
        tasks_trace::call_rcu(move || r2.store(true, Ordering::SeqCst));
        for _ in 0..50 {
            tasks_trace::poll();
            poll();
            std::thread::yield_now();
        }
        assert!(
            !ran.load(Ordering::SeqCst),
            "a tasks-trace callback ran inside a tasks-trace reader's section"
        );
        tx.send(()).expect("reader waits");
        reader.join().expect("no panic");
        tasks_trace::barrier();
        for _ in 0..1000 {
            if ran.load(Ordering::SeqCst) {
                break;
            }
            tasks_trace::synchronize();
        }
        assert!(
            ran.load(Ordering::SeqCst),
            "the callback ran after the reader left"
        );
    }

    #[test]
    fn cache_reuses_slots_and_drops_objects_once() {
        let d = Arc::new(AtomicUsize::new(0));
        let drops = || d.load(Ordering::SeqCst);
        let a = TEST_CACHE.alloc(Tracked(d.clone(), 1));
        let b = TEST_CACHE.alloc(Tracked(d.clone(), 2));
        assert_ne!(a, b);
        assert_eq!(a.to_raw() % std::mem::align_of::<Tracked>(), 0);
        // SAFETY: both are live and unpublished.
        unsafe {
            assert_eq!(a.as_ref().map(|t| t.1), Some(1));
            assert_eq!(b.as_ref().map(|t| t.1), Some(2));
        }
        let s = TEST_CACHE.stats();
        assert_eq!((s.in_use, s.free, s.chunks), (2, 0, 1));
        // SAFETY: `a` is unpublished and freed once.
        unsafe { TEST_CACHE.free_now(a) };
        assert_eq!(drops(), 1);
        assert_eq!(TEST_CACHE.stats().free, 1);
        // The freed slot is the next one handed out.
        let c = TEST_CACHE.alloc(Tracked(d.clone(), 3));
        assert_eq!(c, a);
        assert_eq!(drops(), 1, "reusing a slot drops nothing");
        // SAFETY: `b` is unpublished and retired once.
        unsafe { TEST_CACHE.retire(b) };
        for _ in 0..1000 {
            if drops() == 2 {
                break;
            }
            synchronize();
        }
        assert_eq!(
            drops(),
            2,
            "a retired object is dropped after a grace period"
        );
        let s = TEST_CACHE.stats();
        assert_eq!((s.in_use, s.free), (1, 1));
        // SAFETY: `c` is unpublished and freed once.
        unsafe { TEST_CACHE.free_now(c) };
        assert_eq!(drops(), 3);
        assert_eq!(TEST_CACHE.stats().in_use, 0);
    }

    #[test]
    fn owned_unpublished_is_dropped() {
        let d = Arc::new(AtomicUsize::new(0));
        let o = Owned::new(Tracked(d.clone(), 7));
        assert_eq!(o.1, 7);
        drop(o);
        assert_eq!(d.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn swap_retire_synchronize_frees_exactly_once() {
        let d = Arc::new(AtomicUsize::new(0));
        let slot = Atomic::new(Tracked(d.clone(), 1));
        {
            let g = read_lock();
            assert_eq!(slot.load(Ordering::Acquire, &g).map(|r| r.1), Some(1));
        }
        let old = slot.swap(Some(Owned::new(Tracked(d.clone(), 2))), Ordering::AcqRel);
        // SAFETY: `old` is unpublished and retired once.
        assert_eq!(unsafe { old.as_ref() }.map(|t| t.1), Some(1));
        // SAFETY: as above.
        unsafe { old.retire() };
        synchronize();
        assert_eq!(d.load(Ordering::SeqCst), 1);
        let g = read_lock();
        assert_eq!(slot.load(Ordering::Acquire, &g).map(|r| r.1), Some(2));
        drop(g);
        drop(slot);
        assert_eq!(d.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn compare_exchange_publishes_or_gives_back() {
        let d = Arc::new(AtomicUsize::new(0));
        let slot: Atomic<Tracked> = Atomic::null();
        let cur = slot.load_shared(Ordering::Acquire);
        assert!(cur.is_null());
        let first = slot
            .compare_exchange(
                cur,
                Owned::new(Tracked(d.clone(), 1)),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .expect("slot was empty");
        assert!(first.is_null());
        let back = slot
            .compare_exchange(
                Shared::null(),
                Owned::new(Tracked(d.clone(), 2)),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .expect_err("slot is no longer empty");
        assert_eq!(back.1, 2);
        drop(back);
        assert_eq!(d.load(Ordering::SeqCst), 1);
        let old = slot.swap(None, Ordering::AcqRel);
        // SAFETY: unpublished by the swap, never visible to a reader in this test.
        unsafe { old.free_now() };
        assert_eq!(d.load(Ordering::SeqCst), 2);
        let g = read_lock();
        assert!(slot.load(Ordering::Acquire, &g).is_none());
    }

    #[test]
    fn call_rcu_and_barrier() {
        let ran = Arc::new(AtomicUsize::new(0));
        let r2 = ran.clone();
        call_rcu(move || {
            r2.fetch_add(1, Ordering::SeqCst);
        });
        barrier();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(!in_read_section());
        let g = read_lock();
        assert!(in_read_section());
        drop(g);
    }
}
