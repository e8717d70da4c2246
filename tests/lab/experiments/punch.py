#!/usr/bin/env python3
"""TCP simultaneous-open probe for the namespace lab (an experiment tool, not used by the tests).

Binds one local port with SO_REUSEADDR+SO_REUSEPORT, optionally listens on it, optionally sends
one SYN with a small TTL first, then connects to the peer in a retry loop until a connection
exists (from connect() or accept()), exchanges one line each way and exits 0; exits 3 when the
deadline passes. Every step is printed as a JSON line with the time since start.

  punch.py --port 40000 --peer 203.0.113.18:40000 --deadline 20 [--listen] [--ttl-first 2]
           [--attempt-timeout 1] [--retry-gap 0.2] [--no-retry] [--hold 0]
"""
import argparse
import errno
import json
import random
import select
import socket
import struct
import sys
import time

T0 = time.monotonic()


def log(event, **kw):
    kw = {"t": round(time.monotonic() - T0, 3), "event": event, **kw}
    print(json.dumps(kw), flush=True)


def mksock(port, ttl=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if ttl is not None:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.bind(("0.0.0.0", port))
    s.setblocking(False)
    return s


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV"}


def tcp_state(s):
    """The kernel's TCP state of s (first byte of struct tcp_info)."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    return TCP_STATES.get(struct.unpack("B", info[:1])[0], "other")


def start_connect(s, peer):
    try:
        s.connect(peer)
    except BlockingIOError:
        pass
    except OSError as e:
        return e.errno
    return None


def finish(conn, how, args):
    conn.setblocking(True)
    conn.settimeout(max(1.0, args.deadline - (time.monotonic() - T0)))
    log("connected", how=how, local="%s:%d" % conn.getsockname(), remote="%s:%d" % conn.getpeername())
    try:
        conn.sendall(("hello from %d\n" % args.port).encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(100)
            if not chunk:
                break
            data += chunk
        log("received", text=data.decode(errors="replace").strip())
        if args.hold:
            time.sleep(args.hold)
        return 0 if data.endswith(b"\n") else 1
    except OSError as e:
        log("data_error", error=errno.errorcode.get(e.errno, str(e)))
        return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--deadline", type=float, default=20)
    ap.add_argument("--listen", action="store_true")
    ap.add_argument("--ttl-first", type=int)
    ap.add_argument("--attempt-timeout", type=float, default=1.0)
    ap.add_argument("--retry-gap", type=float, default=0.2)
    ap.add_argument("--no-retry", action="store_true", help="do not connect at all after the TTL SYN (listen only)")
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--jitter", action="store_true", help="attempt timeout x U(0.8, 1.2)")
    args = ap.parse_args()
    host, port = args.peer.rsplit(":", 1)
    peer = (host, int(port))

    lst = None
    if args.listen:
        lst = mksock(args.port)
        lst.listen(8)
        log("listening", port=args.port)

    if args.ttl_first:
        s = mksock(args.port, ttl=args.ttl_first)
        err = start_connect(s, peer)
        if err is None:
            _, w, _ = select.select([], [s], [], 1.0)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if w else "pending"
        log("ttl_syn", ttl=args.ttl_first, result=errno.errorcode.get(err, err) if err else "connected?")
        s.close()

    attempts = 0
    cur = None
    cur_started = 0.0
    cur_timeout = args.attempt_timeout
    next_try = time.monotonic()
    while time.monotonic() - T0 < args.deadline:
        now = time.monotonic()
        if cur is None and not args.no_retry and now >= next_try:
            attempts += 1
            cur = mksock(args.port)
            cur_started = now
            # jitter, so the attempts do not stay phase-locked with the peer's
            cur_timeout = args.attempt_timeout * random.uniform(0.8, 1.2) if args.jitter else args.attempt_timeout
            err = start_connect(cur, peer)
            if err is not None:
                log("attempt", n=attempts, result=errno.errorcode.get(err, err))
                cur.close()
                cur = None
                next_try = now + args.retry_gap
                continue
        rl = [lst] if lst else []
        wl = [cur] if cur else []
        timeout = 0.05
        r, w, _ = select.select(rl, wl, [], timeout)
        if lst in r:
            conn, addr = lst.accept()
            log("accepted", remote="%s:%d" % addr)
            if cur:
                cur.close()
            return finish(conn, "accept", args)
        if cur and cur in w:
            err = cur.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                log("attempt", n=attempts, result="connected")
                return finish(cur, "connect", args)
            log("attempt", n=attempts, result=errno.errorcode.get(err, err))
            cur.close()
            cur = None
            next_try = time.monotonic() + args.retry_gap
        elif cur and time.monotonic() - cur_started > cur_timeout:
            st = tcp_state(cur)
            if st == "SYN_RECV":
                # A simultaneous open is under way (the peer's SYN met ours): closing now
                # would send a FIN and kill it. Give it one more period.
                log("attempt", n=attempts, result="extended", state=st)
                cur_started = time.monotonic()
                continue
            log("attempt", n=attempts, result="timeout", state=st)
            cur.close()
            cur = None
            next_try = time.monotonic()
    log("gave_up", attempts=attempts)
    return 3


if __name__ == "__main__":
    sys.exit(main())
