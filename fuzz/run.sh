#!/usr/bin/env bash
# Runs each fuzz target for a bounded time, one after another, and prints what each did:
#
#   fuzz/run.sh [SECONDS_PER_TARGET]        (default 600; TARGETS="idx image" to pick)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain; without one it
# sets RUSTC_BOOTSTRAP=1 so that stable rustc takes the nightly flags. The seed corpora
# are written first (src/make_seeds.rs, and the committed seeds/<target>/ copied in);
# corpora grow in corpus/<target>/, crashes land
# in artifacts/<target>/ and each run's log in logs/<target>.log. libFuzzer counts a
# single allocation over 300 MB as a crash (-malloc_limit_mb), and an input that runs
# over 10 s as one too (-timeout). Exit status 1 if any target crashed.
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
targets="${TARGETS:-idx checkpoint image spec image_folder http}"

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
else
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
fi
command -v cargo-fuzz >/dev/null || { echo "fuzz/run.sh: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2; exit 2; }

"${cargo[@]}" run --quiet --release --bin make_seeds || exit 2
for t in $targets; do
  if [ -d "seeds/$t" ]; then
    mkdir -p "corpus/$t" && cp seeds/"$t"/* "corpus/$t/"
  fi
done
mkdir -p logs
status=0
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "== $t: fuzzing for $seconds s"
  nice -n 19 "${cargo[@]}" fuzz run --debug-assertions "$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=300 \
    -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "artifacts/$t" -type f | wc -l)
  corpus=$(find "corpus/$t" -type f | wc -l)
  echo "$t: ${execs:-?} executions in $seconds s, corpus $corpus inputs, $crashes crash/timeout/oom artifact(s), exit $rc"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    tail -40 "logs/$t.log"
  fi
done
exit "$status"
