#!/usr/bin/env bash
# Runs every fuzz target on stable Rust, starting from the committed seeds.
#
#   bash fuzz/run.sh              smoke mode (CI): each target up to SMOKE_RUNS executions or
#                                 SMOKE_SECONDS seconds, whichever comes first
#   bash fuzz/run.sh long [SECS]  longer local run: each target for SECS seconds (default 600)
#   bash fuzz/run.sh long SECS TARGET...   only the named targets
#
# Seeds live in fuzz/seeds/<target>/ and are committed. Each run copies them into the scratch
# corpus fuzz/corpus/<target>/ (ignored by git), where libFuzzer keeps the inputs it finds
# interesting, so later local runs start from there. A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the script; reproduce it with
#   cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>
# then turn it into a regression test in the normal test suite.
#
# The address sanitizer needs nightly compiler flags; on stable:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s address <target> fuzz/corpus/<target> -- -max_total_time=600
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-smoke}
case "$mode" in
smoke)
    runs=${SMOKE_RUNS:-1000000}
    seconds=${SMOKE_SECONDS:-15}
    targets=()
    ;;
long)
    runs=-1
    seconds=${2:-600}
    targets=("${@:3}")
    ;;
*)
    echo "usage: $0 [smoke | long [SECONDS] [TARGET...]]" >&2
    exit 2
    ;;
esac

if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# The handshake targets do about ten X25519 operations per input and framing pushes long
# streams byte by byte, so they get more time (and, for the handshakes, still far fewer runs).
slow_factor() {
    case "$1" in
    handshake_*) echo 3 ;;
    framing) echo 2 ;;
    *) echo 1 ;;
    esac
}

start=$(date +%s)
cargo fuzz build -s none
echo "build: $(($(date +%s) - start)) s"

for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    if [ -d "fuzz/seeds/$target" ]; then
        cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    fi
    limit=$((seconds * $(slow_factor "$target")))
    log=$(mktemp)
    t0=$(date +%s)
    if ! cargo fuzz run -s none "$target" "$corpus" -- \
        -max_total_time="$limit" -runs="$runs" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz target $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "$target: ${execs:-?} executions in $(($(date +%s) - t0)) s"
    rm -f "$log"
done
echo "fuzz total: $(($(date +%s) - start)) s"
