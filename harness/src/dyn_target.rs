//! Targets behind one object-safe interface, so the catalogue ([`crate::targets`]), the
//! registry, the fuzz targets, corpus replay and the `mmcheck` command can hold any target
//! by name. The layering is one way: [`crate::target`] (the trait and its inputs) →
//! [`crate::engine`] (generic engines that know no names) → this module (type erasure) →
//! [`crate::targets`] (the catalogue) → [`crate::registry`] (lookup by name).

use crate::engine::random::{Budget, Rng};
use crate::engine::{Engine, TargetKind};
use crate::input::{decode, join_input, split_input, Scenario, SeqInput};
use crate::report::{Failure, Repro};
use crate::target::Target;

/// Why an input did not pass.
#[derive(Debug)]
pub enum RunError {
    /// No registry target has this name: a misnamed fuzz target or test. Never skipped.
    UnknownTarget(String),
    /// The bytes are not an input of this target.
    Decode(String),
    /// This build cannot run the target (a schedule target without the `shuttle` feature),
    /// or the engine does not apply to it.
    Unavailable(String),
    /// A reproduction ([`Replay::Reproduce`]) of a recorded schedule did not follow it (see
    /// [`ByteStats::followed`](crate::engine::schedule::ByteStats)): the input no longer pins
    /// the interleaving it was recorded with.
    Diverged(String),
    /// A bug.
    Failure(Box<Failure>),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::UnknownTarget(e)
            | RunError::Decode(e)
            | RunError::Unavailable(e)
            | RunError::Diverged(e) => f.write_str(e),
            RunError::Failure(fl) => f.write_str(&fl.render()),
        }
    }
}

impl RunError {
    /// The failure, or a panic with what happened instead (for tests that expect a bug).
    pub fn expect_failure(self) -> Failure {
        match self {
            RunError::Failure(f) => *f,
            e => panic!("expected a failure, got: {e}"),
        }
    }
}

impl From<Failure> for RunError {
    fn from(f: Failure) -> Self {
        RunError::Failure(Box::new(f))
    }
}

/// What a budgeted check did. Every count is of work done, not of loop turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// Inputs generated (sequential inputs, scenarios, or proptest cases).
    pub inputs: u64,
    /// Inputs that decoded and ran.
    pub decoded: u64,
    /// Operations applied to the structure, over every input and execution (nested
    /// interrupt operations included).
    pub ops: u64,
    /// Executions: one per sequential input or proptest case; one per schedule explored.
    pub executions: u64,
    /// Executions whose history the linearizability search could not decide in its budget.
    pub inconclusive: u64,
}

/// How a schedule input's byte schedule is treated (sequential inputs have none).
///
/// A recorded failure's schedule stops where the failure happened, and a fix almost always
/// changes where threads switch, so after the fix the recorded interleaving no longer
/// exists. Reproducing a failure must follow its schedule exactly or say it could not; a
/// regression test must keep guarding the scenario whatever became of the interleaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Fuzzing: any bytes are a valid schedule (modulo, then run to completion).
    Fuzz,
    /// Reproducing a recorded failure: a schedule that is not followed (a byte that no longer
    /// fits, bytes left unread) is [`RunError::Diverged`], never a silent pass.
    Reproduce,
    /// A regression input (`regress-*` corpus files, generated tests): the recorded schedule
    /// is replayed, and if it was not followed the scenario is also checked under
    /// [`REGRESS_SCHEDULES`] PCT and random schedules, so a drifted schedule still guards
    /// its scenario ([`InputStats::diverged`] says it drifted).
    Regress,
}

/// Executions of each of PCT and the random scheduler that a diverged regression schedule
/// is re-checked under.
pub const REGRESS_SCHEDULES: usize = 100;

/// What one input did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputStats {
    /// A regression schedule was not followed and the scenario was re-checked under PCT and
    /// random schedules instead.
    pub diverged: bool,
    /// Operations applied to the structure.
    pub ops: u64,
    /// Executions run.
    pub executions: u64,
    /// Executions without a linearizability verdict.
    pub inconclusive: u64,
}

/// A registered target, type-erased.
pub trait DynTarget: Send + Sync {
    /// Its name: the fuzz target, the corpus directory and the CLI all use it.
    fn name(&self) -> &'static str;
    /// The algorithm it checks: the `mutants/<algo>/` directory whose planted bugs it must
    /// catch (`toy`, `shadow`, `maple`, ...).
    fn algo(&self) -> &'static str;
    /// One line about what it checks.
    fn about(&self) -> &'static str;
    /// The engine its fuzz input drives.
    fn kind(&self) -> TargetKind;
    /// Runs one input, its schedule (if any) treated as `how` says.
    fn run_input_stats(&self, data: &[u8], how: Replay) -> Result<InputStats, RunError>;
    /// Runs one fuzz input through exactly the path the fuzz target uses.
    fn run_input(&self, data: &[u8]) -> Result<(), RunError> {
        self.run_input_stats(data, Replay::Fuzz).map(|_| ())
    }
    /// Reproduces a recorded failure ([`Replay::Reproduce`]).
    fn reproduce_input(&self, data: &[u8]) -> Result<(), RunError> {
        self.run_input_stats(data, Replay::Reproduce).map(|_| ())
    }
    /// Replays a regression input ([`Replay::Regress`]).
    fn regress_input(&self, data: &[u8]) -> Result<InputStats, RunError> {
        self.run_input_stats(data, Replay::Regress)
    }
    /// Runs a typed input: a `SeqInput<Op>` for a sequential target, a `(Scenario<Op>,
    /// Vec<u8>)` (scenario, schedule bytes) for a schedule target; another type is
    /// [`RunError::Decode`].
    fn replay_typed(&self, input: &dyn std::any::Any, how: Replay) -> Result<(), RunError>;
    /// One PRNG-generated input in this target's framing (a seed, or a budgeted check's input).
    fn generate(&self, rng: &mut Rng) -> Vec<u8>;
    /// A fuzz input as typed Rust, whether or not it fails: the `use` lines and the
    /// expression [`crate::registry::expect_pass_typed`] takes (the form of
    /// [`Failure::typed`]). An input that does not decode is an error.
    fn typed_input(&self, data: &[u8]) -> Result<(String, String), String>;
    /// Runs generated inputs with `engine` within `budget`. An engine that does not apply
    /// to this target, or a build that cannot run it, is [`RunError::Unavailable`].
    fn check(&self, budget: Budget, seed: u64, engine: Engine) -> Result<CheckStats, RunError>;
    /// Replays a proptest case (its op chunks).
    fn proptest_replay(&self, chunks: &[Vec<u8>]) -> Result<(), Failure>;
}

fn out_of_time(start: std::time::Instant, budget: &Budget) -> bool {
    budget.time.is_some_and(|t| start.elapsed() >= t)
}

/// The loop every PRNG engine shares: generate, run, count what ran. Stops at the budget's
/// iterations of *decoded* inputs or its time; gives up with [`RunError::Decode`] when the
/// generator's inputs do not decode (so a broken decoder can neither loop forever nor pass).
fn budget_loop(
    budget: Budget,
    seed: u64,
    mut generate: impl FnMut(&mut Rng) -> Vec<u8>,
    mut run: impl FnMut(&[u8], &mut Rng) -> Result<InputStats, RunError>,
) -> Result<CheckStats, RunError> {
    let start = std::time::Instant::now();
    let mut rng = Rng::new(seed);
    let mut stats = CheckStats::default();
    let max_attempts = budget.iterations.saturating_mul(16).max(64);
    while stats.decoded < budget.iterations && !out_of_time(start, &budget) {
        if stats.inputs >= max_attempts {
            break;
        }
        let data = generate(&mut rng);
        stats.inputs += 1;
        match run(&data, &mut rng) {
            Ok(s) => {
                stats.decoded += 1;
                stats.ops += s.ops;
                stats.executions += s.executions;
                stats.inconclusive += s.inconclusive;
            }
            Err(RunError::Decode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if stats.decoded == 0 && stats.inputs > 0 {
        return Err(RunError::Decode(format!(
            "none of {} generated inputs decoded: the target's decoder rejects everything",
            stats.inputs
        )));
    }
    Ok(stats)
}

fn proptest_check<T: Target + Clone>(
    t: &T,
    budget: Budget,
    seed: u64,
) -> Result<CheckStats, RunError> {
    let cases = u32::try_from(budget.iterations).map_err(|_| {
        RunError::Unavailable(format!(
            "{} is too many proptest cases (at most {})",
            budget.iterations,
            u32::MAX
        ))
    })?;
    let ran = crate::engine::proptest::check(t, cases, seed)?;
    Ok(CheckStats {
        inputs: u64::from(cases),
        decoded: u64::from(cases),
        ops: ran.ops,
        executions: ran.cases,
        inconclusive: 0,
    })
}

fn not_for(name: &str, kind: TargetKind, engine: Engine) -> RunError {
    RunError::Unavailable(format!(
        "engine `{engine}` does not run {} targets like `{name}`",
        kind.as_str()
    ))
}

/// A target checked by the sequential engine.
pub struct Sequential<T> {
    /// The target.
    pub target: T,
    /// The algorithm (`mutants/<algo>/`).
    pub algo: &'static str,
    /// One line about it.
    pub about: &'static str,
}

impl<T: Target + Clone> DynTarget for Sequential<T> {
    fn name(&self) -> &'static str {
        self.target.name()
    }
    fn algo(&self) -> &'static str {
        self.algo
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn kind(&self) -> TargetKind {
        TargetKind::Sequential
    }
    fn run_input_stats(&self, data: &[u8], _: Replay) -> Result<InputStats, RunError> {
        let input: SeqInput<T::Op> = decode(data).map_err(RunError::Decode)?;
        let ran = crate::engine::sequential::run(&self.target, &input).map_err(|mut f| {
            f.repro = Some(Repro::Input(data.to_vec()));
            f.typed = Some((
                crate::input::typed_imports::<T::Op>(),
                crate::input::typed_seq(&input),
            ));
            RunError::Failure(Box::new(f))
        })?;
        Ok(InputStats {
            diverged: false,
            ops: ran.ops,
            executions: 1,
            inconclusive: u64::from(ran.inconclusive),
        })
    }
    fn replay_typed(&self, input: &dyn std::any::Any, _: Replay) -> Result<(), RunError> {
        let input = input.downcast_ref::<SeqInput<T::Op>>().ok_or_else(|| {
            RunError::Decode(format!(
                "`{}` takes a SeqInput<{}>",
                self.name(),
                std::any::type_name::<T::Op>()
            ))
        })?;
        crate::engine::sequential::run(&self.target, input)
            .map(|_| ())
            .map_err(RunError::from)
    }
    fn typed_input(&self, data: &[u8]) -> Result<(String, String), String> {
        let input: SeqInput<T::Op> = decode(data)?;
        Ok((
            crate::input::typed_imports::<T::Op>(),
            crate::input::typed_seq(&input),
        ))
    }
    fn generate(&self, rng: &mut Rng) -> Vec<u8> {
        let len = 8 + rng.below(256) as usize;
        rng.bytes(len)
    }
    fn check(&self, budget: Budget, seed: u64, engine: Engine) -> Result<CheckStats, RunError> {
        match engine {
            Engine::SeqRandom => budget_loop(
                budget,
                seed,
                |rng| self.generate(rng),
                |data, _| self.run_input_stats(data, Replay::Fuzz),
            ),
            Engine::Proptest => proptest_check(&self.target, budget, seed),
            e => Err(not_for(self.name(), self.kind(), e)),
        }
    }
    fn proptest_replay(&self, chunks: &[Vec<u8>]) -> Result<(), Failure> {
        crate::engine::proptest::replay(&self.target, chunks)
    }
}

/// A target checked by the schedule engine (concurrent scenarios under shuttle).
pub struct Schedule<T> {
    /// The target.
    pub target: T,
    /// The algorithm (`mutants/<algo>/`).
    pub algo: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// Let only the best-priority runnable tasks run (for the PREEMPT_RT locks).
    pub priority_aware: bool,
}

impl<T: Target + Clone> Schedule<T> {
    #[cfg(mmcheck_shuttle)]
    fn run_mode(
        &self,
        sc: &Scenario<T::Op>,
        sc_bytes: &[u8],
        mode: crate::engine::schedule::Mode,
    ) -> Result<crate::engine::schedule::Explored, RunError> {
        use crate::engine::schedule::{self, Options};
        schedule::check(
            &self.target,
            sc,
            Some(sc_bytes),
            mode,
            Options::priority(self.priority_aware),
        )
        .map_err(RunError::from)
    }
}

impl<T: Target + Clone> DynTarget for Schedule<T> {
    fn name(&self) -> &'static str {
        self.target.name()
    }
    fn algo(&self) -> &'static str {
        self.algo
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn kind(&self) -> TargetKind {
        TargetKind::Schedule
    }
    #[cfg(mmcheck_shuttle)]
    fn run_input_stats(&self, data: &[u8], how: Replay) -> Result<InputStats, RunError> {
        let (sc_bytes, sched) = split_input(data).map_err(RunError::Decode)?;
        let sc: Scenario<T::Op> = decode(sc_bytes).map_err(RunError::Decode)?;
        self.replay_scenario(&sc, Some(sc_bytes), sched, how)
    }
    #[cfg(not(mmcheck_shuttle))]
    fn run_input_stats(&self, data: &[u8], _: Replay) -> Result<InputStats, RunError> {
        // Validate the framing so a corrupt file is still reported as such.
        let (sc_bytes, _) = split_input(data).map_err(RunError::Decode)?;
        let _: Scenario<T::Op> = decode(sc_bytes).map_err(RunError::Decode)?;
        Err(RunError::Unavailable(format!(
            "target `{}` runs on the schedule engine: build with `--features shuttle`",
            self.name()
        )))
    }
    #[cfg(mmcheck_shuttle)]
    fn replay_typed(&self, input: &dyn std::any::Any, how: Replay) -> Result<(), RunError> {
        let (sc, sched) = input
            .downcast_ref::<(Scenario<T::Op>, Vec<u8>)>()
            .ok_or_else(|| {
                RunError::Decode(format!(
                    "`{}` takes a (Scenario<{}>, Vec<u8>)",
                    self.name(),
                    std::any::type_name::<T::Op>()
                ))
            })?;
        self.replay_scenario(sc, None, sched, how).map(|_| ())
    }
    #[cfg(not(mmcheck_shuttle))]
    fn replay_typed(&self, _: &dyn std::any::Any, _: Replay) -> Result<(), RunError> {
        Err(RunError::Unavailable(format!(
            "target `{}` runs on the schedule engine: build with `--features shuttle`",
            self.name()
        )))
    }
    fn typed_input(&self, data: &[u8]) -> Result<(String, String), String> {
        let (sc_bytes, sched) = split_input(data)?;
        let sc: Scenario<T::Op> = decode(sc_bytes)?;
        Ok((
            crate::input::typed_imports::<T::Op>(),
            crate::input::typed_schedule_input(&sc, sched),
        ))
    }
    fn generate(&self, rng: &mut Rng) -> Vec<u8> {
        let sc_len = 16 + rng.below(64) as usize;
        let sc = rng.bytes(sc_len);
        let sched_len = rng.below(48) as usize;
        let sched = rng.bytes(sched_len);
        join_input(&sc, &sched)
    }
    fn check(&self, budget: Budget, seed: u64, engine: Engine) -> Result<CheckStats, RunError> {
        match engine {
            Engine::Proptest => proptest_check(&self.target, budget, seed),
            Engine::SchedRandom | Engine::SchedPct => self.check_schedules(budget, seed, engine),
            e => Err(not_for(self.name(), self.kind(), e)),
        }
    }
    fn proptest_replay(&self, chunks: &[Vec<u8>]) -> Result<(), Failure> {
        crate::engine::proptest::replay(&self.target, chunks)
    }
}

impl<T: Target + Clone> Schedule<T> {
    /// Runs `sc` under the byte schedule `sched`, treated as `how` says.
    #[cfg(mmcheck_shuttle)]
    fn replay_scenario(
        &self,
        sc: &Scenario<T::Op>,
        sc_bytes: Option<&[u8]>,
        sched: &[u8],
        how: Replay,
    ) -> Result<InputStats, RunError> {
        use crate::engine::schedule::{self, Mode, Options};
        let opts = Options::priority(self.priority_aware);
        let run = |mode| schedule::check(&self.target, sc, sc_bytes, mode, opts);
        let ex = run(Mode::Bytes(sched.to_vec()))?;
        let mut stats = InputStats {
            diverged: false,
            ops: ex.ops,
            executions: ex.executions as u64,
            inconclusive: ex.inconclusive as u64,
        };
        let Some(b) = ex.bytes.filter(|b| !b.followed()) else {
            return Ok(stats);
        };
        match how {
            Replay::Fuzz => Ok(stats),
            Replay::Reproduce => Err(RunError::Diverged(format!(
                "`{}`: {}",
                self.name(),
                b.divergence()
            ))),
            Replay::Regress => {
                stats.diverged = true;
                // The seed is fixed by the scenario, so the re-check is reproducible.
                let seed = crate::report::fnv1a(format!("{sc:?}").as_bytes());
                for mode in [
                    Mode::Pct {
                        seed,
                        depth: 3,
                        iterations: REGRESS_SCHEDULES,
                    },
                    Mode::Random {
                        seed,
                        iterations: REGRESS_SCHEDULES,
                    },
                ] {
                    let ex = run(mode)?;
                    stats.ops += ex.ops;
                    stats.executions += ex.executions as u64;
                    stats.inconclusive += ex.inconclusive as u64;
                }
                Ok(stats)
            }
        }
    }

    /// The failure of a PRNG-chosen schedule, with its scenario minimized under the same
    /// mode ([`crate::engine::schedule::minimize`]). The byte reproducer still replays the
    /// original scenario (bytes cannot be re-encoded); the decoded input, table, interleaving
    /// and typed test are the minimized scenario's.
    #[cfg(mmcheck_shuttle)]
    fn minimized(
        &self,
        sc: &Scenario<T::Op>,
        mode: &crate::engine::schedule::Mode,
        f: Failure,
    ) -> Failure {
        use crate::engine::schedule::{minimize, Options};
        let original = f.repro.clone();
        let before = sc.threads.iter().map(Vec::len).sum::<usize>() + sc.init.len() + sc.post.len();
        let (small, mut g) = minimize(
            &self.target,
            sc,
            mode,
            Options::priority(self.priority_aware),
            f,
        );
        let after =
            small.threads.iter().map(Vec::len).sum::<usize>() + small.init.len() + small.post.len();
        g.repro = original;
        g.details = format!(
            "{}\n  (scenario minimized from {before} to {after} operations under the same schedule mode; the byte reproducer replays the original)",
            g.details.trim_end()
        );
        g
    }

    #[cfg(mmcheck_shuttle)]
    fn check_schedules(
        &self,
        budget: Budget,
        seed: u64,
        engine: Engine,
    ) -> Result<CheckStats, RunError> {
        use crate::engine::schedule::Mode;
        budget_loop(
            budget,
            seed,
            |rng| {
                let len = 16 + rng.below(64) as usize;
                rng.bytes(len)
            },
            |bytes, rng| {
                let sc: Scenario<T::Op> = decode(bytes).map_err(RunError::Decode)?;
                let seed = rng.next_u64();
                let mode = if engine == Engine::SchedPct {
                    Mode::Pct {
                        seed,
                        depth: 3,
                        iterations: 50,
                    }
                } else {
                    Mode::Random {
                        seed,
                        iterations: 50,
                    }
                };
                let ex = match self.run_mode(&sc, bytes, mode.clone()) {
                    Err(RunError::Failure(f)) => {
                        return Err(RunError::Failure(Box::new(self.minimized(&sc, &mode, *f))))
                    }
                    r => r?,
                };
                Ok(InputStats {
                    diverged: false,
                    ops: ex.ops,
                    executions: ex.executions as u64,
                    inconclusive: ex.inconclusive as u64,
                })
            },
        )
    }
    #[cfg(not(mmcheck_shuttle))]
    fn check_schedules(&self, _: Budget, _: u64, _: Engine) -> Result<CheckStats, RunError> {
        Err(RunError::Unavailable(format!(
            "target `{}` runs on the schedule engine: this build has no shuttle backend (build with `--features shuttle`)",
            self.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoder_that_rejects_everything_is_an_error_not_a_pass_or_a_hang() {
        let mut runs = 0;
        let r = budget_loop(
            Budget::iterations(10),
            1,
            |rng| rng.bytes(4),
            |_, _| {
                runs += 1;
                Err(RunError::Decode("never".into()))
            },
        );
        match r {
            Err(RunError::Decode(e)) => assert!(e.contains("none of 160"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(runs, 160, "bounded: 16 attempts per wanted input");
    }

    #[test]
    fn budgets_count_decoded_inputs_and_operations() {
        let mut n = 0u64;
        let stats = budget_loop(
            Budget::iterations(5),
            1,
            |rng| rng.bytes(4),
            |_, _| {
                n += 1;
                if n % 2 == 0 {
                    return Err(RunError::Decode("odd".into()));
                }
                Ok(InputStats {
                    diverged: false,
                    ops: 3,
                    executions: 1,
                    inconclusive: 0,
                })
            },
        )
        .expect("passes");
        assert_eq!(
            (stats.inputs, stats.decoded, stats.ops, stats.executions),
            (9, 5, 15, 5)
        );
    }
}
