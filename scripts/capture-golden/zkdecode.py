"""Minimal jute decoder for ZooKeeper client frames (python3 stdlib only).

Used by extract.py to write the human-readable MANIFEST descriptions. verify.py does
NOT use this module: it has its own decoder, so the two cross-check each other.
"""

import struct

OPS = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
    6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
    18: "removeWatches", 19: "createContainer", 21: "createTTL", 22: "multiRead",
    100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -11: "closeSession",
}
EVENTS = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
          4: "NodeChildrenChanged"}
STATES = {0: "Disconnected", 3: "SyncConnected", -112: "Expired"}
STAT_FIELDS = [("czxid", "q"), ("mzxid", "q"), ("ctime", "q"), ("mtime", "q"),
               ("version", "i"), ("cversion", "i"), ("aversion", "i"),
               ("ephemeralOwner", "q"), ("dataLength", "i"), ("numChildren", "i"),
               ("pzxid", "q")]


class R:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        (v,) = struct.unpack_from(">" + fmt, self.b, self.p)
        self.p += struct.calcsize(fmt)
        return v

    def int(self):
        return self.take("i")

    def long(self):
        return self.take("q")

    def bool(self):
        return self.take("B")

    def buf(self):
        n = self.int()
        if n < 0:
            return None
        v = self.b[self.p:self.p + n]
        if len(v) != n:
            raise ValueError("short buffer")
        self.p += n
        return v

    def str(self):
        v = self.buf()
        return None if v is None else v.decode("utf-8")

    def vec(self, f):
        n = self.int()
        return None if n < 0 else [f() for _ in range(n)]

    def stat(self):
        return {k: self.take(t) for k, t in STAT_FIELDS}

    def acl(self):
        perms = self.int()
        return (self.str(), self.str(), perms)

    def done(self):
        return self.p == len(self.b)


def q(s):
    if s is None:
        return "null"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def qb(b):
    if b is None:
        return "null"
    try:
        s = b.decode("ascii")
        if s.isprintable():
            return q(s)
    except UnicodeDecodeError:
        pass
    return "0x" + b.hex()


def fstat(s):
    return "stat{" + ",".join("%s=%d" % (k, s[k]) for k, _ in STAT_FIELDS) + "}"


def facl(acls):
    return "[" + ",".join("%s:%s:%d" % a for a in acls) + "]"


def fvec(v):
    return "null" if v is None else "[" + ",".join(q(x) for x in v) + "]"


def request_body(op, r):
    """Decode a request record (without RequestHeader)."""
    if op in (1, 15, 19):
        return "path=%s data=%s acl=%s flags=%d" % (q(r.str()), qb(r.buf()), facl(r.vec(r.acl)), r.int())
    if op == 2:
        return "path=%s version=%d" % (q(r.str()), r.int())
    if op in (3, 4, 8, 12):
        return "path=%s watch=%s" % (q(r.str()), "true" if r.bool() else "false")
    if op == 5:
        return "path=%s data=%s version=%d" % (q(r.str()), qb(r.buf()), r.int())
    if op in (6, 9, 103, 104):
        return "path=%s" % q(r.str())
    if op == 13:
        return "path=%s version=%d" % (q(r.str()), r.int())
    if op in (14, 22):
        parts = []
        while True:
            t, done, err = r.int(), r.bool(), r.int()
            if done:
                parts.append("end{type=%d,done=%d,err=%d}" % (t, done, err))
                break
            parts.append("%s{type=%d,done=%d,err=%d %s}" % (OPS[t], t, done, err, request_body(t, r)))
        return "ops=[" + "; ".join(parts) + "]"
    if op == 100:
        return "type=%d scheme=%s auth=%s" % (r.int(), q(r.str()), qb(r.buf()))
    if op == 101:
        return "relativeZxid=%d dataWatches=%s existWatches=%s childWatches=%s" % (
            r.long(), fvec(r.vec(r.str)), fvec(r.vec(r.str)), fvec(r.vec(r.str)))
    if op == 106:
        return "path=%s mode=%d" % (q(r.str()), r.int())
    if op in (11, 107, -11):
        return "(no body)"
    raise ValueError("no request decoder for op %d" % op)


def response_body(op, r):
    """Decode a response record (after a ReplyHeader with err == 0)."""
    if op == 1 or op == 9:
        return "path=%s" % q(r.str())
    if op in (15, 19, 21):
        return "path=%s %s" % (q(r.str()), fstat(r.stat()))
    if op in (2, 11, 13, 100, 101, -11):
        return "(no body)"
    if op in (3, 5):
        return fstat(r.stat())
    if op == 4:
        return "data=%s %s" % (qb(r.buf()), fstat(r.stat()))
    if op == 6:
        return "acl=%s %s" % (facl(r.vec(r.acl)), fstat(r.stat()))
    if op == 8:
        return "children=%s" % fvec(r.vec(r.str))
    if op == 12:
        return "children=%s %s" % (fvec(r.vec(r.str)), fstat(r.stat()))
    if op == 103:
        return "ephemerals=%s" % fvec(r.vec(r.str))
    if op == 104:
        return "totalNumber=%d" % r.int()
    if op == 106:
        return "ErrorResponse{err=%d}" % r.int()
    if op == 107:
        return "clientInfo=[%s]" % ",".join("%s:%s" % (q(a), q(b)) for a, b in r.vec(lambda: (r.str(), r.str())))
    if op in (14, 22):
        parts = []
        while True:
            t, done, err = r.int(), r.bool(), r.int()
            if done:
                parts.append("end{type=%d,done=%d,err=%d}" % (t, done, err))
                break
            if t == -1:
                parts.append("error{type=-1,done=%d,err=%d ErrorResponse{err=%d}}" % (done, err, r.int()))
            else:
                parts.append("%s{type=%d,done=%d,err=%d %s}" % (OPS[t], t, done, err, response_body(t, r)))
        return "results=[" + "; ".join(parts) + "]"
    raise ValueError("no response decoder for op %d" % op)


def connect_request(body):
    r = R(body)
    s = "protocolVersion=%d lastZxidSeen=%d timeOut=%d sessionId=0x%016x passwd=0x%s" % (
        r.int(), r.long(), r.int(), r.long(), r.buf().hex())
    if not r.done():
        s += " readOnly=%s" % ("true" if r.bool() else "false")
    assert r.done()
    return s


def connect_response(body):
    r = R(body)
    s = "protocolVersion=%d timeOut=%d sessionId=0x%016x passwd=0x%s" % (
        r.int(), r.int(), r.long(), r.buf().hex())
    if not r.done():
        s += " readOnly=%s" % ("true" if r.bool() else "false")
    assert r.done()
    return s


def request(frame):
    """-> (xid, op, description)"""
    r = R(frame[4:])
    xid, op = r.int(), r.int()
    d = "RequestHeader{xid=%d,type=%d} %s" % (xid, op, request_body(op, r))
    assert r.done(), "trailing bytes in request"
    return xid, op, d


def reply(frame, op):
    """op: opcode of the request answered (None for a notification). -> (xid, zxid, err, description)"""
    r = R(frame[4:])
    xid, zxid, err = r.int(), r.long(), r.int()
    d = "ReplyHeader{xid=%d,zxid=%d,err=%d}" % (xid, zxid, err)
    if xid == -1:
        t, st, path = r.int(), r.int(), r.str()
        d += " WatcherEvent{type=%d(%s),state=%d(%s),path=%s}" % (t, EVENTS.get(t, "?"), st, STATES.get(st, "?"), q(path))
    elif err == 0:
        d += " " + response_body(op, r)
    else:
        d += " (no body)" if r.done() else " body=0x" + frame[4 + r.p:].hex()
        r.p = len(r.b)
    assert r.done(), "trailing bytes in reply"
    return xid, zxid, err, d
