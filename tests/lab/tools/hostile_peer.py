#!/usr/bin/env python3
"""Hostile and scripted Punchline peers for black-box tests of punchline-cli (loopback).

Python's standard library only (ssl, socket, hashlib) plus the `openssl` command for making a
certificate. It speaks Punchline's wire exactly as the real program does:
  1. clear text: "PUNCHLN1" + SHA-256 of the sender's DER certificate (32 bytes), both ways;
  2. the side with the larger fingerprint (the controller) nominates the connection with one
     byte: 'N' (its TLS ClientHello follows: it is the TLS client) or 'n' (early: the other
     side opens TLS);
  3. TLS 1.3, ALPN "punchline/1", self-signed certificates, both sides present one;
  4. frames: u32 length | u16 type | CBOR payload (Hello first: v, min, caps, name, sid).

Subcommands (every step is a JSON line on stdout; see --help of each):
  mkcert DIR                  make DIR/cert.pem + DIR/key.pem (EC P-256), print the fingerprint
  fingerprint CERT            print the fingerprint (64 hex digits) of a PEM certificate
  code --cert C --addr A ...  print a Punchline code (PL1-...) for a certificate and addresses
  impostor                    claim someone else's fingerprint, finish TLS with our own cert,
                              again and again (only the TLS proof can tell)
  peer                        a real Punchline peer with its own identity: session, Hello,
                              chat, pings; optional stall before TLS, ping flood without reading
  junk                        many short connections that send junk (random, HTTP, wrong magic)
  silent                      many connections that send nothing and stay open
"""
import argparse
import binascii
import hashlib
import json
import os
import queue
import random
import select
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

T0 = time.monotonic()
MAGIC = b"PUNCHLN1"
ALPN = "punchline/1"

HELLO, PING, PONG, CHAT, CHAT_ACK, DONE, BYE = 1, 2, 3, 4, 5, 6, 7

_print_lock = threading.Lock()


def log(event, **kw):
    with _print_lock:
        print(json.dumps({"t": round(time.monotonic() - T0, 3), "event": event, **kw}),
              flush=True)


# --- identity ----------------------------------------------------------------------------------

def mkcert(directory, cn="Punchline"):
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "3650", "-subj", "/CN=" + cn, "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def fingerprint_of(cert_path):
    """SHA-256 of the DER certificate: Identity::fingerprintOf (Sha256::hash(cert.toDer()))."""
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).digest()


# --- peer code (core/identity/peercode.cpp) ------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(data):
    out, buf, bits = [], 0, 0
    for b in data:
        buf = (buf << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append(ALPHABET[(buf >> bits) & 31])
    if bits > 0:
        out.append(ALPHABET[(buf << (5 - bits)) & 31])
    return "".join(out)


def make_code(fingerprint, name, addresses):
    """PL1-<base32(payload)><base32(crc32 BE)>; payload: version 1 | fp | name | candidates."""
    payload = bytearray([1]) + fingerprint
    nb = name.encode()[:64]
    payload += bytes([len(nb)]) + nb
    payload.append(len(addresses))
    for host, port in addresses:
        payload += bytes([4]) + socket.inet_aton(host) + struct.pack(">H", port)
    crc = binascii.crc32(bytes(payload)) & 0xFFFFFFFF
    return "PL1-" + _base32(bytes(payload)) + _base32(struct.pack(">I", crc))


# --- CBOR (the few shapes the session uses) -----------------------------------------------------

def _head(major, n):
    if n < 24:
        return bytes([(major << 5) | n])
    if n < 0x100:
        return bytes([(major << 5) | 24, n])
    if n < 0x10000:
        return bytes([(major << 5) | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([(major << 5) | 26]) + struct.pack(">I", n)
    return bytes([(major << 5) | 27]) + struct.pack(">Q", n)


def cbor(v):
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode("utf-8")
        return _head(3, len(b)) + b
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(type(v))


def cbor_decode(data, pos=0):
    """Minimal decoder (ints, strings, bytes, arrays, maps): returns (value, next position)."""
    ib = data[pos]
    major, info = ib >> 5, ib & 31
    pos += 1
    if info < 24:
        n = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        n = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    else:
        raise ValueError("unsupported CBOR item 0x%02x" % ib)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major == 2:
        return bytes(data[pos:pos + n]), pos + n
    if major == 3:
        return bytes(data[pos:pos + n]).decode("utf-8", "replace"), pos + n
    if major == 4:
        out = []
        for _ in range(n):
            v, pos = cbor_decode(data, pos)
            out.append(v)
        return out, pos
    if major == 5:
        out = {}
        for _ in range(n):
            k, pos = cbor_decode(data, pos)
            v, pos = cbor_decode(data, pos)
            out[k] = v
        return out, pos
    if major == 7:
        return {20: False, 21: True, 22: None}.get(info), pos
    raise ValueError("unsupported CBOR major type %d" % major)


def frame(ftype, payload):
    return struct.pack(">IH", len(payload), ftype) + payload


def hello_frame(name):
    return frame(HELLO, cbor({"v": 1, "min": 1, "caps": [], "name": name, "sid": os.urandom(16)}))


def chat_frame(text, msg_id=None):
    msg_id = msg_id or "hp-%08x" % random.getrandbits(32)
    return frame(CHAT, cbor({"id": msg_id, "t": int(time.time() * 1000), "text": text})), msg_id


def ping_frame(nonce, t=0):
    return frame(PING, cbor({"n": nonce, "t": t}))


# --- sockets ------------------------------------------------------------------------------------

def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def bound_socket(bind, rcvbuf=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if bind:
        s.bind(bind)
    return s


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


def connect_from(bind, target, timeout, rcvbuf=0):
    s = bound_socket(bind, rcvbuf)
    s.settimeout(timeout)
    try:
        s.connect(target)
        return s
    except OSError as e:
        s.close()
        return e


def tls_context(server, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if not server:
        ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols([ALPN])
    return ctx


def preamble_and_nomination(s, ours, claim_timeout=5):
    """Sends our preamble (ours = the fingerprint we claim), reads theirs, plays the nomination.
    Returns (their fingerprint, True if we are the TLS client)."""
    s.sendall(MAGIC + ours)
    pre = recv_exact(s, 40, claim_timeout)
    if pre[:8] != MAGIC:
        raise ConnectionError("peer sent no preamble: %r" % pre[:16])
    theirs = pre[8:]
    if ours > theirs:
        s.sendall(b"N")  # controller: our ClientHello follows at once
        skip_offer(s)
        return theirs, True
    nomination = recv_exact(s, 1, claim_timeout)
    if nomination not in (b"N", b"n"):
        raise ConnectionError("unexpected nomination byte %r" % nomination)
    return theirs, nomination == b"n"


class FrameReader:
    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 6:
            length, ftype = struct.unpack(">IH", self.buf[:6])
            if len(self.buf) < 6 + length:
                break
            out.append((ftype, self.buf[6:6 + length]))
            self.buf = self.buf[6 + length:]
        return out


# --- impostor -----------------------------------------------------------------------------------

def cmd_impostor(a):
    target = parse_addr(a.target)
    claim = bytes.fromhex(a.claim)
    assert len(claim) == 32, "--claim needs 64 hex digits"
    bind = (a.bind_ip, a.bind_port)
    attempts = tls_done = 0
    while time.monotonic() - T0 < a.deadline:
        attempts += 1
        s = connect_from(bind, target, 1.0)
        if isinstance(s, OSError):
            time.sleep(a.interval)
            continue
        local = "%s:%d" % s.getsockname()[:2]
        try:
            theirs, tls_client = preamble_and_nomination(s, claim)
            log("nominated", local=local, peer_fingerprint=theirs.hex(),
                role="tls-client" if tls_client else "tls-server")
            ctx = tls_context(not tls_client, a.cert, a.key)
            s.settimeout(10)
            tls = ctx.wrap_socket(s, server_side=not tls_client)
            tls_done += 1
            log("tls-done-here", local=local, alpn=tls.selected_alpn_protocol())
            try:
                tls.sendall(hello_frame("impostor") + chat_frame(a.say)[0])
                tls.settimeout(2)
                data = tls.recv(4096)
                result = "tls up, peer then sent %d bytes" % len(data)
            finally:
                tls.close()
        except (OSError, ssl.SSLError, ConnectionError) as e:
            result = "%s: %s" % (type(e).__name__, e)
        finally:
            s.close()
        log("attempt-end", attempt=attempts, local=local, result=result)
        time.sleep(a.interval)
    log("done", attempts=attempts, tls_done=tls_done)
    return 0


# --- a real peer --------------------------------------------------------------------------------

def get_connection(a, target, bind):
    """Like the real program: listen on our port and dial the target from it; first wins."""
    got = queue.Queue()
    stop = threading.Event()
    listener = None
    if a.listen and bind[1]:
        listener = bound_socket(bind)
        listener.listen(8)
        listener.settimeout(0.2)

        def accept_loop():
            while not stop.is_set():
                try:
                    c, addr = listener.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                got.put((c, "incoming"))

        threading.Thread(target=accept_loop, daemon=True).start()
    deadline = T0 + a.deadline
    try:
        while time.monotonic() < deadline:
            try:
                return got.get_nowait()
            except queue.Empty:
                pass
            if a.dial:
                s = connect_from(bind, target, 1.0, a.rcvbuf)
                if not isinstance(s, OSError):
                    return s, "outgoing"
            time.sleep(0.1)
        return None, None
    finally:
        stop.set()
        if listener:
            listener.close()


def cmd_peer(a):
    target = parse_addr(a.target)
    bind = (a.bind_ip, a.bind_port)
    ours = fingerprint_of(a.cert)
    log("identity", fingerprint=ours.hex())
    while time.monotonic() - T0 < a.deadline:
        s, direction = get_connection(a, target, bind)
        if s is None:
            break
        if a.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
        try:
            local = "%s:%d" % s.getsockname()[:2]
            theirs, tls_client = preamble_and_nomination(s, ours)
            log("nominated", direction=direction, local=local, peer_fingerprint=theirs.hex(),
                role="tls-client" if tls_client else "tls-server")
        except (OSError, ConnectionError) as e:
            log("setup-failed", error="%s: %s" % (type(e).__name__, e))
            s.close()
            time.sleep(0.2)
            continue
        if a.stall_until or a.stall:
            # Keep the nominated connection waiting in front of TLS.
            end = time.monotonic() + (a.stall if a.stall else a.stall_max)
            log("stalling")
            while time.monotonic() < end:
                if a.stall_until and os.path.exists(a.stall_until):
                    break
                time.sleep(0.05)
            log("stall-over")
        try:
            ctx = tls_context(not tls_client, a.cert, a.key)
            s.settimeout(10)
            tls = ctx.wrap_socket(s, server_side=not tls_client)
        except (OSError, ssl.SSLError) as e:
            log("tls-failed", error="%s: %s" % (type(e).__name__, e))
            s.close()
            if a.once:
                break
            time.sleep(0.2)
            continue
        log("tls-up", alpn=tls.selected_alpn_protocol(), version=tls.version())
        return run_session(a, tls)
    log("done", result="no session")
    return 1


def run_session(a, tls):
    lock = threading.Lock()
    closed = threading.Event()
    hello_seen = threading.Event()

    def send(data):
        with lock:
            tls.sendall(data)

    def reader():
        fr = FrameReader()
        try:
            while not closed.is_set():
                tls.settimeout(0.5)
                try:
                    data = tls.recv(65536)
                except socket.timeout:
                    continue
                except ssl.SSLWantReadError:
                    continue
                if not data:
                    break
                for ftype, payload in fr.feed(data):
                    try:
                        msg, _ = cbor_decode(payload) if payload else ({}, 0)
                    except (ValueError, IndexError):
                        msg = {"raw": payload.hex()}
                    if ftype == HELLO:
                        log("hello", name=msg.get("name"))
                        hello_seen.set()
                    elif ftype == PING:
                        send(frame(PONG, payload))
                    elif ftype == CHAT:
                        log("message", id=msg.get("id"), text=msg.get("text"))
                        send(frame(CHAT_ACK, cbor({"id": msg.get("id")})))
                    elif ftype == CHAT_ACK:
                        log("delivered", id=msg.get("id"))
                    elif ftype == BYE:
                        log("bye", reason=msg.get("reason"))
                    elif ftype == DONE:
                        send(frame(DONE, cbor({})))
        except (OSError, ssl.SSLError) as e:
            log("read-error", error="%s: %s" % (type(e).__name__, e))
        closed.set()
        log("closed")

    try:
        send(hello_frame(a.name))
        if not a.no_read:
            threading.Thread(target=reader, daemon=True).start()
            end = time.monotonic() + 10
            while time.monotonic() < end and not hello_seen.is_set() and not closed.is_set():
                hello_seen.wait(0.05)
        for text in a.say:
            data, msg_id = chat_frame(text)
            send(data)
            log("sent", id=msg_id, text=text)
        if a.ping_flood_mb:
            ping_flood(a, tls)
        end = time.monotonic() + a.hold
        while time.monotonic() < end and not closed.is_set():
            time.sleep(0.1)
    except (OSError, ssl.SSLError) as e:
        log("write-error", error="%s: %s" % (type(e).__name__, e))
    closed.set()
    try:
        tls.close()
    except OSError:
        pass
    log("done", result="session")
    return 0


def ping_flood(a, tls):
    """Pings as fast as the other side takes them; we never read its pongs."""
    # Large nonces and times: each pong is as big as the ping it answers.
    one = ping_frame((1 << 62) + 12345, (1 << 62) + 678)
    chunk = one * (65536 // len(one))
    goal = a.ping_flood_mb * 1024 * 1024
    sent = 0
    next_report = 0
    tls.settimeout(a.flood_stall)
    start = time.monotonic()
    try:
        while sent < goal and time.monotonic() - T0 < a.deadline:
            tls.sendall(chunk)
            sent += len(chunk)
            if sent >= next_report:
                log("flood-progress", mb=round(sent / 1048576, 1),
                    seconds=round(time.monotonic() - start, 1))
                next_report += 10 * 1024 * 1024
        log("flood-done", mb=round(sent / 1048576, 1), seconds=round(time.monotonic() - start, 1))
    except socket.timeout:
        log("flood-stalled", mb=round(sent / 1048576, 1),
            seconds=round(time.monotonic() - start, 1))
    except (OSError, ssl.SSLError) as e:
        log("flood-ended", mb=round(sent / 1048576, 1), error="%s: %s" % (type(e).__name__, e),
            seconds=round(time.monotonic() - start, 1))
        raise


# --- strangers ----------------------------------------------------------------------------------

def junk_payload(kind, i):
    if kind == "random":
        return os.urandom(48)
    if kind == "http":
        return b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    if kind == "magic":
        return b"PUNCHLN2" + os.urandom(32)
    if kind == "tls":
        return b"\x16\x03\x01\x00\x05" + os.urandom(5)
    raise ValueError(kind)


def cmd_junk(a):
    """--count short connections from --parallel threads: connect, send junk, read what comes
    back for a moment (the other side's preamble, or its close), close."""
    target = parse_addr(a.target)
    kinds = a.kinds.split(",")
    counter = iter(range(a.count))
    lock = threading.Lock()
    stats = {"sent": 0, "failed": 0, "closed_by_peer": 0}

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                if a.bind_ip:
                    s.bind((a.bind_ip, 0))
                s.settimeout(3)
                s.connect(target)
                s.sendall(junk_payload(kinds[i % len(kinds)], i))
                with lock:
                    stats["sent"] += 1
                s.settimeout(a.linger)
                try:
                    while s.recv(4096):
                        pass
                    with lock:
                        stats["closed_by_peer"] += 1
                except (socket.timeout, OSError):
                    pass
            except OSError:
                with lock:
                    stats["failed"] += 1
            finally:
                s.close()
            if a.rate:
                time.sleep(a.parallel / a.rate)

    threads = [threading.Thread(target=worker) for _ in range(a.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log("junk-done", seconds=round(time.monotonic() - T0, 1), **stats)
    return 0


def cmd_silent(a):
    """Keeps --count silent connections open or opening (non-blocking connects; any the other
    side closes or refuses is opened again, at most --reopen-rate per second)."""
    target = parse_addr(a.target)
    socks = set()
    connected = set()
    opened = closed_by_peer = refused = 0
    end = time.monotonic() + a.duration
    last_report = 0
    budget, budget_t = float(a.count), time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic()
        budget = min(float(a.count), budget + (now - budget_t) * a.reopen_rate)
        budget_t = now
        while len(socks) < a.count and budget >= 1:
            budget -= 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if a.bind_ip:
                s.bind((a.bind_ip, 0))
            s.setblocking(False)
            s.connect_ex(target)
            socks.add(s)
        pending = [s for s in socks if s not in connected]
        r, w, _ = select.select(list(socks), pending, [], 0.05)
        for s in w:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                socks.discard(s)
                s.close()
                refused += 1
            else:
                connected.add(s)
                opened += 1
        for s in r:
            if s not in socks:
                continue
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:  # closed by the other side
                socks.discard(s)
                connected.discard(s)
                s.close()
                closed_by_peer += 1
        if time.monotonic() - last_report > 1:
            last_report = time.monotonic()
            log("silent", open=len(connected), opening=len(socks) - len(connected),
                opened=opened, closed_by_peer=closed_by_peer, refused=refused)
            if a.ready_file and not os.path.exists(a.ready_file) and len(connected) >= a.count:
                open(a.ready_file, "w").close()
    for s in socks:
        s.close()
    log("silent-done", opened=opened, closed_by_peer=closed_by_peer, refused=refused)
    return 0


# --- main ---------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("mkcert")
    p.add_argument("dir")
    p.add_argument("--cn", default="Punchline")

    p = sub.add_parser("fingerprint")
    p.add_argument("cert")

    p = sub.add_parser("code")
    p.add_argument("--cert", required=True)
    p.add_argument("--name", default="Mallory")
    p.add_argument("--addr", action="append", default=[], help="HOST:PORT (repeatable)")

    p = sub.add_parser("impostor")
    p.add_argument("--target", required=True, help="the victim's HOST:PORT")
    p.add_argument("--claim", required=True, help="the fingerprint to claim (64 hex digits)")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--bind-ip", default="127.0.0.1")
    p.add_argument("--bind-port", type=int, default=0, help="0: a new port per attempt")
    p.add_argument("--deadline", type=float, default=10)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--say", default="hello from the impostor")

    p = sub.add_parser("peer")
    p.add_argument("--target", required=True, help="the other side's HOST:PORT")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--bind-ip", default="127.0.0.1")
    p.add_argument("--bind-port", type=int, default=0)
    p.add_argument("--no-listen", dest="listen", action="store_false")
    p.add_argument("--no-dial", dest="dial", action="store_false")
    p.add_argument("--name", default="Mallory")
    p.add_argument("--deadline", type=float, default=30)
    p.add_argument("--once", action="store_true", help="give up after one failed TLS attempt")
    p.add_argument("--stall", type=float, default=0, help="seconds to wait before TLS")
    p.add_argument("--stall-until", help="wait before TLS until this file exists")
    p.add_argument("--stall-max", type=float, default=20)
    p.add_argument("--say", action="append", default=[])
    p.add_argument("--hold", type=float, default=5, help="seconds to stay after sending")
    p.add_argument("--no-read", action="store_true", help="never read from the other side")
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF for our socket")
    p.add_argument("--ping-flood-mb", type=int, default=0)
    p.add_argument("--flood-stall", type=float, default=5,
                   help="stop flooding when a write blocks this long")

    p = sub.add_parser("junk")
    p.add_argument("--target", required=True)
    p.add_argument("--count", type=int, default=900)
    p.add_argument("--kinds", default="random,http,magic")
    p.add_argument("--bind-ip", default="")
    p.add_argument("--parallel", type=int, default=16)
    p.add_argument("--linger", type=float, default=0.3,
                   help="seconds to wait for the other side's answer or close")
    p.add_argument("--rate", type=float, default=0, help="connections per second (0: no limit)")

    p = sub.add_parser("silent")
    p.add_argument("--target", required=True)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--bind-ip", default="")
    p.add_argument("--ready-file")
    p.add_argument("--reopen-rate", type=float, default=200)

    a = ap.parse_args()
    if a.cmd == "mkcert":
        cert, _ = mkcert(a.dir, a.cn)
        print(fingerprint_of(cert).hex())
        return 0
    if a.cmd == "fingerprint":
        print(fingerprint_of(a.cert).hex())
        return 0
    if a.cmd == "code":
        print(make_code(fingerprint_of(a.cert), a.name, [parse_addr(x) for x in a.addr]))
        return 0
    return {"impostor": cmd_impostor, "peer": cmd_peer, "junk": cmd_junk,
            "silent": cmd_silent}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
