#!/usr/bin/env bash
# The whole test suite of mmcheck (the README's test command). Installs what it needs itself.
# Stages print their wall time. Set MMCHECK_MUTANTS=1 to also run `mmcheck mutants`.
# Set MMCHECK_FUZZ_SECS to change the fuzz smoke budget (default 120 s over all targets).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

declare -a SUMMARY=()
stage() {
  local name=$1; shift
  echo
  echo "=== stage: $name"
  local start=$SECONDS
  "$@"
  local took=$((SECONDS - start))
  echo "=== stage: $name: ok (${took}s)"
  SUMMARY+=("$(printf '%-34s %5ss' "$name" "$took")")
}

fmt() {
  cargo fmt --all --check
  cargo fmt --manifest-path fuzz/Cargo.toml --check
}

clippy() {
  cargo clippy --workspace --all-targets -- -D warnings
  CARGO_TARGET_DIR=target/shuttle cargo clippy -p algos -p harness --all-targets --features shuttle -- -D warnings
}

facade() {
  # Algorithm code reaches threads, atomics and locks only through algos::sync. clippy's
  # disallowed_types (algos/clippy.toml) catch std's Mutex/RwLock/Condvar on every build;
  # this grep catches the rest on one line: std::sync, std::thread, core::sync, grouped
  # `use std::{.., sync, ..}` imports, parking_lot and crossbeam. (The toy structures in
  # harness/src/targets/ use algos::sync for their code under test; their harness plumbing
  # may use std.)
  local bad
  bad=$(grep -rnE 'std::(sync|thread)|core::sync|use (std|core)::\{[^}]*\b(sync|thread)\b|parking_lot|crossbeam' \
        algos/src --include='*.rs' | grep -v '^algos/src/sync/' || true)
  if [ -n "$bad" ]; then
    echo "algorithm code bypasses algos::sync:"; echo "$bad"; return 1
  fi
}

unit() {
  # Schedule-target corpora are replayed by the shuttle stage below. `algos/model` is named
  # although the harness already turns it on: the port of lib/test_maple_tree.c
  # (algos/tests/integration/maple_kernel) requires it and must not drop out silently.
  cargo test --workspace --features algos/model
  # The CPU claim's other protocol (compare-and-swap; the default is the biased one):
  # the platform layer's and the allocator's tests once more under it.
  MMCHECK_CPU_CLAIM=cas cargo test -p algos --lib -- sync:: percpu::
  # The benches' smoke runs: small structures, every workload once, the peers' answers
  # cross-checked against the structure under test (no timing).
  cargo test --workspace --bench '*'
}

shuttle_tests() {
  CARGO_TARGET_DIR=target/shuttle cargo test -p algos -p harness --features shuttle
}

loom_suite() {
  RUSTFLAGS="--cfg mmcheck_loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2} \
    cargo test -p loom-tests --release
}

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found: installing it (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
  fi
}

fuzz_smoke() {
  ensure_cargo_fuzz
  # The main job, on a small budget: every target, crashes saved under crashes/.
  cargo run --release -q -p harness --bin mmcheck -- campaign --time "${MMCHECK_FUZZ_SECS:-120}"
}

cflite() {
  # Always: the ClusterFuzzLite/OSS-Fuzz scripts parse, and the `*_sched` naming build.sh
  # relies on to pick `--features shuttle` agrees with the registry's kinds.
  bash -n .clusterfuzzlite/build.sh
  bash -n ci/cflite_check.sh
  cargo run --release -q -p harness --bin mmcheck -- list | awk 'NR > 1 { print $1, $2 }' |
    while read -r t kind; do
      case "$t" in
        *_sched) want=schedule ;;
        *) want=sequential ;;
      esac
      if [ "$kind" != "$want" ]; then
        echo "target $t is $kind but build.sh would build it as $want"
        return 1
      fi
    done
  # The full simulation (build.sh run as the builder runs it, every binary and seed archive
  # checked, each binary run on a seed) is two cold builds of every target, too long for this
  # budget: MMCHECK_CFLITE=1 runs it (`ci/cflite_check.sh none|address` by hand).
  if [ "${MMCHECK_CFLITE:-0}" = 1 ]; then
    ensure_cargo_fuzz
    bash ci/cflite_check.sh none
  else
    echo "SKIP: the full ClusterFuzzLite build simulation (MMCHECK_CFLITE=1 runs it)"
  fi
}

campaign_check() {
  ci/campaign_check.sh
}

miri() {
  if ! rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1; then
    echo "SKIP: Miri: cannot install the nightly miri component here"
    return 0
  fi
  # Tree Borrows and ignored leaks: crossbeam-epoch (the production RCU) is checked by its own
  # authors under the same flags; its global collector deliberately outlives the process.
  CARGO_TARGET_DIR=target/miri MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks" \
    cargo +nightly miri test -p algos --lib -- --skip maple::tests --skip percpu:: --skip mglru::sim::
  # The maple tree's node and entry pointers: one short run of every kind and mode (the
  # native sweeps take hours under Miri), and the value entries (integers kept in slot
  # words) next to boxed entries of several types.
  CARGO_TARGET_DIR=target/miri MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks" \
    cargo +nightly miri test -p algos --lib -- maple::tests::miri_smoke \
    maple::tests::value_entries_and_boxed_entries_round_trip
  # The BPF allocator's raw object handling (headers, links, hints, fresh and recycled
  # objects, a foreign pointer refused): the small tests only (the selftest ports move
  # hundreds of thousands of objects). Its addresses are integers, as the kernel's are:
  # permissive provenance.
  CARGO_TARGET_DIR=target/miri MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks -Zmiri-permissive-provenance" \
    cargo +nightly miri test -p algos --lib -- percpu::tests::init_rules_and_size_limits \
    percpu::tests::fresh_objects_are_zero_and_recycled_ones_keep_their_contents \
    percpu::tests::a_foreign_object_is_refused
  # The sanitizer's one unsafe block (the shadow pointer of `Sandbox::window`), under both
  # aliasing models.
  CARGO_TARGET_DIR=target/miri MIRIFLAGS="-Zmiri-ignore-leaks" \
    cargo +nightly miri test -p shadow --test integration window::
}

mutants() {
  cargo run --release -q -p harness --bin mmcheck -- mutants
}

tools() {
  # Stable's clippy and rustfmt (no-ops when present); cargo-fuzz and Miri install in their stages.
  rustup component add clippy rustfmt >/dev/null 2>&1 || echo "note: could not add clippy/rustfmt with rustup; using what is installed"
  cargo --version; cargo clippy --version; cargo fmt --version
}

stage tools tools
stage fmt fmt
stage "clippy (std + shuttle)" clippy
stage "facade check" facade
stage "cargo test --workspace" unit
stage "cargo test --features shuttle" shuttle_tests
stage "loom suite" loom_suite
stage "miri (platform layer, sanitizer window)" miri
stage "fuzz smoke (mmcheck campaign)" fuzz_smoke
stage "campaign pipeline (fork mode, crash triage, minimize, promote, report)" campaign_check
stage "ClusterFuzzLite/OSS-Fuzz scripts" cflite
if [ "${MMCHECK_MUTANTS:-0}" = 1 ]; then
  stage "mmcheck mutants" mutants
fi

echo
echo "=== summary"
for s in "${SUMMARY[@]}"; do echo "$s"; done
echo "${#SUMMARY[@]} passed, 0 failed"
