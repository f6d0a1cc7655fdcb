//! Allocation-failure injection (the kernel's `failslab` / `fail_page_alloc`).
//!
//! Algorithm code asks [`should_fail`] before every allocation that may fail in the kernel
//! (`GFP_NOWAIT`, `GFP_ATOMIC`, node allocations) and takes its failure path when told to.
//! The harness installs a [`FaultPlan`] per thread: never, the N-th call, or a bit pattern
//! read from the fuzz input. Without hooks, [`should_fail`] is a constant `false`.

use std::cell::RefCell;

/// When the allocations of a thread fail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FaultPlan {
    /// Never fail (the default).
    #[default]
    Never,
    /// Fail only the N-th call (1-based) of [`should_fail`] on this thread.
    Nth(u64),
    /// Fail every call from the N-th (1-based) on: memory stays exhausted.
    From(u64),
    /// Fail call `i` (0-based) if bit `i % 8` of byte `i / 8` is set; calls past the end of
    /// the pattern succeed. This is the form fuzz inputs use.
    Pattern(Vec<u8>),
}

impl FaultPlan {
    #[cfg_attr(not(mmcheck_hooks), allow(dead_code))]
    fn fails(&self, call: u64) -> bool {
        match self {
            FaultPlan::Never => false,
            FaultPlan::Nth(n) => call + 1 == *n,
            FaultPlan::From(n) => call + 1 >= *n,
            FaultPlan::Pattern(bits) => usize::try_from(call / 8)
                .ok()
                .and_then(|i| bits.get(i))
                .is_some_and(|b| b & (1 << (call % 8)) != 0),
        }
    }
}

/// Counters of the current thread's injection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Calls of [`should_fail`] since the plan was installed.
    pub calls: u64,
    /// How many of them failed.
    pub failed: u64,
    /// The site of the most recent injected failure.
    pub last_site: Option<&'static str>,
}

#[derive(Default)]
struct State {
    plan: FaultPlan,
    stats: FaultStats,
    /// Nesting depth of [`without_faults`].
    suspended: u32,
}

super::backend_thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Asks whether the allocation at `site` fails. Constant `false` without hooks.
#[inline(always)]
pub fn should_fail(site: &'static str) -> bool {
    #[cfg(mmcheck_hooks)]
    {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if s.suspended > 0 {
                return false;
            }
            let call = s.stats.calls;
            s.stats.calls += 1;
            let fail = s.plan.fails(call);
            if fail {
                s.stats.failed += 1;
                s.stats.last_site = Some(site);
            }
            fail
        })
    }
    #[cfg(not(mmcheck_hooks))]
    {
        let _ = site;
        false
    }
}

/// Runs `f` with no injected failure on this thread (like clearing the kernel's
/// `make_it_fail` for a section): its allocations succeed and are not counted, so the plan
/// picks up where it was afterwards. For callers with no failure path, or whose failure
/// path the check cannot model.
pub fn without_faults<R>(f: impl FnOnce() -> R) -> R {
    struct Resume;
    impl Drop for Resume {
        fn drop(&mut self) {
            STATE.with(|s| s.borrow_mut().suspended -= 1);
        }
    }
    STATE.with(|s| s.borrow_mut().suspended += 1);
    let _resume = Resume;
    f()
}

/// Installs `plan` on the current thread and resets its counters; returns the old plan.
pub fn install(plan: FaultPlan) -> FaultPlan {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.stats = FaultStats::default();
        std::mem::replace(&mut s.plan, plan)
    })
}

/// The current thread's counters.
pub fn stats() -> FaultStats {
    STATE.with(|s| s.borrow().stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The plan lives in a backend thread-local, which the model backends have only inside
    // a model execution.
    #[cfg(all(mmcheck_hooks, not(mmcheck_model)))]
    #[test]
    fn without_faults_suspends_and_does_not_count() {
        let prev = install(FaultPlan::Nth(2));
        assert!(!should_fail("a"));
        assert!(!without_faults(|| should_fail("b") || should_fail("c")));
        assert!(should_fail("d"), "the second counted call fails");
        assert_eq!(stats().calls, 2);
        install(prev);
    }

    #[test]
    fn plans_pick_the_right_calls() {
        assert!(!FaultPlan::Never.fails(0));
        assert!(FaultPlan::Nth(3).fails(2));
        assert!(!FaultPlan::Nth(3).fails(3));
        assert!(!FaultPlan::From(2).fails(0));
        assert!(FaultPlan::From(2).fails(1) && FaultPlan::From(2).fails(9));
        let p = FaultPlan::Pattern(vec![0b0000_0101, 0x80]);
        let got: Vec<u64> = (0..24).filter(|&c| p.fails(c)).collect();
        assert_eq!(got, vec![0, 2, 15]);
    }
}
