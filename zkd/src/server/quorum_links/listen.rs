//! The quorum port's accept loop (leader side).

use super::threads::{start, Side};
use super::{LinkEvent, Shared};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A pause after a failed accept (out of file descriptors, say), so the
/// loop does not spin on a condition that lasts.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A listening quorum port. Dropping it stops accepting; links already
/// accepted stay up.
pub struct ListenerHandle {
    listener: Arc<TcpListener>,
    local: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub(super) fn start_listener(shared: Arc<Shared>, addr: SocketAddr) -> io::Result<ListenerHandle> {
    let listener = Arc::new(TcpListener::bind(addr)?);
    let local = listener.local_addr()?;
    let stopping = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name(format!("quorum-accept-{}", local.port()))
        .spawn({
            let (listener, stopping) = (listener.clone(), stopping.clone());
            move || accept_loop(shared, &listener, &stopping)
        })?;
    Ok(ListenerHandle {
        listener,
        local,
        stopping,
        thread: Some(thread),
    })
}

impl ListenerHandle {
    /// The bound address (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops accepting and waits for the accept thread to end.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        // Shutting a listening socket down makes a blocked accept() return
        // at once (Linux: EINVAL), with no need for a wake-up connection.
        // The fd stays valid: this handle holds the listener.
        // SAFETY: shutdown(2) on an fd we own; it touches no memory.
        unsafe {
            libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR);
        }
        let _ = thread.join();
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(shared: Arc<Shared>, listener: &TcpListener, stopping: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, remote)) => {
                let (link, outbound) = shared.register(remote.to_string());
                let event = LinkEvent::Accepted {
                    link: link.id,
                    remote,
                };
                tracing::info!(link = link.id, peer = %remote, "learner connected to the quorum port");
                start(
                    shared.clone(),
                    link,
                    stream,
                    remote.to_string(),
                    event,
                    Side::Leader,
                    outbound,
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept on the quorum port failed");
                std::thread::sleep(ACCEPT_RETRY);
            }
        }
    }
}
