#!/usr/bin/env python3
"""Independent hand checks of the null encodings in the nullcap fixtures (no zkdecode).

    check_null.py fixtures/

Asserts exact byte layouts at fixed offsets and prints each body in hex.
"""
import os
import struct
import sys

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
NULL = b"\xff\xff\xff\xff"


def load(name):
    b = open(os.path.join(D, name), "rb").read()
    assert struct.unpack(">i", b[:4])[0] == len(b) - 4, name
    return b


def ustr(s):
    e = s.encode()
    return struct.pack(">i", len(e)) + e


def req(name, xid_op):
    """-> (xid, op, body) of a request frame"""
    b = load(name)
    xid, op = struct.unpack(">ii", b[4:12])
    assert op == xid_op, (name, op)
    return xid, b[12:]


def rep(name):
    """-> (xid, zxid, err, body) of a reply frame"""
    b = load(name)
    xid, zxid, err = struct.unpack(">iqi", b[4:20])
    return xid, zxid, err, b[20:]


OPEN_ACL = struct.pack(">i", 1) + struct.pack(">i", 31) + ustr("world") + ustr("anyone")
ok = 0

# create with null data: path, data=-1, acl, flags
_, body = req("create_null_request.bin", 1)
assert body == ustr("/null-data") + NULL + OPEN_ACL + struct.pack(">i", 0), body.hex()
ok += 1
# create with empty data: length 0
_, body = req("create_empty_request.bin", 1)
assert body == ustr("/empty-data") + struct.pack(">i", 0) + OPEN_ACL + struct.pack(">i", 0), body.hex()
ok += 1
for n, p in (("create_null_response.bin", "/null-data"), ("create_empty_response.bin", "/empty-data")):
    _, _, err, body = rep(n)
    assert err == 0 and body == ustr(p), (n, body.hex())
    ok += 1


def getdata_reply(name):
    _, _, err, body = rep(name)
    assert err == 0
    return body[:4], body[4:]


STAT_LEN = 8 * 4 + 4 * 3 + 8 + 4 * 2 + 8   # 68
for n, want in (("get_data_null_response.bin", NULL),
                ("get_data_empty_response.bin", b"\x00\x00\x00\x00"),
                ("get_data_after_set_null_response.bin", NULL)):
    dl, stat = getdata_reply(n)
    assert dl == want, (n, dl.hex())
    assert len(stat) == STAT_LEN, (n, len(stat))
    data_length = struct.unpack(">i", stat[52:56])[0]
    print("%s: data length field %s, Stat.dataLength=%d" % (n, dl.hex(), data_length))
    ok += 1

# setData with null data: path, data=-1, version=-1
_, body = req("set_data_null_request.bin", 5)
assert body == ustr("/empty-data") + NULL + struct.pack(">i", -1), body.hex()
ok += 1

# reconfig: joining ustring, leaving ustring, newMembers ustring, curConfigId long
_, body = req("reconfig_incremental_request.bin", 16)
assert body == NULL + ustr("3") + NULL + struct.pack(">q", -1), body.hex()
ok += 1
_, body = req("reconfig_replace_request.bin", 16)
assert body == NULL + NULL + ustr("server.1=127.0.0.1:2888:3888;2181") + struct.pack(">q", -1), body.hex()
ok += 1
for n in ("reconfig_incremental_response.bin", "reconfig_replace_response.bin"):
    xid, zxid, err, body = rep(n)
    print("%s: xid=%d zxid=%d err=%d body=%r" % (n, xid, zxid, err, body.hex()))
    ok += 1

print("check_null: %d checks passed" % ok)
