//! The explicit-step RCU model used under loom and shuttle.
use super::{Flavor, RcuBox, FREED};
use std::collections::{HashMap, VecDeque};
use std::panic::Location;
use std::sync::Mutex;

type Callback = Box<dyn FnOnce() + Send>;

struct Quarantined {
    ptr: *mut u8,
    release: unsafe fn(*mut u8),
}

#[derive(Default)]
struct Reader {
    depth: u32,
    /// Outermost sections completed so far.
    sections: u64,
}

#[derive(Default)]
struct State {
    readers: HashMap<usize, Reader>,
    started: u64,
    completed: u64,
    /// Readers inside a section when the grace period in flight started.
    snapshot: Vec<(usize, u64)>,
    callbacks: VecDeque<(u64, Callback)>,
    quarantine: Vec<Quarantined>,
}

pub(super) struct Model(Mutex<State>);

// SAFETY: quarantined pointers are only released by `Drop`, once, and the callbacks are
// `Send`; the mutex serializes everything else.
unsafe impl Send for Model {}
// SAFETY: as above.
unsafe impl Sync for Model {}

impl Drop for Model {
    fn drop(&mut self) {
        let st = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        st.callbacks.clear();
        for q in st.quarantine.drain(..) {
            // SAFETY: each quarantined object is released exactly once, at the end of
            // the execution, when no model thread runs any more.
            unsafe { (q.release)(q.ptr) }
        }
    }
}

// One model per flavour: a normal-RCU reader does not hold off a tasks-trace grace period,
// nor the reverse. The quarantine lives in the normal flavour's model.
#[cfg(mmcheck_loom)]
loom::lazy_static! {
    static ref MODEL: Model = Model(Mutex::new(State::default()));
    static ref TRACE_MODEL: Model = Model(Mutex::new(State::default()));
}
#[cfg(mmcheck_shuttle)]
shuttle::lazy_static! {
    static ref MODEL: Model = Model(Mutex::new(State::default()));
    static ref TRACE_MODEL: Model = Model(Mutex::new(State::default()));
}

fn with_flavor<R>(fl: Flavor, f: impl FnOnce(&mut State) -> R) -> R {
    let m: &Model = match fl {
        Flavor::Rcu => &MODEL,
        Flavor::TasksTrace => &TRACE_MODEL,
    };
    let mut st = m.0.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut st)
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    with_flavor(Flavor::Rcu, f)
}

pub(super) fn enter(fl: Flavor) {
    let me = crate::sync::thread_key();
    with_flavor(fl, |st| st.readers.entry(me).or_default().depth += 1);
}

pub(super) fn exit(fl: Flavor) {
    let me = crate::sync::thread_key();
    with_flavor(fl, |st| {
        let r = st.readers.entry(me).or_default();
        r.depth -= 1;
        if r.depth == 0 {
            r.sections += 1;
        }
    });
}

pub(super) fn depth(fl: Flavor) -> u32 {
    let me = crate::sync::thread_key();
    with_flavor(fl, |st| st.readers.get(&me).map_or(0, |r| r.depth))
}

pub(super) fn call_rcu(fl: Flavor, f: Box<dyn FnOnce() + Send>) {
    with_flavor(fl, |st| {
        let needed = st.started + 1;
        st.callbacks.push_back((needed, f));
    });
}

fn gp_in_flight(st: &State) -> bool {
    st.started > st.completed
}

fn readers_gone(st: &State) -> bool {
    st.snapshot.iter().all(|(k, sections)| {
        st.readers
            .get(k)
            .is_none_or(|r| r.depth == 0 || r.sections > *sections)
    })
}

fn start_gp(st: &mut State) {
    st.started += 1;
    st.snapshot = st
        .readers
        .iter()
        .filter(|(_, r)| r.depth > 0)
        .map(|(k, r)| (*k, r.sections))
        .collect();
}

/// One step; with `want` set, starts a grace period even with no callbacks waiting.
fn step(fl: Flavor, want: Option<u64>) -> bool {
    let ready: Vec<Callback> = with_flavor(fl, |st| {
        let mut changed = false;
        if !gp_in_flight(st) {
            let wanted = want.is_some_and(|w| st.completed < w);
            if wanted || !st.callbacks.is_empty() {
                start_gp(st);
                changed = true;
            }
        }
        let mut ready = Vec::new();
        if gp_in_flight(st) && readers_gone(st) {
            st.completed = st.started;
            st.snapshot.clear();
            changed = true;
            while st
                .callbacks
                .front()
                .is_some_and(|(needed, _)| *needed <= st.completed)
            {
                ready.push(st.callbacks.pop_front().expect("checked").1);
            }
        }
        if changed && ready.is_empty() {
            // Signal "changed" through a no-op.
            ready.push(Box::new(|| {}));
        }
        ready
    });
    let changed = !ready.is_empty();
    for cb in ready {
        cb();
    }
    changed
}

pub(super) fn poll(fl: Flavor) -> bool {
    step(fl, None)
}

pub(super) fn synchronize(fl: Flavor) {
    let target = with_flavor(fl, |st| st.started + 1);
    loop {
        step(fl, Some(target));
        if with_flavor(fl, |st| st.completed >= target) {
            return;
        }
        crate::sync::thread::yield_now();
    }
}

pub(super) fn barrier(fl: Flavor) {
    let target = with_flavor(fl, |st| st.callbacks.back().map(|(n, _)| *n));
    let Some(target) = target else { return };
    loop {
        step(fl, Some(target));
        if with_flavor(fl, |st| {
            st.completed >= target && st.callbacks.front().is_none_or(|c| c.0 > target)
        }) {
            return;
        }
        crate::sync::thread::yield_now();
    }
}

pub(super) fn stats(fl: Flavor) -> super::Stats {
    with_flavor(fl, |st| super::Stats {
        gp_started: st.started,
        gp_completed: st.completed,
        callbacks_pending: st.callbacks.len(),
        quarantined: st.quarantine.len(),
    })
}

unsafe fn release<T>(p: *mut u8) {
    super::forget_shadow(p.cast::<RcuBox<T>>());
    // SAFETY: `p` came from `Box::into_raw` of an `RcuBox<T>` and is released once.
    unsafe { drop(Box::from_raw(p.cast::<RcuBox<T>>())) }
}

/// Marks the object dead and keeps its memory until the execution ends.
///
/// # Safety
/// `p` is a live `RcuBox<T>` from `Box::into_raw`, quarantined once.
pub(super) unsafe fn quarantine<T>(p: *mut RcuBox<T>, site: &'static Location<'static>) {
    // SAFETY: per the contract, `p` is valid.
    let b = unsafe { &*p };
    let prev = b
        .header
        .state
        .swap(FREED, std::sync::atomic::Ordering::AcqRel);
    assert_ne!(prev, FREED, "BUG: RCU: double-free in {site}");
    #[cfg(feature = "sanitize")]
    shadow::registry::poison_freed_at(
        std::ptr::from_ref(&b.header) as usize,
        shadow::Site::new(site, Some("rcu free")),
    );
    *b.header.freed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(site);
    with(|st| {
        st.quarantine.push(Quarantined {
            ptr: p.cast(),
            release: release::<T>,
        })
    });
}

/// What a read section holds under the model: a marker whose drop leaves the section.
pub(super) struct Section(Flavor, std::marker::PhantomData<*const ()>);

impl Drop for Section {
    fn drop(&mut self) {
        exit(self.0);
    }
}

/// Enters a read section of flavour `fl`.
pub(super) fn section(fl: Flavor) -> Section {
    enter(fl);
    Section(fl, std::marker::PhantomData)
}

/// True inside a read section of flavour `fl`.
pub(super) fn in_section(fl: Flavor) -> bool {
    depth(fl) > 0
}
