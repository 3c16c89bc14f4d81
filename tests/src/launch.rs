//! The Java command line that starts one server.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::config::ServerOptions;
use crate::error::Result;
use crate::install::Installation;
use crate::logs::LOG4J_FILE;

/// ZooKeeper's entry point for a server that runs alone.
pub const STANDALONE_MAIN: &str = "org.apache.zookeeper.server.ZooKeeperServerMain";

/// ZooKeeper's entry point for an ensemble member.
pub const QUORUM_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// JVM flags for a fast start with little memory on a small machine: the
/// serial collector, class data sharing when available, and no
/// `/tmp/hsperfdata_*` files.
const JVM_FLAGS: [&str; 3] = ["-XX:+UseSerialGC", "-Xshare:auto", "-XX:-UsePerfData"];

/// The C1 compiler only: a faster start, slower code (see
/// [`ServerOptions::full_jit`]).
const QUICK_JIT_FLAG: &str = "-XX:TieredStopAtLevel=1";

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JavaCommand {
    /// The Java binary.
    pub(crate) program: PathBuf,
    /// Everything after it.
    pub(crate) args: Vec<OsString>,
}

/// Builds the command that runs `main_class` on the configuration in
/// `dir/zoo.cfg`, logging through the configuration in `dir` (see
/// [`crate::logs`]).
pub(crate) fn java_command(
    install: &Installation,
    options: &ServerOptions,
    main_class: &str,
    dir: &Path,
    zoo_cfg: &Path,
) -> Result<JavaCommand> {
    let mut args: Vec<OsString> = vec![format!("-Xmx{}m", options.heap_mb).into()];
    args.extend(JVM_FLAGS.iter().map(OsString::from));
    if !options.full_jit {
        args.push(QUICK_JIT_FLAG.into());
    }
    let mut props: Vec<(String, OsString)> = vec![
        // Without this ZooKeeper registers log4j's MBeans at startup.
        ("zookeeper.jmx.log4j.disable".into(), "true".into()),
        ("zookeeper.log.dir".into(), dir.into()),
    ];
    if install.has_log4j() {
        let mut url = OsString::from("file:");
        url.push(dir.join(LOG4J_FILE));
        props.push(("log4j.configuration".into(), url));
    }
    props.extend(
        options
            .zookeeper_properties(dir)
            .into_iter()
            .map(|(key, value)| (key, value.into())),
    );
    for (key, value) in props {
        let mut arg = OsString::from(format!("-D{key}="));
        arg.push(value);
        args.push(arg);
    }
    args.push("-cp".into());
    let mut extra_jars = Vec::new();
    if options.tls.is_some() {
        extra_jars.extend(install.netty_tls_jars());
    }
    extra_jars.extend(options.extra_jars.iter().cloned());
    args.push(install.class_path_arg(&extra_jars)?);
    args.push(main_class.into());
    args.push(zoo_cfg.into());
    Ok(JavaCommand {
        program: install.java().to_path_buf(),
        args,
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    fn args_for(options: &ServerOptions) -> Vec<OsString> {
        let jar = std::env::current_exe().unwrap();
        let install = Installation::from_parts(&jar, OsStr::new("sh"), OsStr::new("")).unwrap();
        let dir = Path::new("/tmp/zk-launch-test");
        java_command(
            &install,
            options,
            STANDALONE_MAIN,
            dir,
            &dir.join("zoo.cfg"),
        )
        .unwrap()
        .args
    }

    #[test]
    fn tests_start_with_the_quick_jit_and_benchmarks_get_the_full_one() {
        let quick = args_for(&ServerOptions::default());
        assert!(quick.iter().any(|a| a == QUICK_JIT_FLAG), "{quick:?}");
        let full = args_for(&ServerOptions {
            full_jit: true,
            ..ServerOptions::default()
        });
        assert!(!full.iter().any(|a| a == QUICK_JIT_FLAG), "{full:?}");
        // Everything else is the same.
        let rest: Vec<_> = quick.into_iter().filter(|a| a != QUICK_JIT_FLAG).collect();
        assert_eq!(rest, full);
    }
}
