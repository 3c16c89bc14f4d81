// Drives the real ZooKeeper Java client (3.8, Debian's /usr/share/java/zookeeper.jar) through
// the recording proxy (/work/main/scripts/capture-golden/proxy.py) to capture frames in which
// jute nulls appear (null buffers, null ustrings), plus empty-buffer contrasts.
//
//   java -cp zookeeper.jar:. CaptureNull <proxyPort> <controlPort> <results.tsv>
//
// Everything runs on ONE session: ZooKeeperAdmin extends ZooKeeper, so the same handle does
// the creates/getData/setData and the reconfigs. Before each request it wants named it tells
// the proxy "LABEL <name> <opcode>"; the proxy gives that name to the next client->server frame
// with that opcode. What the Java API itself returned is written to results.tsv.

import java.io.*;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.*;

import org.apache.zookeeper.*;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.OpCode;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.Stat;

public class CaptureNull {
    static BufferedReader ctlIn;
    static Writer ctlOut;
    static PrintWriter results;
    static final BlockingQueue<WatchedEvent> states = new LinkedBlockingQueue<>();

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

    static String data(byte[] b) {
        return b == null ? "null" : "byte[" + b.length + "]" + (b.length > 0 ? "=" + new String(b, StandardCharsets.UTF_8) : "");
    }

    static String stat(Stat s) {
        return String.format("czxid=%d mzxid=%d version=%d dataLength=%d numChildren=%d",
            s.getCzxid(), s.getMzxid(), s.getVersion(), s.getDataLength(), s.getNumChildren());
    }

    public static void main(String[] args) throws Exception {
        int proxyPort = Integer.parseInt(args[0]);
        int controlPort = Integer.parseInt(args[1]);
        // args[2] is the server's own port, which this capture does not use.
        results = new PrintWriter(new FileWriter(args[3]));
        System.setProperty("zookeeper.sasl.client", "false");

        Socket ctl = new Socket("127.0.0.1", controlPort);
        ctlIn = new BufferedReader(new InputStreamReader(ctl.getInputStream(), StandardCharsets.US_ASCII));
        ctlOut = new OutputStreamWriter(ctl.getOutputStream(), StandardCharsets.US_ASCII);

        out("zookeeper.version", Version.getFullVersion());
        out("java.version", System.getProperty("java.version"));
        out("java.vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));

        Watcher watcher = event -> { if (event.getType() == Watcher.Event.EventType.None) states.add(event); };

        // 10 s timeout: the whole script takes well under a second, so no ping is expected
        // (a ping would just be recorded and ignored by the extractor).
        ZooKeeperAdmin zk = new ZooKeeperAdmin("127.0.0.1:" + proxyPort, 10000, watcher);
        while (true) {
            WatchedEvent e = states.poll(15, TimeUnit.SECONDS);
            if (e == null) throw new IllegalStateException("not connected");
            if (e.getState() == KeeperState.SyncConnected) break;
        }
        out("session.id", String.format("0x%016x", zk.getSessionId()));
        out("session.passwd", hex(zk.getSessionPasswd()));
        out("session.timeout", zk.getSessionTimeout());

        label("create_null", OpCode.create);
        out("create_null", zk.create("/null-data", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));

        label("create_empty", OpCode.create);
        out("create_empty", zk.create("/empty-data", new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));

        Stat st = new Stat();
        label("get_data_null", OpCode.getData);
        byte[] d = zk.getData("/null-data", false, st);
        out("get_data_null", data(d) + " " + stat(st));

        st = new Stat();
        label("get_data_empty", OpCode.getData);
        d = zk.getData("/empty-data", false, st);
        out("get_data_empty", data(d) + " " + stat(st));

        label("set_data_null", OpCode.setData);
        out("set_data_null", stat(zk.setData("/empty-data", null, -1)));

        st = new Stat();
        label("get_data_after_set_null", OpCode.getData);
        d = zk.getData("/empty-data", false, st);
        out("get_data_after_set_null", data(d) + " " + stat(st));

        // Incremental reconfig: joining=null, leaving="3", newMembers=null. A standalone server
        // refuses it; we want the request bytes and the error reply.
        st = new Stat();
        label("reconfig_incremental", OpCode.reconfig);
        try {
            byte[] cfg = zk.reconfigure(null, "3", null, -1L, st);
            out("reconfig_incremental", "UNEXPECTED SUCCESS " + data(cfg));
        } catch (KeeperException e) {
            out("reconfig_incremental", e.code() + "(" + e.code().intValue() + ")");
        }

        // Non-incremental reconfig: joining=null, leaving=null, newMembers=<one server>.
        st = new Stat();
        label("reconfig_replace", OpCode.reconfig);
        try {
            byte[] cfg = zk.reconfigure(null, null, "server.1=127.0.0.1:2888:3888;2181", -1L, st);
            out("reconfig_replace", "UNEXPECTED SUCCESS " + data(cfg));
        } catch (KeeperException e) {
            out("reconfig_replace", e.code() + "(" + e.code().intValue() + ")");
        }

        label("close_session", OpCode.closeSession);
        zk.close();
        out("closed", "ok");
        Thread.sleep(300);
        control("QUIT");
        results.close();
    }
}
