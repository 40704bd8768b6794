//! The two checksums 3.8's files use: Adler-32 (`java.util.zip.Adler32`)
//! over log records and snapshot streams, and CRC-32 (`java.util.zip.CRC32`,
//! IEEE 802.3, reflected) per znode for the tree digest. Java reports both
//! as a `long` holding the unsigned 32-bit value.

use std::io::{self, Read, Write};

/// Adler-32 of `bytes`, as Java's `Adler32.getValue()` returns it.
pub fn adler32(bytes: &[u8]) -> i64 {
    let mut a = adler2::Adler32::new();
    a.write_slice(bytes);
    a.checksum() as i64
}

/// A running CRC-32 (the zlib/IEEE polynomial), as Java's `CRC32`.
#[derive(Debug, Clone)]
pub struct Crc32(crc32fast::Hasher);

impl Crc32 {
    pub fn new() -> Self {
        Crc32(crc32fast::Hasher::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The value as Java's `CRC32.getValue()` returns it.
    pub fn value(&self) -> i64 {
        self.0.clone().finalize() as i64
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

/// Passes writes through while keeping an Adler-32 of every byte, as 3.8's
/// `CheckedOutputStream` does around a snapshot.
pub struct AdlerWriter<W: Write> {
    inner: W,
    sum: adler2::Adler32,
    written: u64,
}

impl<W: Write> AdlerWriter<W> {
    pub fn new(inner: W) -> Self {
        AdlerWriter {
            inner,
            sum: adler2::Adler32::new(),
            written: 0,
        }
    }

    pub fn checksum(&self) -> i64 {
        self.sum.checksum() as i64
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for AdlerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.write_slice(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The reading side: an Adler-32 of every byte consumed so far, and the
/// offset, so errors can say where.
pub struct AdlerReader<R: Read> {
    inner: R,
    sum: adler2::Adler32,
    offset: u64,
}

impl<R: Read> AdlerReader<R> {
    pub fn new(inner: R) -> Self {
        AdlerReader {
            inner,
            sum: adler2::Adler32::new(),
            offset: 0,
        }
    }

    pub fn checksum(&self) -> i64 {
        self.sum.checksum() as i64
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl<R: Read> Read for AdlerReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sum.write_slice(&buf[..n]);
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_the_rfc_1950_example() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xCBF4_3926);
        let mut split = Crc32::new();
        split.update(b"1234");
        split.update(b"56789");
        assert_eq!(split.value(), c.value());
        assert_eq!(Crc32::new().value(), 0);
    }

    #[test]
    fn checked_streams_agree_with_the_one_shot_sum() {
        let mut w = AdlerWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        assert_eq!(w.checksum(), adler32(b"hello world"));
        let bytes = w.into_inner();
        let mut r = AdlerReader::new(&bytes[..]);
        let mut out = [0u8; 11];
        r.read_exact(&mut out).unwrap();
        assert_eq!(r.checksum(), adler32(b"hello world"));
        assert_eq!(r.offset(), 11);
    }
}
