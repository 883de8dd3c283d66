#!/usr/bin/env bash
# End-to-end browser test: builds skychat, starts three standalone nodes on loopback (A listens
# with B and C whitelisted, B keeps a persistent link to A, C knows nobody until its page pastes
# A's invite), waits until A and B are connected, runs the Playwright test against the web pages,
# and always stops the nodes.
#
# Needs /usr/bin/chromium (Debian's chromium) and `npm ci --prefix tests/browser`; zbarimg
# (Debian's zbar-tools) reads back the invite's QR code (without it that test is skipped).
# SKYCHAT_SHOTS=<dir> keeps the screenshots there (default: a temporary directory).
# SKYCHAT_DOC_SHOTS=docs/screenshots refreshes the screenshots README.md shows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# The same cargo command as README's test command, so that after the tests have run this builds
# nothing: the binary the end-to-end tests used is the one tested here (feature unification
# differs between `cargo build -p skychat` and a workspace test build, which would rebuild).
cargo test -q --workspace --exclude skychat-fuzz --no-run
bin="$(cargo metadata --format-version 1 --no-deps | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => console.log(JSON.parse(s).target_directory));
')/debug/skychat"
[ -x "$bin" ] || { echo "browser: $bin was not built" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() {
  local code=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$code" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] && { echo "--- $(basename "$log") (last 40 lines)"; tail -n 40 "$log"; }
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port); s.close(); });'
}

a_pk="$("$bin" keygen -o "$work/a.json" 2>/dev/null)"
b_pk="$("$bin" keygen -o "$work/b.json" 2>/dev/null)"
c_pk="$("$bin" keygen -o "$work/c.json" 2>/dev/null)"
a_http="$(free_port)"; b_http="$(free_port)"; c_http="$(free_port)"; a_tcp="$(free_port)"

"$bin" --standalone -c "$work/a.json" --data-dir "$work/a" --addr "127.0.0.1:$a_http" \
  --tcp-listen "127.0.0.1:$a_tcp" --tcp-whitelist "$b_pk,$c_pk" >"$work/a.log" 2>&1 &
pids+=($!)
"$bin" --standalone -c "$work/b.json" --data-dir "$work/b" --addr "127.0.0.1:$b_http" \
  --tcp-peer "tcp://$a_pk@127.0.0.1:$a_tcp" >"$work/b.log" 2>&1 &
pids+=($!)
"$bin" --standalone -c "$work/c.json" --data-dir "$work/c" --addr "127.0.0.1:$c_http" \
  >"$work/c.log" 2>&1 &
pids+=($!)

# Poll both /status documents until each lists the other as connected (at most 30 s).
export A_URL="http://127.0.0.1:$a_http" B_URL="http://127.0.0.1:$b_http" A_PK="$a_pk" B_PK="$b_pk"
export C_URL="http://127.0.0.1:$c_http" C_PK="$c_pk"
node -e '
  const { A_URL, B_URL, A_PK, B_PK } = process.env;
  const up = async (url, pk) => {
    try {
      const s = await (await fetch(url + "/status")).json();
      return (s.peers || []).some((p) => p.pk === pk && p.state === "connected");
    } catch { return false; }
  };
  const deadline = Date.now() + 30000;
  (async function poll() {
    const cUp = await fetch(process.env.C_URL + "/status").then((r) => r.ok, () => false);
    if ((await up(A_URL, B_PK)) && (await up(B_URL, A_PK)) && cUp) return console.log("nodes connected");
    if (Date.now() > deadline) { console.error("nodes did not connect within 30 s"); process.exit(1); }
    setTimeout(poll, 100);
  })();
'

shots="${SKYCHAT_SHOTS:-$work/shots}"
mkdir -p "$shots"
status=0
DOC_SHOTS="${SKYCHAT_DOC_SHOTS:-}" SHOTS_DIR="$shots" node --test --test-timeout=120000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$work/tap.txt" \
  "$here/chat.test.mjs" || status=$?
passed="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$work/tap.txt" | tail -n 1)"
failed="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$work/tap.txt" | tail -n 1)"
echo "browser: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
