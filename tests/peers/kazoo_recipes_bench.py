"""The recipes benchmark for kazoo (Debian's python3-kazoo), run by `recipes-bench --peers`:
the same three measurements as zk-recipes', printed one per line as `name value`.

/usr/bin/python3 kazoo_recipes_bench.py <connect string> <iterations> [<warm-up iterations>]
"""

import logging
import sys
import threading
import time

from kazoo.client import KazooClient

logging.basicConfig(level=logging.CRITICAL)


def client(connect):
    c = KazooClient(hosts=connect, timeout=30.0)
    c.start()
    return c


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * p))]


def main():
    connect, iterations = sys.argv[1], int(sys.argv[2])
    warm_up = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    c = client(connect)

    lock = c.Lock("/kazoo-bench/uncontended", "bench")
    for _ in range(warm_up):
        lock.acquire()
        lock.release()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        lock.acquire()
        lock.release()
        samples.append(time.perf_counter() - started)
    print("uncontended_p50_us", percentile(samples, 0.5) * 1e6)
    print("uncontended_p90_us", percentile(samples, 0.9) * 1e6)

    taken = [0]
    released_at = [None]
    handovers = []
    guard = threading.Lock()
    deadline = time.monotonic() + 5
    clients = [client(connect) for _ in range(10)]

    def contend(own):
        contended = own.Lock("/kazoo-bench/contended", "bench")
        while time.monotonic() < deadline:
            contended.acquire()
            with guard:
                taken[0] += 1
                if released_at[0] is not None:
                    handovers.append(time.perf_counter() - released_at[0])
                released_at[0] = time.perf_counter()
            contended.release()

    threads = [threading.Thread(target=contend, args=(own,)) for own in clients]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("contended_per_s", taken[0] / (time.monotonic() - started))
    print("handover_p50_us", percentile(handovers, 0.5) * 1e6)
    print("handover_p90_us", percentile(handovers, 0.9) * 1e6)
    for own in clients:
        own.stop()

    failovers = []
    for round_ in range(20):
        path = "/kazoo-bench/election-%d" % round_
        leader_client = client(connect)
        leader_lock = leader_client.Lock(path, "leader")
        leader_lock.acquire()
        follower = c.Lock(path, "follower")
        acquired = threading.Event()

        def follow():
            follower.acquire()
            acquired.set()

        t = threading.Thread(target=follow)
        t.start()
        # Until the follower is queued: a children watch says when the election changes.
        while True:
            changed = threading.Event()
            if len(c.get_children(path, watch=lambda _event: changed.set())) >= 2:
                break
            changed.wait()
        t0 = time.perf_counter()
        leader_client.stop()
        leader_client.close()
        acquired.wait()
        failovers.append(time.perf_counter() - t0)
        t.join()
        follower.release()
    print("failover_p50_us", percentile(failovers, 0.5) * 1e6)
    print("failover_p90_us", percentile(failovers, 0.9) * 1e6)
    c.stop()


main()
