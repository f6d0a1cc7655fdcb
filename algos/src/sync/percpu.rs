//! Per-CPU variables: one slot per logical CPU (`DEFINE_PER_CPU`, `alloc_percpu`), reached as
//! the current CPU's (`this_cpu_ptr`) or a named CPU's (`per_cpu_ptr`).
//!
//! Kernel mapping. Faithful: a slot per CPU, each on its own cache lines so CPUs do not
//! false-share, and the kernel's exclusivity rule: a CPU's slot is changed only by code
//! running on that CPU with interrupts off, that is inside an
//! [`irq_save`](super::cpu::irq_save) section, which claims the CPU against every other
//! thread (see [`cpu`](super::cpu)). [`PerCpu::local`] returns the slot of the CPU a section
//! holds, and only against that section's guard, so safe code cannot reach another CPU's
//! slot as if it were its own. Different: the slots hand out `&T` only, never `&mut T`: an
//! NMI may arrive inside any section and reach the same slot, so a slot's mutable state lives
//! in atomics or in [`cell::UnsafeCell`](super::cell::UnsafeCell) with the algorithm's own
//! reentrancy argument (a counter such as `bpf_mem_alloc`'s `active`), where loom checks
//! every access. There is one slot per [`nr_cpus`](super::cpu::nr_cpus) and CPU indexes wrap,
//! as [`cpu::current`](super::cpu::current) does.

/// One slot, alone on its cache lines (128 bytes: two lines, as adjacent-line prefetch pairs
/// them).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot<T>(T);

/// A per-CPU variable: one `T` per logical CPU.
#[derive(Debug)]
pub struct PerCpu<T> {
    slots: Box<[Slot<T>]>,
}

impl<T> PerCpu<T> {
    /// A slot per logical CPU ([`nr_cpus`](super::cpu::nr_cpus)), slot `cpu` built by
    /// `init(cpu)`.
    pub fn new(mut init: impl FnMut(usize) -> T) -> Self {
        PerCpu {
            slots: (0..super::cpu::nr_cpus().max(1))
                .map(|c| Slot(init(c)))
                .collect(),
        }
    }

    /// The slot of the CPU that `section` holds (`this_cpu_ptr` with interrupts off): the
    /// one slot its code may change, nobody else running there meanwhile.
    #[inline]
    pub fn local<'a>(&'a self, section: &'a super::cpu::IrqGuard) -> &'a T {
        self.cpu(section.cpu())
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Always false: there is at least one slot.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The current CPU's slot (`this_cpu_ptr` / `raw_cpu_ptr`), outside any claim: for
    /// atomics and statistics. State changed only inside sections is reached with
    /// [`PerCpu::local`].
    #[inline]
    pub fn this_cpu(&self) -> &T {
        self.cpu(super::cpu::current())
    }

    /// The slot of `cpu` (`per_cpu_ptr`); indexes wrap at the number of slots.
    #[inline]
    pub fn cpu(&self, cpu: usize) -> &T {
        &self.slots[cpu % self.slots.len()].0
    }

    /// Every slot with its CPU number (`for_each_possible_cpu`).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> + '_ {
        self.slots.iter().enumerate().map(|(c, s)| (c, &s.0))
    }
}

impl<T: Default> Default for PerCpu<T> {
    fn default() -> Self {
        Self::new(|_| T::default())
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::super::atomic::{AtomicU64, Ordering};
    use super::super::{cpu, thread, Arc};
    use super::PerCpu;

    #[test]
    fn each_bound_thread_reaches_its_own_slot() {
        let n = cpu::nr_cpus();
        let pc = Arc::new(PerCpu::new(|c| AtomicU64::new(c as u64 * 1000)));
        let hs: Vec<_> = (0..n)
            .map(|c| {
                let pc = pc.clone();
                thread::spawn(move || {
                    cpu::bind(c);
                    for _ in 0..100 {
                        pc.this_cpu().fetch_add(1, Ordering::Relaxed);
                    }
                    let g = cpu::irq_save();
                    assert_eq!(g.cpu(), c);
                    pc.local(&g).fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in hs {
            h.join().expect("no panic");
        }
        for (c, slot) in pc.iter() {
            assert_eq!(slot.load(Ordering::Relaxed), c as u64 * 1000 + 101);
        }
        assert_eq!(
            pc.cpu(n).load(Ordering::Relaxed),
            101,
            "indexes wrap at nr_cpus"
        );
        // Slots do not share cache lines.
        let a = pc.cpu(0) as *const AtomicU64 as usize;
        let b = pc.cpu(1) as *const AtomicU64 as usize;
        assert!(b - a >= 128);
    }
}
