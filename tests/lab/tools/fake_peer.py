#!/usr/bin/env python3
"""A peer that lies about who it is (lab test tool for test_secure_impostor.sh).

It punches to a Punchline peer like the real program does (one port shared by a connect loop,
SO_REUSEADDR + SO_REUSEPORT), sends the clear-text preamble claiming someone else's certificate
fingerprint (--claim, 64 hex digits: the friend's), plays the nomination by the same rule
(the larger fingerprint is the controller: as controller it sends 'N' and its TLS ClientHello at
once; as the controlled side it serves TLS after 'N' and opens it after 'n') and runs a TLS 1.3 handshake with its own certificate (--cert / --key), which cannot hash to the
claimed fingerprint. If the handshake completes on its side it writes --say into the TLS stream (a
frame-shaped line is not needed: the point is whether the other side ever accepts it).
It keeps trying until --deadline. Every step is a JSON line on stdout; exit 0 always.

  fake_peer.py --port 42000 --peer 203.0.113.2:41000 --claim HEX --cert c.pem --key k.pem
               [--deadline 20] [--say TEXT]
"""
import argparse
import json
import socket
import ssl
import sys
import time

T0 = time.monotonic()
MAGIC = b"PUNCHLN1"


def log(event, **kw):
    print(json.dumps({"t": round(time.monotonic() - T0, 3), "event": event, **kw}), flush=True)


def recv_exact(s, n, timeout):
    s.settimeout(timeout)
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out

def skip_offer(s, wait=0.2):
    """A Punchline that knows us and only just started sends 'C' + its TLS ClientHello right
    after its preamble (an offer). As controller we open TLS ourselves ('N'), so the offer is
    read and dropped (exactly one TLS record) before our TLS starts."""
    s.settimeout(wait)
    try:
        first = s.recv(1, socket.MSG_PEEK)
    except (socket.timeout, BlockingIOError):
        return False
    if first != b"C":
        return False
    head = recv_exact(s, 6, 5)
    recv_exact(s, (head[4] << 8) | head[5], 5)
    return True


def connect_once(port, peer, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", port))
    s.settimeout(timeout)
    try:
        s.connect(peer)
        return s
    except OSError as e:
        s.close()
        return e


def session(s, args, claim):
    """One connection: preamble, nomination, TLS. Returns a short result string."""
    s.sendall(MAGIC + claim)
    pre = recv_exact(s, 40, 5)
    if pre[:8] != MAGIC:
        return "peer sent no preamble: %r" % pre[:16]
    theirs = pre[8:]
    log("preamble", peer_fingerprint=theirs.hex())
    controller = claim > theirs
    if controller:
        s.sendall(b"N")  # and the ClientHello follows at once (no acknowledgement byte)
        skip_offer(s)
        tls_client = True
    else:
        # 'N': the controller's ClientHello follows (we serve); 'n': it nominated early and
        # waits for our ClientHello.
        nomination = recv_exact(s, 1, 5)
        if nomination not in (b"N", b"n"):
            return "no nomination"
        tls_client = nomination == b"n"
    log("nominated", role="tls-client" if tls_client else "tls-server")
    if tls_client:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(args.cert, args.key)
    s.settimeout(10)
    tls = ctx.wrap_socket(s, server_side=not tls_client)  # s is detached from here on
    try:
        log("tls-handshake-done-here", version=tls.version())
        tls.sendall((args.say + "\n").encode())
        tls.settimeout(3)
        data = tls.recv(4096)  # the other side's answer, if it ever accepts us
        return "tls up, peer then sent %d bytes" % len(data)
    finally:
        tls.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--claim", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--deadline", type=float, default=20)
    ap.add_argument("--say", default="hello from the impostor")
    args = ap.parse_args()
    host, port = args.peer.rsplit(":", 1)
    peer = (host, int(port))
    claim = bytes.fromhex(args.claim)
    assert len(claim) == 32, "--claim needs 64 hex digits"
    attempts = sessions = 0
    while time.monotonic() - T0 < args.deadline:
        attempts += 1
        s = connect_once(args.port, peer, 1.0)
        if isinstance(s, OSError):
            time.sleep(0.2)
            continue
        sessions += 1
        log("tcp-connected", attempt=attempts)
        try:
            result = session(s, args, claim)
        except (OSError, ssl.SSLError, ConnectionError) as e:
            result = "%s: %s" % (type(e).__name__, e)
        finally:
            s.close()
        log("session-end", result=result)
        time.sleep(0.3)
    log("done", attempts=attempts, sessions=sessions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
