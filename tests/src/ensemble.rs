//! An ensemble of ZooKeeper servers on the loopback interface.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::config::ServerOptions;
use crate::error::{HarnessError, Result};
use crate::install::{require_zookeeper, Installation};
use crate::mode::Mode;
use crate::ports::MemberPorts;
use crate::server::{Role, Server, State, POLL_INTERVAL, START_ATTEMPTS};

/// How many log lines of each member a failed ensemble wait quotes.
const MEMBER_TAIL_LINES: usize = 25;

/// An ensemble of `QuorumPeerMain` members, each in its own directory with
/// its own ports (`server.N=127.0.0.1:<quorum>:<election>`).
///
/// Members are indexed from 0; member `i` has `myid` `i + 1`. Methods taking
/// an index panic if it is out of range, like slice indexing. All JVMs are
/// killed when the ensemble is dropped.
#[derive(Debug)]
pub struct Ensemble {
    members: Vec<Server>,
}

impl Ensemble {
    /// Starts `size` members and waits until they serve with one leader.
    ///
    /// A single member runs as a standalone server (ZooKeeper's
    /// `standaloneEnabled` default). Fails with
    /// [`HarnessError::NotInstalled`] if ZooKeeper or Java is missing, and
    /// with the members' log tails if the ensemble does not serve within
    /// [`ServerOptions::start_timeout`].
    pub fn start(size: usize, options: &ServerOptions) -> Result<Self> {
        if size == 0 {
            return Err(HarnessError::Invalid(
                "an ensemble needs at least one member".into(),
            ));
        }
        let install = require_zookeeper()?;
        let mut attempt = 1;
        loop {
            match Self::try_start(&install, size, options) {
                Err(e) if e.is_port_clash() && attempt < START_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    fn try_start(install: &Installation, size: usize, options: &ServerOptions) -> Result<Self> {
        let peers = (1..=size as u64)
            .map(MemberPorts::allocate)
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| HarnessError::io("allocating ports", e))?;
        let members = peers
            .iter()
            .map(|&ports| Server::create(install, options, Role::Member, ports, &peers))
            .collect::<Result<Vec<_>>>()?;
        let mut ensemble = Self { members };
        for member in &mut ensemble.members {
            member.start()?;
        }
        ensemble.wait_leader(options.start_timeout)?;
        Ok(ensemble)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Starts a new member for a dynamic reconfiguration (an ensemble started with
    /// [`ServerOptions::reconfig`]): its configuration lists the current members and itself,
    /// so it joins as a non-voting follower until a `reconfig` adds it, and serves once it
    /// has synced. Returns its index, and the server spec a `reconfig` adds
    /// (`server.<id>=...;<client address>`).
    pub fn start_joining_member(&mut self, options: &ServerOptions) -> Result<(usize, String)> {
        let install = require_zookeeper()?;
        let id = self.members.iter().map(Server::id).max().unwrap_or(0) + 1;
        let ports =
            MemberPorts::allocate(id).map_err(|e| HarnessError::io("allocating ports", e))?;
        let mut peers: Vec<MemberPorts> = self.members.iter().map(Server::ports).collect();
        peers.push(ports);
        let mut server = Server::create(&install, options, Role::Member, ports, &peers)?;
        server.start()?;
        server.wait_serving(options.start_timeout)?;
        self.members.push(server);
        let spec = format!(
            "server.{id}=127.0.0.1:{}:{}:participant;127.0.0.1:{}",
            ports.quorum, ports.election, ports.client
        );
        Ok((self.members.len() - 1, spec))
    }

    /// Whether the ensemble has no members (never true for a started one).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// All members, by index.
    pub fn members(&self) -> &[Server] {
        &self.members
    }

    /// Member `index`.
    pub fn member(&self, index: usize) -> &Server {
        &self.members[index]
    }

    /// Member `index`, to stop, kill, restart, pause or resume it.
    pub fn member_mut(&mut self, index: usize) -> &mut Server {
        &mut self.members[index]
    }

    /// The members' client addresses, by index.
    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        self.members.iter().map(Server::client_addr).collect()
    }

    /// The connect string of all members, `127.0.0.1:p1,127.0.0.1:p2,...`,
    /// whether they run or not.
    pub fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(Server::connect_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The connect string of all members' secure (TLS) client ports, for an
    /// ensemble started with [`ServerOptions::tls`](crate::ServerOptions::tls);
    /// `None` otherwise.
    pub fn secure_connect_string(&self) -> Option<String> {
        self.members
            .iter()
            .map(Server::secure_connect_string)
            .collect::<Option<Vec<_>>>()
            .map(|strings| strings.join(","))
    }

    /// Each member's mode according to `srvr` (`None` for a stopped, paused,
    /// silent or not serving member).
    pub fn modes(&self) -> Vec<Option<Mode>> {
        self.members.iter().map(Server::mode).collect()
    }

    /// The index of the member that leads, if exactly one running member
    /// says it does.
    pub fn leader(&self) -> Option<usize> {
        let mut leaders = self
            .modes()
            .into_iter()
            .enumerate()
            .filter(|(_, mode)| mode.is_some_and(Mode::leads))
            .map(|(index, _)| index);
        match (leaders.next(), leaders.next()) {
            (Some(index), None) => Some(index),
            _ => None,
        }
    }

    /// Stops member `index` gracefully (see [`Server::stop`]).
    pub fn stop(&mut self, index: usize) -> Result<()> {
        self.members[index].stop()
    }

    /// Kills member `index` with SIGKILL (see [`Server::kill`]).
    pub fn kill(&mut self, index: usize) -> Result<()> {
        self.members[index].kill()
    }

    /// Restarts member `index` on its directory and ports; it may be stopped
    /// or killed before (see [`Server::restart`]). Does not wait: see
    /// [`Ensemble::wait_serving`].
    pub fn restart(&mut self, index: usize) -> Result<()> {
        self.members[index].restart()
    }

    /// Freezes member `index` with SIGSTOP (see [`Server::pause`]).
    pub fn pause(&mut self, index: usize) -> Result<()> {
        self.members[index].pause()
    }

    /// Thaws member `index` with SIGCONT (see [`Server::resume`]).
    pub fn resume(&mut self, index: usize) -> Result<()> {
        self.members[index].resume()
    }

    /// Waits up to `timeout` until every running member serves read-write
    /// and exactly one leads; returns the leader's index. Stopped and paused
    /// members are not waited for, but the running ones must form a quorum.
    ///
    /// Fails as soon as a running member's JVM exits, and with the members'
    /// log tails on timeout.
    pub fn wait_leader(&mut self, timeout: Duration) -> Result<usize> {
        let start = Instant::now();
        loop {
            for member in &mut self.members {
                member.ensure_alive()?;
            }
            if self.members.iter().all(|m| m.state() != State::Running) {
                return Err(HarnessError::Invalid(
                    "no member of the ensemble is running".into(),
                ));
            }
            if let Some(leader) = self.settled_leader() {
                return Ok(leader);
            }
            if start.elapsed() >= timeout {
                return Err(HarnessError::Timeout {
                    what: format!(
                        "the ensemble to serve with one leader (modes {:?})",
                        self.modes()
                    ),
                    waited: start.elapsed(),
                    log_tail: self.log_tails(),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Like [`Ensemble::wait_leader`], without the leader's index.
    pub fn wait_serving(&mut self, timeout: Duration) -> Result<()> {
        self.wait_leader(timeout).map(drop)
    }

    /// The leader's index if every running member serves read-write and
    /// exactly one leads.
    fn settled_leader(&self) -> Option<usize> {
        let mut leader = None;
        for (index, member) in self.members.iter().enumerate() {
            if member.state() != State::Running {
                continue;
            }
            let mode = member.mode().filter(|mode| mode.is_read_write())?;
            if mode.leads() {
                if leader.is_some() {
                    return None;
                }
                leader = Some(index);
            }
        }
        leader
    }

    /// The last lines of every member's log, labelled.
    fn log_tails(&self) -> String {
        let mut text = String::new();
        for member in &self.members {
            // Writing to a String cannot fail.
            let _ = writeln!(
                text,
                "==== {} [{:?}] ====\n{}",
                member.describe(),
                member.state(),
                member.log_tail(MEMBER_TAIL_LINES)
            );
        }
        text
    }
}
