//! The stored form of an event and its canonical encoding (the hash input),
//! specified in [`crate::format`].

use std::time::SystemTime;

use rand_core::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::event::{EventFields, nanos_to_time, time_to_nanos};
use crate::hash::Hash;
use crate::proof::merkle::leaf_hash;
use crate::subjects::Subjects;
use crate::{Error, Event, Outcome, Result, error::malformed};

/// The version byte of the canonical encoding.
pub const ENCODING_VERSION: u8 = 1;
/// The longest string field, in bytes.
pub const MAX_FIELD_LEN: usize = 65_535;
/// The most data subjects one event may name.
pub const MAX_SUBJECTS: usize = 1_024;
/// The longest payload JSON text, in bytes.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;

const PAYLOAD_DOMAIN: &[u8] = b"palisade-audit payload v1\0";

/// A JSON value serialized with every object's keys in byte order, whatever
/// order the `Value` keeps them in (serde_json's `preserve_order` feature,
/// turned on by any crate in the build, keeps insertion order): the same
/// payload gives the same text, and so the same commitment, in every build.
struct SortedKeys<'a>(&'a serde_json::Value);

impl serde::Serialize for SortedKeys<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                if map.keys().is_sorted() {
                    // Already in order (always, without `preserve_order`):
                    // no list to sort.
                    for (key, value) in map {
                        out.serialize_entry(key, &SortedKeys(value))?;
                    }
                } else {
                    let mut entries: Vec<_> = map.iter().collect();
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    for (key, value) in entries {
                        out.serialize_entry(key, &SortedKeys(value))?;
                    }
                }
                out.end()
            }
            serde_json::Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&SortedKeys(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The length of a payload commitment's salt, in bytes.
pub(crate) const SALT_LEN: usize = 32;

/// The salt and JSON text of a payload that has not been erased.
#[derive(Clone, PartialEq, Eq)]
pub struct Disclosure {
    salt: [u8; 32],
    json: Vec<u8>,
}

impl Disclosure {
    pub(crate) fn new(salt: [u8; 32], json: Vec<u8>) -> Disclosure {
        Disclosure { salt, json }
    }

    /// The random salt of the commitment.
    pub fn salt(&self) -> &[u8; 32] {
        &self.salt
    }

    /// The payload's JSON text, exactly as committed.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The commitment these bytes open.
    pub fn commitment(&self) -> Hash {
        payload_commitment(&self.salt, &self.json)
    }
}

impl Drop for Disclosure {
    fn drop(&mut self) {
        self.salt.zeroize();
        self.json.zeroize();
    }
}

impl std::fmt::Debug for Disclosure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disclosure")
            .field("len", &self.json.len())
            .finish_non_exhaustive()
    }
}

/// What the log holds of a record's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadState {
    /// The event had no payload.
    None,
    /// The payload is present and opens the commitment.
    Present(Disclosure),
    /// The payload was erased; only its commitment remains.
    Erased,
}

impl PayloadState {
    /// `none`, `present` or `erased`: the state's name in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            PayloadState::None => "none",
            PayloadState::Present(_) => "present",
            PayloadState::Erased => "erased",
        }
    }
}

/// `SHA-256("palisade-audit payload v1" || 0x00 || salt || json)`.
pub fn payload_commitment(salt: &[u8; 32], json: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(PAYLOAD_DOMAIN);
    h.update(salt);
    h.update(json);
    Hash::from_bytes(h.finalize().into())
}

/// An event sealed for the log: fields checked, payload committed with a
/// fresh salt, not yet placed (no index or predecessor yet). A [`Store`]
/// places sealed events when it appends them, so that a shared store can
/// sequence appends from many processes.
///
/// [`Store`]: crate::Store
#[derive(Clone, Debug)]
pub struct Sealed {
    fields: EventFields,
    time_nanos: i64,
    commitment: Option<Hash>,
    payload: PayloadState,
}

impl Sealed {
    /// Checks the event's limits and commits to its payload with a fresh salt.
    pub fn seal(event: Event, rng: &mut impl RngCore) -> Result<Sealed> {
        let (fields, payload) = event.into_parts();
        let time_nanos = time_to_nanos(fields.time)?;
        check_str("actor", &fields.actor)?;
        check_str("action", &fields.action)?;
        check_str("resource", &fields.resource)?;
        if let Some(tenant) = &fields.tenant {
            check_str("tenant", tenant)?;
        }
        if fields.subjects.len() > MAX_SUBJECTS {
            return Err(Error::SubjectsTooMany);
        }
        for subject in &fields.subjects {
            check_str("subject", subject)?;
        }
        let (commitment, payload) = match payload {
            None => (None, PayloadState::None),
            Some(value) => {
                let json = serde_json::to_vec(&SortedKeys(&value))
                    .map_err(Error::PayloadUnserializable)?;
                if json.len() > MAX_PAYLOAD_LEN {
                    return Err(Error::FieldTooLong("payload"));
                }
                let mut salt = [0u8; SALT_LEN];
                rng.fill_bytes(&mut salt);
                let disclosure = Disclosure::new(salt, json);
                (
                    Some(disclosure.commitment()),
                    PayloadState::Present(disclosure),
                )
            }
        };
        Ok(Sealed {
            fields,
            time_nanos,
            commitment,
            payload,
        })
    }

    /// Places the sealed event at `index` after the record whose leaf hash is
    /// `previous`.
    pub fn place(self, index: u64, previous: Hash) -> Record {
        let Sealed {
            fields,
            time_nanos,
            commitment,
            payload,
        } = self;
        let mut record = Record {
            index,
            previous,
            time_nanos,
            fields,
            commitment,
            payload,
            leaf_hash: Hash::ZERO,
        };
        record.leaf_hash = record.compute_leaf_hash();
        record
    }
}

impl Sealed {
    /// The length of the bytes [`Sealed::put_placed`] writes: the body of
    /// the canonical encoding, then the payload sidecar (counted by the
    /// encoders themselves).
    pub(crate) fn placed_len(&self) -> (usize, usize) {
        let mut body = Count(0);
        encode_body(
            &self.fields,
            self.time_nanos,
            self.commitment.as_ref(),
            &mut body,
        );
        (body.0, crate::store::segment::sidecar_len(&self.payload))
    }

    /// Appends to `out` what the sealed event is wherever it is placed: the
    /// body of its canonical encoding (the encoding without its head,
    /// [`HEAD_LEN`] bytes that its place gives: index and predecessor),
    /// then its payload sidecar (as in a segment). [`leaf_hash_of_body`]
    /// gives the leaf hash once the place is known.
    pub(crate) fn put_placed(&self, out: &mut impl Sink) {
        encode_body(&self.fields, self.time_nanos, self.commitment.as_ref(), out);
        crate::store::segment::put_sidecar(&self.payload, out);
    }
}

/// The leaf hash of the record at `index` after the one whose leaf hash is
/// `previous`, the body of whose canonical encoding is `body`
/// ([`Sealed::put_placed`]).
pub(crate) fn leaf_hash_of_body(index: u64, previous: &Hash, body: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    encode_head(index, previous, &mut h);
    h.update(body);
    Hash::from_bytes(h.finalize().into())
}

fn check_str(name: &'static str, s: &str) -> Result<()> {
    if s.len() > MAX_FIELD_LEN {
        Err(Error::FieldTooLong(name))
    } else {
        Ok(())
    }
}

/// One entry of the log: an event at its index, chained to its predecessor,
/// with its payload present, absent or erased.
///
/// Serializes (for logs and API answers) as the event's fields plus
/// `index`, `leaf_hash` and `payload_state`; the payload's salt is never
/// serialized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    index: u64,
    previous: Hash,
    time_nanos: i64,
    fields: EventFields,
    commitment: Option<Hash>,
    payload: PayloadState,
    leaf_hash: Hash,
}

impl Record {
    /// The position of the record in the log, from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The leaf hash of the previous record (all zeros for the first).
    pub fn previous(&self) -> &Hash {
        &self.previous
    }

    /// `SHA-256(0x00 || canonical encoding)`: the record's leaf in the tree.
    pub fn leaf_hash(&self) -> &Hash {
        &self.leaf_hash
    }

    /// Who acted.
    pub fn actor(&self) -> &str {
        &self.fields.actor
    }

    /// What was done.
    pub fn action(&self) -> &str {
        &self.fields.action
    }

    /// What it was done to.
    pub fn resource(&self) -> &str {
        &self.fields.resource
    }

    /// Whose data the event concerns.
    pub fn subjects(&self) -> &Subjects {
        &self.fields.subjects
    }

    /// The tenant, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.fields.tenant.as_deref()
    }

    /// When it happened.
    pub fn time(&self) -> SystemTime {
        self.fields.time
    }

    /// When it happened, in nanoseconds since the Unix epoch.
    pub fn time_nanos(&self) -> i64 {
        self.time_nanos
    }

    /// How it ended.
    pub fn outcome(&self) -> Outcome {
        self.fields.outcome
    }

    /// The commitment to the payload, if the event had one.
    pub fn payload_commitment(&self) -> Option<&Hash> {
        self.commitment.as_ref()
    }

    /// What the log holds of the payload.
    pub fn payload_state(&self) -> &PayloadState {
        &self.payload
    }

    /// The payload as JSON, if present and well formed.
    pub fn payload(&self) -> Option<serde_json::Value> {
        match &self.payload {
            PayloadState::Present(d) => serde_json::from_slice(d.json()).ok(),
            _ => None,
        }
    }

    /// Whether the record concerns `subject`.
    pub fn concerns(&self, subject: &str) -> bool {
        self.fields.subjects.contains(subject)
    }

    /// The event as recorded (payload included while not erased).
    pub fn to_event(&self) -> Event {
        let mut event = Event::new(
            self.fields.actor.clone(),
            self.fields.action.clone(),
            self.fields.resource.clone(),
        )
        .with_time(self.fields.time)
        .with_outcome(self.fields.outcome)
        .with_subject_list(self.fields.subjects.clone());
        if let Some(t) = &self.fields.tenant {
            event = event.with_tenant(t.clone());
        }
        if let Some(p) = self.payload() {
            event = event.with_payload(p);
        }
        event
    }

    /// Attaches what storage holds of the payload to a decoded record.
    pub(crate) fn with_payload_state(mut self, payload: PayloadState) -> Record {
        self.payload = payload;
        self
    }

    /// The canonical encoding (version 1, see [`crate::format`]): the input
    /// of the leaf hash.
    pub fn encode(&self) -> Vec<u8> {
        let f = &self.fields;
        let mut out = Vec::with_capacity(
            128 + f.actor.len()
                + f.action.len()
                + f.resource.len()
                + f.subjects.iter().map(|s| s.len() + 4).sum::<usize>(),
        );
        self.encode_into(&mut out);
        out
    }

    /// `SHA-256(0x00 || encoding)`, hashed as it is encoded (no buffer).
    fn compute_leaf_hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update([0x00]);
        self.encode_into(&mut h);
        Hash::from_bytes(h.finalize().into())
    }

    fn encode_into(&self, out: &mut impl Sink) {
        encode_head(self.index, &self.previous, out);
        encode_body(&self.fields, self.time_nanos, self.commitment.as_ref(), out);
    }

    /// Decodes a canonical encoding strictly: the version must be 1, every
    /// field in range, and no byte left over. The payload state is
    /// [`PayloadState::Erased`] when a commitment is present (the text lives
    /// beside the record, in storage) and [`PayloadState::None`] otherwise.
    /// The function the `audit_segment` fuzz target reaches through
    /// [`format::parse_segment`](crate::format::parse_segment).
    pub fn decode(bytes: &[u8]) -> Result<Record> {
        let mut r = Reader { rest: bytes };
        let version = r.u8()?;
        if version != ENCODING_VERSION {
            return Err(malformed("record", format!("unknown version `{version}`")));
        }
        let index = r.u64()?;
        let previous = r.hash()?;
        let time_nanos = i64::from_be_bytes(r.array()?);
        let time = nanos_to_time(time_nanos).ok_or_else(|| malformed("record", "negative time"))?;
        let outcome =
            Outcome::from_code(r.u8()?).ok_or_else(|| malformed("record", "unknown outcome"))?;
        let actor = r.string()?;
        let action = r.string()?;
        let resource = r.string()?;
        let tenant = match r.u8()? {
            0 => None,
            1 => Some(r.string()?),
            _ => return Err(malformed("record", "bad tenant flag")),
        };
        let count = r.u32()? as usize;
        if count > MAX_SUBJECTS {
            return Err(malformed("record", "too many subjects"));
        }
        let mut subjects = Subjects::with_capacity(count.min(64), 0);
        for _ in 0..count {
            subjects.push(r.str()?);
        }
        let (commitment, payload) = match r.u8()? {
            0 => (None, PayloadState::None),
            1 => (Some(r.hash()?), PayloadState::Erased),
            _ => return Err(malformed("record", "bad payload flag")),
        };
        if !r.rest.is_empty() {
            return Err(malformed("record", "trailing bytes"));
        }
        Ok(Record {
            index,
            previous,
            time_nanos,
            fields: EventFields {
                actor,
                action,
                resource,
                subjects,
                tenant,
                time,
                outcome,
            },
            commitment,
            payload,
            leaf_hash: leaf_hash(bytes),
        })
    }
}

impl serde::Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct View<'a> {
            index: u64,
            leaf_hash: &'a Hash,
            actor: &'a str,
            action: &'a str,
            resource: &'a str,
            #[serde(skip_serializing_if = "Subjects::is_empty")]
            subjects: &'a Subjects,
            #[serde(skip_serializing_if = "Option::is_none")]
            tenant: Option<&'a str>,
            #[serde(with = "crate::event::rfc3339")]
            time: SystemTime,
            outcome: Outcome,
            payload_state: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            payload: Option<serde_json::Value>,
        }
        View {
            index: self.index,
            leaf_hash: &self.leaf_hash,
            actor: &self.fields.actor,
            action: &self.fields.action,
            resource: &self.fields.resource,
            subjects: &self.fields.subjects,
            tenant: self.fields.tenant.as_deref(),
            time: self.fields.time,
            outcome: self.fields.outcome,
            payload_state: self.payload.as_str(),
            payload: self.payload(),
        }
        .serialize(s)
    }
}

/// The length of the canonical encoding's head: version, index, previous.
pub(crate) const HEAD_LEN: usize = 1 + 8 + 32;

/// The head of the canonical encoding: what places a record in the log.
pub(crate) fn encode_head(index: u64, previous: &Hash, out: &mut impl Sink) {
    out.put(&[ENCODING_VERSION]);
    out.put(&index.to_be_bytes());
    out.put(previous.as_bytes());
}

/// The rest of the canonical encoding: the event and its commitment.
fn encode_body(f: &EventFields, time_nanos: i64, commitment: Option<&Hash>, out: &mut impl Sink) {
    out.put(&time_nanos.to_be_bytes());
    out.put(&[f.outcome.code()]);
    put_str(out, &f.actor);
    put_str(out, &f.action);
    put_str(out, &f.resource);
    match &f.tenant {
        None => out.put(&[0]),
        Some(t) => {
            out.put(&[1]);
            put_str(out, t);
        }
    }
    put_len(out, f.subjects.len());
    for s in &f.subjects {
        put_str(out, s);
    }
    match commitment {
        None => out.put(&[0]),
        Some(c) => {
            out.put(&[1]);
            out.put(c.as_bytes());
        }
    }
}

/// Where the canonical encoding goes: a buffer, or straight into a hash.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// A sink that only counts the bytes put in it: an encoding's length,
/// without writing it.
pub(crate) struct Count(pub(crate) usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

fn put_len(out: &mut impl Sink, len: usize) {
    // Lengths are checked against MAX_FIELD_LEN / MAX_SUBJECTS when sealing.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.put(&len.to_be_bytes());
}

fn put_str(out: &mut impl Sink, s: &str) {
    put_len(out, s.len());
    out.put(s.as_bytes());
}

/// A cursor over bytes being decoded; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    pub(crate) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.rest.len() {
            return Err(malformed("record", "truncated"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn hash(&mut self) -> Result<Hash> {
        self.array().map(Hash::from_bytes)
    }

    fn string(&mut self) -> Result<String> {
        self.str().map(str::to_owned)
    }

    /// A string, borrowed from the bytes read.
    fn str(&mut self) -> Result<&'a str> {
        let len = self.u32()? as usize;
        if len > MAX_FIELD_LEN {
            return Err(malformed("record", "string too long"));
        }
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| malformed("record", "string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object whose keys were inserted out of order, nested in arrays and
    /// objects. With serde_json's `preserve_order` on (a workspace build turns
    /// it on) the `Value` keeps insertion order; the sealed text must not.
    #[test]
    fn payload_text_has_its_keys_in_byte_order_whatever_the_insertion_order() {
        let mut inner = serde_json::Map::new();
        inner.insert("zeta".into(), serde_json::json!(1));
        inner.insert("Alpha".into(), serde_json::json!([{ "b": 2, "a": 1 }]));
        inner.insert("alpha".into(), serde_json::Value::Null);
        let mut outer = serde_json::Map::new();
        outer.insert("shown".into(), serde_json::Value::Object(inner));
        outer.insert("fields".into(), serde_json::json!(["phone", "email"]));
        let event = Event::new("staff:alice", "client.read", "clients/7")
            .with_payload(serde_json::Value::Object(outer));
        let sealed = Sealed::seal(event, &mut rand_core::OsRng).unwrap();
        let PayloadState::Present(disclosure) = &sealed.payload else {
            panic!("the payload is present");
        };
        assert_eq!(
            std::str::from_utf8(disclosure.json()).unwrap(),
            r#"{"fields":["phone","email"],"shown":{"Alpha":[{"a":1,"b":2}],"alpha":null,"zeta":1}}"#
        );
    }
}
