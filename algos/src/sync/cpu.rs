//! Logical CPUs, interrupt-disabled sections, and interrupt injection points.
//!
//! Kernel counterparts: `smp_processor_id()` ([`current`]), `local_irq_save`/`restore`
//! ([`irq_save`] and dropping its [`IrqGuard`]), `irqs_disabled()`, `in_nmi()`,
//! `in_hardirq()`.
//!
//! Algorithms mark the places where an interrupt could arrive and matter with
//! [`interrupt_point`]. With the hooks live (loom, shuttle, or the `hooks` feature), the
//! harness installs an [`InterruptPlan`] on a thread: at every marked point the plan decides,
//! usually from fuzz-input bytes, whether an IRQ or an NMI arrives there, and if so runs a
//! nested operation on the same CPU before the interrupted code continues. IRQs are not
//! delivered while interrupts are disabled or inside another interrupt; NMIs are delivered
//! anywhere except inside another NMI, as on real hardware. Without the hooks every function
//! here except [`current`] compiles to nothing.

use std::marker::PhantomData;

/// The kind of interrupt that arrives at an interrupt point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interrupt {
    /// A maskable hardware interrupt (held off by [`irq_save`]).
    Irq,
    /// A non-maskable interrupt (arrives even with interrupts disabled).
    Nmi,
}

/// What the plan sees at an interrupt point.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// The name given to [`interrupt_point`].
    pub name: &'static str,
    /// The logical CPU of the interrupted thread.
    pub cpu: usize,
    /// Whether an IRQ could be delivered here (interrupts enabled, not in an interrupt).
    pub irq_deliverable: bool,
    /// Whether an NMI could be delivered here (not already in an NMI).
    pub nmi_deliverable: bool,
}

/// Chooses what arrives at an interrupt point.
pub type Decide = Box<dyn FnMut(&Site) -> Option<Interrupt>>;
/// Runs the nested operation of a delivered interrupt.
pub type Handler = std::rc::Rc<dyn Fn(Interrupt, &Site)>;

/// Decides, at each interrupt point, whether an interrupt arrives, and runs it.
pub struct InterruptPlan {
    /// Called at every interrupt point; returns the interrupt that arrives there, if any.
    /// An undeliverable choice (an IRQ with interrupts disabled) is dropped.
    pub decide: Decide,
    /// Runs the nested operation of a delivered interrupt, on the interrupted thread.
    pub handler: Handler,
}

impl std::fmt::Debug for InterruptPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InterruptPlan")
    }
}

#[derive(Default)]
#[cfg_attr(not(mmcheck_hooks), allow(dead_code))]
struct CpuState {
    cpu: Option<usize>,
    irq_disable_depth: u32,
    in_irq: u32,
    in_nmi: u32,
    delivered: u64,
}

super::backend_thread_local! {
    static STATE: std::cell::RefCell<CpuState> = std::cell::RefCell::new(CpuState::default());
    static PLAN: std::cell::RefCell<Option<InterruptPlan>> = std::cell::RefCell::new(None);
}

/// The number of logical CPUs threads are spread over when not bound with [`bind`].
pub fn nr_cpus() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    match N.load(Ordering::Relaxed) {
        0 => {
            let n = if super::MODEL {
                4
            } else {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            };
            N.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// The logical CPU of the current thread (`smp_processor_id`): the one given to [`bind`], or
/// a stable spread of thread keys over [`nr_cpus`].
pub fn current() -> usize {
    STATE
        .with(|s| s.borrow().cpu)
        .unwrap_or_else(|| super::thread_key() % nr_cpus())
}

/// Binds the current thread to logical CPU `cpu`. The harness binds thread `i` of a scenario
/// to CPU `i`, so per-CPU data has one owner thread plus its interrupts, as in the kernel.
pub fn bind(cpu: usize) {
    STATE.with(|s| s.borrow_mut().cpu = Some(cpu));
}

/// An interrupt-disabled section; interrupts are restored when it is dropped. Not `Send`.
#[derive(Debug)]
pub struct IrqGuard {
    _not_send: PhantomData<*const ()>,
}

/// `local_irq_save`: holds off IRQ injection on this thread until the guard drops.
/// Sections nest. NMIs still arrive.
#[inline(always)]
pub fn irq_save() -> IrqGuard {
    #[cfg(mmcheck_hooks)]
    STATE.with(|s| s.borrow_mut().irq_disable_depth += 1);
    IrqGuard {
        _not_send: PhantomData,
    }
}

impl Drop for IrqGuard {
    #[inline(always)]
    fn drop(&mut self) {
        #[cfg(mmcheck_hooks)]
        STATE.with(|s| s.borrow_mut().irq_disable_depth -= 1);
    }
}

/// `irqs_disabled()`: inside [`irq_save`] or an interrupt handler. Always false without hooks.
#[inline(always)]
pub fn irqs_disabled() -> bool {
    #[cfg(mmcheck_hooks)]
    {
        STATE.with(|s| {
            let s = s.borrow();
            s.irq_disable_depth > 0 || s.in_irq > 0 || s.in_nmi > 0
        })
    }
    #[cfg(not(mmcheck_hooks))]
    {
        false
    }
}

/// `in_nmi()`: running an injected NMI handler. Always false without hooks.
#[inline(always)]
pub fn in_nmi() -> bool {
    #[cfg(mmcheck_hooks)]
    {
        STATE.with(|s| s.borrow().in_nmi > 0)
    }
    #[cfg(not(mmcheck_hooks))]
    {
        false
    }
}

/// `in_hardirq() || in_nmi()`: running an injected handler. Always false without hooks.
#[inline(always)]
pub fn in_interrupt() -> bool {
    #[cfg(mmcheck_hooks)]
    {
        STATE.with(|s| {
            let s = s.borrow();
            s.in_irq > 0 || s.in_nmi > 0
        })
    }
    #[cfg(not(mmcheck_hooks))]
    {
        false
    }
}

/// Marks a point where an interrupt may arrive. With a plan installed on this thread, the
/// plan may run a nested operation here. Compiles to nothing without hooks.
#[inline(always)]
pub fn interrupt_point(name: &'static str) {
    #[cfg(mmcheck_hooks)]
    hooked_interrupt_point(name);
    #[cfg(not(mmcheck_hooks))]
    let _ = name;
}

#[cfg(mmcheck_hooks)]
fn hooked_interrupt_point(name: &'static str) {
    let site = STATE.with(|s| {
        let s = s.borrow();
        Site {
            name,
            cpu: s.cpu.unwrap_or(0),
            irq_deliverable: s.irq_disable_depth == 0 && s.in_irq == 0 && s.in_nmi == 0,
            nmi_deliverable: s.in_nmi == 0,
        }
    });
    let site = Site {
        cpu: current(),
        ..site
    };
    // Decide with the plan borrowed, then release it so the handler's own interrupt points
    // can consult it again (an NMI inside an IRQ handler).
    let Some((kind, handler)) = PLAN.with(|p| {
        let mut p = p.borrow_mut();
        let plan = p.as_mut()?;
        let kind = (plan.decide)(&site)?;
        Some((kind, plan.handler.clone()))
    }) else {
        return;
    };
    let deliverable = match kind {
        Interrupt::Irq => site.irq_deliverable,
        Interrupt::Nmi => site.nmi_deliverable,
    };
    if !deliverable {
        return;
    }
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.delivered += 1;
        match kind {
            Interrupt::Irq => s.in_irq += 1,
            Interrupt::Nmi => s.in_nmi += 1,
        }
    });
    struct Leave(Interrupt);
    impl Drop for Leave {
        fn drop(&mut self) {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                match self.0 {
                    Interrupt::Irq => s.in_irq -= 1,
                    Interrupt::Nmi => s.in_nmi -= 1,
                }
            });
        }
    }
    let _leave = Leave(kind);
    handler(kind, &site);
}

/// Installs `plan` on the current thread, returning the previous one. Without hooks the plan
/// is stored but never consulted.
pub fn install(plan: InterruptPlan) -> Option<InterruptPlan> {
    PLAN.with(|p| p.borrow_mut().replace(plan))
}

/// Removes the current thread's plan.
pub fn uninstall() -> Option<InterruptPlan> {
    PLAN.with(|p| p.borrow_mut().take())
}

/// How many interrupts were delivered on this thread so far.
pub fn delivered() -> u64 {
    STATE.with(|s| s.borrow().delivered)
}
