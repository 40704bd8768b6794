//! A raw-protocol client for integration tests: it speaks frames directly,
//! so tests can send exactly the bytes they mean, good or bad.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use zkd::config::ZooCfg;
use zkd::jute::{Reader, Writer};
use zkd::proto::connect::{ConnectRequest, ConnectResponse};
use zkd::proto::request::Request;

/// Starts a standalone server on a free loopback port in a runtime of its own.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<zkd::server::Server>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut ZooCfg)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ZooCfg::standalone_default(dir.path().join("data"));
        cfg.client_port = Some(0);
        cfg.four_letter_words = zkd::config::FourLetterWhitelist::All;
        tweak(&mut cfg);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(zkd::server::Server::start(cfg)).unwrap();
        TestServer {
            addr: server.client_addr(),
            dir,
            runtime: Some(runtime),
            server: Some(server),
        }
    }

    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    pub fn session(&self) -> Session {
        Session::connect(self.raw())
    }

    pub fn four_letter(&self, word: &str) -> String {
        let mut s = self.raw();
        s.write_all(word.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let (Some(rt), Some(server)) = (self.runtime.take(), self.server.take()) {
            rt.block_on(server.shutdown());
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// Reads one frame; `None` when the server closed the connection.
pub fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

/// True when the peer has closed: a read returns end of file.
pub fn is_closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

pub struct Session {
    pub stream: TcpStream,
    pub id: i64,
    xid: i32,
}

#[derive(Debug)]
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

impl Session {
    pub fn connect(mut stream: TcpStream) -> Self {
        let mut w = Writer::new();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 10_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
        .encode(&mut w);
        stream.write_all(&frame(w.as_slice())).unwrap();
        let body = read_frame(&mut stream).expect("connect response");
        let resp = ConnectResponse::decode(&body).unwrap();
        assert_ne!(resp.session_id, 0);
        Session {
            stream,
            id: resp.session_id,
            xid: 0,
        }
    }

    /// Sends a request body for `op` as-is and returns the reply.
    pub fn call_raw(&mut self, op: i32, body: &[u8]) -> Option<Reply> {
        self.xid += 1;
        let mut w = Writer::new();
        w.i32(self.xid);
        w.i32(op);
        w.raw(body);
        self.stream.write_all(&frame(w.as_slice())).ok()?;
        self.read_reply()
    }

    pub fn call(&mut self, request: &Request) -> Option<Reply> {
        let mut w = Writer::new();
        request.encode_body(&mut w);
        self.call_raw(request.op().code(), w.as_slice())
    }

    pub fn read_reply(&mut self) -> Option<Reply> {
        let body = read_frame(&mut self.stream)?;
        let mut r = Reader::new(&body);
        Some(Reply {
            xid: r.i32().unwrap(),
            zxid: r.i64().unwrap(),
            err: r.i32().unwrap(),
            body: r.rest().to_vec(),
        })
    }
}

/// A port on `host` below the kernel's ephemeral range (32768 and up), free
/// now: outgoing connections of tests running alongside cannot take it
/// between this check and the bind, as they could an ephemeral one.
pub fn free_port_below_ephemeral(host: &str) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 400) as u16 * 25;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 10_000;
        if std::net::TcpListener::bind((host, port)).is_ok() {
            return port;
        }
    }
}
