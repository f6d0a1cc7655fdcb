//! `mas_nomem`: a node allocation that fails under the tree's lock makes the store drop the
//! lock, allocate with the blocking allocation, take the lock again and walk again. An
//! interrupt arrives while the lock is dropped (the `maple_nomem` interrupt point) and
//! changes the tree; the retried store must be planned against the changed tree.
//! Needs the checking hooks (and the `model` feature the `integration` binary requires):
//! `cargo test -p algos --features hooks,model --test integration maple_nomem::`.
#![cfg(all(feature = "hooks", not(any(mmcheck_loom, feature = "shuttle"))))]

use algos::maple::{MapleError, MapleTree};
use algos::sync::cpu::{self, Interrupt, InterruptPlan};
use algos::sync::fault::{self, FaultPlan};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

fn tree(rcu: bool) -> Arc<MapleTree<u64>> {
    let mt = Arc::new(MapleTree::new());
    if rcu {
        mt.set_in_rcu();
    }
    for k in 0..60u64 {
        mt.store_range(10 * k, 10 * k + 4, Some(k)).expect("store");
    }
    mt
}

#[test]
fn retry_after_nomem_walks_the_changed_tree() {
    for rcu in [false, true] {
        let mt = tree(rcu);
        let irq_tree = mt.clone();
        let fired = Rc::new(Cell::new(0));
        let f2 = fired.clone();
        cpu::install(InterruptPlan {
            decide: Box::new(move |s| {
                (s.name == "maple_nomem" && f2.get() == 0).then_some(Interrupt::Irq)
            }),
            handler: Rc::new(move |_, _| {
                // The interrupt's own write: it allocates successfully (only the first
                // allocation of the run fails).
                irq_tree
                    .store_range(300, 420, Some(999))
                    .expect("irq store");
                irq_tree.erase(500);
            }),
        });
        fault::install(FaultPlan::Nth(1));
        // A spanning store: it needs new nodes in both modes.
        let r = mt.store_range(5, 305, Some(7));
        fired.set(cpu::delivered() as i32);
        fault::install(FaultPlan::Never);
        cpu::uninstall();
        assert_eq!(r, Ok(()), "rcu {rcu}");
        assert!(fired.get() >= 1, "the interrupt arrived (rcu {rcu})");
        assert!(mt.write_stats().nomem_retries >= 1);
        mt.validate().expect("valid after the retried store");
        assert_eq!(mt.load(4), Some(0));
        assert_eq!(mt.load(5), Some(7));
        assert_eq!(mt.load(305), Some(7));
        assert_eq!(mt.load(306), Some(999), "the interrupt's store survives");
        assert_eq!(mt.load(420), Some(999));
        assert_eq!(mt.load(500), None, "the interrupt's erase survives");
        assert_eq!(mt.load(510), Some(51));
    }
}

#[test]
fn nomem_twice_fails_cleanly() {
    for rcu in [false, true] {
        let mt = tree(rcu);
        let before = mt.ranges();
        fault::install(FaultPlan::From(1));
        let r = mt.store_range(5, 305, Some(7));
        let ins = mt.insert_range(5000, 5010, 1);
        fault::install(FaultPlan::Never);
        assert_eq!(r, Err(MapleError::NoMem));
        assert_eq!(ins, Err(MapleError::NoMem));
        mt.validate().expect("valid");
        assert_eq!(mt.ranges(), before, "a failed store changes nothing");
    }
}
