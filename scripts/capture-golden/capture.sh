#!/usr/bin/env bash
# Captures golden ZooKeeper protocol frames: the real Java client (Capture.java) talks to a
# real standalone ZooKeeper server through a recording proxy (proxy.py); extract.py cuts
# the recording into zk-proto/tests/fixtures/*.bin + MANIFEST.tsv + TRANSCRIPT.tsv, and
# verify.py decodes every fixture independently and cross-checks it against what the
# Java client itself decoded.
#
#   scripts/capture-golden/capture.sh            # (re)writes zk-proto/tests/fixtures/
#   KEEP_WORK=1 scripts/capture-golden/capture.sh  # keep the temp dir (logs, raw recording)
#   scripts/capture-golden/capture.sh null       # the capture with jute nulls instead
#       (CaptureNull.java, extract_null.py, check_null.py: zk-proto/tests/fixtures/null/)
#
# Needs: java + javac (17), python3, /usr/share/java/zookeeper.jar (Debian package
# `zookeeper`/`libzookeeper-java`; override with ZK_JAR=...).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
case "${1:-main}" in
  main) CLIENT=Capture; FIXTURES="${FIXTURES:-$REPO/zk-proto/tests/fixtures}" ;;
  null) CLIENT=CaptureNull; FIXTURES="${FIXTURES:-$REPO/zk-proto/tests/fixtures/null}" ;;
  *) echo "usage: capture.sh [null]" >&2; exit 2 ;;
esac
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ beside the scripts
ZK_JAR="${ZK_JAR:-/usr/share/java/zookeeper.jar}"
LOGJAR=/usr/share/java/slf4j-simple.jar   # optional: lets server/client log to files
CP="$ZK_JAR"
[ -f "$LOGJAR" ] && CP="$CP:$LOGJAR"

[ -f "$ZK_JAR" ] || { echo "missing $ZK_JAR" >&2; exit 1; }

WORK="$(mktemp -d -t zk-golden.XXXXXX)"
SERVER_PID="" PROXY_PID="" CLIENT_PID=""

cleanup() {
  local rc=$?
  for pid in $CLIENT_PID $PROXY_PID $SERVER_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [ "${KEEP_WORK:-0}" = 1 ] || [ $rc -ne 0 ]; then
    echo "work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
SERVER_PORT="$(free_port)"
PROXY_PORT="$(free_port)"
CONTROL_PORT="$(free_port)"
while [ "$PROXY_PORT" = "$SERVER_PORT" ]; do PROXY_PORT="$(free_port)"; done
while [ "$CONTROL_PORT" = "$SERVER_PORT" ] || [ "$CONTROL_PORT" = "$PROXY_PORT" ]; do CONTROL_PORT="$(free_port)"; done

# Four-letter word helper (no nc needed).
fourlw() {
  python3 - "$SERVER_PORT" "$1" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(sys.argv[2].encode())
    out = b""
    while True:
        d = s.recv(4096)
        if not d: break
        out += d
    sys.stdout.write(out.decode(errors="replace"))
except OSError:
    pass
EOF
}

mkdir -p "$WORK/data" "$WORK/classes"
cat >"$WORK/zoo.cfg" <<EOF
tickTime=2000
dataDir=$WORK/data
clientPort=$SERVER_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
EOF

echo "server on 127.0.0.1:$SERVER_PORT, proxy on :$PROXY_PORT (control :$CONTROL_PORT), work $WORK"
java -cp "$CP" -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
  org.apache.zookeeper.server.ZooKeeperServerMain "$WORK/zoo.cfg" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

javac -cp "$ZK_JAR" -d "$WORK/classes" "$HERE/$CLIENT.java"

for _ in $(seq 150); do
  [ "$(fourlw ruok)" = imok ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.2
done
[ "$(fourlw ruok)" = imok ] || { echo "server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }
fourlw srvr >"$WORK/srvr.txt"

python3 -u "$HERE/proxy.py" --listen "$PROXY_PORT" --upstream "$SERVER_PORT" \
  --control "$CONTROL_PORT" --log "$WORK/frames.jsonl" >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 50); do grep -q "proxy ready" "$WORK/proxy.log" 2>/dev/null && break; sleep 0.1; done
grep -q "proxy ready" "$WORK/proxy.log" || { cat "$WORK/proxy.log" >&2; exit 1; }

timeout 120 java -cp "$CP:$WORK/classes" -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
  "$CLIENT" "$PROXY_PORT" "$CONTROL_PORT" "$SERVER_PORT" "$WORK/results.tsv" \
  >"$WORK/client.out" 2>"$WORK/client.log" &
CLIENT_PID=$!
if ! wait "$CLIENT_PID"; then
  echo "$CLIENT.java failed" >&2; cat "$WORK/client.out" "$WORK/client.log" >&2; exit 1
fi
CLIENT_PID=""
# proxy exits on QUIT from Capture; give it a moment to flush
for _ in $(seq 30); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.1; done

JAVA_VERSION="$(java -version 2>&1 | head -n 2 | tr '\n' ' ')"
PKG_VERSION="$(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo unknown)"
mkdir -p "$FIXTURES"
if [ "$CLIENT" = Capture ]; then
  python3 "$HERE/extract.py" --log "$WORK/frames.jsonl" --results "$WORK/results.tsv" \
    --srvr "$WORK/srvr.txt" --java-version "$JAVA_VERSION" --package-version "$PKG_VERSION" \
    --out "$FIXTURES"
  python3 "$HERE/verify.py" --fixtures "$FIXTURES" --results "$WORK/results.tsv"
else
  # What the server logged about the reconfigs, for the fixtures' README.
  grep -i -E 'reconfig' "$WORK/server.log" | sed 's/^/  server.log: /' >"$WORK/server-reconfig.txt" || true
  python3 "$HERE/extract_null.py" --golden "$HERE" --log "$WORK/frames.jsonl" \
    --results "$WORK/results.tsv" --srvr "$WORK/srvr.txt" \
    --server-log-excerpt "$WORK/server-reconfig.txt" \
    --java-version "$JAVA_VERSION" --package-version "$PKG_VERSION" --out "$FIXTURES"
  python3 "$HERE/check_null.py" "$FIXTURES"
fi
echo "fixtures written to $FIXTURES"
