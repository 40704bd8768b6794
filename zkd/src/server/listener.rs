//! Accepting client connections, with 3.8's per-address limit.

use super::connection;
use super::core::CoreMsg;
use super::Limits;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

/// Connections per client address, released when a connection ends.
#[derive(Default)]
pub(super) struct PerIp {
    counts: Mutex<HashMap<IpAddr, u32>>,
}

impl PerIp {
    fn try_acquire(&self, ip: IpAddr, max: u32) -> bool {
        let mut counts = self.counts.lock().expect("not poisoned");
        let n = counts.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    pub fn release(&self, ip: IpAddr) {
        let mut counts = self.counts.lock().expect("not poisoned");
        if let Some(n) = counts.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&ip);
            }
        }
    }
}

pub(super) async fn accept_loop(
    listener: TcpListener,
    core: mpsc::UnboundedSender<CoreMsg>,
    limits: Limits,
    throttle: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let per_ip = Arc::new(PerIp::default());
    let next_id = AtomicU64::new(1);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let max = limits.max_client_cnxns_per_ip.load(Ordering::Relaxed);
        if !per_ip.try_acquire(peer.ip(), max) {
            tracing::warn!(
                client = %peer.ip(),
                max,
                "too many connections from this address; refusing"
            );
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let conn = connection::Connection {
            id,
            peer,
            core: core.clone(),
            max_frame: limits.max_frame,
            throttle: throttle.clone(),
        };
        let per_ip = per_ip.clone();
        tokio::spawn(async move {
            conn.run(stream).await;
            per_ip.release(peer.ip());
        });
    }
}
