//! Properties of the client-facing decoders, shared by the fuzz targets and
//! by `zkd/tests/decode_props.rs` (which includes this file by path, so it
//! may use nothing but `zkd` and `std`).
//!
//! Every check returns `Err(description)` instead of panicking, so a fuzz
//! target can panic with the description and a proptest can report it.
//!
//! "Round trip" means: whatever decodes re-encodes, and the re-encoding
//! decodes to an equal value and re-encodes to the same bytes. Byte equality
//! with the *original* input is not required, because jute lets a client
//! say the same thing several ways and the decoders normalise on purpose:
//! - a null password decodes as an empty one, a null getEphemerals prefix
//!   as "" and a null ACL id or scheme as "", as 3.8 treats them (null
//!   znode data, by contrast, is kept apart from empty data);
//! - a boolean is true for any non-zero byte, re-encoded as 1;
//! - fields the server reads and ignores are not kept: the auth `type`,
//!   reconfig's arguments, a multi header's `err` and the op of its closing
//!   header; re-encoding writes their canonical values;
//! - bytes after the record are ignored, as Java's record readers do;
//! - createTTL's `ttl` exists only for that opcode (-1 elsewhere).
//!
//! So the comparison is between decoded values, which carry exactly what
//! the server acts on.

use zkd::jute::records::Acl;
use zkd::jute::{Reader, Record, Writer};
use zkd::proto::connect::ConnectRequest;
use zkd::proto::request::{DecodeError, Request};
use zkd::proto::txn::{Txn, TxnHeader};
use zkd::proto::OpCode;

/// `jute.maxbuffer`'s default (0xfffff) plus the slack 3.8 allows: frames
/// above this end the connection before their body is read.
pub const MAX_FRAME: usize = 0xfffff + 1024;

/// Every request opcode the decoder knows, and neighbours it must refuse.
pub const REQUEST_OPS: &[i32] = &[
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    99,
    100,
    101,
    102,
    103,
    104,
    105,
    106,
    107,
    108,
    -1,
    -10,
    -11,
    -12,
    i32::MIN,
    i32::MAX,
];

/// Every transaction type, and neighbours the decoder must refuse.
pub const TXN_KINDS: &[i32] = &[
    1,
    2,
    5,
    7,
    13,
    14,
    15,
    16,
    19,
    20,
    21,
    -1,
    -10,
    -11,
    0,
    3,
    4,
    6,
    8,
    9,
    11,
    12,
    17,
    18,
    22,
    100,
    101,
    -2,
    i32::MIN,
];

/// Request opcodes whose re-encoding is known to lose information, with the
/// reason; each must have a failing test in `zkd/tests/decode_props.rs`,
/// and leaves this list when that test passes. (setWatches2 was here until
/// `SetWatches::v2` kept its persistent lists.)
pub const KNOWN_LOSSY_OPS: &[(i32, &str)] = &[];

/// Whether round-trip failures for `op` are a known, reported gap.
pub fn known_lossy(op: i32) -> bool {
    KNOWN_LOSSY_OPS.iter().any(|(o, _)| *o == op)
}

/// One frame of a client stream: its body without the length prefix.
pub type Frame<'a> = &'a [u8];

/// Why the server would stop reading a client stream, if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// The bytes ran out on a frame boundary.
    Clean,
    /// The length prefix or the body was cut short.
    Truncated,
    /// A negative length, or one above [`MAX_FRAME`].
    BadLength(i32),
}

/// Splits a byte stream the way the connection reader does: a big-endian
/// i32 length, then that many bytes, until the bytes run out or a length is
/// out of range.
pub fn split_frames(mut bytes: &[u8]) -> (Vec<Frame<'_>>, StreamEnd) {
    let mut frames = Vec::new();
    loop {
        if bytes.is_empty() {
            return (frames, StreamEnd::Clean);
        }
        if bytes.len() < 4 {
            return (frames, StreamEnd::Truncated);
        }
        let len = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if len < 0 || len as usize > MAX_FRAME {
            return (frames, StreamEnd::BadLength(len));
        }
        let len = len as usize;
        if bytes.len() - 4 < len {
            return (frames, StreamEnd::Truncated);
        }
        frames.push(&bytes[4..4 + len]);
        bytes = &bytes[4 + len..];
    }
}

/// Prefixes `body` with its length, as a client frames it.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Round trip of a handshake body.
pub fn check_connect(body: &[u8]) -> Result<Option<ConnectRequest>, String> {
    let Ok(req) = ConnectRequest::decode(body) else {
        return Ok(None);
    };
    let mut w = Writer::new();
    req.encode(&mut w);
    let bytes = w.into_vec();
    let again = ConnectRequest::decode(&bytes)
        .map_err(|e| format!("re-encoded ConnectRequest {req:?} does not decode: {e}"))?;
    if again != req {
        return Err(format!(
            "ConnectRequest round trip changed it: {req:?} became {again:?}"
        ));
    }
    let mut w = Writer::new();
    again.encode(&mut w);
    if w.as_slice() != bytes.as_slice() {
        return Err(format!("ConnectRequest {req:?} has no stable encoding"));
    }
    Ok(Some(req))
}

/// Encodes a request body as a client sends it.
pub fn encode_request(req: &Request) -> Vec<u8> {
    let mut w = Writer::new();
    req.encode_body(&mut w);
    w.into_vec()
}

/// Round trip of one request body under `op`. `Ok(None)` when the body
/// does not decode (which is fine: it must only not panic).
pub fn check_request(op: i32, body: &[u8]) -> Result<Option<Request>, String> {
    let req = match Request::decode(op, body) {
        Ok(req) => req,
        Err(DecodeError::UnknownOp(o)) if o == op => {
            if OpCode::from_i32(op).is_some_and(is_client_request) {
                return Err(format!(
                    "opcode {op} is a client request but was refused as unknown"
                ));
            }
            return Ok(None);
        }
        Err(DecodeError::UnknownOp(o)) => {
            return Err(format!("opcode {op} reported as unknown opcode {o}"));
        }
        Err(DecodeError::Malformed(code, _)) if code.code() != op => {
            return Err(format!("opcode {op} reported as malformed {}", code.code()));
        }
        Err(DecodeError::Malformed(..)) => return Ok(None),
    };
    let reencoded_op = req.op().code();
    if reencoded_op != op {
        return Err(format!(
            "opcode {op} decoded into {req:?} whose op() is {reencoded_op}"
        ));
    }
    let bytes = encode_request(&req);
    let again = Request::decode(reencoded_op, &bytes).map_err(|e| {
        format!("re-encoded {req:?} (op {reencoded_op}) does not decode: {e:?}; bytes {bytes:02x?}")
    })?;
    if again != req {
        return Err(format!(
            "request round trip under op {op} changed {req:?} into {again:?}"
        ));
    }
    if encode_request(&again) != bytes {
        return Err(format!("{req:?} has no stable encoding"));
    }
    Ok(Some(req))
}

/// The opcodes 3.8's `Request.isValid` accepts from a client, plus auth,
/// sasl and closeSession, which its connection layer handles itself.
fn is_client_request(op: OpCode) -> bool {
    !matches!(
        op,
        OpCode::Notification | OpCode::DeleteContainer | OpCode::CreateSession | OpCode::Error
    )
}

/// Decodes a whole client stream: a handshake frame, then request frames
/// (xid, op, body). Checks every frame's round trip; the first frame the
/// server would reject ends the stream, as it ends the connection.
pub fn check_client_stream(bytes: &[u8]) -> Result<(), String> {
    let (frames, _end) = split_frames(bytes);
    let mut frames = frames.into_iter();
    let Some(first) = frames.next() else {
        return Ok(());
    };
    if check_connect(first)?.is_none() {
        return Ok(());
    }
    for body in frames {
        if body.len() < 8 {
            // The reader closes the connection on a frame without header.
            return Ok(());
        }
        let op = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        match check_request(op, &body[8..]) {
            Err(_) if known_lossy(op) => {}
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Encodes a transaction body as the log stores it.
pub fn encode_txn(txn: &Txn) -> Vec<u8> {
    let mut w = Writer::new();
    txn.encode(&mut w);
    w.into_vec()
}

/// Round trip of one transaction body of type `kind`.
pub fn check_txn(kind: i32, body: &[u8]) -> Result<Option<Txn>, String> {
    let Ok(txn) = Txn::decode(kind, &mut Reader::new(body)) else {
        return Ok(None);
    };
    let bytes = encode_txn(&txn);
    let again = Txn::decode(kind, &mut Reader::new(&bytes))
        .map_err(|e| format!("re-encoded {txn:?} (type {kind}) does not decode: {e}"))?;
    if again != txn {
        return Err(format!(
            "txn round trip under type {kind} changed {txn:?} into {again:?}"
        ));
    }
    if encode_txn(&again) != bytes {
        return Err(format!("{txn:?} has no stable encoding"));
    }
    Ok(Some(txn))
}

/// Round trip of a transaction header followed by its body, as one log
/// record holds them.
pub fn check_txn_record(bytes: &[u8]) -> Result<(), String> {
    let mut r = Reader::new(bytes);
    let Ok(header) = TxnHeader::decode(&mut r) else {
        return Ok(());
    };
    let mut w = Writer::new();
    header.encode(&mut w);
    let back = TxnHeader::decode(&mut Reader::new(w.as_slice()))
        .map_err(|e| format!("re-encoded {header:?} does not decode: {e}"))?;
    if back != header {
        return Err(format!(
            "TxnHeader round trip changed {header:?} into {back:?}"
        ));
    }
    check_txn(header.kind, r.rest()).map(|_| ())
}

/// Decodes each strict prefix of `body` under `op` and fails if one panics
/// or, unless the record ends in an optional field, decodes at all.
pub fn check_request_prefixes(op: i32, body: &[u8]) -> Result<(), String> {
    for cut in 0..body.len() {
        if let Ok(req) = Request::decode(op, &body[..cut]) {
            return Err(format!(
                "op {op}: the first {cut} of {} bytes decode as {req:?}",
                body.len()
            ));
        }
    }
    Ok(())
}

/// As [`check_request_prefixes`] for transactions. A closeSession body may
/// be empty (servers with closeSessionTxn disabled write none), so the
/// empty prefix of one is allowed to decode.
pub fn check_txn_prefixes(kind: i32, body: &[u8]) -> Result<(), String> {
    for cut in 0..body.len() {
        let decoded = Txn::decode(kind, &mut Reader::new(&body[..cut]));
        let optional_tail = cut == 0 && kind == OpCode::CloseSession.code();
        if let (Ok(txn), false) = (decoded, optional_tail) {
            return Err(format!(
                "txn type {kind}: the first {cut} of {} bytes decode as {txn:?}",
                body.len()
            ));
        }
    }
    Ok(())
}

/// As [`check_request_prefixes`] for handshakes, whose readOnly flag is
/// optional: only the prefix without it may decode, and as `None`.
pub fn check_connect_prefixes(body: &[u8]) -> Result<(), String> {
    let full = ConnectRequest::decode(body).map_err(|e| format!("full handshake fails: {e}"))?;
    for cut in 0..body.len() {
        match ConnectRequest::decode(&body[..cut]) {
            Err(_) => {}
            Ok(req) if full.read_only.is_some() && cut == body.len() - 1 => {
                if req.read_only.is_some() || req.passwd != full.passwd {
                    return Err(format!("handshake without its flag decodes as {req:?}"));
                }
            }
            Ok(req) => {
                return Err(format!(
                    "the first {cut} of {} handshake bytes decode as {req:?}",
                    body.len()
                ))
            }
        }
    }
    Ok(())
}

/// A few ACLs seed corpora and generators draw from.
pub fn sample_acls() -> Vec<Vec<Acl>> {
    use zkd::jute::records::{perms, Id};
    vec![
        Acl::open_unsafe(),
        Acl::read_unsafe(),
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("auth", ""),
        }],
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("digest", "alice:8R+VUO6eZqKwhDgtVDpAIWlbgh8="),
        }],
        vec![Acl {
            perms: perms::READ | perms::WRITE,
            id: Id::new("ip", "127.0.0.1"),
        }],
        Vec::new(),
    ]
}
