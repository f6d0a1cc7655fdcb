//! loom models of logical CPUs and interrupt injection.
#![cfg(mmcheck_loom)]

use algos::sync::atomic::{AtomicU64, Ordering};
use algos::sync::cpu::{self, Interrupt, InterruptPlan};
use algos::sync::{thread, Arc};
use std::rc::Rc;

/// A per-CPU counter updated with a plain load/store, as kernel per-CPU code does under
/// local_irq_save; an IRQ handler on the same CPU also updates it.
struct PerCpu {
    slots: Vec<AtomicU64>,
}

impl PerCpu {
    fn add(&self, protect: bool) {
        let _irq = protect.then(cpu::irq_save);
        let s = &self.slots[cpu::current()];
        let v = s.load(Ordering::Relaxed);
        cpu::interrupt_point("percpu_add");
        s.store(v + 1, Ordering::Relaxed);
    }
}

fn run(protect: bool) {
    crate::model(move || {
        let pc = Arc::new(PerCpu {
            slots: (0..2).map(|_| AtomicU64::new(0)).collect(),
        });
        let mut hs = Vec::new();
        for c in 0..2 {
            let pc = pc.clone();
            hs.push(thread::spawn(move || {
                cpu::bind(c);
                let p2 = pc.clone();
                cpu::install(InterruptPlan {
                    // An IRQ arrives at the first interrupt point of this thread.
                    decide: Box::new(|s| {
                        (s.irq_deliverable && cpu::delivered() == 0).then_some(Interrupt::Irq)
                    }),
                    handler: Rc::new(move |_, _| p2.add(false)),
                });
                pc.add(protect);
                // Interrupts re-enabled: a pending IRQ would be taken here.
                cpu::interrupt_point("after");
                cpu::uninstall();
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        for c in 0..2 {
            assert_eq!(
                pc.slots[c].load(Ordering::Relaxed),
                2,
                "cpu {c} lost an update"
            );
        }
    });
}

/// With interrupts disabled around the read-modify-write, the IRQ waits and nothing is lost.
#[test]
fn irq_save_protects_per_cpu_updates() {
    run(true);
}

/// Without irq_save, the IRQ lands between the load and the store: the planted bug is caught.
#[test]
fn unprotected_per_cpu_update_is_caught() {
    let e = std::panic::catch_unwind(|| run(false))
        .expect_err("the lost per-CPU update must be caught");
    let msg = e
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_default();
    assert!(msg.contains("lost an update"), "{msg}");
}
