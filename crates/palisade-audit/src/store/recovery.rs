//! Reading a log directory back at open, and the repair of what a crash can
//! leave behind: a torn tail record, a segment whose header never reached
//! the disk, an interrupted payload erasure, a torn checkpoint frame.
//!
//! [`FileStore::open`](crate::FileStore::open) scans strictly and refuses a
//! directory that needs any of these repairs;
//! [`FileStore::recover`](crate::FileStore::recover) makes them and reports
//! each in a [`Recovery`].

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::record::Record;
use crate::store::file::{Index, Segment, list_segments, parse_checkpoint_frames};
use crate::store::segment::{
    FRAME_HEADER_LEN, FrameError, SEGMENT_HEADER_LEN, erased_sidecar, frame_to_record, masked_crc,
    parse_segment_header, read_frame,
};
use crate::{Error, Finding, Result};

/// What [`FileStore::recover`](crate::FileStore::recover) found and repaired
/// in a log directory after a crash.
///
/// Only what was never acknowledged is dropped: a record whose frame is cut
/// short at the very end of the last segment (its append had not returned),
/// a segment file whose header never reached the disk, a checkpoint frame
/// cut short. Damage anywhere else is not repaired: recovery fails with
/// [`Error::LogInvalid`] naming the record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[must_use = "a recovery that dropped bytes or finished erasures should be logged"]
pub struct Recovery {
    /// Records found (after recovery).
    pub records: u64,
    /// Bytes of an incomplete tail record (and of a segment or checkpoint
    /// frame cut short) that were dropped: writes torn by a crash, never
    /// acknowledged.
    pub dropped_tail_bytes: u64,
    /// Records whose interrupted payload erasure was completed.
    pub completed_erasures: Vec<u64>,
}

impl Recovery {
    /// Whether the directory needed no repair.
    pub fn is_clean(&self) -> bool {
        self.dropped_tail_bytes == 0 && self.completed_erasures.is_empty()
    }
}

/// Whether a scan may repair what a crash left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Refuse ([`Error::RecoveryNeeded`]) instead of repairing.
    Strict,
    /// Repair and report.
    Repair,
}

/// A scanned directory: the index of its records, the checkpoint file open
/// for appending, and what was repaired.
pub(crate) struct Scanned {
    pub(crate) index: Index,
    pub(crate) checkpoints: File,
    pub(crate) recovery: Recovery,
}

fn needed<T>(finding: Finding) -> Result<T> {
    Err(Error::RecoveryNeeded(finding))
}

/// Whether a valid frame holding record `index` or a later one starts
/// anywhere in `bytes`: then the damage is not a torn tail.
fn valid_frame_follows(bytes: &[u8], index: u64) -> bool {
    (1..bytes.len()).any(|at| {
        let Some(rest) = bytes.get(at..) else {
            return false;
        };
        read_frame(rest).is_ok_and(|f| Record::decode(f.record).is_ok_and(|r| r.index() >= index))
    })
}

fn le32_at(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0) as usize
}

/// Reads every segment of `dir` into an index, checking each record's
/// index and chain link; in [`Mode::Repair`] drops a torn tail and finishes
/// an interrupted erasure, in [`Mode::Strict`] refuses both. The caller
/// holds the directory's lock.
pub(crate) fn scan(dir: &Path, mode: Mode) -> Result<Scanned> {
    let mut recovery = Recovery::default();
    let mut index = Index::new(dir.to_path_buf());
    let listed = list_segments(dir)?;
    let count = listed.len();
    for (n, (first, path)) in listed.into_iter().enumerate() {
        let last = n + 1 == count;
        let mut bytes = Vec::new();
        File::open(&path)?.read_to_end(&mut bytes)?;
        if last && bytes.len() < SEGMENT_HEADER_LEN && first == index.next_index {
            // Created, but its header never reached the disk.
            if mode == Mode::Strict {
                return needed(Finding::at(
                    index.next_index,
                    format!("segment `{}` has an incomplete header", path.display()),
                ));
            }
            fs::remove_file(&path)?;
            recovery.dropped_tail_bytes += bytes.len() as u64;
            continue;
        }
        let header_first = parse_segment_header(&bytes).map_err(|_| {
            Error::LogInvalid(Finding::log(format!(
                "segment `{}` has a bad header",
                path.display()
            )))
        })?;
        if header_first != first || first != index.next_index {
            return Err(Error::LogInvalid(Finding::at(
                index.next_index,
                format!("segment `{}` does not start at this record", path.display()),
            )));
        }
        let seg_no = u32::try_from(index.segments.len()).map_err(|_| Error::IndexOutOfRange(0))?;
        let mut offset = SEGMENT_HEADER_LEN;
        let mut truncate_at = None;
        while offset < bytes.len() {
            let rest = bytes.get(offset..).unwrap_or_default();
            match read_frame(rest) {
                Ok(frame) => {
                    let record = frame_to_record(&frame).map_err(|e| {
                        Error::LogInvalid(Finding::at(index.next_index, e.to_string()))
                    })?;
                    index.admit(&record, seg_no, offset as u64, &frame)?;
                    offset += frame.len;
                }
                Err(FrameError::SidecarChecksumMismatch) => {
                    // An erasure interrupted by a crash: the record part is
                    // intact; finish erasing.
                    let at = index.next_index;
                    let record_len = le32_at(rest, 0);
                    let sidecar_len = le32_at(rest, 4);
                    let hl = FRAME_HEADER_LEN;
                    let record_bytes = rest.get(hl..hl + record_len).unwrap_or_default();
                    let decoded = Record::decode(record_bytes)
                        .map_err(|e| Error::LogInvalid(Finding::at(at, e.to_string())))?;
                    let tag = rest.get(hl + record_len).copied();
                    if decoded.payload_commitment().is_none() || !matches!(tag, Some(1 | 2)) {
                        return Err(Error::LogInvalid(Finding::at(
                            at,
                            FrameError::SidecarChecksumMismatch.describe(),
                        )));
                    }
                    if mode == Mode::Strict {
                        return needed(Finding::at(at, "a payload erasure was interrupted"));
                    }
                    let side = erased_sidecar(sidecar_len);
                    let crc = masked_crc(&side).to_le_bytes();
                    let file = OpenOptions::new().write(true).open(&path)?;
                    file.write_all_at(&side, (offset + hl + record_len) as u64)?;
                    file.write_all_at(&crc, offset as u64 + 12)?;
                    file.sync_data()?;
                    let mut patched = rest
                        .get(..hl + record_len + sidecar_len)
                        .unwrap_or_default()
                        .to_vec();
                    if let Some(dst) = patched.get_mut(hl + record_len..) {
                        dst.copy_from_slice(&side);
                    }
                    if let Some(dst) = patched.get_mut(12..16) {
                        dst.copy_from_slice(&crc);
                    }
                    let frame = read_frame(&patched)
                        .map_err(|e| Error::LogInvalid(Finding::at(at, e.describe())))?;
                    let record = frame_to_record(&frame)?;
                    recovery.completed_erasures.push(record.index());
                    index.admit(&record, seg_no, offset as u64, &frame)?;
                    offset += frame.len;
                }
                Err(e) => {
                    if !last || valid_frame_follows(rest, index.next_index) {
                        return Err(Error::LogInvalid(Finding::at(
                            index.next_index,
                            e.describe(),
                        )));
                    }
                    if mode == Mode::Strict {
                        return needed(Finding::at(index.next_index, e.describe()));
                    }
                    truncate_at = Some(offset);
                    break;
                }
            }
        }
        if let Some(at) = truncate_at {
            let file = OpenOptions::new().write(true).open(&path)?;
            recovery.dropped_tail_bytes += (bytes.len() - at) as u64;
            file.set_len(at as u64)?;
            file.sync_all()?;
            offset = at;
        }
        let file = OpenOptions::new().read(true).append(true).open(&path)?;
        index.current_len = offset as u64;
        index.segments.push(Segment {
            path,
            file: Arc::new(file),
        });
    }
    if index.segments.is_empty() {
        index.new_segment()?;
    }
    recovery.records = index.next_index;
    let (checkpoints, dropped) = open_checkpoints(dir, mode)?;
    recovery.dropped_tail_bytes += dropped;
    Ok(Scanned {
        index,
        checkpoints,
        recovery,
    })
}

/// Opens `DIR/checkpoints.log` for appending; a frame cut short at its end
/// is dropped (repair) or refused (strict).
fn open_checkpoints(dir: &Path, mode: Mode) -> Result<(File, u64)> {
    let path = dir.join(crate::format::CHECKPOINTS_FILE);
    let mut file = OpenOptions::new()
        .mode(0o600)
        .create(true)
        .read(true)
        .append(true)
        .open(&path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let (notes, valid) = parse_checkpoint_frames(&bytes);
    let dropped = (bytes.len() - valid) as u64;
    if dropped > 0 {
        if mode == Mode::Strict {
            return needed(Finding::log(format!(
                "the checkpoint file has an incomplete frame after checkpoint {}",
                notes.len()
            )));
        }
        file.set_len(valid as u64)?;
        file.sync_all()?;
    }
    Ok((file, dropped))
}
