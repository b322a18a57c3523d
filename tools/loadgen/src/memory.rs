//! The server's memory, read from `/proc` (Linux) at moments of the run.

use serde::Serialize;

/// The server's resident memory at one moment, from `/proc/PID/status`.
#[derive(Serialize, Clone, Copy)]
pub struct Memory {
    pub vm_rss_mib: f64,
    pub vm_hwm_mib: f64,
}

#[derive(Serialize)]
pub struct ServerMemory {
    pub pid: u32,
    pub before_viewers: Option<Memory>,
    pub after_viewers_connected: Option<Memory>,
    pub at_end: Option<Memory>,
}

pub fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map(|kib| (kib / 1024.0 * 10.0).round() / 10.0)
    };
    Some(Memory {
        vm_rss_mib: field("VmRSS:")?,
        vm_hwm_mib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_is_readable() {
        let memory = memory_of(std::process::id()).expect("/proc/self/status");
        assert!(memory.vm_rss_mib > 0.0 && memory.vm_hwm_mib >= memory.vm_rss_mib);
    }
}
