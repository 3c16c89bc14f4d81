//! Finding Java and the ZooKeeper jar, and building the class path.
//!
//! The harness runs the ZooKeeper of Debian's `zookeeper` package. Its jar's
//! manifest names the jars it depends on (`Class-Path`), so the jar alone
//! starts a server. The manifest brings `slf4j-api` but no SLF4J binding,
//! which would silence the server entirely; the harness therefore adds the
//! log4j 1.2 binding that the package depends on (`slf4j-log4j12.jar`,
//! `log4j-1.2.jar`) when it sits next to the jar, and configures it to write
//! to the console (see [`crate::logs`]).

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// The command that installs ZooKeeper (and a Java runtime) on Debian.
pub const INSTALL_COMMAND: &str = "apt-get update && apt-get install -y zookeeper";

/// The environment variable that overrides the ZooKeeper jar's path.
pub const ZK_JAR_ENV: &str = "ZK_JAR";

/// The environment variable that overrides the Java binary.
pub const JAVA_ENV: &str = "JAVA";

/// The environment variable whose value (paths separated by `:`) is appended
/// to the class path, for layouts other than Debian's.
pub const ZK_CLASSPATH_ENV: &str = "ZK_CLASSPATH";

/// Where Debian's `zookeeper` package installs the server jar.
pub const DEFAULT_JAR: &str = "/usr/share/java/zookeeper.jar";

/// The Java binary used when [`JAVA_ENV`] is unset.
pub const DEFAULT_JAVA: &str = "java";

/// The SLF4J-to-log4j binding jar and log4j itself, looked up next to the
/// ZooKeeper jar.
const LOG4J_JARS: [&str; 2] = ["slf4j-log4j12.jar", "log4j-1.2.jar"];

/// The Netty jars that ZooKeeper's TLS (Netty) connection factory needs
/// beyond those named in the jar's manifest.
const NETTY_TLS_JARS: [&str; 5] = [
    "netty-codec.jar",
    "netty-resolver.jar",
    "netty-transport-native-unix-common.jar",
    "netty-tcnative.jar",
    "netty-tcnative-classes.jar",
];

/// A located ZooKeeper installation: the Java binary and the class path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    java: PathBuf,
    jar: PathBuf,
    log4j: bool,
    class_path: Vec<PathBuf>,
}

/// Finds Java and the ZooKeeper jar, honouring [`ZK_JAR_ENV`] and
/// [`JAVA_ENV`].
///
/// Fails with [`HarnessError::NotInstalled`], whose message contains
/// [`INSTALL_COMMAND`], when either is missing. Tests should call it (or a
/// start function, which calls it) and fail on the error: a missing install
/// must never let a test pass silently.
pub fn require_zookeeper() -> Result<Installation> {
    Installation::detect()
}

impl Installation {
    /// Same as [`require_zookeeper`].
    pub fn detect() -> Result<Self> {
        let jar = env::var_os(ZK_JAR_ENV)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_JAR), PathBuf::from);
        let java = env::var_os(JAVA_ENV)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| OsString::from(DEFAULT_JAVA));
        let extra = env::var_os(ZK_CLASSPATH_ENV).unwrap_or_default();
        Self::from_parts(&jar, &java, &extra)
    }

    /// Locates an installation from an explicit jar, Java binary (a path, or
    /// a name looked up in `PATH`) and extra class path (`:`-separated).
    pub fn from_parts(jar: &Path, java: &OsStr, extra_class_path: &OsStr) -> Result<Self> {
        // Absolute, because servers run in their own directories.
        let jar = match std::path::absolute(jar) {
            Ok(path) if path.is_file() => path,
            _ => {
                return Err(HarnessError::NotInstalled {
                    missing: format!("ZooKeeper jar {}", jar.display()),
                })
            }
        };
        let java = find_executable(java).ok_or_else(|| HarnessError::NotInstalled {
            missing: format!("Java binary {}", java.to_string_lossy()),
        })?;
        let dir = jar.parent().unwrap_or_else(|| Path::new("."));
        let log4j_jars: Vec<PathBuf> = LOG4J_JARS.iter().map(|name| dir.join(name)).collect();
        let log4j = log4j_jars.iter().all(|path| path.is_file());
        let mut class_path = vec![jar.clone()];
        if log4j {
            class_path.extend(log4j_jars);
        }
        class_path.extend(env::split_paths(extra_class_path).filter(|p| !p.as_os_str().is_empty()));
        Ok(Self {
            java,
            jar,
            log4j,
            class_path,
        })
    }

    /// The Java binary.
    pub fn java(&self) -> &Path {
        &self.java
    }

    /// The ZooKeeper jar.
    pub fn jar(&self) -> &Path {
        &self.jar
    }

    /// Whether the log4j 1.2 binding was found, so that the server's log can
    /// be configured (otherwise SLF4J falls back to discarding all logging).
    pub fn has_log4j(&self) -> bool {
        self.log4j
    }

    /// The class path entries: the jar, the logging binding, and the entries
    /// of [`ZK_CLASSPATH_ENV`].
    pub fn class_path(&self) -> &[PathBuf] {
        &self.class_path
    }

    /// The Netty jars next to the ZooKeeper jar that its TLS connection
    /// factory (`NettyServerCnxnFactory`) needs beyond the manifest's
    /// `Class-Path`, for a later secure client port. Jars that are absent are
    /// left out; add the result to
    /// [`ServerOptions::extra_jars`](crate::config::ServerOptions::extra_jars).
    pub fn netty_tls_jars(&self) -> Vec<PathBuf> {
        let dir = self.jar.parent().unwrap_or_else(|| Path::new("."));
        NETTY_TLS_JARS
            .iter()
            .map(|name| dir.join(name))
            .filter(|path| path.is_file())
            .collect()
    }

    /// Joins the class path with `extra` jars into a `-cp` argument.
    pub(crate) fn class_path_arg(&self, extra: &[PathBuf]) -> Result<OsString> {
        env::join_paths(self.class_path.iter().chain(extra)).map_err(|e| {
            HarnessError::Invalid(format!("class path entry cannot be joined with ':': {e}"))
        })
    }
}

/// Resolves `program` like a shell would: a name containing `/` is a path
/// (made absolute), any other name is searched in `PATH`.
fn find_executable(program: &OsStr) -> Option<PathBuf> {
    let candidate = Path::new(program);
    if candidate.components().count() > 1 || candidate.is_absolute() {
        return std::path::absolute(candidate)
            .ok()
            .filter(|path| path.is_file());
    }
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(candidate))
        .find(|full| full.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_jar_names_the_install_command() {
        let err = Installation::from_parts(
            Path::new("/nonexistent/zookeeper.jar"),
            OsStr::new("java"),
            OsStr::new(""),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains(INSTALL_COMMAND), "{message}");
        assert!(message.contains("/nonexistent/zookeeper.jar"), "{message}");
    }

    #[test]
    fn missing_java_names_the_install_command() {
        let jar = std::env::current_exe().unwrap();
        let err =
            Installation::from_parts(&jar, OsStr::new("/nonexistent/bin/java"), OsStr::new(""))
                .unwrap_err();
        let message = err.to_string();
        assert!(message.contains(INSTALL_COMMAND), "{message}");
        assert!(message.contains("/nonexistent/bin/java"), "{message}");
    }

    #[test]
    fn extra_class_path_entries_follow_the_jar() {
        let jar = std::env::current_exe().unwrap();
        let install =
            Installation::from_parts(&jar, OsStr::new("sh"), OsStr::new("/a.jar:/b.jar")).unwrap();
        let cp = install.class_path();
        assert_eq!(cp.first(), Some(&jar));
        assert!(cp.ends_with(&[PathBuf::from("/a.jar"), PathBuf::from("/b.jar")]));
    }
}
