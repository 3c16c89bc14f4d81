#!/usr/bin/env bash
# Compares the zk-bench figures of an older revision with the working tree's, against one
# ZooKeeper server, the two builds alternated in every repetition so that drift in the
# machine's load falls on both alike.
#
#   scripts/bench-compare.sh REV OUTDIR REPS pinned|shared [zk-bench options...]
#
# pinned: the server's JVM on the last CPU and both benchmarks on the others (as zk-bench's
# own --pin, which cannot be combined with --connect); shared: every process on every CPU.
# KEEP_AWAKE=1 also runs, on the clients' CPUs, a process that wakes every millisecond and does
# nothing else, for both builds alike. On this machine (a virtual machine with the haltpoll
# cpuidle driver) the CPU a process is charged per wake-up grows with how long its CPU was
# idle before; a client that sleeps in fewer, longer stretches can measure more CPU per call
# for the same work. Keeping the CPU awake takes that out of the comparison.
# Each run writes OUTDIR/{old,new}-N.md; compare them side by side with
#   python3 scripts/bench-table.py OUTDIR
# Example (the review of session 5):
#   scripts/bench-compare.sh 253a8bc /tmp/cmp 5 pinned --adapter tokio,tokio-mt,async-std,smol,blocking \
#       --ops 100000 --set-ops 20000 --latency-ops 10000
set -euo pipefail

rev=$1 out=$2 reps=$3 cpus=$4
shift 4
root=$(cd "$(dirname "$0")/.." && pwd)
old_tree=$(mktemp -d /tmp/zk-bench-old.XXXXXX)
old_target=${OLD_TARGET_DIR:-/tmp/zk-bench-old-target}
fifo=$(mktemp -u /tmp/zk-harness-in.XXXXXX)
harness_out=$(mktemp /tmp/zk-harness-out.XXXXXX)
keeper=
cleanup() {
    [ -n "$keeper" ] && kill "$keeper" 2>/dev/null || true
    exec 3>&- 2>/dev/null || true
    git -C "$root" worktree remove --force "$old_tree" 2>/dev/null || true
    rm -f "$fifo" "$harness_out"
}
trap cleanup EXIT

git -C "$root" worktree add --detach "$old_tree" "$rev" >/dev/null
(cd "$old_tree" && CARGO_TARGET_DIR=$old_target cargo build --release -p zk-tests --bin zk-bench)
(cd "$root" && cargo build --release -p zk-tests --bin zk-bench --bin zk-harness)

mkdir -p "$out"
mkfifo "$fifo"
"$root/target/release/zk-harness" --full-jit <"$fifo" >"$harness_out" 2>&1 &
exec 3>"$fifo"
for _ in $(seq 1 120); do grep -q '^connect=' "$harness_out" && break; sleep 1; done
connect=$(grep '^connect=' "$harness_out" | cut -d= -f2)
jvm=$(grep '^pid.0=' "$harness_out" | cut -d= -f2)
client=()
if [ "$cpus" = pinned ]; then
    last=$(($(nproc) - 1))
    taskset -a -p -c "$last" "$jvm" >/dev/null
    client=(taskset -c "0-$((last - 1))")
fi
if [ "${KEEP_AWAKE:-0}" = 1 ]; then
    "${client[@]}" python3 -c 'import time
while True: time.sleep(0.001)' &
    keeper=$!
fi
echo "server $connect (JVM $jvm), CPUs $cpus, keep awake ${KEEP_AWAKE:-0}"
for i in $(seq 1 "$reps"); do
    for v in old new; do
        if [ "$v" = old ]; then bin=$old_target/release/zk-bench; else bin=$root/target/release/zk-bench; fi
        warm=1
        [ "$i" = 1 ] && warm=8
        "${client[@]}" "$bin" --connect "$connect" --repeat 1 --warm-secs "$warm" "$@" \
            --markdown "$out/$v-$i.md" >"$out/$v-$i.log" 2>&1
        echo "repetition $i, $v: load $(cut -d' ' -f1 /proc/loadavg)"
    done
done
