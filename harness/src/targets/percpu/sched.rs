//! `percpu_sched`: the BPF memory allocator on the schedule engine. Threads 0 and 1 are two
//! tasks on CPU 0, preempted between their interrupt-disabled sections (the
//! `preempted_bpf_ma_op` shape: a refill raised by one must not be lost to the other);
//! thread 2 runs on CPU 1. They allocate into and free from shared slots, so frees are also
//! cross-CPU (the owner hint and the trim into the owner's tasks-trace lists); RCU readers hold objects across scheduling points; grace periods of both flavours
//! advance as explicit steps. The fixed-size allocator's unit is above 8 KiB, so its
//! watermarks are 1/3/1 and a few operations cross them: refill and trim irq_work run at the
//! end of the sections that raise them, interleaved with the other CPUs.
//!
//! Checks: the multiset record of [`super::ops`] (stamps, overlaps), excused NULLs, the
//! allocator's `validate()` after the scenario, and with the hooks every object's class,
//! liveness and grace periods; a reader that touches memory handed back to the backing
//! allocator while its read section runs is a `KMSAN: use-after-free` (the model backends
//! quarantine that memory poisoned).

use super::ops::{Mode, PercpuOp, PercpuOpsTarget, PercpuRet, PercpuSut};
use crate::target::Target;
use algos::sync::cpu::Interrupt;
use algos::sync::{rcu, thread};
use arbitrary::Arbitrary;

/// The fixed-size allocator's object size here: unit 8200, watermarks 1/3/1.
pub const SCHED_SIZE: usize = 8192;

/// Slots the scenario's operations use (a few, so threads meet on them).
pub const SCHED_SLOTS: u8 = 8;

/// An operation of `percpu_sched`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum PercpuSchedOp {
    /// Allocate into a slot on this thread's CPU.
    Alloc(u8),
    /// Free a slot's object (allocated on any CPU).
    Free(u8),
    /// Free a slot's object with `free_rcu`.
    FreeRcu(u8),
    /// Allocate up to `n % 8` objects into free slots.
    AllocBatch(u8),
    /// Free up to `n % 8` objects, with `free_rcu` if the flag is set.
    FreeBatch(u8, bool),
    /// An RCU reader: under `rcu_read_lock`, read a slot's object, yield, read it again.
    Read(u8),
    /// One step of each RCU flavour's grace-period machinery.
    GracePeriod,
}

/// The `percpu_sched` target.
#[derive(Debug, Clone)]
pub struct PercpuSchedTarget {
    name: &'static str,
    ops: PercpuOpsTarget,
}

impl PercpuSchedTarget {
    /// The target registered as `name`.
    pub fn new(name: &'static str) -> Self {
        PercpuSchedTarget {
            name,
            ops: PercpuOpsTarget::new(name),
        }
    }

    fn as_ops(op: &PercpuSchedOp) -> Option<PercpuOp> {
        let slot = |s: u8| s % SCHED_SLOTS;
        Some(match *op {
            PercpuSchedOp::Alloc(s) => PercpuOp::Alloc {
                mode: Mode::Fixed,
                size: 0,
                slot: slot(s),
            },
            PercpuSchedOp::Free(s) => PercpuOp::Free { slot: slot(s) },
            PercpuSchedOp::FreeRcu(s) => PercpuOp::FreeRcu { slot: slot(s) },
            PercpuSchedOp::AllocBatch(n) => PercpuOp::AllocBatch {
                mode: Mode::Fixed,
                size: 0,
                start: 0,
                n: n % SCHED_SLOTS,
            },
            PercpuSchedOp::FreeBatch(n, rcu) => PercpuOp::FreeBatch {
                start: 0,
                n: n % SCHED_SLOTS,
                rcu,
            },
            PercpuSchedOp::Read(_) | PercpuSchedOp::GracePeriod => return None,
        })
    }
}

/// Reads the first bytes of a slot's object through the sanitizer (a use of the memory).
fn read_checked(sut: &PercpuSut, ptr: usize) -> u8 {
    let ma = sut.ma(Mode::Fixed);
    let area = PercpuSut::stamp_area(&ma, Mode::Fixed, ptr);
    shadow::registry::check(area, 8);
    // SAFETY: the reader's section keeps the memory from going back to the backing
    // allocator (the property under test; the model backends quarantine it anyway).
    unsafe { (area as *const u8).read_volatile() }
}

impl Target for PercpuSchedTarget {
    type Op = PercpuSchedOp;
    type Ret = PercpuRet;
    type Model = ();
    type Sut = PercpuSut;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> PercpuSut {
        PercpuSut::new(SCHED_SIZE, &[Mode::Fixed])
    }

    fn new_model(&self) {}

    fn apply(&self, sut: &PercpuSut, op: &PercpuSchedOp) -> PercpuRet {
        if let Some(o) = Self::as_ops(op) {
            return self.ops.apply(sut, &o);
        }
        match *op {
            PercpuSchedOp::Read(s) => {
                let _g = rcu::read_lock();
                if let Some((ptr, _)) = sut.peek(usize::from(s % SCHED_SLOTS)) {
                    read_checked(sut, ptr);
                    thread::yield_now();
                    read_checked(sut, ptr);
                }
                PercpuRet::Done
            }
            _ => {
                rcu::poll();
                rcu::tasks_trace::poll();
                PercpuRet::Done
            }
        }
    }

    fn step(&self, model: &mut (), op: &PercpuSchedOp) -> PercpuRet {
        match Self::as_ops(op) {
            Some(o) => self.ops.step(model, &o),
            None => PercpuRet::Done,
        }
    }

    fn ret_eq(&self, real: &PercpuRet, model: &PercpuRet) -> bool {
        self.ops.ret_eq(real, model)
    }

    fn validate(&self, sut: &PercpuSut) -> Result<(), String> {
        // Quiescence first: the scenario's threads are done; let the deferred work finish.
        sut.ma(Mode::Fixed).drain_deferred();
        sut.check_all()?;
        self.ops.validate(sut)
    }

    /// Threads 0 and 1 share CPU 0 (tasks preempted between their sections, as in
    /// `preempted_bpf_ma_op`); thread 2 runs on CPU 1 (cross-CPU frees).
    fn thread_cpu(&self, thread: usize) -> usize {
        usize::from(thread >= 2)
    }

    fn interrupt_op_allowed(&self, op: &PercpuSchedOp, _kind: Interrupt) -> bool {
        matches!(
            op,
            PercpuSchedOp::Alloc(_) | PercpuSchedOp::Free(_) | PercpuSchedOp::FreeRcu(_)
        )
    }

    fn dump(&self, sut: &PercpuSut) -> String {
        self.ops.dump(sut)
    }
}
