#!/bin/bash
# Builds every mmcheck fuzz target for ClusterFuzzLite or OSS-Fuzz (the same file serves both:
# OSS-Fuzz's projects/mmcheck/build.sh is a copy of it).
#
# The builder (base-builder-rust) runs it as `bash -eux $SRC/build.sh` from the Dockerfile's
# WORKDIR ($SRC/mmcheck) with SRC, OUT, WORK, SANITIZER, FUZZING_ENGINE, ARCHITECTURE and a
# RUSTFLAGS of its own (infra/base-images/base-builder/compile: `--cfg fuzzing -Cdebuginfo=1
# -Cforce-frame-pointers`, plus `-Zsanitizer=address` for address builds, nothing more for
# none, and the instrument-coverage flag with `-C link-arg=-lc++` for coverage builds), which
# cargo-fuzz appends to its own flags. ci/cflite_check.sh runs it the same way without Docker.
#
# What lands in $OUT, for every [[bin]] of fuzz/Cargo.toml:
#   <target>               the libFuzzer binary
#   <target>_seed_corpus.zip   the inputs of corpus/<target>/ (every regular file except
#                          dotfiles and *.txt notes, the rule of harness/src/corpus.rs)
# No <target>.dict: every input is decoded position by position through `arbitrary`
# (harness/src/input.rs: counts via int_in_range, enum variants and the maple tree's tag
# bytes as ranges of one byte or word, the schedule targets' 2-byte length header, then one
# schedule byte per decision). No keyword or magic value has to appear anywhere, so any byte
# at any offset is already meaningful and a dictionary would only splice arbitrary tokens in.
#
# Bad input (unknown SANITIZER, FUZZING_ENGINE or ARCHITECTURE, unset OUT/WORK, no checkout)
# gives a one-line error and exit code 2.
set -euo pipefail

die() {
  echo "build.sh: $*" >&2
  exit 2
}

# --- the builder's variables --------------------------------------------------------------
[ -n "${OUT:-}" ] || die "OUT is not set (the builder sets it to the directory for fuzz targets)"
[ -n "${WORK:-}" ] || die "WORK is not set (the builder sets it to a directory for intermediate files)"
mkdir -p "$OUT" "$WORK"

if [ -f fuzz/Cargo.toml ] && [ -d corpus ]; then
  ROOT=$(pwd)
elif [ -n "${SRC:-}" ] && [ -f "$SRC/mmcheck/fuzz/Cargo.toml" ]; then
  ROOT=$SRC/mmcheck
else
  die "no mmcheck checkout here or at \$SRC/mmcheck (run from the checkout, as the Dockerfile's WORKDIR does)"
fi

SAN=${SANITIZER:-none}
case "$SAN" in
  address | none | coverage) ;;
  "") SAN=none ;;
  *) die "SANITIZER=$SAN is not supported for these Rust targets (address, none or coverage)" ;;
esac
[ "${FUZZING_ENGINE:-libfuzzer}" = libfuzzer ] ||
  die "FUZZING_ENGINE=$FUZZING_ENGINE is not supported (cargo-fuzz targets link libFuzzer only)"
[ "${ARCHITECTURE:-x86_64}" = x86_64 ] ||
  die "ARCHITECTURE=$ARCHITECTURE is not supported (x86_64 only)"

# -Zsanitizer (address) and, on older builders, -Zinstrument-coverage need nightly. The
# builders' default toolchain is nightly (RUSTUP_TOOLCHAIN in base-builder-rust); elsewhere
# (a developer machine, ci/cflite_check.sh) switch to the installed nightly for this script.
if [ "$SAN" != none ] && ! rustc --version | grep -q nightly; then
  rustup run nightly rustc --version >/dev/null 2>&1 ||
    die "SANITIZER=$SAN needs a nightly toolchain and none is installed (rustup toolchain install nightly)"
  export RUSTUP_TOOLCHAIN=nightly
fi
echo "build.sh: sanitizer $SAN, $(rustc --version)"

TRIPLE=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
# Intermediate files belong in $WORK; CARGO_TARGET_DIR (ci/cflite_check.sh sets one inside
# the repository's target/) keeps repeated local runs incremental.
TARGET_DIR=${CARGO_TARGET_DIR:-$WORK/cargo-target}
RUSTFLAGS=${RUSTFLAGS:-}
export RUSTFLAGS

# --- the targets ---------------------------------------------------------------------------
# Every [[bin]] of fuzz/Cargo.toml is a registry target; the schedule targets (built with the
# shuttle backend, `--features shuttle`) are exactly those named *_sched. ci/cflite_check.sh
# checks this convention against `mmcheck list`'s kind column.
mapfile -t BINS < <(awk '
  /^\[\[bin\]\]/ { inbin = 1; next }
  /^\[/ { inbin = 0 }
  inbin && /^[[:space:]]*name[[:space:]]*=/ {
    if (match($0, /"[^"]+"/)) print substr($0, RSTART + 1, RLENGTH - 2)
  }' "$ROOT/fuzz/Cargo.toml")
[ "${#BINS[@]}" -gt 0 ] || die "no [[bin]] targets in $ROOT/fuzz/Cargo.toml"
SEQUENTIAL=()
SCHEDULE=()
for t in "${BINS[@]}"; do
  case "$t" in
    *_sched) SCHEDULE+=("$t") ;;
    *) SEQUENTIAL+=("$t") ;;
  esac
done
echo "build.sh: ${#SEQUENTIAL[@]} sequential targets: ${SEQUENTIAL[*]-}"
echo "build.sh: ${#SCHEDULE[@]} schedule targets: ${SCHEDULE[*]-}"

# --- building ------------------------------------------------------------------------------
# `cargo fuzz build -O` as the builders expect, with the sanitizer this build is for (cargo-fuzz
# would otherwise add its default, address, to every build), and --no-trace-compares as the
# project's own builds use (harness/src/bin/mmcheck/cargo.rs::fuzz_flags: comparison tracing
# was over half of maple_ops' time for no coverage gain, the inputs having no magic values to
# solve). It is compatible with the builders: their bad-build check counts the edges of the
# inline 8-bit counters and the pc-table, the ASan calls and "Done N runs", all of which stay;
# libFuzzer only loses its comparison-driven mutations (and value-profile feedback).
#
# The two kinds are two builds: `cargo fuzz build` builds every bin of the fuzz crate at once
# (one cargo invocation, so the binaries link in parallel on the builder's cores), first without
# features, then with --features shuttle. Both share one target directory (the dependencies
# they have in common are built once; the crates a feature changes get artifacts of their own),
# where the second build overwrites every binary of the first: so each build's own kind is
# copied to $OUT right after it, the sequential targets before the shuttle build runs.
case "$SAN" in
  address) CARGO_FUZZ_SANITIZER=address ;;
  *) CARGO_FUZZ_SANITIZER=none ;;
esac

# build_kind FEATURES TARGET...: builds the fuzz crate (FEATURES empty or "shuttle") and copies
# the named targets' binaries to $OUT.
build_kind() {
  local features=$1
  shift
  local feature_args=()
  [ -z "$features" ] || feature_args=(--features "$features")
  local t profile
  if [ "$SAN" = coverage ]; then
    # The builder's cargo wrapper (base-builder/cargo) turns `cargo fuzz build` into a bare
    # `cargo build --bins` for coverage, dropping every other argument: the schedule targets
    # would lose --features shuttle and abort on every input. So do what the wrapper does,
    # keeping the features: a dev-profile build (the wrapper's note: optimized builds gave
    # malformed profile data), debug assertions off, and the fuzz crate's relative source
    # paths (fuzz_targets/*.rs) remapped to absolute ones for the coverage report.
    (
      cd "$ROOT/fuzz"
      RUSTFLAGS="$RUSTFLAGS --remap-path-prefix fuzz_targets=$ROOT/fuzz/fuzz_targets -C debug-assertions=no" \
        cargo build --manifest-path "$ROOT/fuzz/Cargo.toml" --target "$TRIPLE" \
        --target-dir "$TARGET_DIR" ${feature_args[@]+"${feature_args[@]}"} --bins
    )
    profile=debug
  else
    cargo fuzz build -O --sanitizer "$CARGO_FUZZ_SANITIZER" --no-trace-compares \
      --fuzz-dir "$ROOT/fuzz" --target "$TRIPLE" --target-dir "$TARGET_DIR" \
      ${feature_args[@]+"${feature_args[@]}"}
    profile=release
  fi
  for t in "$@"; do
    install -m 755 "$TARGET_DIR/$TRIPLE/$profile/$t" "$OUT/$t"
  done
}

cd "$ROOT"
[ "${#SEQUENTIAL[@]}" -eq 0 ] || build_kind "" "${SEQUENTIAL[@]}"
[ "${#SCHEDULE[@]}" -eq 0 ] || build_kind shuttle "${SCHEDULE[@]}"

# --- seed corpora --------------------------------------------------------------------------
# zip_flat ARCHIVE FILE...: a flat archive (entries named by basename), with zip -j or, where
# zip is missing, python3's zipfile.
zip_flat() {
  local archive=$1
  shift
  rm -f "$archive"
  if command -v zip >/dev/null 2>&1; then
    zip -q -j "$archive" "$@"
  else
    python3 - "$archive" "$@" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for path in sys.argv[2:]:
        z.write(path, arcname=os.path.basename(path))
PY
  fi
}

for t in "${BINS[@]}"; do
  dir=$ROOT/corpus/$t
  inputs=()
  if [ -d "$dir" ]; then
    while IFS= read -r -d '' f; do
      inputs+=("$f")
    done < <(find "$dir" -maxdepth 1 -type f ! -name '.*' ! -name '*.txt' -print0 | sort -z)
  fi
  if [ "${#inputs[@]}" -eq 0 ]; then
    echo "build.sh: warning: no seed inputs in corpus/$t; $t ships without a seed corpus" >&2
    continue
  fi
  zip_flat "$OUT/${t}_seed_corpus.zip" "${inputs[@]}"
done

echo "build.sh: ${#BINS[@]} targets and their seed corpora in $OUT"
