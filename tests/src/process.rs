//! A JVM that cannot outlive the test process.
//!
//! Each JVM runs under a tiny `sh` watchdog whose standard input is a pipe
//! (the *lifeline*) whose only writer is the test process:
//!
//! ```sh
//! "$@" >>"$log" 2>&1 &                  # the JVM
//! echo "$!"                             # its pid, for the harness
//! ( read -r _ <&3; kill -9 "$jvm" ) &   # the guard: waits on the lifeline
//! wait "$jvm"                           # the watchdog exits with the JVM
//! ```
//!
//! When the test process ends in any way (normal exit, panic, or SIGKILL,
//! where no destructor runs) the kernel closes its end of the pipe, `read`
//! returns, and the guard kills the JVM with SIGKILL, which also ends a
//! SIGSTOPped JVM. A `Drop` on the harness's side alone could not cover
//! SIGKILL, and `PR_SET_PDEATHSIG` would need `unsafe` code in `pre_exec`
//! (and fires on the death of the spawning *thread*, not process).
//!
//! The watchdog is the JVM's parent, so it reaps the JVM, and its own exit
//! status is the JVM's: the harness learns that the JVM exited by waiting for
//! the watchdog. Signals (SIGTERM, SIGSTOP, SIGCONT) go straight to the JVM.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The watchdog script; `$1` is the log file, the rest is the JVM's command.
/// The JVM's standard input is `/dev/null`, and it does not inherit the
/// lifeline (`3<&-`), so only the guard waits on it.
const WATCHDOG: &str = r#"log=$1; shift
exec 3<&0 </dev/null
"$@" >>"$log" 2>&1 3<&- &
jvm=$!
echo "$jvm"
exec >/dev/null
( read -r _ <&3; kill -9 "$jvm" ) 2>/dev/null &
guard=$!
exec 3<&-
wait "$jvm"
status=$?
kill "$guard" 2>/dev/null
wait "$guard" 2>/dev/null
exit "$status"
"#;

/// How long the harness waits for a killed JVM's watchdog to exit.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// How often the harness polls a process it waits for.
const POLL: Duration = Duration::from_millis(10);

/// A signal the harness sends to a JVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Asks the JVM to shut down.
    Term,
    /// Kills the JVM outright.
    Kill,
    /// Freezes the JVM.
    Stop,
    /// Thaws a frozen JVM.
    Cont,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Self::Term => "TERM",
            Self::Kill => "KILL",
            Self::Stop => "STOP",
            Self::Cont => "CONT",
        }
    }
}

/// A JVM running under a watchdog; killed on drop.
#[derive(Debug)]
pub(crate) struct JvmProcess {
    watchdog: Child,
    /// The writing end of the watchdog's lifeline; dropping it kills the JVM.
    lifeline: Option<ChildStdin>,
    pid: u32,
    paused: bool,
    exit: Option<ExitStatus>,
}

impl JvmProcess {
    /// Starts `program args` in directory `dir` under a watchdog, appending
    /// its output to `log`. Running in `dir` keeps JVM crash files
    /// (`hs_err_pid*.log`) out of the test's working directory.
    pub(crate) fn spawn(
        program: &Path,
        args: &[OsString],
        dir: &Path,
        log: &Path,
    ) -> io::Result<Self> {
        let stderr = OpenOptions::new().create(true).append(true).open(log)?;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("zk-watchdog")
            .arg(log)
            .arg(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let lifeline = watchdog.stdin.take();
        let pid = match read_pid(&mut watchdog) {
            Ok(pid) => pid,
            Err(e) => {
                // Closing the lifeline kills whatever did start.
                drop(lifeline);
                let _ = watchdog.kill();
                let _ = watchdog.wait();
                return Err(e);
            }
        };
        Ok(Self {
            watchdog,
            lifeline,
            pid,
            paused: false,
            exit: None,
        })
    }

    /// The JVM's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the JVM was frozen with [`JvmProcess::pause`].
    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// The JVM's exit status if it has exited, without waiting.
    pub(crate) fn try_exit_status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self.watchdog.try_wait()?;
        }
        Ok(self.exit)
    }

    /// Freezes the JVM (SIGSTOP) and waits until all its threads have
    /// stopped. Its kernel still accepts connections.
    ///
    /// The wait matters on a busy machine: the kernel stops a process only
    /// once the thread chosen to take the signal gets a CPU, and until then
    /// the JVM's other threads may still answer requests.
    pub(crate) fn pause(&mut self) -> io::Result<()> {
        self.signal(Signal::Stop)?;
        self.paused = true;
        let deadline = Instant::now() + KILL_WAIT;
        while !all_threads_stopped(self.pid) {
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("JVM {} did not stop within {KILL_WAIT:?}", self.pid),
                ));
            }
            thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Thaws the JVM (SIGCONT).
    pub(crate) fn resume(&mut self) -> io::Result<()> {
        self.signal(Signal::Cont)?;
        self.paused = false;
        Ok(())
    }

    /// Asks the JVM to shut down (SIGTERM, after SIGCONT if paused) and waits
    /// up to `grace` for it, then kills it.
    pub(crate) fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if self.try_exit_status()?.is_none() {
            if self.paused {
                self.resume()?;
            }
            self.signal(Signal::Term)?;
            if let Some(status) = self.wait_timeout(grace)? {
                return Ok(status);
            }
        }
        self.kill()
    }

    /// Kills the JVM (SIGKILL, through the watchdog) and waits for it.
    pub(crate) fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_exit_status()? {
            return Ok(status);
        }
        // The watchdog's guard kills the JVM once the lifeline closes.
        drop(self.lifeline.take());
        if let Some(status) = self.wait_timeout(KILL_WAIT)? {
            return Ok(status);
        }
        // The watchdog did not do its job: kill both directly.
        let _ = self.signal(Signal::Kill);
        let _ = self.watchdog.kill();
        let status = self.watchdog.wait()?;
        self.exit = Some(status);
        Ok(status)
    }

    /// Sends `signal` to the JVM unless it has exited.
    pub(crate) fn signal(&mut self, signal: Signal) -> io::Result<()> {
        if self.try_exit_status()?.is_some() {
            return Err(io::Error::other(format!(
                "JVM {} has exited; cannot send SIG{}",
                self.pid,
                signal.name()
            )));
        }
        send_signal(self.pid, signal)
    }

    /// Waits up to `timeout` for the JVM to exit.
    fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for JvmProcess {
    fn drop(&mut self) {
        // Errors cannot be reported from here; the watchdog still kills the
        // JVM when the lifeline closes as the fields drop.
        let _ = self.kill();
    }
}

/// Reads the JVM's pid, the first line the watchdog prints.
fn read_pid(watchdog: &mut Child) -> io::Result<u32> {
    let stdout = watchdog
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("watchdog has no stdout pipe"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("watchdog printed {line:?} instead of the JVM's pid"),
        )
    })
}

/// Sends `signal` to process `pid` with the shell's `kill` builtin.
pub(crate) fn send_signal(pid: u32, signal: Signal) -> io::Result<()> {
    let output = Command::new("sh")
        .args(["-c", r#"kill -s "$1" "$2""#, "kill"])
        .arg(signal.name())
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill -s {} {pid} failed: {}",
            signal.name(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Whether process `pid` exists and is not a zombie.
pub fn process_is_alive(pid: u32) -> bool {
    state_of(Path::new(&format!("/proc/{pid}/stat")))
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// Whether every thread of process `pid` is stopped (or the process is gone).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|task| {
        // A thread that vanished meanwhile is not running either.
        state_of(&task.path().join("stat")).is_none_or(|state| "TtZX".contains(state))
    })
}

/// The state letter in a `/proc/.../stat` file (`R`, `S`, `T`, `Z`, ...).
fn state_of(stat: &Path) -> Option<char> {
    let text = std::fs::read_to_string(stat).ok()?;
    // The state follows the command name, which is in parentheses.
    let (_, rest) = text.rsplit_once(')')?;
    rest.split_whitespace().next()?.chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    fn sleeper(dir: &TempDir) -> JvmProcess {
        JvmProcess::spawn(
            Path::new("sleep"),
            &[OsString::from("60")],
            dir.path(),
            &dir.path().join("log"),
        )
        .unwrap()
    }

    #[test]
    fn kill_ends_the_process_even_when_paused() {
        let dir = TempDir::new().unwrap();
        let mut process = sleeper(&dir);
        let pid = process.pid();
        assert!(process_is_alive(pid));
        process.pause().unwrap();
        assert!(all_threads_stopped(pid));
        process.kill().unwrap();
        assert!(!process_is_alive(pid));
    }

    #[test]
    fn terminate_resumes_and_ends_a_paused_process() {
        let dir = TempDir::new().unwrap();
        let mut process = sleeper(&dir);
        let pid = process.pid();
        process.pause().unwrap();
        let status = process.terminate(Duration::from_secs(5)).unwrap();
        assert_eq!(status.code(), Some(128 + 15));
        assert!(!process_is_alive(pid));
    }

    #[test]
    fn drop_ends_the_process() {
        let dir = TempDir::new().unwrap();
        let process = sleeper(&dir);
        let pid = process.pid();
        drop(process);
        assert!(!process_is_alive(pid));
    }

    #[test]
    fn exit_status_is_the_programs() {
        let dir = TempDir::new().unwrap();
        let mut process = JvmProcess::spawn(
            Path::new("sh"),
            &[OsString::from("-c"), OsString::from("echo hi; exit 3")],
            dir.path(),
            &dir.path().join("log"),
        )
        .unwrap();
        let status = process.wait_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert_eq!(log, "hi\n");
    }
}
