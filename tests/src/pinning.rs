//! Separating the CPUs of a benchmark and of the server it measures, so that client CPU does
//! not take CPU from the server (the benchmarks' `--pin`).

/// Pins every thread of the process `server_pid` to the last CPU and this process (threads
/// started later inherit it) to the others. Returns the two CPU lists.
pub fn pin(server_pid: u32) -> Result<(String, String), String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        return Err(format!(
            "--pin needs at least 2 CPUs, this machine has {cpus}"
        ));
    }
    let server_cpus = (cpus - 1).to_string();
    let client_cpus = if cpus == 2 {
        "0".to_owned()
    } else {
        format!("0-{}", cpus - 2)
    };
    for (pid, list) in [
        (server_pid, &server_cpus),
        (std::process::id(), &client_cpus),
    ] {
        let status = std::process::Command::new("taskset")
            .args(["--all-tasks", "--cpu-list", "--pid", list, &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("running taskset (util-linux): {e}"))?;
        if !status.success() {
            return Err(format!(
                "taskset could not pin process {pid} to CPUs {list}"
            ));
        }
    }
    Ok((client_cpus, server_cpus))
}
