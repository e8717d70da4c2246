#!/usr/bin/env python3
"""A stand-in for punchline-cli that follows its command-line and JSON contract, used only to
check the lab test scripts and the benchmark before the real program exists:

  PUNCHLINE_CLI=tests/lab/experiments/fake_cli.py tests/lab/test_drop_drop.sh

Punching is the plain method measured in README.md: one port for STUN, listening and
connecting (SO_REUSEADDR+SO_REUSEPORT), connect() retried every ~1 s (jittered), a socket in
SYN_RECV (simultaneous open under way) never abandoned. No encryption, no identity: not a
model for the real program, only for its observable behaviour.
"""
import argparse
import base64
import json
import os
import random
import select
import socket
import struct
import sys
import time

T0 = time.monotonic()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(code, message, rc):
    emit({"event": "error", "code": code, "message": message})
    sys.exit(rc)


def mksock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", port))
    return s


def hostport(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def stun_binding(port, server, timeout=3.0):
    """XOR-MAPPED-ADDRESS seen by server for a TCP connection from our port, and our local ip."""
    s = mksock(port)
    s.settimeout(timeout)
    try:
        s.connect(hostport(server))
        txid = os.urandom(12)
        s.sendall(struct.pack("!HHI", 1, 0, 0x2112A442) + txid)
        buf = b""
        while len(buf) < 20 or len(buf) < 20 + struct.unpack("!H", buf[2:4])[0]:
            chunk = s.recv(512)
            if not chunk:
                return None, None
            buf += chunk
        local_ip = s.getsockname()[0]
    except OSError:
        return None, None
    finally:
        s.close()
    off, end = 20, 20 + struct.unpack("!H", buf[2:4])[0]
    while off + 4 <= end:
        t, l = struct.unpack("!HH", buf[off:off + 4])
        if t == 0x0020 and l >= 8:
            xport = struct.unpack("!H", buf[off + 6:off + 8])[0] ^ 0x2112
            xaddr = bytes(a ^ b for a, b in zip(buf[off + 8:off + 12], b"\x21\x12\xa4\x42"))
            return "%s:%d" % (socket.inet_ntoa(xaddr), xport), local_ip
        off += 4 + (l + 3) // 4 * 4
    return None, local_ip


def encode_code(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def decode_peer(arg, deadline):
    if arg.startswith("@"):
        path = arg[1:]
        while not os.path.exists(path) or os.path.getsize(path) == 0:
            if time.monotonic() > deadline:
                fail("peer-code-timeout", "no peer code in %s" % path, 3)
            time.sleep(0.1)
        arg = open(path).read().strip()
    if ":" in arg:  # host:port[,host:port...]
        return {"l": [], "p": None, "c": arg.split(",")}
    try:
        obj = json.loads(base64.urlsafe_b64decode(arg.encode()))
        return {"l": obj.get("l", []), "p": obj.get("p"), "n": obj.get("n", "")}
    except ValueError:
        fail("bad-code", "cannot read the peer's code", 2)


TCP_SYN_RECV = 3


def tcp_state(s):
    return struct.unpack("B", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[:1])[0]


def connect(args, me, peer):
    """Returns (socket, path) or exits 3."""
    start = time.monotonic()
    deadline = start + args.timeout
    my_pub_ip = (me["p"] or ":").split(":")[0]
    peer_pub_ip = (peer.get("p") or ":").split(":")[0]
    if peer.get("c"):
        targets, path = [hostport(c) for c in peer["c"]], "direct"
    elif peer_pub_ip and peer_pub_ip == my_pub_ip and peer["l"]:
        targets, path = [hostport(c) for c in peer["l"]], "lan"
    elif peer.get("p"):
        targets, path = [hostport(peer["p"])], "direct"
    else:
        fail("no-candidates", "the peer's code has no usable address", 3)
    # On a LAN only the side with the smaller name dials, so exactly one connection results.
    dial = path != "lan" or args.name < peer.get("n", "")
    lst = mksock(args.port)
    lst.listen(8)
    lst.setblocking(False)
    cur, cur_started, cur_timeout, ti = None, 0.0, 1.0, 0
    emit({"event": "state", "state": "connecting"})
    while time.monotonic() < deadline:
        now = time.monotonic()
        if dial and cur is None:
            cur = mksock(args.port)
            cur.setblocking(False)
            cur_started, cur_timeout = now, random.uniform(0.8, 1.2)
            try:
                cur.connect(targets[ti % len(targets)])
            except BlockingIOError:
                pass
            except OSError:
                cur.close()
                cur = None
                time.sleep(random.uniform(0.1, 0.3))
                continue
            ti += 1
        r, w, _ = select.select([lst], [cur] if cur else [], [], 0.05)
        if lst in r:
            conn, _ = lst.accept()
            if cur:
                cur.close()
            return conn, path, start
        if cur and cur in w:
            if cur.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                lst.close()
                return cur, path, start
            cur.close()
            cur = None
            time.sleep(random.uniform(0.1, 0.3))
        elif cur and time.monotonic() - cur_started > cur_timeout:
            if tcp_state(cur) == TCP_SYN_RECV:
                cur_started = time.monotonic()
                continue
            cur.close()
            cur = None
    fail("connect-timeout", "could not connect directly within %g s" % args.timeout, 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stun", action="append", default=[])
    ap.add_argument("--port-mapping", default="on")
    ap.add_argument("--ip-echo", default="none")
    ap.add_argument("--write-code")
    ap.add_argument("--peer")
    ap.add_argument("--say", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--exit-when-done", action="store_true")
    ap.add_argument("--json", action="store_true")
    try:
        args = ap.parse_args()
    except SystemExit:
        sys.exit(2)
    os.makedirs(args.profile, exist_ok=True)

    maps, local_ip = [], None
    for server in [s for s in args.stun if s != "none"]:
        m, lip = stun_binding(args.port, server)
        local_ip = local_ip or lip
        if m:
            maps.append(m)
    nat = "unknown"
    if len(maps) >= 2:
        nat = "endpoint-independent" if len(set(maps)) == 1 else "endpoint-dependent"
    me = {"l": ["%s:%d" % (local_ip, args.port)] if local_ip else [], "p": maps[0] if maps else None,
          "n": args.name}
    code = encode_code(me)
    emit({"event": "addresses", "local": me["l"], "public": me["p"],
          "public_source": "stun" if maps else "none", "nat": nat, "code": code})
    if args.write_code:
        tmp = args.write_code + ".tmp"
        with open(tmp, "w") as f:
            f.write(code + "\n")
        os.rename(tmp, args.write_code)
    if not args.peer:
        return 0
    peer = decode_peer(args.peer, time.monotonic() + 600)
    conn, path, start = connect(args, me, peer)
    emit({"event": "connected", "path": path, "local": "%s:%d" % conn.getsockname(),
          "remote": "%s:%d" % conn.getpeername(), "elapsed_ms": int((time.monotonic() - start) * 1000)})
    conn.setblocking(True)

    pending, n, buf, peer_fin, sent_fin = set(), 0, b"", False, False
    out = []
    for text in args.say:
        n += 1
        mid = "%s-%d" % (args.name, n)
        pending.add(mid)
        out.append({"t": "msg", "id": mid, "text": text})
    conn.sendall(b"".join(json.dumps(o).encode() + b"\n" for o in out))
    end = time.monotonic() + 60
    stdin_open = True
    while time.monotonic() < end:
        if not pending and not sent_fin and args.exit_when_done:
            conn.sendall(b'{"t": "fin"}\n')
            sent_fin = True
        if sent_fin and peer_fin:
            return 0
        rl = [conn] + ([sys.stdin] if stdin_open else [])
        r, _, _ = select.select(rl, [], [], 0.2)
        if sys.stdin in r:
            line = sys.stdin.readline()
            if not line:
                stdin_open = False
            else:
                n += 1
                mid = "%s-%d" % (args.name, n)
                pending.add(mid)
                conn.sendall(json.dumps({"t": "msg", "id": mid, "text": line.rstrip("\n")}).encode() + b"\n")
        if conn in r:
            chunk = conn.recv(4096)
            if not chunk:
                return 0 if (not pending and peer_fin) else 1
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                o = json.loads(line)
                if o["t"] == "msg":
                    emit({"event": "message", "id": o["id"], "text": o["text"]})
                    conn.sendall(json.dumps({"t": "ack", "id": o["id"]}).encode() + b"\n")
                elif o["t"] == "ack":
                    pending.discard(o["id"])
                    emit({"event": "delivered", "id": o["id"]})
                elif o["t"] == "fin":
                    peer_fin = True
    fail("done-timeout", "messages not acknowledged in time", 1)


if __name__ == "__main__":
    sys.exit(main())
