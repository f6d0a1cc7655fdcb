//! irq_work: deferred work raised from any context (NMI included) that runs soon after, in
//! hardirq context, on the CPU that raised it (`irq_work_queue`, `irq_work_queue_on`,
//! `irq_work_sync`).
//!
//! Kernel mapping. Faithful: a work item is *claimed* when raised (PENDING|BUSY); raising an
//! item that is already pending does nothing and returns false; PENDING is cleared just
//! before the function runs, so the function may raise its own item again; BUSY is cleared
//! after it returns unless it was raised again; [`sync`] waits until the item is neither
//! pending nor running. The work runs on the CPU it was raised on, when that CPU next has
//! interrupts enabled: at the end of the outermost [`irq_save`](super::cpu::irq_save)
//! section (the self-IPI fires at `local_irq_restore`), at once when raised with interrupts
//! on, or when an injected interrupt returns to code with interrupts on.
//! PREEMPT_RT ([`set_threaded`], per thread): work not marked `IRQ_WORK_HARD_IRQ` (every
//! item here) runs in the per-CPU irq_work thread instead, so it stays raised after the
//! section that raised it ends, until that thread runs: an explicit step
//! ([`super::cpu::deliver_irq_work`]), [`sync`], or [`run_all`]. Teardown bugs that need the
//! work to outlive the call that raised it (bpf_mem_alloc's 3d05818707bb) are reachable
//! only in this mode, as in the kernel.
//! Different: there is no lazy (tick-driven) mode; the harness delivers a CPU's raised work
//! as an explicit step ([`super::cpu::deliver_irq_work`]), which is how schedule targets
//! put "the IPI arrives now" (or "the irq_work thread runs now") anywhere in an
//! interleaving.

use super::atomic::{AtomicU8, Ordering};
use super::cpu;
use std::sync::Arc;

const PENDING: u8 = 1;
const BUSY: u8 = 2;

/// A work item (`struct irq_work`): a function and its claim state.
pub struct IrqWork {
    state: AtomicU8,
    /// The CPU it was last raised on.
    cpu: std::sync::atomic::AtomicUsize,
    /// Raised in threaded (PREEMPT_RT) mode, by the task `raiser`: it waits for an explicit
    /// step of that task, or a `sync` on it.
    threaded: std::sync::atomic::AtomicBool,
    raiser: std::sync::atomic::AtomicUsize,
    func: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for IrqWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IrqWork")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl IrqWork {
    /// A work item running `func` (`init_irq_work`). Items are shared: the per-CPU queue
    /// holds a reference while the item is raised, so `func` usually captures a `Weak` to its
    /// owner, which the owner's teardown [`sync`]s.
    pub fn new(func: impl Fn() + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(IrqWork {
            state: AtomicU8::new(0),
            cpu: std::sync::atomic::AtomicUsize::new(0),
            threaded: std::sync::atomic::AtomicBool::new(false),
            raiser: std::sync::atomic::AtomicUsize::new(0),
            func: Box::new(func),
        })
    }

    /// Raised and not yet started.
    pub fn is_pending(&self) -> bool {
        self.state.load(Ordering::Acquire) & PENDING != 0
    }

    /// Raised or running (`irq_work_is_busy`).
    pub fn is_busy(&self) -> bool {
        self.state.load(Ordering::Acquire) & BUSY != 0
    }
}

/// Raises `work` on the current CPU (`irq_work_queue`). Returns false, doing nothing, if it
/// was already pending.
pub fn queue(work: &Arc<IrqWork>) -> bool {
    queue_on(work, cpu::current())
}

/// Raises `work` on `cpu` (`irq_work_queue_on`). Returns false if it was already pending.
pub fn queue_on(work: &Arc<IrqWork>, cpu: usize) -> bool {
    let prev = work.state.fetch_or(PENDING | BUSY, Ordering::AcqRel);
    if prev & PENDING != 0 {
        return false;
    }
    let cpu = cpu % cpu::nr_cpus();
    work.cpu.store(cpu, std::sync::atomic::Ordering::Relaxed);
    work.threaded.store(
        cpu::threaded_irq_work(),
        std::sync::atomic::Ordering::Relaxed,
    );
    work.raiser
        .store(super::thread_key(), std::sync::atomic::Ordering::Relaxed);
    let rt = cpu::rt(cpu);
    rt.raised.lock().push(work.clone());
    rt.nr_raised
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    // With interrupts on, the IPI fires at once (PREEMPT_RT: the irq_work thread runs later).
    if !cpu::irqs_disabled() && !cpu::threaded_irq_work() {
        cpu::deliver_irq_work(cpu);
    }
    true
}

/// PREEMPT_RT irq_work for the current thread: with `on`, work raised by this thread, or
/// found raised when its sections end, is left for the CPU's irq_work thread (an explicit
/// [`super::cpu::deliver_irq_work`], [`sync`] or [`run_all`]) instead of running as the
/// section ends. Off by default (a kernel without PREEMPT_RT).
pub fn set_threaded(on: bool) {
    cpu::set_threaded_irq_work(on);
}

/// True if work is raised on `cpu` and not yet run (a racy hint; the queue is the truth).
#[inline]
pub fn raised_on(cpu: usize) -> bool {
    cpu::rt(cpu)
        .nr_raised
        .load(std::sync::atomic::Ordering::Acquire)
        != 0
}

/// Which raised works a delivery runs.
#[derive(Clone, Copy)]
pub(crate) enum Pick<'a> {
    /// Interrupts coming back on: the works raised in hardirq mode.
    Hard,
    /// An explicit step of the current task: those, and the threaded ones it raised (its
    /// irq_work thread runs now). Threaded works of other tasks wait for their own steps, so
    /// a task's quiescent checks never race a work another task's step ran.
    Step,
    /// `sync` on one work: that work only, whoever raised it.
    One(&'a IrqWork),
}

impl Pick<'_> {
    fn takes(&self, w: &IrqWork, me: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        match self {
            Pick::Hard => !w.threaded.load(Relaxed),
            Pick::Step => !w.threaded.load(Relaxed) || w.raiser.load(Relaxed) == me,
            Pick::One(one) => std::ptr::eq(w, *one),
        }
    }
}

/// Runs the works raised on `cpu` that `pick` selects; the caller holds `cpu` in hardirq
/// context.
pub(crate) fn run_raised(cpu: usize, pick: Pick<'_>) {
    let rt = cpu::rt(cpu);
    let me = super::thread_key();
    // A work may raise itself again while it runs; it then runs again, a bounded number of
    // rounds here (the rest waits for the next time interrupts come on).
    for _ in 0..64 {
        let works: Vec<Arc<IrqWork>> = {
            let mut q = rt.raised.lock();
            let (run, keep) = std::mem::take(&mut *q)
                .into_iter()
                .partition(|w| pick.takes(w, me));
            *q = keep;
            run
        };
        if works.is_empty() {
            return;
        }
        rt.nr_raised
            .fetch_sub(works.len(), std::sync::atomic::Ordering::AcqRel);
        // If a work panics (a check failing inside it), the ones not yet run are released
        // rather than left pending for ever (`sync` would wait on them).
        struct Unwind(std::vec::IntoIter<Arc<IrqWork>>);
        impl Drop for Unwind {
            fn drop(&mut self) {
                for w in self.0.by_ref() {
                    w.state.store(0, Ordering::Release);
                }
            }
        }
        let mut rest = Unwind(works.into_iter());
        for w in rest.0.by_ref() {
            struct Done<'a>(&'a IrqWork);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    // Clear BUSY unless it was raised again meanwhile (or, unwinding, at all).
                    if std::thread::panicking() {
                        self.0.state.store(0, Ordering::Release);
                    } else {
                        let _ = self.0.state.compare_exchange(
                            BUSY,
                            0,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        );
                    }
                }
            }
            w.state.fetch_and(!PENDING, Ordering::AcqRel);
            let _done = Done(&w);
            (w.func)();
        }
    }
}

/// Waits until `work` is neither pending nor running (`irq_work_sync`). A pending item is
/// delivered on its CPU now, as its IPI would be.
///
/// # Panics
/// Inside an [`irq_save`](super::cpu::irq_save) section, where waiting for an interrupt of
/// one's own CPU would never end.
#[track_caller]
pub fn sync(work: &IrqWork) {
    assert!(
        !cpu::irqs_disabled(),
        "irq_work_sync with interrupts disabled at {}",
        std::panic::Location::caller()
    );
    while work.is_busy() {
        if work.is_pending() {
            cpu::deliver_irq_work_pick(
                work.cpu.load(std::sync::atomic::Ordering::Relaxed),
                Pick::One(work),
            );
        } else {
            super::thread::yield_now();
        }
    }
}

/// Delivers every CPU's raised work (the harness's quiescence step).
pub fn run_all() {
    for c in 0..cpu::nr_cpus() {
        if raised_on(c) {
            cpu::deliver_irq_work(c);
        }
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;
    use crate::sync::atomic::AtomicUsize;

    #[test]
    fn raised_in_a_section_runs_at_its_end_on_that_cpu() {
        let runs = Arc::new(AtomicUsize::new(0));
        let seen_cpu = Arc::new(AtomicUsize::new(usize::MAX));
        let (r, s) = (runs.clone(), seen_cpu.clone());
        let w = IrqWork::new(move || {
            assert!(cpu::irqs_disabled(), "irq_work runs with interrupts off");
            s.store(cpu::current(), Ordering::Relaxed);
            r.fetch_add(1, Ordering::Relaxed);
        });
        let h = std::thread::spawn(move || {
            cpu::bind(1);
            {
                let _g = cpu::irq_save();
                assert!(queue(&w));
                assert!(!queue(&w), "raising a pending item does nothing");
                assert!(w.is_pending());
                assert_eq!(runs.load(Ordering::Relaxed), 0, "not while IRQs are off");
            }
            assert_eq!(
                runs.load(Ordering::Relaxed),
                1,
                "ran when IRQs came back on"
            );
            assert!(!w.is_busy());
            // Raised with IRQs on: runs at once.
            assert!(queue(&w));
            assert_eq!(runs.load(Ordering::Relaxed), 2);
            sync(&w);
        });
        h.join().expect("no panic");
        assert_eq!(seen_cpu.load(Ordering::Relaxed), 1 % cpu::nr_cpus());
    }

    #[test]
    fn two_threads_on_one_cpu_never_share_a_section() {
        use crate::sync::cell::UnsafeCell;
        struct Shared(UnsafeCell<u64>);
        // SAFETY: only touched inside sections on CPU 0, which exclude each other.
        unsafe impl Sync for Shared {}
        let shared = Arc::new(Shared(UnsafeCell::new(0)));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let sh = shared.clone();
                std::thread::spawn(move || {
                    cpu::bind(0);
                    // Fewer under Miri, which checks every access of every interleaving it runs.
                    for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
                        let _g = cpu::irq_save();
                        // SAFETY: the section on CPU 0 is exclusive.
                        sh.0.with_mut(|p| unsafe {
                            let v = p.read_volatile();
                            std::hint::spin_loop();
                            p.write_volatile(v + 1);
                        });
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("no panic");
        }
        // SAFETY: all writers joined.
        let total = shared.0.with(|p| unsafe { *p });
        let want = 3 * if cfg!(miri) { 200 } else { 20_000 };
        assert_eq!(
            total, want,
            "no increment lost: sections excluded each other"
        );
    }
}
