#!/usr/bin/env python3
"""Cuts the proxy recording (frames.jsonl) into golden fixtures.

    extract.py --log frames.jsonl --results results.tsv --srvr srvr.txt \
               --java-version "..." --out zk-proto/tests/fixtures

Writes <name>.bin (one whole frame each, 4-byte length prefix included), MANIFEST.tsv,
TRANSCRIPT.tsv (every frame of the capture in order, including the ones not kept as
.bin files), JAVA_CLIENT_VIEW.tsv (what Capture.java got back from the Java API) and
README.md (from README.fixtures.md). Old *.bin files in --out are removed first.

Naming: requests labelled by Capture.java are <label>_request.bin and their replies
<label>_response.bin. Unlabelled frames: connect_* (first connection), reconnect_*
(second connection), auth_* / reconnect_auth_* (xid -4), set_watches_* (op 101),
ping_* (first ping only). Notifications: the first one is watch_notification.bin, the
others <name of the request whose reply they precede>_notification_<event>.bin.
"""

import argparse
import glob
import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkdecode  # noqa: E402

DIRS = {"c2s": "client->server", "s2c": "server->client"}


def slug(s):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", s).lower()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--srvr", required=True)
    ap.add_argument("--java-version", required=True)
    ap.add_argument("--package-version", default="unknown")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    frames = [json.loads(l) for l in open(a.log) if '"seq"' in l]
    results = dict(l.rstrip("\n").split("\t", 1) for l in open(a.results) if "\t" in l)

    conns = {}          # conn -> {"n_c2s", "n_s2c", "pending": [(xid, op, name)]}
    used = set()
    rows = []           # manifest rows
    transcript = []
    files = {}
    first_conn = min(f["conn"] for f in frames)
    seen_ping = False
    seen_notification = False

    def claim(name):
        base, i = name, 2
        while name in used:
            name = "%s_%d" % (base, i)
            i += 1
        used.add(name)
        return name

    for f in frames:
        c = conns.setdefault(f["conn"], {"n_c2s": 0, "n_s2c": 0, "pending": []})
        frame = bytes.fromhex(f["hex"])
        assert int.from_bytes(frame[:4], "big", signed=True) == len(frame) - 4
        prefix = "connect" if f["conn"] == first_conn else "reconnect"
        name = None
        if f["dir"] == "c2s":
            c["n_c2s"] += 1
            if c["n_c2s"] == 1:
                name = claim(prefix + "_request")
                opcode, xid, desc = "-", "-", "ConnectRequest{%s}" % zkdecode.connect_request(frame[4:])
            else:
                xid, op, desc = zkdecode.request(frame)
                opcode = op
                if f["label"]:
                    base = f["label"]
                elif op == 100:
                    base = "auth" if f["conn"] == first_conn else "reconnect_auth"
                elif op == 101:
                    base = "set_watches"
                elif op == 11:
                    base = None if seen_ping else "ping"
                    seen_ping = True
                else:
                    base = "unlabelled_op%d" % op
                c["pending"].append((xid, op, base))
                if base:
                    name = claim(base + "_request")
        else:
            c["n_s2c"] += 1
            if c["n_s2c"] == 1:
                name = claim(prefix + "_response")
                opcode, xid, desc = "-", "-", "ConnectResponse{%s}" % zkdecode.connect_response(frame[4:])
            else:
                xid = int.from_bytes(frame[4:8], "big", signed=True)
                if xid == -1:
                    _, _, _, desc = zkdecode.reply(frame, None)
                    opcode = "-"
                    event = int.from_bytes(frame[20:24], "big", signed=True)
                    if not seen_notification:
                        name = claim("watch_notification")
                    else:
                        # name it after the oldest outstanding request other than ping/auth
                        ctx = next((p[2] for p in c["pending"] if p[1] not in (11, 100)), None)
                        ev = slug(zkdecode.EVENTS.get(event, "event%d" % event))
                        name = claim("%s_notification_%s" % (ctx, ev) if ctx else "notification_" + ev)
                    seen_notification = True
                else:
                    match = [p for p in c["pending"] if p[0] == xid]
                    assert match, "reply xid %d answers no request" % xid
                    rxid, op, base = match[0]
                    c["pending"].remove(match[0])
                    opcode = op
                    _, _, _, desc = zkdecode.reply(frame, op)
                    if base:
                        name = claim(base + "_response")
        if name:
            files[name + ".bin"] = frame
            rows.append((name + ".bin", DIRS[f["dir"]], str(opcode), str(xid), desc))
        transcript.append((str(f["seq"]), str(f["conn"]), DIRS[f["dir"]],
                           (name + ".bin") if name else "-", f["hex"]))

    for c in conns.values():
        assert not c["pending"], "unanswered requests: %r" % c["pending"]

    os.makedirs(a.out, exist_ok=True)
    for old in glob.glob(os.path.join(a.out, "*.bin")):
        os.remove(old)
    for name, frame in files.items():
        with open(os.path.join(a.out, name), "wb") as fh:
            fh.write(frame)
    with open(os.path.join(a.out, "MANIFEST.tsv"), "w") as fh:
        fh.write("file\tdirection\topcode\txid\tdescription\n")
        for r in rows:
            fh.write("\t".join(r) + "\n")
    with open(os.path.join(a.out, "TRANSCRIPT.tsv"), "w") as fh:
        fh.write("seq\tconn\tdirection\tfile\tframe_hex\n")
        for r in transcript:
            fh.write("\t".join(r) + "\n")

    # What the Java client itself decoded from these frames (verify.py cross-checks it).
    with open(os.path.join(a.out, "JAVA_CLIENT_VIEW.tsv"), "w") as fh:
        fh.write("key\tvalue\n")
        fh.write(open(a.results).read())

    srvr = open(a.srvr).read().splitlines()
    server_version = next((l.split(":", 1)[1].strip() for l in srvr if l.startswith("Zookeeper version")), "?")
    tmpl = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.fixtures.md")).read()
    readme = (tmpl.replace("@SERVER_VERSION@", server_version)
                  .replace("@CLIENT_VERSION@", results.get("zookeeper.version", "?"))
                  .replace("@JAVA_VERSION@", a.java_version.strip())
                  .replace("@PACKAGE_VERSION@", a.package_version)
                  .replace("@SESSION_ID@", results.get("session.id", "?"))
                  .replace("@SESSION_PASSWD@", results.get("session.passwd", "?")))
    with open(os.path.join(a.out, "README.md"), "w") as fh:
        fh.write(readme)
    print("wrote %d fixtures to %s" % (len(files), a.out))


if __name__ == "__main__":
    main()
