//! The platform layer (`algos::sync`) on the std backend with hooks: interrupt delivery
//! rules, allocation-failure plans, task priorities, and production RCU grace periods.
//! (The model backends' RCU and thread-locals exist only inside a model execution; they are
//! tested by `schedule.rs` and the loom suite.)
#![cfg(not(feature = "shuttle"))]

use algos::sync::cpu::{self, Interrupt, InterruptPlan};
use algos::sync::fault::{self, FaultPlan};
use algos::sync::{rcu, task};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Installs a plan that tries to deliver `kind` at every point, logging what runs.
fn always(kind: Interrupt, log: Rc<RefCell<Vec<String>>>, nested: Option<Interrupt>) {
    let depth = Rc::new(RefCell::new(0u32));
    cpu::install(InterruptPlan {
        decide: Box::new({
            let depth = depth.clone();
            move |_| {
                let d = *depth.borrow();
                match d {
                    0 => Some(kind),
                    1 => nested,
                    _ => None,
                }
            }
        }),
        handler: Rc::new(move |k, site| {
            *depth.borrow_mut() += 1;
            log.borrow_mut().push(format!("{k:?}@{}", site.name));
            cpu::interrupt_point("in_handler");
            *depth.borrow_mut() -= 1;
        }),
    });
}

#[test]
fn irqs_are_held_off_by_irq_save_but_nmis_are_not() {
    let log = Rc::new(RefCell::new(Vec::new()));
    always(Interrupt::Irq, log.clone(), None);
    {
        let _g = cpu::irq_save();
        assert!(cpu::irqs_disabled());
        cpu::interrupt_point("masked");
    }
    assert!(!cpu::irqs_disabled());
    cpu::interrupt_point("open");
    assert_eq!(*log.borrow(), vec!["Irq@open".to_string()]);

    log.borrow_mut().clear();
    always(Interrupt::Nmi, log.clone(), None);
    {
        let _g = cpu::irq_save();
        cpu::interrupt_point("masked");
    }
    assert_eq!(*log.borrow(), vec!["Nmi@masked".to_string()]);
    cpu::uninstall();
}

#[test]
fn nmi_nests_in_irq_but_irq_does_not_nest_in_irq() {
    let log = Rc::new(RefCell::new(Vec::new()));
    always(Interrupt::Irq, log.clone(), Some(Interrupt::Nmi));
    cpu::interrupt_point("p");
    assert_eq!(
        *log.borrow(),
        vec!["Irq@p".to_string(), "Nmi@in_handler".to_string()]
    );

    log.borrow_mut().clear();
    always(Interrupt::Irq, log.clone(), Some(Interrupt::Irq));
    cpu::interrupt_point("p");
    assert_eq!(*log.borrow(), vec!["Irq@p".to_string()]);
    assert!(!cpu::in_interrupt());
    cpu::uninstall();
}

#[test]
fn handlers_see_interrupt_context() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s2 = seen.clone();
    cpu::install(InterruptPlan {
        decide: Box::new(|_| Some(Interrupt::Nmi)),
        handler: Rc::new(move |_, _| {
            s2.borrow_mut()
                .push((cpu::in_nmi(), cpu::in_interrupt(), cpu::irqs_disabled()))
        }),
    });
    cpu::interrupt_point("x");
    cpu::uninstall();
    assert_eq!(*seen.borrow(), vec![(true, true, true)]);
    assert!(!cpu::in_nmi());
}

#[test]
fn bound_cpu_is_reported() {
    cpu::bind(3);
    assert_eq!(cpu::current(), 3);
    cpu::bind(0);
    assert_eq!(cpu::current(), 0);
}

#[test]
fn fault_plans_fail_exactly_the_chosen_allocations() {
    fault::install(FaultPlan::Nth(3));
    let got: Vec<bool> = (0..5).map(|_| fault::should_fail("t")).collect();
    assert_eq!(got, vec![false, false, true, false, false]);
    let st = fault::stats();
    assert_eq!((st.calls, st.failed, st.last_site), (5, 1, Some("t")));
    fault::install(FaultPlan::From(2));
    let got: Vec<bool> = (0..3).map(|_| fault::should_fail("t")).collect();
    assert_eq!(got, vec![false, true, true]);
    fault::install(FaultPlan::Never);
    assert!(!fault::should_fail("t"));
}

#[test]
fn priority_boost_and_deboost() {
    task::set_priority(120);
    let me = task::current();
    assert_eq!(task::prio_of(me).effective, 120);
    task::set_effective(me, 10); // boosted by a waiter
    task::set_priority(110); // base change while boosted keeps the boost
    assert_eq!(
        task::prio_of(me),
        task::TaskPrio {
            base: 110,
            effective: 10
        }
    );
    task::set_effective(me, 110);
    assert_eq!(task::effective_of(me), 110);
}

struct CountDrop(Arc<AtomicUsize>);
impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn production_rcu_synchronize_waits_for_a_reader_and_retire_frees() {
    let drops = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(rcu::Atomic::new(CountDrop(drops.clone())));
    let inside = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let synced = Arc::new(AtomicBool::new(false));
    let reader = {
        let (slot, inside, release, synced) = (
            slot.clone(),
            inside.clone(),
            release.clone(),
            synced.clone(),
        );
        std::thread::spawn(move || {
            let g = rcu::read_lock();
            let _obj = slot.load(Ordering::Acquire, &g).expect("present");
            inside.store(true, Ordering::SeqCst);
            while !release.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            // The writer retired our object and is in synchronize(): it must not be done.
            assert!(
                !synced.load(Ordering::SeqCst),
                "grace period ended inside a read section"
            );
            drop(g);
        })
    };
    while !inside.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let old = slot.swap(
        Some(rcu::Owned::new(CountDrop(drops.clone()))),
        Ordering::AcqRel,
    );
    // SAFETY: unpublished above, retired once.
    unsafe { old.retire() };
    let writer = {
        let synced = synced.clone();
        std::thread::spawn(move || {
            rcu::synchronize();
            synced.store(true, Ordering::SeqCst);
        })
    };
    for _ in 0..1000 {
        std::thread::yield_now();
    }
    release.store(true, Ordering::SeqCst);
    reader.join().expect("reader saw a grace period end early");
    writer.join().unwrap();
    rcu::synchronize();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the retired object was freed once"
    );
    drop(slot);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
#[should_panic(expected = "synchronize() inside a read-side critical section")]
fn synchronize_inside_a_read_section_is_reported() {
    let _g = rcu::read_lock();
    rcu::synchronize();
}
