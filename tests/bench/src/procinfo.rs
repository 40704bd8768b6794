//! Resident memory of another process, from /proc/PID/status.

use std::fs;

/// Memory figures in KiB: VmRSS (now) and VmHWM (peak resident set since start).
#[derive(Clone, Copy, Debug)]
pub struct Rss {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn read_rss(pid: u32) -> Result<Rss, String> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse_status(&text).map_err(|e| format!("{path}: {e}"))
}

fn parse_status(text: &str) -> Result<Rss, String> {
    let field = |name: &str| -> Result<u64, String> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(':'))
            .ok_or_else(|| format!("no {name} line (kernel thread or exited process?)"))?;
        // The line reads "VmRSS:\t  123456 kB".
        let value = line[name.len() + 1..]
            .split_whitespace()
            .next()
            .ok_or_else(|| format!("empty {name} line"))?;
        value
            .parse()
            .map_err(|_| format!("{name} value '{value}' is not a number"))
    };
    Ok(Rss {
        rss_kib: field("VmRSS")?,
        hwm_kib: field("VmHWM")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_lines() {
        let text = "Name:\tjava\nVmHWM:\t  612345 kB\nVmRSS:\t  600000 kB\nThreads:\t40\n";
        let rss = parse_status(text).unwrap();
        assert_eq!(rss.rss_kib, 600000);
        assert_eq!(rss.hwm_kib, 612345);
        assert!(parse_status("Name:\tkthreadd\n").is_err());
    }

    #[test]
    fn reads_own_process() {
        let rss = read_rss(std::process::id()).unwrap();
        assert!(rss.rss_kib > 0 && rss.hwm_kib >= rss.rss_kib);
    }
}
