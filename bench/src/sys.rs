//! Process-level system calls the bench needs: the open-file limit, CPU pinning, the resident
//! set size and the CPU time used.

/// Raises the soft open-file limit to the hard limit.
pub fn raise_nofile_limit() {
    skychat_driver::fd_limit::raise_open_file_limit();
}

/// The soft open-file limit, after raising it to the hard one (which [`raise_nofile_limit`] has
/// normally done already).
pub fn nofile_limit() -> u64 {
    skychat_driver::fd_limit::raise_open_file_limit().unwrap_or(u64::MAX)
}

/// Pins the calling thread (and threads it starts later) to `cpu`.
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: cpu_set_t is a plain bit set; sched_setaffinity(0) applies to this thread.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(
        rc,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

/// This process's resident set size in bytes (VmRSS of /proc/self/status).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS line")
        * 1024
}

/// CPU time (user + system) this process has used so far.
pub fn cpu_time() -> std::time::Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return std::time::Duration::ZERO;
    }
    let time = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec as u64)
            + std::time::Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
