//! Garbage on the client port ends one connection, never the server, and
//! bad requests get 3.8's answers.

mod common;

use common::*;
use std::io::Write;
use zkd::jute::records::Acl;
use zkd::proto::request::{CreateRequest, Request};
use zkd::proto::{ErrorCode, OpCode};

fn create(path: &str, data: Vec<u8>) -> Request {
    let data = Some(data);
    Request::Create(CreateRequest {
        op: OpCode::Create,
        path: path.into(),
        data,
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl: -1,
    })
}

fn assert_still_serving(server: &TestServer) {
    let mut s = server.session();
    let reply = s
        .call(&Request::Exists {
            path: "/".into(),
            watch: false,
        })
        .expect("server still answers");
    assert_eq!(reply.err, 0);
}

#[test]
fn garbage_handshakes_close_only_their_connection() {
    let server = TestServer::start();
    let mut bystander = server.session();
    let attacks: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        (-5i32).to_be_bytes().to_vec(),
        i32::MAX.to_be_bytes().to_vec(),
        frame(&[1, 2, 3]),
        vec![0, 0, 0, 44, 0, 0],
    ];
    for bytes in attacks {
        let mut s = server.raw();
        s.write_all(&bytes).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        assert!(is_closed(&mut s), "connection closed after {bytes:?}");
    }
    let reply = bystander
        .call(&Request::Exists {
            path: "/zookeeper".into(),
            watch: false,
        })
        .unwrap();
    assert_eq!(reply.err, 0, "an established session is untouched");
    assert_still_serving(&server);
}

#[test]
fn oversize_frames_close_the_connection() {
    let server = TestServer::start_with(|cfg| cfg.jute_max_buffer = 4096);
    let mut s = server.session();
    let reply = s.call(&create("/small", vec![7; 1000])).unwrap();
    assert_eq!(reply.err, 0);
    assert!(s.call(&create("/big", vec![7; 8000])).is_none());
    assert_still_serving(&server);
}

#[test]
fn truncated_and_headerless_requests_close_the_connection() {
    let server = TestServer::start();
    let mut s = server.session();
    s.stream.write_all(&frame(&[0, 0, 0, 1])).unwrap();
    assert!(is_closed(&mut s.stream));
    let mut s = server.session();
    s.stream.write_all(&[0, 0, 0, 50, 0, 0, 0, 1]).unwrap();
    let _ = s.stream.shutdown(std::net::Shutdown::Write);
    assert!(is_closed(&mut s.stream));
    assert_still_serving(&server);
}

#[test]
fn unknown_opcodes_and_bad_bodies_get_error_codes() {
    let server = TestServer::start();
    let mut s = server.session();
    let reply = s.call_raw(9999, &[]).unwrap();
    assert_eq!(reply.err, ErrorCode::Unimplemented.code());
    let reply = s
        .call_raw(OpCode::GetData.code(), &[0, 0, 0, 9, b'/'])
        .unwrap();
    assert_eq!(reply.err, ErrorCode::MarshallingError.code());
    let reply = s
        .call(&Request::Exists {
            path: "/".into(),
            watch: false,
        })
        .unwrap();
    assert_eq!(reply.err, 0, "the session survives a bad request");
}

#[test]
fn invalid_paths_are_bad_arguments() {
    let server = TestServer::start();
    let mut s = server.session();
    assert_eq!(s.call(&create("/a", vec![])).unwrap().err, 0);
    for path in ["relative", "/a/", "/.", "/a/..", "/a/.", "/nul\0"] {
        let reply = s.call(&create(path, vec![])).unwrap();
        assert_eq!(reply.err, ErrorCode::BadArguments.code(), "{path:?}");
    }
    // 3.8 looks the parent up before checking the whole path, so a path
    // whose "parent" cannot exist is NoNode, not BadArguments.
    assert_eq!(
        s.call(&create("/a//b", vec![])).unwrap().err,
        ErrorCode::NoNode.code()
    );
    let reply = s
        .call(&Request::Exists {
            path: "/nul\0".into(),
            watch: false,
        })
        .unwrap();
    assert_eq!(reply.err, ErrorCode::BadArguments.code());
    let reply = s
        .call(&Request::Delete {
            path: "/zookeeper".into(),
            version: -1,
        })
        .unwrap();
    assert_eq!(reply.err, ErrorCode::BadArguments.code());
}

#[test]
fn connections_over_the_per_address_limit_are_refused() {
    let server = TestServer::start_with(|cfg| cfg.max_client_cnxns = 3);
    let _held: Vec<_> = (0..3).map(|_| server.session()).collect();
    let mut extra = server.raw();
    assert!(is_closed(&mut extra), "the fourth connection is dropped");
    drop(_held);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_still_serving(&server);
}
