//! Where the run's CPU went, read from `/proc` (Linux) before and after
//! the buyers: the server's and each of its busiest threads', loadgen's
//! own, and the whole box's. It tells a run bound by the box's cores
//! (all busy) from one bound by a single thread (that thread near a whole
//! core, or waiting, while cores sit idle).

use serde::Serialize;
use std::collections::HashMap;

/// `/proc`'s unit of CPU time (`USER_HZ`): 100 ticks a second on Linux,
/// whatever the kernel's own tick rate (see proc(5)).
const TICKS_PER_SECOND: f64 = 100.0;

/// The server's threads listed in the report: the busiest, enough to
/// show which one a run waits on (a single writer shows as one thread).
const THREADS_LISTED: usize = 8;

/// CPU counters at one moment, in ticks.
pub struct CpuSample {
    server: Option<u64>,
    /// The server's threads: id to (name, ticks).
    server_threads: HashMap<u32, (String, u64)>,
    own: u64,
    box_busy: u64,
    box_steal: u64,
    cores: usize,
}

/// What the run spent, between two samples.
#[derive(Serialize)]
pub struct CpuReport {
    pub cores: usize,
    /// Cores busy on average over the run (everything on the box: server,
    /// loadgen, database, kernel).
    pub box_busy_cores: f64,
    /// Cores' worth of time the hypervisor gave to others while this box
    /// wanted to run (a virtual machine's steal time): a run with much of
    /// it measured a slower box.
    pub box_steal_cores: f64,
    pub server_cpu_s: Option<f64>,
    pub loadgen_cpu_s: f64,
    /// The server's CPU time per successful hold (with its release or
    /// purchase, in that mode), in microseconds.
    pub server_us_per_hold: Option<f64>,
    /// The server's CPU time per ticket sold, in microseconds.
    pub server_us_per_ticket: Option<f64>,
    /// The server's busiest threads over the run, busiest first.
    pub server_threads: Vec<ThreadCpu>,
}

/// One server thread's CPU over the run.
#[derive(Serialize)]
pub struct ThreadCpu {
    pub name: String,
    pub tid: u32,
    pub cpu_s: f64,
    /// Of the run's wall-clock time: near 1.0, the thread never rested.
    pub busy_fraction: f64,
}

impl CpuSample {
    /// Reads the counters now; `None` where `/proc` cannot be read.
    pub fn now(server_pid: Option<u32>) -> Option<Self> {
        let BoxTicks {
            busy: box_busy,
            steal: box_steal,
            cores,
        } = box_ticks()?;
        Some(CpuSample {
            server: server_pid.and_then(|pid| process_ticks(&format!("/proc/{pid}"))),
            server_threads: server_pid.map(thread_ticks).unwrap_or_default(),
            own: process_ticks("/proc/self")?,
            box_busy,
            box_steal,
            cores,
        })
    }

    /// What was spent from `self` to `end`, over `elapsed_s` seconds.
    pub fn report(
        &self,
        end: &CpuSample,
        elapsed_s: f64,
        holds: usize,
        tickets: usize,
    ) -> CpuReport {
        let server_cpu_s = self.server.zip(end.server).map(|(a, b)| seconds(a, b));
        let per = |count: usize| {
            server_cpu_s
                .filter(|_| count > 0)
                .map(|s| (s * 1e6 / count as f64).round())
        };
        CpuReport {
            cores: end.cores,
            box_busy_cores: round2(share(seconds(self.box_busy, end.box_busy), elapsed_s)),
            box_steal_cores: round2(share(seconds(self.box_steal, end.box_steal), elapsed_s)),
            server_cpu_s: server_cpu_s.map(round2),
            loadgen_cpu_s: round2(seconds(self.own, end.own)),
            server_us_per_hold: per(holds),
            server_us_per_ticket: per(tickets),
            server_threads: self.busiest_threads(end, elapsed_s),
        }
    }

    fn busiest_threads(&self, end: &CpuSample, elapsed_s: f64) -> Vec<ThreadCpu> {
        let mut threads: Vec<ThreadCpu> = end
            .server_threads
            .iter()
            .map(|(tid, (name, ticks))| {
                let before = self.server_threads.get(tid).map_or(0, |(_, t)| *t);
                let cpu_s = seconds(before, *ticks);
                ThreadCpu {
                    name: name.clone(),
                    tid: *tid,
                    cpu_s: round2(cpu_s),
                    busy_fraction: round2(share(cpu_s, elapsed_s)),
                }
            })
            .filter(|thread| thread.cpu_s > 0.0)
            .collect();
        threads.sort_by(|a, b| b.cpu_s.total_cmp(&a.cpu_s));
        threads.truncate(THREADS_LISTED);
        threads
    }
}

/// The CPU seconds between two tick counts.
fn seconds(from: u64, to: u64) -> f64 {
    to.saturating_sub(from) as f64 / TICKS_PER_SECOND
}

/// CPU seconds spent over `elapsed_s` of wall-clock time, as cores.
fn share(cpu_s: f64, elapsed_s: f64) -> f64 {
    cpu_s / elapsed_s.max(1e-9)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A process's user + system time (all its threads), or a thread's, from
/// the `stat` file in `dir` (`/proc/PID` or `/proc/PID/task/TID`).
fn process_ticks(dir: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    // The name (field 2) is in parentheses and may hold spaces: count
    // fields after its closing one. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Each thread of the process: its id, name and CPU ticks so far.
fn thread_ticks(pid: u32) -> HashMap<u32, (String, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let dir = task.path();
            let dir = dir.to_str()?;
            let name = std::fs::read_to_string(format!("{dir}/comm")).ok()?;
            Some((tid, (name.trim().to_string(), process_ticks(dir)?)))
        })
        .collect()
}

/// The box's CPU ticks over all its cores, from `/proc/stat`.
struct BoxTicks {
    /// Running anything: all but idle, I/O wait and steal.
    busy: u64,
    steal: u64,
    cores: usize,
}

fn box_ticks() -> Option<BoxTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    // user nice system idle iowait irq softirq steal (guest time is
    // already inside user and nice).
    let ticks: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let field = |i: usize| ticks.get(i).copied().unwrap_or(0);
    Some(BoxTicks {
        busy: field(0) + field(1) + field(2) + field(5) + field(6),
        steal: field(7),
        cores: lines.filter(|line| line.starts_with("cpu")).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_work_shows_as_loadgen_cpu() {
        let start = CpuSample::now(Some(std::process::id())).expect("/proc is readable");
        let began = std::time::Instant::now();
        let mut x = 0u64;
        while began.elapsed().as_millis() < 300 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let end = CpuSample::now(Some(std::process::id())).expect("/proc is readable");
        let report = start.report(&end, began.elapsed().as_secs_f64(), 10, 0);
        assert!(report.cores >= 1);
        assert!(report.loadgen_cpu_s >= 0.2, "{}", report.loadgen_cpu_s);
        assert!(report.box_busy_cores >= 0.6, "{}", report.box_busy_cores);
        assert!(report.box_steal_cores >= 0.0);
        let server = report.server_cpu_s.expect("own pid readable");
        assert!(server >= 0.2);
        assert!(report.server_us_per_hold.expect("ten holds") >= 20_000.0);
        assert_eq!(report.server_us_per_ticket, None);
        // The spinning thread (this test's) leads the list.
        let busiest = report.server_threads.first().expect("a thread worked");
        assert!(
            busiest.cpu_s >= 0.2 && busiest.busy_fraction >= 0.6,
            "{}",
            busiest.cpu_s
        );
    }
}
