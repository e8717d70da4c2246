#!/usr/bin/env python3
"""A hostile OpenDHT node for the lab (python3-opendht): it joins the lab's DHT like any node,
learns which keys are in use from its own storage (with a handful of nodes every node stores
every key, as a real node near a key would), keeps a copy of every value it has seen there,
and then, again and again:
  - replays every captured value at its key (with a fresh value id, so the old copy sits next to
    the current one and every listener gets it again, and with its original id, which may
    replace the current copy in the storing nodes);
  - floods every key with junk values: random bytes of record-like sizes (284, 540, 796 bytes),
    short, maximal (1024) and oversized (2000) ones, and captured values with flipped bytes.
It should join before the values it is to capture are put (OpenDHT hands stored values to a
new node only when they are refreshed). Every action is one JSON line on stdout; the last line is a summary with the counts.

    dht_hostile.py --bootstrap IP:PORT --port N --seconds S [--junk-per-key K] [--period P]
                   [--attack-file FILE] [--expect-nodes N]
Never run it outside a lab namespace: it talks to whatever DHT node it is given.
"""
import argparse
import json
import os
import random
import re
import sys
import time

import opendht as dht


def say(**kw):
    print(json.dumps(kw), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--port", type=int, default=4333)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--period", type=float, default=3)
    ap.add_argument("--junk-per-key", type=int, default=8)
    ap.add_argument("--attack-file", default="",
                    help="only learn keys and values until this file exists, then attack")
    ap.add_argument("--expect-nodes", type=int, default=1,
                    help="say 'joined' once this many nodes answered it (at most 30 s)")
    a = ap.parse_args()
    host, port = a.bootstrap.rsplit(":", 1)
    node = dht.DhtRunner()
    node.run(port=a.port)
    node.bootstrap(host, port)
    say(event="started", id=node.getNodeId().decode(), port=a.port)
    # The test starts the friends only after this: a value put before the other nodes know this
    # one is never stored here (see above).
    join_by = time.time() + 30
    good = 0
    while time.time() < join_by:
        good = node.getRoutingTablesLog(2).count("[good]")
        if good >= a.expect_nodes:
            break
        time.sleep(0.2)
    say(event="joined", good_nodes=good)
    captured = {}  # key hex -> {data bytes: original id}
    counts = {"keys": 0, "captured": 0, "replayed": 0, "junk": 0, "rounds": 0}
    end = time.time() + a.seconds
    while time.time() < end:
        log = node.getStorageLog()
        keys = set(re.findall(r"^Storage ([0-9a-f]{40}) ", log, re.M))
        total = re.search(r"^Total .*$", log, re.M)
        counts["storage"] = total.group(0) if total else ""
        counts["good_nodes"] = node.getRoutingTablesLog(2).count("[good]")
        for k in sorted(keys):
            h = dht.InfoHash(k.encode())
            mine = captured.setdefault(k, {})
            for v in node.get(h):
                data = bytes(v.data)
                if data not in mine and len(mine) < 64:
                    mine[data] = v.id
                    counts["captured"] += 1
                    say(event="captured", key=k, bytes=len(data), id=str(v.id))
        counts["keys"] = len(captured)
        if not a.attack_file or os.path.exists(a.attack_file):
            counts["rounds"] += 1
            for k, values in captured.items():
                h = dht.InfoHash(k.encode())
                for data, vid in list(values.items()):
                    for new_id in (True, False):
                        v = dht.Value(data)
                        if not new_id:
                            v.id = vid
                        node.put(h, v, lambda *x: None)
                        counts["replayed"] += 1
                    flipped = bytearray(data)
                    if flipped:
                        flipped[random.randrange(len(flipped))] ^= 0x40
                        node.put(h, dht.Value(bytes(flipped)), lambda *x: None)
                        counts["junk"] += 1
                for _ in range(a.junk_per_key):
                    size = random.choice([1, 16, 284, 540, 796, 1024, 2000])
                    node.put(h, dht.Value(os.urandom(size)), lambda *x: None)
                    counts["junk"] += 1
            say(event="round", **counts)
        time.sleep(a.period)
    say(event="summary", **counts)
    node.join()


if __name__ == "__main__":
    sys.exit(main())
