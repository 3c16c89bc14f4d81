//! The benchmarks' CPU clock: the CPU time of this whole process (`zk-bench`, `peer-bench`).

use std::time::Duration;

/// CPU time of the whole process (every thread, living or exited; user and system).
///
/// `ZK_BENCH_CPU_CLOCK=proc` reads it from `/proc/self/stat` in clock ticks instead, for tools
/// such as valgrind under which rustix cannot find the vDSO.
pub fn process_cpu() -> Duration {
    static PROC_ONLY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *PROC_ONLY.get_or_init(|| std::env::var("ZK_BENCH_CPU_CLOCK").is_ok_and(|v| v == "proc")) {
        let (user, sys) = proc_stat_ticks();
        return Duration::from_nanos((user + sys) * 1_000_000_000 / USER_HZ);
    }
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The unit of the times in `/proc` (`getconf CLK_TCK`): fixed at 100 by Linux's ABI.
pub const USER_HZ: u64 = 100;

/// utime and stime of the process from /proc/self/stat, in clock ticks.
pub fn proc_stat_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0, 0);
    };
    // Fields after the command name, which is in parentheses and may hold spaces: the state is
    // field 3, utime field 14, stime field 15.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return (0, 0);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0);
    (get(11), get(12))
}
