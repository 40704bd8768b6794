//! Jute, ZooKeeper's wire and disk encoding: big-endian ints and longs,
//! one-byte booleans, length-prefixed buffers and strings (length -1 means
//! null) and length-prefixed vectors. Records in [`records`] are the data
//! types shared by the client protocol, the transaction log and snapshots.

mod reader;
pub mod records;
mod writer;

pub use reader::Reader;
pub use writer::Writer;

/// Why a jute record could not be decoded. Offsets are from the start of the
/// buffer being decoded, so an error can say where the bad bytes are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JuteError {
    #[error("record truncated at offset {at}: needed {needed} more bytes")]
    Truncated { at: usize, needed: usize },
    #[error("invalid length {len} at offset {at}")]
    BadLength { at: usize, len: i32 },
    #[error("string at offset {at} is not valid UTF-8")]
    BadUtf8 { at: usize },
    #[error("unexpected null {what} at offset {at}")]
    UnexpectedNull { at: usize, what: &'static str },
    #[error("{0}")]
    Invalid(String),
}

/// A type with a jute encoding.
pub trait Record: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError>;
    fn encode(&self, w: &mut Writer);
}

/// Encodes a record into a fresh byte vector.
pub fn to_bytes<R: Record>(record: &R) -> Vec<u8> {
    let mut w = Writer::new();
    record.encode(&mut w);
    w.into_vec()
}

/// Decodes a record that must span the whole of `bytes`.
pub fn from_bytes<R: Record>(bytes: &[u8]) -> Result<R, JuteError> {
    let mut r = Reader::new(bytes);
    let record = R::decode(&mut r)?;
    if !r.is_empty() {
        return Err(JuteError::Invalid(format!(
            "{} bytes left over after the record, at offset {}",
            r.remaining(),
            r.position()
        )));
    }
    Ok(record)
}

impl Record for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        r.string()
    }
    fn encode(&self, w: &mut Writer) {
        w.string(self)
    }
}

impl Record for i64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        r.i64()
    }
    fn encode(&self, w: &mut Writer) {
        w.i64(*self)
    }
}

impl Record for i32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        r.i32()
    }
    fn encode(&self, w: &mut Writer) {
        w.i32(*self)
    }
}

#[cfg(test)]
mod tests;
