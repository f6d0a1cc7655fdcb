#!/usr/bin/env bash
# The campaign pipeline end to end, on the fuzz builds the fuzz smoke stage made (so it costs
# seconds, not builds):
#   1. fork mode and parallel targets: `campaign --jobs 2 --parallel 2`, its run log checked
#      line by line (start, samples, one target line per target with jobs 2, end) and the
#      working corpus merged;
#   2. a planted crash (MMCHECK_SELFTEST_CRASH, a crash the fuzz entry raises on inputs that
#      contain `CRASH`) through triage into crashes/<title-hash>/ with meta.json, minimization
#      checked against the title, and dedup across runs (a second run counts a second
#      sighting of the same title and logs it as not new);
#   3. `mmcheck promote` of that crash in a scratch root: the regress corpus file, its note,
#      the typed test appended to regressions.rs, the file replayed by `mmcheck replay`, and
#      the typed test compiled and run in this repository (then taken out again);
#   4. `mmcheck report` over all of it.
# Exits non-zero at the first check that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ "$#" -ne 0 ]; then
  echo "usage: ci/campaign_check.sh (no arguments)" >&2
  exit 2
fi
cargo build --release -q -p harness --bin mmcheck
mm="$root/target/release/mmcheck"
work=$(mktemp -d)
regressions=harness/tests/integration/regressions.rs
cp "$regressions" "$work/regressions.rs.orig"
cleanup() {
  cp "$work/regressions.rs.orig" "$root/$regressions"
  rm -rf "$work"
}
trap cleanup EXIT

newest_log() { ls -t campaigns/runs/*.jsonl | head -1; }

echo "== 1. fork mode (--jobs 2) and two targets at once (--parallel 2)"
"$mm" campaign --time 12 --jobs 2 --parallel 2 counter stack
python3 - "$(newest_log)" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
kinds = [l["kind"] for l in lines]
assert kinds[0] == "start" and kinds[-1] == "end", kinds
start = lines[0]
assert start["jobs"] == 2 and start["parallel"] == 2, start
assert sorted(start["targets"]) == ["counter", "stack"], start
done = {l["target"]: l for l in lines if l["kind"] == "target"}
assert sorted(done) == ["counter", "stack"], done
for t, l in done.items():
    assert l["jobs"] == 2 and l["execs"] > 0 and l["corpus"] > 0 and l["error"] is None, l
samples = [l for l in lines if l["kind"] == "sample"]
assert {s["target"] for s in samples} == {"counter", "stack"}, samples
for t in ("counter", "stack"):
    ts = [s["t"] for s in samples if s["target"] == t]
    assert ts == sorted(ts), ts
print("run log ok:", sys.argv[1], len(samples), "samples")
EOF

echo "== 2. a planted crash: triage, minimization, dedup across runs"
title="SELFTEST: planted crash in counter"
mkdir -p fuzz/corpus/counter
# A seed that fails at once, with bytes around the trigger for tmin to remove.
printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaCRASHbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' \
  > fuzz/corpus/counter/selftest-crash
rc=0
MMCHECK_SELFTEST_CRASH=counter "$mm" campaign --time 6 --minimize-secs 60 counter || rc=$?
rm -f fuzz/corpus/counter/selftest-crash
[ "$rc" = 1 ] || { echo "FAIL: a campaign that found a crash exits 1, not $rc"; exit 1; }
dir=$(python3 - "$title" <<'EOF'
import glob, json, os, sys
for m in glob.glob("crashes/*/meta.json"):
    if json.load(open(m)).get("title") == sys.argv[1]:
        print(os.path.dirname(m)); break
EOF
)
[ -n "$dir" ] || { echo "FAIL: no crashes/<hash>/meta.json titled '$title'"; exit 1; }
count1=$(python3 - "$dir" <<'EOF'
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "meta.json")))
assert m["targets"] == ["counter"], m
assert m["count"] >= 1 and m["reproducers"], m
assert m["first_seen"] <= m["last_seen"], m
mini = m["minimized"]
assert mini, "no minimized reproducer: %r" % m
small = open(os.path.join(sys.argv[1], mini), "rb").read()
big = min(len(open(os.path.join(sys.argv[1], r), "rb").read()) for r in m["reproducers"])
assert b"CRASH" in small and len(small) < big, (small, big)
print(m["count"])
EOF
)
echo "crash saved in $dir, seen $count1 time(s), minimized"
python3 - "$(newest_log)" "$title" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
crashes = [l for l in lines if l["kind"] == "crash" and l["title"] == sys.argv[2]]
assert crashes, lines
EOF
# The same bug again: the same directory, one more sighting, logged as not new.
printf 'zzCRASHzz' > fuzz/corpus/counter/selftest-crash-2
rc=0
MMCHECK_SELFTEST_CRASH=counter "$mm" campaign --time 6 counter || rc=$?
rm -f fuzz/corpus/counter/selftest-crash-2
[ "$rc" = 1 ] || { echo "FAIL: the second campaign exits $rc, not 1"; exit 1; }
python3 - "$dir" "$count1" "$(newest_log)" "$title" <<'EOF'
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "meta.json")))
assert m["count"] > int(sys.argv[2]), (m["count"], sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[3])]
again = [l for l in lines if l["kind"] == "crash" and l["title"] == sys.argv[4]]
assert again and not any(l["new"] for l in again), again
print("dedup across runs ok: seen", m["count"], "times")
EOF

echo "== 3. mmcheck promote (in a scratch root)"
scratch="$work/root"
mkdir -p "$scratch/harness/tests/integration" "$scratch/crashes"
cp Cargo.toml "$scratch/"
cp -r corpus "$scratch/"
cp "$regressions" "$scratch/$regressions"
cp -r "$dir" "$scratch/crashes/"
hash=$(basename "$dir")
(cd "$scratch" && "$mm" promote "$hash")
reg=$(ls "$scratch"/corpus/counter/regress-selftest-planted-crash-in-counter-* | grep -v '\.txt$')
[ -f "$reg.txt" ] || { echo "FAIL: no note beside $reg"; exit 1; }
grep -q "Pins \`$title\`" "$reg.txt" || { echo "FAIL: the note does not name the bug"; cat "$reg.txt"; exit 1; }
fn=$(grep -o 'fn regress_counter_[a-z0-9_]*' "$scratch/$regressions" | tail -1)
[ -n "$fn" ] || { echo "FAIL: no typed test appended"; exit 1; }
(cd "$scratch" && "$mm" replay counter)
if (cd "$scratch" && "$mm" promote "$hash" 2>/dev/null); then
  echo "FAIL: promoting twice overwrote the regression"; exit 1
fi
# The appended test compiles and passes in this repository.
cp "$scratch/$regressions" "$regressions"
out=$(cargo test -q -p harness --test integration -- "regressions::${fn#fn }" --exact 2>&1)
echo "$out" | tail -3
echo "$out" | grep -q "test result: ok. 1 passed" \
  || { echo "FAIL: the promoted test did not run and pass"; exit 1; }
if echo "$out" | grep -A3 "^warning" | grep -q "regressions.rs"; then
  echo "FAIL: the promoted test compiles with warnings (clippy -D warnings would fail)"; echo "$out"; exit 1
fi
cp "$work/regressions.rs.orig" "$regressions"

echo "== 4. mmcheck report"
mkdir -p target/campaign-check
"$mm" report --no-sim --out target/campaign-check/report.html
grep -q "SELFTEST: planted crash in counter" target/campaign-check/report.html \
  || { echo "FAIL: the report does not list the crash"; exit 1; }
grep -q "minimized-" target/campaign-check/report.html \
  || { echo "FAIL: the report does not link the minimized reproducer"; exit 1; }
echo "campaign pipeline ok"
