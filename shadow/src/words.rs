//! Word shadow: a direct shadow for objects that are only ever written and read in whole
//! 8-byte words, kept by the objects' allocator.
//!
//! The [`registry`](crate::registry) finds the shadow of an address with a map search under a
//! lock, which suits memory of any shape. Sanitizer runtimes in the field find it with
//! address arithmetic and one load (KASAN: `(addr >> 3) + offset`; KMSAN: the page's
//! metadata), and so does this module: the allocator keeps one `AtomicU64` *side word* per
//! object at an address it computes from the object's (the maple node cache keeps them at
//! the start of each slab chunk, see `algos::sync::rcu::Cache::side_word`). The side word
//! holds
//!
//! * bits 0..32: one poison bit per word of the object (set = uninitialized), and
//! * bits 32..64: the raw [`Origin`] of the poison.
//!
//! When every access is a whole aligned word, one bit per word is exactly KMSAN's
//! bit-precise shadow: a store initializes all 64 bits of its word, a load uses all 64. The
//! only poison such an object gets is its allocation's, so one origin per object is exact
//! too. Reports are the ones the registry would file for the same access (`uninit-value`,
//! the whole 8-byte word, the allocation origin). A freed object's side word is cleared, as
//! the registry forgets the region of freed memory.
//!
//! **The runtime is not instrumented.** Fuzz builds compile every crate with
//! SanitizerCoverage, comparison tracing included, and a shadow check done inline in the
//! checked code would feed libFuzzer a traced comparison per checked word: measured on the
//! maple target, over half the fuzzer's CPU time went to those callbacks, and they fill the
//! fuzzer's comparison tables with the runtime's values rather than the input's. KMSAN's
//! and ASan's runtimes are built without instrumentation for the same reason. LLVM's
//! SanitizerCoverage pass never instruments a function whose symbol starts with
//! `__sanitizer_` (the callbacks of sanitizer runtimes), so the per-access entry points
//! here, [`load`] and [`store`], are out-of-line functions exported under such names; all
//! of their work is inlined into them and runs untraced. What remains in the checked code is
//! the address arithmetic and the call.

use crate::origin::{Origin, Site};
use crate::report::{emit, BugKind, Report};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most words an object with a word shadow may have.
pub const MAX_WORDS: usize = 32;

/// The poison bits of a side word.
const POISON_MASK: u64 = (1 << MAX_WORDS) - 1;

/// Poisons words `0..words` of the object whose side word is `side`, with origin `origin`
/// (an allocation that does not zero them).
#[inline]
pub fn poison(side: &AtomicU64, words: usize, origin: Origin) {
    assert!(words <= MAX_WORDS, "at most {MAX_WORDS} words per object");
    let bits = if words == MAX_WORDS {
        POISON_MASK
    } else {
        (1u64 << words) - 1
    };
    side.store(
        (u64::from(origin.raw()) << MAX_WORDS) | bits,
        Ordering::Release,
    );
}

/// Forgets the shadow of a freed object: every word reads as initialized, as for memory
/// that was never tracked.
#[inline]
pub fn clear(side: &AtomicU64) {
    side.store(0, Ordering::Release);
}

/// True if word `word` of the object whose side word is `side` is poisoned.
#[inline]
pub fn is_poisoned(side: &AtomicU64, word: usize) -> bool {
    side.load(Ordering::Acquire) & (1 << word) != 0
}

/// A store of a whole word: word `word` (below [`MAX_WORDS`]) of the object whose side word
/// is `side` is initialized from now on. Not instrumented (see the module docs).
///
/// The stores to one object's words must be serialized (its writer holds a lock, as the
/// maple tree's writer does); readers may run concurrently. The update is a load and a
/// store, not a read-modify-write: a locked instruction per first write of every word of
/// every new object was a tenth of the fuzz target's time.
#[inline(never)]
#[export_name = "__sanitizer_mmcheck_word_store"]
pub fn store(side: &AtomicU64, word: usize) {
    let bit = 1u64 << (word % MAX_WORDS);
    let v = side.load(Ordering::Acquire);
    if v & bit != 0 {
        side.store(v & !bit, Ordering::Release);
    }
}

/// A use of a whole word: reports `uninit-value` at `location` (in `function`) if word
/// `word` of the object whose side word is `side` is poisoned. `addr` is the word's
/// address, for the report. Not instrumented (see the module docs).
#[inline(never)]
#[export_name = "__sanitizer_mmcheck_word_load"]
pub fn load(
    side: &AtomicU64,
    word: usize,
    addr: usize,
    location: &'static Location<'static>,
    function: Option<&'static str>,
) {
    let v = side.load(Ordering::Acquire);
    if v & (1u64 << (word % MAX_WORDS)) != 0 {
        report(v, addr, location, function);
    }
}

#[cold]
#[inline(never)]
fn report(
    v: u64,
    addr: usize,
    location: &'static Location<'static>,
    function: Option<&'static str>,
) {
    emit(Report {
        kind: BugKind::UninitValue,
        site: Site::new(location, function),
        origin: Origin::from_raw((v >> MAX_WORDS) as u32),
        bytes: Some((0, 7, 8)),
        addr: Some(addr),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Created;
    use crate::report::collect;

    #[test]
    fn stores_initialize_words_and_loads_of_the_others_report() {
        let side = AtomicU64::new(0);
        let o = Origin::new(Created::Alloc);
        poison(&side, 31, o);
        store(&side, 3);
        let ((), r) = collect(|| load(&side, 3, 0x1018, Location::caller(), None));
        assert!(r.is_empty(), "{r:?}");
        let ((), r) = collect(|| load(&side, 4, 0x1020, Location::caller(), Some("f")));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].kind, BugKind::UninitValue);
        assert_eq!(r[0].origin, Some(o));
        assert_eq!((r[0].bytes, r[0].addr), (Some((0, 7, 8)), Some(0x1020)));
        assert!(is_poisoned(&side, 30) && !is_poisoned(&side, 31));
        clear(&side);
        let ((), r) = collect(|| load(&side, 4, 0x1020, Location::caller(), None));
        assert!(r.is_empty());
    }

    #[test]
    fn a_whole_object_of_max_words() {
        let side = AtomicU64::new(0);
        poison(&side, MAX_WORDS, Origin::new(Created::Alloc));
        assert!((0..MAX_WORDS).all(|w| is_poisoned(&side, w)));
    }
}
