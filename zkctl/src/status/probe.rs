//! Asking one member `srvr` and `mntr` on its client port.

use std::io;
use std::time::Duration;

use super::answers::{parse_mntr, parse_srvr, Answer};
use super::report::{MemberStatus, Mode};
use crate::four_letter;
use crate::model::Member;

/// The member's row, from its answers (or the lack of them).
pub fn probe(member: &Member, timeout: Duration) -> MemberStatus {
    let endpoint = member.client_endpoint();
    probe_with(member, timeout, &mut |word| {
        four_letter::ask(&endpoint, word, timeout)
    })
}

/// [`probe`] with another way to ask a word, e.g. over SSH on the host
/// itself when the client port is not reachable from here.
pub fn probe_with(
    member: &Member,
    timeout: Duration,
    ask: &mut dyn FnMut(&str) -> io::Result<String>,
) -> MemberStatus {
    let srvr = match ask("srvr") {
        Ok(text) => text,
        Err(e) => {
            let mut row = MemberStatus::new(member, Mode::Unreachable);
            row.error = Some(describe_io_error(&e, timeout));
            return row;
        }
    };
    let mut row = match parse_srvr(&srvr) {
        Ok(Answer::Serving(s)) => {
            let mut row = MemberStatus::new(member, s.mode.into());
            row.zxid = Some(s.zxid);
            row.epoch = Some((s.zxid >> 32) as u32);
            // srvr counts the connection asking it.
            row.clients = Some(s.connections.saturating_sub(1));
            row.outstanding = Some(s.outstanding);
            row.latency = Some(s.latency);
            row.znodes = Some(s.node_count);
            row.version = Some(s.version);
            row
        }
        Ok(Answer::NotServing) => return MemberStatus::new(member, Mode::NotServing),
        // srvr is always allowed by 3.8; a refusal means something else answered.
        Ok(Answer::NotWhitelisted) => {
            let mut row = MemberStatus::new(member, Mode::BadAnswer);
            row.error = Some("refused srvr, which ZooKeeper 3.8 always answers".into());
            return row;
        }
        Err(e) => {
            let mut row = MemberStatus::new(member, Mode::BadAnswer);
            row.error = Some(format!("not a ZooKeeper answer: {e}"));
            return row;
        }
    };
    match ask("mntr").map(|text| parse_mntr(&text)) {
        Ok(Ok(Answer::Serving(m))) => {
            row.peer_state = m.peer_state;
            row.quorum_size = m.quorum_size;
            row.synced_followers = m.synced_followers;
            row.synced_observers = m.synced_observers;
        }
        Ok(Ok(Answer::NotWhitelisted)) => {
            row.mntr_error = Some("mntr is not in 4lw.commands.whitelist".into());
        }
        // Its role changed between the two words; srvr's answer stands.
        Ok(Ok(Answer::NotServing)) => {
            row.mntr_error = Some("stopped serving between srvr and mntr".into());
        }
        Ok(Err(e)) => row.mntr_error = Some(e.to_string()),
        Err(e) => row.mntr_error = Some(describe_io_error(&e, timeout)),
    }
    row
}

fn describe_io_error(e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens there)".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("no answer within {} ms", timeout.as_millis())
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn member_at(port: u16) -> Member {
        Member {
            name: "zk1".into(),
            address: "127.0.0.1".into(),
            myid: 1,
            observer: false,
            client_port: port,
            quorum_port: 1,
            election_port: 2,
        }
    }

    /// A server that answers each word from `answers` on its own connection.
    fn fake_server(answers: &'static [(&'static str, &'static str)]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut word = [0u8; 4];
                stream.read_exact(&mut word).unwrap();
                let word = std::str::from_utf8(&word).unwrap();
                let answer = answers.iter().find(|(w, _)| *w == word).map_or("", |a| a.1);
                stream.write_all(answer.as_bytes()).unwrap();
            }
        });
        port
    }

    #[test]
    fn a_serving_member_fills_its_row() {
        let port = fake_server(&[
            ("srvr", include_str!("testdata/zkd_leader.srvr")),
            ("mntr", include_str!("testdata/zkd_leader.mntr")),
        ]);
        let row = probe(&member_at(port), Duration::from_secs(5));
        assert_eq!(row.mode, Mode::Leader);
        assert_eq!(row.address, format!("127.0.0.1:{port}"));
        assert_eq!(row.zxid, Some(0x2_0000_0003));
        assert_eq!(row.epoch, Some(2));
        assert_eq!(
            row.clients,
            Some(0),
            "the probe's own connection is not a client"
        );
        assert_eq!(row.znodes, Some(6));
        assert_eq!(row.synced_followers, Some(2));
        assert_eq!(row.mntr_error, None);
    }

    #[test]
    fn a_refused_mntr_keeps_the_srvr_row() {
        let port = fake_server(&[
            ("srvr", include_str!("testdata/zkd_follower.srvr")),
            ("mntr", include_str!("testdata/zkd_refused.mntr")),
        ]);
        let row = probe(&member_at(port), Duration::from_secs(5));
        assert_eq!(row.mode, Mode::Follower);
        assert_eq!(row.quorum_size, None);
        assert!(row.mntr_error.unwrap().contains("whitelist"));
    }

    #[test]
    fn not_serving_and_garbage_are_rows_too() {
        let port = fake_server(&[("srvr", include_str!("testdata/zkd_not_serving.srvr"))]);
        assert_eq!(
            probe(&member_at(port), Duration::from_secs(5)).mode,
            Mode::NotServing
        );
        let port = fake_server(&[("srvr", "SSH-2.0-OpenSSH_9.2\r\n")]);
        let row = probe(&member_at(port), Duration::from_secs(5));
        assert_eq!(row.mode, Mode::BadAnswer);
        assert!(row.error.unwrap().contains("SSH-2.0"));
    }

    #[test]
    fn nothing_listening_is_unreachable() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let row = probe(&member_at(port), Duration::from_secs(5));
        assert_eq!(row.mode, Mode::Unreachable);
        assert!(row.error.unwrap().contains("refused"));
    }
}
