//! Per-CPU variables: one slot per logical CPU (`DEFINE_PER_CPU`, `alloc_percpu`), reached as
//! the current CPU's (`this_cpu_ptr`) or a named CPU's (`per_cpu_ptr`).
//!
//! Kernel mapping. Faithful: a slot per CPU, each on its own cache lines so CPUs do not
//! false-share, and the kernel's exclusivity rule as a convention: a CPU's slot is changed
//! by the thread bound to that CPU and by interrupts on it, which the algorithm guards with
//! [`irq_save`](super::cpu::irq_save) and, where NMIs matter, a reentrancy counter (as
//! `bpf_mem_alloc`'s `active`). Different: the slots hand out `&T` only, never `&mut T`: an
//! NMI may arrive inside any section and reach the same slot, so a slot's mutable state lives
//! in atomics or in [`cell::UnsafeCell`](super::cell::UnsafeCell) with the algorithm's own
//! argument, where loom checks every access. A CPU index beyond [`nr_cpus`](super::cpu::nr_cpus)
//! wraps, as the harness binds scenario thread `i` to CPU `i`.

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
    pub fn new(init: impl FnMut(usize) -> T) -> Self {
        Self::with_cpus(super::cpu::nr_cpus(), init)
    }

    /// A slot for each of `n` CPUs (at least one).
    pub fn with_cpus(n: usize, mut init: impl FnMut(usize) -> T) -> Self {
        PerCpu {
            slots: (0..n.max(1)).map(|c| Slot(init(c))).collect(),
        }
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Always false: there is at least one slot.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The current CPU's slot (`this_cpu_ptr`).
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
        let pc = Arc::new(PerCpu::with_cpus(4, |c| AtomicU64::new(c as u64 * 1000)));
        let hs: Vec<_> = (0..4)
            .map(|c| {
                let pc = pc.clone();
                thread::spawn(move || {
                    cpu::bind(c);
                    for _ in 0..100 {
                        pc.this_cpu().fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("no panic");
        }
        for (c, slot) in pc.iter() {
            assert_eq!(slot.load(Ordering::Relaxed), c as u64 * 1000 + 100);
        }
        assert_eq!(pc.cpu(6).load(Ordering::Relaxed), 2100, "indexes wrap");
        // Slots do not share cache lines.
        let a = pc.cpu(0) as *const AtomicU64 as usize;
        let b = pc.cpu(1) as *const AtomicU64 as usize;
        assert!(b - a >= 128);
    }
}
