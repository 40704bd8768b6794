use super::records::{Acl, Id, Stat};
use super::*;
use proptest::prelude::*;

#[test]
fn primitives_are_big_endian() {
    let mut w = Writer::new();
    w.i32(1);
    w.i64(-2);
    w.bool(true);
    assert_eq!(
        w.as_slice(),
        &[0, 0, 0, 1, 255, 255, 255, 255, 255, 255, 255, 254, 1]
    );
}

#[test]
fn null_buffer_and_string() {
    let mut w = Writer::new();
    w.opt_buffer(None);
    w.opt_buffer(None);
    let bytes = w.into_vec();
    let mut r = Reader::new(&bytes);
    assert_eq!(r.opt_buffer().unwrap(), None);
    assert!(matches!(
        r.string(),
        Err(JuteError::UnexpectedNull { at: 4, .. })
    ));
}

#[test]
fn lying_lengths_are_refused_without_allocating() {
    let bytes = [0x7f, 0xff, 0xff, 0xff, 1, 2];
    assert!(matches!(
        Reader::new(&bytes).buffer(),
        Err(JuteError::Truncated { at: 4, .. })
    ));
    assert!(matches!(
        Reader::new(&bytes).vec::<Id>(),
        Err(JuteError::Truncated { .. })
    ));
    let neg = [0xff, 0xff, 0xff, 0xfe];
    assert_eq!(
        Reader::new(&neg).buffer(),
        Err(JuteError::BadLength { at: 0, len: -2 })
    );
}

#[test]
fn truncated_record_reports_offset() {
    let stat = Stat {
        czxid: 1,
        ..Default::default()
    };
    let bytes = to_bytes(&stat);
    assert_eq!(bytes.len(), 68);
    let err = from_bytes::<Stat>(&bytes[..60]).unwrap_err();
    assert_eq!(err, JuteError::Truncated { at: 60, needed: 8 });
}

fn arb_acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), ".{0,10}", ".{0,20}").prop_map(|(perms, scheme, id)| Acl {
        perms,
        id: Id { scheme, id },
    })
}

proptest! {
    #[test]
    fn acl_vectors_round_trip(acls in proptest::collection::vec(arb_acl(), 0..8)) {
        let mut w = Writer::new();
        w.vec(&acls);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(r.vec::<Acl>().unwrap(), acls);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = from_bytes::<Stat>(&bytes);
        let mut r = Reader::new(&bytes);
        let _ = r.vec::<Acl>();
    }
}
