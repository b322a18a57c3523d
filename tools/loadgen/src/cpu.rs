//! Where the run's CPU went, read from `/proc` (Linux) before and after
//! the buyers: the server's, loadgen's own, and the whole box's. On a box
//! whose cores are all busy, throughput is CPU per sale, not waiting, and
//! this says how much each side spent.

use serde::Serialize;

/// `/proc`'s unit of CPU time (`USER_HZ`): 100 ticks a second on Linux,
/// whatever the kernel's own tick rate (see proc(5)).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU counters at one moment, in ticks.
#[derive(Clone, Copy)]
pub struct CpuSample {
    server: Option<u64>,
    own: u64,
    box_busy: u64,
    cores: usize,
}

/// What the run spent, between two samples.
#[derive(Serialize)]
pub struct CpuReport {
    pub cores: usize,
    /// Cores busy on average over the run (everything on the box: server,
    /// loadgen, database, kernel).
    pub box_busy_cores: f64,
    pub server_cpu_s: Option<f64>,
    pub loadgen_cpu_s: f64,
    /// The server's CPU time per successful hold (with its release or
    /// purchase, in that mode), in microseconds.
    pub server_us_per_hold: Option<f64>,
    /// The server's CPU time per ticket sold, in microseconds.
    pub server_us_per_ticket: Option<f64>,
}

impl CpuSample {
    /// Reads the counters now; `None` where `/proc` cannot be read.
    pub fn now(server_pid: Option<u32>) -> Option<Self> {
        let (box_busy, cores) = box_ticks()?;
        Some(CpuSample {
            server: server_pid.and_then(process_ticks),
            own: process_ticks(std::process::id())?,
            box_busy,
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
        let seconds = |from: u64, to: u64| to.saturating_sub(from) as f64 / TICKS_PER_SECOND;
        let server_cpu_s = self.server.zip(end.server).map(|(a, b)| seconds(a, b));
        let per = |count: usize| {
            server_cpu_s
                .filter(|_| count > 0)
                .map(|s| (s * 1e6 / count as f64).round())
        };
        CpuReport {
            cores: end.cores,
            box_busy_cores: round2(seconds(self.box_busy, end.box_busy) / elapsed_s.max(1e-9)),
            server_cpu_s: server_cpu_s.map(round2),
            loadgen_cpu_s: round2(seconds(self.own, end.own)),
            server_us_per_hold: per(holds),
            server_us_per_ticket: per(tickets),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A process's user + system time (all its threads), from `/proc/PID/stat`.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) is in parentheses and may hold spaces: count
    // fields after its closing one. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The box's busy ticks over all cores (all but idle and I/O wait), and
/// its number of cores, from `/proc/stat`.
fn box_ticks() -> Option<(u64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    let total: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already inside user and nice).
    let busy = total.iter().take(8).sum::<u64>() - total.get(3)? - total.get(4)?;
    let cores = lines.filter(|line| line.starts_with("cpu")).count();
    Some((busy, cores))
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
        let server = report.server_cpu_s.expect("own pid readable");
        assert!(server >= 0.2);
        assert!(report.server_us_per_hold.expect("ten holds") >= 20_000.0);
        assert_eq!(report.server_us_per_ticket, None);
    }
}
