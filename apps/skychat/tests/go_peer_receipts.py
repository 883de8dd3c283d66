"""A Go-skychat-like peer for the app tests, for what wirepeer.py's command line cannot send:
chat-read and chat-delete. It loads wirepeer.py (the independent implementation of the Go
TCP-direct wire) as a module and uses its handshake, records and envelopes.

It dials a node, sends two chat-msg envelopes with ack (the second replying to the first, with
Go-style 16-hex ids) and waits for each chat-ack; prints "ready"; then waits for one chat-msg from
the node, acks it and answers with chat-read; sends chat-delete for its own first message and
chat-delete for the node's message (which the node must ignore); and keeps reading until it is
killed or --linger seconds pass. One JSON object per line on stdout; exit 1 when an expected frame
does not come in time.

usage: go_peer_receipts.py WIREPEER_PY tcp://<66-hex>@host:port SK_HEX FIRST_ID SECOND_ID
"""

import importlib.util
import json
import socket
import sys
import time

WAIT = 20.0


def emit(event, **kv):
    kv["event"] = event
    print(json.dumps(kv, sort_keys=True), flush=True)


def load(path):
    spec = importlib.util.spec_from_file_location("wirepeer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    wirepeer_path, dial, sk_hex, first, second = sys.argv[1:6]
    linger = 30.0
    w = load(wirepeer_path)
    sk = bytes.fromhex(sk_hex)
    pk = w.pub_of(sk)
    remote, host, port = w.parse_spec(dial)
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(10)
    hs = w.initiator(sock, sk, pk, remote, False)
    send_key, recv_key = w.transport_keys(hs, True, False)
    session = w.Session(sock, send_key, recv_key)
    emit("handshake", pq=hs["ss"] is not None, pk=pk.hex())

    def send(payload):
        session.write_frame(payload)
        emit("sent", wire=payload.decode())

    def wait_for(what, wanted):
        deadline = time.monotonic() + WAIT
        while True:
            frame = session.read_frame(deadline)
            if frame is None:
                emit("timeout", waiting_for=what)
                sys.exit(1)
            kind, env = w.classify(frame)
            emit("frame", kind=kind, payload=frame.decode("utf-8", "replace"))
            if kind == "chat-msg" and env.get("ack") and env.get("id"):
                send(w.envelope("chat-ack", env["id"]))
            if wanted(kind, env):
                return env

    send(w.envelope("chat-msg", first, "first from go", ack=True))
    wait_for("ack 1", lambda kind, env: kind == "chat-ack" and env.get("id") == first)
    send(w.envelope("chat-msg", second, "second, replying", ack=True, reply_to=first))
    wait_for("ack 2", lambda kind, env: kind == "chat-ack" and env.get("id") == second)
    emit("ready")
    ours = wait_for("a message from the node", lambda kind, env: kind == "chat-msg")
    send(w.envelope("chat-read", ours["id"]))
    send(w.envelope("chat-delete", first))
    send(w.envelope("chat-delete", ours["id"]))
    emit("done", node_message=ours["id"])
    deadline = time.monotonic() + linger
    try:
        while session.read_frame(deadline) is not None:
            pass
    except (ConnectionError, OSError):
        pass


if __name__ == "__main__":
    main()
