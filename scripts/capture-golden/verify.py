#!/usr/bin/env python3
"""Independent check of the golden fixtures (python3 stdlib only).

    verify.py [--fixtures zk-proto/tests/fixtures] [--results results.tsv]

Decodes every fixture with its own schema-driven jute decoder (it does not share code
with extract.py / zkdecode.py), checks that each frame's length prefix matches its size
and that the record consumes the body exactly, that the MANIFEST's opcode/xid columns
match the bytes, and asserts the decoded values against (a) what the Java client itself
returned (JAVA_CLIENT_VIEW.tsv, written by Capture.java) and (b) the claims of
/work/shared/PROTOCOL.md that this capture can test. Prints one line per fixture and
exits non-zero on any failure.
"""

import argparse
import os
import struct
import sys

# ---- schema-driven jute decoder --------------------------------------------------------
ID = [("scheme", "ustring"), ("id", "ustring")]
ACL = [("perms", "int"), ("id", ID)]
STAT = [("czxid", "long"), ("mzxid", "long"), ("ctime", "long"), ("mtime", "long"),
        ("version", "int"), ("cversion", "int"), ("aversion", "int"),
        ("ephemeralOwner", "long"), ("dataLength", "int"), ("numChildren", "int"),
        ("pzxid", "long")]
SCHEMAS = {
    "ConnectRequest": [("protocolVersion", "int"), ("lastZxidSeen", "long"), ("timeOut", "int"),
                       ("sessionId", "long"), ("passwd", "buffer"), ("readOnly", "boolean")],
    "ConnectResponse": [("protocolVersion", "int"), ("timeOut", "int"), ("sessionId", "long"),
                        ("passwd", "buffer"), ("readOnly", "boolean")],
    "RequestHeader": [("xid", "int"), ("type", "int")],
    "ReplyHeader": [("xid", "int"), ("zxid", "long"), ("err", "int")],
    "MultiHeader": [("type", "int"), ("done", "boolean"), ("err", "int")],
    "CreateRequest": [("path", "ustring"), ("data", "buffer"), ("acl", ("vector", ACL)), ("flags", "int")],
    "DeleteRequest": [("path", "ustring"), ("version", "int")],
    "PathWatch": [("path", "ustring"), ("watch", "boolean")],
    "SetDataRequest": [("path", "ustring"), ("data", "buffer"), ("version", "int")],
    "PathOnly": [("path", "ustring")],
    "CheckVersionRequest": [("path", "ustring"), ("version", "int")],
    "AuthPacket": [("type", "int"), ("scheme", "ustring"), ("auth", "buffer")],
    "SetWatches": [("relativeZxid", "long"), ("dataWatches", ("vector", "ustring")),
                   ("existWatches", ("vector", "ustring")), ("childWatches", ("vector", "ustring"))],
    "AddWatchRequest": [("path", "ustring"), ("mode", "int")],
    "Empty": [],
    "CreateResponse": [("path", "ustring")],
    "Create2Response": [("path", "ustring"), ("stat", STAT)],
    "StatResponse": [("stat", STAT)],
    "GetDataResponse": [("data", "buffer"), ("stat", STAT)],
    "GetACLResponse": [("acl", ("vector", ACL)), ("stat", STAT)],
    "GetChildrenResponse": [("children", ("vector", "ustring"))],
    "GetChildren2Response": [("children", ("vector", "ustring")), ("stat", STAT)],
    "GetAllChildrenNumberResponse": [("totalNumber", "int")],
    "GetEphemeralsResponse": [("ephemerals", ("vector", "ustring"))],
    "WhoAmIResponse": [("clientInfo", ("vector", [("authScheme", "ustring"), ("user", "ustring")]))],
    "ErrorResponse": [("err", "int")],
    "WatcherEvent": [("type", "int"), ("state", "int"), ("path", "ustring")],
}
REQ = {1: "CreateRequest", 15: "CreateRequest", 2: "DeleteRequest", 3: "PathWatch", 4: "PathWatch",
       8: "PathWatch", 12: "PathWatch", 5: "SetDataRequest", 6: "PathOnly", 9: "PathOnly",
       13: "CheckVersionRequest", 100: "AuthPacket", 101: "SetWatches", 103: "PathOnly",
       104: "PathOnly", 106: "AddWatchRequest", 11: "Empty", 107: "Empty", -11: "Empty"}
RESP = {1: "CreateResponse", 15: "Create2Response", 2: "Empty", 3: "StatResponse",
        4: "GetDataResponse", 5: "StatResponse", 6: "GetACLResponse", 8: "GetChildrenResponse",
        9: "CreateResponse", 12: "GetChildren2Response", 13: "Empty", 11: "Empty", 100: "Empty",
        101: "Empty", 103: "GetEphemeralsResponse", 104: "GetAllChildrenNumberResponse",
        106: "ErrorResponse", 107: "WhoAmIResponse", -11: "Empty", -1: "ErrorResponse"}


class Buf:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def fixed(self, fmt, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated at %d" % self.pos)
        v = struct.unpack(">" + fmt, self.data[self.pos:self.pos + n])[0]
        self.pos += n
        return v

    def read(self, t):
        if t == "int":
            return self.fixed("i", 4)
        if t == "long":
            return self.fixed("q", 8)
        if t == "boolean":
            b = self.fixed("B", 1)
            assert b in (0, 1), "boolean byte %d" % b
            return bool(b)
        if t in ("buffer", "ustring"):
            n = self.fixed("i", 4)
            if n == -1:
                return None
            assert n >= 0 and self.pos + n <= len(self.data), "bad length %d" % n
            v = self.data[self.pos:self.pos + n]
            self.pos += n
            return v.decode("utf-8") if t == "ustring" else v
        if isinstance(t, tuple) and t[0] == "vector":
            n = self.fixed("i", 4)
            return None if n == -1 else [self.read(t[1]) for _ in range(n)]
        if isinstance(t, list):
            return {k: self.read(ft) for k, ft in t}
        if isinstance(t, str) and t in SCHEMAS:
            return self.read(SCHEMAS[t])
        raise ValueError("unknown type %r" % (t,))

    def end(self):
        assert self.pos == len(self.data), "%d trailing bytes" % (len(self.data) - self.pos)


def decode_multi(b, is_request):
    ops = []
    while True:
        h = b.read("MultiHeader")
        if h["done"]:
            ops.append(("end", h, None))
            return ops
        rec = b.read(REQ[h["type"]] if is_request else RESP[h["type"]])
        ops.append(("op", h, rec))


def decode(frame, direction, opcode):
    """-> dict with 'header', 'body' (record or multi list), 'body_len'."""
    (n,) = struct.unpack(">i", frame[:4])
    assert n == len(frame) - 4, "length prefix %d but %d bytes follow" % (n, len(frame) - 4)
    b = Buf(frame[4:])
    out = {"body_len": n}
    if opcode == "-" and direction == "client->server":
        out["header"] = None
        out["body"] = b.read("ConnectRequest")
    elif opcode == "-" and b.data[:4] != b"\xff\xff\xff\xff":
        out["header"] = None
        out["body"] = b.read("ConnectResponse")
    elif direction == "client->server":
        out["header"] = b.read("RequestHeader")
        op = out["header"]["type"]
        out["body"] = decode_multi(b, True) if op in (14, 22) else b.read(REQ[op])
    else:
        out["header"] = h = b.read("ReplyHeader")
        if h["xid"] == -1:
            out["body"] = b.read("WatcherEvent")
        elif opcode in (14, 22):
            out["body"] = decode_multi(b, False)
        elif h["err"] != 0:
            out["body"] = None  # error replies carry no body (except multi / addWatch)
        else:
            out["body"] = b.read(RESP[opcode])
    b.end()
    return out


# ---- checks ----------------------------------------------------------------------------
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("    FAIL: " + what)


def parse_stat(s):
    return {k: int(v) for k, v in (kv.split("=") for kv in s.split())}


def multi_errs(ops):
    return [h["err"] if h["type"] == -1 else 0 for kind, h, rec in ops if kind == "op"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=os.path.join(here, "..", "..", "zk-proto", "tests", "fixtures"))
    ap.add_argument("--results")
    a = ap.parse_args()
    fx = a.fixtures
    results_path = a.results or os.path.join(fx, "JAVA_CLIENT_VIEW.tsv")
    J = dict(l.rstrip("\n").split("\t", 1) for l in open(results_path) if "\t" in l)

    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(fx, "MANIFEST.tsv"))][1:]
    transcript = [l.rstrip("\n").split("\t") for l in open(os.path.join(fx, "TRANSCRIPT.tsv"))][1:]
    order = {r[3]: int(r[0]) for r in transcript if r[3] != "-"}
    D = {}
    listed = set()
    for fname, direction, opcode, xid, desc in rows:
        listed.add(fname)
        frame = open(os.path.join(fx, fname), "rb").read()
        op = opcode if opcode == "-" else int(opcode)
        try:
            d = decode(frame, direction, op)
        except Exception as e:  # noqa: BLE001
            check(False, "%s: does not decode: %s" % (fname, e))
            continue
        D[fname[:-4]] = d
        h = d["header"]
        if h is not None:
            check(str(h["xid"]) == xid, "%s: xid column %s, bytes say %d" % (fname, xid, h["xid"]))
            if direction == "client->server":
                check(h["type"] == op, "%s: opcode column %s, bytes say %d" % (fname, opcode, h["type"]))
        # frame in transcript identical to the .bin
        tr = [r for r in transcript if r[3] == fname]
        check(len(tr) == 1 and bytes.fromhex(tr[0][4]) == frame, "%s: TRANSCRIPT.tsv disagrees" % fname)
        summary = "hdr=%s" % ("-" if h is None else ",".join("%s=%s" % kv for kv in h.items()))
        print("%-55s %4d bytes  %s" % (fname, len(frame), summary))
    on_disk = {f for f in os.listdir(fx) if f.endswith(".bin")}
    check(on_disk == listed, "MANIFEST and *.bin differ: %s" % sorted(on_disk ^ listed))

    def body(n):
        return D[n]["body"]

    def hdr(n):
        return D[n]["header"]

    # handshake
    cr = body("connect_request")
    check(D["connect_request"]["body_len"] == 45, "ConnectRequest body is 45 bytes (with readOnly)")
    check(cr["protocolVersion"] == 0 and cr["lastZxidSeen"] == 0 and cr["sessionId"] == 0
          and cr["passwd"] == bytes(16) and cr["readOnly"] is False, "new-session ConnectRequest fields")
    check(cr["timeOut"] == 4000, "requested timeout 4000")
    cs = body("connect_response")
    check(D["connect_response"]["body_len"] == 37, "ConnectResponse body is 37 bytes (with readOnly)")
    check("0x%016x" % cs["sessionId"] == J["session.id"], "session id == Java getSessionId")
    check(cs["passwd"].hex() == J["session.passwd"], "passwd == Java getSessionPasswd")
    check(str(cs["timeOut"]) == J["session.timeout"], "negotiated timeout == Java getSessionTimeout")
    rr = body("reconnect_request")
    check(rr["sessionId"] == cs["sessionId"] and rr["passwd"] == cs["passwd"], "reconnect presents id+passwd")
    check("0x%x" % rr["lastZxidSeen"] == J["last_zxid_before_drop"], "reconnect lastZxidSeen == Java lastZxid")
    check(body("reconnect_response")["sessionId"] == cs["sessionId"], "reconnect keeps the session")
    check(J["reconnected.session.id"] == J["session.id"], "Java kept the session id")

    # auth
    for n in ("auth", "reconnect_auth"):
        check(hdr(n + "_request") == {"xid": -4, "type": 100}, n + " request header")
        check(body(n + "_request") == {"type": 0, "scheme": "digest", "auth": b"golden:secret"}, n + " AuthPacket")
        check(hdr(n + "_response") == {"xid": -4, "zxid": 0, "err": 0}, n + " reply {-4, 0, 0}")
        check(D[n + "_response"]["body_len"] == 16, n + " reply has no body")

    # plain requests vs the Java view
    check(body("create_request") == {"path": "/golden", "data": b"hello", "flags": 0,
                                     "acl": [{"perms": 31, "id": {"scheme": "world", "id": "anyone"}}]}, "create request")
    check(body("create_response")["path"] == J["create"], "create path")
    check(body("get_data_request") == {"path": "/golden", "watch": True}, "getData watch=true")
    gd = J["get_data"].split(" ", 1)
    check(body("get_data_response")["data"] == gd[0].encode() and body("get_data_response")["stat"] == parse_stat(gd[1]), "getData data+stat")
    check(body("set_data_request") == {"path": "/golden", "data": b"world", "version": -1}, "setData request")
    check(body("set_data_response")["stat"] == parse_stat(J["set_data"]), "setData stat")
    check(hdr("set_data_response")["zxid"] == body("set_data_response")["stat"]["mzxid"], "write reply zxid == mzxid")
    wn = D["watch_notification"]
    check(wn["header"] == {"xid": -1, "zxid": -1, "err": 0}, "notification header {-1, -1, 0} on 3.8")
    check(wn["body"] == {"type": 3, "state": 3, "path": "/golden"}, "NodeDataChanged /golden SyncConnected")
    check(order["watch_notification.bin"] < order["set_data_response.bin"], "notification precedes the setData reply")
    check(body("create_child_response")["path"] == J["create_child"], "create child path")
    check(hdr("get_children2_request")["type"] == 12 and body("get_children2_request")["watch"] is False, "getChildren2 request")
    kids, st = J["get_children2"].split("] ", 1)
    g2 = body("get_children2_response")
    check(g2["children"] == [k.strip() for k in kids.strip("[").split(",")] and g2["stat"] == parse_stat(st), "getChildren2 children+stat")
    check(body("exists_missing_request") == {"path": "/golden/missing", "watch": True}, "exists watch=true")
    em = D["exists_missing_response"]
    check(em["header"]["err"] == -101 and em["body_len"] == 16 and J["exists_missing"] == "null", "exists NONODE: header only, Java null")
    check(body("create_ephemeral_sequential_request")["flags"] == 3, "ephemeral sequential flags 3")
    check(body("create_ephemeral_sequential_response")["path"] == J["create_ephemeral_sequential"], "sequential name")
    check(hdr("create2_request")["type"] == 15, "create with Stat uses op 15")
    check(body("create2_request")["acl"] == [{"perms": 31, "id": {"scheme": "auth", "id": ""}}], "CREATOR_ALL_ACL = auth:'':31")
    p2, st2 = J["create2"].split(" ", 1)
    check(body("create2_response")["path"] == p2 and body("create2_response")["stat"] == parse_stat(st2), "create2 path+stat")
    acl = body("get_acl_response")["acl"]
    jacl, jst = J["get_acl"].split("] ", 1)
    check("[" + ",".join("%s:%s:%d" % (x["id"]["scheme"], x["id"]["id"], x["perms"]) for x in acl) == jacl, "getACL acl")
    check(body("get_acl_response")["stat"] == parse_stat(jst), "getACL stat")
    check(body("exists_response")["stat"] == parse_stat(J["exists"]), "exists stat")
    check(sorted(body("get_children_response")["children"]) == [k.strip() for k in J["get_children"].strip("[]").split(",")], "getChildren")
    check(body("get_data_watch_c1_request")["watch"] is True, "getData c1 watch")

    # ping
    check(hdr("ping_request") == {"xid": -2, "type": 11} and D["ping_request"]["body_len"] == 8, "ping request")
    ph = hdr("ping_response")
    check(ph["xid"] == -2 and ph["err"] == 0 and D["ping_response"]["body_len"] == 16, "ping reply")

    # SetWatches
    sw = body("set_watches_request")
    swx = hdr("set_watches_request")["xid"]
    check(swx > 0, "SetWatches uses a normal positive xid (not -8)")
    check(swx == hdr("get_data_watch_c1_request")["xid"] + 1, "SetWatches xid = next sequential xid")
    check(sw == {"relativeZxid": rr["lastZxidSeen"], "dataWatches": ["/golden/c1"],
                 "existWatches": ["/golden/missing"], "childWatches": ["/golden"]}, "SetWatches content")
    check(order["reconnect_auth_request.bin"] < order["set_watches_request.bin"], "auth replayed before SetWatches")
    check(hdr("set_watches_response")["err"] == 0 and D["set_watches_response"]["body_len"] == 16, "SetWatches reply: header only")
    evs = sorted("%s %s" % ({1: "NodeCreated", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}[body(n)["type"]], body(n)["path"])
                 for n in D if n.startswith("set_watches_notification"))
    check("[" + ", ".join(evs) + "]" == J["events_after_reconnect"], "catch-up events == Java events")
    check([body(n)["type"] for n in sorted((n for n in D if n.startswith("set_watches_notification")), key=lambda n: order[n + ".bin"])]
          == [3, 1, 4], "catch-up order: data, exist, child")
    check(order["set_watches_request.bin"] < order["reconnect_auth_response.bin"], "SetWatches sent before the auth reply arrived")
    for n in D:
        if n.startswith("set_watches_notification"):
            check(order[n + ".bin"] < order["set_watches_response.bin"], n + " precedes SetWatches reply")
            check(hdr(n)["zxid"] == -1, n + " zxid -1")

    # multi
    mf = body("multi_failing_request")
    check([h["err"] for k, h, r in mf] == [-1] * len(mf) and [h["done"] for k, h, r in mf][-1] is True
          and mf[-1][1]["type"] == -1, "Java multi op headers: err -1, end {-1,true,-1}")
    check(hdr("multi_failing_response")["err"] == 0, "failing multi: reply header err 0")
    mfr = body("multi_failing_response")
    check(all(h["type"] == -1 for k, h, r in mfr), "failing multi: every result is type -1")
    check(multi_errs(mfr) == [0, -101, -2], "failing multi per-op errors [0,-101,-2]")
    check([r["err"] for k, h, r in mfr if k == "op"] == multi_errs(mfr), "ErrorResponse body == header err")
    check(mfr[-1][1] == {"type": -1, "done": True, "err": -1}, "multi reply end marker")
    check(J["multi_failing"].startswith("NONODE(-101)") and "error(0), error(-101), error(-2)" in J["multi_failing"], "Java saw the same")
    mr = body("multi_response")
    check([h["type"] for k, h, r in mr] == [1, 5, 13, 2, -1], "multi result types create,setData,check,delete")
    check(mr[0][2]["path"] == "/golden/m2" and mr[1][2]["stat"]["version"] == 1, "multi results")
    mrr = body("multi_read_response")
    check(hdr("multi_read_request")["type"] == 22 and [h["type"] for k, h, r in mrr] == [4, 8, -1, -1], "multiRead result types")
    check(mrr[0][2]["data"] == b"world" and mrr[2][1]["err"] == -101, "multiRead independent results")
    check(J["multi_read"].endswith("error(-101)]"), "Java multiRead: no exception, error result")
    z0 = hdr("set_watches_response")["zxid"]
    check(hdr("multi_failing_response")["zxid"] == z0 + 1 and hdr("set_data_bad_version_response")["zxid"] == z0 + 2
          and hdr("multi_response")["zxid"] == z0 + 3, "failed writes consume a zxid")
    check(hdr("exists_missing_response")["zxid"] == hdr("create_child_response")["zxid"], "NONODE reply carries the current zxid")
    check(hdr("close_session_response")["zxid"] == hdr("set_data_persistent_response")["zxid"] + 1, "closeSession is a txn")
    check(order["close_session_notification_node_children_changed.bin"] < order["close_session_response.bin"], "event before close reply")
    check(hdr("set_data_bad_version_response")["err"] == -103 and D["set_data_bad_version_response"]["body_len"] == 16, "BADVERSION: header only")

    # misc ops
    check(body("sync_response")["path"] == "/golden", "sync path")
    check(D["delete_response"]["body_len"] == 16, "delete reply header only")
    check(str(body("get_all_children_number_response")["totalNumber"]) == J["get_all_children_number"], "getAllChildrenNumber")
    check(body("get_ephemerals_response")["ephemerals"] == [x.strip() for x in J["get_ephemerals"].strip("[]").split(",")], "getEphemerals")
    check(" ".join("%s:%s" % (c["authScheme"], c["user"]) for c in body("who_am_i_response")["clientInfo"]) == J["who_am_i"], "whoAmI")
    check(body("add_watch_request") == {"path": "/golden", "mode": 0}, "addWatch PERSISTENT")
    check(body("add_watch_response") == {"err": 0} and D["add_watch_response"]["body_len"] == 20, "addWatch reply carries ErrorResponse{0}")
    check(body("set_data_persistent_notification_node_data_changed") == {"type": 3, "state": 3, "path": "/golden"}, "persistent watch event")
    check(D["close_session_request"]["body_len"] == 8 and D["close_session_response"]["body_len"] == 16, "closeSession: no bodies")

    # xids: 1.. sequential over the session, across the reconnect
    xs = [hdr(n)["xid"] for n in sorted(D, key=lambda n: order[n + ".bin"])
          if D[n]["header"] is not None and "type" in D[n]["header"] and D[n]["header"]["xid"] > 0]
    check(xs == list(range(1, len(xs) + 1)), "normal xids are 1,2,3,... with no gaps (across the reconnect)")

    print()
    if FAILS:
        print("%d check(s) FAILED" % len(FAILS))
        sys.exit(1)
    print("all %d fixtures decode exactly; all checks passed" % len(D))


if __name__ == "__main__":
    main()
