// The recipes benchmark for Curator (Debian's libcurator-recipes-java 5.4), run by
// `recipes-bench --peers`: the same three measurements as zk-recipes', printed one per line as
// `name value_us_or_per_s`.
//
// java -cp <curator and zookeeper jars> CuratorRecipesBench.java <connect string> <iterations> [<warm-up iterations>]

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryOneTime;

public class CuratorRecipesBench {
    static CuratorFramework client(String connect) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(connect, 30000, 15000, new RetryOneTime(100));
        c.start();
        c.blockUntilConnected();
        return c;
    }

    static long percentile(long[] sorted, double p) {
        return sorted[(int) Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        int iterations = Integer.parseInt(args[1]);
        CuratorFramework c = client(connect);

        InterProcessMutex mutex = new InterProcessMutex(c, "/curator-bench/uncontended");
        int warmUp = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        for (int i = 0; i < warmUp; i++) {
            mutex.acquire();
            mutex.release();
        }
        long[] samples = new long[iterations];
        for (int i = 0; i < iterations; i++) {
            long started = System.nanoTime();
            mutex.acquire();
            mutex.release();
            samples[i] = System.nanoTime() - started;
        }
        Arrays.sort(samples);
        System.out.println("uncontended_p50_us " + percentile(samples, 0.5) / 1000.0);
        System.out.println("uncontended_p90_us " + percentile(samples, 0.9) / 1000.0);

        AtomicLong taken = new AtomicLong();
        AtomicLong releasedAt = new AtomicLong();
        List<Long> handovers = java.util.Collections.synchronizedList(new ArrayList<>());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        List<Thread> threads = new ArrayList<>();
        List<CuratorFramework> clients = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            CuratorFramework own = client(connect);
            clients.add(own);
            InterProcessMutex contended = new InterProcessMutex(own, "/curator-bench/contended");
            Thread t = new Thread(() -> {
                try {
                    while (System.nanoTime() < deadline) {
                        contended.acquire();
                        taken.incrementAndGet();
                        long released = releasedAt.get();
                        if (released != 0) handovers.add(System.nanoTime() - released);
                        releasedAt.set(System.nanoTime());
                        contended.release();
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            threads.add(t);
        }
        long started = System.nanoTime();
        for (Thread t : threads) t.start();
        for (Thread t : threads) t.join();
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.println("contended_per_s " + taken.get() / seconds);
        long[] h = handovers.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.println("handover_p50_us " + percentile(h, 0.5) / 1000.0);
        System.out.println("handover_p90_us " + percentile(h, 0.9) / 1000.0);
        for (CuratorFramework own : clients) own.close();

        long[] failovers = new long[20];
        for (int round = 0; round < 20; round++) {
            String path = "/curator-bench/election-" + round;
            CuratorFramework leaderClient = client(connect);
            LeaderLatch leader = new LeaderLatch(leaderClient, path, "leader");
            leader.start();
            leader.await();
            LeaderLatch follower = new LeaderLatch(c, path, "follower");
            follower.start();
            // Until the follower is queued: a children watch says when the election changes.
            while (true) {
                java.util.concurrent.CountDownLatch changed = new java.util.concurrent.CountDownLatch(1);
                int queued = c.getChildren()
                        .usingWatcher((org.apache.zookeeper.Watcher) event -> changed.countDown())
                        .forPath(path)
                        .size();
                if (queued >= 2) break;
                changed.await();
            }
            long t0 = System.nanoTime();
            leaderClient.close();
            follower.await();
            failovers[round] = System.nanoTime() - t0;
            follower.close();
        }
        Arrays.sort(failovers);
        System.out.println("failover_p50_us " + percentile(failovers, 0.5) / 1000.0);
        System.out.println("failover_p90_us " + percentile(failovers, 0.9) / 1000.0);
        c.close();
    }
}
