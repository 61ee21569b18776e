//! Against fake servers that misbehave the ways a real network and a broken
//! or hostile scanner can: garbled, overlong, trickling or missing replies,
//! a verdict after a broken stream, a server that stops reading, a full
//! connection queue, nothing listening; and the bytes the client puts on the
//! wire, decoded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use palisade_scan::{Address, Decision, Error, FailurePolicy, Scanner, Verdict};

/// What a fake server does with the one connection it accepts.
#[derive(Clone)]
enum Behaviour {
    /// Reads the whole request, then sends these bytes and closes.
    Reply(Vec<u8>),
    /// Reads the command and the first chunk's length, sends these bytes and
    /// closes with the rest unread (what clamd does over its limit).
    ReplyEarly(Vec<u8>),
    /// Reads the whole request, then sends the bytes one by one with a pause
    /// between them, then closes.
    Trickle(Vec<u8>, Duration),
    /// Reads the whole request and says nothing until the test ends.
    Silent,
    /// Sends these bytes and never reads, until the test ends.
    NeverReads(Vec<u8>),
}

/// What the client sent: the command, the chunk lengths, the payload.
#[derive(Debug, Default)]
struct Request {
    command: Vec<u8>,
    chunks: Vec<u32>,
    payload: Vec<u8>,
    terminated: bool,
}

struct Fake {
    address: Address,
    handle: Option<JoinHandle<Request>>,
    _release: mpsc::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Fake {
    fn tcp(behaviour: Behaviour) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = Address::Tcp(listener.local_addr().unwrap().to_string());
        let (release, wait) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            serve(stream, behaviour, wait)
        });
        Fake {
            address,
            handle: Some(handle),
            _release: release,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    fn unix(behaviour: Behaviour) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (release, wait) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            serve(stream, behaviour, wait)
        });
        Fake {
            address: Address::Unix(path),
            handle: Some(handle),
            _release: release,
            _dir: dir,
        }
    }

    fn scanner(&self) -> Scanner {
        Scanner::new(self.address.clone())
    }

    /// What the server received (after the client is done).
    fn request(mut self) -> Request {
        self.handle.take().unwrap().join().unwrap()
    }
}

fn serve<S: Read + Write>(
    mut stream: S,
    behaviour: Behaviour,
    wait: mpsc::Receiver<()>,
) -> Request {
    let mut request = Request::default();
    match behaviour {
        Behaviour::Reply(reply) => {
            read_request(&mut stream, &mut request, false);
            let _ = stream.write_all(&reply);
        }
        Behaviour::ReplyEarly(reply) => {
            read_request(&mut stream, &mut request, true);
            let _ = stream.write_all(&reply);
        }
        Behaviour::Trickle(reply, pause) => {
            read_request(&mut stream, &mut request, false);
            for b in reply {
                if stream.write_all(&[b]).is_err() {
                    break;
                }
                std::thread::sleep(pause);
            }
        }
        Behaviour::Silent => {
            read_request(&mut stream, &mut request, false);
            let _ = wait.recv();
        }
        Behaviour::NeverReads(reply) => {
            let _ = stream.write_all(&reply);
            let _ = wait.recv();
        }
    }
    request
}

/// Decodes the INSTREAM protocol (or reads a plain command up to its NUL).
fn read_request<S: Read>(stream: &mut S, request: &mut Request, stop_after_header: bool) {
    let mut byte = [0; 1];
    while stream.read_exact(&mut byte).is_ok() {
        request.command.push(byte[0]);
        if byte[0] == 0 {
            break;
        }
    }
    if request.command != b"zINSTREAM\0" {
        return;
    }
    loop {
        let mut header = [0; 4];
        if stream.read_exact(&mut header).is_err() {
            return;
        }
        let len = u32::from_be_bytes(header);
        if len == 0 {
            request.terminated = true;
            return;
        }
        request.chunks.push(len);
        if stop_after_header {
            return;
        }
        let mut chunk = vec![0; len as usize];
        if stream.read_exact(&mut chunk).is_err() {
            return;
        }
        request.payload.extend_from_slice(&chunk);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Pseudo-random bytes (xorshift), reproducible.
fn bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

const GARBLED: &[&[u8]] = &[
    b"",
    b"stream: OK",
    b"stream: OK\n",
    b"stream: OK\0\0",
    b"stream: OK\0stream: OK\0",
    b"stream: OKAY\0",
    b"STREAM: OK\0",
    b"OK\0",
    b"1: stream: OK\0",
    b"PONG\0",
    b"UNKNOWN COMMAND\0",
    b"stream: \xff FOUND\0",
    b"\xff\xfe\x00",
    b"HTTP/1.1 200 OK\r\n\r\n",
];

#[test]
fn garbled_replies_are_errors_never_clean_whatever_the_policy() {
    for reply in GARBLED {
        for policy in [FailurePolicy::FailClosed, FailurePolicy::FailOpen] {
            let fake = Fake::tcp(Behaviour::Reply(reply.to_vec()));
            let decision = fake
                .scanner()
                .with_failure_policy(policy)
                .decide(&b"hello"[..]);
            assert!(
                matches!(decision, Decision::Refused(Error::ReplyMalformed { .. })),
                "{reply:?}: {decision:?}"
            );
            assert!(fake.request().terminated);
        }
    }
    let rt = runtime();
    for reply in GARBLED {
        let fake = Fake::unix(Behaviour::Reply(reply.to_vec()));
        let scan = rt.block_on(fake.scanner().scan_async(&b"hello"[..]));
        assert!(
            matches!(scan, Err(Error::ReplyMalformed { .. })),
            "{reply:?}: {scan:?}"
        );
    }
}

#[test]
fn the_scanners_own_replies_are_understood() {
    type Expected = fn(&palisade_scan::Result<Verdict>) -> bool;
    let cases: [(&[u8], Expected); 4] = [
        (b"stream: OK\0", |r| matches!(r, Ok(Verdict::Clean))),
        (
            b"stream: Win.Test.EICAR_HDB-1 FOUND\0",
            |r| matches!(r, Ok(Verdict::Infected { signature }) if signature == "Win.Test.EICAR_HDB-1"),
        ),
        (
            b"stream: Can't allocate memory ERROR\0",
            |r| matches!(r, Err(Error::ScannerFailed { message }) if message == "Can't allocate memory"),
        ),
        (b"INSTREAM size limit exceeded. ERROR\0", |r| {
            matches!(r, Err(Error::ScannerLimitExceeded))
        }),
    ];
    for (reply, expected) in cases {
        let fake = Fake::tcp(Behaviour::Reply(reply.to_vec()));
        let scan = fake.scanner().scan(&b"hello"[..]);
        assert!(expected(&scan), "{scan:?}");
        let fake = Fake::unix(Behaviour::Reply(reply.to_vec()));
        let scan = runtime().block_on(fake.scanner().scan_async(&b"hello"[..]));
        assert!(expected(&scan), "{scan:?}");
    }
}

#[test]
fn the_request_is_framed_as_instream() {
    for len in [0, 1, 65_536, 65_537, 200_001] {
        let file = bytes(len);
        let fake = Fake::tcp(Behaviour::Reply(b"stream: OK\0".to_vec()));
        assert_eq!(fake.scanner().scan(&file[..]).unwrap(), Verdict::Clean);
        let request = fake.request();
        assert_eq!(request.command, b"zINSTREAM\0");
        assert!(request.terminated);
        assert!(request.chunks.iter().all(|&c| c > 0 && c <= 65_536));
        assert_eq!(request.payload, file);

        let fake = Fake::unix(Behaviour::Reply(b"stream: OK\0".to_vec()));
        let verdict = runtime().block_on(fake.scanner().scan_async(&file[..]));
        assert_eq!(verdict.unwrap(), Verdict::Clean);
        let request = fake.request();
        assert_eq!(request.command, b"zINSTREAM\0");
        assert!(request.terminated);
        assert!(request.chunks.iter().all(|&c| c > 0 && c <= 65_536));
        assert_eq!(request.payload, file);
    }
}

#[test]
fn ping_and_version_need_the_exact_replies() {
    let fake = Fake::tcp(Behaviour::Reply(b"PONG\0".to_vec()));
    fake.scanner().ping().unwrap();
    assert_eq!(fake.request().command, b"zPING\0");
    let fake = Fake::tcp(Behaviour::Reply(b"PONG".to_vec()));
    assert!(matches!(
        fake.scanner().ping(),
        Err(Error::ReplyMalformed { .. })
    ));
    let fake = Fake::unix(Behaviour::Reply(b"stream: OK\0".to_vec()));
    assert!(matches!(
        runtime().block_on(fake.scanner().ping_async()),
        Err(Error::ReplyMalformed { .. })
    ));
    let line = b"ClamAV 1.4.6/27846/Sat Dec  5 09:26:03 2026\0";
    let fake = Fake::unix(Behaviour::Reply(line.to_vec()));
    assert_eq!(
        fake.scanner().version().unwrap(),
        "ClamAV 1.4.6/27846/Sat Dec  5 09:26:03 2026"
    );
    assert_eq!(fake.request().command, b"zVERSION\0");
    let fake = Fake::tcp(Behaviour::Reply(line.to_vec()));
    assert!(
        runtime()
            .block_on(fake.scanner().version_async())
            .unwrap()
            .starts_with("ClamAV 1.4.6/")
    );
}

#[test]
fn a_silent_scanner_times_out_and_the_file_is_refused() {
    for policy in [FailurePolicy::FailClosed, FailurePolicy::FailOpen] {
        let fake = Fake::tcp(Behaviour::Silent);
        let scanner = fake
            .scanner()
            .with_timeout(Duration::from_millis(300))
            .with_failure_policy(policy);
        let decision = scanner.decide(&b"hello"[..]);
        assert!(
            matches!(decision, Decision::Refused(Error::ScannerTimedOut { .. })),
            "{decision:?}"
        );
    }
    let fake = Fake::unix(Behaviour::Silent);
    let scanner = fake.scanner().with_timeout(Duration::from_millis(300));
    assert!(matches!(
        runtime().block_on(scanner.scan_async(&b"hello"[..])),
        Err(Error::ScannerTimedOut { .. })
    ));
}

#[test]
fn a_trickling_reply_cannot_stretch_the_timeout() {
    // Each byte comes well within the timeout, the whole reply does not: the
    // timeout bounds the whole reply, not each read.
    let slow = Behaviour::Trickle(vec![b'x'; 40], Duration::from_millis(50));
    let fake = Fake::tcp(slow.clone());
    let scanner = fake.scanner().with_timeout(Duration::from_millis(500));
    assert!(matches!(
        scanner.scan(&b"hello"[..]),
        Err(Error::ScannerTimedOut { .. })
    ));
    let fake = Fake::unix(slow);
    let scanner = fake.scanner().with_timeout(Duration::from_millis(500));
    assert!(matches!(
        runtime().block_on(scanner.scan_async(&b"hello"[..])),
        Err(Error::ScannerTimedOut { .. })
    ));
}

#[test]
fn an_overlong_reply_is_malformed_without_waiting_for_the_end() {
    // The server never closes: the client must stop at its reply cap
    // instead of reading on until the timeout.
    let endless = || Behaviour::NeverReads(vec![b'A'; 10_000]);
    for fake in [Fake::tcp(endless()), Fake::unix(endless())] {
        let scanner = fake.scanner().with_timeout(Duration::from_secs(60));
        assert!(matches!(
            scanner.version(),
            Err(Error::ReplyMalformed { .. })
        ));
    }
    for fake in [Fake::tcp(endless()), Fake::unix(endless())] {
        let scanner = fake.scanner().with_timeout(Duration::from_secs(60));
        assert!(matches!(
            runtime().block_on(scanner.version_async()),
            Err(Error::ReplyMalformed { .. })
        ));
    }
}

#[test]
fn a_scanner_that_stops_reading_times_out() {
    // 64 MiB cannot fit in the socket buffers: a write blocks, then times
    // out.
    let file = || io::repeat(0).take(64 << 20);
    let fake = Fake::tcp(Behaviour::NeverReads(Vec::new()));
    let scanner = fake
        .scanner()
        .with_timeout(Duration::from_millis(300))
        .with_stream_max_length(u64::MAX);
    assert!(matches!(
        scanner.scan(file()),
        Err(Error::ScannerTimedOut { .. })
    ));
    let fake = Fake::unix(Behaviour::NeverReads(Vec::new()));
    let scanner = fake
        .scanner()
        .with_timeout(Duration::from_millis(300))
        .with_stream_max_length(u64::MAX);
    let file = tokio::io::AsyncReadExt::take(tokio::io::repeat(0), 64 << 20);
    assert!(matches!(
        runtime().block_on(scanner.scan_async(file)),
        Err(Error::ScannerTimedOut { .. })
    ));
}

#[test]
fn a_refusal_mid_stream_keeps_its_reason() {
    // The server answers after the first chunk's header and closes with the
    // rest unread: the client's writes fail and the read after the reply is
    // reset; the reason must still come through.
    let file = vec![0; 8 << 20];
    let refusal = b"INSTREAM size limit exceeded. ERROR\0".to_vec();
    for fake in [
        Fake::unix(Behaviour::ReplyEarly(refusal.clone())),
        Fake::tcp(Behaviour::ReplyEarly(refusal.clone())),
    ] {
        let scanner = fake.scanner().with_stream_max_length(u64::MAX);
        let scan = scanner.scan(&file[..]);
        assert!(
            matches!(scan, Err(Error::ScannerLimitExceeded)),
            "{}: {scan:?}",
            scanner.address()
        );
    }
    for fake in [
        Fake::unix(Behaviour::ReplyEarly(refusal.clone())),
        Fake::tcp(Behaviour::ReplyEarly(refusal.clone())),
    ] {
        let scanner = fake.scanner().with_stream_max_length(u64::MAX);
        let scan = runtime().block_on(scanner.scan_async(&file[..]));
        assert!(
            matches!(scan, Err(Error::ScannerLimitExceeded)),
            "{}: {scan:?}",
            scanner.address()
        );
    }
}

#[test]
fn a_verdict_on_a_stream_not_sent_whole_is_not_taken() {
    // A server that says OK after one chunk header and hangs up: the file
    // was not scanned, whatever the reply says.
    let file = vec![0; 8 << 20];
    for reply in [&b"stream: OK\0"[..], b"stream: Eicar FOUND\0"] {
        for fake in [
            Fake::unix(Behaviour::ReplyEarly(reply.to_vec())),
            Fake::tcp(Behaviour::ReplyEarly(reply.to_vec())),
        ] {
            let scanner = fake
                .scanner()
                .with_stream_max_length(u64::MAX)
                .with_failure_policy(FailurePolicy::FailOpen);
            let decision = scanner.decide(&file[..]);
            assert!(
                matches!(
                    decision,
                    Decision::Refused(Error::ScannerDisconnected { .. })
                ),
                "{reply:?}: {decision:?}"
            );
            let fake = Fake::unix(Behaviour::ReplyEarly(reply.to_vec()));
            let scanner = fake.scanner().with_stream_max_length(u64::MAX);
            let decision = runtime().block_on(scanner.decide_async(&file[..]));
            assert!(
                matches!(
                    decision,
                    Decision::Refused(Error::ScannerDisconnected { .. })
                ),
                "{reply:?}: {decision:?}"
            );
        }
    }
}

#[test]
fn nothing_listening_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let not_a_socket = dir.path().join("file");
    std::fs::write(&not_a_socket, b"").unwrap();
    for address in [
        Address::Tcp(format!("127.0.0.1:{port}")),
        Address::Unix(dir.path().join("missing.sock")),
        Address::Unix(not_a_socket),
    ] {
        let scanner = Scanner::new(address.clone());
        assert!(
            matches!(
                scanner.scan(&b"x"[..]),
                Err(Error::ScannerUnreachable { .. })
            ),
            "{address}"
        );
        assert!(matches!(
            scanner.ping(),
            Err(Error::ScannerUnreachable { .. })
        ));
        assert!(matches!(
            runtime().block_on(scanner.scan_async(&b"x"[..])),
            Err(Error::ScannerUnreachable { .. })
        ));
        let error = scanner.ping().unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "the virus scanner at `{address}` is unreachable: "
            )),
            "{error}"
        );
    }
}

#[test]
fn a_full_connection_queue_is_unreachable_after_the_connect_timeout() {
    use socket2::{Domain, SockAddr, Socket, Type};
    // A Unix listener that never accepts, its queue filled: a plain
    // blocking connect would wait forever.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.sock");
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    listener.listen(0).unwrap();
    let mut queued = Vec::new();
    loop {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        match socket.connect(&SockAddr::unix(&path).unwrap()) {
            Ok(()) => queued.push(socket),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(queued.len() < 1000);
    }
    let scanner =
        Scanner::new(Address::Unix(path)).with_connect_timeout(Duration::from_millis(200));
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(scanner.ping());
    });
    // A hang is a failure, not a stuck test run.
    let ping = result
        .recv_timeout(Duration::from_secs(20))
        .expect("connect hung");
    assert!(
        matches!(ping, Err(Error::ScannerUnreachable { .. })),
        "{ping:?}"
    );
    drop(queued);
}

/// A reader that fails after some bytes, or claims more than it was given.
struct Faulty {
    given: usize,
    overrun: bool,
}

impl Read for Faulty {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.given >= 100_000 {
            return if self.overrun {
                Ok(buf.len() + 1)
            } else {
                Err(io::Error::other("disk on fire"))
            };
        }
        let n = buf.len().min(30_000);
        buf[..n].fill(b'z');
        self.given += n;
        Ok(n)
    }
}

#[test]
fn an_unreadable_file_is_refused_and_never_sent_as_complete() {
    for overrun in [false, true] {
        let fake = Fake::tcp(Behaviour::Reply(b"stream: OK\0".to_vec()));
        let scanner = fake.scanner().with_failure_policy(FailurePolicy::FailOpen);
        let decision = scanner.decide(Faulty { given: 0, overrun });
        assert!(
            matches!(decision, Decision::Refused(Error::InputUnreadable { .. })),
            "{decision:?}"
        );
        // The server never saw the end-of-stream marker.
        assert!(!fake.request().terminated);
    }
}
