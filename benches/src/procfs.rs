//! What `/proc` says about a process (resident memory, CPU time, wakeups) and the host
//! (CPU model, load average).

use std::time::Instant;

/// `VmRSS` from a `/proc/PID/status` text, in KiB.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status_field(status, "VmRSS:")
}

/// `RssAnon` from a `/proc/PID/status` text, in KiB: the process's own memory (heap,
/// stacks), without the file pages (`RssFile`: the executable, libraries) that `VmRSS`
/// also counts and the kernel may drop and fault back in under memory pressure.
pub fn parse_rss_anon_kib(status: &str) -> Option<u64> {
    status_field(status, "RssAnon:")
}

/// A `Name:   value [kB]` field of a `/proc/PID/status` text.
fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `utime + stime` (fields 14 and 15, clock ticks, every thread of the process) from a
/// `/proc/PID/stat` text. The command name (field 2) may hold spaces and parentheses,
/// so the fields are counted after its last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state): utime is field 14, the 12th of `rest`.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100)
}

/// A process's resident memory (KiB), or `None` once it has gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    parse_vm_rss_kib(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// A process's resident memory and its anonymous part (KiB), or `None` once it has gone.
pub fn rss_and_anon_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((parse_vm_rss_kib(&status)?, parse_rss_anon_kib(&status)?))
}

/// A process's CPU time so far (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    parse_stat_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Context switches so far over every thread of the process (voluntary and not): each
/// voluntary one is a sleep, so their rate is how often the process wakes up.
pub fn context_switches(pid: u32) -> Option<(u64, u64)> {
    let threads = threads(pid);
    (!threads.is_empty()).then(|| {
        threads
            .iter()
            .fold((0, 0), |a, t| (a.0 + t.voluntary, a.1 + t.nonvoluntary))
    })
}

/// The command name (`/proc/PID/comm`).
pub fn comm(pid: u32) -> Option<String> {
    Some(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()?
            .trim()
            .to_string(),
    )
}

/// One sample of a process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Resident memory (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Its anonymous part (`RssAnon`), KiB.
    pub anon_kib: u64,
    /// CPU use since the previous sample, percent of one core.
    pub cpu_pct: f64,
}

/// Samples one process: resident memory, and CPU use between consecutive samples.
#[derive(Debug)]
pub struct Sampler {
    pid: u32,
    hz: u64,
    first: Option<(Instant, u64)>,
    last: Option<(Instant, u64)>,
}

impl Sampler {
    /// A sampler of `pid`; its first sample reads the CPU time the others count from.
    pub fn new(pid: u32) -> Self {
        Self {
            pid,
            hz: ticks_per_second(),
            first: None,
            last: None,
        }
    }

    /// The process sampled.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Reads the process now; `None` once it has gone. The first sample's CPU use is 0.
    pub fn sample(&mut self) -> Option<Sample> {
        let (rss_kib, anon_kib) = rss_and_anon_kib(self.pid)?;
        let ticks = cpu_ticks(self.pid)?;
        let now = Instant::now();
        let cpu_pct = match self.last {
            Some((at, before)) => self.percent(ticks.saturating_sub(before), now - at),
            None => 0.0,
        };
        self.first.get_or_insert((now, ticks));
        self.last = Some((now, ticks));
        Some(Sample {
            rss_kib,
            anon_kib,
            cpu_pct,
        })
    }

    /// CPU use from the first sample to the last: exact to a tick over the whole run,
    /// where one sample is exact only to a tick per interval.
    pub fn mean_cpu_pct(&self) -> f64 {
        match (self.first, self.last) {
            (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => self.percent(c1 - c0, t1 - t0),
            _ => 0.0,
        }
    }

    fn percent(&self, ticks: u64, over: std::time::Duration) -> f64 {
        ticks as f64 / self.hz as f64 / over.as_secs_f64() * 100.0
    }
}

/// The CPU model, `model name` in `/proc/cpuinfo` (`unknown` without one).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| parse_cpu_model(&t))
        .unwrap_or_else(|| "unknown".into())
}

/// The first `model name` of a `/proc/cpuinfo` text.
pub fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("model name"))
        .find_map(|l| Some(l.split_once(':')?.1.trim().to_string()))
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
pub fn loadavg() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// The three load averages of a `/proc/loadavg` text.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut f = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([f.next()??, f.next()??, f.next()??])
}

/// Logical CPUs online.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One thread of a process, as `/proc/PID/task/TID` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadStat {
    /// Its id (the process's own id for the main thread).
    pub tid: u32,
    /// Its name (`comm`; threads inherit the process's unless named).
    pub comm: String,
    /// Voluntary context switches so far: sleeps, so wakeups.
    pub voluntary: u64,
    /// Preemptions so far.
    pub nonvoluntary: u64,
    /// `utime + stime` so far, clock ticks.
    pub cpu_ticks: u64,
}

/// Every thread of `pid` (those readable; a thread may end during the listing).
pub fn threads(pid: u32) -> Vec<ThreadStat> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out: Vec<ThreadStat> = dir
        .filter_map(|e| {
            let path = e.ok()?.path();
            let tid = path.file_name()?.to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(path.join("status")).ok()?;
            Some(ThreadStat {
                tid,
                comm: std::fs::read_to_string(path.join("comm"))
                    .ok()?
                    .trim()
                    .to_string(),
                voluntary: status_field(&status, "voluntary_ctxt_switches:")?,
                nonvoluntary: status_field(&status, "nonvoluntary_ctxt_switches:")?,
                cpu_ticks: parse_stat_cpu_ticks(&std::fs::read_to_string(path.join("stat")).ok()?)?,
            })
        })
        .collect();
    out.sort_by_key(|t| t.tid);
    out
}

/// The host's CPU time so far (`cpu` line of `/proc/stat`, clock ticks, all CPUs):
/// busy (user, nice, system, irq, softirq), idle (idle, iowait), and stolen by the
/// hypervisor (steal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCpu {
    /// Ticks spent running anything.
    pub busy: u64,
    /// Ticks idle.
    pub idle: u64,
    /// Ticks the hypervisor gave to other guests while this one wanted to run.
    pub steal: u64,
}

impl HostCpu {
    /// Now.
    pub fn now() -> Option<Self> {
        parse_host_cpu(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// From `self` to `later`: (busy, steal) in percent of all CPUs' time.
    pub fn percent_until(&self, later: &HostCpu) -> (f64, f64) {
        let busy = later.busy.saturating_sub(self.busy) as f64;
        let idle = later.idle.saturating_sub(self.idle) as f64;
        let steal = later.steal.saturating_sub(self.steal) as f64;
        let all = (busy + idle + steal).max(1.0);
        (busy / all * 100.0, steal / all * 100.0)
    }
}

/// The `cpu` line of a `/proc/stat` text.
pub fn parse_host_cpu(stat: &str) -> Option<HostCpu> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice: inside user]
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    Some(HostCpu {
        busy: at(0) + at(1) + at(2) + at(5) + at(6),
        idle: at(3) + at(4),
        steal: at(7),
    })
}
