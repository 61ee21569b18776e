//! Segment files: length + CRC32C framing of records and their payload
//! sidecars, specified in [`crate::format`].

use crate::Result;
use crate::error::malformed;
use crate::record::{Count, Disclosure, PayloadState, Record, Sink};

/// The magic bytes at the start of each segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"PALAUDIT";
/// The segment format version.
pub const SEGMENT_VERSION: u32 = 1;
/// Length of a segment file header.
pub const SEGMENT_HEADER_LEN: usize = 20;
/// Length of a frame header.
pub const FRAME_HEADER_LEN: usize = 16;
/// The longest record part accepted.
pub const MAX_RECORD_LEN: usize = 4 << 20;
/// The longest sidecar accepted.
pub const MAX_SIDECAR_LEN: usize = crate::record::MAX_PAYLOAD_LEN + 33;

const SIDE_NONE: u8 = 0;
const SIDE_PRESENT: u8 = 1;
const SIDE_ERASED: u8 = 2;

const MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB's masked CRC32C: a checksum of data that itself holds checksums
/// stays informative.
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// The header of a segment that starts at record `first`.
pub(crate) fn segment_header(first: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    let (magic, rest) = h.split_at_mut(8);
    magic.copy_from_slice(SEGMENT_MAGIC);
    let (version, index) = rest.split_at_mut(4);
    version.copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    index.copy_from_slice(&first.to_le_bytes());
    h
}

/// Parses a segment header and returns the first index.
pub(crate) fn parse_segment_header(bytes: &[u8]) -> Result<u64> {
    let bad = |why: &str| malformed("segment", why);
    let header = bytes
        .get(..SEGMENT_HEADER_LEN)
        .ok_or_else(|| bad("shorter than its header"))?;
    let (magic, rest) = header.split_at(8);
    if magic != SEGMENT_MAGIC {
        return Err(bad("bad magic"));
    }
    let (version, first) = rest.split_at(4);
    let version = u32::from_le_bytes(version.try_into().map_err(|_| bad("header"))?);
    if version != SEGMENT_VERSION {
        return Err(bad("unknown version"));
    }
    Ok(u64::from_le_bytes(
        first.try_into().map_err(|_| bad("header"))?,
    ))
}

/// Encodes the sidecar for a payload state; `erased_len` is the length an
/// erased sidecar keeps.
pub(crate) fn encode_sidecar(state: &PayloadState) -> Vec<u8> {
    let mut out = Vec::with_capacity(sidecar_len(state));
    put_sidecar(state, &mut out);
    out
}

/// The length of the sidecar [`put_sidecar`] writes for a payload state.
pub(crate) fn sidecar_len(state: &PayloadState) -> usize {
    let mut count = Count(0);
    put_sidecar(state, &mut count);
    count.0
}

/// Appends the sidecar for a payload state to `out`.
pub(crate) fn put_sidecar(state: &PayloadState, out: &mut impl Sink) {
    match state {
        PayloadState::None => out.put(&[SIDE_NONE]),
        PayloadState::Present(d) => {
            out.put(&[SIDE_PRESENT]);
            out.put(d.salt());
            out.put(d.json());
        }
        PayloadState::Erased => out.put(&[SIDE_ERASED]),
    }
}

/// Erases a present payload in a stored sidecar, in place: the tag becomes
/// "erased" and the salt and text zeros. Returns whether there was a
/// payload to erase.
pub(crate) fn erase_sidecar_in_place(sidecar: &mut [u8]) -> bool {
    match sidecar.split_first_mut() {
        Some((tag, rest)) if *tag == SIDE_PRESENT => {
            zeroize::Zeroize::zeroize(rest);
            *tag = SIDE_ERASED;
            true
        }
        _ => false,
    }
}

/// An erased sidecar of the same length as `len`.
pub(crate) fn erased_sidecar(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len.max(1)];
    if let Some(first) = out.first_mut() {
        *first = SIDE_ERASED;
    }
    out
}

/// Decodes a sidecar strictly.
pub(crate) fn decode_sidecar(bytes: &[u8]) -> Result<PayloadState> {
    let bad = |why: &str| malformed("payload", why);
    let (tag, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
    match *tag {
        SIDE_NONE if rest.is_empty() => Ok(PayloadState::None),
        SIDE_PRESENT => {
            let salt = rest.get(..32).ok_or_else(|| bad("truncated salt"))?;
            let json = rest.get(32..).unwrap_or_default();
            let mut s = [0u8; 32];
            s.copy_from_slice(salt);
            Ok(PayloadState::Present(Disclosure::new(s, json.to_vec())))
        }
        SIDE_ERASED if rest.iter().all(|&b| b == 0) => Ok(PayloadState::Erased),
        _ => Err(bad("bad state")),
    }
}

/// Checks a sidecar against the record's commitment without allocating;
/// returns a description of the problem, if any.
pub(crate) fn check_sidecar(
    sidecar: &[u8],
    commitment: Option<&crate::Hash>,
) -> Option<&'static str> {
    match (sidecar.split_first(), commitment) {
        (Some((&SIDE_NONE, [])), None) => None,
        (Some((&SIDE_PRESENT, rest)), Some(c)) => match rest.split_at_checked(32) {
            Some((salt, json)) => {
                let mut s = [0u8; 32];
                s.copy_from_slice(salt);
                if crate::record::payload_commitment(&s, json) == *c {
                    None
                } else {
                    Some("payload does not match its commitment")
                }
            }
            None => Some("payload salt is truncated"),
        },
        (Some((&SIDE_ERASED, rest)), Some(_)) if rest.iter().all(|&b| b == 0) => None,
        (Some((&SIDE_NONE | &SIDE_PRESENT | &SIDE_ERASED, _)), _) => {
            Some("payload state does not match the record")
        }
        _ => Some("payload state is malformed"),
    }
}

/// Encodes one frame for `record`.
pub(crate) fn encode_frame(record_bytes: &[u8], sidecar: &[u8], out: &mut Vec<u8>) {
    let rl = u32::try_from(record_bytes.len()).unwrap_or(u32::MAX);
    let sl = u32::try_from(sidecar.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&rl.to_le_bytes());
    out.extend_from_slice(&sl.to_le_bytes());
    out.extend_from_slice(&masked_crc(record_bytes).to_le_bytes());
    out.extend_from_slice(&masked_crc(sidecar).to_le_bytes());
    out.extend_from_slice(record_bytes);
    out.extend_from_slice(sidecar);
}

/// One frame as found in a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The canonical encoding of the record.
    pub record: &'a [u8],
    /// The payload sidecar.
    pub sidecar: &'a [u8],
    /// Total length of the frame, header included.
    pub len: usize,
}

/// Why a frame could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The bytes end inside the frame (a torn write at the tail).
    #[error("frame is incomplete (torn write)")]
    Incomplete,
    /// Declared lengths are zero or exceed the limits.
    #[error("frame length is out of range")]
    LengthOutOfRange,
    /// The record part's checksum does not match.
    #[error("record checksum mismatch")]
    RecordChecksumMismatch,
    /// The sidecar's checksum does not match.
    #[error("payload checksum mismatch")]
    SidecarChecksumMismatch,
}

impl FrameError {
    /// The problem in words.
    pub fn describe(self) -> &'static str {
        match self {
            FrameError::Incomplete => "frame is incomplete (torn write)",
            FrameError::LengthOutOfRange => "frame length is out of range",
            FrameError::RecordChecksumMismatch => "record checksum mismatch",
            FrameError::SidecarChecksumMismatch => "payload checksum mismatch",
        }
    }
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// Reads the frame at the start of `bytes`.
pub fn read_frame(bytes: &[u8]) -> std::result::Result<Frame<'_>, FrameError> {
    let (Some(rl), Some(sl), Some(rc), Some(sc)) = (
        le32(bytes, 0),
        le32(bytes, 4),
        le32(bytes, 8),
        le32(bytes, 12),
    ) else {
        return Err(FrameError::Incomplete);
    };
    let (rl, sl) = (rl as usize, sl as usize);
    if rl == 0 || rl > MAX_RECORD_LEN || sl == 0 || sl > MAX_SIDECAR_LEN {
        return Err(FrameError::LengthOutOfRange);
    }
    let total = FRAME_HEADER_LEN + rl + sl;
    let body = bytes
        .get(FRAME_HEADER_LEN..total)
        .ok_or(FrameError::Incomplete)?;
    let (record, sidecar) = body.split_at(rl);
    if masked_crc(record) != rc {
        return Err(FrameError::RecordChecksumMismatch);
    }
    if masked_crc(sidecar) != sc {
        return Err(FrameError::SidecarChecksumMismatch);
    }
    Ok(Frame {
        record,
        sidecar,
        len: total,
    })
}

/// Decodes a frame into a record with its payload state.
pub(crate) fn frame_to_record(frame: &Frame<'_>) -> Result<Record> {
    record_from_parts(frame.record, frame.sidecar)
}

/// Decodes a record and its sidecar, checking the payload against the
/// commitment.
pub(crate) fn record_from_parts(record: &[u8], sidecar: &[u8]) -> Result<Record> {
    let record = Record::decode(record)?;
    if let Some(problem) = check_sidecar(sidecar, record.payload_commitment()) {
        return Err(malformed("payload", problem));
    }
    let state = decode_sidecar(sidecar)?;
    Ok(record.with_payload_state(state))
}

/// Encodes records as a whole segment starting at `first` (the inverse of
/// [`parse_segment`], erased payloads in their shortest form).
pub fn encode_segment(first: u64, records: &[Record]) -> Vec<u8> {
    let mut out = segment_header(first).to_vec();
    for r in records {
        encode_frame(&r.encode(), &encode_sidecar(r.payload_state()), &mut out);
    }
    out
}

/// Splits a whole segment (header included) into records, strictly: any bad
/// frame is an error, as is a record out of sequence. The function the
/// `audit_segment` fuzz target drives.
pub fn parse_segment(bytes: &[u8]) -> Result<(u64, Vec<Record>)> {
    let first = parse_segment_header(bytes)?;
    let mut rest = bytes.get(SEGMENT_HEADER_LEN..).unwrap_or_default();
    let mut records = Vec::new();
    while !rest.is_empty() {
        let frame = read_frame(rest).map_err(|e| malformed("segment", e.describe()))?;
        let record = frame_to_record(&frame)?;
        let expected = first.saturating_add(records.len() as u64);
        if record.index() != expected {
            return Err(malformed(
                "segment",
                format!(
                    "record `{}` where `{expected}` was expected",
                    record.index()
                ),
            ));
        }
        records.push(record);
        rest = rest.get(frame.len..).unwrap_or_default();
    }
    Ok((first, records))
}
