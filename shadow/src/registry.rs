//! The global, address-keyed registry: shadow for real memory that algorithm code owns.
//!
//! Code built with `algos`' `sanitize` feature registers its allocations here (poisoned
//! unless zeroed), unpoisons what it initializes, checks what it uses, and poisons what it
//! frees; the model RCU poisons quarantined objects as freed, so a reader that outlives its
//! grace period is reported as `use-after-free` with the free site as origin. Memory that was
//! never registered is untracked and treated as initialized, as KMSAN treats untracked pages.

use crate::meta::{Meta, Run};
use crate::origin::{Created, Origin, Site};
use crate::report::{emit, BugKind, Report};
use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock};

struct Region {
    meta: Meta,
    freed: Option<Origin>,
}

fn regions() -> &'static RwLock<BTreeMap<usize, Region>> {
    static R: OnceLock<RwLock<BTreeMap<usize, Region>>> = OnceLock::new();
    R.get_or_init(|| RwLock::new(BTreeMap::new()))
}

/// Words in the clean-word cache (direct-mapped by address).
const CLEAN_WORDS: usize = 4096;

/// The clean-word cache: slot `i` holds the address of a word (8-aligned, inside one live
/// region) that was found clean, or 0. A check of a cached word needs neither the lock nor
/// the region search, which is what keeps checked code that reads the same words over and
/// over (a tree walk, a validator) from paying a map search per word. Entries are written
/// only under the shared lock, and every change that can poison or free a word clears that
/// word's entry under the write lock ([`forget_words`]); making bytes clean ([`unpoison`])
/// leaves the cache alone. A fresh region cannot have cached words: they were cleared when
/// the region that held them before went away.
static CLEAN: [AtomicUsize; CLEAN_WORDS] = [const { AtomicUsize::new(0) }; CLEAN_WORDS];

/// The cache slot of the word at `w`.
fn clean_slot(w: usize) -> usize {
    (w >> 3) % CLEAN_WORDS
}

/// The word that `[addr, addr + len)` lies in, if the access fits in one (non-null) word:
/// the only accesses the clean-word cache answers.
fn cacheable_word(addr: usize, len: usize) -> Option<usize> {
    let word = addr & !7;
    (word != 0 && len <= 8 && addr - word + len <= 8).then_some(word)
}

/// True if `word` is cached as clean.
fn cached_clean(word: Option<usize>) -> bool {
    word.is_some_and(|w| CLEAN[clean_slot(w)].load(Ordering::Acquire) == w)
}

/// Caches `word` if it lies wholly inside `r` (so no other region shares it) and is clean
/// there. Call under the registry lock (shared or exclusive), so that no change can come
/// between the test and the entry.
fn cache_if_clean(r: &Region, word: Option<usize>) {
    let Some(w) = word else { return };
    let base = r.meta.base();
    if r.freed.is_none()
        && w >= base
        && w - base + 8 <= r.meta.len()
        && r.meta.is_clean(w - base, 8)
    {
        CLEAN[clean_slot(w)].store(w, Ordering::Release);
    }
}

/// Drops the cache entries of the words overlapping `[addr, addr + len)` (call with the
/// write lock held).
fn forget_words(addr: usize, len: usize) {
    if len >= CLEAN_WORDS * 8 {
        for e in &CLEAN {
            e.store(0, Ordering::Release);
        }
        return;
    }
    let mut w = addr & !7;
    while w < addr + len.max(1) {
        let _ = CLEAN[clean_slot(w)].compare_exchange(w, 0, Ordering::AcqRel, Ordering::Relaxed);
        w += 8;
    }
}

fn with_region<R>(addr: usize, len: usize, f: impl FnOnce(&mut Region, usize) -> R) -> Option<R> {
    let mut g = regions().write().unwrap_or_else(|e| e.into_inner());
    let (_, r) = g.range_mut(..=addr).next_back()?;
    let off = addr - r.meta.base();
    (off + len <= r.meta.len()).then(|| f(r, off))
}

/// [`with_region`] for changes that can poison: forgets the cached words they touch before
/// the lock is released.
fn change_region<R>(addr: usize, len: usize, f: impl FnOnce(&mut Region, usize) -> R) -> Option<R> {
    let mut g = regions().write().unwrap_or_else(|e| e.into_inner());
    let (_, r) = g.range_mut(..=addr).next_back()?;
    let off = addr - r.meta.base();
    if off + len > r.meta.len() {
        return None;
    }
    // A zero length stands for the whole region (freeing it).
    let (base, whole) = (r.meta.base(), r.meta.len());
    let out = f(r, off);
    if len == 0 {
        forget_words(base, whole);
    } else {
        forget_words(addr, len);
    }
    drop(g);
    Some(out)
}

/// Registers `[addr, addr + len)`: initialized if `zeroed`, else poisoned with an `Alloc`
/// origin at the caller. Re-registering an address replaces the old region.
#[track_caller]
pub fn register(addr: usize, len: usize, zeroed: bool) {
    let mut meta = Meta::new(addr, len);
    if !zeroed {
        meta.poison(0, len, Origin::new_at(Created::Alloc, Site::here()));
    }
    let mut g = regions().write().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = g.insert(addr, Region { meta, freed: None }) {
        forget_words(addr, old.meta.len());
    }
}

/// Forgets the region starting at `addr` (its memory went back to the system).
pub fn unregister(addr: usize) {
    let mut g = regions().write().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = g.remove(&addr) {
        forget_words(addr, old.meta.len());
    }
}

/// True if `addr` lies in a registered region.
pub fn is_tracked(addr: usize) -> bool {
    with_region(addr, 0, |_, _| ()).is_some()
}

/// Marks `[addr, addr + len)` initialized. Untracked memory is ignored.
pub fn unpoison(addr: usize, len: usize) {
    // A word known clean stays clean.
    let word = cacheable_word(addr, len);
    if cached_clean(word) {
        return;
    }
    with_region(addr, len, |r, off| {
        r.meta.unpoison(off, len);
        cache_if_clean(r, word);
    });
}

/// Marks `[addr, addr + len)` uninitialized with a `Poison` origin at the caller.
#[track_caller]
pub fn poison(addr: usize, len: usize) {
    let o = Origin::new_at(Created::Poison, Site::here());
    change_region(addr, len, |r, off| r.meta.poison(off, len, o));
}

/// Marks the whole region at `addr` freed: poisoned with a `Free` origin at the caller, and
/// every later [`check`] of it reports `use-after-free`.
#[track_caller]
pub fn poison_freed(addr: usize) {
    poison_freed_at(addr, Site::here());
}

/// [`poison_freed`] with the free site given explicitly (for runtimes that free on behalf of
/// a caller, like the model RCU after a grace period).
pub fn poison_freed_at(addr: usize, site: Site) {
    let o = Origin::new_at(Created::Free, site);
    change_region(addr, 0, |r, _| {
        let len = r.meta.len();
        r.meta.poison(0, len, o);
        r.freed = Some(o);
    });
}

/// Copies the metadata of `n` bytes from `src` to `dst` (call alongside the data copy),
/// chaining each source origin once with the caller as "stored to memory at". From
/// untracked memory the destination becomes initialized; to untracked memory nothing
/// happens.
#[track_caller]
pub fn copy(dst: usize, src: usize, n: usize) {
    let site = Site::here();
    let mut g = regions().write().unwrap_or_else(|e| e.into_inner());
    // The copy may poison the destination.
    forget_words(dst, n);
    let find = |g: &BTreeMap<usize, Region>, addr: usize| {
        g.range(..=addr)
            .next_back()
            .filter(|(_, r)| addr - r.meta.base() + n <= r.meta.len())
            .map(|(k, r)| (*k, addr - r.meta.base()))
    };
    let Some((dkey, doff)) = find(&g, dst) else {
        return;
    };
    match find(&g, src) {
        None => {
            if let Some(r) = g.get_mut(&dkey) {
                r.meta.unpoison(doff, n);
            }
        }
        Some((skey, soff)) if skey == dkey => {
            if let Some(r) = g.get_mut(&dkey) {
                r.meta.move_within(doff, soff, n, &site);
            }
        }
        Some((skey, soff)) => {
            let Some(mut d) = g.remove(&dkey) else { return };
            if let Some(s) = g.get(&skey) {
                d.meta.copy_from(doff, &s.meta, soff, n, &site);
            }
            g.insert(dkey, d);
        }
    }
}

/// Checks `[addr, addr + len)` as a use at the caller: each maximal poisoned run with one
/// origin is reported; a freed region is a `use-after-free`. Returns the runs.
#[track_caller]
pub fn check(addr: usize, len: usize) -> Vec<Run> {
    check_in(addr, len, None)
}

/// [`check`] naming the function of the use.
#[track_caller]
pub fn check_in(addr: usize, len: usize, function: Option<&'static str>) -> Vec<Run> {
    // Fastest path: an access inside one word found clean before.
    let word = cacheable_word(addr, len);
    if cached_clean(word) {
        return Vec::new();
    }
    // Fast path under the shared lock: clean memory in a live region reports nothing.
    {
        let g = regions().read().unwrap_or_else(|e| e.into_inner());
        let clean = match g.range(..=addr).next_back() {
            None => true,
            Some((_, r)) => {
                let off = addr - r.meta.base();
                if off + len > r.meta.len() {
                    true
                } else {
                    let clean = r.freed.is_none() && r.meta.is_clean(off, len);
                    if clean {
                        cache_if_clean(r, word);
                    }
                    clean
                }
            }
        };
        if clean {
            return Vec::new();
        }
    }
    let found =
        with_region(addr, len, |r, off| (r.meta.runs(off, len), r.freed)).unwrap_or_default();
    let (runs, freed) = found;
    for run in &runs {
        let uaf = freed.is_some() || run.origin.is_some_and(|o| o.is_uaf());
        emit(Report {
            kind: if uaf {
                BugKind::UseAfterFree
            } else {
                BugKind::UninitValue
            },
            site: Site::new(Location::caller(), function),
            origin: run.origin.or(freed),
            bytes: Some((run.first, run.last, len)),
            addr: Some(addr),
        });
    }
    runs
}
