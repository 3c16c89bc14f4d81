//! Per-server temporary directories.
//!
//! Each server gets its own directory under the system's temporary directory,
//! named `zk-harness-<pid>-<n>`, removed on drop. A test process killed with
//! SIGKILL cannot remove its directories, so the first directory a process
//! creates sweeps those of processes that no longer exist. Set
//! [`KEEP_DIRS_ENV`] to keep the directories (and the server logs in them)
//! for a post-mortem.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// Set this environment variable (to anything) to keep the servers'
/// directories after the test.
pub const KEEP_DIRS_ENV: &str = "ZK_KEEP_DIRS";

const PREFIX: &str = "zk-harness-";

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SWEEP: Once = Once::new();

/// A directory that is removed, with its contents, on drop.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty directory.
    pub(crate) fn new() -> io::Result<Self> {
        let base = env::temp_dir();
        SWEEP.call_once(|| sweep_stale(&base));
        let pid = std::process::id();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("{PREFIX}{pid}-{n}"));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path }),
                // Left over by an earlier process with the same pid.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The directory's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if env::var_os(KEEP_DIRS_ENV).is_some() {
            eprintln!("zk-tests: keeping {}", self.path.display());
        } else {
            // Nothing useful can be done about a failure here.
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes the directories of harness processes that no longer run.
fn sweep_stale(base: &Path) {
    if env::var_os(KEEP_DIRS_ENV).is_some() {
        return;
    }
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_created_empty_and_removed_on_drop() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        fs::write(path.join("f"), b"x").unwrap();
        let other = TempDir::new().unwrap();
        assert_ne!(other.path(), path);
        drop(dir);
        assert!(!path.exists() || env::var_os(KEEP_DIRS_ENV).is_some());
    }
}
