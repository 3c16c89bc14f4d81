//! The peers the benchmarks compare with, run as processes of their own from their programs in
//! `tests/peers/`: Curator (Debian's `libcurator-recipes-java`) in a JVM, kazoo (Debian's
//! `python3-kazoo`) in the system's Python.

use std::process::Command;

/// The jars of Curator and ZooKeeper's client in Debian's packages.
const CURATOR_JARS: &[&str] = &[
    "curator-client",
    "curator-framework",
    "curator-recipes",
    "zookeeper",
    "zookeeper-jute",
    "guava",
    "failureaccess",
    "slf4j-api",
    "slf4j-nop",
];

/// The directory of the peers' programs.
pub fn dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/peers")
}

/// `java` running the single-file program `tests/peers/<program>` with Curator on its class
/// path; add the program's arguments.
pub fn curator(program: &str) -> Command {
    let classpath: Vec<String> = CURATOR_JARS
        .iter()
        .map(|jar| format!("/usr/share/java/{jar}.jar"))
        .collect();
    let mut java = Command::new("java");
    java.arg("-cp")
        .arg(classpath.join(":"))
        .arg(format!("{}/{program}", dir()));
    java
}

/// The system's Python (which has kazoo) running `tests/peers/<program>`; add the program's
/// arguments.
pub fn kazoo(program: &str) -> Command {
    let mut python = Command::new("/usr/bin/python3");
    python.arg(format!("{}/{program}", dir()));
    python
}
