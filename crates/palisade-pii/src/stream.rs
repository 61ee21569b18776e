//! Line-by-line reading with bounded memory.

use std::io::{BufRead, Read};

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
