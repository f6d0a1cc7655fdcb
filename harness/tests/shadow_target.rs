//! The `shadow_ops` target: the sanitizer agrees with its byte-array model.

use harness::engine::random::Budget;
use harness::registry::{self, ScheduleKind};

#[test]
fn shadow_ops_agrees_with_the_model_on_random_sequences() {
    let t = registry::find("shadow_ops").expect("registered");
    let stats = t
        .check(Budget::iterations(3_000), 42, ScheduleKind::Random)
        .unwrap_or_else(|f| panic!("{}", f.render()));
    assert_eq!(stats.inputs, 3_000);
}

#[test]
fn shadow_ops_proptest() {
    let t = registry::find("shadow_ops").expect("registered");
    t.proptest(300, 9)
        .unwrap_or_else(|f| panic!("{}", f.render()));
}
