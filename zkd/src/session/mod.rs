//! The session table: ids, passwords, negotiated timeouts and expiry.
//! Time is passed in (milliseconds on a monotonic clock), so expiry is
//! deterministic under test.

mod java_random;

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// 3.8 derives a session's password from its id and this constant, so any
/// member of an ensemble can check a password without shared state.
const PASSWORD_SECRET: i64 = 0xB341_5C00;

/// The 16-byte password of a session, as 3.8 computes it.
pub fn password_for(session_id: i64) -> [u8; 16] {
    let mut rng = java_random::JavaRandom::new(session_id ^ PASSWORD_SECRET);
    let mut out = [0u8; 16];
    rng.next_bytes(&mut out);
    out
}

/// The first session id a server hands out: its id in the top byte and a
/// time-derived middle, so ids from different servers and runs differ.
pub fn initial_session_id(server_id: u64, wall_ms: i64) -> i64 {
    let mut next = ((wall_ms << 24) as u64 >> 8) as i64;
    next |= (server_id as i64) << 56;
    if next == i64::MIN {
        next += 1;
    }
    next
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub timeout_ms: u32,
    /// Expiry deadline, rounded up to the next tick as 3.8 buckets it.
    pub expires_at: u64,
    /// Set once expiry or close has been decided; no more touches count.
    pub closing: bool,
}

pub struct SessionTracker {
    sessions: HashMap<i64, Session>,
    buckets: BTreeMap<u64, BTreeSet<i64>>,
    tick_ms: u64,
    next_id: i64,
}

impl SessionTracker {
    pub fn new(tick_ms: u32, first_id: i64) -> Self {
        SessionTracker {
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
            tick_ms: tick_ms.max(1) as u64,
            next_id: first_id,
        }
    }

    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn deadline(&self, now: u64, timeout_ms: u32) -> u64 {
        // Rounding to tick boundaries lets expiry work in whole buckets.
        (now + timeout_ms as u64) / self.tick_ms * self.tick_ms + self.tick_ms
    }

    /// Adds (or re-adds, when replaying) a session and starts its clock.
    pub fn add(&mut self, id: i64, timeout_ms: u32, now: u64) {
        if let Some(old) = self.sessions.get(&id).copied() {
            self.unbucket(old.id, old.expires_at);
        }
        let expires_at = self.deadline(now, timeout_ms);
        self.sessions.insert(
            id,
            Session {
                id,
                timeout_ms,
                expires_at,
                closing: false,
            },
        );
        self.buckets.entry(expires_at).or_default().insert(id);
    }

    fn unbucket(&mut self, id: i64, at: u64) {
        if let Some(set) = self.buckets.get_mut(&at) {
            set.remove(&id);
            if set.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }

    /// Pushes a live session's deadline out; false if it is unknown or
    /// already closing (the caller answers SessionExpired).
    pub fn touch(&mut self, id: i64, now: u64) -> bool {
        let Some(s) = self.sessions.get(&id).copied() else {
            return false;
        };
        if s.closing {
            return false;
        }
        let at = self.deadline(now, s.timeout_ms);
        if at != s.expires_at {
            self.unbucket(id, s.expires_at);
            self.buckets.entry(at).or_default().insert(id);
            self.sessions.get_mut(&id).expect("present").expires_at = at;
        }
        true
    }

    pub fn get(&self, id: i64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn is_live(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    /// Undoes [`SessionTracker::set_closing`] when the close could not be
    /// made durable: the session lives on and may expire again later.
    pub fn reopen(&mut self, id: i64, now: u64) {
        if let Some(s) = self.sessions.get(&id).copied() {
            if s.closing {
                self.sessions.get_mut(&id).expect("present").closing = false;
                let timeout = s.timeout_ms;
                self.add(id, timeout, now);
            }
        }
    }

    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    pub fn remove(&mut self, id: i64) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.unbucket(id, s.expires_at);
        Some(s)
    }

    /// Sessions whose deadline has passed; they are marked closing so they
    /// are reported once.
    pub fn expired(&mut self, now: u64) -> Vec<i64> {
        let mut out = Vec::new();
        let due: Vec<u64> = self.buckets.range(..=now).map(|(t, _)| *t).collect();
        for t in due {
            let mut ids: Vec<i64> = self
                .buckets
                .remove(&t)
                .unwrap_or_default()
                .into_iter()
                .collect();
            // Sorted, so expiry order does not depend on hashing.
            ids.sort_unstable();
            for id in ids {
                if let Some(s) = self.sessions.get_mut(&id) {
                    if !s.closing {
                        s.closing = true;
                        out.push(id);
                    }
                }
            }
        }
        out
    }

    /// Every session with its timeout, sorted by id (snapshots, `cons`).
    pub fn all(&self) -> Vec<(i64, u32)> {
        let mut v: Vec<_> = self
            .sessions
            .values()
            .map(|s| (s.id, s.timeout_ms))
            .collect();
        v.sort();
        v
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_after_their_timeout_unless_touched() {
        let mut t = SessionTracker::new(2000, 1);
        t.add(1, 4000, 0);
        t.add(2, 4000, 0);
        assert!(t.expired(5999).is_empty());
        assert!(t.touch(2, 3000));
        assert_eq!(t.expired(6000), vec![1]);
        assert!(!t.touch(1, 6000), "an expiring session cannot be revived");
        assert_eq!(t.expired(8000), vec![2]);
    }

    #[test]
    fn ids_carry_the_server_id() {
        let id = initial_session_id(3, 1_700_000_000_000);
        assert_eq!(id >> 56, 3);
        assert_ne!(initial_session_id(1, 0), i64::MIN);
    }

    #[test]
    fn password_is_deterministic_per_session() {
        assert_eq!(password_for(42), password_for(42));
        assert_ne!(password_for(42), password_for(43));
    }
}
