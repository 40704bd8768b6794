//! Start-to-serving: poll a server from its spawn instant until it answers.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};
use zookeeper_client as zk;

use crate::util::epoch_ns;
use crate::{Probe, ReadyArgs};

/// One probe must not outlive a slow start: a server that accepts but is not yet ready to
/// answer shows up as a failed probe, not as a stall.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn run(args: &ReadyArgs) -> Result<(), String> {
    let now_ns = epoch_ns();
    let since_ns = args.since_ns.unwrap_or(now_ns);
    if since_ns > now_ns + 1_000_000_000 {
        return Err(format!(
            "--since-ns {since_ns} lies in the future (now is {now_ns}); pass `date +%s%N` taken before the spawn"
        ));
    }
    // Map the epoch spawn instant onto the monotonic clock once; the rest is monotonic.
    let already = Duration::from_nanos(now_ns.saturating_sub(since_ns) as u64);
    let start = Instant::now()
        .checked_sub(already)
        .unwrap_or_else(Instant::now);
    let deadline = start + args.timeout;
    let mut probes = 0u64;
    let ready = poll(args, deadline, &mut probes, || {
        probe(&args.server, args.probe)
    })
    .await?;
    let ready_ms = start_ms(ready, start);
    let mut get_ms = None;
    if let Some(path) = &args.get {
        let got = poll(args, deadline, &mut probes, || get_data(&args.server, path)).await?;
        get_ms = Some(start_ms(got, start));
    }
    print_result(args, ready_ms, get_ms, probes);
    Ok(())
}

fn start_ms(at: Instant, start: Instant) -> f64 {
    at.duration_since(start).as_secs_f64() * 1e3
}

/// Why one probe failed: worth another try, or final (the server serves, but not the data).
enum Failure {
    Retry(String),
    Fatal(String),
}

/// Repeats `attempt` every interval until it succeeds; returns the instant it did.
async fn poll<F, Fut>(
    args: &ReadyArgs,
    deadline: Instant,
    probes: &mut u64,
    attempt: F,
) -> Result<Instant, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    loop {
        *probes += 1;
        let last_failure = match attempt().await {
            Ok(()) => return Ok(Instant::now()),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(e)) => e,
        };
        if let Some(pid) = args.pid {
            if !process_alive(pid) {
                return Err(format!(
                    "server process {pid} exited before {} served (last probe: {last_failure})",
                    args.server
                ));
            }
        }
        if Instant::now() + args.interval >= deadline {
            return Err(format!(
                "{} did not serve within {:?} of its spawn ({} probes; last: {last_failure})",
                args.server, args.timeout, *probes
            ));
        }
        sleep(args.interval).await;
    }
}

fn print_result(args: &ReadyArgs, ready_ms: f64, get_ms: Option<f64>, probes: u64) {
    let probe = match args.probe {
        Probe::Ruok => "ruok",
        Probe::Session => "session",
    };
    let tenth = |ms: f64| (ms * 10.0).round() / 10.0;
    if args.json {
        let mut value = serde_json::json!({
            "server": args.server,
            "probe": probe,
            "ready_ms": tenth(ready_ms),
            "probes": probes,
        });
        if let (Some(ms), Some(path)) = (get_ms, &args.get) {
            value["get_ms"] = tenth(ms).into();
            value["get_path"] = path.as_str().into();
        }
        println!("{value}");
    } else {
        let mut line = format!(
            "{} serves ({probe}) {ready_ms:.1} ms after spawn",
            args.server
        );
        if let (Some(ms), Some(path)) = (get_ms, &args.get) {
            line.push_str(&format!("; getData {path} {ms:.1} ms after spawn"));
        }
        println!("{line} ({probes} probes)");
    }
}

async fn probe(server: &str, kind: Probe) -> Result<(), Failure> {
    match kind {
        Probe::Ruok => ruok(server).await,
        Probe::Session => session(server).await.map(drop),
    }
    .map_err(Failure::Retry)
}

async fn ruok(server: &str) -> Result<(), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(server)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .write_all(b"ruok")
            .await
            .map_err(|e| format!("send ruok: {e}"))?;
        let mut reply = Vec::with_capacity(8);
        // The server closes the connection after its answer.
        stream
            .read_to_end(&mut reply)
            .await
            .map_err(|e| format!("read reply: {e}"))?;
        if reply == b"imok" {
            Ok(())
        } else {
            Err(format!(
                "ruok answered {:?}",
                String::from_utf8_lossy(&reply)
            ))
        }
    };
    timeout(PROBE_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no ruok answer within {PROBE_TIMEOUT:?}")))
}

async fn session(server: &str) -> Result<zk::Client, String> {
    let connect = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(6))
        .with_fail_eagerly()
        .connect(server);
    match timeout(PROBE_TIMEOUT, connect).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("session: {e}")),
        Err(_) => Err(format!("no session within {PROBE_TIMEOUT:?}")),
    }
}

async fn get_data(server: &str, path: &str) -> Result<(), Failure> {
    let client = session(server).await.map_err(Failure::Retry)?;
    match timeout(PROBE_TIMEOUT, client.get_data(path)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(zk::Error::NoNode)) => Err(Failure::Fatal(format!(
            "{server} serves sessions but getData {path} says no node: its data was not recovered"
        ))),
        Ok(Err(e)) => Err(Failure::Retry(format!("getData {path}: {e}"))),
        Err(_) => Err(Failure::Retry(format!(
            "no getData {path} answer within {PROBE_TIMEOUT:?}"
        ))),
    }
}

pub(crate) fn process_alive(pid: u32) -> bool {
    // A zombie has exited even though /proc still lists it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}
