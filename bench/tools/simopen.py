#!/usr/bin/env python3
"""The floor for connect time: a plain TCP simultaneous open, no preamble, no TLS.

simopen.py LOCAL_PORT REMOTE_IP REMOTE_PORT [DEADLINE_S]
Dials REMOTE_IP:REMOTE_PORT from LOCAL_PORT (SO_REUSEADDR|SO_REUSEPORT, like Punchline) until a
connect succeeds: an attempt refused (RST) is re-issued after 50 ms, one that hangs is given
5 s. Prints "connected_ms=N" (from start to the connection) and holds the connection 2 s, so the
other side's connect completes too. Exit 1 at the deadline.
"""
import errno
import select
import socket
import sys
import time


def main():
    local_port, remote_ip, remote_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 30.0)
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.setblocking(False)
        try:
            s.bind(("0.0.0.0", local_port))
        except OSError:
            s.close()
            time.sleep(0.05)
            continue
        started = time.monotonic()
        err = s.connect_ex((remote_ip, remote_port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            time.sleep(0.05)
            continue
        _, w, _ = select.select([], [s], [], 5.0)
        if w and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            print("connected_ms=%d" % round((time.monotonic() - t0) * 1000), flush=True)
            time.sleep(2)
            s.close()
            return 0
        s.close()
        rest = 0.05 - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)
    print("connected_ms=none", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
