#!/usr/bin/env bash
# Our skychat as the app under two real Skywire visors (the kit in ../shared/tools/skywire), offline:
# messages both ways over skynet and over dmsg, each stored once and acked; `skywire-cli visor app
# ls` shows the app Running; the app stopped and started again by its visor, and the app killed
# (SIGKILL) and started again, lose nothing. App A
# runs as the operator guide's launcher entry has it, with its visor's config (`-c`: the node is
# the visor's own key, TCP-direct possible); app B with no identity (the visor's key, mesh only).
#
#   tests/visor/real-visors.sh            builds the release binary, runs the check, prints a JSON
#                                         verdict as its last line; exit 0 = every check passed
#
# Needs the kit built (`../shared/tools/skywire/build.sh`, after fetching github:skycoin/skywire);
# without it, says so and exits 2. Not part of CI: no visor can be built there.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
kit="$repo/../shared/tools/skywire"
kit_dir="${SKYWIRE_KIT_DIR:-$HOME/.cache/skywire-kit}"
if [ ! -x "$kit_dir/bin/skywire-visor" ] || [ ! -x "$kit/localnet.sh" ]; then
    echo "real-visors: the Skywire kit is not built ($kit_dir/bin): run $kit/build.sh first" >&2
    exit 2
fi
(cd "$repo" && cargo build --release -q -p skychat --bin skychat)
binary="$repo/target/release/skychat"
export SKYWIRE_KIT_DIR="$kit_dir"
export LOCALNET_RUN_DIR="${LOCALNET_RUN_DIR:-/tmp/skychat-real-visors}"
state="$(mktemp -d)/net.json"
A_BINARY="$binary" B_BINARY="$binary" \
    A_ARGS="--addr :8001 -c $LOCALNET_RUN_DIR/A/config.json" B_ARGS="--addr :8002" \
    "$kit/localnet.sh" --hold "$state" -- python3 "$repo/tests/visor/exchange.py"
