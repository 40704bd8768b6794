//! The session handshake: the first frame on a client connection.

use crate::jute::{JuteError, Reader, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// `None` for clients older than 3.3 that do not send the flag; they
    /// must not get it back either.
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    pub fn decode(body: &[u8]) -> Result<Self, JuteError> {
        let mut r = Reader::new(body);
        let mut req = ConnectRequest {
            protocol_version: r.i32()?,
            last_zxid_seen: r.i64()?,
            timeout_ms: r.i32()?,
            session_id: r.i64()?,
            passwd: r.buffer()?.to_vec(),
            read_only: None,
        };
        if !r.is_empty() {
            req.read_only = Some(r.bool()?);
        }
        Ok(req)
    }

    pub fn encode(&self, w: &mut Writer) {
        w.i32(self.protocol_version);
        w.i64(self.last_zxid_seen);
        w.i32(self.timeout_ms);
        w.i64(self.session_id);
        w.buffer(&self.passwd);
        if let Some(ro) = self.read_only {
            w.bool(ro);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// What a server sends for a session it will not resume (expired, or a
    /// wrong password): zero timeout and id, which clients read as expiry.
    pub fn rejected(read_only: Option<bool>) -> Self {
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 0,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: read_only.map(|_| false),
        }
    }

    pub fn encode(&self, w: &mut Writer) {
        w.i32(self.protocol_version);
        w.i32(self.timeout_ms);
        w.i64(self.session_id);
        w.buffer(&self.passwd);
        if let Some(ro) = self.read_only {
            w.bool(ro);
        }
    }

    pub fn decode(body: &[u8]) -> Result<Self, JuteError> {
        let mut r = Reader::new(body);
        let mut rsp = ConnectResponse {
            protocol_version: r.i32()?,
            timeout_ms: r.i32()?,
            session_id: r.i64()?,
            passwd: r.buffer()?.to_vec(),
            read_only: None,
        };
        if !r.is_empty() {
            rsp.read_only = Some(r.bool()?);
        }
        Ok(rsp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_flag_is_optional_both_ways() {
        let mut req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 5,
            timeout_ms: 30000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: None,
        };
        let mut w = Writer::new();
        req.encode(&mut w);
        assert_eq!(w.len(), 44);
        assert_eq!(ConnectRequest::decode(w.as_slice()).unwrap(), req);
        req.read_only = Some(false);
        let mut w = Writer::new();
        req.encode(&mut w);
        assert_eq!(w.len(), 45);
        assert_eq!(ConnectRequest::decode(w.as_slice()).unwrap(), req);
    }
}
