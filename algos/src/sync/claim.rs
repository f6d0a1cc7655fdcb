//! How a thread claims a logical CPU for an [`irq_save`](super::cpu::irq_save) section.
//!
//! Two protocols over one owner word per CPU; a process uses one of them, chosen once:
//!
//! * **Compare-and-swap** (model backends, Miri, non-Linux, or `MMCHECK_CPU_CLAIM=cas`): the
//!   outermost section swaps the owner word from 0 to the thread's key and stores 0 when it
//!   ends. Simple, and on every section's path: two atomic read-modify-writes per section.
//! * **Biased** (the std backend on Linux, the default): as `rseq` and biased locks do, a
//!   CPU stays owned by the thread that used it last, and that thread enters and leaves
//!   sections with plain stores to its own `in_section` flag and one load of the owner word,
//!   with only a compiler fence between them. Another thread that wants the CPU *steals* it:
//!   under the CPU's steal lock it swaps the owner word to itself, issues
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` (which runs a full memory barrier on every
//!   CPU running one of this process's threads), and then waits for the previous owner's
//!   `in_section` flag to clear. The barrier makes the owner's store-then-load pair behave
//!   as if fenced (an asymmetric Dekker): either the owner's flag store is visible to the
//!   stealer, which then waits for the section to end, or the owner's owner-word load sees the
//!   stealer and the owner backs off to the slow path. Stealers are serialised by the lock,
//!   and each waits for its predecessor, so at most one thread is ever inside a section of a
//!   CPU. A section's writes reach the next owner through the `Release` store that clears the
//!   flag and the stealer's `Acquire` load of it.
//!
//! Thread records (the flags) are never freed: a thread's record goes back to a pool when the
//! thread exits, after it has dropped its ownerships under each CPU's steal lock, so a
//! stealer never reads a freed record.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// One thread's flag, alone on its cache line.
#[repr(align(64))]
pub(super) struct ThreadRec {
    in_section: AtomicBool,
}

/// The process's choice: true for the biased protocol.
#[inline(always)]
pub(super) fn biased() -> bool {
    #[cfg(any(miri, mmcheck_model, not(target_os = "linux")))]
    {
        false
    }
    #[cfg(not(any(miri, mmcheck_model, not(target_os = "linux"))))]
    {
        use std::sync::atomic::AtomicU8;
        // 0: not chosen yet, 1: compare-and-swap, 2: biased.
        static MODE: AtomicU8 = AtomicU8::new(0);
        match MODE.load(Ordering::Relaxed) {
            2 => true,
            1 => false,
            _ => choose(&MODE),
        }
    }
}

/// Chooses the protocol once for the process (every thread agrees: the first choice wins).
#[cfg(not(any(miri, mmcheck_model, not(target_os = "linux"))))]
#[cold]
fn choose(mode: &std::sync::atomic::AtomicU8) -> bool {
    static CHOSEN: OnceLock<bool> = OnceLock::new();
    let b = *CHOSEN.get_or_init(|| {
        std::env::var("MMCHECK_CPU_CLAIM").map_or(true, |v| v != "cas") && register()
    });
    mode.store(if b { 2 } else { 1 }, Ordering::Relaxed);
    b
}

/// The protocol in use, for reports and tests: `"biased"` or `"cas"`.
pub fn protocol() -> &'static str {
    if biased() {
        "biased"
    } else {
        "cas"
    }
}

#[cfg(not(any(miri, mmcheck_model, not(target_os = "linux"))))]
const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
#[cfg(not(any(miri, mmcheck_model, not(target_os = "linux"))))]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
#[cfg(not(any(miri, mmcheck_model, not(target_os = "linux"))))]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// Registers the process for expedited private membarriers; false if the kernel cannot.
#[cfg(not(any(miri, mmcheck_model, not(target_os = "linux"))))]
fn register() -> bool {
    // SAFETY: membarrier takes integer arguments only.
    let mask = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) };
    if mask < 0 || mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED == 0 {
        return false;
    }
    // SAFETY: as above.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
            0,
            0,
        ) == 0
    }
}

/// A full barrier on every CPU running a thread of this process.
fn membarrier() {
    #[cfg(not(any(miri, mmcheck_model, not(target_os = "linux"))))]
    {
        // SAFETY: as in `register`.
        let r =
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
        assert_eq!(r, 0, "membarrier failed after registering");
    }
}

fn pool() -> &'static Mutex<Vec<&'static ThreadRec>> {
    static POOL: OnceLock<Mutex<Vec<&'static ThreadRec>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(Vec::new()))
}

fn new_rec() -> &'static ThreadRec {
    let reused = pool().lock().unwrap_or_else(|e| e.into_inner()).pop();
    reused.unwrap_or_else(|| {
        Box::leak(Box::new(ThreadRec {
            in_section: AtomicBool::new(false),
        }))
    })
}

/// The current thread's record and the CPUs it has owned.
struct Local {
    rec: Cell<Option<&'static ThreadRec>>,
    owned: RefCell<Vec<usize>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        let Some(rec) = self.rec.get() else { return };
        rec.in_section.store(false, Ordering::Release);
        let me = std::ptr::from_ref(rec) as usize;
        for &cpu in self.owned.borrow().iter() {
            let rt = super::cpu::rt(cpu);
            let _steal = rt.steal.lock().unwrap_or_else(|e| e.into_inner());
            let _ = rt
                .owner
                .compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
        pool().lock().unwrap_or_else(|e| e.into_inner()).push(rec);
    }
}

std::thread_local! {
    static LOCAL: Local = const {
        Local {
            rec: Cell::new(None),
            owned: RefCell::new(Vec::new()),
        }
    };
}

/// The current thread's record (a leaked one if its thread-locals are already gone, as
/// when a callback runs during thread exit).
#[inline(always)]
fn rec() -> &'static ThreadRec {
    LOCAL
        .try_with(|l| match l.rec.get() {
            Some(r) => r,
            None => {
                let r = new_rec();
                l.rec.set(Some(r));
                r
            }
        })
        .unwrap_or_else(|_| {
            Box::leak(Box::new(ThreadRec {
                in_section: AtomicBool::new(false),
            }))
        })
}

/// Enters the outermost section on `cpu` (biased protocol). Returns the record to hand to
/// [`exit_biased`].
#[inline(always)]
pub(super) fn enter_biased(cpu: usize, cached: Option<&'static ThreadRec>) -> &'static ThreadRec {
    let rec = match cached {
        Some(r) => r,
        None => rec(),
    };
    let rt = super::cpu::rt(cpu);
    if !reenter_biased(rt, rec) {
        steal(rt, rec, cpu);
    }
    rec
}

/// Enters a section on the CPU of `rt` if this thread (`rec`) still owns it: one store of
/// its flag and one load of the owner word. False, with the flag cleared, if another thread
/// has stolen it.
#[inline(always)]
pub(super) fn reenter_biased(rt: &super::cpu::CpuRt, rec: &'static ThreadRec) -> bool {
    rec.in_section.store(true, Ordering::Relaxed);
    // The stealer's membarrier stands in for a fence here.
    compiler_fence(Ordering::SeqCst);
    if rt.owner.load(Ordering::Relaxed) == std::ptr::from_ref(rec) as usize {
        compiler_fence(Ordering::SeqCst);
        return true;
    }
    rec.in_section.store(false, Ordering::Release);
    false
}

/// Takes `cpu` from its owner and enters a section on it.
#[cold]
fn steal(rt: &super::cpu::CpuRt, rec: &'static ThreadRec, cpu: usize) {
    let me = std::ptr::from_ref(rec) as usize;
    let _ = LOCAL.try_with(|l| {
        let mut owned = l.owned.borrow_mut();
        if !owned.contains(&cpu) {
            owned.push(cpu);
        }
    });
    loop {
        {
            let _steal = rt.steal.lock().unwrap_or_else(|e| e.into_inner());
            let prev = rt.owner.swap(me, Ordering::AcqRel);
            if prev != 0 && prev != me {
                membarrier();
                // SAFETY: records are never freed (see the module header).
                let prev = unsafe { &*(prev as *const ThreadRec) };
                let mut spins = 0u32;
                while prev.in_section.load(Ordering::Acquire) {
                    spins += 1;
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
        rec.in_section.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if rt.owner.load(Ordering::Relaxed) == me {
            fence(Ordering::Acquire);
            return;
        }
        // Stolen back meanwhile: try again.
        rec.in_section.store(false, Ordering::Release);
    }
}

/// Leaves the outermost section (biased protocol): the CPU stays owned.
#[inline(always)]
pub(super) fn exit_biased(rec: &ThreadRec) {
    rec.in_section.store(false, Ordering::Release);
}

/// Takes `cpu`'s owner word with a compare-and-swap (the other protocol).
#[inline]
pub(super) fn enter_cas(owner: &AtomicUsize, me: usize, cpu: usize) {
    if owner
        .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    enter_cas_slow(owner, me, cpu);
}

#[cold]
#[cfg_attr(mmcheck_loom, allow(clippy::never_loop))]
fn enter_cas_slow(owner: &AtomicUsize, me: usize, cpu: usize) {
    #[cfg(not(mmcheck_loom))]
    let mut spins = 0u32;
    loop {
        if owner.load(Ordering::Relaxed) == 0
            && owner
                .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        #[cfg(mmcheck_loom)]
        panic!(
            "cpu::irq_save: CPU {cpu} is held by another loom thread; bind a model's threads to \
             distinct CPUs"
        );
        #[cfg(not(mmcheck_loom))]
        {
            let _ = cpu;
            spins += 1;
            if spins < 64 && !super::MODEL {
                std::hint::spin_loop();
            } else {
                super::thread::yield_now();
            }
        }
    }
}

/// Leaves the outermost section (compare-and-swap protocol).
#[inline(always)]
pub(super) fn exit_cas(owner: &AtomicUsize) {
    owner.store(0, Ordering::Release);
}
