//! The same calls on Tokio (feature `tokio`).
//!
//! They need a Tokio runtime with its I/O and time drivers enabled
//! (`#[tokio::main]` and `Builder::enable_all` do that).

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::time::timeout;

use crate::address::Address;
use crate::decision::Decision;
use crate::error::{Error, Result};
use crate::reply::{MAX_REPLY_LEN, Verdict, malformed, parse_pong, parse_reply, parse_version};
use crate::scanner::{
    CHUNK_LEN, END_OF_STREAM, HEADER_LEN, INSTREAM, LAST_WORDS, PING, Scanner, Sending, VERSION,
    chunk_header, reader_overran,
};

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Scanner {
    /// [`Scanner::scan`] on Tokio: streams `file` to clamd in 64 KiB chunks
    /// and returns its verdict.
    pub async fn scan_async<R: AsyncRead + Unpin>(&self, file: R) -> Result<Verdict> {
        match self.address() {
            Address::Tcp(host_port) => {
                let stream = timeout(
                    self.connect_timeout(),
                    tokio::net::TcpStream::connect(host_port.as_str()),
                )
                .await;
                let stream = self.connected(stream)?;
                // The end-of-stream marker is 4 bytes: send it at once.
                stream.set_nodelay(true).map_err(|e| self.unreachable(e))?;
                self.instream(stream, file).await
            }
            Address::Unix(path) => {
                #[cfg(unix)]
                {
                    let stream = timeout(
                        self.connect_timeout(),
                        tokio::net::UnixStream::connect(path),
                    )
                    .await;
                    self.instream(self.connected(stream)?, file).await
                }
                #[cfg(not(unix))]
                {
                    let _ = path;
                    Err(self.unreachable(io::ErrorKind::Unsupported.into()))
                }
            }
        }
    }

    /// [`Scanner::decide`] on Tokio.
    pub async fn decide_async<R: AsyncRead + Unpin>(&self, file: R) -> Decision {
        Decision::from_scan(self.scan_async(file).await, self.failure_policy())
    }

    /// [`Scanner::ping`] on Tokio.
    pub async fn ping_async(&self) -> Result<()> {
        parse_pong(&self.command_async(PING).await?)
    }

    /// [`Scanner::version`] on Tokio.
    pub async fn version_async(&self) -> Result<String> {
        parse_version(&self.command_async(VERSION).await?)
    }

    async fn command_async(&self, command: &[u8]) -> Result<Vec<u8>> {
        match self.address() {
            Address::Tcp(host_port) => {
                let stream = timeout(
                    self.connect_timeout(),
                    tokio::net::TcpStream::connect(host_port.as_str()),
                )
                .await;
                self.exchange(self.connected(stream)?, command).await
            }
            Address::Unix(path) => {
                #[cfg(unix)]
                {
                    let stream = timeout(
                        self.connect_timeout(),
                        tokio::net::UnixStream::connect(path),
                    )
                    .await;
                    self.exchange(self.connected(stream)?, command).await
                }
                #[cfg(not(unix))]
                {
                    let _ = path;
                    Err(self.unreachable(io::ErrorKind::Unsupported.into()))
                }
            }
        }
    }

    fn connected<S>(
        &self,
        attempt: std::result::Result<io::Result<S>, tokio::time::error::Elapsed>,
    ) -> Result<S> {
        match attempt {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(self.unreachable(e)),
            Err(_) => Err(self.unreachable(io::ErrorKind::TimedOut.into())),
        }
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        command: &[u8],
    ) -> Result<Vec<u8>> {
        self.write(&mut stream, command)
            .await
            .map_err(|e| self.io_failure(e))?;
        self.read_reply_async(&mut stream, self.timeout()).await
    }

    async fn instream<S: AsyncRead + AsyncWrite + Unpin, R: AsyncRead + Unpin>(
        &self,
        mut stream: S,
        file: R,
    ) -> Result<Verdict> {
        match self.send_stream_async(&mut stream, file).await {
            Ok(()) => {}
            Err(Sending::Refused(error)) => return Err(error),
            Err(Sending::Broken(source)) => {
                // clamd explains before it closes (see `Scanner::broken`).
                let limit = self.timeout().min(LAST_WORDS);
                return Err(
                    match self
                        .read_reply_async(&mut stream, limit)
                        .await
                        .map(|r| parse_reply(&r))
                    {
                        Ok(Err(
                            reason @ (Error::ScannerLimitExceeded | Error::ScannerFailed { .. }),
                        )) => reason,
                        _ => self.io_failure(source),
                    },
                );
            }
        }
        let reply = self.read_reply_async(&mut stream, self.timeout()).await?;
        parse_reply(&reply)
    }

    async fn send_stream_async<S: AsyncWrite + Unpin, R: AsyncRead + Unpin>(
        &self,
        stream: &mut S,
        mut file: R,
    ) -> std::result::Result<(), Sending> {
        let mut out = BufWriter::with_capacity(HEADER_LEN + CHUNK_LEN, stream);
        self.write(&mut out, INSTREAM)
            .await
            .map_err(Sending::Broken)?;
        let mut chunk = vec![0; CHUNK_LEN];
        let mut sent: u64 = 0;
        loop {
            let n = loop {
                match file.read(&mut chunk).await {
                    Ok(n) if n <= chunk.len() => break n,
                    Ok(_) => return Err(Sending::Refused(reader_overran())),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => return Err(Sending::Refused(Error::InputUnreadable { source })),
                }
            };
            if n == 0 {
                break;
            }
            sent = sent.saturating_add(n as u64);
            if sent > self.stream_max_length() {
                return Err(Sending::Refused(Error::FileTooLarge {
                    limit: self.stream_max_length(),
                }));
            }
            self.write(&mut out, &chunk_header(n))
                .await
                .map_err(Sending::Broken)?;
            self.write(&mut out, chunk.get(..n).unwrap_or_default())
                .await
                .map_err(Sending::Broken)?;
        }
        self.write(&mut out, &END_OF_STREAM)
            .await
            .map_err(Sending::Broken)?;
        match timeout(self.timeout(), out.flush()).await {
            Ok(result) => result.map_err(Sending::Broken),
            Err(_) => Err(Sending::Broken(io::ErrorKind::TimedOut.into())),
        }
    }

    /// `write_all` within the timeout.
    async fn write<W: AsyncWrite + Unpin>(&self, out: &mut W, bytes: &[u8]) -> io::Result<()> {
        match timeout(self.timeout(), out.write_all(bytes)).await {
            Ok(result) => result,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Reads until clamd closes the connection (or resets it after a
    /// NUL-terminated reply), within `limit` in total and [`MAX_REPLY_LEN`]
    /// bytes.
    async fn read_reply_async<S: AsyncRead + Unpin>(
        &self,
        stream: &mut S,
        limit: Duration,
    ) -> Result<Vec<u8>> {
        let mut reply = Vec::new();
        let cap = u64::try_from(MAX_REPLY_LEN)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        match timeout(limit, stream.take(cap).read_to_end(&mut reply)).await {
            Err(_) => Err(self.io_failure(io::ErrorKind::TimedOut.into())),
            // A reset after a complete reply (see `Scanner::read_reply`).
            Ok(Err(_)) if reply.last() == Some(&0) && reply.len() <= MAX_REPLY_LEN => Ok(reply),
            Ok(Err(e)) => Err(self.io_failure(e)),
            Ok(Ok(_)) if reply.len() > MAX_REPLY_LEN => Err(malformed(&reply)),
            Ok(Ok(_)) => Ok(reply),
        }
    }
}
