//! Runs ZooKeeper servers from the command line, for manual testing.
//!
//! ```text
//! zk-harness [--ensemble N] [--fast-expiry] [--read-only] [--full-jit]
//! ```
//!
//! Prints `connect=<connect string>` and one `pid.<index>=<JVM pid>` line
//! per server, then keeps the servers until standard input closes (Ctrl-D)
//! or the process is killed; either way the JVMs die with it.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use zk_tests::{Ensemble, Server, ServerOptions};

const USAGE: &str = "usage: zk-harness [--ensemble N] [--fast-expiry] [--read-only] [--full-jit]";

/// What the command line asks for.
struct Args {
    ensemble: Option<usize>,
    options: ServerOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        ensemble: None,
        options: ServerOptions::default(),
    };
    let mut read_only = false;
    let mut full_jit = false;
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--ensemble" => {
                let size = iter
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--ensemble needs a member count")?;
                args.ensemble = Some(size);
            }
            "--fast-expiry" => args.options = ServerOptions::fast_expiry(),
            "--read-only" => read_only = true,
            "--full-jit" => full_jit = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    args.options.read_only = read_only;
    args.options.full_jit = full_jit;
    Ok(args)
}

/// The servers, kept alive while `main` runs.
enum Running {
    Standalone(Server),
    Ensemble(Ensemble),
}

impl Running {
    fn servers(&self) -> Vec<&Server> {
        match self {
            Self::Standalone(server) => vec![server],
            Self::Ensemble(ensemble) => ensemble.members().iter().collect(),
        }
    }

    fn connect_string(&self) -> String {
        match self {
            Self::Standalone(server) => server.connect_string(),
            Self::Ensemble(ensemble) => ensemble.connect_string(),
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let running = match args.ensemble {
        None => Running::Standalone(Server::standalone(&args.options).map_err(|e| e.to_string())?),
        Some(size) => {
            Running::Ensemble(Ensemble::start(size, &args.options).map_err(|e| e.to_string())?)
        }
    };
    let mut out = io::stdout().lock();
    let report = |out: &mut io::StdoutLock<'_>| -> io::Result<()> {
        writeln!(out, "connect={}", running.connect_string())?;
        for (index, server) in running.servers().into_iter().enumerate() {
            let pid = server.pid().map(|p| p.to_string()).unwrap_or_default();
            writeln!(out, "pid.{index}={pid}")?;
            writeln!(out, "dir.{index}={}", server.dir().display())?;
        }
        writeln!(out, "ready")?;
        out.flush()
    };
    report(&mut out).map_err(|e| format!("writing to stdout: {e}"))?;
    // Keep the servers until stdin closes.
    let stdin = io::stdin();
    for line in stdin.lock().lines() {
        if line.is_err() {
            break;
        }
    }
    drop(running);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zk-harness: {message}");
            ExitCode::FAILURE
        }
    }
}
