use super::{JuteError, Record};

/// Decodes jute primitives from a byte slice, tracking the offset so errors
/// can point at the offending bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not consumed yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], JuteError> {
        if self.remaining() < n {
            return Err(JuteError::Truncated {
                at: self.pos,
                needed: n - self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn i32(&mut self) -> Result<i32, JuteError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self) -> Result<i64, JuteError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// Jute writes booleans as one byte; Java reads any non-zero byte as true.
    pub fn bool(&mut self) -> Result<bool, JuteError> {
        Ok(self.take(1)?[0] != 0)
    }

    fn length(&mut self) -> Result<Option<usize>, JuteError> {
        let at = self.pos;
        let len = self.i32()?;
        match len {
            -1 => Ok(None),
            n if n < -1 => Err(JuteError::BadLength { at, len: n }),
            n => {
                // A length longer than what is left is a truncated or lying
                // frame; refuse it before allocating anything.
                if n as usize > self.remaining() {
                    return Err(JuteError::Truncated {
                        at: self.pos,
                        needed: n as usize - self.remaining(),
                    });
                }
                Ok(Some(n as usize))
            }
        }
    }

    /// A buffer; null (-1) is returned as `None`.
    pub fn opt_buffer(&mut self) -> Result<Option<&'a [u8]>, JuteError> {
        match self.length()? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?)),
        }
    }

    /// A buffer where null decodes as empty, as the Java client treats it.
    pub fn buffer(&mut self) -> Result<&'a [u8], JuteError> {
        Ok(self.opt_buffer()?.unwrap_or(&[]))
    }

    pub fn opt_string(&mut self) -> Result<Option<String>, JuteError> {
        let at = self.pos;
        match self.opt_buffer()? {
            None => Ok(None),
            Some(b) => std::str::from_utf8(b)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| JuteError::BadUtf8 { at }),
        }
    }

    /// A string where null is an error: every string field ZooKeeper's
    /// server reads from a request must be present.
    pub fn string(&mut self) -> Result<String, JuteError> {
        let at = self.pos;
        self.opt_string()?
            .ok_or(JuteError::UnexpectedNull { at, what: "string" })
    }

    /// A vector; null decodes as empty, as ZooKeeper's server treats it.
    pub fn vec<T: Record>(&mut self) -> Result<Vec<T>, JuteError> {
        let at = self.pos;
        let len = self.i32()?;
        if len == -1 {
            return Ok(Vec::new());
        }
        if len < -1 {
            return Err(JuteError::BadLength { at, len });
        }
        // Every element takes at least one byte, so a count above the bytes
        // left cannot be honest; cap the allocation by it.
        let len = len as usize;
        if len > self.remaining() {
            return Err(JuteError::Truncated {
                at: self.pos,
                needed: len - self.remaining(),
            });
        }
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(T::decode(self)?);
        }
        Ok(out)
    }
}
