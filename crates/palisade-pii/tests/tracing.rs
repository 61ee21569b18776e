//! The tracing integration: events are scrubbed before the writer sees them.

#![cfg(feature = "tracing")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use palisade_pii::{Masker, Operator, ScrubbingMakeWriter};

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn tracing_events_are_scrubbed_before_the_writer() {
    let sink = Sink::default();
    let captured = sink.clone();
    let masker = Arc::new(Masker::new(Operator::Label));
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .with_writer(ScrubbingMakeWriter::new(masker, move || sink.clone()))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", client = "jan@example.com");
        let _g = span.enter();
        tracing::info!(password = "hunter2", card = ?"4111 1111 1111 1111", "login from 10.1.2.3");
        tracing::warn!("token=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 leaked");
    });
    let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for secret in ["jan@example.com", "hunter2", "4111", "10.1.2.3", "ghp_"] {
        assert!(!out.contains(secret), "{secret} reached the writer: {out}");
    }
    assert!(out.contains("password=\"<SECRET>\""), "{out}");
    assert!(out.contains("card=\"<PAYMENT_CARD>\""), "{out}");
    assert!(out.contains("login from <IP_ADDRESS>"), "{out}");
    assert!(out.contains("client=\"<EMAIL>\""), "{out}");
    assert!(out.contains("token=<SECRET> leaked"), "{out}");
    assert_eq!(out.lines().count(), 2);
}
