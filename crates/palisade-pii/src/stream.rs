//! Line-by-line reading with bounded memory.

use std::io::{self, BufRead, Read};

use crate::error::Result;

/// The longest line handled in one piece, in bytes (1 MiB). Longer lines are
/// processed in pieces of at most this size, each cut after the last
/// whitespace of its second half where there is one, so that a value is not
/// cut in two unless a megabyte passes without whitespace.
pub const MAX_LINE: usize = 1 << 20;

/// Calls `f` with each line of `reader`, its `\n` included (the last line may
/// lack one). Bytes are passed as read: nothing is decoded.
pub(crate) fn for_each_line<R: BufRead>(
    mut reader: R,
    max: usize,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let max = max.max(2);
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    loop {
        if buf.is_empty() {
            // A whole line in the reader's buffer is passed from there,
            // without a copy: what `read_until` below would have read.
            let avail = match reader.fill_buf() {
                Ok(avail) => avail,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            let window = avail.get(..max).unwrap_or(avail);
            if let Some(line) = memchr::memchr(b'\n', window).and_then(|p| avail.get(..=p)) {
                let n = line.len();
                f(line)?;
                reader.consume(n);
                continue;
            }
        }
        let room = max.saturating_sub(buf.len()) as u64;
        let n = (&mut reader).take(room).read_until(b'\n', &mut buf)?;
        if buf.is_empty() {
            return Ok(());
        }
        if n == 0 || buf.ends_with(b"\n") {
            f(&buf)?;
            buf.clear();
            if n == 0 {
                return Ok(());
            }
            continue;
        }
        if buf.len() < max {
            // A short read without a newline: read on.
            continue;
        }
        let cut = buf
            .iter()
            .rposition(u8::is_ascii_whitespace)
            .filter(|&p| p >= max / 2)
            .map_or(buf.len(), |p| p + 1);
        f(buf.get(..cut).unwrap_or(&[]))?;
        buf.drain(..cut);
    }
}

/// How many leading bytes of `data` are whole lines as [`for_each_line`]
/// cuts a stream that goes on after `data` (lines of at most `max` bytes):
/// up to the last `\n`, and beyond it any piece of a longer line that is
/// already cut. Cutting a stream there and reading each part with
/// [`for_each_line`] gives the same lines as reading it whole.
pub(crate) fn whole_lines(data: &[u8], max: usize) -> usize {
    let max = max.max(2);
    let after_newline = memchr::memrchr(b'\n', data).map_or(0, |p| p + 1);
    let tail = data.get(after_newline..).unwrap_or(&[]);
    if tail.len() < max {
        // No `\n` and shorter than a piece: the line is not complete.
        return after_newline;
    }
    // A line longer than `max`: its pieces are cut as the stream cuts them;
    // the last piece read here may be cut short only by the end of `data`
    // (no `\n`, shorter than `max`), and then it is not whole.
    let mut whole = 0;
    let _ = for_each_line(tail, max, |piece| {
        if piece.ends_with(b"\n") || piece.len() == max || whole + piece.len() < tail.len() {
            whole += piece.len();
        }
        Ok(())
    });
    after_newline + whole
}

/// Reads a stream in chunks of whole lines (see [`whole_lines`]), each of
/// about `target` bytes, so that the chunks can be masked apart.
pub(crate) struct Chunker<R> {
    reader: R,
    /// Bytes read after the last chunk's end.
    carry: Vec<u8>,
    target: usize,
    /// The longest line, as given to [`for_each_line`].
    max: usize,
    eof: bool,
    /// A read error, reported once the lines read before it are handed out.
    failed: Option<io::Error>,
}

impl<R: Read> Chunker<R> {
    pub(crate) fn new(reader: R, target: usize, max: usize) -> Self {
        Self {
            reader,
            carry: Vec::new(),
            target: target.max(1),
            max,
            eof: false,
            failed: None,
        }
    }

    /// The longest line, as given to [`for_each_line`].
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Fills `chunk` with the next chunk; `Ok(false)` at the end.
    pub(crate) fn next(&mut self, chunk: &mut Vec<u8>) -> io::Result<bool> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        chunk.clear();
        chunk.append(&mut self.carry);
        let mut want = self.target;
        loop {
            // A read that returns less than asked for (a pipe) hands out the
            // whole lines it completed rather than wait for more.
            let mut short = false;
            while !self.eof && !short && chunk.len() < want {
                let len = chunk.len();
                chunk.resize(len + self.target, 0);
                let read = self.reader.read(chunk.get_mut(len..).unwrap_or_default());
                match read {
                    Ok(n) => {
                        chunk.truncate(len + n);
                        self.eof = n == 0;
                        short = n < self.target;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => chunk.truncate(len),
                    Err(e) => {
                        chunk.truncate(len);
                        // The whole lines read so far go first, as a line by
                        // line reader would have handed them out.
                        let whole = whole_lines(chunk, self.max);
                        if whole == 0 {
                            return Err(e);
                        }
                        self.failed = Some(e);
                        chunk.truncate(whole);
                        return Ok(true);
                    }
                }
            }
            if self.eof {
                return Ok(!chunk.is_empty());
            }
            let whole = whole_lines(chunk, self.max);
            if whole > 0 {
                self.carry
                    .extend_from_slice(chunk.get(whole..).unwrap_or(&[]));
                chunk.truncate(whole);
                return Ok(true);
            }
            // Not one whole line yet (they are at most `max` bytes): read on.
            want = chunk.len() + self.target;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for_each_line(input, max, |l| {
            out.push(l.to_vec());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn splits_lines_and_keeps_every_byte() {
        assert_eq!(
            lines(b"a\nbb\n\nc", 100),
            vec![
                b"a\n".to_vec(),
                b"bb\n".to_vec(),
                b"\n".to_vec(),
                b"c".to_vec()
            ]
        );
        assert!(lines(b"", 100).is_empty());
    }

    #[test]
    fn long_lines_are_cut_at_whitespace() {
        let got = lines(b"aaaa bbbb cccc\n", 8);
        assert_eq!(got.concat(), b"aaaa bbbb cccc\n");
        assert!(got.iter().all(|l| l.len() <= 8));
        assert_eq!(got[0], b"aaaa ");
    }
}
