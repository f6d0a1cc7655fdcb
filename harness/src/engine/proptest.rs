//! The proptest bridge: a state machine whose transitions are operations, with shrinking.
//!
//! No second generator is written: proptest generates one byte chunk per transition and the
//! target's own `Arbitrary` impl decodes each chunk into an operation. Shrinking drops whole
//! transitions and simplifies the bytes of the rest, so a failure shrinks to a short
//! sequence of simple operations. The first chunk is the allocation-failure pattern.
//! The case runs through the sequential engine, so invariants are checked after every step.

use crate::input::{FaultSpec, SeqInput};
use crate::report::{Failure, Repro};
use crate::target::Target;
use arbitrary::{Arbitrary, Unstructured};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Most transitions per case.
pub const MAX_OPS: usize = 48;

/// Builds the sequential input of a case: chunk 0 is the fault pattern, each other chunk one
/// operation (chunks that do not decode are skipped).
pub fn input_from_chunks<T: Target>(chunks: &[Vec<u8>]) -> SeqInput<T::Op> {
    let mut ops = Vec::new();
    for c in chunks.iter().skip(1) {
        if let Ok(op) = T::Op::arbitrary(&mut Unstructured::new(c)) {
            ops.push(op);
        }
    }
    let faults = match chunks.first() {
        Some(p) if p.iter().any(|&b| b != 0) => FaultSpec::Pattern(p.clone()),
        _ => FaultSpec::Never,
    };
    SeqInput {
        ops,
        faults,
        interrupts: Vec::new(),
    }
}

/// What a proptest run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ran {
    /// Cases run.
    pub cases: u64,
    /// Operations applied over every case (shrinking runs excluded).
    pub ops: u64,
}

/// Runs `cases` proptest cases (seeded, so runs are reproducible) and returns the shrunk
/// failure, if any, with its chunks as the reproducer.
pub fn check<T: Target + Clone>(t: &T, cases: u32, seed: u64) -> Result<Ran, Failure> {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut seed32 = [0u8; 32];
    seed32[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed32));
    let fault_chunk = prop_oneof![
        4 => Just(Vec::<u8>::new()),
        1 => vec(any::<u8>(), 1..3),
    ];
    let strategy =
        (fault_chunk, vec(vec(any::<u8>(), 1..10), 0..MAX_OPS)).prop_map(|(f, mut ops)| {
            ops.insert(0, f);
            ops
        });
    let ran = std::sync::Mutex::new(Ran::default());
    let result = runner.run(&strategy, |chunks| {
        let input = input_from_chunks::<T>(&chunks);
        let r = super::sequential::run(t, &input).map_err(|f| TestCaseError::fail(f.title()))?;
        let mut ran = ran.lock().unwrap_or_else(|e| e.into_inner());
        ran.cases += 1;
        ran.ops += r.ops;
        Ok(())
    });
    match result {
        Ok(()) => Ok(ran.into_inner().unwrap_or_else(|e| e.into_inner())),
        Err(TestError::Fail(_, chunks)) => {
            Err(replay(t, &chunks).expect_err("the shrunk case fails again"))
        }
        Err(TestError::Abort(why)) => Err(Failure::new(
            "PROPTEST",
            "aborted",
            t.name(),
            why.to_string(),
        )),
    }
}

/// Replays a proptest case given by its chunks.
pub fn replay<T: Target + Clone>(t: &T, chunks: &[Vec<u8>]) -> Result<(), Failure> {
    let input = input_from_chunks::<T>(chunks);
    super::sequential::run(t, &input)
        .map(|_| ())
        .map_err(|mut f| {
            f.repro = Some(Repro::Chunks(chunks.to_vec()));
            f
        })
}
