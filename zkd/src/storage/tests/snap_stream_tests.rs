//! The SNAP stream: layout, round trip, and bad input.

use super::support::{assert_same_tree, History};
use crate::jute::records::{perms, Acl, Id, StatPersisted};
use crate::storage::{read_snapshot_stream, write_snapshot_stream, SnapStreamError};
use crate::tree::{DataTree, TreeOptions};
use bytes::Bytes;

fn opts() -> TreeOptions {
    TreeOptions::default()
}

fn stream_of(tree: &DataTree, sessions: &[(i64, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot_stream(tree, sessions, &mut out).unwrap();
    out
}

#[test]
fn a_stream_round_trips_and_stops_at_its_signature() {
    let mut h = History::new();
    h.workload();
    let sessions = h.sessions_vec();
    let mut bytes = stream_of(&h.tree, &sessions);
    // The next quorum packet follows the signature on the same socket.
    bytes.extend_from_slice(b"NEXT");
    let mut r = &bytes[..];
    let (mut tree, got) = read_snapshot_stream(&mut r, opts()).unwrap();
    assert_eq!(r, b"NEXT");
    assert_eq!(got, sessions);
    tree.last_zxid = h.tree.last_zxid;
    assert_same_tree(&tree, &h.tree);
}

/// The layout byte by byte for a tree built by hand: what 3.8's
/// `serializeSnapshot` writes for it, then the signature.
#[test]
fn the_layout_is_serialize_snapshot_then_the_signature() {
    let mut tree = DataTree::empty_for_load(opts());
    let acl = vec![Acl {
        perms: perms::READ,
        id: Id::new("digest", "u:h"),
    }];
    tree.acls.restore(1, acl.clone());
    let root_stat = StatPersisted {
        czxid: 0,
        ..StatPersisted::default()
    };
    tree.insert_raw("/", None, -1, root_stat);
    let a_stat = StatPersisted {
        czxid: 2,
        mzxid: 2,
        ..StatPersisted::default()
    };
    tree.insert_raw("/a", Some(Bytes::from_static(b"xy")), 1, a_stat);
    tree.acls.add_ref(1);

    let mut expected = Vec::new();
    let mut put = |b: &[u8]| expected.extend_from_slice(b);
    put(&1i32.to_be_bytes()); // one session
    put(&0x42i64.to_be_bytes());
    put(&5000i32.to_be_bytes());
    put(&1i32.to_be_bytes()); // one ACL list: id 1, [READ digest:u:h]
    put(&1i64.to_be_bytes());
    put(&1i32.to_be_bytes());
    put(&1i32.to_be_bytes());
    put(&6i32.to_be_bytes());
    put(b"digest");
    put(&3i32.to_be_bytes());
    put(b"u:h");
    put(&0i32.to_be_bytes()); // root: path "", null data, ACL -1, Stat
    put(&(-1i32).to_be_bytes());
    put(&(-1i64).to_be_bytes());
    put(&crate::jute::to_bytes(&root_stat));
    put(&2i32.to_be_bytes()); // "/a"
    put(b"/a");
    put(&2i32.to_be_bytes());
    put(b"xy");
    put(&1i64.to_be_bytes());
    put(&crate::jute::to_bytes(&a_stat));
    put(&1i32.to_be_bytes()); // end marker "/"
    put(b"/");
    put(&10i32.to_be_bytes());
    put(b"BenWasHere");
    assert_eq!(stream_of(&tree, &[(0x42, 5000)]), expected);
    assert_eq!(crate::jute::to_bytes(&a_stat).len(), 60);

    let (back, sessions) = read_snapshot_stream(&mut &expected[..], opts()).unwrap();
    assert_eq!(sessions, vec![(0x42, 5000)]);
    assert_same_tree(&back, &tree);
}

#[test]
fn a_wrong_signature_is_named() {
    let tree = DataTree::new(opts());
    let mut bytes = stream_of(&tree, &[]);
    let n = bytes.len();
    bytes[n - 1] = b'X';
    match read_snapshot_stream(&mut &bytes[..], opts()) {
        Err(SnapStreamError::Corrupt { offset, what }) => {
            assert_eq!(offset as usize, n - 14);
            assert!(what.contains("\"BenWasHerX\""), "{what}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn every_cut_of_the_stream_is_an_error_naming_the_stream() {
    let mut h = History::new();
    h.workload();
    let bytes = stream_of(&h.tree, &h.sessions_vec());
    for cut in (0..bytes.len()).step_by(7) {
        match read_snapshot_stream(&mut &bytes[..cut], opts()) {
            Err(SnapStreamError::Corrupt { what, .. }) => {
                assert!(what.contains("stream ends inside"), "cut {cut}: {what}")
            }
            other => panic!("cut {cut}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn lying_counts_and_lengths_fail_without_huge_allocations() {
    // A session count of 2^31-1 with nothing after it.
    let bytes = i32::MAX.to_be_bytes();
    assert!(read_snapshot_stream(&mut &bytes[..], opts()).is_err());
    // No sessions, no ACLs, then a root path claiming 2 GiB.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0i32.to_be_bytes());
    bytes.extend_from_slice(&0i32.to_be_bytes());
    bytes.extend_from_slice(&i32::MAX.to_be_bytes());
    bytes.extend_from_slice(b"short");
    match read_snapshot_stream(&mut &bytes[..], opts()) {
        Err(SnapStreamError::Corrupt { what, .. }) => {
            assert!(what.contains("ends inside a node path"), "{what}")
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    let negative = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe];
    assert!(matches!(
        read_snapshot_stream(&mut &negative[..], opts()),
        Err(SnapStreamError::Corrupt { .. })
    ));
}
