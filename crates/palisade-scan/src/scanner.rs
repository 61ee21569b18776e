//! The client: configuration, the blocking calls, and the upload decision.

use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::decision::{Decision, FailurePolicy};
use crate::error::{Error, Result};
use crate::reply::{MAX_REPLY_LEN, Verdict, malformed, parse_pong, parse_reply, parse_version};

/// clamd's default `StreamMaxLength` (25 MiB), this client's default limit.
pub const DEFAULT_STREAM_MAX_LENGTH: u64 = 25 << 20;
/// Default time allowed to connect to clamd.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time allowed for each write to clamd and for its whole reply
/// (which includes the scan itself).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of file sent per INSTREAM chunk.
pub(crate) const CHUNK_LEN: usize = 64 * 1024;
/// A chunk's length prefix: 4 bytes, big-endian.
pub(crate) const HEADER_LEN: usize = 4;
/// How long to wait for clamd's explanation after it stopped reading.
pub(crate) const LAST_WORDS: Duration = Duration::from_secs(1);

pub(crate) const INSTREAM: &[u8] = b"zINSTREAM\0";
pub(crate) const PING: &[u8] = b"zPING\0";
pub(crate) const VERSION: &[u8] = b"zVERSION\0";
pub(crate) const END_OF_STREAM: [u8; HEADER_LEN] = [0; HEADER_LEN];

/// A client of ClamAV's daemon (`clamd`): scans files over its INSTREAM
/// protocol on a TCP or Unix socket, one connection per scan.
///
/// Built with [`Scanner::new`] and the `with_*` setters; cheap to clone and
/// to share between threads (it holds only its configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scanner {
    address: Address,
    connect_timeout: Duration,
    timeout: Duration,
    stream_max_length: u64,
    failure_policy: FailurePolicy,
}

impl Scanner {
    /// A client of the clamd at `address`, with the defaults:
    /// [`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_TIMEOUT`],
    /// [`DEFAULT_STREAM_MAX_LENGTH`] and [`FailurePolicy::FailClosed`].
    pub fn new(address: Address) -> Scanner {
        Scanner {
            address,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            stream_max_length: DEFAULT_STREAM_MAX_LENGTH,
            failure_policy: FailurePolicy::FailClosed,
        }
    }

    /// Sets the time allowed to connect (zero is taken as one millisecond).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Scanner {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets the time allowed for each write to clamd and for its whole
    /// reply, scan included (zero is taken as one millisecond).
    pub fn with_timeout(mut self, timeout: Duration) -> Scanner {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets the longest file sent, in bytes: set it to clamd's
    /// `StreamMaxLength` (a longer file is [`Error::FileTooLarge`] without
    /// waiting for clamd to refuse it; a lower clamd limit shows as
    /// [`Error::ScannerLimitExceeded`]).
    pub fn with_stream_max_length(mut self, bytes: u64) -> Scanner {
        self.stream_max_length = bytes;
        self
    }

    /// Sets what [`Scanner::decide`] does when the scanner is unreachable.
    pub fn with_failure_policy(mut self, policy: FailurePolicy) -> Scanner {
        self.failure_policy = policy;
        self
    }

    /// The configured address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The configured connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The configured timeout for each write and for the whole reply.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The configured limit in bytes.
    pub fn stream_max_length(&self) -> u64 {
        self.stream_max_length
    }

    /// The configured failure policy.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.failure_policy
    }

    /// Streams `file` to clamd and returns its verdict.
    ///
    /// The file is read and sent in 64 KiB chunks, never held whole in
    /// memory; reading stops at the configured limit. Only clamd's exact
    /// `stream: OK` reply is [`Verdict::Clean`]; every failure is an
    /// [`Error`].
    pub fn scan<R: Read>(&self, file: R) -> Result<Verdict> {
        let mut connection = self.connect()?;
        match self.send_stream(&mut connection, file) {
            Ok(()) => {}
            Err(Sending::Refused(error)) => return Err(error),
            Err(Sending::Broken(source)) => return Err(self.broken(&mut connection, source)),
        }
        let deadline = Instant::now() + self.timeout;
        let reply = self.read_reply(&mut connection, deadline)?;
        parse_reply(&reply)
    }

    /// Scans `file` and applies the failure policy: what an upload handler
    /// does with a file before storing it.
    ///
    /// See [`Decision`] for what each outcome asks of the caller. Only
    /// [`Error::ScannerUnreachable`] is subject to the policy: an error that
    /// happens after clamd accepted the connection (a timeout, a broken
    /// connection, an error reply, a file over the limit) may have been
    /// caused by the file itself, so it refuses the file whatever the policy.
    pub fn decide<R: Read>(&self, file: R) -> Decision {
        Decision::from_scan(self.scan(file), self.failure_policy)
    }

    /// Health check: sends `PING` and expects `PONG`.
    pub fn ping(&self) -> Result<()> {
        parse_pong(&self.command(PING)?)
    }

    /// clamd's version line: `ClamAV 1.4.6/27846/Sat Dec  5 09:26:03 2026`
    /// (engine, signature database version and date; only the engine when no
    /// official database is loaded).
    pub fn version(&self) -> Result<String> {
        parse_version(&self.command(VERSION)?)
    }

    fn command(&self, command: &[u8]) -> Result<Vec<u8>> {
        let mut connection = self.connect()?;
        connection
            .set_write_timeout(Some(self.timeout))
            .and_then(|()| connection.write_all(command))
            .and_then(|()| connection.flush())
            .map_err(|e| self.io_failure(e))?;
        self.read_reply(&mut connection, Instant::now() + self.timeout)
    }

    fn send_stream<R: Read>(
        &self,
        connection: &mut Connection,
        mut file: R,
    ) -> std::result::Result<(), Sending> {
        connection
            .set_write_timeout(Some(self.timeout))
            .map_err(Sending::Broken)?;
        // One write per chunk: the length prefix and the bytes together.
        let mut out = BufWriter::with_capacity(HEADER_LEN + CHUNK_LEN, connection);
        out.write_all(INSTREAM).map_err(Sending::Broken)?;
        let mut chunk = vec![0; CHUNK_LEN];
        let mut sent: u64 = 0;
        loop {
            let n = read_some(&mut file, &mut chunk).map_err(Sending::Refused)?;
            if n == 0 {
                break;
            }
            sent = sent.saturating_add(n as u64);
            if sent > self.stream_max_length {
                // Dropping the connection mid-stream makes clamd discard it.
                return Err(Sending::Refused(Error::FileTooLarge {
                    limit: self.stream_max_length,
                }));
            }
            let bytes = chunk.get(..n).unwrap_or_default();
            out.write_all(&chunk_header(n)).map_err(Sending::Broken)?;
            out.write_all(bytes).map_err(Sending::Broken)?;
        }
        out.write_all(&END_OF_STREAM).map_err(Sending::Broken)?;
        out.flush().map_err(Sending::Broken)
    }

    /// clamd stops reading and closes when it refuses a stream (over its
    /// `StreamMaxLength`, or a failure on its side), after sending why: read
    /// that reason if it is there, or report the broken write.
    fn broken(&self, connection: &mut Connection, source: io::Error) -> Error {
        let deadline = Instant::now() + self.timeout.min(LAST_WORDS);
        match self
            .read_reply(connection, deadline)
            .map(|r| parse_reply(&r))
        {
            Ok(Err(reason @ (Error::ScannerLimitExceeded | Error::ScannerFailed { .. }))) => reason,
            // A verdict on a stream that was not sent whole is no verdict.
            _ => self.io_failure(source),
        }
    }

    /// Reads until clamd closes the connection (or resets it after a
    /// NUL-terminated reply), within `deadline` in total (not per read: a
    /// trickling server cannot stretch it) and [`MAX_REPLY_LEN`] bytes.
    fn read_reply(&self, connection: &mut Connection, deadline: Instant) -> Result<Vec<u8>> {
        let mut reply = Vec::new();
        let mut buf = [0; 512];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.io_failure(io::ErrorKind::TimedOut.into()));
            }
            connection
                .set_read_timeout(Some(left))
                .map_err(|e| self.io_failure(e))?;
            match connection.read(&mut buf) {
                Ok(0) => return Ok(reply),
                Ok(n) => reply.extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // clamd closes right after its reply; when it had not read
                // everything sent (it refused the stream), the close comes
                // as a reset after the complete reply.
                Err(_) if reply.last() == Some(&0) => return Ok(reply),
                Err(e) => return Err(self.io_failure(e)),
            }
            if reply.len() > MAX_REPLY_LEN {
                return Err(malformed(&reply));
            }
        }
    }

    fn connect(&self) -> Result<Connection> {
        let connection = match &self.address {
            Address::Tcp(host_port) => connect_tcp(host_port, self.connect_timeout),
            Address::Unix(path) => connect_unix(path, self.connect_timeout),
        };
        connection.map_err(|source| self.unreachable(source))
    }

    /// A connection that could not be made.
    pub(crate) fn unreachable(&self, source: io::Error) -> Error {
        Error::ScannerUnreachable {
            address: self.address.to_string(),
            source,
        }
    }

    /// A read or write failure after the connection was made.
    pub(crate) fn io_failure(&self, source: io::Error) -> Error {
        let address = self.address.to_string();
        match source.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                Error::ScannerTimedOut { address, source }
            }
            _ => Error::ScannerDisconnected { address, source },
        }
    }
}

/// Why sending the stream stopped.
pub(crate) enum Sending {
    /// Refused before clamd had to: the file is over the limit or unreadable.
    Refused(Error),
    /// Writing to clamd failed.
    Broken(io::Error),
}

pub(crate) fn chunk_header(len: usize) -> [u8; HEADER_LEN] {
    // `len` is at most CHUNK_LEN.
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

/// One `read` into `buf`, retried on `Interrupted`; a reader claiming more
/// bytes than `buf` holds is an error, not trusted.
fn read_some<R: Read>(file: &mut R, buf: &mut [u8]) -> Result<usize> {
    loop {
        match file.read(buf) {
            Ok(n) if n <= buf.len() => return Ok(n),
            Ok(_) => return Err(reader_overran()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(Error::InputUnreadable { source }),
        }
    }
}

pub(crate) fn reader_overran() -> Error {
    Error::InputUnreadable {
        source: io::Error::other("the reader returned more bytes than it was asked for"),
    }
}

fn connect_tcp(host_port: &str, timeout: Duration) -> io::Result<Connection> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        "the host name resolved to no address",
    );
    for address in host_port.to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                // The end-of-stream marker is 4 bytes: send it at once.
                stream.set_nodelay(true)?;
                return Ok(Connection::Tcp(stream));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(unix)]
fn connect_unix(path: &std::path::Path, timeout: Duration) -> io::Result<Connection> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    // A Unix-socket connect waits for room in the listener's backlog for at
    // most the send timeout (Linux): that bounds it when clamd hangs.
    socket.set_write_timeout(Some(timeout))?;
    socket.connect(&SockAddr::unix(path)?)?;
    let fd = std::os::fd::OwnedFd::from(socket);
    Ok(Connection::Unix(fd.into()))
}

#[cfg(not(unix))]
fn connect_unix(_path: &std::path::Path, _timeout: Duration) -> io::Result<Connection> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Unix sockets are not available on this platform",
    ))
}

/// A connection to clamd.
enum Connection {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Connection {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Connection::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(unix)]
            Connection::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Connection::Tcp(s) => s.set_write_timeout(timeout),
            #[cfg(unix)]
            Connection::Unix(s) => s.set_write_timeout(timeout),
        }
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Connection::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Connection::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Connection::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Connection::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Connection::Unix(s) => s.flush(),
        }
    }
}
