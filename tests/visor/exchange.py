"""The checks of real-visors.sh, run inside the kit's network namespace once both visors and
their skychat apps are up (LOCALNET_STATE names the state file). Prints progress on stderr and
a JSON verdict on stdout; exits 0 only if every check passed."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

STATE = json.load(open(os.environ["LOCALNET_STATE"]))
CLI = os.path.join(os.environ["SKYWIRE_KIT_DIR"], "bin", "skywire-cli")
T0 = time.time()
checks = []


def say(text):
    print(f"[{time.time() - T0:6.2f}s] {text}", file=sys.stderr, flush=True)


def check(name, ok, detail=""):
    checks.append({"check": name, "ok": bool(ok), "detail": detail})
    say(f"{'PASS' if ok else 'FAIL'} {name} {detail}")


def http(node, method, path, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{STATE[node]['http']}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
    except OSError as e:
        return None, str(e)


def wait(what, probe, limit=90):
    deadline = time.time() + limit
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    return None


def mesh_up(node):
    status, body = http(node, "GET", "/status")
    visor = (body or {}).get("visor") if status == 200 else None
    return bool(visor) and visor["listening"] == ["skynet", "dmsg"]


def received(node, peer):
    status, body = http(node, "GET", f"/history?peer={peer}&limit=1000")
    return [m["message"] for m in body if m["dir"] == "in"] if status == 200 else None


def send(sender, receiver, text, network):
    status, body = http(sender, "POST", "/message",
                        {"recipient": STATE[receiver]["pk"], "message": text, "network": network,
                         "wait_ms": 20000})
    check(f"{sender}->{receiver} over {network}: POST acked", status == 200 and body.get("acked"),
          f"HTTP {status} {body}")


def transport(node, peer):
    status, body = http(node, "GET", "/status")
    for p in body.get("peers", []) if status == 200 else []:
        if p["pk"] == STATE[peer]["pk"]:
            return p["transport"]
    return None


def cli(node, *args):
    out = subprocess.run([CLI, "visor", "app", *args, "--rpc", STATE[node]["visor_rpc"]],
                         capture_output=True, text=True, timeout=60)
    return (out.stdout + out.stderr).strip()


a_pk, b_pk = STATE["a"]["pk"], STATE["b"]["pk"]
check("both apps listen on skynet and dmsg", wait("mesh", lambda: mesh_up("a") and mesh_up("b")))
for node in ("a", "b"):
    listing = cli(node, "ls")
    say(f"skywire-cli visor app ls ({node}):\n{listing}")
    check(f"visor {node} lists skychat Running",
          any("skychat" in line and "Running" in line for line in listing.splitlines()))

# Skynet, both ways.
send("a", "b", "a to b over skynet", "skynet")
send("b", "a", "b to a over skynet", "skynet")
check("a's session with b runs on skynet", transport("a", "b") == "skynet", transport("a", "b"))

# Stop b's app through its visor; what a sends meanwhile waits, pinned to dmsg.
say("skywire-cli visor app stop skychat (b): " + cli("b", "stop", "skychat"))
check("b's app is down", wait("b down", lambda: http("b", "GET", "/status", timeout=2)[0] is None, 30))
status, body = http("a", "POST", "/message",
                    {"recipient": b_pk, "message": "a to b while b was stopped", "network": "dmsg"})
check("a accepts a message for the stopped b", status in (200, 202), f"HTTP {status} {body}")
say("skywire-cli visor app start skychat (b): " + cli("b", "start", "skychat"))
check("b's app is back on both networks", wait("b up", lambda: mesh_up("b"), 60))
want_b = ["a to b over skynet", "a to b while b was stopped"]
got = wait("delivery after restart", lambda: received("b", a_pk) == want_b and want_b, 120)
check("the message sent while b was stopped arrives once, after the first", got,
      f"b has {received('b', a_pk)}")
check("a's new session with b runs on dmsg", transport("a", "b") == "dmsg", transport("a", "b"))

# Dmsg, both ways, on that session.
send("a", "b", "a to b over dmsg", "dmsg")
send("b", "a", "b to a over dmsg", "dmsg")
want_b.append("a to b over dmsg")
want_a = ["b to a over skynet", "b to a over dmsg"]

# Kill b's app outright (SIGKILL: no goodbye, no flush); its visor starts it again on request.
pids = subprocess.run(["pgrep", "-f", "skychat-b"], capture_output=True, text=True).stdout.split()
say(f"kill -9 {' '.join(pids)} (b's app)")
subprocess.run(["kill", "-9", *pids])
check("b's app is gone", wait("b gone", lambda: http("b", "GET", "/status", timeout=2)[0] is None, 30))
status, body = http("a", "POST", "/message", {"recipient": b_pk, "message": "a to b after b was killed"})
check("a accepts a message for the killed b", status in (200, 202), f"HTTP {status} {body}")
say("skywire-cli visor app start skychat (b): " + cli("b", "start", "skychat"))
check("b's app is back after the kill", wait("b up", lambda: mesh_up("b"), 60))
want_b.append("a to b after b was killed")
check("b stored each of a's messages once", wait("b", lambda: received("b", a_pk) == want_b, 120),
      f"{received('b', a_pk)}")
check("a stored each of b's messages once", wait("a", lambda: received("a", b_pk) == want_a, 10),
      f"{received('a', b_pk)}")
status, body = http("a", "GET", "/status")
check("nothing left queued at a", status == 200 and body["counters"]["queued"] == 0,
      f"{body['counters'] if status == 200 else status}")

ok = all(c["ok"] for c in checks)
print(json.dumps({"ok": ok, "checks": checks, "elapsed_s": round(time.time() - T0, 2)}))
sys.exit(0 if ok else 1)
