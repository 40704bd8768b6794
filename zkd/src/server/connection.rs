//! One client connection: frames in, frames out. Bad input ends this
//! connection with one log line and touches nothing else.

use super::core::{CoreMsg, ToConn};
use crate::fourletter::Word;
use crate::proto::connect::ConnectRequest;
use crate::proto::request::{DecodeError, Request};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, Semaphore};

pub(super) struct Connection {
    pub id: u64,
    pub peer: SocketAddr,
    pub core: mpsc::UnboundedSender<CoreMsg>,
    pub max_frame: usize,
    pub throttle: Arc<Semaphore>,
}

/// Why a connection stopped reading, for its one log line.
enum Ended {
    Eof,
    Io(std::io::Error),
    BadLength(i64),
    Garbage(String),
    Closed,
}

impl Connection {
    pub async fn run(self, stream: TcpStream) {
        let (rd, wr) = stream.into_split();
        let mut rd = BufReader::with_capacity(64 * 1024, rd);
        let mut first = [0u8; 4];
        if rd.read_exact(&mut first).await.is_err() {
            return;
        }
        if let Some(word) = crate::fourletter::is_four_letter_word(&first) {
            self.four_letter(word, rd, wr).await;
            return;
        }
        let len = i32::from_be_bytes(first) as i64;
        let connect = match self.read_body(&mut rd, len).await {
            Ok(body) => ConnectRequest::decode(&body)
                .map(|req| (req, body.len() + 4))
                .map_err(|e| Ended::Garbage(e.to_string())),
            Err(e) => Err(e),
        };
        let (req, bytes) = match connect {
            Ok(x) => x,
            Err(e) => {
                self.log_end(&e, "handshake");
                return;
            }
        };
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let stop = Arc::new(Notify::new());
        let writer = tokio::spawn(write_loop(wr, out_rx, stop.clone()));
        if self
            .core
            .send(CoreMsg::Connect {
                conn: self.id,
                peer: self.peer,
                req,
                bytes,
                out: out_tx,
            })
            .is_err()
        {
            return;
        }
        let ended = tokio::select! {
            e = self.read_requests(&mut rd) => e,
            _ = stop.notified() => Ended::Closed,
        };
        self.log_end(&ended, "session");
        let _ = self.core.send(CoreMsg::Disconnected { conn: self.id });
        let _ = writer.await;
    }

    fn log_end(&self, ended: &Ended, stage: &str) {
        match ended {
            Ended::Eof | Ended::Closed => {
                tracing::debug!(conn = self.id, client = %self.peer, "connection closed")
            }
            Ended::Io(e) => {
                tracing::debug!(conn = self.id, client = %self.peer, error = %e, "connection error")
            }
            Ended::BadLength(len) => tracing::warn!(
                conn = self.id,
                client = %self.peer,
                len,
                max = self.max_frame,
                "closing connection: frame length out of range during {stage} (jute.maxbuffer)"
            ),
            Ended::Garbage(why) => tracing::warn!(
                conn = self.id,
                client = %self.peer,
                "closing connection: undecodable {stage} frame: {why}"
            ),
        }
    }

    async fn read_body(
        &self,
        rd: &mut BufReader<OwnedReadHalf>,
        len: i64,
    ) -> Result<Vec<u8>, Ended> {
        if len < 0 || len as usize > self.max_frame {
            return Err(Ended::BadLength(len));
        }
        let mut body = vec![0u8; len as usize];
        match rd.read_exact(&mut body).await {
            Ok(_) => Ok(body),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Ended::Eof),
            Err(e) => Err(Ended::Io(e)),
        }
    }

    async fn read_requests(&self, rd: &mut BufReader<OwnedReadHalf>) -> Ended {
        loop {
            let len = match rd.read_i32().await {
                Ok(len) => len as i64,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ended::Eof,
                Err(e) => return Ended::Io(e),
            };
            let body = match self.read_body(rd, len).await {
                Ok(b) => b,
                Err(e) => return e,
            };
            if body.len() < 8 {
                return Ended::Garbage(format!("request of {} bytes has no header", body.len()));
            }
            let xid = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            let op = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
            let request = Request::decode(op, &body[8..]);
            if let Err(DecodeError::Malformed(code, e)) = &request {
                tracing::debug!(conn = self.id, op = code.code(), error = %e, "malformed request body");
            }
            // globalOutstandingLimit: stop reading while too many requests
            // are in flight server-wide; the core returns the permit.
            match self.throttle.acquire().await {
                Ok(permit) => permit.forget(),
                Err(_) => return Ended::Closed,
            }
            let msg = CoreMsg::Request {
                conn: self.id,
                xid,
                op,
                bytes: body.len() + 4,
                request,
                received: Instant::now(),
            };
            if self.core.send(msg).is_err() {
                return Ended::Closed;
            }
        }
    }

    async fn four_letter(
        &self,
        word: Word,
        mut rd: BufReader<OwnedReadHalf>,
        mut wr: OwnedWriteHalf,
    ) {
        // stmk carries an 8-byte trace mask after the word; a client that
        // never sends it must not hold the task forever.
        let mut extra = Vec::new();
        if word == Word::Stmk {
            let mut mask = [0u8; 8];
            let read = tokio::time::timeout(Duration::from_secs(5), rd.read_exact(&mut mask)).await;
            if matches!(read, Ok(Ok(_))) {
                extra.extend_from_slice(&mask);
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self
            .core
            .send(CoreMsg::FourLetter {
                word,
                extra,
                peer: self.peer,
                reply: tx,
            })
            .is_err()
        {
            return;
        }
        if let Ok(text) = rx.await {
            let _ = wr.write_all(text.as_bytes()).await;
        }
        let _ = wr.shutdown().await;
    }
}

async fn write_loop(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<ToConn>,
    stop: Arc<Notify>,
) {
    let mut wr = BufWriter::with_capacity(64 * 1024, wr);
    'outer: while let Some(msg) = rx.recv().await {
        let mut next = Some(msg);
        // Write everything already queued before one flush.
        while let Some(msg) = next.take() {
            match msg {
                ToConn::Frames(bytes) => {
                    if wr.write_all(&bytes).await.is_err() {
                        break 'outer;
                    }
                }
                ToConn::Close => {
                    let _ = wr.flush().await;
                    break 'outer;
                }
            }
            next = rx.try_recv().ok();
        }
        if wr.flush().await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
    stop.notify_one();
}
