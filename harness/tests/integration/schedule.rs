//! The schedule engine (shuttle) must catch each concurrency bug of the toy targets, replay
//! the failure from its recorded byte schedule, and pass the correct flavours.
//! Run with `cargo test -p harness --features shuttle`.
#![cfg(feature = "shuttle")]

use harness::engine::random::Budget;
use harness::engine::schedule::{self, Mode, Options, PriorityFilter, Record, Recording};
use harness::registry::{DynTarget, Engine, Replay, RunError, Schedule};
use harness::report::{unhex, Failure, Repro};
use harness::target::{Scenario, Target};
use harness::targets::toy::counter::{CounterBug, CounterOp, CounterTarget};
use harness::targets::toy::rcu_cell::{RcuBug, RcuCellTarget, RcuOp};
use harness::targets::toy::stack::{StackBug, StackTarget};
use std::sync::{Arc, Mutex};

fn entry<T: Target + Clone>(target: T) -> Schedule<T> {
    Schedule {
        target,
        algo: "toy",
        about: "",
        priority_aware: false,
    }
}

/// Finds the bug with `kind`, then checks the report and that its reproducer fails again
/// through the fuzz entry path with the same title.
fn caught<T: Target + Clone>(buggy: T, kind: Engine, iterations: u64) -> Failure {
    let e = entry(buggy);
    let f = e
        .check(Budget::iterations(iterations), 11, kind)
        .expect_err("the planted bug must be caught")
        .expect_failure();
    assert!(f.schedule.is_some(), "{}", f.render());
    let il = f.interleaving.as_deref().unwrap_or("");
    assert!(
        il.contains("thread ") && il.lines().count() > 2,
        "the interleaving is rendered per thread: {}",
        f.render()
    );
    assert!(
        f.table.is_some() || f.checker != "LINEARIZABILITY",
        "{}",
        f.render()
    );
    let Some(Repro::Input(bytes)) = f.repro.clone() else {
        panic!("no reproducer: {}", f.render())
    };
    // Reproduced, it follows its schedule exactly.
    match e.reproduce_input(&bytes) {
        Err(RunError::Failure(g)) => assert_eq!(g.title(), f.title(), "replay differs"),
        other => panic!(
            "the recorded schedule did not reproduce: {other:?}\n{}",
            f.render()
        ),
    }
    f
}

#[test]
fn random_schedules_catch_the_lost_update() {
    let f = caught(
        CounterTarget::new("counter_sched", CounterBug::LostUpdate),
        Engine::SchedRandom,
        300,
    );
    assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render());
    assert!(f.render().contains("thread 1"), "{}", f.render());
    entry(CounterTarget::new("counter_sched", CounterBug::None))
        .check(Budget::iterations(300), 11, Engine::SchedRandom)
        .expect("the correct counter is linearizable");
}

#[test]
fn pct_catches_the_split_pop() {
    let f = caught(
        StackTarget::new("stack_sched", StackBug::SplitPop),
        Engine::SchedPct,
        500,
    );
    assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render());
    entry(StackTarget::new("stack_sched", StackBug::None))
        .check(Budget::iterations(500), 11, Engine::SchedPct)
        .expect("the correct stack is linearizable");
}

#[test]
fn model_rcu_catches_the_early_free() {
    let f = caught(
        RcuCellTarget::new("rcu_cell_sched", RcuBug::EarlyFree),
        Engine::SchedRandom,
        500,
    );
    // The model RCU quarantined the object and the sanitizer poisoned it as freed: the report
    // is KMSAN's, with the free site (the planted `free_now` in rcu_cell.rs) as origin.
    assert_eq!(f.checker, "KMSAN", "{}", f.render());
    assert_eq!(f.kind, "use-after-free", "{}", f.render());
    assert!(
        f.details.contains("Uninit was created at:"),
        "{}",
        f.render()
    );
    assert!(
        f.details
            .contains("rcu free at harness/src/targets/toy/rcu_cell.rs"),
        "{}",
        f.render()
    );
    assert!(f.details.contains("(free)"), "{}", f.render());
    entry(RcuCellTarget::new("rcu_cell_sched", RcuBug::None))
        .check(Budget::iterations(500), 11, Engine::SchedRandom)
        .expect("correct RCU use passes");
}

#[test]
fn byte_schedules_choose_the_interleaving() {
    let sc = Scenario {
        init: vec![],
        threads: vec![vec![CounterOp::Inc], vec![CounterOp::Inc]],
        post: vec![CounterOp::Get],
        irqs: Vec::new(),
        faults: Vec::new(),
    };
    let t = CounterTarget::new("counter_sched", CounterBug::LostUpdate);
    // Without bytes the scheduler runs each thread to completion: no lost update.
    schedule::check(&t, &sc, None, Mode::Bytes(vec![]), Options::default())
        .expect("serial schedule");
    // Some byte schedule interleaves the two load/store pairs; find it by enumeration.
    let mut found = None;
    'outer: for a in 0..4u8 {
        for b in 0..4u8 {
            for c in 0..4u8 {
                let bytes = vec![a, b, c, a, b, c];
                if let Err(f) = schedule::check(
                    &t,
                    &sc,
                    None,
                    Mode::Bytes(bytes.clone()),
                    Options::default(),
                ) {
                    found = Some((bytes, f));
                    break 'outer;
                }
            }
        }
    }
    let (_, f) = found.expect("some byte schedule loses an update");
    // The recorded schedule replays the failure.
    let rec = unhex(f.schedule.as_deref().expect("schedule")).expect("hex");
    let g = schedule::check(&t, &sc, None, Mode::Bytes(rec.clone()), Options::default())
        .expect_err("replay");
    assert_eq!(g.title(), f.title());
    // The correct counter has no window between load and store: fewer switch points, so
    // the recorded bytes cannot all be followed. A strict replay says so instead of passing
    // on some other interleaving (the input no longer pins what it was recorded for).
    let ok = CounterTarget::new("counter_sched", CounterBug::None);
    let ex = schedule::check(&ok, &sc, None, Mode::Bytes(rec.clone()), Options::default())
        .expect("correct counter");
    let b = ex.bytes.expect("byte stats");
    assert!(!b.followed() && b.consumed < rec.len(), "{b:?}");
}

#[test]
fn rcu_reader_in_section_survives_every_random_schedule() {
    let sc = Scenario {
        init: vec![RcuOp::Write(1)],
        threads: vec![
            vec![RcuOp::Read, RcuOp::Read],
            vec![RcuOp::Write(2), RcuOp::Synchronize, RcuOp::Write(3)],
            vec![RcuOp::Read],
        ],
        post: vec![RcuOp::Read],
        irqs: Vec::new(),
        faults: Vec::new(),
    };
    let t = RcuCellTarget::new("rcu_cell_sched", RcuBug::None);
    let ex = schedule::check(
        &t,
        &sc,
        None,
        Mode::Random {
            seed: 5,
            iterations: 300,
        },
        Options::default(),
    )
    .expect("no reader ever sees a freed object");
    assert_eq!(ex.executions, 300);
    let bad = RcuCellTarget::new("rcu_cell_sched", RcuBug::EarlyFree);
    let f = schedule::check(
        &bad,
        &sc,
        None,
        Mode::Random {
            seed: 5,
            iterations: 300,
        },
        Options::default(),
    )
    .expect_err("caught");
    assert_eq!(
        f.title().split(" in ").next(),
        Some("KMSAN: use-after-free")
    );
}

/// With the priority-aware filter, once the high-priority task has set its priority it runs
/// its steps without the low-priority one in between; without the filter, random schedules
/// interleave them.
#[test]
fn priority_aware_scheduling_prefers_the_best_effective_priority() {
    fn run(priority_aware: bool, seed: u64) -> Vec<Vec<char>> {
        let logs: Arc<Mutex<Vec<Vec<char>>>> = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::new(Mutex::new(Record::default()));
        let random = shuttle::scheduler::RandomScheduler::new_from_seed(seed, 50);
        let inner: Box<dyn shuttle::scheduler::Scheduler + Send> = if priority_aware {
            Box::new(PriorityFilter::new(random))
        } else {
            Box::new(random)
        };
        let sched = Recording::new(inner, record);
        let l2 = logs.clone();
        let mut config = shuttle::Config::new();
        config.silence_warnings = true;
        shuttle::Runner::new(sched, config).run(move || {
            let log = Arc::new(Mutex::new(Vec::new()));
            let mut hs = Vec::new();
            for (name, prio) in [('H', 10), ('L', 130)] {
                let log = log.clone();
                hs.push(shuttle::thread::spawn(move || {
                    algos::sync::task::set_priority(prio);
                    for _ in 0..3 {
                        shuttle::thread::yield_now();
                        log.lock().unwrap().push(name);
                    }
                }));
            }
            for h in hs {
                h.join().unwrap();
            }
            l2.lock().unwrap().push(log.lock().unwrap().clone());
        });
        Arc::try_unwrap(logs).unwrap().into_inner().unwrap()
    }
    let contiguous_h = |log: &Vec<char>| {
        let first = log.iter().position(|&c| c == 'H').unwrap();
        log[first..first + 3].iter().all(|&c| c == 'H')
    };
    assert!(
        run(true, 1).iter().all(contiguous_h),
        "H was preempted by L"
    );
    assert!(
        !run(false, 1).iter().all(contiguous_h),
        "random schedules never interleaved"
    );
}

/// Bytes that run out, and bytes that do not fit, are counted as fallbacks; a strict replay
/// rejects a schedule that did not follow its bytes, a fuzz run accepts it.
#[test]
fn byte_scheduler_counts_its_fallbacks_and_strict_replay_rejects_them() {
    let sc = Scenario {
        init: vec![],
        threads: vec![vec![CounterOp::Inc, CounterOp::Get], vec![CounterOp::Inc]],
        post: vec![CounterOp::Get],
        irqs: Vec::new(),
        faults: Vec::new(),
    };
    let t = CounterTarget::new("counter_sched", CounterBug::None);
    let run = |bytes: Vec<u8>| {
        schedule::check(&t, &sc, None, Mode::Bytes(bytes), Options::default())
            .expect("correct counter")
            .bytes
            .expect("byte stats")
    };
    // No bytes: every choice among several runnable tasks falls back to run-to-completion.
    let none = run(vec![]);
    assert_eq!((none.len, none.consumed, none.misfits), (0, 0, 0));
    assert!(none.exhausted > 0, "{none:?}");
    assert!(
        none.followed(),
        "an empty schedule read to its end is followed"
    );
    // Bytes too large for the runnable set are taken modulo and counted as misfits.
    let big = run(vec![200; 4]);
    assert!(big.misfits > 0 && !big.followed(), "{big:?}");
    // Far more bytes than decisions: some are left unread.
    let long = run(vec![0; 500]);
    assert!(long.consumed < 500 && !long.followed(), "{long:?}");
    // Through the registry: the fuzz path accepts such an input, a reproduction does not,
    // and a regression replay says it diverged and re-checks the scenario under PCT and
    // random schedules (each a full set of executions).
    let e = entry(t.clone());
    let sc_bytes = vec![0u8; 24];
    let input = schedule::join_input(&sc_bytes, &[200; 64]);
    e.run_input(&input).expect("fuzzing accepts any bytes");
    match e.reproduce_input(&input) {
        Err(RunError::Diverged(why)) => assert!(why.contains("diverged"), "{why}"),
        other => panic!("a reproduction must reject fallbacks: {other:?}"),
    }
    let st = e.regress_input(&input).expect("the correct counter passes");
    assert!(st.diverged, "{st:?}");
    assert!(
        st.executions > 2 * harness::registry::REGRESS_SCHEDULES as u64 - 10,
        "{st:?}"
    );
    // A drifted schedule still guards its scenario: the buggy counter's lost update is found
    // by the re-check although the bytes (all misfits) no longer pin any interleaving.
    let bad = entry(CounterTarget::new("counter_sched", CounterBug::LostUpdate));
    let sc = Scenario::new(
        vec![],
        vec![vec![CounterOp::Inc], vec![CounterOp::Inc]],
        vec![CounterOp::Get],
    );
    match bad.replay_typed(&(sc.clone(), vec![200u8; 8]), Replay::Regress) {
        Err(RunError::Failure(f)) => assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render()),
        other => panic!("the re-check must find the lost update: {other:?}"),
    }
    // Without the drift fallback the bytes alone (run to completion) would pass it.
    bad.replay_typed(&(sc, Vec::<u8>::new()), Replay::Fuzz)
        .expect("serial schedule: no lost update");
}

/// Every toy schedule target is deterministic under shuttle's control: each execution,
/// replayed once more by `UncontrolledNondeterminismCheckScheduler`, sees the same runnable
/// sets. A target with nondeterminism shuttle does not control is caught.
#[test]
fn schedules_are_deterministic_under_the_nondeterminism_check() {
    let check = Options {
        priority_aware: false,
        determinism_check: true,
    };
    let counter = Scenario {
        init: vec![CounterOp::Add(3)],
        threads: vec![vec![CounterOp::Inc, CounterOp::Get], vec![CounterOp::Inc]],
        post: vec![CounterOp::Get],
        irqs: Vec::new(),
        faults: Vec::new(),
    };
    let random = Mode::Random {
        seed: 3,
        iterations: 40,
    };
    let ex = schedule::check(
        &CounterTarget::new("counter_sched", CounterBug::None),
        &counter,
        None,
        random.clone(),
        check,
    )
    .expect("the counter is deterministic");
    assert!(ex.executions >= 40, "{ex:?}");
    let rcu = Scenario {
        init: vec![RcuOp::Write(1)],
        threads: vec![vec![RcuOp::Read, RcuOp::Synchronize], vec![RcuOp::Write(2)]],
        post: vec![RcuOp::Read],
        irqs: Vec::new(),
        faults: Vec::new(),
    };
    schedule::check(
        &RcuCellTarget::new("rcu_cell_sched", RcuBug::None),
        &rcu,
        None,
        random.clone(),
        check,
    )
    .expect("the RCU cell (model RCU, quarantine, sanitizer) is deterministic");
    let f = schedule::check(&Flaky, &counter_flaky(), None, random, check)
        .expect_err("uncontrolled nondeterminism is caught");
    assert!(f.render().contains("nondeterminism"), "{}", f.render());
}

/// A target whose number of yields depends on a process-global counter shuttle does not
/// control: replaying an execution takes a different path.
#[derive(Debug, Clone)]
struct Flaky;

static FLAKY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn counter_flaky() -> Scenario<CounterOp> {
    Scenario {
        init: vec![],
        threads: vec![vec![CounterOp::Inc], vec![CounterOp::Inc]],
        post: vec![],
        irqs: Vec::new(),
        faults: Vec::new(),
    }
}

impl Target for Flaky {
    type Op = CounterOp;
    type Ret = ();
    type Model = ();
    type Sut = ();
    fn name(&self) -> &'static str {
        "flaky_sched"
    }
    fn new_sut(&self) {}
    fn new_model(&self) {}
    fn apply(&self, _: &(), _: &CounterOp) {
        if FLAKY.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 3 == 0 {
            shuttle::thread::yield_now();
        }
    }
    fn step(&self, _: &mut (), _: &CounterOp) {}
}

#[test]
fn input_framing_round_trips_and_rejects_bad_headers() {
    let v = schedule::join_input(&[1, 2, 3], &[9, 9]);
    assert_eq!(
        schedule::split_input(&v).unwrap(),
        (&[1u8, 2, 3][..], &[9u8, 9][..])
    );
    assert!(schedule::split_input(&[5]).is_err());
    assert!(schedule::split_input(&[10, 0, 1])
        .unwrap_err()
        .contains("header says 10"));
}

/// Two counters that must be equal at every scheduling point; the `split` flavour updates
/// them one after the other with an interrupt point in between. The check skips the
/// comparison while an update holds the lock unless `peek` (it never blocks either way).
#[derive(Debug, Clone)]
struct Pair {
    split: bool,
    peek: bool,
}

#[derive(Debug, Default)]
struct PairSut {
    a: algos::sync::atomic::AtomicU64,
    b: algos::sync::atomic::AtomicU64,
    lock: algos::sync::Mutex<()>,
}

impl Target for Pair {
    type Op = CounterOp;
    type Ret = Option<u64>;
    type Model = u64;
    type Sut = PairSut;
    fn name(&self) -> &'static str {
        "pair_sched"
    }
    fn new_sut(&self) -> PairSut {
        PairSut::default()
    }
    fn new_model(&self) -> u64 {
        0
    }
    fn apply(&self, s: &PairSut, op: &CounterOp) -> Option<u64> {
        use algos::sync::atomic::Ordering::SeqCst;
        match op {
            CounterOp::Get => Some(s.a.load(SeqCst)),
            _ => {
                let _g = s.lock.lock();
                s.a.fetch_add(1, SeqCst);
                if self.split {
                    algos::sync::cpu::interrupt_point("pair_between");
                }
                s.b.fetch_add(1, SeqCst);
                None
            }
        }
    }
    fn step(&self, m: &mut u64, op: &CounterOp) -> Option<u64> {
        match op {
            CounterOp::Get => Some(*m),
            _ => {
                *m += 1;
                None
            }
        }
    }
    fn check_concurrent(&self, s: &PairSut) -> Result<(), String> {
        use algos::sync::atomic::Ordering::SeqCst;
        // Only consistent when nobody is inside an update: never block here.
        let _g = match s.lock.try_lock() {
            Some(g) => Some(g),
            None if self.peek => None,
            None => return Ok(()),
        };
        let (a, b) = (s.a.load(SeqCst), s.b.load(SeqCst));
        if a == b {
            Ok(())
        } else {
            Err(format!("a = {a}, b = {b}"))
        }
    }
    fn dump(&self, s: &PairSut) -> String {
        use algos::sync::atomic::Ordering::SeqCst;
        format!("a={} b={}", s.a.load(SeqCst), s.b.load(SeqCst))
    }
}

/// `check_concurrent` runs at interrupt points, mid-operation: an invariant broken only
/// inside an operation is caught there (titled with the point), and the dump is attached.
#[test]
fn concurrent_invariants_are_checked_at_every_interrupt_point() {
    let sc = Scenario::new(
        vec![],
        vec![vec![CounterOp::Inc], vec![CounterOp::Inc, CounterOp::Get]],
        vec![CounterOp::Get],
    );
    let random = Mode::Random {
        seed: 1,
        iterations: 20,
    };
    schedule::check(
        &Pair {
            split: false,
            peek: false,
        },
        &sc,
        None,
        random.clone(),
        Options::default(),
    )
    .expect("no point inside the update: the invariant holds everywhere");
    // The split update checks at its own point while it holds the lock: try_lock fails
    // there (the invariant is skipped while the lock is held), so this still passes...
    schedule::check(
        &Pair {
            split: true,
            peek: false,
        },
        &sc,
        None,
        random.clone(),
        Options::default(),
    )
    .expect("the lock hides the intermediate state from the check");
    // ...but a checker that looks without the lock sees it at the interrupt point.
    let peek = Pair {
        split: true,
        peek: true,
    };
    let f = schedule::check(&peek, &sc, None, random, Options::default())
        .expect_err("the split state is visible at the point");
    assert_eq!(
        f.title(),
        "INVARIANT: concurrent invariant broken in pair_between",
        "{}",
        f.render()
    );
    assert!(f.details.contains("state:\na=1 b=0"), "{}", f.render());
}

/// Per-thread interrupt and fault plans: an IRQ delivered on thread 1 inside the lost-update
/// window loses an update with no preemption at all (an empty byte schedule), and the nested
/// operation is in the history.
#[test]
fn scenarios_carry_per_thread_interrupts() {
    let mut sc = Scenario::new(
        vec![],
        vec![vec![CounterOp::Inc], vec![CounterOp::Get]],
        vec![CounterOp::Get],
    );
    sc.irqs.push((
        0,
        harness::target::IrqSpec {
            at: 0,
            kind: harness::target::IrqKind::Irq,
            op: CounterOp::Inc,
        },
    ));
    let bad = CounterTarget::new("counter_sched", CounterBug::LostUpdate);
    let f = schedule::check(&bad, &sc, None, Mode::Bytes(vec![]), Options::default())
        .expect_err("the IRQ's increment is lost");
    assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render());
    let ok = CounterTarget::new("counter_sched", CounterBug::None);
    let ex = schedule::check(&ok, &sc, None, Mode::Bytes(vec![]), Options::default())
        .expect("correct counter");
    // init 0 + thread ops 2 + the nested Inc + post 1.
    assert_eq!(ex.ops, 4, "{ex:?}");
    // An IRQ aimed at thread 2 (which has no interrupt point) is never delivered.
    sc.irqs[0].0 = 1;
    let ex = schedule::check(&ok, &sc, None, Mode::Bytes(vec![]), Options::default())
        .expect("correct counter");
    assert_eq!(ex.ops, 3, "{ex:?}");
}

/// A failing scenario shrinks, under the same mode, to the operations the bug needs: two
/// concurrent increments and the read that sees one of them lost.
#[test]
fn failing_scenarios_are_minimized_under_the_same_mode() {
    let sc = Scenario::new(
        vec![CounterOp::Add(3), CounterOp::Get],
        vec![
            vec![
                CounterOp::Get,
                CounterOp::Inc,
                CounterOp::Add(1),
                CounterOp::Get,
            ],
            vec![CounterOp::Inc, CounterOp::Get, CounterOp::Add(2)],
            vec![CounterOp::Get, CounterOp::Get],
        ],
        vec![CounterOp::Get, CounterOp::Get],
    );
    let t = CounterTarget::new("counter_sched", CounterBug::LostUpdate);
    let mode = Mode::Random {
        seed: 2,
        iterations: 200,
    };
    let f = schedule::check(&t, &sc, None, mode.clone(), Options::default())
        .expect_err("the lost update is found");
    let (small, g) = schedule::minimize(&t, &sc, &mode, Options::default(), f.clone());
    assert_eq!(g.title(), f.title());
    let ops = |s: &Scenario<CounterOp>| {
        s.init.len() + s.post.len() + s.threads.iter().map(Vec::len).sum::<usize>()
    };
    assert!(ops(&small) <= 4, "not minimized: {small:?}");
    assert!(ops(&small) < ops(&sc));
    assert_eq!(small.threads.len(), 2, "{small:?}");
    // The minimized scenario still fails under the same mode.
    let h = schedule::check(&t, &small, None, mode, Options::default()).expect_err("fails");
    assert_eq!(h.title(), f.title());
}

/// PCT over a scenario with no choice to make (one task runnable at every step, as under
/// the priority filter when every task has its own priority) runs its one interleaving and
/// stops; bare PCT asserts on its second execution ("did not exercise any concurrency"),
/// which the engine once reported as a bug found. With choices, PCT explores as before.
#[test]
fn pct_stops_after_the_one_interleaving_of_a_choiceless_scenario() {
    use schedule::OneInterleaving;
    use shuttle::scheduler::PctScheduler;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let sequential = || {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let m = shuttle::sync::Mutex::new(0);
        *m.lock().unwrap() += 1;
    };
    let bare = std::panic::catch_unwind(|| {
        shuttle::Runner::new(PctScheduler::new(3, 10), shuttle::Config::default()).run(sequential)
    });
    assert!(bare.is_err(), "bare PCT asserts on a choiceless test");
    RUNS.store(0, Ordering::SeqCst);
    shuttle::Runner::new(
        OneInterleaving::new(PctScheduler::new(3, 10)),
        shuttle::Config::default(),
    )
    .run(sequential);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1, "one interleaving, run once");
    RUNS.store(0, Ordering::SeqCst);
    shuttle::Runner::new(
        OneInterleaving::new(PctScheduler::new(3, 10)),
        shuttle::Config::default(),
    )
    .run(|| {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let t = shuttle::thread::spawn(shuttle::thread::yield_now);
        shuttle::thread::yield_now();
        t.join().unwrap();
    });
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        10,
        "with choices, every iteration runs"
    );
}
