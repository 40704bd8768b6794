//! Runs an [`Election`] over [`ElectionLinks`]: messages in, timers, and
//! sends out. Both functions are cancel-safe: dropping the future (e.g. in
//! a `select!` against a shutdown signal) loses nothing but time.
//!
//! The peer runtime keeps one `Election` for the server's life:
//! `run_election_once` for each round, then, while leading or following,
//! `answer_while_settled` in a `select!` against the role's own work, so
//! looking servers keep hearing who leads:
//!
//! ```ignore
//! let (vote, state) = run_election_once(&mut election, &links, &mut rx, zxid, epoch).await;
//! tokio::select! {
//!     _ = answer_while_settled(&mut election, &links, &mut rx) => {}
//!     _ = follow_or_lead(vote, state) => {} // ends when the role is lost
//! }
//! // and back to run_election_once
//! ```

use super::ElectionLinks;
use crate::quorum::election::{Election, ElectionAction, ServerState, Vote};
use bytes::Bytes;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// Milliseconds on a monotonic clock shared by every election in the
/// process, so deadlines stay meaningful across calls.
fn now_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Sends what the election wants sent; returns its decision, if it made one.
fn flush(election: &mut Election, links: &ElectionLinks) -> Option<(Vote, ServerState)> {
    let mut decided = None;
    while let Some(action) = election.poll_action() {
        match action {
            ElectionAction::Send { to, message } => links.send(to, message),
            ElectionAction::Decided { vote, state } => decided = Some((vote, state)),
        }
    }
    decided
}

fn handle(election: &mut Election, from: u64, body: &Bytes) {
    if let Err(e) = election.on_message(from, body, now_ms()) {
        tracing::warn!(peer = from as i64, error = %e, "skipping a malformed notification");
    }
}

/// Starts a round and runs it until it decides.
///
/// `rx` is the receiver [`ElectionLinks::start`] returned. While the links
/// live it does not close; if it does, the round goes on with timers alone.
pub async fn run_election_once(
    election: &mut Election,
    links: &ElectionLinks,
    rx: &mut UnboundedReceiver<(u64, Bytes)>,
    last_zxid: i64,
    current_epoch: i64,
) -> (Vote, ServerState) {
    election.look(last_zxid, current_epoch, now_ms());
    let mut rx_open = true;
    loop {
        if let Some(decision) = flush(election, links) {
            return decision;
        }
        let wait = election
            .next_deadline()
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            message = rx.recv(), if rx_open => match message {
                Some((from, body)) => handle(election, from, &body),
                None => rx_open = false,
            },
            _ = tokio::time::sleep(wait) => election.on_timer(now_ms()),
        }
    }
}

/// Answers looking servers with the settled vote until `rx` closes; call it
/// after [`run_election_once`] decided or after [`Election::settle`].
pub async fn answer_while_settled(
    election: &mut Election,
    links: &ElectionLinks,
    rx: &mut UnboundedReceiver<(u64, Bytes)>,
) {
    while let Some((from, body)) = rx.recv().await {
        handle(election, from, &body);
        flush(election, links);
    }
}
