"""The tree-cache benchmark for kazoo (Debian's python3-kazoo 2.8): its TreeCache over a tree the
Rust harness has already created, driven over stdin and stdout with CuratorCacheBench.java's
protocol, printed one per line as `name value`.

/usr/bin/python3 kazoo_cache_bench.py <connect string> <root path> <expected node count> <mode, ignored> [<load timeout s, default 300>]

  load_ms <ms>                from start() until the cache's INITIALIZED event
  loaded_nodes <n>            the nodes in the cache then, the root included
  heap_bytes_per_node <b>     tracemalloc's current traced memory after load (tracing started just
                              before the cache was built), divided by loaded_nodes
  rss_bytes_per_node <b>      VmRSS after load (less tracemalloc's own memory) less VmRSS before
                              the cache was built, divided by loaded_nodes
  ready                       then it waits on stdin for
    expect <path> <u64>       (the writer has finished) and polls the cache every 1 ms until <path>
                              holds that value as 8 bytes big-endian, then prints (polled, not
                              woken by the cache's events: those can trail the cache's own
                              state, which is what the lag measures)
  lag_ms <ms>                 from reading the `expect` line to seeing the value (or `timeout`
                              after 120 s)
  updates_seen <n>            NODE_UPDATED events since `ready` (counted once the event carrying
                              the final value is delivered too, at most 10 s more)
    quit                      (or end of input) closes the cache and the client and exits.
Further `expect` lines may follow; each one's updates_seen counts from the previous report.
If the cache is not initialized within the load timeout it prints `load_ms timeout` and
`loaded_nodes <nodes so far>` and exits 0. A count other than the expected one goes to stderr.

tracemalloc slows every allocation down while it traces, the cache's load included.
"""

import gc
import logging
import os
import sys
import threading
import time
import tracemalloc

from kazoo.client import KazooClient
from kazoo.recipe.cache import TreeCache, TreeEvent

logging.basicConfig(level=logging.CRITICAL)


def value(data):
    return int.from_bytes(data, "big") if data is not None and len(data) == 8 else None


def fixed(number):
    """Three decimals, never an exponent."""
    return "%.3f" % number


def vm_rss_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cache_nodes(cache, root):
    """The nodes with data in the cache under (and including) root."""
    count = 0
    pending = [root]
    while pending:
        path = pending.pop()
        if cache.get_data(path) is not None:
            count += 1
        for child in cache.get_children(path, default=()):
            pending.append(path.rstrip("/") + "/" + child)
    return count


def main():
    if len(sys.argv) < 5:
        sys.stderr.write(
            "usage: kazoo_cache_bench.py <connect string> <root path> <expected node count>"
            " <mode> [<load timeout s>]\n"
        )
        sys.exit(2)
    connect, root, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    load_timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 300.0

    c = KazooClient(hosts=connect, timeout=30.0)
    c.start()

    initialized = threading.Event()
    initialized_at = [None]
    counting = [False]
    updates = [0]
    last_update = [None]  # (path, value) of the latest NODE_UPDATED
    guard = threading.Lock()

    def listener(event):
        if event.event_type == TreeEvent.INITIALIZED:
            if initialized_at[0] is None:
                initialized_at[0] = time.perf_counter()
            initialized.set()
        elif event.event_type == TreeEvent.NODE_UPDATED and counting[0]:
            with guard:
                updates[0] += 1
                last_update[0] = (event.event_data.path, value(event.event_data.data))

    gc.collect()
    rss_before = vm_rss_bytes()
    tracemalloc.start()
    cache = TreeCache(c, root)
    cache.listen(listener)
    started = time.perf_counter()
    cache.start()

    if not initialized.wait(load_timeout):
        print("load_ms", "timeout")
        print("loaded_nodes", cache_nodes(cache, root))
        sys.stdout.flush()
        os._exit(0)
    print("load_ms", fixed((initialized_at[0] - started) * 1e3))
    loaded = cache_nodes(cache, root)
    print("loaded_nodes", loaded)
    if loaded != expected:
        sys.stderr.write("loaded %d nodes, expected %d\n" % (loaded, expected))
    gc.collect()
    traced, _peak = tracemalloc.get_traced_memory()
    # tracemalloc's own bookkeeping (a trace per live block) is in the RSS too: not the cache's.
    rss_after = vm_rss_bytes() - tracemalloc.get_tracemalloc_memory()
    tracemalloc.stop()
    per_node = (lambda b: fixed(b / loaded)) if loaded else (lambda _b: "nan")
    print("heap_bytes_per_node", per_node(traced))
    print("rss_bytes_per_node", per_node(rss_after - rss_before))

    counting[0] = True
    print("ready")
    sys.stdout.flush()

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] != "expect" or len(words) != 3:
            sys.stderr.write("unknown command: %s" % line)
            continue
        read = time.perf_counter()
        path, want = words[1], int(words[2])
        deadline = read + 120
        seen_at = None
        while True:
            data = cache.get_data(path)
            if data is not None and value(data.data) == want:
                seen_at = time.perf_counter()
                break
            if time.perf_counter() > deadline:
                break
            time.sleep(0.001)
        print("lag_ms", "timeout" if seen_at is None else fixed((seen_at - read) * 1e3))
        # The cache holds the value before its listener is told: count once that event is in.
        settle = time.perf_counter() + 10
        while seen_at is not None and time.perf_counter() < settle:
            with guard:
                if last_update[0] == (path, want):
                    break
            time.sleep(0.001)
        with guard:
            print("updates_seen", updates[0])
            updates[0] = 0
        sys.stdout.flush()

    cache.close()
    c.stop()
    c.close()


main()
