//! The framing of multi and multiRead: a run of (MultiHeader, op record)
//! pairs closed by a header with `done` set; results come back the same way.

use super::request::Request;
use super::{CreateMode, ErrorCode, OpCode};
use crate::jute::records::Stat;
use crate::jute::{JuteError, Reader, Writer};

/// One operation of a multi or multiRead.
pub type MultiOp = Request;

fn read_header(r: &mut Reader<'_>) -> Result<(i32, bool, i32), JuteError> {
    Ok((r.i32()?, r.bool()?, r.i32()?))
}

fn write_header(w: &mut Writer, op: i32, done: bool, err: i32) {
    w.i32(op);
    w.bool(done);
    w.i32(err);
}

/// The op types a multi may carry (3.8's `MultiOperationRecord`).
fn allowed_in_multi(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateTtl
            | OpCode::CreateContainer
            | OpCode::Delete
            | OpCode::SetData
            | OpCode::Check
            | OpCode::GetChildren
            | OpCode::GetData
    )
}

pub fn decode_ops(r: &mut Reader<'_>) -> Result<Vec<MultiOp>, JuteError> {
    let mut ops = Vec::new();
    loop {
        let at = r.position();
        let (op, done, _err) = read_header(r)?;
        if done {
            return Ok(ops);
        }
        let code = OpCode::from_i32(op)
            .filter(|c| allowed_in_multi(*c))
            .ok_or_else(|| {
                JuteError::Invalid(format!("invalid multi op type {op} at offset {at}"))
            })?;
        ops.push(normalize(Request::decode_body(code, r)?));
    }
}

/// 3.8 rebuilds each create of a multi from its flags: the opcode follows
/// the create mode (so a create2 becomes a plain create, and answers
/// without a Stat), and a TTL is kept only for TTL modes.
fn normalize(op: Request) -> Request {
    let Request::Create(mut c) = op else {
        return op;
    };
    let mode = CreateMode::from_i32(c.flags).unwrap_or(CreateMode::Persistent);
    let had_ttl = c.op == OpCode::CreateTtl;
    c.op = if mode.is_ttl() {
        OpCode::CreateTtl
    } else if mode.is_container() {
        OpCode::CreateContainer
    } else {
        OpCode::Create
    };
    if !(mode.is_ttl() && had_ttl) {
        c.ttl = -1;
    }
    Request::Create(c)
}

pub fn encode_ops(ops: &[MultiOp], w: &mut Writer) {
    for op in ops {
        write_header(w, op.op().code(), false, -1);
        op.encode_body(w);
    }
    write_header(w, -1, true, -1);
}

/// One result of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Create { path: String, stat: Option<Stat> },
    Delete,
    SetData(Stat),
    Check,
    GetData { data: Option<Vec<u8>>, stat: Stat },
    GetChildren(Vec<String>),
    Error(ErrorCode),
}

pub fn encode_results(results: &[OpResult], w: &mut Writer) {
    for result in results {
        match result {
            OpResult::Create { path, stat: None } => {
                write_header(w, OpCode::Create.code(), false, 0);
                w.string(path);
            }
            OpResult::Create {
                path,
                stat: Some(stat),
            } => {
                write_header(w, OpCode::Create2.code(), false, 0);
                w.string(path);
                crate::jute::Record::encode(stat, w);
            }
            OpResult::Delete => write_header(w, OpCode::Delete.code(), false, 0),
            OpResult::SetData(stat) => {
                write_header(w, OpCode::SetData.code(), false, 0);
                crate::jute::Record::encode(stat, w);
            }
            OpResult::Check => write_header(w, OpCode::Check.code(), false, 0),
            OpResult::GetData { data, stat } => {
                write_header(w, OpCode::GetData.code(), false, 0);
                w.opt_buffer(data.as_deref());
                crate::jute::Record::encode(stat, w);
            }
            OpResult::GetChildren(children) => {
                write_header(w, OpCode::GetChildren.code(), false, 0);
                w.vec(children);
            }
            OpResult::Error(code) => {
                write_header(w, OpCode::Error.code(), false, code.code());
                w.i32(code.code());
            }
        }
    }
    write_header(w, -1, true, -1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        let ops = vec![
            Request::Check {
                path: "/a".into(),
                version: 3,
            },
            Request::Delete {
                path: "/b".into(),
                version: -1,
            },
        ];
        let mut w = Writer::new();
        encode_ops(&ops, &mut w);
        let bytes = w.into_vec();
        assert_eq!(decode_ops(&mut Reader::new(&bytes)).unwrap(), ops);
    }

    #[test]
    fn foreign_op_types_are_refused() {
        let mut w = Writer::new();
        write_header(&mut w, OpCode::Ping.code(), false, -1);
        let bytes = w.into_vec();
        assert!(decode_ops(&mut Reader::new(&bytes)).is_err());
    }
}
