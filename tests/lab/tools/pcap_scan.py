#!/usr/bin/env python3
"""Scan a pcap (tcpdump -w, Ethernet, Linux cooked v1 or v2) for needles in UDP payloads.

    pcap_scan.py FILE [--hex HEX]... [--text TEXT]...
--hex: raw bytes given in hex (also searched as lower- and upper-case hex text);
--text: UTF-8 text. Prints one JSON object: udp packets and bytes seen, and every hit
(needle, packet number, source, destination). Exit 0 if no needle was found, 1 if one was,
2 if the file could not be read.
"""
import argparse
import json
import socket
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise ValueError("short pcap header")
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise ValueError("not a pcap file")
        linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack(endian + "IIII", rec)[2]
            yield linktype, f.read(incl)


def ipv4_of(linktype, frame):
    if linktype == 1:  # Ethernet
        off, proto = 14, struct.unpack(">H", frame[12:14])[0]
    elif linktype == 113:  # Linux cooked v1
        off, proto = 16, struct.unpack(">H", frame[14:16])[0]
    elif linktype == 276:  # Linux cooked v2
        off, proto = 20, struct.unpack(">H", frame[0:2])[0]
    elif linktype in (101, 12):  # raw IP
        off, proto = 0, 0x0800
    else:
        return None
    return frame[off:] if proto == 0x0800 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--hex", action="append", default=[])
    ap.add_argument("--text", action="append", default=[])
    a = ap.parse_args()
    needles = []
    for h in a.hex:
        raw = bytes.fromhex(h)
        needles += [("raw:" + h, raw), ("hex:" + h, h.lower().encode()),
                    ("HEX:" + h, h.upper().encode())]
    for t in a.text:
        needles.append(("text:" + t, t.encode()))
    udp = udp_bytes = 0
    hits = []
    try:
        for n, (linktype, frame) in enumerate(packets(a.file)):
            ip = ipv4_of(linktype, frame)
            if not ip or len(ip) < 20 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            payload = ip[ihl + 8:]
            udp += 1
            udp_bytes += len(payload)
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
            for name, needle in needles:
                if needle in payload and len(hits) < 50:
                    hits.append({"needle": name, "packet": n, "from": f"{src}:{sport}",
                                 "to": f"{dst}:{dport}"})
    except (OSError, ValueError) as e:
        print(json.dumps({"error": str(e)}))
        return 2
    print(json.dumps({"udp_packets": udp, "udp_payload_bytes": udp_bytes, "hits": hits}))
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
