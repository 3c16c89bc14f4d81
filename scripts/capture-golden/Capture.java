// Drives the real ZooKeeper Java client through the recording proxy (proxy.py) so that
// capture.sh can cut golden protocol frames out of the recording.
//
//   java -cp zookeeper.jar:. Capture <proxyPort> <controlPort> <serverPort> <results.txt>
//
// Before each request it wants named, it tells the proxy "LABEL <name> <opcode>": the
// proxy gives that name to the next client->server frame with that opcode. It also
// asks the proxy to DROP the connection once (to make the client reconnect and send
// SetWatches) and writes what the Java client itself decoded to results.txt, so the
// extracted fixtures can be cross-checked against the reference client's view.

import java.io.*;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.*;

import org.apache.zookeeper.*;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.OpCode;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Stat;

public class Capture {
    static BufferedReader ctlIn;
    static Writer ctlOut;
    static PrintWriter results;
    static final BlockingQueue<WatchedEvent> states = new LinkedBlockingQueue<>();
    static final BlockingQueue<WatchedEvent> nodeEvents = new LinkedBlockingQueue<>();

    static String control(String cmd) throws IOException {
        ctlOut.write(cmd + "\n");
        ctlOut.flush();
        String r = ctlIn.readLine();
        if (r == null || !r.startsWith("OK")) throw new IOException("proxy said " + r + " to " + cmd);
        return r;
    }

    static void label(String name, int opcode) throws IOException {
        control("LABEL " + name + " " + opcode);
    }

    static void out(String key, Object value) {
        results.println(key + "\t" + value);
        results.flush();
        System.out.println(key + "\t" + value);
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x));
        return sb.toString();
    }

    static String stat(Stat s) {
        return String.format("czxid=%d mzxid=%d ctime=%d mtime=%d version=%d cversion=%d aversion=%d ephemeralOwner=%d dataLength=%d numChildren=%d pzxid=%d",
            s.getCzxid(), s.getMzxid(), s.getCtime(), s.getMtime(), s.getVersion(), s.getCversion(),
            s.getAversion(), s.getEphemeralOwner(), s.getDataLength(), s.getNumChildren(), s.getPzxid());
    }

    static String acls(List<ACL> l) {
        StringBuilder sb = new StringBuilder("[");
        for (ACL a : l) {
            if (sb.length() > 1) sb.append(",");
            sb.append(a.getId().getScheme()).append(":").append(a.getId().getId()).append(":").append(a.getPerms());
        }
        return sb.append("]").toString();
    }

    static String results(List<OpResult> rs) {
        StringBuilder sb = new StringBuilder("[");
        for (OpResult r : rs) {
            if (sb.length() > 1) sb.append(", ");
            if (r instanceof OpResult.ErrorResult) sb.append("error(").append(((OpResult.ErrorResult) r).getErr()).append(")");
            else if (r instanceof OpResult.CreateResult) sb.append("create(").append(((OpResult.CreateResult) r).getPath()).append(")");
            else if (r instanceof OpResult.SetDataResult) sb.append("setData(version=").append(((OpResult.SetDataResult) r).getStat().getVersion()).append(")");
            else if (r instanceof OpResult.CheckResult) sb.append("check");
            else if (r instanceof OpResult.DeleteResult) sb.append("delete");
            else if (r instanceof OpResult.GetDataResult) sb.append("getData(").append(new String(((OpResult.GetDataResult) r).getData(), StandardCharsets.UTF_8)).append(")");
            else if (r instanceof OpResult.GetChildrenResult) sb.append("getChildren(").append(new TreeSet<>(((OpResult.GetChildrenResult) r).getChildren())).append(")");
            else sb.append(r.getClass().getSimpleName()).append("(type=").append(r.getType()).append(")");
        }
        return sb.append("]").toString();
    }

    static WatchedEvent expectEvent(BlockingQueue<WatchedEvent> q, String what) throws Exception {
        WatchedEvent e = q.poll(15, TimeUnit.SECONDS);
        if (e == null) throw new IllegalStateException("timed out waiting for " + what);
        return e;
    }

    static void awaitState(KeeperState want) throws Exception {
        while (true) {
            WatchedEvent e = expectEvent(states, "state " + want);
            if (e.getState() == want) return;
        }
    }

    public static void main(String[] args) throws Exception {
        int proxyPort = Integer.parseInt(args[0]);
        int controlPort = Integer.parseInt(args[1]);
        int serverPort = Integer.parseInt(args[2]);
        results = new PrintWriter(new FileWriter(args[3]));
        System.setProperty("zookeeper.sasl.client", "false");

        Socket ctl = new Socket("127.0.0.1", controlPort);
        ctlIn = new BufferedReader(new InputStreamReader(ctl.getInputStream(), StandardCharsets.US_ASCII));
        ctlOut = new OutputStreamWriter(ctl.getOutputStream(), StandardCharsets.US_ASCII);

        out("zookeeper.version", Version.getFullVersion());
        out("java.version", System.getProperty("java.version"));
        out("java.vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));

        Watcher watcher = event -> {
            if (event.getType() == EventType.None) states.add(event);
            else nodeEvents.add(event);
        };

        // ---- connection 1: new session -------------------------------------------------
        ZooKeeper zk = new ZooKeeper("127.0.0.1:" + proxyPort, 4000, watcher);
        awaitState(KeeperState.SyncConnected);
        out("session.id", String.format("0x%016x", zk.getSessionId()));
        out("session.passwd", hex(zk.getSessionPasswd()));
        out("session.timeout", zk.getSessionTimeout());

        // digest auth: sent with xid -4 and replayed after the reconnect
        zk.addAuthInfo("digest", "golden:secret".getBytes(StandardCharsets.UTF_8));

        label("create", OpCode.create);
        out("create", zk.create("/golden", "hello".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));

        Stat st = new Stat();
        label("get_data", OpCode.getData);
        byte[] d = zk.getData("/golden", true, st);
        out("get_data", new String(d, StandardCharsets.UTF_8) + " " + stat(st));

        label("set_data", OpCode.setData);
        st = zk.setData("/golden", "world".getBytes(StandardCharsets.UTF_8), -1);
        out("set_data", stat(st));
        WatchedEvent ev = expectEvent(nodeEvents, "NodeDataChanged /golden");
        out("watch_notification", ev.getType() + " " + ev.getState() + " " + ev.getPath());

        label("create_child", OpCode.create);
        out("create_child", zk.create("/golden/c1", "c1".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));

        st = new Stat();
        label("get_children2", OpCode.getChildren2);
        List<String> kids = zk.getChildren("/golden", false, st);
        out("get_children2", kids + " " + stat(st));

        label("exists_missing", OpCode.exists);
        out("exists_missing", zk.exists("/golden/missing", true)); // null; leaves an exist watch

        label("create_ephemeral_sequential", OpCode.create);
        out("create_ephemeral_sequential", zk.create("/golden/e-", new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL));

        st = new Stat();
        label("create2", OpCode.create2);
        out("create2", zk.create("/golden/c2", "c2".getBytes(StandardCharsets.UTF_8), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT, st) + " " + stat(st));

        st = new Stat();
        label("get_acl", OpCode.getACL);
        out("get_acl", acls(zk.getACL("/golden/c2", st)) + " " + stat(st));

        label("exists", OpCode.exists);
        out("exists", stat(zk.exists("/golden", false)));

        label("get_children", OpCode.getChildren);
        out("get_children", new TreeSet<>(zk.getChildren("/golden", true))); // child watch

        label("get_data_watch_c1", OpCode.getData);
        out("get_data_watch_c1", new String(zk.getData("/golden/c1", true, null), StandardCharsets.UTF_8)); // data watch

        // stay idle long enough for the client to send a ping (negotiated 4000 ms -> ~1.3 s)
        Thread.sleep(2200);
        out("last_zxid_before_drop", String.format("0x%x", lastZxid(zk)));

        // ---- force a reconnect; change watched nodes while the client is away -----------
        ZooKeeper other = new ZooKeeper("127.0.0.1:" + serverPort, 4000, e -> { });
        for (int i = 0; i < 100 && other.getState() != ZooKeeper.States.CONNECTED; i++) Thread.sleep(50);
        out("proxy.drop", control("DROP"));
        awaitState(KeeperState.Disconnected);
        other.setData("/golden/c1", "c1-changed".getBytes(StandardCharsets.UTF_8), -1); // fires the data watch
        other.create("/golden/missing", new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT); // exist + child watch
        other.close();
        control("RELEASE");
        awaitState(KeeperState.SyncConnected);
        out("reconnected.session.id", String.format("0x%016x", zk.getSessionId()));
        List<String> evs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ev = expectEvent(nodeEvents, "events after reconnect");
            evs.add(ev.getType() + " " + ev.getPath());
        }
        Collections.sort(evs);
        out("events_after_reconnect", evs);

        // ---- connection 2 -----------------------------------------------------------------
        label("multi_failing", OpCode.multi);
        try {
            zk.multi(Arrays.asList(
                Op.create("/golden/m1", new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.delete("/does-not-exist", -1),
                Op.setData("/golden", "never".getBytes(StandardCharsets.UTF_8), -1)));
            out("multi_failing", "UNEXPECTED SUCCESS");
        } catch (KeeperException e) {
            out("multi_failing", e.code() + "(" + e.code().intValue() + ") path=" + e.getPath() + " results=" + results(e.getResults()));
        }

        label("set_data_bad_version", OpCode.setData);
        try {
            zk.setData("/golden", "nope".getBytes(StandardCharsets.UTF_8), 99);
            out("set_data_bad_version", "UNEXPECTED SUCCESS");
        } catch (KeeperException e) {
            out("set_data_bad_version", e.code() + "(" + e.code().intValue() + ")");
        }

        label("multi", OpCode.multi);
        out("multi", results(zk.multi(Arrays.asList(
            Op.create("/golden/m2", "m2".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.setData("/golden/m2", "m2b".getBytes(StandardCharsets.UTF_8), 0),
            Op.check("/golden", 1),
            Op.delete("/golden/m2", -1)))));

        label("multi_read", OpCode.multiRead);
        try {
            out("multi_read", results(zk.multi(Arrays.asList(
                Op.getData("/golden"), Op.getChildren("/golden"), Op.getData("/does-not-exist")))));
        } catch (KeeperException e) {
            out("multi_read", "threw " + e.code() + " results=" + results(e.getResults()));
        }

        label("sync", OpCode.sync);
        CountDownLatch synced = new CountDownLatch(1);
        zk.sync("/golden", (rc, path, ctx) -> { out("sync", "rc=" + rc + " path=" + path); synced.countDown(); }, null);
        synced.await(15, TimeUnit.SECONDS);

        label("delete", OpCode.delete);
        zk.delete("/golden/c2", -1);
        out("delete", "ok");

        label("get_all_children_number", OpCode.getAllChildrenNumber);
        out("get_all_children_number", zk.getAllChildrenNumber("/golden"));

        label("get_ephemerals", OpCode.getEphemerals);
        out("get_ephemerals", zk.getEphemerals("/golden"));

        label("who_am_i", OpCode.whoAmI);
        StringBuilder who = new StringBuilder();
        for (ClientInfo ci : zk.whoAmI()) who.append(ci.getAuthScheme()).append(":").append(ci.getUser()).append(" ");
        out("who_am_i", who.toString().trim());

        label("add_watch", OpCode.addWatch);
        zk.addWatch("/golden", AddWatchMode.PERSISTENT);
        out("add_watch", "ok");

        label("set_data_persistent", OpCode.setData);
        out("set_data_persistent", stat(zk.setData("/golden", "again".getBytes(StandardCharsets.UTF_8), -1)));
        ev = expectEvent(nodeEvents, "persistent NodeDataChanged /golden");
        out("persistent_notification", ev.getType() + " " + ev.getState() + " " + ev.getPath());

        label("close_session", OpCode.closeSession);
        zk.close();
        out("closed", "ok");
        Thread.sleep(300);
        control("QUIT");
        results.close();
    }

    // ZooKeeper has no public accessor for the last zxid seen; ClientCnxn does.
    static long lastZxid(ZooKeeper zk) {
        try {
            java.lang.reflect.Field f = ZooKeeper.class.getDeclaredField("cnxn");
            f.setAccessible(true);
            return ((ClientCnxn) f.get(zk)).getLastZxid();
        } catch (ReflectiveOperationException e) {
            return -1;
        }
    }
}
