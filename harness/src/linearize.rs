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
    /// The thread that ran it (0 for init/post operations run alone).
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
    /// Indexes (into the checked events) of the longest prefix the search could linearize.
    pub longest_prefix: Vec<usize>,
    /// The operations that could come next after that prefix, each with the result the model
    /// gives there: none of them matches what the structure returned.
    pub stuck: Vec<(usize, String)>,
    /// The model state after the longest prefix.
    pub model_at_stuck: String,
    /// The partition key that failed, if the history was partitioned.
    pub partition: Option<u64>,
}

/// Bound on the size of one (partition of a) history.
pub const MAX_EVENTS: usize = 128;

struct Search<'a, M, Op, Ret, S, E> {
    events: &'a [Event<Op, Ret>],
    step: &'a S,
    eq: &'a E,
    all: u128,
    seen: HashSet<(u128, M)>,
    finals: Vec<M>,
    want_all: bool,
    best: (u32, u128, Option<M>),
    budget: u64,
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
        let depth = done.count_ones();
        if depth > self.best.0 || self.best.2.is_none() {
            self.best = (depth, done, Some(model.clone()));
        }
        if self.budget == 0 {
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
            if self.dfs(done | bit, key.1) {
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
/// operations ambiguous); otherwise the search stops at the first linearization.
pub fn check<M, Op, Ret>(
    init: &M,
    events: &[Event<Op, Ret>],
    step: impl Fn(&mut M, &Op) -> Ret,
    eq: impl Fn(&Ret, &Ret) -> bool,
    want_all: bool,
) -> Result<Finals<M>, NotLinearizable>
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
        best: (0, 0, None),
        budget: 2_000_000,
    };
    s.dfs(0, init.clone());
    if !s.finals.is_empty() {
        return Ok(s.finals);
    }
    let (_, done, model) = s.best;
    let model = model.unwrap_or_else(|| init.clone());
    // Reconstruct an order for the prefix: by call time is a valid witness only if the
    // search found it, so re-run a cheap greedy replay of the recorded set in call order.
    let mut prefix: Vec<usize> = (0..events.len())
        .filter(|i| done & (1u128 << i) != 0)
        .collect();
    prefix.sort_by_key(|&i| events[i].call);
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
    Err(NotLinearizable {
        longest_prefix: prefix,
        stuck,
        model_at_stuck: format!("{model:?}"),
        partition: None,
    })
}

/// Checks a history, splitting it by `partition` when every operation has a key. Returns
/// the failing partition's indexes mapped back to the full history.
pub fn check_partitioned<M, Op, Ret>(
    init: &M,
    events: &[Event<Op, Ret>],
    partition: impl Fn(&Op) -> Option<u64>,
    step: impl Fn(&mut M, &Op) -> Ret,
    eq: impl Fn(&Ret, &Ret) -> bool,
) -> Result<(), NotLinearizable>
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
        if let Err(mut e) = check(init, &sub, &step, &eq, false) {
            e.longest_prefix = e.longest_prefix.iter().map(|&i| idx[i]).collect();
            e.stuck = e.stuck.into_iter().map(|(i, s)| (idx[i], s)).collect();
            e.partition = Some(k);
            return Err(e);
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
        let e = check(&0, &h, step, |a, b| a == b, false).unwrap_err();
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
}
