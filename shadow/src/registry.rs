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
use std::sync::{OnceLock, RwLock};

struct Region {
    meta: Meta,
    freed: Option<Origin>,
}

fn regions() -> &'static RwLock<BTreeMap<usize, Region>> {
    static R: OnceLock<RwLock<BTreeMap<usize, Region>>> = OnceLock::new();
    R.get_or_init(|| RwLock::new(BTreeMap::new()))
}

fn with_region<R>(addr: usize, len: usize, f: impl FnOnce(&mut Region, usize) -> R) -> Option<R> {
    let mut g = regions().write().unwrap_or_else(|e| e.into_inner());
    let (_, r) = g.range_mut(..=addr).next_back()?;
    let off = addr - r.meta.base();
    (off + len <= r.meta.len()).then(|| f(r, off))
}

/// Registers `[addr, addr + len)`: initialized if `zeroed`, else poisoned with an `Alloc`
/// origin at the caller. Re-registering an address replaces the old region.
#[track_caller]
pub fn register(addr: usize, len: usize, zeroed: bool) {
    let mut meta = Meta::new(addr, len);
    if !zeroed {
        meta.poison(0, len, Origin::new_at(Created::Alloc, Site::here()));
    }
    regions()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(addr, Region { meta, freed: None });
}

/// Forgets the region starting at `addr` (its memory went back to the system).
pub fn unregister(addr: usize) {
    regions()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&addr);
}

/// True if `addr` lies in a registered region.
pub fn is_tracked(addr: usize) -> bool {
    with_region(addr, 0, |_, _| ()).is_some()
}

/// Marks `[addr, addr + len)` initialized. Untracked memory is ignored.
pub fn unpoison(addr: usize, len: usize) {
    with_region(addr, len, |r, off| r.meta.unpoison(off, len));
}

/// Marks `[addr, addr + len)` uninitialized with a `Poison` origin at the caller.
#[track_caller]
pub fn poison(addr: usize, len: usize) {
    let o = Origin::new_at(Created::Poison, Site::here());
    with_region(addr, len, |r, off| r.meta.poison(off, len, o));
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
    with_region(addr, 0, |r, _| {
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
    // Fast path under the shared lock: clean memory in a live region reports nothing.
    {
        let g = regions().read().unwrap_or_else(|e| e.into_inner());
        let clean = match g.range(..=addr).next_back() {
            None => true,
            Some((_, r)) => {
                let off = addr - r.meta.base();
                off + len > r.meta.len() || (r.freed.is_none() && r.meta.is_clean(off, len))
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
