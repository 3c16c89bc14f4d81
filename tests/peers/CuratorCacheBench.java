// The tree-cache benchmark for Curator (Debian's libcurator-recipes-java 5.4): its TreeCache or its
// CuratorCache over a tree the Rust harness has already created, driven over stdin and stdout.
//
// java -cp <curator and zookeeper jars> CuratorCacheBench.java <connect string> <root path> <expected node count> <treecache|curatorcache> [<load timeout s, default 300>]
//
// Protocol, one `name value` a line on stdout:
//   load_ms <ms>                from start() until the cache says it is initialized (TreeCache's
//                               INITIALIZED event, CuratorCacheListener.initialized())
//   loaded_nodes <n>            the nodes in the cache then, the root included
//   heap_bytes_per_node <b>     used heap after load and a few System.gc()s, less the same before
//                               the cache was built, divided by loaded_nodes
//   ready                       then it waits on stdin for
//     expect <path> <u64>       (the writer has finished) and polls the cache every 1 ms until <path>
//                               holds that value as 8 bytes big-endian, then prints (polled,
//                               not woken by the cache's events: with Curator they trail the
//                               cache's own state by up to 11 ms here, and the lag measures the
//                               state)
//   lag_ms <ms>                 from reading the `expect` line to seeing the value (or `timeout`
//                               after 120 s)
//   updates_seen <n>            NODE_UPDATED / NODE_CHANGED events since `ready` (counted once the
//                               event carrying the final value is delivered too, at most 10 s more)
//     quit                      (or end of input) closes the cache and the client and exits.
// Further `expect` lines may follow; each one's updates_seen counts from the previous report.
// If the cache is not initialized within the load timeout it prints `load_ms timeout` and
// `loaded_nodes <nodes so far>` and exits 0. A count other than the expected one goes to stderr.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.cache.TreeCacheEvent;
import org.apache.curator.retry.RetryOneTime;

@SuppressWarnings("deprecation") // TreeCache is deprecated in Curator 5 in favour of CuratorCache
public class CuratorCacheBench {
    static final CountDownLatch initialized = new CountDownLatch(1);
    static final AtomicLong initializedAt = new AtomicLong();
    static final AtomicLong updates = new AtomicLong();
    static volatile boolean counting = false;
    // The latest update event's node and value, to know when the final update's event is in.
    static volatile String lastUpdatePath = null;
    static volatile Long lastUpdateValue = null;

    static Long value(byte[] data) {
        return data != null && data.length == 8 ? ByteBuffer.wrap(data).getLong() : null;
    }

    static void initializedNow() {
        initializedAt.compareAndSet(0, System.nanoTime());
        initialized.countDown();
    }

    static void updated(ChildData data) {
        if (!counting) return;
        synchronized (CuratorCacheBench.class) {
            lastUpdatePath = data.getPath();
            lastUpdateValue = value(data.getData());
        }
        updates.incrementAndGet();
    }

    static boolean lastUpdateIs(String path, long expected) {
        synchronized (CuratorCacheBench.class) {
            return path.equals(lastUpdatePath) && lastUpdateValue != null && lastUpdateValue == expected;
        }
    }

    static long usedHeap() throws InterruptedException {
        Runtime runtime = Runtime.getRuntime();
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return runtime.totalMemory() - runtime.freeMemory();
    }

    /** The live nodes a TreeCache holds under (and including) root. */
    static long treeCacheNodes(TreeCache cache, String root) {
        long count = 0;
        ArrayDeque<String> pending = new ArrayDeque<>();
        pending.add(root);
        while (!pending.isEmpty()) {
            String path = pending.pop();
            if (cache.getCurrentData(path) != null) count++;
            Map<String, ChildData> children = cache.getCurrentChildren(path);
            if (children == null) continue;
            for (ChildData child : children.values()) pending.push(child.getPath());
        }
        return count;
    }

    /** Three decimals, never an exponent. */
    static String fixed(double value) {
        return String.format(java.util.Locale.ROOT, "%.3f", value);
    }

    static void print(String name, Object value) {
        System.out.println(name + " " + value);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: CuratorCacheBench <connect string> <root path> <expected node count>"
                    + " <treecache|curatorcache> [<load timeout s>]");
            System.exit(2);
        }
        String connect = args[0];
        String root = args[1];
        long expected = Long.parseLong(args[2]);
        String mode = args[3];
        long loadTimeoutS = args.length > 4 ? Long.parseLong(args[4]) : 300;
        if (!mode.equals("treecache") && !mode.equals("curatorcache")) {
            System.err.println("mode must be treecache or curatorcache, not " + mode);
            System.exit(2);
        }
        boolean tree = mode.equals("treecache");

        CuratorFramework c = CuratorFrameworkFactory.newClient(connect, 30000, 15000, new RetryOneTime(100));
        c.start();
        c.blockUntilConnected();

        TreeCache treeCache = null;
        CuratorCache curatorCache = null;
        long heapBefore = usedHeap();
        long started;
        if (tree) {
            treeCache = new TreeCache(c, root);
            treeCache.getListenable().addListener((client, event) -> {
                TreeCacheEvent.Type type = event.getType();
                if (type == TreeCacheEvent.Type.INITIALIZED) initializedNow();
                else if (type == TreeCacheEvent.Type.NODE_UPDATED) updated(event.getData());
            });
            started = System.nanoTime();
            treeCache.start();
        } else {
            curatorCache = CuratorCache.build(c, root);
            curatorCache.listenable().addListener(new CuratorCacheListener() {
                @Override
                public void event(Type type, ChildData oldData, ChildData data) {
                    if (type == Type.NODE_CHANGED) updated(data);
                }

                @Override
                public void initialized() {
                    initializedNow();
                }
            });
            started = System.nanoTime();
            curatorCache.start();
        }
        TreeCache tc = treeCache;
        CuratorCache cc = curatorCache;
        java.util.function.LongSupplier nodes = () -> tree ? treeCacheNodes(tc, root) : cc.size();

        if (!initialized.await(loadTimeoutS, TimeUnit.SECONDS)) {
            print("load_ms", "timeout");
            print("loaded_nodes", nodes.getAsLong());
            System.out.flush();
            System.exit(0);
        }
        print("load_ms", fixed((initializedAt.get() - started) / 1e6));
        long loaded = nodes.getAsLong();
        print("loaded_nodes", loaded);
        if (loaded != expected) {
            System.err.println("loaded " + loaded + " nodes, expected " + expected);
        }
        long heapAfter = usedHeap();
        print("heap_bytes_per_node", loaded == 0 ? "nan" : fixed((double) (heapAfter - heapBefore) / loaded));

        counting = true;
        System.out.println("ready");
        System.out.flush();

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            String[] words = line.trim().split("\\s+");
            if (words[0].equals("quit")) break;
            if (!words[0].equals("expect") || words.length != 3) {
                System.err.println("unknown command: " + line);
                continue;
            }
            long read = System.nanoTime();
            String path = words[1];
            long want = Long.parseUnsignedLong(words[2]);
            long deadline = read + TimeUnit.SECONDS.toNanos(120);
            boolean seen = false;
            long seenAt = 0;
            while (true) {
                byte[] data = tree
                        ? java.util.Optional.ofNullable(tc.getCurrentData(path)).map(ChildData::getData).orElse(null)
                        : cc.get(path).map(ChildData::getData).orElse(null);
                Long have = value(data);
                if (have != null && have == want) {
                    seenAt = System.nanoTime();
                    seen = true;
                    break;
                }
                if (System.nanoTime() > deadline) break;
                LockSupport.parkNanos(1_000_000);
            }
            print("lag_ms", seen ? fixed((seenAt - read) / 1e6) : "timeout");
            // The cache may hold the value before its listener is told: count once that event is in.
            long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (seen && !lastUpdateIs(path, want) && System.nanoTime() < settle) {
                LockSupport.parkNanos(1_000_000);
            }
            print("updates_seen", updates.getAndSet(0));
            System.out.flush();
        }

        if (tree) tc.close();
        else cc.close();
        c.close();
        System.exit(0);
    }
}
