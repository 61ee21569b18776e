//! Against a real `clamd` (Debian's clamav-daemon) started by the test kit
//! with an offline signature database for the EICAR test file: verdicts over
//! both sockets, blocking and async, large streams, both size limits, a
//! stopped daemon, and concurrent scans.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use palisade_scan::{Address, Decision, Error, FailurePolicy, Scanner, Verdict};
use palisade_testkit::Clamd;

/// Starts a daemon, printing how long it took (the report quotes it).
fn clamd() -> Option<Clamd> {
    let started = Instant::now();
    let clamd = Clamd::start_or_skip()?;
    eprintln!("clamd answered after {:?}", started.elapsed());
    Some(clamd)
}

fn unix(clamd: &Clamd) -> Scanner {
    Scanner::new(Address::Unix(clamd.socket_path().to_owned()))
        .with_stream_max_length(Clamd::STREAM_MAX_LENGTH)
}

fn tcp(clamd: &Clamd) -> Scanner {
    Scanner::new(Address::Tcp(clamd.tcp_address().to_string()))
        .with_stream_max_length(Clamd::STREAM_MAX_LENGTH)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn eicar_signature(verdict: &Verdict) -> &str {
    match verdict {
        Verdict::Infected { signature } => signature,
        Verdict::Clean => panic!("EICAR scanned as clean"),
    }
}

/// `len` bytes of deterministic, varied, harmless text, generated as they
/// are read (never held whole), counting what was read.
struct Generated {
    len: u64,
    read: Arc<AtomicU64>,
    state: u64,
}

impl Generated {
    fn new(len: u64) -> (Generated, Arc<AtomicU64>) {
        let read = Arc::new(AtomicU64::new(0));
        let generated = Generated {
            len,
            read: Arc::clone(&read),
            state: 0x9E37_79B9_7F4A_7C15,
        };
        (generated, read)
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let done = self.read.load(Ordering::Relaxed);
        // Odd sizes, so chunks do not line up with the reader's reads.
        let n = (self.len - done).min(buf.len() as u64).min(40_000) as usize;
        for b in &mut buf[..n] {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = b'a' + (self.state % 26) as u8;
        }
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn eicar_is_infected_and_a_clean_file_is_clean_over_both_sockets() {
    let Some(clamd) = clamd() else { return };
    let eicar = Clamd::eicar();
    for scanner in [unix(&clamd), tcp(&clamd)] {
        let verdict = scanner.scan(&eicar[..]).unwrap();
        let signature = eicar_signature(&verdict);
        assert!(
            signature == Clamd::EICAR_MD5_SIGNATURE || signature == Clamd::EICAR_BODY_SIGNATURE,
            "{signature}"
        );
        assert_eq!(
            scanner
                .scan(&b"Invoice 2024-117: 3 items, 120.00 EUR\n"[..])
                .unwrap(),
            Verdict::Clean
        );
        assert_eq!(scanner.scan(&b""[..]).unwrap(), Verdict::Clean);
        // One byte off the test file: the MD5 signature no longer matches,
        // the body signature still does.
        let mut longer = eicar.clone();
        longer.push(b'\n');
        assert_eq!(
            eicar_signature(&scanner.scan(&longer[..]).unwrap()),
            Clamd::EICAR_BODY_SIGNATURE
        );
        let mut broken = eicar.clone();
        broken[10] ^= 1;
        assert_eq!(scanner.scan(&broken[..]).unwrap(), Verdict::Clean);
    }
}

#[test]
fn upload_decisions_follow_the_verdict() {
    let Some(clamd) = clamd() else { return };
    let scanner = unix(&clamd);
    match scanner.decide(&Clamd::eicar()[..]) {
        Decision::Infected { signature } => assert!(signature.starts_with("Palisade.Test.EICAR")),
        other => panic!("{other:?}"),
    }
    let clean = scanner.decide(&b"hello"[..]);
    assert!(matches!(clean, Decision::Clean));
    assert!(clean.may_store());
}

#[test]
fn eicar_inside_a_larger_file_across_a_chunk_boundary_is_found() {
    let Some(clamd) = clamd() else { return };
    // The test string straddles the first 64 KiB chunk's end: clamd sees it
    // only if the chunks are framed and reassembled correctly.
    let mut file = vec![b'.'; 65_536 - 30];
    file.extend_from_slice(&Clamd::eicar());
    file.extend(std::iter::repeat_n(b'.', 200_000));
    for scanner in [unix(&clamd), tcp(&clamd)] {
        assert_eq!(
            eicar_signature(&scanner.scan(&file[..]).unwrap()),
            Clamd::EICAR_BODY_SIGNATURE
        );
    }
}

#[test]
fn a_large_clean_file_is_streamed_in_chunks() {
    let Some(clamd) = clamd() else { return };
    let len = 3 * 1024 * 1024 + 12_345;
    for scanner in [unix(&clamd), tcp(&clamd)] {
        let (file, read) = Generated::new(len);
        assert_eq!(scanner.scan(file).unwrap(), Verdict::Clean);
        assert_eq!(read.load(Ordering::Relaxed), len);
    }
}

#[test]
fn a_file_at_the_limit_is_scanned_and_one_byte_more_is_too_large() {
    let Some(clamd) = clamd() else { return };
    let limit = 1024 * 1024;
    for scanner in [unix(&clamd), tcp(&clamd)] {
        let scanner = scanner.with_stream_max_length(limit);
        let (file, _) = Generated::new(limit);
        assert_eq!(scanner.scan(file).unwrap(), Verdict::Clean);
        let (file, read) = Generated::new(limit + 1);
        match scanner.scan(file) {
            Err(Error::FileTooLarge { limit: l }) => assert_eq!(l, limit),
            other => panic!("{other:?}"),
        }
        assert_eq!(read.load(Ordering::Relaxed), limit + 1);
        let (file, read) = Generated::new(limit * 3);
        assert!(matches!(
            scanner.decide(file),
            Decision::Refused(Error::FileTooLarge { .. })
        ));
        // The client stopped reading just past the limit, not at the end.
        let read = read.load(Ordering::Relaxed);
        assert!(read > limit && read <= limit + 64 * 1024, "{read}");
    }
}

#[test]
fn a_file_over_the_daemons_stream_max_length_is_reported_as_such() {
    let Some(clamd) = clamd() else { return };
    // The client's limit is set higher than clamd's: clamd refuses the
    // stream mid-way and closes; its reason must survive the broken pipe.
    for scanner in [unix(&clamd), tcp(&clamd)] {
        let scanner = scanner.with_stream_max_length(u64::MAX);
        let (file, _) = Generated::new(Clamd::STREAM_MAX_LENGTH);
        assert_eq!(scanner.scan(file).unwrap(), Verdict::Clean);
        for len in [Clamd::STREAM_MAX_LENGTH + 1, 3 * Clamd::STREAM_MAX_LENGTH] {
            let (file, _) = Generated::new(len);
            match scanner.scan(file) {
                Err(Error::ScannerLimitExceeded) => {}
                other => panic!("{len} bytes over {}: {other:?}", scanner.address()),
            }
        }
    }
}

#[test]
fn a_stopped_daemon_is_unreachable_and_the_upload_refused() {
    let Some(mut clamd) = clamd() else { return };
    let scanners = [unix(&clamd), tcp(&clamd)];
    for scanner in &scanners {
        scanner.ping().unwrap();
    }
    clamd.stop();
    for scanner in scanners {
        assert!(matches!(
            scanner.ping(),
            Err(Error::ScannerUnreachable { .. })
        ));
        let (file, read) = Generated::new(1000);
        match scanner.decide(file) {
            Decision::Refused(Error::ScannerUnreachable { address, .. }) => {
                assert_eq!(address, scanner.address().to_string());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read.load(Ordering::Relaxed), 0, "nothing read");
        // Configured to fail open: admitted, and the caller is told.
        let open = scanner.with_failure_policy(FailurePolicy::FailOpen);
        let decision = open.decide(&Clamd::eicar()[..]);
        assert!(matches!(
            decision,
            Decision::AdmittedUnscanned(Error::ScannerUnreachable { .. })
        ));
        assert!(decision.may_store());
    }
}

#[test]
fn ping_and_version_report_health() {
    let Some(clamd) = clamd() else { return };
    for scanner in [unix(&clamd), tcp(&clamd)] {
        scanner.ping().unwrap();
        let version = scanner.version().unwrap();
        assert!(version.starts_with("ClamAV "), "{version}");
    }
}

#[test]
fn concurrent_scans_each_get_their_own_verdict() {
    let Some(clamd) = clamd() else { return };
    let scanners = [unix(&clamd), tcp(&clamd)];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let scanner = scanners[i % 2].clone();
                scope.spawn(move || {
                    let infected = i % 3 == 0;
                    let mut file = vec![b'x'; 10_000 + i * 7_919];
                    if infected {
                        file.splice(5_000..5_000, Clamd::eicar());
                    }
                    let verdict = scanner.scan(&file[..]).unwrap();
                    (infected, verdict)
                })
            })
            .collect();
        for handle in handles {
            let (infected, verdict) = handle.join().unwrap();
            assert_eq!(
                matches!(verdict, Verdict::Infected { .. }),
                infected,
                "{verdict:?}"
            );
        }
    });
}

#[test]
fn the_async_api_gives_the_same_answers() {
    let Some(mut clamd) = clamd() else { return };
    let scanners = [unix(&clamd), tcp(&clamd)];
    let rt = runtime();
    rt.block_on(async {
        for scanner in &scanners {
            scanner.ping_async().await.unwrap();
            assert!(
                scanner
                    .version_async()
                    .await
                    .unwrap()
                    .starts_with("ClamAV ")
            );
            let verdict = scanner.scan_async(&Clamd::eicar()[..]).await.unwrap();
            assert!(eicar_signature(&verdict).starts_with("Palisade.Test.EICAR"));
            assert_eq!(
                scanner.scan_async(&b"hello"[..]).await.unwrap(),
                Verdict::Clean
            );
            // A large file read from disk through tokio::fs, in chunks.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("large.txt");
            let (mut generated, _) = Generated::new(3 * 1024 * 1024);
            let mut file = std::fs::File::create(&path).unwrap();
            std::io::copy(&mut generated, &mut file).unwrap();
            let file = tokio::fs::File::open(&path).await.unwrap();
            assert_eq!(scanner.scan_async(file).await.unwrap(), Verdict::Clean);
            // Both limits.
            let small = scanner.clone().with_stream_max_length(1000);
            assert!(matches!(
                small.scan_async(&[b'a'; 1001][..]).await,
                Err(Error::FileTooLarge { limit: 1000 })
            ));
            let big = scanner.clone().with_stream_max_length(u64::MAX);
            let over = vec![b'a'; Clamd::STREAM_MAX_LENGTH as usize + 1];
            assert!(matches!(
                big.scan_async(&over[..]).await,
                Err(Error::ScannerLimitExceeded)
            ));
            assert!(matches!(
                scanner.decide_async(&Clamd::eicar()[..]).await,
                Decision::Infected { .. }
            ));
        }
    });
    clamd.stop();
    rt.block_on(async {
        for scanner in &scanners {
            assert!(matches!(
                scanner.decide_async(&b"hello"[..]).await,
                Decision::Refused(Error::ScannerUnreachable { .. })
            ));
            let open = scanner.clone().with_failure_policy(FailurePolicy::FailOpen);
            assert!(matches!(
                open.decide_async(&b"hello"[..]).await,
                Decision::AdmittedUnscanned(Error::ScannerUnreachable { .. })
            ));
        }
    });
}
