//! The first bytes on an election connection: who is calling, and where
//! that server listens for elections, as 3.8's QuorumCnxManager sends them.
//!
//! Current forms: `protocolVersion:i64 sid:i64 length:i32 addresses:[u8]`
//! with protocol version -65536 (one `host:port`) or -65535 (several,
//! joined by `|`). The oldest form, still accepted by 3.8, is the bare
//! `sid:i64`: any non-negative first long is a server id.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Protocol version 1: one election address.
pub const PROTOCOL_V1: i64 = -65536;
/// Protocol version 2: `|`-separated election addresses (multiAddress).
pub const PROTOCOL_V2: i64 = -65535;
/// The longest address string 3.8 accepts in a hello.
const MAX_ADDRESS_BYTES: i32 = 2048;

/// A decoded hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The caller's server id, as the Java long it is on the wire.
    pub sid: i64,
    /// Where the caller listens for elections; wildcard addresses are
    /// left out, as 3.8 leaves them out. Empty for the oldest form.
    pub election_addrs: Vec<(String, u16)>,
}

/// Why a hello was refused; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    #[error("connection closed or failed during the hello: {0}")]
    Io(#[from] std::io::Error),
    #[error("unknown election protocol version {0}")]
    UnknownProtocol(i64),
    #[error("unreasonable address length {0} in hello (1..=2048 allowed)")]
    BadLength(i32),
    #[error("badly formed election address '{0}' in hello")]
    BadAddress(String),
}

/// The hello zkd sends: version 1 for one address (what a 3.8 server
/// without multiAddress sends, and what older servers understand), version
/// 2 when `addrs` lists several.
pub fn encode(my_id: u64, addrs: &str) -> Vec<u8> {
    let version = if addrs.contains('|') {
        PROTOCOL_V2
    } else {
        PROTOCOL_V1
    };
    let mut out = Vec::with_capacity(20 + addrs.len());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(my_id as i64).to_be_bytes());
    out.extend_from_slice(&(addrs.len() as i32).to_be_bytes());
    out.extend_from_slice(addrs.as_bytes());
    out
}

/// Reads a hello of any accepted form.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Hello, HelloError> {
    let first = r.read_i64().await?;
    if first >= 0 {
        return Ok(Hello {
            sid: first,
            election_addrs: Vec::new(),
        });
    }
    if first != PROTOCOL_V1 && first != PROTOCOL_V2 {
        return Err(HelloError::UnknownProtocol(first));
    }
    let sid = r.read_i64().await?;
    let len = r.read_i32().await?;
    if len <= 0 || len > MAX_ADDRESS_BYTES {
        return Err(HelloError::BadLength(len));
    }
    let mut text = vec![0u8; len as usize];
    r.read_exact(&mut text).await?;
    let text = String::from_utf8_lossy(&text);
    let mut election_addrs = Vec::new();
    for addr in text.split('|').filter(|a| !a.is_empty()) {
        let (host, port) = parse_host_port(addr)?;
        if !is_wildcard(&host) {
            election_addrs.push((host, port));
        }
    }
    Ok(Hello {
        sid,
        election_addrs,
    })
}

/// `host:port` or `[v6]:port`.
fn parse_host_port(addr: &str) -> Result<(String, u16), HelloError> {
    let bad = || HelloError::BadAddress(addr.to_string());
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':').ok_or_else(bad)?)
    } else {
        addr.split_once(':').ok_or_else(bad)?
    };
    if host.is_empty() || port.contains(':') {
        return Err(bad());
    }
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok((host.to_string(), port))
}

fn is_wildcard(host: &str) -> bool {
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_bytes(bytes: &[u8]) -> Result<Hello, HelloError> {
        let mut r = bytes;
        read(&mut r).await
    }

    #[tokio::test]
    async fn version_one_round_trips() {
        let bytes = encode(3, "127.0.0.3:3888");
        assert_eq!(&bytes[..8], &PROTOCOL_V1.to_be_bytes());
        let hello = read_bytes(&bytes).await.unwrap();
        assert_eq!(hello.sid, 3);
        assert_eq!(hello.election_addrs, vec![("127.0.0.3".to_string(), 3888)]);
    }

    #[tokio::test]
    async fn version_two_lists_addresses_and_drops_wildcards() {
        let bytes = encode(2, "[::1]:3888|0.0.0.0:3889|h.example:3890");
        assert_eq!(&bytes[..8], &PROTOCOL_V2.to_be_bytes());
        let hello = read_bytes(&bytes).await.unwrap();
        assert_eq!(
            hello.election_addrs,
            vec![("::1".to_string(), 3888), ("h.example".to_string(), 3890)]
        );
    }

    #[tokio::test]
    async fn a_bare_server_id_is_the_oldest_form() {
        let hello = read_bytes(&7i64.to_be_bytes()).await.unwrap();
        assert_eq!((hello.sid, hello.election_addrs.len()), (7, 0));
    }

    #[tokio::test]
    async fn bad_hellos_are_refused_with_the_reason() {
        let unknown = read_bytes(&(-5i64).to_be_bytes()).await.unwrap_err();
        assert_eq!(unknown.to_string(), "unknown election protocol version -5");
        let mut long = encode(1, "a:1");
        long[16..20].copy_from_slice(&4096i32.to_be_bytes());
        assert!(matches!(
            read_bytes(&long).await,
            Err(HelloError::BadLength(4096))
        ));
        for addr in ["nohost", "h:notaport", "h:70000", "[::1:5", "::1:5"] {
            let err = read_bytes(&encode(1, addr)).await.unwrap_err();
            assert!(matches!(err, HelloError::BadAddress(_)), "{addr}: {err}");
        }
        let truncated = &encode(1, "h:1")[..18];
        assert!(matches!(
            read_bytes(truncated).await,
            Err(HelloError::Io(_))
        ));
    }
}
