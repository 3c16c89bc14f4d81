//! The ensemble's configuration as the config node (`/zookeeper/config`) holds it, read for
//! what a client needs: each member's client address, and the configuration's version.
//!
//! The data is one line per member, `server.<id>=<quorum host>:<port>:<port>[:<role>];<client
//! address>`, where the client address is `[<host>:]<port>` (a missing or wildcard host means
//! the member's quorum host), and a `version=<hex>` line.

use crate::hosts::HostAddr;

/// One member of the ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The server id.
    pub id: u64,
    /// Its role (`participant` or `observer`).
    pub role: String,
    /// The address clients connect to; `None` for a member that serves no clients.
    pub client: Option<HostAddr>,
}

/// The ensemble's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnsembleConfig {
    /// The members, in the order of the data.
    pub members: Vec<Member>,
    /// The configuration's version (`version=`, hexadecimal in the data).
    pub version: Option<i64>,
}

impl EnsembleConfig {
    /// Reads the config node's data; a line this client does not understand is an error
    /// naming it.
    pub fn parse(data: &str) -> Result<EnsembleConfig, String> {
        let mut config = EnsembleConfig::default();
        for line in data.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("not `key=value`: {line:?}"))?;
            if key == "version" {
                let version = i64::from_str_radix(value.trim(), 16)
                    .map_err(|e| format!("bad version {value:?}: {e}"))?;
                config.version = Some(version);
                continue;
            }
            let Some(id) = key.strip_prefix("server.") else {
                continue; // Other keys (a future one) say nothing of members.
            };
            let id: u64 = id
                .parse()
                .map_err(|_| format!("bad server id in {line:?}"))?;
            let (quorum, client) = match value.split_once(';') {
                Some((quorum, client)) => (quorum, Some(client.trim())),
                None => (value, None),
            };
            let mut parts = quorum.split(':');
            let quorum_host = parts
                .next()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| format!("no quorum host in {line:?}"))?;
            let role = parts.nth(2).unwrap_or("participant").to_owned();
            let client = match client {
                None | Some("") => None,
                Some(client) => Some(client_address(client, quorum_host, line)?),
            };
            config.members.push(Member { id, role, client });
        }
        Ok(config)
    }

    /// The members' client addresses, in the order of the data.
    pub fn client_hosts(&self) -> Vec<HostAddr> {
        self.members
            .iter()
            .filter_map(|m| m.client.clone())
            .collect()
    }
}

/// A member's client address: `[host:]port`, where a missing or wildcard host is the
/// member's quorum host.
fn client_address(client: &str, quorum_host: &str, line: &str) -> Result<HostAddr, String> {
    let (host, port) = match client.rsplit_once(':') {
        Some((host, port)) => (host.trim_matches(['[', ']']), port),
        None => ("", client),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("bad client port in {line:?}"))?;
    let host = match host {
        "" | "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0" => quorum_host,
        host => host,
    };
    Ok(HostAddr::new(host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_version_are_read_from_the_config_node() {
        let data = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                    server.2=10.0.0.2:2888:3888:observer;10.0.0.12:2182\n\
                    server.3=zk3:2888:3888;2183\n\
                    server.4=zk4:2888:3888:participant\n\
                    version=10000000a\n";
        let config = EnsembleConfig::parse(data).expect("parses");
        assert_eq!(config.version, Some(0x1_0000_000a));
        assert_eq!(
            config.client_hosts(),
            [
                HostAddr::new("127.0.0.1", 2181),
                HostAddr::new("10.0.0.12", 2182),
                HostAddr::new("zk3", 2183)
            ]
        );
        assert_eq!(config.members[1].role, "observer");
        assert_eq!(config.members[3].client, None);
        assert!(EnsembleConfig::parse("server.x=a:1:2;3").is_err());
        assert!(EnsembleConfig::parse("server.1=a:1:2;port").is_err());
        assert!(EnsembleConfig::parse("version=zz").is_err());
    }
}
