//! Failover: how long an ensemble takes to accept writes again after its leader dies.
//!
//! Each round finds the leader through `srvr`, SIGKILLs it (its pid from the harness's pid
//! file), and measures from just before the kill to
//! - **write**: the first create acknowledged through a survivor, counting only writes sent
//!   after the old leader's process is gone, and checked to carry a newer epoch in its zxid
//!   (so the new leader's quorum committed it, not the old one);
//! - **elected**: the first moment the survivors report one leader and followers in `srvr`
//!   (what an operator polling the ensemble sees).
//!
//! Writers open a new session for each attempt: a session that lost its server reconnects
//! with the client's own back-off (100 ms and more), which would be measured instead of the
//! ensemble. A new session is itself a transaction, so it only succeeds once a quorum is back.
//! Between rounds the killed member is started again by the harness's command and the
//! ensemble must settle (one leader, everyone else following) before the next kill.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};
use zookeeper_client as zk;

use crate::load::server_list;
use crate::ready::process_alive;
use crate::FailoverArgs;

const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// A session asked for by a writer; Apache grants at least two ticks.
const WRITER_SESSION: Duration = Duration::from_secs(4);
const ROOT: &str = "/zkbench-failover";

pub async fn run(args: &FailoverArgs) -> Result<(), String> {
    let servers: Vec<String> = server_list(&args.servers)?
        .into_iter()
        .map(str::to_string)
        .collect();
    let pid_files: Vec<&str> = args.pid_files.split(',').map(str::trim).collect();
    if pid_files.len() != servers.len() {
        return Err(format!(
            "--pid-files names {} files for {} servers; give one per server, in the same order",
            pid_files.len(),
            servers.len()
        ));
    }
    if servers.len() < 3 {
        return Err("a failover needs an ensemble of at least 3 servers".to_string());
    }
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        let (leader, old_zxid) = settle(&servers, args.settle_timeout).await?;
        let pid = read_pid(pid_files[leader])?;
        let result = measure(args, &servers, leader, pid, old_zxid, round).await?;
        eprintln!(
            "zkbench failover: round {}: killed {} (pid {pid}): write after {:.1} ms, srvr shows a leader after {:.1} ms (new leader {})",
            round + 1,
            servers[leader],
            result.write_ms,
            result.elected_ms,
            servers[result.new_leader],
        );
        rounds.push(result);
        let command = args.restart.replace("{index}", &leader.to_string());
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .status()
            .await
            .map_err(|e| format!("cannot run --restart {command:?}: {e}"))?;
        if !status.success() {
            return Err(format!("--restart {command:?} failed ({status})"));
        }
    }
    settle(&servers, args.settle_timeout).await?;
    print_result(args, &rounds);
    Ok(())
}

struct Round {
    write_ms: f64,
    elected_ms: f64,
    new_leader: usize,
}

/// Waits until exactly one server leads and all others follow; returns it and its zxid.
async fn settle(servers: &[String], bound: Duration) -> Result<(usize, u64), String> {
    let deadline = Instant::now() + bound;
    loop {
        let mut modes = Vec::new();
        for server in servers {
            modes.push(srvr(server).await);
        }
        let leaders: Vec<usize> = (0..servers.len())
            .filter(|&i| modes[i].as_ref().is_some_and(|s| s.mode == "leader"))
            .collect();
        let following = modes
            .iter()
            .filter(|m| m.as_ref().is_some_and(|s| s.mode == "follower"))
            .count();
        if leaders.len() == 1 && following == servers.len() - 1 {
            let zxid = modes[leaders[0]].as_ref().map_or(0, |s| s.zxid);
            return Ok((leaders[0], zxid));
        }
        if Instant::now() > deadline {
            let seen: Vec<String> = servers
                .iter()
                .zip(&modes)
                .map(|(s, m)| format!("{s}: {}", m.as_ref().map_or("no answer", |m| &m.mode)))
                .collect();
            return Err(format!(
                "the ensemble did not settle on one leader within {bound:?}: {}",
                seen.join(", ")
            ));
        }
        sleep(Duration::from_millis(20)).await;
    }
}

async fn measure(
    args: &FailoverArgs,
    servers: &[String],
    leader: usize,
    pid: u32,
    old_zxid: u64,
    round: u32,
) -> Result<Round, String> {
    ensure_root(&servers[leader]).await?;
    let survivors: Vec<usize> = (0..servers.len()).filter(|&i| i != leader).collect();
    let killed_at = Instant::now();
    // SAFETY: kill(2) with a pid read from the harness's pid file and a constant signal.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } != 0 {
        return Err(format!(
            "kill -9 {pid} ({}): {}",
            servers[leader],
            std::io::Error::last_os_error()
        ));
    }
    // Until the process is gone its sockets may still commit a write in the old epoch.
    while process_alive(pid) {
        if killed_at.elapsed() > args.settle_timeout {
            return Err(format!("pid {pid} survived SIGKILL"));
        }
        sleep(Duration::from_micros(100)).await;
    }
    let deadline = killed_at + args.settle_timeout;

    let mut writers = JoinSet::new();
    for (k, &i) in survivors.iter().enumerate() {
        let server = servers[i].clone();
        let path = format!("{ROOT}/r{round}-w{k}-");
        let interval = args.interval;
        writers
            .spawn(async move { write_until_acknowledged(server, path, interval, deadline).await });
    }
    let survivor_names: Vec<String> = survivors.iter().map(|&i| servers[i].clone()).collect();
    let elected = tokio::spawn(async move {
        loop {
            let mut modes = Vec::new();
            for server in &survivor_names {
                modes.push(srvr(server).await.map(|s| s.mode));
            }
            let leaders = modes
                .iter()
                .filter(|m| m.as_deref() == Some("leader"))
                .count();
            let followers = modes
                .iter()
                .filter(|m| m.as_deref() == Some("follower"))
                .count();
            if leaders == 1 && leaders + followers == modes.len() {
                let at = Instant::now();
                let new_leader = modes.iter().position(|m| m.as_deref() == Some("leader"));
                return Some((at, new_leader.unwrap_or(0)));
            }
            if Instant::now() > deadline {
                return None;
            }
            sleep(Duration::from_millis(2)).await;
        }
    });

    let mut first: Option<(Instant, i64)> = None;
    while let Some(joined) = writers.join_next().await {
        match joined.map_err(|e| format!("a writer panicked: {e}"))? {
            Ok((at, czxid)) => {
                first = Some((at, czxid));
                writers.abort_all();
                break;
            }
            Err(e) => eprintln!("zkbench failover: {e}"),
        }
    }
    let (acked_at, czxid) = first.ok_or_else(|| {
        format!(
            "no write was acknowledged within {:?} of the kill",
            args.settle_timeout
        )
    })?;
    if (czxid as u64) >> 32 <= old_zxid >> 32 {
        return Err(format!(
            "the first write after the kill has zxid {czxid:#x}, in the old leader's epoch ({old_zxid:#x})"
        ));
    }
    let (elected_at, new_index) = elected
        .await
        .map_err(|e| format!("the srvr poller panicked: {e}"))?
        .ok_or("the survivors did not report a leader and followers")?;
    Ok(Round {
        write_ms: ms(acked_at - killed_at),
        elected_ms: ms(elected_at - killed_at),
        new_leader: survivors[new_index],
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A new session on `server` and one sequential create, again every `interval` until one is
/// acknowledged: the instant of the answer and the node's czxid.
async fn write_until_acknowledged(
    server: String,
    path: String,
    interval: Duration,
    deadline: Instant,
) -> Result<(Instant, i64), String> {
    let mut last_error = String::from("no attempt");
    while Instant::now() < deadline {
        let connect = zk::Client::connector()
            .with_session_timeout(WRITER_SESSION)
            .with_fail_eagerly()
            .connect(&server);
        match timeout(PROBE_TIMEOUT, connect).await {
            Ok(Ok(client)) => {
                let options =
                    zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
                match timeout(PROBE_TIMEOUT, client.create(&path, b"", &options)).await {
                    Ok(Ok((stat, _))) => return Ok((Instant::now(), stat.czxid)),
                    Ok(Err(e)) => last_error = format!("create on {server}: {e}"),
                    Err(_) => last_error = format!("create on {server}: no answer"),
                }
            }
            Ok(Err(e)) => last_error = format!("session on {server}: {e}"),
            Err(_) => last_error = format!("session on {server}: no answer"),
        }
        sleep(interval).await;
    }
    Err(format!(
        "{server}: nothing acknowledged; last: {last_error}"
    ))
}

async fn ensure_root(server: &str) -> Result<(), String> {
    let client = timeout(
        Duration::from_secs(10),
        zk::Client::connector()
            .with_session_timeout(WRITER_SESSION)
            .connect(server),
    )
    .await
    .map_err(|_| format!("no session with {server} within 10s"))?
    .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    match client.create(ROOT, b"", &options).await {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => Err(format!("create {ROOT} on {server}: {e}")),
    }
}

struct Srvr {
    mode: String,
    zxid: u64,
}

/// The mode and zxid a server reports in `srvr`; None when it does not answer or serves
/// nobody ("not currently serving requests").
async fn srvr(server: &str) -> Option<Srvr> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.ok()?;
        stream.write_all(b"srvr").await.ok()?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.ok()?;
        Some(reply)
    };
    let reply = timeout(PROBE_TIMEOUT, exchange).await.ok()??;
    parse_srvr(&String::from_utf8_lossy(&reply))
}

fn parse_srvr(text: &str) -> Option<Srvr> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
    };
    let mode = field("Mode:")?.to_string();
    let zxid = field("Zxid:")
        .and_then(|z| u64::from_str_radix(z.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    Some(Srvr { mode, zxid })
}

fn read_pid(path: &str) -> Result<u32, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("pid file {path}: {e}"))?;
    let pid: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("pid file {path} holds {:?}, not a pid", text.trim()))?;
    if !process_alive(pid) {
        return Err(format!("pid {pid} from {path} is not running"));
    }
    Ok(pid)
}

/// Median of the values (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn summary(values: &[f64]) -> serde_json::Value {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    serde_json::json!({
        "median": round1(median(&sorted)),
        "min": round1(sorted[0]),
        "max": round1(sorted[sorted.len() - 1]),
        "all": values.iter().map(|v| round1(*v)).collect::<Vec<_>>(),
    })
}

fn print_result(args: &FailoverArgs, rounds: &[Round]) {
    let writes: Vec<f64> = rounds.iter().map(|r| r.write_ms).collect();
    let elected: Vec<f64> = rounds.iter().map(|r| r.elected_ms).collect();
    let (w, e) = (summary(&writes), summary(&elected));
    if args.json {
        let out = serde_json::json!({
            "label": args.label.as_deref().unwrap_or("failover"),
            "servers": args.servers,
            "rounds": rounds.len(),
            "write_ms": w,
            "elected_ms": e,
        });
        println!("{out}");
    } else {
        println!(
            "failover over {} rounds: first acknowledged write after the kill: median {} ms (min {}, max {}); srvr shows one leader: median {} ms (min {}, max {})",
            rounds.len(), w["median"], w["min"], w["max"], e["median"], e["min"], e["max"]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_replies_give_mode_and_zxid() {
        let reply = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x200000005\nMode: follower\nNode count: 5\n";
        let s = parse_srvr(reply).unwrap();
        assert_eq!(s.mode, "follower");
        assert_eq!(s.zxid, 0x2_0000_0005);
        assert!(
            parse_srvr("This ZooKeeper instance is not currently serving requests\n").is_none()
        );
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        let s = summary(&[5.0, 1.0, 3.0]);
        assert_eq!(s["median"], 3.0);
        assert_eq!(s["min"], 1.0);
        assert_eq!(s["max"], 5.0);
    }
}
