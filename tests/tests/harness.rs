//! Tests of the harness itself, against real ZooKeeper servers.
//!
//! They fail (never skip) when ZooKeeper is not installed: the error names
//! the install command.

use std::io::{BufRead, BufReader, ErrorKind};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zk_tests::{
    four_letter_word, four_letter_word_with_timeout, process_is_alive, Ensemble, Mode, Server,
    ServerOptions, State, INSTALL_COMMAND,
};

/// Generous bound for elections and restarts on a busy two-core machine.
const WAIT: Duration = Duration::from_secs(30);

fn standalone() -> Server {
    Server::standalone(&ServerOptions::fast_expiry()).expect("start a standalone ZooKeeper")
}

fn ensemble(options: &ServerOptions) -> Ensemble {
    Ensemble::start(3, options).expect("start a 3-member ZooKeeper ensemble")
}

/// Waits up to 10 s for process `pid` to be gone.
fn assert_dies(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_is_alive(pid) {
        assert!(Instant::now() < deadline, "JVM {pid} is still alive");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn standalone_server_answers_ruok_and_srvr_and_logs_to_its_own_file() {
    let server = standalone();
    let addr = server.client_addr();
    assert_eq!(
        server.connect_string(),
        format!("127.0.0.1:{}", addr.port())
    );
    assert_eq!(four_letter_word(addr, "ruok").unwrap(), "imok");
    let srvr = four_letter_word(addr, "srvr").unwrap();
    assert_eq!(Mode::from_srvr(&srvr), Some(Mode::Standalone), "{srvr}");
    assert_eq!(server.mode(), Some(Mode::Standalone));
    assert_eq!(four_letter_word(addr, "isro").unwrap(), "rw");

    // The options reached the server.
    let conf = four_letter_word(addr, "conf").unwrap();
    assert!(conf.contains("tickTime=200"), "{conf}");
    assert!(conf.contains("maxSessionTimeout=60000"), "{conf}");

    // log4j writes to the console, which lands in the server's own log.
    let log = std::fs::read_to_string(server.log_path()).unwrap();
    assert!(log.contains("INFO"), "no log4j output in {log}");
    assert!(
        log.contains(&format!("clientPortAddress is {addr}")),
        "{log}"
    );
}

#[test]
fn three_member_ensemble_elects_exactly_one_leader() {
    let ensemble = ensemble(&ServerOptions::fast_expiry());
    let ports: Vec<u16> = ensemble
        .client_addrs()
        .iter()
        .map(std::net::SocketAddr::port)
        .collect();
    assert_eq!(
        ensemble.connect_string(),
        format!(
            "127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}",
            ports[0], ports[1], ports[2]
        )
    );
    let modes = ensemble.modes();
    let leaders = modes.iter().filter(|m| **m == Some(Mode::Leader)).count();
    let followers = modes.iter().filter(|m| **m == Some(Mode::Follower)).count();
    assert_eq!((leaders, followers), (1, 2), "{modes:?}");
    let leader = ensemble.leader().expect("a leader");
    assert_eq!(modes[leader], Some(Mode::Leader));
    for (index, member) in ensemble.members().iter().enumerate() {
        assert_eq!(member.id(), index as u64 + 1);
        assert_eq!(
            four_letter_word(member.client_addr(), "ruok").unwrap(),
            "imok"
        );
    }
}

#[test]
fn killing_the_leader_elects_another_and_restart_brings_it_back() {
    let mut ensemble = ensemble(&ServerOptions::fast_expiry());
    let old = ensemble.leader().expect("a leader");
    let old_port = ensemble.member(old).client_addr().port();

    ensemble.kill(old).unwrap();
    assert_eq!(ensemble.member(old).state(), State::Stopped);
    let new = ensemble.wait_leader(WAIT).expect("a new leader");
    assert_ne!(new, old);
    assert_eq!(ensemble.leader(), Some(new));
    assert!(four_letter_word(ensemble.member(old).client_addr(), "ruok").is_err());

    ensemble.restart(old).unwrap();
    assert_eq!(ensemble.wait_leader(WAIT).unwrap(), new);
    let back = ensemble.member(old);
    assert_eq!(back.client_addr().port(), old_port);
    assert_eq!(back.mode(), Some(Mode::Follower));
}

#[test]
fn pause_silences_srvr_and_resume_restores_it() {
    let mut server = standalone();
    let addr = server.client_addr();
    server.pause().unwrap();
    assert_eq!(server.state(), State::Paused);
    let started = Instant::now();
    let err = four_letter_word_with_timeout(addr, "srvr", Duration::from_millis(500)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(server.mode(), None);

    server.resume().unwrap();
    assert_eq!(server.state(), State::Running);
    let srvr = four_letter_word(addr, "srvr").unwrap();
    assert_eq!(Mode::from_srvr(&srvr), Some(Mode::Standalone));
}

#[test]
fn restart_brings_a_killed_standalone_server_back_on_its_port() {
    let mut server = standalone();
    let addr = server.client_addr();
    let first_pid = server.pid().unwrap();
    server.kill().unwrap();
    assert!(!process_is_alive(first_pid));
    assert!(four_letter_word(addr, "ruok").is_err());

    server.restart().unwrap();
    assert_eq!(server.wait_serving(WAIT).unwrap(), Mode::Standalone);
    assert_eq!(server.client_addr(), addr);
    assert_ne!(server.pid(), Some(first_pid));
    assert_eq!(four_letter_word(addr, "ruok").unwrap(), "imok");

    // A graceful stop and start work as well.
    server.stop().unwrap();
    assert_eq!(server.state(), State::Stopped);
    server.start().unwrap();
    server.wait_serving(WAIT).unwrap();
}

#[test]
fn dropping_a_server_or_ensemble_kills_its_jvms_even_when_paused() {
    let mut server = standalone();
    let pid = server.pid().unwrap();
    server.pause().unwrap();
    drop(server);
    assert!(!process_is_alive(pid), "paused JVM {pid} survived the drop");

    let mut ensemble = ensemble(&ServerOptions::fast_expiry());
    let pids: Vec<u32> = ensemble.members().iter().filter_map(Server::pid).collect();
    assert_eq!(pids.len(), 3);
    ensemble.pause(0).unwrap();
    drop(ensemble);
    for pid in pids {
        assert!(!process_is_alive(pid), "JVM {pid} survived the drop");
    }
}

#[test]
fn a_panicking_test_kills_its_jvm() {
    let (tx, rx) = mpsc::channel();
    let outcome = thread::spawn(move || {
        let server = standalone();
        tx.send(server.pid().unwrap()).unwrap();
        panic!("deliberate panic with a running server");
    })
    .join();
    assert!(outcome.is_err());
    let pid = rx.recv().unwrap();
    assert!(!process_is_alive(pid), "JVM {pid} survived the panic");
}

#[test]
fn sigkilling_the_test_process_kills_its_paused_jvm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-harness"))
        .arg("--fast-expiry")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Held open until after the kill: closing it would end the child cleanly.
    let stdin = child.stdin.take();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut pid = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(value) = line.strip_prefix("pid.0=") {
            pid = Some(value.parse::<u32>().unwrap());
        }
        if line == "ready" {
            break;
        }
    }
    let pid = pid.expect("zk-harness printed no JVM pid (did it fail to start?)");
    assert!(process_is_alive(pid));
    // Freeze the JVM too: the watchdog must kill a stopped JVM as well.
    let status = Command::new("sh")
        .args(["-c", r#"kill -s STOP "$1""#, "sh", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    child.kill().unwrap(); // SIGKILL: no destructor runs in the child.
    child.wait().unwrap();
    assert_dies(pid);
    drop(stdin);
}

#[test]
fn a_missing_jar_fails_with_the_install_command() {
    let output = Command::new(env!("CARGO_BIN_EXE_zk-harness"))
        .env("ZK_JAR", "/nonexistent/zookeeper.jar")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(INSTALL_COMMAND), "{stderr}");
    assert!(stderr.contains("/nonexistent/zookeeper.jar"), "{stderr}");
}

#[test]
fn read_only_member_serves_read_only_after_losing_its_quorum() {
    let options = ServerOptions {
        read_only: true,
        ..ServerOptions::fast_expiry()
    };
    let mut ensemble = ensemble(&options);
    let leader = ensemble.leader().expect("a leader");
    let survivor = (leader + 1) % 3;
    for index in 0..3 {
        if index != survivor {
            ensemble.kill(index).unwrap();
        }
    }
    let mode = ensemble
        .member_mut(survivor)
        .wait_mode(WAIT, "serve read-only", |mode| mode == Mode::ReadOnly)
        .unwrap();
    assert_eq!(mode, Mode::ReadOnly);
    let addr = ensemble.member(survivor).client_addr();
    assert_eq!(four_letter_word(addr, "isro").unwrap(), "ro");
}
