//! Streaming encryption for files and backups: STREAM (Hoang, Reyhanitabar,
//! Rogaway, Vizár) over ChaCha20-Poly1305 in 64 KiB chunks, as in age.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::num::NonZeroUsize;
use std::sync::Mutex;

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::aead::{self, Backend, ChunkKey, TAG_LEN, Tag};
use crate::key::{KEY_LEN, SecretKey, fill_random};
use crate::{Context, Error, Keyring, Result};

/// Magic bytes that open a sealed stream.
pub(crate) const MAGIC: &[u8; 4] = b"PCST";
/// Stream format version.
pub(crate) const STREAM_VERSION: u8 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK_LEN: usize = 64 * 1024;
const SALT_LEN: usize = 32;
const COMMITMENT_LEN: usize = 32;
/// Header bytes covered by the key derivation: magic, version, key id, salt.
const PREFIX_LEN: usize = 4 + 1 + 4 + SALT_LEN;
/// Whole header: prefix and commitment.
pub const STREAM_HEADER_LEN: usize = PREFIX_LEN + COMMITMENT_LEN;
const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;

const INFO_KEY: &[u8] = b"palisade-crypt v1 stream payload key";
const INFO_COMMIT: &[u8] = b"palisade-crypt v1 stream commitment";

fn derive(
    key: &SecretKey,
    prefix: &[u8; PREFIX_LEN],
    context: &Context,
) -> Result<(Zeroizing<[u8; KEY_LEN]>, [u8; COMMITMENT_LEN])> {
    let salt = prefix
        .get(PREFIX_LEN - SALT_LEN..)
        .ok_or(Error::CiphertextMalformed("stream header"))?;
    let hkdf = Hkdf::<Sha256>::new(Some(salt), key.as_bytes());
    let context = context.encode();
    let mut payload_key = Zeroizing::new([0u8; KEY_LEN]);
    let mut commitment = [0u8; COMMITMENT_LEN];
    hkdf.expand_multi_info(&[INFO_KEY, prefix, &context], payload_key.as_mut())
        .and_then(|()| hkdf.expand_multi_info(&[INFO_COMMIT, prefix, &context], &mut commitment))
        .map_err(|_| Error::CiphertextMalformed("key derivation length"))?;
    Ok((payload_key, commitment))
}

/// Chunk nonce: 11-byte big-endian counter, then 0x01 for the final chunk
/// and 0x00 otherwise.
fn nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// Reads until every buffer is full or the input ends; returns the bytes
/// read. One system call for all buffers where the reader supports it.
fn read_full_vectored(
    reader: &mut impl Read,
    mut bufs: &mut [IoSliceMut<'_>],
) -> io::Result<usize> {
    let mut filled = 0;
    IoSliceMut::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let room: usize = bufs.iter().map(|buf| buf.len()).sum();
        match reader.read_vectored(bufs) {
            Ok(0) => break,
            Ok(n) if n <= room => {
                filled += n;
                IoSliceMut::advance_slices(&mut bufs, n);
            }
            Ok(_) => return Err(io::Error::other("a reader returned more bytes than asked")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Writes every buffer; one system call for all where the writer supports it.
fn write_all_vectored(writer: &mut impl Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let left: usize = bufs.iter().map(|buf| buf.len()).sum();
        match writer.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) if n <= left => IoSlice::advance_slices(&mut bufs, n),
            Ok(_) => return Err(io::Error::other("a writer took more bytes than given")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn slice_mut(buf: &mut [u8], range: std::ops::Range<usize>) -> Result<&mut [u8]> {
    buf.get_mut(range)
        .ok_or(Error::CiphertextMalformed("chunk bounds"))
}

/// Chunks each thread seals or opens per batch: 8 x 64 KiB.
const CHUNKS_PER_THREAD: usize = 8;
/// Most threads a stream uses, whatever the caller asks.
const MAX_THREADS: usize = 64;

/// Chunks per batch for `threads` threads.
fn batch_chunks(threads: NonZeroUsize) -> usize {
    threads.get().min(MAX_THREADS) * CHUNKS_PER_THREAD
}

/// One chunk's buffer. Sealing: the plaintext chunk, then room for its tag.
/// Opening: room for the plaintext, then the sealed chunk (decrypting out of
/// place keeps the sealed chunk for a second try with the other flag).
type Slot = Zeroizing<Vec<u8>>;

/// Where an opener's slot holds the sealed chunk.
const SEALED_AT: usize = CHUNK_LEN;

/// Where a batch reads its chunks into its slots.
#[derive(Clone, Copy)]
struct Layout {
    /// Where the chunk starts in the slot.
    offset: usize,
    /// Bytes per chunk (the stream's last chunk may be shorter).
    chunk_len: usize,
    /// Bytes per slot.
    slot_len: usize,
}

/// Sealing: the plaintext chunk, then room for its tag.
const SEAL: Layout = Layout {
    offset: 0,
    chunk_len: CHUNK_LEN,
    slot_len: SEALED_CHUNK_LEN,
};

/// Opening: room for the plaintext, then the sealed chunk.
const OPEN: Layout = Layout {
    offset: SEALED_AT,
    chunk_len: SEALED_CHUNK_LEN,
    slot_len: SEALED_AT + SEALED_CHUNK_LEN,
};

/// Slot `index`, of `len` bytes, allocating the slots up to it on first use
/// (so a short stream never allocates a whole batch).
fn slot(slots: &mut Vec<Slot>, index: usize, len: usize) -> Result<&mut Slot> {
    while slots.len() <= index {
        slots.push(Zeroizing::new(vec![0u8; len]));
    }
    slots
        .get_mut(index)
        .ok_or(Error::CiphertextMalformed("chunk bounds"))
}

/// Runs `work(index, slot)` over every slot on up to `threads` threads
/// (the caller's included), which take chunks from a shared queue, while the
/// caller first runs `meanwhile` (reading the next batch). Returns the
/// lowest-indexed chunk that failed, with its error, and what `meanwhile`
/// returned.
fn each_chunk<F, M, T>(
    threads: usize,
    slots: &mut [Slot],
    work: &F,
    meanwhile: M,
) -> (Option<(usize, Error)>, T)
where
    F: Fn(usize, &mut [u8]) -> Result<()> + Sync,
    M: FnOnce() -> T,
{
    let count = slots.len();
    if threads <= 1 || count <= 1 {
        let side = meanwhile();
        let failure = slots
            .iter_mut()
            .enumerate()
            .find_map(|(i, slot)| work(i, slot.as_mut_slice()).err().map(|e| (i, e)));
        return (failure, side);
    }
    let queue = Mutex::new(slots.iter_mut().enumerate());
    let drain = || {
        let mut done = Vec::new();
        while let Some((i, slot)) = queue.lock().ok().and_then(|mut queue| queue.next()) {
            done.push((i, work(i, slot.as_mut_slice())));
        }
        done
    };
    let (mut done, side) = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.min(count))
            .map(|_| scope.spawn(drain))
            .collect();
        let side = meanwhile();
        let mut done = drain();
        for helper in helpers {
            // A helper that panicked leaves its chunks without a result.
            done.extend(helper.join().unwrap_or_default());
        }
        (done, side)
    });
    done.sort_unstable_by_key(|&(i, _)| i);
    let mut done = done.into_iter();
    for index in 0..count {
        match done.next() {
            Some((i, Ok(()))) if i == index => {}
            Some((i, Err(e))) if i == index => return (Some((index, e)), side),
            _ => {
                let stopped = io::Error::other("a stream worker thread stopped");
                return (Some((index, Error::IoFailed(stopped))), side);
            }
        }
    }
    (None, side)
}

/// A batch of chunks read from a stream: plaintext chunks to seal or sealed
/// chunks to open.
#[derive(Default)]
struct Batch {
    slots: Vec<Slot>,
    /// Each chunk's length, and whether a byte follows it (a chunk with none
    /// after it is the stream's final chunk).
    chunks: Vec<(usize, bool)>,
}

impl Batch {
    /// Reads up to `batch` chunks (the last may be shorter) into the slots
    /// as `layout` says; `carry` carries the byte read past the previous
    /// batch. Once the slots exist, the whole batch is one vectored read;
    /// until then they are allocated as the input turns out to need them
    /// (1, 2, 4, … chunks), so a short stream allocates little.
    fn read(
        &mut self,
        reader: &mut impl Read,
        carry: &mut Option<u8>,
        batch: usize,
        layout: Layout,
    ) -> Result<()> {
        self.chunks.clear();
        let mut have = 0;
        while have < batch && (have == 0 || self.more()) {
            let next = if self.slots.len() >= batch {
                batch
            } else {
                (have * 2).clamp(1, batch)
            };
            self.fill(reader, carry, have..next, layout)?;
            have = next;
        }
        Ok(())
    }

    /// Reads chunks `range`, and one byte past them, which tells whether
    /// more input follows (and goes to `carry`).
    fn fill(
        &mut self,
        reader: &mut impl Read,
        carry: &mut Option<u8>,
        range: std::ops::Range<usize>,
        layout: Layout,
    ) -> Result<()> {
        let Layout {
            offset,
            chunk_len,
            slot_len,
        } = layout;
        for index in range.clone() {
            slot(&mut self.slots, index, slot_len)?;
        }
        let slots = self
            .slots
            .get_mut(range.clone())
            .ok_or(Error::CiphertextMalformed("chunk bounds"))?;
        let mut peek = [0u8; 1];
        let mut carried = 0;
        let mut bufs = Vec::with_capacity(range.len() + 1);
        for slot in slots {
            let mut start = offset;
            if let Some(byte) = carry.take() {
                *slice_mut(slot, offset..offset + 1)?
                    .first_mut()
                    .ok_or(Error::CiphertextMalformed("chunk bounds"))? = byte;
                start += 1;
                carried = 1;
            }
            bufs.push(IoSliceMut::new(slice_mut(slot, start..offset + chunk_len)?));
        }
        bufs.push(IoSliceMut::new(&mut peek));
        let total = carried + read_full_vectored(reader, &mut bufs)?;
        drop(bufs);
        let capacity = range.len() * chunk_len;
        let more = total > capacity;
        if more {
            *carry = Some(peek[0]);
        }
        // Full chunks, then what is left; at least one chunk (the only,
        // empty chunk of an empty stream).
        let in_chunks = total.min(capacity);
        let count = in_chunks.div_ceil(chunk_len).max(1);
        for index in 0..count {
            let len = in_chunks.saturating_sub(index * chunk_len).min(chunk_len);
            self.chunks.push((len, more || index + 1 < count));
        }
        Ok(())
    }

    /// Whether input follows the batch.
    fn more(&self) -> bool {
        self.chunks.last().is_some_and(|&(_, more)| more)
    }
}

impl Keyring {
    /// Encrypts everything `reader` yields into `writer` under the primary
    /// key, bound to `context`, in constant memory; returns the number of
    /// plaintext bytes. One thread; see
    /// [`seal_stream_parallel`](Keyring::seal_stream_parallel).
    ///
    /// Format (see the README): a 73-byte header (magic `PCST`, version, key
    /// id, random salt, key commitment), then 64 KiB chunks, each sealed with
    /// ChaCha20-Poly1305 under a key derived from the keyring key, the header
    /// and the context, with nonce = 11-byte counter || last-chunk flag.
    pub fn seal_stream(
        &self,
        context: &Context,
        reader: impl Read,
        writer: impl Write,
    ) -> Result<u64> {
        self.seal_stream_parallel(context, reader, writer, NonZeroUsize::MIN)
    }

    /// [`seal_stream`](Keyring::seal_stream) with the chunks of each batch
    /// (8 per thread) sealed on up to `threads` threads (at most 64) while
    /// the next batch is read: the same output, in constant memory of two
    /// batches (1 MiB per thread). Chunks are independent under STREAM, so
    /// this scales with cores until reading and writing dominate.
    pub fn seal_stream_parallel(
        &self,
        context: &Context,
        reader: impl Read,
        writer: impl Write,
        threads: NonZeroUsize,
    ) -> Result<u64> {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        self.seal_stream_with_salt(&salt, context, reader, writer, threads)
    }

    /// `seal_stream_parallel` with a given salt: for known-answer tests.
    pub(crate) fn seal_stream_with_salt(
        &self,
        salt: &[u8; SALT_LEN],
        context: &Context,
        reader: impl Read,
        writer: impl Write,
        threads: NonZeroUsize,
    ) -> Result<u64> {
        self.seal_stream_with::<aead::Active>(salt, context, reader, writer, threads)
    }

    /// `seal_stream_with_salt` with a given backend: for differential tests.
    pub(crate) fn seal_stream_with<B: Backend>(
        &self,
        salt: &[u8; SALT_LEN],
        context: &Context,
        mut reader: impl Read,
        mut writer: impl Write,
        threads: NonZeroUsize,
    ) -> Result<u64> {
        let id = self.primary_id();
        let key = &self.primary_key()?.key;
        let mut header = [0u8; STREAM_HEADER_LEN];
        let mut prefix = [0u8; PREFIX_LEN];
        prefix[..4].copy_from_slice(MAGIC);
        prefix[4] = STREAM_VERSION;
        prefix[5..9].copy_from_slice(&id.to_be_bytes());
        prefix[9..].copy_from_slice(salt);
        let (payload_key, commitment) = derive(key, &prefix, context)?;
        let payload_key = B::chunk_key(&payload_key)?;
        header[..PREFIX_LEN].copy_from_slice(&prefix);
        header[PREFIX_LEN..].copy_from_slice(&commitment);
        writer.write_all(&header)?;

        let batch = batch_chunks(threads);
        let mut carry = None;
        let mut current = Batch::default();
        let mut next = Batch::default();
        current.read(&mut reader, &mut carry, batch, SEAL)?;
        let mut counter = 0u64;
        let mut total = 0u64;
        loop {
            let more = current.more();
            let Batch { slots, chunks } = &mut current;
            let count = chunks.len();
            let first_counter = counter;
            let seal = |index: usize, slot: &mut [u8]| -> Result<()> {
                let (len, more) = chunks.get(index).copied().unwrap_or((0, false));
                let tag = payload_key.seal(
                    &nonce(first_counter + index as u64, !more),
                    &[],
                    slice_mut(slot, 0..len)?,
                )?;
                slice_mut(slot, len..len + TAG_LEN)?.copy_from_slice(&tag);
                Ok(())
            };
            let batch_slots = slots
                .get_mut(..count)
                .ok_or(Error::CiphertextMalformed("chunk bounds"))?;
            // The next batch is read while this one is sealed.
            let (failure, read) = each_chunk(threads.get(), batch_slots, &seal, || {
                if more {
                    next.read(&mut reader, &mut carry, batch, SEAL)
                } else {
                    Ok(())
                }
            });
            if let Some((_, e)) = failure {
                return Err(e);
            }
            let mut sealed = Vec::with_capacity(count);
            for (slot, &(len, _)) in slots.iter().zip(chunks.iter()) {
                let chunk = slot
                    .get(..len + TAG_LEN)
                    .ok_or(Error::CiphertextMalformed("chunk bounds"))?;
                sealed.push(IoSlice::new(chunk));
                total += len as u64;
            }
            write_all_vectored(&mut writer, &mut sealed)?;
            if !more {
                break;
            }
            read?;
            counter += count as u64;
            std::mem::swap(&mut current, &mut next);
        }
        writer.flush()?;
        Ok(total)
    }

    /// Decrypts a sealed stream from `reader` into `writer` in constant
    /// memory; returns the number of plaintext bytes. One thread; see
    /// [`open_stream_parallel`](Keyring::open_stream_parallel).
    ///
    /// Each chunk is written only after it authenticates, but a stream is
    /// only known to be complete when this returns `Ok`: write to a
    /// temporary file and move it into place on success. Errors:
    /// [`Error::StreamTruncated`] when the stream stops before its final
    /// chunk, [`Error::StreamTrailingData`] when bytes follow it,
    /// [`Error::Unauthenticated`] for a wrong key or context, reordered,
    /// modified or spliced chunks.
    pub fn open_stream(
        &self,
        context: &Context,
        reader: impl Read,
        writer: impl Write,
    ) -> Result<u64> {
        self.open_stream_parallel(context, reader, writer, NonZeroUsize::MIN)
    }

    /// [`open_stream`](Keyring::open_stream) with the chunks of each batch
    /// (8 per thread) opened on up to `threads` threads (at most 64) while
    /// the next batch is read: the same output and the same errors, every
    /// chunk before a bad one written, in constant memory of two batches
    /// (2 MiB per thread: each chunk is decrypted out of place).
    pub fn open_stream_parallel(
        &self,
        context: &Context,
        reader: impl Read,
        writer: impl Write,
        threads: NonZeroUsize,
    ) -> Result<u64> {
        self.open_stream_with::<aead::Active>(context, reader, writer, threads)
    }

    /// `open_stream_parallel` with a given backend: for differential tests.
    pub(crate) fn open_stream_with<B: Backend>(
        &self,
        context: &Context,
        mut reader: impl Read,
        mut writer: impl Write,
        threads: NonZeroUsize,
    ) -> Result<u64> {
        let mut header = [0u8; STREAM_HEADER_LEN];
        let got = read_full(&mut reader, &mut header)?;
        let parsed = parse_header(header.get(..got).unwrap_or_default())?;
        let key = &self.decryption_key(parsed.key_id)?.key;
        let (payload_key, commitment) = derive(key, &parsed.prefix, context)?;
        if !bool::from(commitment.ct_eq(&parsed.commitment)) {
            return Err(Error::Unauthenticated);
        }
        let payload_key = B::chunk_key(&payload_key)?;

        let batch = batch_chunks(threads);
        let mut carry = None;
        let mut current = Batch::default();
        let mut next = Batch::default();
        current.read(&mut reader, &mut carry, batch, OPEN)?;
        let mut counter = 0u64;
        let mut total = 0u64;
        loop {
            let more = current.more();
            let Batch { slots, chunks } = &mut current;
            let count = chunks.len();
            // Only the stream's final chunk can be short: a few bytes
            // instead of a tag, or empty after other chunks.
            let final_len = chunks.last().map_or(0, |&(len, _)| len);
            let shape = if more {
                None
            } else if final_len < TAG_LEN {
                Some(Error::StreamTruncated)
            } else if final_len == TAG_LEN && counter + count as u64 > 1 {
                Some(Error::CiphertextMalformed(
                    "empty final chunk after other chunks",
                ))
            } else {
                None
            };
            let openable = count - usize::from(shape.is_some());
            let first_counter = counter;
            let open = |index: usize, slot: &mut [u8]| -> Result<()> {
                let (sealed, more) = chunks.get(index).copied().unwrap_or((0, false));
                let len = sealed.saturating_sub(TAG_LEN);
                let tag: Tag = slot
                    .get(SEALED_AT + len..SEALED_AT + len + TAG_LEN)
                    .and_then(|tag| tag.try_into().ok())
                    .ok_or(Error::CiphertextMalformed("chunk bounds"))?;
                // The plaintext goes to the slot's start, before the sealed
                // chunk: a failed open leaves the sealed chunk untouched.
                let buf = slice_mut(slot, 0..SEALED_AT + len)?;
                let mut attempt = |last: bool| {
                    payload_key.open_within(
                        &nonce(first_counter + index as u64, last),
                        &[],
                        buf,
                        SEALED_AT,
                        &tag,
                    )
                };
                if attempt(!more).is_err() {
                    // Tell truncation and extension apart from tampering:
                    // try the other flag. Only a full chunk can be either.
                    let other = len == CHUNK_LEN && attempt(more).is_ok();
                    return Err(match (other, more) {
                        (true, false) => Error::StreamTruncated,
                        (true, true) => Error::StreamTrailingData,
                        (false, _) => Error::Unauthenticated,
                    });
                }
                Ok(())
            };
            let batch_slots = slots
                .get_mut(..openable)
                .ok_or(Error::CiphertextMalformed("chunk bounds"))?;
            // The next batch is read while this one is opened.
            let (failure, read) = each_chunk(threads.get(), batch_slots, &open, || {
                if more {
                    next.read(&mut reader, &mut carry, batch, OPEN)
                } else {
                    Ok(())
                }
            });
            // Every chunk before the first bad one is written, as if the
            // chunks had been opened one by one.
            let good = failure.as_ref().map_or(openable, |&(index, _)| index);
            let mut opened = Vec::with_capacity(good);
            for (slot, &(sealed, _)) in slots.iter().zip(chunks.iter()).take(good) {
                let len = sealed.saturating_sub(TAG_LEN);
                let chunk = slot
                    .get(..len)
                    .ok_or(Error::CiphertextMalformed("chunk bounds"))?;
                opened.push(IoSlice::new(chunk));
                total += len as u64;
            }
            write_all_vectored(&mut writer, &mut opened)?;
            if let Some(e) = failure.map(|(_, e)| e).or(shape) {
                return Err(e);
            }
            if !more {
                break;
            }
            read?;
            counter += count as u64;
            std::mem::swap(&mut current, &mut next);
        }
        writer.flush()?;
        Ok(total)
    }
}

struct Header {
    prefix: [u8; PREFIX_LEN],
    key_id: u32,
    commitment: [u8; COMMITMENT_LEN],
}

/// Parses a stream header strictly: exact length, magic, version.
fn parse_header(bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 5 || bytes.get(..4) != Some(MAGIC) {
        return Err(Error::CiphertextMalformed("not a palisade-crypt stream"));
    }
    let version = bytes.get(4).copied().unwrap_or(0);
    if version != STREAM_VERSION {
        return Err(Error::VersionUnsupported(version));
    }
    let header: &[u8; STREAM_HEADER_LEN] = bytes
        .try_into()
        .map_err(|_| Error::CiphertextMalformed("stream header is truncated"))?;
    let (prefix, commitment) = header.split_at(PREFIX_LEN);
    let mut id = [0u8; 4];
    id.copy_from_slice(prefix.get(5..9).unwrap_or(&[0; 4]));
    Ok(Header {
        prefix: prefix
            .try_into()
            .map_err(|_| Error::CiphertextMalformed("stream header"))?,
        key_id: u32::from_be_bytes(id),
        commitment: commitment
            .try_into()
            .map_err(|_| Error::CiphertextMalformed("stream header"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use sha2::Digest;

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .unwrap()
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 31 + 7) % 256) as u8).collect()
    }

    /// The sealed bytes do not depend on the thread count: 1 to 3 threads
    /// over streams that end inside, at and past batch boundaries.
    #[test]
    fn threads_seal_the_same_bytes() {
        let keyring = Keyring::from_key_bytes(&[(1, [5; 32])], [0; 32]).unwrap();
        let context = Context::new().with("backup", "b");
        for len in [
            0,
            1,
            8 * CHUNK_LEN,
            8 * CHUNK_LEN + 1,
            16 * CHUNK_LEN,
            25 * CHUNK_LEN + 9,
        ] {
            let plaintext = pattern(len);
            let sealed: Vec<Vec<u8>> = (1..=3)
                .map(|threads| {
                    let mut out = Vec::new();
                    keyring
                        .seal_stream_with_salt(
                            &[1; SALT_LEN],
                            &context,
                            &plaintext[..],
                            &mut out,
                            NonZeroUsize::new(threads).unwrap(),
                        )
                        .unwrap();
                    out
                })
                .collect();
            assert_eq!(
                sealed[0].len(),
                STREAM_HEADER_LEN + len + 16 * len.div_ceil(CHUNK_LEN).max(1)
            );
            assert!(sealed[1] == sealed[0] && sealed[2] == sealed[0], "{len}");
        }
    }

    /// Known answers from `tests/data/make_kat.py` (pyca/cryptography's
    /// ChaCha20-Poly1305 and hashlib's HMAC): exact bytes for chunk counts
    /// 1 to 4, including a plaintext of exactly one chunk.
    #[test]
    fn known_answers_from_the_independent_implementation() {
        let kat: Value = serde_json::from_str(include_str!("../tests/data/kat.json")).unwrap();
        let key: [u8; 32] = hex(kat["key"].as_str().unwrap()).try_into().unwrap();
        let salt: [u8; SALT_LEN] = hex(kat["salt"].as_str().unwrap()).try_into().unwrap();
        let mut context = Context::new();
        for (label, value) in kat["context"].as_object().unwrap() {
            context = context.with(label, value.as_str().unwrap());
        }
        let streams = kat["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 6);
        for stream in streams {
            let key_id = u32::try_from(stream["key_id"].as_u64().unwrap()).unwrap();
            let len = usize::try_from(stream["plaintext_len"].as_u64().unwrap()).unwrap();
            let keyring = Keyring::from_key_bytes(&[(key_id, key)], [0; 32]).unwrap();
            let plaintext = pattern(len);
            let mut sealed = Vec::new();
            keyring
                .seal_stream_with_salt(
                    &salt,
                    &context,
                    &plaintext[..],
                    &mut sealed,
                    NonZeroUsize::MIN,
                )
                .unwrap();
            assert_eq!(
                sealed.len() as u64,
                stream["sealed_len"].as_u64().unwrap(),
                "{len}"
            );
            let digest = data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&sealed));
            assert_eq!(digest, stream["sealed_sha256"].as_str().unwrap(), "{len}");
            if let Some(full) = stream["sealed"].as_str() {
                assert_eq!(sealed, hex(full));
            }
            let mut opened = Vec::new();
            keyring
                .open_stream(&context, &sealed[..], &mut opened)
                .unwrap();
            assert_eq!(opened, plaintext);
        }
    }

    /// The ring backend seals the pure-Rust backend's bytes, each opens the
    /// other's, and damaged streams give both the same output and error.
    #[cfg(feature = "ring")]
    #[test]
    fn backends_agree_on_bytes_and_on_damaged_streams() {
        use crate::aead::RustCrypto;
        let keyring = Keyring::from_key_bytes(&[(3, [8; 32])], [0; 32]).unwrap();
        let context = Context::new().with("backup", "d");
        let open = |backend_is_ring: bool, sealed: &[u8], threads: usize| {
            let mut out = Vec::new();
            let threads = NonZeroUsize::new(threads).unwrap();
            let result = if backend_is_ring {
                keyring.open_stream_with::<aead::Active>(&context, sealed, &mut out, threads)
            } else {
                keyring.open_stream_with::<RustCrypto>(&context, sealed, &mut out, threads)
            };
            (out, result.map_err(|e| format!("{e:?}")))
        };
        for len in [
            0,
            1,
            CHUNK_LEN,
            CHUNK_LEN + 1,
            2 * CHUNK_LEN,
            9 * CHUNK_LEN + 5,
        ] {
            let plaintext = pattern(len);
            let mut by_ring = Vec::new();
            let mut by_rust = Vec::new();
            keyring
                .seal_stream_with::<aead::Active>(
                    &[2; SALT_LEN],
                    &context,
                    &plaintext[..],
                    &mut by_ring,
                    NonZeroUsize::MIN,
                )
                .unwrap();
            keyring
                .seal_stream_with::<RustCrypto>(
                    &[2; SALT_LEN],
                    &context,
                    &plaintext[..],
                    &mut by_rust,
                    NonZeroUsize::MIN,
                )
                .unwrap();
            assert!(by_ring == by_rust, "{len}");
            assert_eq!(open(true, &by_rust, 1), (plaintext.clone(), Ok(len as u64)));
            assert_eq!(
                open(false, &by_ring, 2),
                (plaintext.clone(), Ok(len as u64))
            );

            let chunks = len.div_ceil(CHUNK_LEN).max(1);
            let mut damaged = vec![
                // Cut mid-chunk; bytes after the final chunk.
                by_ring[..by_ring.len() - 1].to_vec(),
                [&by_ring[..], &[0u8; 17][..]].concat(),
                [&by_ring[..], &by_ring[STREAM_HEADER_LEN..]].concat(),
            ];
            if chunks > 1 {
                // Cut after the first chunk.
                damaged.push(by_ring[..STREAM_HEADER_LEN + SEALED_CHUNK_LEN].to_vec());
            }
            for chunk in 0..chunks {
                let mut flipped = by_ring.clone();
                flipped[STREAM_HEADER_LEN + chunk * SEALED_CHUNK_LEN] ^= 4;
                damaged.push(flipped);
            }
            for sealed in &damaged {
                for threads in [1, 2] {
                    let ring = open(true, sealed, threads);
                    assert!(ring.1.is_err(), "{len}: damaged stream opened");
                    assert!(ring == open(false, sealed, threads), "{len}: {:?}", ring.1);
                }
            }
        }
    }
}
