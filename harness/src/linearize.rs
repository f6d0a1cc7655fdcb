//! Concurrent histories and the linearizability checker.
//!
//! The checker is Wing & Gong's search with Lowe's memoization (the algorithm Porcupine and
//! Lincheck use): it looks for a total order of the operations that respects real time (an
//! operation that returned before another was called comes first) and that the sequential
//! model accepts, step by step, with the same results. Visited `(linearized set, model
//! state)` pairs are cached, so equivalent prefixes are explored once. When the target says
//! its operations partition (per key, as a map does), each partition is checked on its own,
//! which turns one exponential search into several small ones.

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;

/// One completed operation of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<Op, Ret> {
    /// The column it belongs to: in a scenario 0 is `init`, `1..=n` the threads and `n + 1`
    /// `post`; in the sequential engine 0 is the interrupted operation and 1 the nested
    /// interrupt operations.
    pub thread: usize,
    /// The operation.
    pub op: Op,
    /// What the real structure returned.
    pub ret: Ret,
    /// Logical time of the call (unique, increasing).
    pub call: u64,
    /// Logical time of the return (unique, after `call`).
    pub ret_at: u64,
}

/// Why a history is not linearizable.
#[derive(Debug, Clone)]
pub struct NotLinearizable {
    /// A witness: indexes (into the checked events) of the longest prefix the search could
    /// linearize, in the order it linearized them. Applying these operations to the initial
    /// model in this order gives every recorded result.
    pub longest_prefix: Vec<usize>,
    /// The operations that could come next after that prefix, each with the result the model
    /// gives there: none of them matches what the structure returned.
    pub stuck: Vec<(usize, String)>,
    /// The model state after the longest prefix.
    pub model_at_stuck: String,
    /// The partition key that failed, if the history was partitioned.
    pub partition: Option<u64>,
}

/// The search ran out of its step budget before it either found a linearization or
/// exhausted every order: the history may or may not be linearizable. Not a bug report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconclusive {
    /// Search steps taken (the budget).
    pub steps: u64,
    /// Events in the (partition of the) history.
    pub events: usize,
    /// The partition key whose search ran out, if the history was partitioned.
    pub partition: Option<u64>,
}

/// Why [`check`] did not return final states.
#[derive(Debug, Clone)]
pub enum LinError {
    /// Every order was tried and none matches: a bug.
    NotLinearizable(NotLinearizable),
    /// The step budget ran out first: no verdict.
    Inconclusive(Inconclusive),
}

/// Bound on the size of one (partition of a) history.
pub const MAX_EVENTS: usize = 128;

/// Search steps [`check`] may take before it answers [`LinError::Inconclusive`].
pub const STEP_BUDGET: u64 = 2_000_000;

struct Search<'a, M, Op, Ret, S, E> {
    events: &'a [Event<Op, Ret>],
    step: &'a S,
    eq: &'a E,
    all: u128,
    seen: HashSet<(u128, M)>,
    finals: Vec<M>,
    want_all: bool,
    /// The order linearized so far on the current search path.
    path: Vec<usize>,
    /// The longest path seen, with the model state after it.
    best: (Vec<usize>, Option<M>),
    budget: u64,
    ran_out: bool,
}

impl<M, Op, Ret, S, E> Search<'_, M, Op, Ret, S, E>
where
    M: Clone + Eq + Hash + Debug,
    S: Fn(&mut M, &Op) -> Ret,
    E: Fn(&Ret, &Ret) -> bool,
{
    /// Depth-first search; returns true once a full linearization is found (and only one is
    /// wanted).
    fn dfs(&mut self, done: u128, model: M) -> bool {
        if done == self.all {
            if !self.finals.contains(&model) {
                self.finals.push(model);
            }
            return !self.want_all;
        }
        if self.path.len() > self.best.0.len() || self.best.1.is_none() {
            self.best = (self.path.clone(), Some(model.clone()));
        }
        if self.budget == 0 {
            self.ran_out = true;
            return false;
        }
        self.budget -= 1;
        let min_ret = (0..self.events.len())
            .filter(|i| done & (1u128 << i) == 0)
            .map(|i| self.events[i].ret_at)
            .min()
            .unwrap_or(u64::MAX);
        for i in 0..self.events.len() {
            let bit = 1u128 << i;
            if done & bit != 0 || self.events[i].call > min_ret {
                continue;
            }
            let mut next = model.clone();
            let r = (self.step)(&mut next, &self.events[i].op);
            if !(self.eq)(&r, &self.events[i].ret) {
                continue;
            }
            let key = (done | bit, next);
            if self.seen.contains(&key) {
                continue;
            }
            self.seen.insert(key.clone());
            self.path.push(i);
            let found = self.dfs(done | bit, key.1);
            self.path.pop();
            if found {
                return true;
            }
        }
        false
    }
}

/// Outcome of [`check`]: the model states a valid linearization can end in.
pub type Finals<M> = Vec<M>;

/// Checks `events` against the sequential model starting at `init`.
///
/// `step` applies an operation to the model and returns the model's result; `eq` compares a
/// model result with a real one. With `want_all`, every distinct final model state is
/// returned (the sequential engine uses this when interrupts make the order of two
/// operations ambiguous); otherwise the search stops at the first linearization. A search
/// that runs out of [`STEP_BUDGET`] before it finds one answers
/// [`LinError::Inconclusive`], never a false "not linearizable".
pub fn check<M, Op, Ret>(
    init: &M,
    events: &[Event<Op, Ret>],
    step: impl Fn(&mut M, &Op) -> Ret,
    eq: impl Fn(&Ret, &Ret) -> bool,
    want_all: bool,
) -> Result<Finals<M>, LinError>
where
    M: Clone + Eq + Hash + Debug,
    Op: Debug,
    Ret: Debug,
{
    check_with_budget(init, events, step, eq, want_all, STEP_BUDGET)
}

/// [`check`] with an explicit step budget.
pub fn check_with_budget<M, Op, Ret>(
    init: &M,
    events: &[Event<Op, Ret>],
    step: impl Fn(&mut M, &Op) -> Ret,
    eq: impl Fn(&Ret, &Ret) -> bool,
    want_all: bool,
    budget: u64,
) -> Result<Finals<M>, LinError>
where
    M: Clone + Eq + Hash + Debug,
    Op: Debug,
    Ret: Debug,
{
    assert!(
        events.len() <= MAX_EVENTS,
        "history of {} events exceeds the checker's bound of {MAX_EVENTS}",
        events.len()
    );
    let all = if events.len() == 128 {
        u128::MAX
    } else {
        (1u128 << events.len()) - 1
    };
    let mut s = Search {
        events,
        step: &step,
        eq: &eq,
        all,
        seen: HashSet::new(),
        finals: Vec::new(),
        want_all,
        path: Vec::new(),
        best: (Vec::new(), None),
        budget,
        ran_out: false,
    };
    s.dfs(0, init.clone());
    // With `want_all`, finals found before the budget ran out may not be all of them.
    let complete = !(want_all && s.ran_out);
    if complete && !s.finals.is_empty() {
        return Ok(s.finals);
    }
    if s.ran_out {
        return Err(LinError::Inconclusive(Inconclusive {
            steps: budget,
            events: events.len(),
            partition: None,
        }));
    }
    let (prefix, model) = s.best;
    let model = model.unwrap_or_else(|| init.clone());
    let done: u128 = prefix.iter().fold(0, |d, &i| d | (1u128 << i));
    let min_ret = (0..events.len())
        .filter(|i| done & (1u128 << i) == 0)
        .map(|i| events[i].ret_at)
        .min()
        .unwrap_or(u64::MAX);
    let stuck = (0..events.len())
        .filter(|i| done & (1u128 << i) == 0 && events[*i].call <= min_ret)
        .map(|i| {
            let mut m = model.clone();
            let r = step(&mut m, &events[i].op);
            (
                i,
                format!(
                    "{:?} returned {:?}, the model says {:?}",
                    events[i].op, events[i].ret, r
                ),
            )
        })
        .collect();
    Err(LinError::NotLinearizable(NotLinearizable {
        longest_prefix: prefix,
        stuck,
        model_at_stuck: format!("{model:?}"),
        partition: None,
    }))
}

/// Checks a history, splitting it by `partition` when every operation has a key. Returns
/// the failing partition's indexes mapped back to the full history.
pub fn check_partitioned<M, Op, Ret>(
    init: &M,
    events: &[Event<Op, Ret>],
    partition: impl Fn(&Op) -> Option<u64>,
    step: impl Fn(&mut M, &Op) -> Ret,
    eq: impl Fn(&Ret, &Ret) -> bool,
) -> Result<(), LinError>
where
    M: Clone + Eq + Hash + Debug,
    Op: Debug + Clone,
    Ret: Debug + Clone,
{
    let keys: Option<Vec<u64>> = events.iter().map(|e| partition(&e.op)).collect();
    let Some(keys) = keys else {
        return check(init, events, &step, &eq, false).map(|_| ());
    };
    let mut distinct: Vec<u64> = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    for k in distinct {
        let idx: Vec<usize> = (0..events.len()).filter(|&i| keys[i] == k).collect();
        let sub: Vec<Event<Op, Ret>> = idx.iter().map(|&i| events[i].clone()).collect();
        match check(init, &sub, &step, &eq, false) {
            Ok(_) => {}
            Err(LinError::NotLinearizable(mut e)) => {
                e.longest_prefix = e.longest_prefix.iter().map(|&i| idx[i]).collect();
                e.stuck = e.stuck.into_iter().map(|(i, s)| (idx[i], s)).collect();
                e.partition = Some(k);
                return Err(LinError::NotLinearizable(e));
            }
            Err(LinError::Inconclusive(mut e)) => {
                e.partition = Some(k);
                return Err(LinError::Inconclusive(e));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    enum Reg {
        Write(u8),
        Read,
    }

    fn step(m: &mut u8, op: &Reg) -> Option<u8> {
        match op {
            Reg::Write(v) => {
                *m = *v;
                None
            }
            Reg::Read => Some(*m),
        }
    }

    fn ev(
        thread: usize,
        op: Reg,
        ret: Option<u8>,
        call: u64,
        ret_at: u64,
    ) -> Event<Reg, Option<u8>> {
        Event {
            thread,
            op,
            ret,
            call,
            ret_at,
        }
    }

    #[test]
    fn overlapping_read_may_see_either_value() {
        let h = vec![
            ev(1, Reg::Write(1), None, 0, 3),
            ev(2, Reg::Read, Some(0), 1, 2),
            ev(3, Reg::Read, Some(1), 4, 5),
        ];
        assert!(check(&0, &h, step, |a, b| a == b, false).is_ok());
        let h2 = vec![
            ev(1, Reg::Write(1), None, 0, 3),
            ev(2, Reg::Read, Some(1), 1, 2),
        ];
        assert!(check(&0, &h2, step, |a, b| a == b, false).is_ok());
    }

    #[test]
    fn stale_read_after_write_returned_is_rejected() {
        let h = vec![
            ev(1, Reg::Write(1), None, 0, 1),
            ev(2, Reg::Read, Some(0), 2, 3),
        ];
        let Err(LinError::NotLinearizable(e)) = check(&0, &h, step, |a, b| a == b, false) else {
            panic!("a stale read must be rejected")
        };
        assert_eq!(e.longest_prefix, vec![0]);
        assert_eq!(e.stuck.len(), 1);
        assert!(e.stuck[0].1.contains("the model says Some(1)"), "{e:?}");
    }

    #[test]
    fn all_final_states_are_collected() {
        let h = vec![
            ev(1, Reg::Write(1), None, 0, 3),
            ev(2, Reg::Write(2), None, 1, 2),
        ];
        let mut f = check(&0, &h, step, |a, b| a == b, true).unwrap();
        f.sort();
        assert_eq!(f, vec![1, 2]);
    }

    #[test]
    fn partitions_are_checked_separately() {
        // Two independent registers keyed by the write value's parity.
        let h = vec![
            ev(1, Reg::Write(2), None, 0, 1),
            ev(2, Reg::Write(3), None, 2, 3),
            ev(1, Reg::Read, Some(2), 4, 5),
        ];
        let key = |op: &Reg| match op {
            Reg::Write(v) => Some(u64::from(*v % 2)),
            Reg::Read => Some(0),
        };
        assert!(check_partitioned(&0, &h, key, step, |a, b| a == b).is_ok());
        assert!(check(&0, &h, step, |a, b| a == b, false).is_err());
    }

    #[test]
    fn an_exhausted_budget_is_inconclusive_not_a_bug() {
        // Four overlapping writes and a read of the last value: linearizable, but a budget
        // of one step cannot find the order.
        let mut h: Vec<_> = (0..4u8)
            .map(|v| ev(1 + usize::from(v), Reg::Write(v), None, u64::from(v), 10))
            .collect();
        h.push(ev(5, Reg::Read, Some(0), 11, 12));
        assert!(check(&0, &h, step, |a, b| a == b, false).is_ok());
        match check_with_budget(&0, &h, step, |a, b| a == b, false, 1) {
            Err(LinError::Inconclusive(i)) => assert_eq!((i.steps, i.events), (1, 5)),
            other => panic!("expected Inconclusive, got {other:?}"),
        }
    }

    #[test]
    fn the_longest_prefix_is_a_witness_in_linearization_order() {
        // Write(1) is called after Write(2) but linearizes first (it returns before the
        // read that sees 2); a final read of 7 is impossible. The witness must list the
        // prefix in an order that replays on the model, not in call order.
        let h = vec![
            ev(1, Reg::Write(2), None, 0, 5),
            ev(2, Reg::Write(1), None, 1, 2),
            ev(2, Reg::Read, Some(2), 6, 7),
            ev(1, Reg::Read, Some(7), 8, 9),
        ];
        let Err(LinError::NotLinearizable(e)) = check(&0, &h, step, |a, b| a == b, false) else {
            panic!("reading 7 is impossible")
        };
        assert_eq!(e.longest_prefix, vec![1, 0, 2]);
        let mut m = 0;
        for &i in &e.longest_prefix {
            assert_eq!(step(&mut m, &h[i].op), h[i].ret, "the witness replays");
        }
        assert_eq!(e.model_at_stuck, "2");
        assert_eq!(e.stuck.len(), 1);
    }
}
