//! The `shadow_ops` target: the sanitizer agrees with its byte-array model.

use harness::engine::random::Budget;
use harness::registry::{self, Engine};

#[test]
fn shadow_ops_agrees_with_the_model_on_random_sequences() {
    let t = registry::find("shadow_ops").expect("registered");
    let stats = t
        .check(Budget::iterations(3_000), 42, Engine::SeqRandom)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.decoded, 3_000);
    assert!(stats.ops > 10 * stats.decoded, "{stats:?}");
}

#[test]
fn shadow_ops_proptest() {
    let t = registry::find("shadow_ops").expect("registered");
    let stats = t
        .check(Budget::iterations(300), 9, Engine::Proptest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.executions, 300);
}
