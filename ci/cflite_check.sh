#!/usr/bin/env bash
# Runs .clusterfuzzlite/build.sh the way the ClusterFuzzLite / OSS-Fuzz builder does, without
# Docker, and checks what it leaves in $OUT.
#
#   ci/cflite_check.sh [none|address]      (default: none)
#
# The simulated builder (base-builder-rust, its compile script and the ClusterFuzzLite
# actions): SRC, OUT and WORK of its own; the checkout at $SRC/mmcheck (a symlink) and build.sh
# at $SRC/build.sh; FUZZING_LANGUAGE=rust, SANITIZER, FUZZING_ENGINE=libfuzzer,
# ARCHITECTURE=x86_64, CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu and compile's RUSTFLAGS for
# the sanitizer; then `bash -eux $SRC/build.sh` from $SRC/mmcheck (the Dockerfile's WORKDIR).
# Not simulated: CUSTOM_LIBFUZZER_PATH/CUSTOM_LIBFUZZER_STD_CXX (the builder links its own
# libFuzzer archive and libc++; here libfuzzer-sys builds its vendored libFuzzer),
# CC/CFLAGS/CXXFLAGS (clang-only flags; no C code is built here except that libFuzzer) and
# the clang linker; the toolchain is left as installed (build.sh itself switches to nightly
# for address builds, as the builders' default toolchain is nightly).
#
# The build log goes to target/cflite/build-<sanitizer>.log, this script's verdicts to stdout
# and target/cflite/check-<sanitizer>.txt. Cargo's target directory is
# target/cflite/<sanitizer>, so repeated runs are incremental.
#
# Checks, per target of `mmcheck list`: an executable $OUT/<target>; a non-empty
# $OUT/<target>_seed_corpus.zip whose entries are exactly the inputs of corpus/<target>/ (same
# names, same bytes; inputs are the files that are not dotfiles or *.txt notes); the binary
# runs one seed input and exits 0; the builder's bad-build checks (`-seed=1337 -runs=4` ends in
# "Done 4 runs" with at least 100 instrumented edges; for address, at least 1000 calls into
# ASan). And, once: the *_sched naming convention build.sh relies on agrees with `mmcheck
# list`'s kind column, and fuzz/Cargo.toml's bins are exactly the listed targets.
# Exit: 0 all good, 1 a check failed, 2 bad usage.
set -euo pipefail

usage() {
  echo "usage: ci/cflite_check.sh [none|address]" >&2
  exit 2
}
[ $# -le 1 ] || usage
SAN=${1:-none}
case "$SAN" in
  none) RUST_SAN_FLAGS="" ;;
  address) RUST_SAN_FLAGS=" -Zsanitizer=address" ;;
  -h | --help) usage ;;
  *)
    echo "cflite_check.sh: unknown sanitizer '$SAN' (none or address)" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
ROOT=$(pwd)
mkdir -p target/cflite
LOG=$ROOT/target/cflite/build-$SAN.log
REPORT=$ROOT/target/cflite/check-$SAN.txt
: >"$REPORT"
say() { echo "$*" | tee -a "$REPORT"; }

FAILED=0
fail() {
  say "FAIL  $*"
  FAILED=$((FAILED + 1))
}

# --- the targets, and the convention build.sh relies on ------------------------------------
LIST=$(cargo run --release -q -p harness --bin mmcheck -- list)
declare -A KIND=()
TARGETS=()
while read -r name kind _; do
  [ "$name" = target ] && continue
  [ -n "$name" ] || continue
  KIND[$name]=$kind
  TARGETS+=("$name")
done <<<"$LIST"
[ "${#TARGETS[@]}" -gt 0 ] || {
  echo "cflite_check.sh: \`mmcheck list\` printed no targets" >&2
  exit 1
}

mapfile -t BINS < <(awk '
  /^\[\[bin\]\]/ { inbin = 1; next }
  /^\[/ { inbin = 0 }
  inbin && /^[[:space:]]*name[[:space:]]*=/ {
    if (match($0, /"[^"]+"/)) print substr($0, RSTART + 1, RLENGTH - 2)
  }' fuzz/Cargo.toml)

if [ "$(printf '%s\n' "${BINS[@]}" | sort)" != "$(printf '%s\n' "${TARGETS[@]}" | sort)" ]; then
  fail "fuzz/Cargo.toml bins ($(printf '%s\n' "${BINS[@]}" | sort | tr '\n' ' ')) differ from mmcheck list ($(printf '%s\n' "${TARGETS[@]}" | sort | tr '\n' ' '))"
fi
for t in "${TARGETS[@]}"; do
  case "$t" in
    *_sched) by_name=schedule ;;
    *) by_name=sequential ;;
  esac
  if [ "${KIND[$t]}" != "$by_name" ]; then
    fail "$t: mmcheck list says ${KIND[$t]}, but build.sh builds it as $by_name (the *_sched convention)"
  fi
done

# --- the simulated builder -----------------------------------------------------------------
# OUT and WORK are fresh for every run. SRC is made anew too, but at a path fixed for this
# checkout and sanitizer (outside the checkout, so its symlink makes no loop under target/):
# cargo fingerprints path dependencies by their path, and a new SRC path per run would rebuild
# harness, algos and shadow every time.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cflite-$SAN.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SRC=${TMPDIR:-/tmp}/mmcheck-cflite-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)/src-$SAN
OUT=$TMP/out
WORK=$TMP/work
rm -rf "$SRC"
mkdir -p "$SRC" "$OUT" "$WORK"
ln -s "$ROOT" "$SRC/mmcheck"
cp .clusterfuzzlite/build.sh "$SRC/build.sh"

start=$SECONDS
set +e
(
  cd "$SRC/mmcheck"
  # The caller's cargo/rustc settings would not be in the builder's container.
  unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS RUSTDOCFLAGS
  export SRC OUT WORK
  export FUZZING_LANGUAGE=rust SANITIZER=$SAN FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64
  export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu
  export RUSTFLAGS="--cfg fuzzing${RUST_SAN_FLAGS} -Cdebuginfo=1 -Cforce-frame-pointers"
  export CARGO_TARGET_DIR=$ROOT/target/cflite/$SAN
  echo "simulated builder: SRC=$SRC OUT=$OUT WORK=$WORK SANITIZER=$SANITIZER" \
    "FUZZING_ENGINE=$FUZZING_ENGINE ARCHITECTURE=$ARCHITECTURE CARGO_BUILD_TARGET=$CARGO_BUILD_TARGET" \
    "RUSTFLAGS='$RUSTFLAGS' CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
  bash -eux "$SRC/build.sh"
) >"$LOG" 2>&1
rc=$?
set -e
took=$((SECONDS - start))
if [ "$rc" -ne 0 ]; then
  tail -n 30 "$LOG" >&2
  say "cflite ($SAN): build.sh failed (exit $rc) after ${took}s; log: target/cflite/build-$SAN.log"
  exit 1
fi
say "cflite ($SAN): build.sh built ${#TARGETS[@]} targets in ${took}s; log: target/cflite/build-$SAN.log"

# --- what landed in $OUT -------------------------------------------------------------------
# compare_zip ZIP DIR: prints "N" (the inputs matched), or a reason and fails.
compare_zip() {
  python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
archive, corpus = sys.argv[1], sys.argv[2]
inputs = {
    n: open(os.path.join(corpus, n), "rb").read()
    for n in os.listdir(corpus)
    if os.path.isfile(os.path.join(corpus, n)) and not n.startswith(".") and not n.endswith(".txt")
}
with zipfile.ZipFile(archive) as z:
    entries = {i.filename: z.read(i) for i in z.infolist()}
missing = sorted(set(inputs) - set(entries))
extra = sorted(set(entries) - set(inputs))
differ = sorted(n for n in set(inputs) & set(entries) if inputs[n] != entries[n])
if missing or extra or differ or not entries:
    print(f"seed archive: missing {missing}, extra {extra}, different {differ}, {len(entries)} entries")
    sys.exit(1)
print(len(entries))
PY
}

EXPECTED_OUT=()
OK=0
for t in "${TARGETS[@]}"; do
  bin=$OUT/$t
  zipf=$OUT/${t}_seed_corpus.zip
  EXPECTED_OUT+=("$t" "${t}_seed_corpus.zip")
  if [ ! -x "$bin" ]; then
    fail "$t (${KIND[$t]}): no executable \$OUT/$t"
    continue
  fi
  if [ ! -s "$zipf" ]; then
    fail "$t (${KIND[$t]}): no non-empty \$OUT/${t}_seed_corpus.zip"
    continue
  fi
  if ! seeds=$(compare_zip "$zipf" "corpus/$t"); then
    fail "$t (${KIND[$t]}): $seeds"
    continue
  fi
  seed=$(find "corpus/$t" -maxdepth 1 -type f ! -name '.*' ! -name '*.txt' | sort | head -n 1)
  out=$TMP/$t.run
  if ! timeout 300 "$bin" -runs=1 "$seed" >"$out" 2>&1; then
    fail "$t (${KIND[$t]}): \$OUT/$t -runs=1 $seed exited non-zero: $(grep -m1 -E 'ERROR|panicked|MMCHECK-TITLE' "$out" || tail -n 1 "$out")"
    continue
  fi
  # The builder's bad-build check (base-runner/bad_build_check): check_engine and
  # check_startup_crash run -seed=1337 -runs=4 and want "Done 4 runs" and >= 100 edges.
  if ! timeout 300 "$bin" -seed=1337 -runs=4 >"$out" 2>&1 || ! grep -q "Done 4 runs" "$out"; then
    fail "$t (${KIND[$t]}): -seed=1337 -runs=4 did not end in 'Done 4 runs': $(tail -n 1 "$out")"
    continue
  fi
  edges=$(grep -Po 'INFO: Loaded [[:digit:]]+ module.*\(.*(counters|guards)\):[[:space:]]+\K[[:digit:]]+' "$out" | head -n 1)
  if [ -z "$edges" ] || [ "$edges" -lt 100 ]; then
    fail "$t (${KIND[$t]}): ${edges:-no} instrumented edges (the builder wants >= 100)"
    continue
  fi
  extra=""
  if [ "$SAN" = address ]; then
    # check_mixed_sanitizers: an ASan build has >= 1000 calls into __asan_*.
    asan=$(objdump -dC "$bin" | grep -cE 'call[q]?[[:space:]]+[0-9a-f]+[[:space:]]+<__asan' || true)
    if [ "$asan" -lt 1000 ]; then
      fail "$t (${KIND[$t]}): only $asan calls into ASan (the builder wants >= 1000)"
      continue
    fi
    extra=", $asan ASan calls"
  fi
  say "ok    $t (${KIND[$t]}): binary, seed archive of $seeds inputs, seed run, 4 runs, $edges edges$extra"
  OK=$((OK + 1))
done

# Nothing else in $OUT (no dictionaries: build.sh ships none, by design).
mapfile -t STRAY < <(comm -13 <(printf '%s\n' "${EXPECTED_OUT[@]}" | sort) \
  <(find "$OUT" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort))
if [ "${#STRAY[@]}" -gt 0 ]; then
  fail "unexpected files in \$OUT: ${STRAY[*]}"
fi

say "cflite ($SAN): $OK of ${#TARGETS[@]} targets ok, $FAILED check(s) failed"
[ "$FAILED" -eq 0 ]
