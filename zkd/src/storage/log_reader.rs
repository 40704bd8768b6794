//! Replaying the transaction log. A log ends where a record's length is
//! zero (the preallocated zeros) or at the end of the file. A record that
//! is cut short, lacks its end byte or fails its checksum, with nothing but
//! zeros or the end of the file after it, is a torn tail: a crash during
//! an append that was never acknowledged. In the last file that is a
//! [`TruncatedTail`] for recovery to cut off; in an earlier file (3.8
//! starts a new file after a restart and leaves the old tail as it is) the
//! next file must carry on where the good records stop. Anything else, a
//! bad record with valid data after it, an undecodable record, zxids out
//! of order or a jump in them, is an error naming the file and offset.

use super::checksum::adler32;
use super::entry::{
    unmarshal_entry, FileHeader, LogEntry, END_OF_RECORD, FILE_HEADER_LEN, TXNLOG_MAGIC,
};
use super::files::{log_files_covering, sync_dir};
use super::StorageError;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const READ_BUFFER: usize = 256 * 1024;

/// Where a log stops being valid: the start of its first torn record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    pub file: PathBuf,
    pub offset: u64,
    pub reason: String,
}

impl TruncatedTail {
    /// Cuts the file at the torn record, or removes it when no complete
    /// record would remain, and makes that durable.
    pub fn truncate(&self) -> Result<(), StorageError> {
        if self.offset <= FILE_HEADER_LEN {
            fs::remove_file(&self.file).map_err(StorageError::io("remove torn log", &self.file))?;
        } else {
            let f = OpenOptions::new()
                .write(true)
                .open(&self.file)
                .map_err(StorageError::io("open torn log", &self.file))?;
            f.set_len(self.offset)
                .map_err(StorageError::io("truncate torn log", &self.file))?;
            f.sync_all()
                .map_err(StorageError::io("fsync truncated log", &self.file))?;
        }
        sync_dir(self.file.parent().unwrap_or_else(|| Path::new(".")))
    }
}

impl std::fmt::Display for TruncatedTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.file.display(),
            self.offset,
            self.reason
        )
    }
}

/// Log records from a zxid on, in order, across files.
pub struct LogReplay {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next_file: usize,
    cursor: Option<Cursor>,
    from_zxid: i64,
    /// The zxid of the last record read, replayed or fast-forwarded over.
    last_seen: Option<i64>,
    last_yielded: Option<(i64, PathBuf, u64)>,
    torn_tail: Option<TruncatedTail>,
    warnings: Vec<String>,
    done: bool,
}

struct Cursor {
    path: PathBuf,
    reader: BufReader<File>,
    offset: u64,
    len: u64,
    is_last: bool,
}

enum Step {
    Entry(LogEntry, u64),
    End,
    /// A bad record; `at_end` when only zeros or EOF follow it.
    Defect {
        offset: u64,
        reason: String,
        at_end: bool,
    },
    Corrupt {
        offset: u64,
        what: String,
    },
}

/// Opens the log files of `log_dir` needed to replay every transaction
/// with zxid >= `from_zxid` (a snapshot's zxid + 1), as 3.8 picks them.
pub fn read_logs(log_dir: &Path, from_zxid: i64) -> Result<LogReplay, StorageError> {
    let files = log_files_covering(log_dir, from_zxid.saturating_sub(1))?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    Ok(LogReplay {
        dir: log_dir.to_path_buf(),
        files,
        next_file: 0,
        cursor: None,
        from_zxid,
        last_seen: None,
        last_yielded: None,
        torn_tail: None,
        warnings: Vec::new(),
        done: false,
    })
}

/// Whether a log file holds at least one record (or anything that is not
/// recognisably empty): the writer never overwrites such a file.
pub(crate) fn file_holds_records(path: &Path) -> Result<bool, StorageError> {
    match open_cursor(path, true)? {
        Opened::Ready(mut c) => Ok(!matches!(
            read_record(&mut c)?,
            Step::End | Step::Defect { .. }
        )),
        Opened::ShortHeader => Ok(false),
        Opened::BadMagic(_) => Ok(true),
    }
}

impl LogReplay {
    /// The files this replay reads, oldest first.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Set once iteration has ended at a torn record in the last file.
    pub fn torn_tail(&self) -> Option<&TruncatedTail> {
        self.torn_tail.as_ref()
    }

    /// Torn records met at the end of earlier files, which the next file
    /// carried on from (what a crash and restart leave behind).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The zxid, file and offset of the last record returned.
    pub fn last_position(&self) -> Option<(i64, &Path, u64)> {
        self.last_yielded
            .as_ref()
            .map(|(z, p, o)| (*z, p.as_path(), *o))
    }

    fn step(&mut self) -> Result<Option<LogEntry>, StorageError> {
        loop {
            if self.cursor.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let cursor = self.cursor.as_mut().expect("opened above");
            match read_record(cursor)? {
                Step::Entry(entry, offset) => {
                    let path = cursor.path.clone();
                    if let Some(entry) = self.admit(entry, &path, offset)? {
                        return Ok(Some(entry));
                    }
                }
                Step::End => self.cursor = None,
                Step::Defect {
                    offset,
                    reason,
                    at_end: true,
                } => {
                    let cursor = self.cursor.take().expect("present");
                    if cursor.is_last {
                        self.torn_tail = Some(TruncatedTail {
                            file: cursor.path,
                            offset,
                            reason,
                        });
                        return Ok(None);
                    }
                    self.warnings.push(format!(
                        "{}: ignoring a torn record at offset {offset} ({reason}); later log files carry on",
                        cursor.path.display()
                    ));
                }
                Step::Defect {
                    offset,
                    reason,
                    at_end: false,
                } => {
                    return Err(corrupt(
                        &cursor.path,
                        offset,
                        format!("{reason}, and valid data follows it"),
                    ))
                }
                Step::Corrupt { offset, what } => return Err(corrupt(&cursor.path, offset, what)),
            }
        }
    }

    /// Order and continuity checks; `None` for records before `from_zxid`.
    fn admit(
        &mut self,
        entry: LogEntry,
        path: &Path,
        offset: u64,
    ) -> Result<Option<LogEntry>, StorageError> {
        let zxid = entry.header.zxid;
        if let Some(prev) = self.last_seen {
            if zxid <= prev {
                return Err(corrupt(
                    path,
                    offset,
                    format!("zxid 0x{zxid:x} follows 0x{prev:x}: records are out of order"),
                ));
            }
        }
        self.last_seen = Some(zxid);
        if zxid < self.from_zxid {
            return Ok(None);
        }
        let (prev, expected_what) = match &self.last_yielded {
            Some((z, _, _)) => (*z, "the record before it"),
            None => (self.from_zxid - 1, "the snapshot"),
        };
        if !follows(prev, zxid) {
            return Err(StorageError::Gap {
                detail: format!(
                    "{} at offset {offset} holds zxid 0x{zxid:x}, but {expected_what} ends at 0x{prev:x}: \
                     the transactions 0x{:x} to 0x{:x} are missing from {}",
                    path.display(),
                    prev + 1,
                    zxid - 1,
                    self.dir.display()
                ),
                hint: "Restore the missing log.* files from a backup; for a member of an \
                       ensemble, clearing its dataDir/version-2 makes it fetch everything from \
                       the leader"
                    .into(),
            });
        }
        self.last_yielded = Some((zxid, path.to_path_buf(), offset));
        Ok(Some(entry))
    }

    fn open_next(&mut self) -> Result<bool, StorageError> {
        while self.next_file < self.files.len() {
            let path = self.files[self.next_file].clone();
            self.next_file += 1;
            let is_last = self.next_file == self.files.len();
            match open_cursor(&path, is_last)? {
                Opened::Ready(c) => {
                    self.cursor = Some(c);
                    return Ok(true);
                }
                Opened::ShortHeader if is_last => {
                    self.torn_tail = Some(TruncatedTail {
                        file: path,
                        offset: 0,
                        reason: "the file header is incomplete".into(),
                    });
                    return Ok(false);
                }
                Opened::ShortHeader => self.warnings.push(format!(
                    "{}: ignoring a log file with an incomplete header",
                    path.display()
                )),
                Opened::BadMagic(h) => {
                    return Err(corrupt(
                        &path,
                        0,
                        format!(
                            "not a transaction log: magic 0x{:08x}, expected 0x{TXNLOG_MAGIC:08x} (\"ZKLG\")",
                            h.magic
                        ),
                    ))
                }
            }
        }
        Ok(false)
    }
}

impl Iterator for LogReplay {
    type Item = Result<LogEntry, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Within an epoch zxids go up by one per transaction; a new epoch (the
/// high 32 bits) may start anywhere.
fn follows(prev: i64, next: i64) -> bool {
    next == prev + 1 || (next >> 32) > (prev >> 32)
}

fn corrupt(path: &Path, offset: u64, what: String) -> StorageError {
    StorageError::Corrupt {
        file: path.to_path_buf(),
        offset,
        what,
        hint: format!(
            "Restore this file from a backup (or, in an ensemble, clear this member's \
             dataDir/version-2 so it syncs from the leader); to start anyway, losing every \
             transaction from here on, truncate it to {offset} bytes and move later log.* files away"
        ),
    }
}

enum Opened {
    Ready(Cursor),
    ShortHeader,
    BadMagic(FileHeader),
}

fn open_cursor(path: &Path, is_last: bool) -> Result<Opened, StorageError> {
    let file = File::open(path).map_err(StorageError::io("open log", path))?;
    let len = file
        .metadata()
        .map_err(StorageError::io("stat log", path))?
        .len();
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let mut head = [0u8; FILE_HEADER_LEN as usize];
    if read_up_to(&mut reader, &mut head).map_err(StorageError::io("read log", path))? < head.len()
    {
        return Ok(Opened::ShortHeader);
    }
    let header = FileHeader::decode(&head);
    if header.magic != TXNLOG_MAGIC {
        return Ok(Opened::BadMagic(header));
    }
    Ok(Opened::Ready(Cursor {
        path: path.to_path_buf(),
        reader,
        offset: FILE_HEADER_LEN,
        len,
        is_last,
    }))
}

fn read_record(c: &mut Cursor) -> Result<Step, StorageError> {
    let at = c.offset;
    let io = |e| StorageError::io("read log", &c.path)(e);
    let mut head = [0u8; 12];
    let n = read_up_to(&mut c.reader, &mut head).map_err(io)?;
    c.offset += n as u64;
    if n == 0 {
        return Ok(Step::End);
    }
    if n < head.len() {
        if head[..n].iter().all(|b| *b == 0) {
            return Ok(Step::End);
        }
        let clean = clean_from(c, at + 1)?;
        return Ok(defect(
            at,
            format!("the record header is cut short after {n} bytes"),
            clean,
        ));
    }
    let crc = i64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
    let len = i32::from_be_bytes(head[8..].try_into().expect("4 bytes"));
    let body_at = at + 12;
    if len == 0 {
        if crc == 0 {
            // The zero fill ends a log; zeros with good records after them
            // are damage, and stopping there would drop those records.
            if clean_from(c, at + 1)? {
                return Ok(Step::End);
            }
            return Ok(defect(
                at,
                "zeroed bytes with valid records after them".into(),
                false,
            ));
        }
        let clean = clean_from(c, at + 1)?;
        return Ok(defect(
            at,
            "a zero-length record with a checksum".into(),
            clean,
        ));
    }
    if len < 0 {
        let clean = clean_from(c, at + 1)?;
        return Ok(defect(at, format!("a negative record length {len}"), clean));
    }
    let len = len as u64;
    let left = c.len.saturating_sub(body_at);
    if len > left {
        let clean = clean_from(c, at + 1)?;
        return Ok(defect(
            at,
            format!("a record of {len} bytes runs past the end of the file ({left} left)"),
            clean,
        ));
    }
    let mut body = vec![0u8; len as usize];
    c.reader.read_exact(&mut body).map_err(io)?;
    c.offset += len;
    let mut eor = [0u8; 1];
    if read_up_to(&mut c.reader, &mut eor).map_err(io)? == 0 {
        let clean = clean_from(c, at + 1)?;
        return Ok(defect(
            at,
            "the end-of-record byte is missing".into(),
            clean,
        ));
    }
    c.offset += 1;
    if eor[0] != END_OF_RECORD {
        // The length may be what is wrong, so the search starts inside
        // the record, not where it claims to end.
        let clean = clean_from(c, at + 1)?;
        return Ok(defect(
            at,
            format!("the end-of-record byte is 0x{:02x}, not 'B'", eor[0]),
            clean,
        ));
    }
    let actual = adler32(&body);
    if actual != crc {
        let clean = clean_from(c, at + 1)?;
        return Ok(defect(
            at,
            format!("checksum mismatch (stored 0x{crc:x}, computed 0x{actual:x})"),
            clean,
        ));
    }
    match unmarshal_entry(&body) {
        Ok(entry) => Ok(Step::Entry(entry, at)),
        Err(e) => Ok(Step::Corrupt {
            offset: at,
            what: format!("the record's checksum is right but it does not decode: {e}"),
        }),
    }
}

fn defect(offset: u64, reason: String, at_end: bool) -> Step {
    Step::Defect {
        offset,
        reason,
        at_end,
    }
}

/// How far past a bad record to look for a good one. Records are at most
/// jute.maxbuffer (about 1 MiB) long, so a good record after a bad one
/// starts well inside this window.
const RESYNC_WINDOW: u64 = 4 << 20;

/// Whether no valid record follows `pos`: a bad record with only its own
/// garbage, zeros or the end of the file after it is a torn tail (a crash
/// during an append), while a bad record with a valid one after it is
/// corruption. Every offset in the window is tried as the start of a
/// record whose end byte and checksum check out.
fn clean_from(c: &Cursor, pos: u64) -> Result<bool, StorageError> {
    let want = c.len.saturating_sub(pos).min(RESYNC_WINDOW) as usize;
    let mut data = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match c
            .reader
            .get_ref()
            .read_at(&mut data[got..], pos + got as u64)
        {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(StorageError::io("read log", &c.path)(e)),
        }
    }
    data.truncate(got);
    // Zeros inside the bad record's own data must not end the search, so
    // the whole window is tried; zero fill costs one length check a byte.
    for p in 0..data.len() {
        if p + 12 > data.len() {
            break;
        }
        let crc = i64::from_be_bytes(data[p..p + 8].try_into().expect("8 bytes"));
        let len = i32::from_be_bytes(data[p + 8..p + 12].try_into().expect("4 bytes"));
        if len <= 0 {
            continue;
        }
        let body_end = p + 12 + len as usize;
        if body_end < data.len()
            && data[body_end] == END_OF_RECORD
            && adler32(&data[p + 12..body_end]) == crc
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
