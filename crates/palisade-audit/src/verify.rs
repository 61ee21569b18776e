//! The offline verifier: framing, chain, tree, payload commitments and
//! checkpoint signatures, naming the first bad record and why.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::format::{CHECKPOINTS_FILE, ORIGIN_FILE};
use crate::proof::checkpoint::{Checkpoint, CheckpointVerifier, parse_checkpoint_unverified};
use crate::proof::merkle::MerkleTree;
use crate::record::Record;
use crate::store::file::{list_segments, parse_checkpoint_frames};
use crate::store::segment::{
    SEGMENT_HEADER_LEN, check_sidecar, encode_sidecar, parse_segment_header, read_frame,
};
use crate::{Error, Finding, Hash, Result};

/// The action of the event that records an erasure.
pub const ERASE_ACTION: &str = "audit.erase";

/// What a successful verification of a whole log established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[must_use = "the report says how many records and checkpoints were verified"]
pub struct LogReport {
    /// Number of records.
    pub records: u64,
    /// Merkle root over all records.
    pub root: Hash,
    /// Number of checkpoints whose signature was checked.
    pub checkpoints_verified: u64,
    /// The latest verified checkpoint.
    pub latest_checkpoint: Option<Checkpoint>,
    /// Records with a payload present.
    pub payloads_present: u64,
    /// Records whose payload was erased (each covered by an erasure event).
    pub payloads_erased: u64,
}

fn fail<T>(finding: Finding) -> Result<T> {
    Err(Error::LogInvalid(finding))
}

/// Checks records one by one: index, chain, payload, tree.
#[derive(Debug, Default)]
pub(crate) struct ChainChecker {
    pub(crate) next: u64,
    pub(crate) last: Hash,
    pub(crate) tree: MerkleTree,
    present: u64,
    erased: Vec<(u64, Vec<String>)>,
    erasures: HashMap<String, u64>,
}

impl ChainChecker {
    pub(crate) fn starting_at(index: u64, previous: Hash) -> ChainChecker {
        ChainChecker {
            next: index,
            last: previous,
            ..ChainChecker::default()
        }
    }

    /// Checks one record given as its canonical bytes and sidecar.
    pub(crate) fn push(&mut self, record: &[u8], sidecar: &[u8]) -> Result<()> {
        let facts = examine(record, sidecar);
        self.accept(facts)
    }

    /// The order-dependent half of a record's checks.
    pub(crate) fn accept(&mut self, facts: std::result::Result<Facts, String>) -> Result<()> {
        let index = self.next;
        let facts = match facts {
            Ok(f) => f,
            Err(problem) => return fail(Finding::at(index, problem)),
        };
        if facts.index != index {
            return fail(Finding::at(
                index,
                format!(
                    "holds index `{}`: a record was removed, inserted or moved",
                    facts.index
                ),
            ));
        }
        if facts.previous != self.last {
            return fail(Finding::at(
                index,
                "does not chain to the previous record: a record was removed, inserted or altered",
            ));
        }
        if let Some(problem) = facts.payload_problem {
            return fail(Finding::at(index, problem));
        }
        match facts.payload {
            1 => self.present += 1,
            2 => self.erased.push((index, facts.subjects)),
            _ => {}
        }
        for s in facts.erases.unwrap_or_default() {
            self.erasures.insert(s, index);
        }
        self.tree.push(facts.leaf);
        self.last = facts.leaf;
        self.next += 1;
        Ok(())
    }

    /// Checks every checkpoint against the tree and reports on the log.
    fn report(
        &self,
        notes: &[String],
        origin: Option<&str>,
        key: Option<&CheckpointVerifier>,
    ) -> Result<LogReport> {
        let (verified, latest) = check_checkpoints(notes, origin, key, &self.tree)?;
        let size = self.tree.len();
        Ok(LogReport {
            records: size,
            root: self.tree.root(size)?,
            checkpoints_verified: verified,
            latest_checkpoint: latest,
            payloads_present: self.present,
            payloads_erased: self.erased.len() as u64,
        })
    }

    /// Checks that every erased payload is covered by a later erasure event.
    pub(crate) fn check_erasures(&self) -> Result<()> {
        for (index, subjects) in &self.erased {
            let covered = subjects
                .iter()
                .any(|s| self.erasures.get(s).is_some_and(|at| at > index));
            if !covered {
                return fail(Finding::at(
                    *index,
                    "payload is erased but no later erasure event covers it",
                ));
            }
        }
        Ok(())
    }
}

/// What the order-independent checks of one record found.
#[derive(Debug)]
pub(crate) struct Facts {
    index: u64,
    previous: Hash,
    leaf: Hash,
    payload: u8,
    payload_problem: Option<&'static str>,
    /// Subjects of a record whose payload is erased.
    subjects: Vec<String>,
    /// Subjects of an erasure event.
    erases: Option<Vec<String>>,
}

/// Decodes a record strictly, hashes it and checks its payload against the
/// commitment: everything that does not depend on its neighbours, so it can
/// run in parallel.
pub(crate) fn examine(record: &[u8], sidecar: &[u8]) -> std::result::Result<Facts, String> {
    let decoded = Record::decode(record).map_err(|e| e.to_string())?;
    let payload_problem = check_sidecar(sidecar, decoded.payload_commitment());
    let payload = sidecar.first().copied().unwrap_or(0);
    let erases = (decoded.action() == ERASE_ACTION).then(|| decoded.subjects().to_vec());
    Ok(Facts {
        index: decoded.index(),
        previous: *decoded.previous(),
        leaf: *decoded.leaf_hash(),
        payload,
        payload_problem,
        subjects: if payload == 2 {
            decoded.subjects().to_vec()
        } else {
            Vec::new()
        },
        erases,
    })
}

/// Runs [`examine`] over frames on every available core.
fn examine_all(frames: &[(&[u8], &[u8])]) -> Vec<std::result::Result<Facts, String>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 16);
    if threads == 1 || frames.len() < 1024 {
        return frames.iter().map(|(r, s)| examine(r, s)).collect();
    }
    let chunk = frames.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = frames
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|(r, s)| examine(r, s)).collect::<Vec<_>>())
            })
            .collect();
        let mut out = Vec::with_capacity(frames.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(_) => out.push(Err("verification thread failed".to_owned())),
            }
        }
        out
    })
}

/// Checks a list of checkpoint notes against the tree; `key` checks
/// signatures (without it notes are only parsed).
pub(crate) fn check_checkpoints(
    notes: &[String],
    origin: Option<&str>,
    key: Option<&CheckpointVerifier>,
    tree: &MerkleTree,
) -> Result<(u64, Option<Checkpoint>)> {
    let mut verified = 0;
    let mut latest: Option<Checkpoint> = None;
    for (n, note) in notes.iter().enumerate() {
        let opened = match key {
            Some(key) => key.open(note),
            None => parse_checkpoint_unverified(note),
        };
        let Ok(cp) = opened else {
            return fail(Finding::log(format!(
                "checkpoint {n} does not verify with the public key"
            )));
        };
        if let Some(origin) = origin
            && cp.origin != origin
        {
            return fail(Finding::log(format!(
                "checkpoint {n} is for log `{}`, not `{origin}`",
                cp.origin
            )));
        }
        if cp.size > tree.len() {
            return fail(Finding::at(
                tree.len(),
                format!(
                    "missing: checkpoint {n} covers {} records but the log has {}: records were cut off the end",
                    cp.size,
                    tree.len()
                ),
            ));
        }
        let root = tree.root(cp.size)?;
        if root != cp.root {
            return fail(Finding::log(format!(
                "the records do not match checkpoint {n}: a record among the first {} was rewritten",
                cp.size
            )));
        }
        if key.is_some() {
            verified += 1;
        }
        if latest
            .as_ref()
            .is_none_or(|l: &Checkpoint| cp.size >= l.size)
        {
            latest = Some(cp);
        }
    }
    Ok((verified, latest))
}

/// Verifies the log in `dir` completely: every segment frame and checksum,
/// the index sequence and hash chain, payload commitments, erasures, the
/// Merkle tree, and every checkpoint (signatures with `key`, when given).
///
/// Returns a [`LogReport`], or [`Error::LogInvalid`] with the first problem.
pub fn verify_dir(dir: impl AsRef<Path>, key: Option<&CheckpointVerifier>) -> Result<LogReport> {
    let dir = dir.as_ref();
    let mut checker = ChainChecker::default();
    let segments = list_segments(dir)?;
    if segments.is_empty() {
        return fail(Finding::log("no segment files: not a log directory"));
    }
    let mut bytes = Vec::new();
    for (first, path) in segments {
        bytes.clear();
        File::open(&path)?.read_to_end(&mut bytes)?;
        let name = path.display();
        match parse_segment_header(&bytes) {
            Ok(f) if f == first && f == checker.next => {}
            _ => {
                return fail(Finding::at(
                    checker.next,
                    format!("segment `{name}` has a bad header or does not start here"),
                ));
            }
        }
        // Framing first (sequential), then the per-record checks in
        // parallel, then chain and tree in order.
        let mut at = SEGMENT_HEADER_LEN;
        let mut frames = Vec::new();
        let mut framing_error = None;
        while let Some(rest) = bytes.get(at..).filter(|r| !r.is_empty()) {
            match read_frame(rest) {
                Ok(f) => {
                    frames.push((f.record, f.sidecar));
                    at += f.len;
                }
                Err(e) => {
                    framing_error = Some(e);
                    break;
                }
            }
        }
        for facts in examine_all(&frames) {
            checker.accept(facts)?;
        }
        if let Some(e) = framing_error {
            return fail(Finding::at(checker.next, e.describe()));
        }
    }
    checker.check_erasures()?;
    let origin = match std::fs::read(dir.join(ORIGIN_FILE)) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) if text.ends_with('\n') && !text.trim_end().is_empty() => {
                text.trim_end().to_owned()
            }
            _ => return fail(Finding::log("the origin file is damaged")),
        },
        Err(_) => return fail(Finding::log("the origin file is missing")),
    };
    let mut cp_bytes = Vec::new();
    if let Ok(mut f) = File::open(dir.join(CHECKPOINTS_FILE)) {
        f.read_to_end(&mut cp_bytes)?;
    }
    let (notes, valid) = parse_checkpoint_frames(&cp_bytes);
    if valid != cp_bytes.len() {
        return fail(Finding::log(format!(
            "checkpoint file is damaged after checkpoint {}",
            notes.len()
        )));
    }
    checker.report(&notes, Some(&origin), key)
}

/// Verifies a log held in any [`Store`](crate::Store) (SQLite, PostgreSQL,
/// memory): the chain, indexes, payload commitments, erasures, tree and
/// checkpoints, as [`verify_dir`] does for files (framing aside: databases
/// keep their own checksums).
pub fn verify_store<S: crate::Store + ?Sized>(
    store: &S,
    origin: Option<&str>,
    key: Option<&CheckpointVerifier>,
) -> Result<LogReport> {
    let mut checker = StoreChecker::default();
    let len = store.len()?;
    while let Some((start, end)) = checker.next_chunk(len) {
        checker.check(
            start,
            end,
            store.read(start, end)?,
            store.leaf_hashes(start, end)?,
        )?;
    }
    checker.finish(&store.checkpoints()?, origin, key)
}

/// [`verify_store`] in chunks, for a store read synchronously or not.
#[derive(Debug, Default)]
pub(crate) struct StoreChecker {
    chain: ChainChecker,
    done: u64,
}

impl StoreChecker {
    /// Records to read next, until `len` are checked.
    pub(crate) fn next_chunk(&self, len: u64) -> Option<(u64, u64)> {
        (self.done < len).then(|| (self.done, len.min(self.done + 4096)))
    }

    /// Checks records `start..end` as read, against the leaf hashes stored
    /// beside them.
    pub(crate) fn check(
        &mut self,
        start: u64,
        end: u64,
        records: Vec<Record>,
        stored: Vec<Hash>,
    ) -> Result<()> {
        if records.len() as u64 != end - start {
            return fail(Finding::at(
                start + records.len() as u64,
                "missing from the store",
            ));
        }
        // Databases keep each record's leaf hash beside it. A record whose
        // bytes no longer hash to it was altered in place: name that record,
        // not only the next one, whose chain link it breaks.
        for (i, r) in records.iter().enumerate() {
            let index = start + i as u64;
            if stored.get(i).is_some_and(|h| h != r.leaf_hash()) {
                return fail(Finding::at(
                    index,
                    "does not match its stored leaf hash: the record or its hash was altered",
                ));
            }
            let sidecar = encode_sidecar(r.payload_state());
            self.chain.push(&r.encode(), &sidecar)?;
        }
        self.done = end;
        Ok(())
    }

    /// Checks erasures and checkpoints once every record is checked.
    pub(crate) fn finish(
        self,
        notes: &[String],
        origin: Option<&str>,
        key: Option<&CheckpointVerifier>,
    ) -> Result<LogReport> {
        self.chain.check_erasures()?;
        self.chain.report(notes, origin, key)
    }
}
