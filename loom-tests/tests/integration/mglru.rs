//! loom models of the multi-gen LRU's folio flag protocol (`algos::mglru::folio`): the
//! page-table walker's `folio_update_gen` (promotion to the youngest generation, no lock)
//! against `folio_inc_gen` (`inc_min_seq` and `sort_folio` moving an oldest folio on, under
//! the lru_lock) and against isolation (`isolate_folio` then `lru_gen_del_folio`), with an fd
//! access (`folio_inc_refs`) racing both. Each side reports the generation it saw, as the
//! kernel's callers do to keep `nr_pages` (the walker batches `old -> new`, the others move
//! or remove one page from the generation they saw); the models add those deltas up and
//! require them to match where the folio ends up, so a lost update (a plain store where a
//! compare-and-swap belongs) shows as a size that is off by one.
#![cfg(mmcheck_loom)]

use algos::mglru::folio::{
    gen_bits, inc_gen, inc_refs, lru_gen, set_mask_bits, update_gen, LRU_GEN_MASK, PG_LRU,
    PG_REFERENCED,
};
use algos::sync::atomic::{AtomicU64, Ordering};
use algos::sync::{thread, Arc};

const OLDEST: usize = 0;
const YOUNGEST: usize = 3;

/// Adds one page-move report to per-generation counts.
fn moved(count: &mut [i64; 4], from: Option<usize>, to: Option<usize>) {
    if let Some(f) = from {
        count[f] -= 1;
    }
    if let Some(t) = to {
        count[t] += 1;
    }
}

#[test]
fn promotion_and_inc_gen_agree_on_the_sizes() {
    crate::model(|| {
        let f = Arc::new(AtomicU64::new(gen_bits(OLDEST) | PG_LRU));
        let w = {
            let f = f.clone();
            thread::spawn(move || update_gen(&f, YOUNGEST))
        };
        let a = {
            let f = f.clone();
            thread::spawn(move || inc_refs(&f))
        };
        let (g, was_moved) = inc_gen(&f, OLDEST, false);
        let old = w.join().expect("walker");
        a.join().expect("accessor");
        let mut count = [0i64; 4];
        count[OLDEST] = 1;
        if was_moved {
            moved(&mut count, Some(OLDEST), Some(g));
        }
        if let Some(o) = old {
            if o != YOUNGEST {
                moved(&mut count, Some(o), Some(YOUNGEST));
            }
        }
        let end = lru_gen(f.load(Ordering::Relaxed));
        assert_eq!(end, Some(YOUNGEST), "the promotion is never lost");
        let mut want = [0i64; 4];
        want[YOUNGEST] = 1;
        assert_eq!(
            count, want,
            "the size reports disagree with where the folio is"
        );
    });
}

#[test]
fn promotion_of_an_isolated_folio_only_marks_it_referenced() {
    crate::model(|| {
        let f = Arc::new(AtomicU64::new(gen_bits(OLDEST) | PG_LRU));
        let w = {
            let f = f.clone();
            thread::spawn(move || update_gen(&f, YOUNGEST))
        };
        // isolate_folio, then lru_gen_del_folio.
        let was = set_mask_bits(&f, PG_LRU, 0);
        assert_ne!(was & PG_LRU, 0);
        let del = lru_gen(set_mask_bits(&f, LRU_GEN_MASK, 0));
        let old = w.join().expect("walker");
        let mut count = [0i64; 4];
        count[OLDEST] = 1;
        moved(&mut count, del, None);
        if let Some(o) = old {
            if o != YOUNGEST {
                moved(&mut count, Some(o), Some(YOUNGEST));
            }
        }
        let end = f.load(Ordering::Relaxed);
        assert_eq!(
            lru_gen(end),
            None,
            "an isolated folio has no generation: {end:#x}"
        );
        assert_eq!(count, [0; 4], "the size reports disagree: {count:?}");
        if old.is_none() {
            assert_ne!(
                end & PG_REFERENCED,
                0,
                "a walker that found it isolated marks it referenced"
            );
        }
    });
}

/// `inc_max_seq` publishes a new generation with a release store of `max_seq`, after it
/// wrote the generation's birth time; a lock-free reader (the `min_ttl` test, the debugfs
/// dump) that sees the new `max_seq` must see that birth time, not the one left in the
/// slot by the generation that used it four sequence numbers before.
#[test]
fn a_reader_that_sees_a_new_generation_sees_its_birth_time() {
    use algos::mglru::{Lruvec, MIN_NR_GENS};
    crate::model(|| {
        let lru = Arc::new(Lruvec::new(2));
        // No page-table walk: the aging is inc_max_seq alone.
        lru.set_caps(1);
        lru.set_now(7);
        let first = MIN_NR_GENS as u64 + 1;
        let reader = {
            let lru = lru.clone();
            thread::spawn(move || lru.youngest())
        };
        assert!(
            lru.try_to_inc_max_seq(first, true, true),
            "the only ager ages"
        );
        let (max, birth) = reader.join().expect("reader");
        if max == first + 1 {
            assert_eq!(birth, 7, "max_seq {max} was visible before its birth time");
        } else {
            assert_eq!(max, first);
        }
        assert_eq!(lru.youngest(), (first + 1, 7));
    });
}
