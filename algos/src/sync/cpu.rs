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
//! here except [`current`], [`irq_save`] and [`IrqGuard`] compiles to nothing.
//!
//! **Exclusivity of a logical CPU.** In the kernel, code with interrupts disabled owns its CPU:
//! no other task runs there until it re-enables them. [`irq_save`] gives the same rule on
//! every backend: it *claims* the current logical CPU, and a second thread whose CPU is the
//! same (bound to it with [`bind`], or spread onto it) waits at its own [`irq_save`] until the
//! first section ends, as a task waits to be scheduled on a busy CPU. Sections nest on one
//! thread (an injected interrupt runs on the interrupted thread, inside its section), so the
//! claim is re-entrant per thread; how the outermost level claims (a compare-and-swap, or
//! the biased protocol that makes the uncontended case two plain stores and a load) is in
//! [`super::claim`]. The claim is released with `Release` and taken with `Acquire`, so per-CPU state
//! touched only inside sections needs no further synchronisation, and
//! [`PerCpu::local`](super::percpu::PerCpu::local) hands out a CPU's slot only against the
//! guard that claims it. Two threads therefore never run one CPU's sections at once, from
//! safe code, on the std backend as on the models; tasks on one CPU still interleave
//! *between* sections, as preemptible kernel code does (`preempted_bpf_ma_op`). Under
//! shuttle a waiting thread yields to the scheduler; loom models bind their threads to
//! distinct CPUs, and a contended claim there is reported as a harness bug.
//!
//! **irq_work.** When the outermost section ends (interrupts come back on), the irq_work
//! raised on this CPU runs before the claim is released, as the self-IPI of `irq_work_queue`
//! fires at `local_irq_restore`; see [`super::irq_work`].

use std::cell::Cell;
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
    in_irq: u32,
    in_nmi: u32,
    delivered: u64,
}

/// The claim a thread holds on a logical CPU (see the module header). Kept apart from the
/// hook state in `Cell`s: [`irq_save`] is on every fast path.
struct Claim {
    /// The CPU the thread runs on when it next claims one: the bound CPU (already reduced
    /// modulo [`nr_cpus`]), or its spread home; `usize::MAX` until first needed.
    bound: Cell<usize>,
    /// `thread_key() + 1`, or 0 until first needed.
    key: Cell<usize>,
    /// Nesting depth of [`irq_save`] sections.
    depth: Cell<u32>,
    /// PREEMPT_RT irq_work for the work this thread raises or finds raised at its section
    /// ends (see [`super::irq_work::set_threaded`]).
    threaded: Cell<bool>,
    /// The CPU claimed by the outermost section.
    cpu: Cell<usize>,
    /// The thread's record under the biased claim protocol.
    rec: Cell<Option<&'static super::claim::ThreadRec>>,
    /// Biased protocol: the runtime of `cpu`, the CPU of the last outermost section, while
    /// it is still the thread's home (anything that changes `bound` clears it). The next
    /// section re-enters it with one store and one load; null otherwise (and always under
    /// the models, which do not use the biased protocol). Paired with the thread's record,
    /// so the fast path tests one word.
    hot: Cell<Option<(&'static CpuRt, &'static super::claim::ThreadRec)>>,
}

super::backend_thread_local! {
    static STATE: std::cell::RefCell<CpuState> = std::cell::RefCell::new(CpuState::default());
    static PLAN: std::cell::RefCell<Option<InterruptPlan>> = std::cell::RefCell::new(None);
}

// The claim is on every fast path: on std, a `const`-initialised thread-local (no lazy-init
// check per access).
#[cfg(not(mmcheck_model))]
std::thread_local! {
    static CLAIM: Claim = const {
        Claim {
            bound: Cell::new(usize::MAX),
            key: Cell::new(0),
            depth: Cell::new(0),
            cpu: Cell::new(0),
            rec: Cell::new(None),
            threaded: Cell::new(false),
            hot: Cell::new(None),
        }
    };
}
#[cfg(mmcheck_model)]
super::backend_thread_local! {
    static CLAIM: Claim = Claim {
        bound: Cell::new(usize::MAX),
        key: Cell::new(0),
        depth: Cell::new(0),
        cpu: Cell::new(0),
        rec: Cell::new(None),
        threaded: Cell::new(false),
        hot: Cell::new(None),
    };
}

/// What the platform keeps per logical CPU: who holds it, and its raised irq_work.
pub(crate) struct CpuRt {
    /// Who holds the CPU (see [`super::claim`]): the key of the thread inside a section, or
    /// 0 (compare-and-swap protocol); the record of the thread that owns it (biased).
    pub(crate) owner: std::sync::atomic::AtomicUsize,
    /// Serialises stealers (biased protocol).
    pub(crate) steal: std::sync::Mutex<()>,
    /// irq_work raised on this CPU and not yet run.
    pub(crate) raised: super::Mutex<Vec<std::sync::Arc<super::irq_work::IrqWork>>>,
    /// How many items `raised` holds: the lock-free check at every section end.
    pub(crate) nr_raised: std::sync::atomic::AtomicUsize,
}

fn new_rt() -> Box<[CpuRt]> {
    (0..nr_cpus())
        .map(|_| CpuRt {
            owner: std::sync::atomic::AtomicUsize::new(0),
            steal: std::sync::Mutex::new(()),
            raised: super::Mutex::new(Vec::new()),
            nr_raised: std::sync::atomic::AtomicUsize::new(0),
        })
        .collect()
}

#[cfg(not(mmcheck_model))]
static RT_PTR: std::sync::atomic::AtomicPtr<CpuRt> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// The runtime of `cpu` (below [`nr_cpus`]).
#[cfg(not(mmcheck_model))]
#[inline(always)]
pub(crate) fn rt(cpu: usize) -> &'static CpuRt {
    let p = RT_PTR.load(std::sync::atomic::Ordering::Acquire);
    if p.is_null() {
        return rt_init(cpu);
    }
    debug_assert!(cpu < nr_cpus(), "CPU {cpu} out of range");
    // SAFETY: `RT_PTR` points to a leaked array of `nr_cpus()` runtimes, set once, and every
    // CPU number handed out here is reduced modulo `nr_cpus()` (`bind`, `home`).
    unsafe { &*p.add(cpu) }
}

#[cfg(not(mmcheck_model))]
#[cold]
fn rt_init(cpu: usize) -> &'static CpuRt {
    static RT: std::sync::OnceLock<&'static [CpuRt]> = std::sync::OnceLock::new();
    let rt = RT.get_or_init(|| Box::leak(new_rt()));
    RT_PTR.store(rt.as_ptr().cast_mut(), std::sync::atomic::Ordering::Release);
    &rt[cpu]
}

#[cfg(mmcheck_loom)]
loom::lazy_static! {
    static ref RT: Box<[CpuRt]> = new_rt();
}
#[cfg(mmcheck_shuttle)]
shuttle::lazy_static! {
    static ref RT: Box<[CpuRt]> = new_rt();
}

/// The runtime of `cpu` (below [`nr_cpus`]); one per model execution under loom and
/// shuttle.
#[cfg(mmcheck_model)]
pub(crate) fn rt(cpu: usize) -> &'static CpuRt {
    &RT[cpu]
}

/// The number of logical CPUs (`nr_cpu_ids`): the machine's, but at least four, in plain
/// builds; exactly four under the models and in checking builds (the `hooks` feature), so a
/// fuzz input or a reproducer means the same thing on a laptop and on a 64-core fuzzing
/// host (a per-CPU structure has as many caches, a CPU number in an input wraps the same
/// way). Threads not bound with [`bind`] are spread over them.
pub fn nr_cpus() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    match N.load(Ordering::Relaxed) {
        0 => {
            // At least four, as a kernel has more possible CPUs than a small machine has
            // online: scenarios and tests use CPUs 0..=3 everywhere.
            let n = if super::MODEL || cfg!(mmcheck_hooks) {
                4
            } else {
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .max(4)
            };
            N.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// The logical CPU of the current thread (`smp_processor_id`): the one given to [`bind`], or
/// a stable spread of thread keys over [`nr_cpus`].
/// Within a section, the CPU it claimed (a bound thread's CPU cannot change mid-section).
#[inline]
pub fn current() -> usize {
    CLAIM.with(|c| {
        if c.depth.get() > 0 {
            return c.cpu.get();
        }
        home(c)
    })
}

/// The CPU the thread's next section claims.
#[inline(always)]
fn home(c: &Claim) -> usize {
    match c.bound.get() {
        usize::MAX => {
            let h = super::thread_key() % nr_cpus();
            c.bound.set(h);
            h
        }
        b => b,
    }
}

/// Binds the current thread to logical CPU `cpu` (indexes wrap at [`nr_cpus`]). The harness
/// binds thread `i` of a scenario to CPU `i`, so per-CPU data has one owner thread plus its
/// interrupts, as in the kernel. Several threads may be bound to one CPU: their sections
/// then take turns (see the module header).
///
/// # Panics
/// Inside an [`irq_save`] section: a task does not migrate with interrupts disabled.
pub fn bind(cpu: usize) {
    CLAIM.with(|c| {
        assert_eq!(
            c.depth.get(),
            0,
            "cpu::bind inside an irq_save section (a task cannot migrate with IRQs off)"
        );
        set_bound(c, cpu % nr_cpus());
    });
}

/// Changes the thread's home CPU; the hot claim no longer applies.
fn set_bound(c: &Claim, cpu: usize) -> usize {
    c.hot.set(None);
    c.bound.replace(cpu)
}

/// An interrupt-disabled section on a claimed CPU; interrupts are restored (and raised
/// irq_work runs) when it is dropped. Not `Send`.
#[derive(Debug)]
pub struct IrqGuard {
    cpu: usize,
    /// The thread's claim state (saves a second thread-local lookup at the end; std only,
    /// the models look it up again).
    #[cfg_attr(mmcheck_model, allow(dead_code))]
    claim: *const Claim,
    _not_send: PhantomData<*const ()>,
}

impl IrqGuard {
    /// The CPU this section runs on (and holds).
    #[inline]
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}

/// `local_irq_save`: claims the current logical CPU (waiting while another thread is in a
/// section on it) and holds off IRQ injection on this thread until the guard drops. Sections
/// nest. NMIs still arrive.
#[inline(always)]
pub fn irq_save() -> IrqGuard {
    // std: a raw pointer out of the thread-local (a tiny closure that inlines), then the work
    // outside it; the guard keeps the pointer, valid for the thread's life. The models:
    // inside the thread-local's closure, and looked up again at the end.
    #[cfg(not(mmcheck_model))]
    {
        let c: *const Claim = CLAIM.with(std::ptr::from_ref);
        // SAFETY: std thread-locals live as long as their thread and do not move, and this
        // guard is not `Send`.
        enter(unsafe { &*c })
    }
    #[cfg(mmcheck_model)]
    {
        CLAIM.with(enter)
    }
}

#[inline(always)]
fn enter(c: &Claim) -> IrqGuard {
    let d = c.depth.get();
    if d > 0 {
        c.depth.set(d + 1);
        return IrqGuard {
            cpu: c.cpu.get(),
            claim: c,
            _not_send: PhantomData,
        };
    }
    // The common case on std: the thread still owns the CPU of its last section.
    if let Some((hot, rec)) = c.hot.get() {
        if super::claim::reenter_biased(hot, rec) {
            c.depth.set(1);
            return IrqGuard {
                cpu: c.cpu.get(),
                claim: c,
                _not_send: PhantomData,
            };
        }
    }
    enter_outermost(c)
}

/// An outermost section in general: finds the home CPU and claims it by the process's
/// protocol (stealing it under the biased one).
#[inline(never)]
fn enter_outermost(c: &Claim) -> IrqGuard {
    let cpu = home(c);
    if super::claim::biased() {
        let rec = super::claim::enter_biased(cpu, c.rec.get());
        c.rec.set(Some(rec));
        // Models never take this branch (their protocol is the compare-and-swap one).
        c.hot.set(Some((rt(cpu), rec)));
    } else {
        let key = match c.key.get() {
            0 => {
                let k = super::thread_key() + 1;
                c.key.set(k);
                k
            }
            k => k,
        };
        super::claim::enter_cas(&rt(cpu).owner, key, cpu);
    }
    c.cpu.set(cpu);
    c.depth.set(1);
    IrqGuard {
        cpu,
        claim: c,
        _not_send: PhantomData,
    }
}

impl Drop for IrqGuard {
    #[inline(always)]
    fn drop(&mut self) {
        // On std the guard keeps a pointer to its thread's `Claim` (a second thread-local
        // lookup saved on every fast path). Shuttle's and loom's thread-locals give no such
        // address guarantee across scheduling points: there it is looked up again.
        #[cfg(not(mmcheck_model))]
        // SAFETY: the guard is not `Send` and lives shorter than its thread, whose
        // thread-local `Claim` it points to; std thread-locals do not move.
        self.finish(unsafe { &*self.claim });
        #[cfg(mmcheck_model)]
        CLAIM.with(|c| self.finish(c));
    }
}

impl IrqGuard {
    #[inline(always)]
    fn finish(&self, c: &Claim) {
        let d = c.depth.get();
        if d != 1 {
            c.depth.set(d - 1);
            return;
        }
        // The hot claim's runtime is this CPU's (set when the section claimed it).
        if let Some((rt, rec)) = c.hot.get() {
            if rt.nr_raised.load(std::sync::atomic::Ordering::Acquire) == 0 {
                c.depth.set(0);
                super::claim::exit_biased(rec);
                return;
            }
        }
        self.finish_outermost(c);
    }

    /// The end of an outermost section off the hot path: the CPU's runtime looked up, the
    /// claim released by the process's protocol, raised irq_work run.
    #[inline(never)]
    fn finish_outermost(&self, c: &Claim) {
        let rt = rt(self.cpu);
        if rt.nr_raised.load(std::sync::atomic::Ordering::Acquire) == 0 {
            c.depth.set(0);
            release(c, rt);
            return;
        }
        self.finish_raised(c, rt);
    }

    /// The end of an outermost section with irq_work raised on its CPU.
    #[cold]
    #[inline(never)]
    fn finish_raised(&self, c: &Claim, rt: &'static CpuRt) {
        // The claim is released even if an irq_work below panics (a check failing inside
        // it): a thread that unwinds out of its section must not keep its CPU.
        struct Release<'a> {
            c: &'a Claim,
            rt: &'static CpuRt,
        }
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.c.depth.set(0);
                release(self.c, self.rt);
            }
        }
        let _release = Release { c, rt };
        // Interrupts come back on: irq_work raised on this CPU fires now (a self-IPI), in
        // hardirq context, still on this CPU. Not inside an injected interrupt handler: its
        // work runs when the interrupted code re-enables interrupts.
        if !in_interrupt() {
            run_raised_irq_work(self.cpu, super::irq_work::Pick::Hard);
        }
    }
}

/// Gives up the CPU at the end of an outermost section, by the protocol that claimed it.
#[inline(always)]
fn release(c: &Claim, rt: &CpuRt) {
    match c.rec.get() {
        Some(rec) if super::claim::biased() => super::claim::exit_biased(rec),
        _ => super::claim::exit_cas(&rt.owner),
    }
}

/// Runs the irq_work raised on `cpu` as a hard interrupt of the current thread, which holds
/// `cpu`.
#[cold]
fn run_raised_irq_work(cpu: usize, pick: super::irq_work::Pick<'_>) {
    #[cfg(mmcheck_hooks)]
    struct LeaveIrq;
    #[cfg(mmcheck_hooks)]
    impl Drop for LeaveIrq {
        fn drop(&mut self) {
            STATE.with(|s| s.borrow_mut().in_irq -= 1);
        }
    }
    #[cfg(mmcheck_hooks)]
    STATE.with(|s| s.borrow_mut().in_irq += 1);
    #[cfg(mmcheck_hooks)]
    let _leave = LeaveIrq;
    super::irq_work::run_raised(cpu, pick);
}

/// Delivers the irq_work raised on `cpu` now, as the IPI would: claims `cpu` (waiting for a
/// thread inside a section there), runs the work in hardirq context, releases it. This is
/// the explicit step the schedule targets and `irq_work_sync` use. A no-op when called in a
/// section on another CPU's behalf would have to wait on itself: inside a section on `cpu`
/// the work runs at that section's end instead.
pub fn deliver_irq_work(cpu: usize) {
    deliver_irq_work_pick(cpu, super::irq_work::Pick::Step);
}

/// [`deliver_irq_work`] of the works `pick` selects.
pub(crate) fn deliver_irq_work_pick(cpu: usize, pick: super::irq_work::Pick<'_>) {
    if CLAIM.with(|c| c.depth.get() > 0) {
        // This thread already holds a CPU; the work of its own CPU runs at its section end.
        return;
    }
    let saved = CLAIM.with(|c| set_bound(c, cpu % nr_cpus()));
    {
        let irqs = irq_save();
        // Run here, not only at the section's end: the PREEMPT_RT irq_work thread is this
        // step too.
        if super::irq_work::raised_on(irqs.cpu()) {
            run_raised_irq_work(irqs.cpu(), pick);
        }
    }
    CLAIM.with(|c| {
        set_bound(c, saved);
    });
}

/// Sets this thread's irq_work mode (see [`super::irq_work::set_threaded`]).
pub(crate) fn set_threaded_irq_work(on: bool) {
    CLAIM.with(|c| c.threaded.set(on));
}

/// This thread's irq_work mode.
pub(crate) fn threaded_irq_work() -> bool {
    CLAIM.with(|c| c.threaded.get())
}

/// True inside an [`irq_save`] section.
#[inline]
pub fn in_section() -> bool {
    CLAIM.with(|c| c.depth.get() > 0)
}

/// `irqs_disabled()`: inside [`irq_save`] or an interrupt handler.
#[inline(always)]
pub fn irqs_disabled() -> bool {
    in_section() || in_interrupt()
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
    let section = in_section();
    let site = STATE.with(|s| {
        let s = s.borrow();
        Site {
            name,
            cpu: current(),
            irq_deliverable: !section && s.in_irq == 0 && s.in_nmi == 0,
            nmi_deliverable: s.in_nmi == 0,
        }
    });
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
    // A handler runs with the CPU held, as hardware runs it with interrupts off: no other
    // task gets the CPU between the handler and the irq_work it raised, whose self-IPI
    // fires as the handler returns. Dropping the section after leaving the handler runs
    // that work (when interrupts were on at the interrupted point; inside a section it
    // runs when that section ends).
    let held = irq_save();
    {
        let _leave = Leave(kind);
        handler(kind, &site);
    }
    drop(held);
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

#[cfg(all(test, mmcheck_shuttle))]
mod shuttle_tests {
    use super::super::atomic::{AtomicU64, Ordering};
    use super::super::{thread, Arc};

    /// Two tasks on one CPU: a section excludes the other task even when it yields inside.
    #[test]
    fn tasks_on_one_cpu_never_share_a_section() {
        shuttle::check_random(
            || {
                let n = Arc::new(AtomicU64::new(0));
                let hs: Vec<_> = (0..2)
                    .map(|_| {
                        let n = n.clone();
                        thread::spawn(move || {
                            super::bind(0);
                            for _ in 0..5 {
                                let _g = super::irq_save();
                                let v = n.load(Ordering::Relaxed);
                                thread::yield_now();
                                n.store(v + 1, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().expect("no panic");
                }
                assert_eq!(n.load(Ordering::Relaxed), 10, "an update was lost");
            },
            200,
        );
    }
}
