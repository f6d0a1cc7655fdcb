//! Slab caches of same-typed objects (`kmem_cache`): objects are carved out of 2 MiB chunks
//! aligned to 2 MiB, offered to the kernel for transparent huge pages, and freed objects go
//! to a free list and are reused.
//!
//! Kernel mapping. Faithful: per-cache slots of one size (`kmem_cache_create`), alloc from a
//! free list or a fresh slab (`kmem_cache_alloc`), free back to the cache (`kmem_cache_free`),
//! slab memory on huge pages as the kernel's direct map has it, and optionally one metadata
//! word per slot found by address arithmetic (the shape of KASAN's and KMSAN's shadow
//! mapping). Different: one free list under one lock (no per-CPU partial slabs: the per-CPU
//! layer is what `bpf_mem_alloc` builds on top), and chunks are returned only when a cache
//! with no live object is dropped.
//!
//! Two users: [`rcu::Cache`](super::rcu::Cache), the RCU object cache whose frees wait for a
//! grace period (the maple node cache), and [`KmemCache`], a typed cache with no tie to RCU
//! and no `'static` requirement (what a per-CPU allocator refills from). On the model
//! backends there is no slab: objects are boxed, so the model's quarantine and the
//! sanitizer's reports apply unchanged.

use std::ptr::NonNull;

#[cfg(not(mmcheck_model))]
pub(crate) use raw::{side_word, Shape, Slab};

/// A slot's side word (see [`rcu::Cache::side_word`](super::rcu::Cache::side_word)): a
/// `std` atomic on every backend, because it holds sanitizer metadata, not state the model
/// checkers explore.
pub type SideWord = std::sync::atomic::AtomicU64;

/// Counters of a cache (all zero on the model backends, which have no slab).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Chunks taken from the allocator.
    pub chunks: usize,
    /// Bytes per chunk.
    pub chunk_bytes: usize,
    /// Objects handed out and not yet given back.
    pub in_use: usize,
    /// Objects on the free list.
    pub free: usize,
    /// Whether chunks are offered for transparent huge pages (`MMCHECK_NO_HUGEPAGES`
    /// unset, on Linux).
    pub huge_pages: bool,
}

/// A typed slab cache (`kmem_cache`) with no tie to RCU: [`KmemCache::alloc`] hands out an
/// object, [`KmemCache::free`] drops it and reuses its slot at once. It needs no `'static`
/// lifetime; dropping the cache gives its chunks back if no object is live.
pub struct KmemCache<T> {
    /// What the cache holds, for reports.
    name: &'static str,
    #[cfg(not(mmcheck_model))]
    slab: parking_lot::Mutex<Slab>,
    #[cfg(mmcheck_model)]
    live: std::sync::atomic::AtomicUsize,
    _objects: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for KmemCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmemCache")
            .field("name", &self.name)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<T> KmemCache<T> {
    /// An empty cache; `name` appears in reports.
    pub const fn new(name: &'static str) -> Self {
        KmemCache {
            name,
            #[cfg(not(mmcheck_model))]
            slab: parking_lot::Mutex::new(Slab::new(false)),
            #[cfg(mmcheck_model)]
            live: std::sync::atomic::AtomicUsize::new(0),
            _objects: std::marker::PhantomData,
        }
    }

    /// Allocates `value` in the cache (`kmem_cache_alloc`).
    pub fn alloc(&self, value: T) -> NonNull<T> {
        #[cfg(not(mmcheck_model))]
        {
            let p = self.slab.lock().alloc(Shape::of::<T>()).cast::<T>();
            // SAFETY: `p` is a free slot of the right size and alignment.
            unsafe { p.write(value) };
            NonNull::new(p).expect("slab slots are never null")
        }
        #[cfg(mmcheck_model)]
        {
            self.live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            NonNull::from(Box::leak(Box::new(value)))
        }
    }

    /// Drops the object and gives its slot back to the cache at once (`kmem_cache_free`).
    ///
    /// # Safety
    /// `p` came from [`KmemCache::alloc`] on this cache, was not freed since, and nothing
    /// uses it after this call.
    pub unsafe fn free(&self, p: NonNull<T>) {
        #[cfg(not(mmcheck_model))]
        {
            // SAFETY: the caller's guarantee.
            unsafe { std::ptr::drop_in_place(p.as_ptr()) };
            // SAFETY: the slot came from this cache's slab and is dead now.
            unsafe { self.slab.lock().free(p.as_ptr().cast()) };
        }
        #[cfg(mmcheck_model)]
        {
            self.live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            // SAFETY: the caller's guarantee: it came from `Box::leak` in `alloc`.
            drop(unsafe { Box::from_raw(p.as_ptr()) });
        }
    }

    /// The cache's counters (on the model backends only `in_use` is counted).
    pub fn stats(&self) -> CacheStats {
        #[cfg(not(mmcheck_model))]
        {
            self.slab.lock().stats()
        }
        #[cfg(mmcheck_model)]
        {
            CacheStats {
                in_use: self.live.load(std::sync::atomic::Ordering::Relaxed),
                ..CacheStats::default()
            }
        }
    }
}

// SAFETY: the cache hands out objects of type `T` to any thread that calls `alloc`, and
// takes them back from any thread: that is sending `T`.
unsafe impl<T: Send> Send for KmemCache<T> {}
// SAFETY: as above; the slab is behind its mutex.
unsafe impl<T: Send> Sync for KmemCache<T> {}

/// The chunk slab behind both caches (std backend): a bump pointer in the newest chunk and
/// a free list threaded through the first word of each free slot.
#[cfg(not(mmcheck_model))]
mod raw {
    use super::CacheStats;
    use std::alloc::Layout;
    use std::ptr;

    /// Bytes per chunk: one transparent huge page (smaller under Miri, which interprets
    /// every byte).
    const CHUNK: usize = if cfg!(miri) { 64 << 10 } else { 2 << 20 };

    /// Size and alignment of a cache's slots.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Shape {
        size: usize,
        align: usize,
    }

    impl Shape {
        /// The slot shape for objects of type `O`: at least one pointer wide, so that a
        /// free slot can hold the free list's link.
        #[inline(always)]
        pub(crate) fn of<O>() -> Shape {
            let align = std::mem::align_of::<O>().max(std::mem::align_of::<*mut u8>());
            let size = std::mem::size_of::<O>()
                .max(std::mem::size_of::<*mut u8>())
                .next_multiple_of(align);
            assert!(
                size <= CHUNK && align <= CHUNK,
                "object too large for a slab"
            );
            Shape { size, align }
        }
    }

    /// The number of leading slots of a chunk given to the side words of its slots (one
    /// `u64` per slot, the leading slots' own included, indexed by slot number).
    #[inline(always)]
    const fn side_slots(size: usize) -> usize {
        (CHUNK / size * 8).div_ceil(size)
    }

    /// The side word of the slot of `shape` that holds `addr`.
    ///
    /// # Safety
    /// `addr` lies in an object of a slab with side words whose slots have `shape`.
    #[inline(always)]
    pub(crate) unsafe fn side_word(
        shape: Shape,
        addr: usize,
    ) -> &'static std::sync::atomic::AtomicU64 {
        let chunk = addr & !(CHUNK - 1);
        let slot = (addr - chunk) / shape.size;
        // SAFETY: the chunk's address was exposed when it was made (`grow`), its first
        // `side_slots` slots hold one zero-initialized `u64` per slot, and `slot` is the
        // number of a slot of that chunk, so the word is in bounds, aligned, and only ever
        // accessed atomically.
        unsafe {
            &*std::ptr::with_exposed_provenance::<std::sync::atomic::AtomicU64>(chunk + 8 * slot)
        }
    }

    pub(crate) struct Slab {
        /// Whether the first slots of each chunk hold a side word per slot.
        side: bool,
        /// The first free slot; each free slot's first word points to the next.
        free: *mut u8,
        /// The next never-used byte of the newest chunk, and that chunk's end.
        bump: *mut u8,
        end: *mut u8,
        /// The shape every slot of this slab has (fixed by the first allocation).
        shape: Option<Shape>,
        chunks: usize,
        in_use: usize,
        free_count: usize,
        /// Every chunk, so that they stay reachable (Miri's leak check) and are counted.
        all: Vec<*mut u8>,
    }

    impl Drop for Slab {
        /// Gives the chunks back, unless objects are still live in them (then they stay: a
        /// reachable object must stay valid; the kernel's `kmem_cache_destroy` warns about such
        /// objects, and [`KmemCache::stats`](super::KmemCache::stats) shows them). A slab in a `static` never drops.
        fn drop(&mut self) {
            if self.in_use != 0 {
                return;
            }
            let layout = Layout::from_size_align(CHUNK, CHUNK).expect("valid chunk layout");
            for c in self.all.drain(..) {
                // SAFETY: every chunk came from `alloc` with this layout in `grow`, and no
                // object of this slab is live.
                unsafe { std::alloc::dealloc(c, layout) };
            }
        }
    }

    // SAFETY: the raw pointers are owned by the slab; it is only used behind its mutex.
    unsafe impl Send for Slab {}

    impl Slab {
        pub(crate) const fn new(side: bool) -> Slab {
            Slab {
                side,
                free: ptr::null_mut(),
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
                shape: None,
                chunks: 0,
                in_use: 0,
                free_count: 0,
                all: Vec::new(),
            }
        }

        /// A slot of `shape`: from the free list, else carved from the newest chunk, else
        /// from a new chunk.
        pub(crate) fn alloc(&mut self, shape: Shape) -> *mut u8 {
            let s = *self.shape.get_or_insert(shape);
            assert!(s == shape, "one cache, one object shape");
            assert!(
                !self.side || s.size >= 16,
                "side words need slots of at least 16 bytes"
            );
            self.in_use += 1;
            if !self.free.is_null() {
                let p = self.free;
                // SAFETY: a free slot holds the link to the next one in its first word.
                self.free = unsafe { p.cast::<*mut u8>().read() };
                self.free_count -= 1;
                return p;
            }
            if (self.end as usize) - (self.bump as usize) < s.size {
                self.grow();
            }
            let p = self.bump;
            // SAFETY: `p + size` stays within the chunk (checked above).
            self.bump = unsafe { p.add(s.size) };
            p
        }

        /// Puts `p` on the free list.
        ///
        /// # Safety
        /// `p` came from [`Slab::alloc`] and holds no live object.
        pub(crate) unsafe fn free(&mut self, p: *mut u8) {
            // SAFETY: the slot is at least a pointer wide and pointer aligned.
            unsafe { p.cast::<*mut u8>().write(self.free) };
            self.free = p;
            self.in_use -= 1;
            self.free_count += 1;
        }

        /// Takes a new chunk from the global allocator and offers it for huge pages.
        fn grow(&mut self) {
            let layout = Layout::from_size_align(CHUNK, CHUNK).expect("valid chunk layout");
            // SAFETY: the layout has a non-zero size.
            let c = unsafe { std::alloc::alloc(layout) };
            if c.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            advise_huge(c);
            let align = self.shape.map_or(1, |s| s.align);
            self.bump = c;
            if let Some(s) = self.shape.filter(|_| self.side) {
                // `side_word` finds the side words from plain addresses.
                let _ = c.expose_provenance();
                let head = side_slots(s.size) * s.size;
                // SAFETY: `head` is less than `CHUNK` (slots are at least 16 bytes).
                unsafe {
                    ptr::write_bytes(c, 0, head);
                    self.bump = c.add(head);
                }
            }
            // SAFETY: the chunk is `CHUNK` bytes; chunks are aligned far beyond any slot.
            self.end = unsafe { c.add(CHUNK) };
            debug_assert_eq!(c as usize % align, 0);
            self.chunks += 1;
            self.all.push(c);
        }

        pub(crate) fn stats(&self) -> CacheStats {
            CacheStats {
                chunks: self.chunks,
                chunk_bytes: CHUNK,
                in_use: self.in_use,
                free: self.free_count,
                huge_pages: cfg!(all(target_os = "linux", not(miri))) && huge_pages(),
            }
        }
    }

    /// Asks the kernel to back the chunk with a transparent huge page, unless the
    /// environment variable `MMCHECK_NO_HUGEPAGES` is set (to measure what the huge pages
    /// are worth). Advice only: where it is not taken, the chunk is ordinary memory.
    fn advise_huge(c: *mut u8) {
        #[cfg(all(target_os = "linux", not(miri)))]
        if huge_pages() {
            // SAFETY: `c` is the start of a mapped, 2 MiB-aligned region of `CHUNK` bytes
            // that this slab owns; the advice changes no contents.
            unsafe {
                libc::madvise(c.cast(), CHUNK, libc::MADV_HUGEPAGE);
            }
        }
        let _ = c;
    }

    /// Whether new chunks are offered for huge pages (read once per process).
    pub(crate) fn huge_pages() -> bool {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ON.get_or_init(|| std::env::var_os("MMCHECK_NO_HUGEPAGES").is_none())
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::KmemCache;

    #[test]
    fn objects_are_reused_and_a_local_cache_gives_its_chunks_back() {
        struct Node {
            v: u64,
            _pad: [u64; 7],
        }
        let cache = KmemCache::new("test nodes");
        let a = cache.alloc(Node { v: 1, _pad: [0; 7] });
        let b = cache.alloc(Node { v: 2, _pad: [0; 7] });
        // SAFETY: live objects of this cache.
        unsafe {
            assert_eq!((a.as_ref().v, b.as_ref().v), (1, 2));
            cache.free(a);
        }
        let c = cache.alloc(Node { v: 3, _pad: [0; 7] });
        assert_eq!(c, a, "the freed slot is reused first");
        let s = cache.stats();
        assert_eq!((s.in_use, s.free, s.chunks), (2, 0, 1));
        // SAFETY: as above.
        unsafe {
            cache.free(b);
            cache.free(c);
        }
        assert_eq!(cache.stats().in_use, 0);
        drop(cache);
    }
}
