//! Logs: a `tracing-subscriber` writer that scrubs every formatted event.
//!
//! Design: the scrubbing happens at the last point before bytes leave the
//! process, on the *formatted* event (message, every field, span context),
//! not on fields one by one. Nothing can reach the inner writer without
//! passing the masker: [`ScrubbingWriter`] buffers everything written to it
//! for one event and masks the whole buffer on `flush` or drop, so a value
//! split across several `write` calls by a formatter is still seen whole. A
//! field-level layer could miss values formatted by `Debug` impls, span
//! fields or the message; this design cannot. If masking fails (only an
//! encryption operator can fail), the event is dropped, never written in clear.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use crate::masker::Masker;

/// Wraps a [`MakeWriter`] (stdout, a file, a non-blocking appender) so every
/// event is masked before the inner writer sees it.
///
/// ```
/// use std::sync::Arc;
/// use palisade_pii::{Masker, Operator, ScrubbingMakeWriter};
///
/// let masker = Arc::new(Masker::new(Operator::Label));
/// let subscriber = tracing_subscriber::fmt()
///     .with_writer(ScrubbingMakeWriter::new(masker, std::io::stderr))
///     .finish();
/// tracing::subscriber::with_default(subscriber, || {
///     // Written as: … login user=<EMAIL> password=<SECRET>
///     tracing::info!(user = "jan@example.com", password = "hunter2", "login");
/// });
/// ```
#[derive(Clone, Debug)]
pub struct ScrubbingMakeWriter<M> {
    masker: std::sync::Arc<Masker>,
    inner: M,
}

impl<M> ScrubbingMakeWriter<M> {
    /// Masks with `masker` before writing to `inner`.
    pub fn new(masker: std::sync::Arc<Masker>, inner: M) -> Self {
        Self { masker, inner }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for ScrubbingMakeWriter<M> {
    type Writer = ScrubbingWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter {
            masker: &self.masker,
            inner: self.inner.make_writer(),
            buf: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        ScrubbingWriter {
            masker: &self.masker,
            inner: self.inner.make_writer_for(meta),
            buf: Vec::new(),
        }
    }
}

/// The writer of one event: buffers, then masks and writes on flush or drop.
#[derive(Debug)]
pub struct ScrubbingWriter<'a, W: Write> {
    masker: &'a Masker,
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> ScrubbingWriter<'_, W> {
    fn drain(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = match self.masker.mask_bytes(&self.buf) {
            Ok(masked) => self.inner.write_all(&masked),
            Err(e) => Err(io::Error::other(e)),
        };
        self.buf.clear();
        result
    }
}

impl<W: Write> Write for ScrubbingWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for ScrubbingWriter<'_, W> {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; the event is lost, not leaked.
        let _ = self.drain();
        let _ = self.inner.flush();
    }
}
