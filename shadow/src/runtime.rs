//! Per-thread runtime state: the reentrancy guard and `kmsan_disable_current()`.
//!
//! On std each OS thread has its own state. Under shuttle every model task runs on the test's
//! OS thread, so the state is kept per (OS thread, shuttle task); under loom, in loom's
//! thread-locals.

use std::cell::Cell;

#[derive(Clone, Copy, Default)]
struct State {
    /// `disable()` nesting.
    disabled: u32,
    /// Inside the runtime (reporting): reports from here are dropped.
    in_runtime: u32,
}

#[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
fn with_state<R>(f: impl FnOnce(&Cell<State>) -> R) -> R {
    std::thread_local! {
        static S: Cell<State> = const { Cell::new(State { disabled: 0, in_runtime: 0 }) };
    }
    S.with(f)
}

#[cfg(mmcheck_loom)]
fn with_state<R>(f: impl FnOnce(&Cell<State>) -> R) -> R {
    loom::thread_local! {
        static S: Cell<State> = Cell::new(State::default());
    }
    S.with(f)
}

#[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
fn with_state<R>(f: impl FnOnce(&Cell<State>) -> R) -> R {
    use std::collections::HashMap;
    std::thread_local! {
        static S: std::cell::RefCell<HashMap<usize, &'static Cell<State>>> = std::cell::RefCell::new(HashMap::new());
    }
    let task = shuttle::current::try_get_current_task().map_or(usize::MAX, usize::from);
    let cell = S.with(|m| {
        *m.borrow_mut()
            .entry(task)
            .or_insert_with(|| Box::leak(Box::new(Cell::new(State::default()))))
    });
    f(cell)
}

fn update(f: impl FnOnce(&mut State)) {
    with_state(|c| {
        let mut s = c.get();
        f(&mut s);
        c.set(s);
    });
}

/// While alive, checks on this thread report nothing (`kmsan_disable_current`). Nestable.
#[derive(Debug)]
pub struct Disabled(());

/// Disables reporting on the current thread until the guard drops. Nests.
pub fn disable() -> Disabled {
    update(|s| s.disabled += 1);
    Disabled(())
}

impl Drop for Disabled {
    fn drop(&mut self) {
        update(|s| s.disabled -= 1);
    }
}

/// True unless reporting is disabled or already in progress on this thread.
pub fn reporting_allowed() -> bool {
    with_state(|c| {
        let s = c.get();
        s.disabled == 0 && s.in_runtime == 0
    })
}

/// Marks the thread as inside the runtime until the guard drops.
pub(crate) struct InRuntime(());

pub(crate) fn enter() -> InRuntime {
    update(|s| s.in_runtime += 1);
    InRuntime(())
}

impl Drop for InRuntime {
    fn drop(&mut self) {
        update(|s| s.in_runtime -= 1);
    }
}
