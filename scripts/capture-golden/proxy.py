#!/usr/bin/env python3
"""Recording TCP proxy for the ZooKeeper client protocol (python3 stdlib only).

    proxy.py --listen PORT --upstream PORT --control PORT --log FILE

Forwards every TCP connection accepted on 127.0.0.1:LISTEN to 127.0.0.1:UPSTREAM
and records every frame (i32 big-endian length + body) in both directions, per
connection, in the order the proxy saw it, as JSON lines in FILE:

    {"seq": n, "conn": c, "dir": "c2s"|"s2c", "hex": "<whole frame incl. length prefix>",
     "label": "<name>"|null, "t": <seconds since start>}

Bytes are forwarded as soon as they arrive; framing is only used for recording.
A line {"event": ...} records connection open/close and control commands.

Control channel (127.0.0.1:CONTROL, one command per line, answered with "OK ..."):
    LABEL <name> <opcode>   the next client->server frame whose RequestHeader.type
                            equals <opcode> is recorded with label <name>
    DROP                    hold new connections (accept them but do not forward
                            yet), then close every live connection (both sides)
    RELEASE                 let held connections through
    QUIT                    stop the proxy
"""

import argparse
import json
import socket
import struct
import sys
import threading
import time

LOCK = threading.Lock()
START = time.monotonic()
STATE = {
    "seq": 0,
    "conn": 0,
    "labels": [],          # pending [name, opcode]
    "live": {},            # conn id -> (client sock, server sock)
}
RELEASED = threading.Event()
RELEASED.set()
STOP = threading.Event()
LOG = None


def log(obj):
    obj["t"] = round(time.monotonic() - START, 4)
    LOG.write(json.dumps(obj) + "\n")
    LOG.flush()


def record(conn, direction, frame):
    with LOCK:
        label = None
        if direction == "c2s" and len(frame) >= 12:
            (op,) = struct.unpack(">i", frame[8:12])
            for i, (name, want) in enumerate(STATE["labels"]):
                if want == op:
                    label = name
                    del STATE["labels"][i]
                    break
        STATE["seq"] += 1
        log({"seq": STATE["seq"], "conn": conn, "dir": direction,
             "hex": frame.hex(), "label": label})


def pump(conn, direction, src, dst):
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            buf += data
            while len(buf) >= 4:
                (n,) = struct.unpack(">i", buf[:4])
                if n < 0 or len(buf) < 4 + n:
                    break
                record(conn, direction, buf[: 4 + n])
                buf = buf[4 + n:]
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with LOCK:
            if buf:
                log({"event": "partial", "conn": conn, "dir": direction, "hex": buf.hex()})
            log({"event": "eof", "conn": conn, "dir": direction})
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, upstream_port):
    with LOCK:
        STATE["conn"] += 1
        conn = STATE["conn"]
        log({"event": "accept", "conn": conn, "held": not RELEASED.is_set()})
    # While held, do not read the client's ConnectRequest: it waits in the kernel.
    RELEASED.wait()
    try:
        server = socket.create_connection(("127.0.0.1", upstream_port))
    except OSError as e:
        with LOCK:
            log({"event": "upstream-failed", "conn": conn, "error": str(e)})
        client.close()
        return
    with LOCK:
        STATE["live"][conn] = (client, server)
        log({"event": "open", "conn": conn})
    a = threading.Thread(target=pump, args=(conn, "c2s", client, server), daemon=True)
    b = threading.Thread(target=pump, args=(conn, "s2c", server, client), daemon=True)
    a.start()
    b.start()
    a.join()
    b.join()
    client.close()
    server.close()
    with LOCK:
        STATE["live"].pop(conn, None)
        log({"event": "closed", "conn": conn})


def control(sock):
    f = sock.makefile("rwb", buffering=0)
    for raw in f:
        words = raw.decode().split()
        if not words:
            continue
        cmd = words[0].upper()
        reply = "OK"
        with LOCK:
            log({"event": "control", "cmd": words})
            if cmd == "LABEL":
                STATE["labels"].append([words[1], int(words[2])])
            elif cmd == "DROP":
                RELEASED.clear()
                for c, s in list(STATE["live"].values()):
                    for x in (c, s):
                        try:
                            x.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                reply = "OK dropped %d" % len(STATE["live"])
            elif cmd == "RELEASE":
                RELEASED.set()
            elif cmd == "QUIT":
                STOP.set()
            else:
                reply = "ERR unknown command"
        f.write((reply + "\n").encode())
    sock.close()


def serve(listener, fn, *args):
    while not STOP.is_set():
        try:
            s, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=fn, args=(s,) + args, daemon=True).start()


def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--control", type=int, required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    LOG = open(a.log, "w")
    ls = []
    for port in (a.listen, a.control):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(16)
        ls.append(s)
    threading.Thread(target=serve, args=(ls[0], handle, a.upstream), daemon=True).start()
    threading.Thread(target=serve, args=(ls[1], control), daemon=True).start()
    print("proxy ready", flush=True)
    STOP.wait()
    time.sleep(0.2)
    with LOCK:
        LOG.flush()


if __name__ == "__main__":
    sys.exit(main())
