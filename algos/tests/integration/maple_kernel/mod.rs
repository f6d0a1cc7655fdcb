//! The port of the kernel's lib/test_maple_tree.c (the version that carries `mas.status`,
//! i.e. after the 2023 `mas_empty_area` fixes: the reverse allocation helper passes its
//! maximum unchanged), run against `algos::maple::MapleTree` and against the reference
//! model `algos::maple::model::RangeModel` — as the kernel builds the one test file both
//! into the module and into the userspace radix-tree harness (tools/testing/radix-tree/
//! maple.c includes it).
//!
//! * [`shared`]: the sequences that use only the external API, written once over
//!   [`api::RangeApi`]; each runs as `<kernel name>::tree` and `<kernel name>::model`.
//!   Checks of the tree's internals (height, `mt_validate`, RCU mode, cursor steps) stay in
//!   place and are skipped for the model.
//! * [`tree`]: the sequences that drive a `MaState` cursor through its states and nodes, on
//!   the tree only.
//! * [`fuzzer`]: the kernel's crash-only sequences, tree and model in lockstep.
//!
//! Each test is named after the kernel function it ports and uses the kernel's numbers.
//! Conventions of the port:
//!
//! * `xa_mk_value(v)` is stored as `v`; pointers the kernel stores (`&x`, `(void *)0x1d`, ...)
//!   become distinct `u64` tags.
//! * `XA_ZERO_ENTRY` has no counterpart in either API. Where the kernel stores it, the
//!   sentinel [`api::ZERO`] is stored instead, an ordinary value to both. The advanced API
//!   (`mas_find` & co.) hands the reserved entry back, so `mas_*` loops expect
//!   [`api::ZERO`]; `mt_find` filters it, which [`api::mt_find`] emulates over both.
//! * Assertions on internals the API does not expose (`mas.node` identity, `mas.status`,
//!   node counts, `mt_dump`) are left out, each with a comment saying so.
//! * Where the kernel writes `mas.index`/`mas.last`/`mas.status` directly, the port uses
//!   `set`/`set_range`, and a comment explains why that is equivalent for the call that
//!   follows.
//! * `mt_validate` becomes `validate()`, a no-op on the model. Checks the kernel does not
//!   make are marked as additions.
//!
//! Needs `algos`' `model` feature, as the whole `integration` binary does (`cargo test -p
//! algos --features model --test integration maple_kernel::`; the workspace run gets it from
//! the harness's dependency on `algos`).
// Plain std runs only: under loom or shuttle the tree's atomics need a model execution.
#![cfg(not(any(mmcheck_loom, feature = "shuttle")))]

mod api;
mod fuzzer;
mod shared;
mod tree;

/// One module per shared sequence, with a test against each implementation.
macro_rules! tree_and_model {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::api::{Model, Tree};

            #[test]
            fn tree() {
                super::shared::$name::<Tree>();
            }

            #[test]
            fn model() {
                super::shared::$name::<Model>();
            }
        }
    )*};
}

tree_and_model!(
    check_ranges,
    check_seq,
    check_rev_seq,
    check_lower_bound_split,
    check_upper_bound_split,
    check_mid_split,
    maple_tree_seed_inserts,
    check_find,
    check_find_2,
    check_root_expand,
    check_gap_combining,
    check_empty_area_window,
    check_alloc_range,
    check_alloc_rev_range,
    find_edges,
    store_and_insert_edges,
    alloc_argument_checks,
);
