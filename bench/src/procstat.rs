//! CPU time and resident memory of a process, from Linux's /proc.

use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    pub at: Instant,
    /// utime + stime of the process and its threads, in seconds.
    pub cpu_seconds: f64,
    pub rss_mib: f64,
}

/// Clock ticks per second for /proc/<pid>/stat; 100 on every Linux this runs on
/// (USER_HZ is fixed by the kernel ABI, whatever CONFIG_HZ is).
const USER_HZ: f64 = 100.0;

impl ProcSample {
    pub fn take(pid: u32) -> Option<ProcSample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces; fields restart after its closing paren.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the full line, 12 and 13 here.
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(ProcSample {
            at: Instant::now(),
            cpu_seconds: (utime + stime) / USER_HZ,
            rss_mib: rss_kib / 1024.0,
        })
    }

    pub fn cpu_seconds_since(&self, earlier: &ProcSample) -> f64 {
        self.cpu_seconds - earlier.cpu_seconds
    }
}
