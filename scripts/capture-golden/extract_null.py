#!/usr/bin/env python3
"""Cuts the proxy recording of CaptureNull.java into fixtures.

    extract_null.py --golden DIR --log frames.jsonl --results results.tsv --srvr srvr.txt \
                    --java-version "..." --out fixtures/

Writes <label>_request.bin / <label>_response.bin for every request CaptureNull labelled,
connect_request.bin / connect_response.bin for the headerless handshake, ping_* for the first
ping if any; MANIFEST.tsv (file, direction, opcode, xid, description) and README.md.
Old *.bin in --out are removed first. Descriptions come from the main tooling's zkdecode.py
(imported by path, no bytecode written), extended here with reconfig (op 16).
"""

import argparse
import glob
import json
import os
import sys

sys.dont_write_bytecode = True
DIRS = {"c2s": "client->server", "s2c": "server->client"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--srvr", required=True)
    ap.add_argument("--server-log-excerpt", default=None)
    ap.add_argument("--java-version", required=True)
    ap.add_argument("--package-version", default="unknown")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    sys.path.insert(0, a.golden)
    import zkdecode

    # reconfig (op 16): ReconfigRequest{ustring joiningServers, ustring leavingServers,
    # ustring newMembers, long curConfigId}; success reply is a GetDataResponse.
    orig_req, orig_resp = zkdecode.request_body, zkdecode.response_body

    def request_body(op, r):
        if op == 16:
            return "joiningServers=%s leavingServers=%s newMembers=%s curConfigId=%d" % (
                zkdecode.q(r.str()), zkdecode.q(r.str()), zkdecode.q(r.str()), r.long())
        return orig_req(op, r)

    def response_body(op, r):
        if op == 16:
            return "data=%s %s" % (zkdecode.qb(r.buf()), zkdecode.fstat(r.stat()))
        return orig_resp(op, r)

    zkdecode.request_body, zkdecode.response_body = request_body, response_body

    frames = [json.loads(l) for l in open(a.log) if '"seq"' in l]
    results = dict(l.rstrip("\n").split("\t", 1) for l in open(a.results) if "\t" in l)
    conns = sorted({f["conn"] for f in frames})
    assert len(conns) == 1, "expected one connection, got %r" % conns

    pending = []       # (xid, op, base)
    files, rows, used = {}, [], set()
    n = {"c2s": 0, "s2c": 0}
    seen_ping = False
    for f in frames:
        frame = bytes.fromhex(f["hex"])
        assert int.from_bytes(frame[:4], "big", signed=True) == len(frame) - 4
        n[f["dir"]] += 1
        name = None
        if f["dir"] == "c2s":
            if n["c2s"] == 1:
                name, opcode, xid = "connect_request", "-", "-"
                desc = "ConnectRequest{%s}" % zkdecode.connect_request(frame[4:])
            else:
                xid, opcode, desc = zkdecode.request(frame)
                if f["label"]:
                    base = f["label"]
                elif opcode == 11:
                    base = None if seen_ping else "ping"
                    seen_ping = True
                else:
                    base = "unlabelled_op%d" % opcode
                pending.append((xid, opcode, base))
                name = base and base + "_request"
        else:
            if n["s2c"] == 1:
                name, opcode, xid = "connect_response", "-", "-"
                desc = "ConnectResponse{%s}" % zkdecode.connect_response(frame[4:])
            else:
                xid = int.from_bytes(frame[4:8], "big", signed=True)
                if xid == -1:
                    opcode = "-"
                    _, _, _, desc = zkdecode.reply(frame, None)
                    name = "notification_%d" % f["seq"]
                else:
                    match = [p for p in pending if p[0] == xid]
                    assert match, "reply xid %d answers no request" % xid
                    pending.remove(match[0])
                    _, opcode, base = match[0]
                    _, _, _, desc = zkdecode.reply(frame, opcode)
                    name = base and base + "_response"
        if name:
            assert name not in used, "duplicate fixture name " + name
            used.add(name)
            files[name + ".bin"] = frame
            rows.append((name + ".bin", DIRS[f["dir"]], str(opcode), str(xid), desc))
    assert not pending, "unanswered requests: %r" % pending

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

    srvr = open(a.srvr).read().splitlines()
    server_version = next((l.split(":", 1)[1].strip() for l in srvr if l.startswith("Zookeeper version")), "?")
    java_view = "\n".join("    %-26s %s" % (k, v) for k, v in results.items()
                          if not k.startswith(("java.", "zookeeper.", "session.")))
    server_excerpt = ""
    if a.server_log_excerpt and os.path.exists(a.server_log_excerpt):
        server_excerpt = open(a.server_log_excerpt).read().rstrip()
    readme = README.format(
        server_version=server_version, client_version=results.get("zookeeper.version", "?"),
        java_version=a.java_version.strip(), package_version=a.package_version,
        session_id=results.get("session.id", "?"), session_passwd=results.get("session.passwd", "?"),
        java_view=java_view, server_excerpt=server_excerpt or "    (nothing logged)")
    with open(os.path.join(a.out, "README.md"), "w") as fh:
        fh.write(readme)
    print("wrote %d fixtures to %s" % (len(files), a.out))


README = """# Golden frames with jute nulls (Java client -> standalone server)

Every `*.bin` is one **whole frame** exactly as it crossed the wire (4-byte big-endian length
prefix included), recorded between the **real Java client** and the **real Java server**.
Nothing here was written by hand. Same file format and `MANIFEST.tsv` columns as
`zk-proto/tests/fixtures/` (`file`, `direction`, `opcode`, `xid`, `description`; for replies
`opcode` is that of the request answered, `-` for the headerless connect frames).

## How they were captured

    scripts/capture-golden/capture.sh null

It starts a standalone server in a temp dir on a free loopback port (`tickTime=2000`,
`admin.enableServer=false`, `4lw.commands.whitelist=*`, reconfig left at its default
`reconfigEnabled=false`), runs the recording proxy `scripts/capture-golden/proxy.py`, compiles and runs `CaptureNull.java` through it, cuts the recording with
`extract_null.py`, and checks the null encodings with `check_null.py`. Server, proxy and temp
dir are cleaned up on exit (`KEEP_WORK=1` keeps the temp dir).

- Server: ZooKeeper {server_version} (`srvr`), Debian package `zookeeper` {package_version},
  `java -cp /usr/share/java/zookeeper.jar org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg`
- Client: `org.apache.zookeeper.admin.ZooKeeperAdmin` (a `ZooKeeper` subclass) from the same jar,
  `Version.getFullVersion()` = {client_version}
- Java: {java_version}
- Session: id {session_id}, password {session_passwd}, requested timeout 10000 ms.

## What the capture does (one session, one TCP connection)

connect; create `/null-data` with `null` data (OPEN_ACL_UNSAFE, PERSISTENT); create `/empty-data`
with `new byte[0]`; getData(`/null-data`, false, stat); getData(`/empty-data`, false, stat);
setData(`/empty-data`, null, -1); getData(`/empty-data`, false, stat);
`reconfigure(null, "3", null, -1, stat)` (incremental); `reconfigure(null, null,
"server.1=127.0.0.1:2888:3888;2181", -1, stat)` (non-incremental); close.

What the Java API returned:

{java_view}

Server log lines mentioning reconfig:

{server_excerpt}

## Null encodings shown here

- A null `buffer` and a null `ustring` are both written by the Java client as the i32 length
  `-1` (`ff ff ff ff`) with no bytes after it; an empty buffer is length `0`.
- The server stores `null` data as null and returns it as length `-1` in GetDataResponse,
  with `Stat.dataLength = 0`; empty data comes back as length `0`, also `dataLength = 0`.
- Reconfig errors are a bare 16-byte ReplyHeader (no body).

## Fields that vary between captures

Session id/password (connect frames) and `ctime`/`mtime` in every Stat. Xids and zxids are
deterministic on a fresh data dir.
"""

if __name__ == "__main__":
    main()
