//! The guarded serializer: a [`Protected`](crate::Protected) value written
//! as JSON in one pass, each field decided as serde hands it over, without
//! the `serde_json::Value` tree of the reference walk (`protect.rs`).
//!
//! It gives up ([`GiveUp`]) on every shape whose answer it does not write
//! exactly as the reference does — maps (and so `#[serde(flatten)]`), enum
//! variants with data at a decided level, `f32` and 128-bit numbers (the
//! `Value` tree writes them differently), byte strings, serde_json's private
//! types (raw values), a field serialized twice, an undeclared field, any
//! error — and the caller then answers through the reference walk, which
//! refuses what it refuses. Notes for the audit record (fields shown,
//! masked, hidden, withheld) are kept with their position in the value,
//! and ordered by it at the end: the reference walks each object's fields
//! in their declaration order, which need not be the order they serialize
//! in.

use std::fmt;

use palisade_pii::Kind;
use palisade_rbac::{Policy, Request as PolicyRequest, Resource as PolicyResource, Visibility};
use serde::Serialize;
use serde::ser::{self, Impossible, Serializer};

use crate::guard::{Guard, GuardedMark};
use crate::principal::Principal;
use crate::protect::{Carries, Field, mask};

/// The one-pass serializer cannot write this value as the reference walk
/// would: answer through the walk.
#[derive(Debug)]
pub(crate) struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a shape the guarded serializer leaves to the value walk")
    }
}

impl std::error::Error for GiveUp {}

impl ser::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

/// Objects nested deeper than this are left to the walk.
const MAX_DEPTH: usize = 64;

/// A note for the audit record (a field name or a withheld path) and the
/// first place it was made, as the reference walk visits places: for each
/// enclosing object the declaration index of the field, for each enclosing
/// list the item's index.
type Notes<N> = Vec<(N, Vec<u32>)>;

/// Notes the entry `is` finds at `at`, or adds `owned()` there. A declared
/// field's name is the one text in memory each time it is noted, so callers
/// find it by address first ([`same_name`]).
///
/// `ordered`: every place so far was met in the walk's order, so `at`
/// comes after the first place of any entry (no comparison needed).
#[inline]
fn note<O>(
    list: &mut Notes<O>,
    is: impl Fn(&O) -> bool,
    at: &[u32],
    ordered: bool,
    owned: impl FnOnce() -> O,
) {
    match list.iter_mut().find(|(n, _)| is(n)) {
        Some((_, first)) => {
            if !ordered && at < first.as_slice() {
                first.clear();
                first.extend_from_slice(at);
            }
        }
        None => list.push((owned(), at.to_vec())),
    }
}

/// [`note`] of a declared field's name, found by address first.
#[inline]
fn note_field(list: &mut Notes<&'static str>, name: &'static str, at: &[u32], ordered: bool) {
    note(list, |n| same_name(n, name), at, ordered, || name);
}

fn in_walk_order<N>(mut list: Notes<N>) -> Vec<N> {
    list.sort_by(|a, b| a.1.cmp(&b.1));
    list.into_iter().map(|(n, _)| n).collect()
}

/// The state of one answer being written.
pub(crate) struct Stream<'a> {
    policy: &'a Policy,
    principal: &'a Principal,
    guard: &'a Guard,
    /// The field rights of each (type, declared fields) met, indexed like
    /// the fields.
    rights: Vec<(&'static str, &'static [Field], Vec<Visibility>)>,
    /// Whether the principal may read each nested type met.
    readable: Vec<(&'static str, bool)>,
    shown: Notes<&'static str>,
    masked: Notes<&'static str>,
    hidden: Notes<&'static str>,
    withheld: Notes<String>,
    /// Where the serializer is (see [`Notes`]).
    at: Vec<u32>,
    /// Every object's fields so far came in their declaration order: the
    /// places met are in the walk's order (lists are walked in order).
    ordered: bool,
    /// The dotted path of nested fields (the withheld notes).
    path: String,
    out: Vec<u8>,
}

impl<'a> Stream<'a> {
    /// `readable`: a type the principal is known to read whole (see
    /// [`Guarded::new`](crate::Guarded)).
    pub(crate) fn new(
        policy: &'a Policy,
        principal: &'a Principal,
        guard: &'a Guard,
        readable: Option<&'static str>,
    ) -> Self {
        Stream {
            policy,
            principal,
            guard,
            rights: Vec::new(),
            readable: readable.map(|t| (t, true)).into_iter().collect(),
            shown: Vec::new(),
            masked: Vec::new(),
            hidden: Vec::new(),
            withheld: Vec::new(),
            at: Vec::with_capacity(8),
            ordered: true,
            path: String::new(),
            out: Vec::with_capacity(guard.answer_capacity()),
        }
    }

    /// Writes `value`, of resource type `type_name` declaring `fields`.
    ///
    /// # Errors
    /// [`GiveUp`]: nothing written is usable; answer through the walk.
    pub(crate) fn write<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        type_name: &'static str,
        fields: &'static [Field],
    ) -> Result<(), GiveUp> {
        // The reference puts the list of masked fields in the top object
        // under `masked`, over a field of that name: left to it.
        if fields.iter().any(|f| f.name == "masked") {
            return Err(GiveUp);
        }
        value.serialize(Level {
            st: self,
            type_name,
            fields,
            top: true,
        })
    }

    /// The JSON text and what the audit record says of it (without the
    /// subjects, which the value names).
    pub(crate) fn finish(self) -> (Vec<u8>, GuardedMark) {
        let names = |list: Notes<&'static str>| {
            in_walk_order(list)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let mark = GuardedMark {
            subjects: palisade_audit::Subjects::new(),
            masked: names(self.masked),
            hidden: names(self.hidden),
            shown: names(self.shown),
            withheld: in_walk_order(self.withheld),
        };
        self.guard.note_answer_len(self.out.len());
        (self.out, mark)
    }

    /// The index in `self.rights` of the rights of `type_name`'s `fields`.
    fn rights_of(
        &mut self,
        type_name: &'static str,
        fields: &'static [Field],
    ) -> Result<usize, GiveUp> {
        if let Some(i) = self
            .rights
            .iter()
            .position(|(t, f, _)| std::ptr::eq(*f, fields) && same_name(t, type_name))
        {
            return Ok(i);
        }
        // A name declared twice is walked twice by the reference: left to it.
        let twice = fields
            .iter()
            .enumerate()
            .any(|(i, f)| fields.iter().skip(i + 1).any(|g| g.name == f.name));
        if twice || fields.len() > 64 {
            return Err(GiveUp);
        }
        let mut visibility = vec![Visibility::Visible; fields.len()];
        // Field rights do not depend on the action: the ones an allowed
        // decision carries (a type without field rights has none). As the
        // walk's map, the last right given for a field counts.
        let principal = self.principal;
        if let Ok(rights) =
            self.policy
                .field_rights_of(principal.user(), Some(principal.tenant()), type_name)
        {
            for right in rights {
                for (v, f) in visibility.iter_mut().zip(fields) {
                    if f.name == right.field {
                        *v = right.visibility;
                    }
                }
            }
        }
        self.rights.push((type_name, fields, visibility));
        Ok(self.rights.len() - 1)
    }

    fn readable(&mut self, type_name: &'static str) -> bool {
        if let Some((_, r)) = self.readable.iter().find(|(t, _)| *t == type_name) {
            return *r;
        }
        let request = PolicyRequest::new(
            self.principal.user(),
            "read",
            PolicyResource::new(type_name, "*"),
        )
        .in_tenant(self.principal.tenant());
        let allowed = self.policy.decide(&request).is_ok_and(|d| d.is_allowed());
        self.readable.push((type_name, allowed));
        allowed
    }

    #[inline]
    fn enter(&mut self, index: usize) -> Result<(), GiveUp> {
        if self.at.len() >= MAX_DEPTH {
            return Err(GiveUp);
        }
        self.at.push(u32::try_from(index).map_err(|_| GiveUp)?);
        Ok(())
    }

    #[inline]
    fn leave(&mut self) {
        self.at.pop();
    }

    fn json(&mut self) -> serde_json::Serializer<&mut Vec<u8>> {
        serde_json::Serializer::new(&mut self.out)
    }

    /// `,"name":` (the comma unless `first`).
    #[inline]
    fn key(&mut self, first: &mut bool, field: &Field) -> Result<(), GiveUp> {
        let comma = !std::mem::take(first);
        let len = usize::from(field.key_len);
        if len > 0 {
            // `,"name":` written ahead: sixteen bytes copied (a fixed
            // length, no call to `memcpy`), then cut to its length.
            let start = self.out.len();
            if comma {
                self.out.extend_from_slice(&field.key);
                self.out.truncate(start + len);
            } else if let Some((_, key)) = field.key.split_first() {
                self.out.extend_from_slice(key);
                self.out.truncate(start + len - 1);
            }
            return Ok(());
        }
        if comma {
            self.out.push(b',');
        }
        write_name(&mut self.out, field)?;
        self.out.push(b':');
        Ok(())
    }

    /// Writes `value`, masked as `kind`.
    fn masked<T: Serialize + ?Sized>(&mut self, value: &T, kind: Kind) -> Result<(), GiveUp> {
        match value.serialize(MaskText { st: self, kind }) {
            Ok(()) => Ok(()),
            Err(Probe::GiveUp) => Err(GiveUp),
            Err(Probe::NotText) => {
                // Numbers, booleans, structures: as the walk masks them.
                let mut v = serde_json::to_value(value).map_err(|_| GiveUp)?;
                mask(self.guard, &mut v, kind).map_err(|_| GiveUp)?;
                serde_json::to_writer(&mut self.out, &v).map_err(|_| GiveUp)
            }
        }
    }
}

/// A value left out of the answer (hidden, withheld): the walk serializes
/// it all the same, and fails the answer where it does not serialize (a
/// number beyond 64 bits, a map key that is not text, a `Serialize` error).
/// Written nowhere through [`Check`], which gives up on those shapes and
/// more.
fn unseen<T: Serialize + ?Sized>(value: &T) -> Result<(), GiveUp> {
    value
        .serialize(Check(&mut serde_json::Serializer::new(std::io::sink())))
        .map_err(|_| GiveUp)
}

/// Whether two names are equal: at once when they are the same text in
/// memory (a declared name and serde's key are often the one literal),
/// else compared.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || short_eq(a, b))
}

/// Whether `a` and `b`, of the same length, are equal: names are short,
/// so up to 16 bytes are compared as their first and last two, four or
/// eight bytes (overlapping), not a byte at a time nor through `memcmp`.
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    /// The first and the last `N` bytes of `a` and `b` are equal.
    #[inline]
    fn ends<const N: usize>(a: &[u8], b: &[u8]) -> bool {
        let head = |s: &[u8]| s.first_chunk::<N>().copied();
        let tail = |s: &[u8]| s.last_chunk::<N>().copied();
        head(a) == head(b) && tail(a) == tail(b)
    }
    match a.len() {
        0 => true,
        1 => a.first() == b.first(),
        2..=3 => ends::<2>(a, b),
        4..=7 => ends::<4>(a, b),
        8..=16 => ends::<8>(a, b),
        _ => a == b,
    }
}

/// A field's name as a JSON string.
#[inline]
fn write_name(out: &mut Vec<u8>, field: &Field) -> Result<(), GiveUp> {
    if field.json_plain {
        out.push(b'"');
        out.extend_from_slice(field.name.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        write_str(out, field.name)
    }
}

/// `text` as a JSON string, as serde_json writes it: as it is between
/// quotes unless it holds a character serde_json escapes (control
/// characters, `"`, `\\`).
fn write_str(out: &mut Vec<u8>, text: &str) -> Result<(), GiveUp> {
    if !json_plain_text(text.as_bytes()) {
        return serde_json::Serializer::new(out)
            .serialize_str(text)
            .map_err(|_| GiveUp);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Whether `text` has none of the characters serde_json escapes (control
/// characters, `"`, `\\`).
#[inline]
fn json_plain_text(text: &[u8]) -> bool {
    words_or(text, escaped) == 0
}

/// Whether `bytes` are written between quotes as they are: ASCII (so
/// UTF-8), with none of the characters serde_json escapes.
#[inline]
pub(crate) fn json_verbatim(bytes: &[u8]) -> bool {
    words_or(bytes, |w| escaped(w) | (w & HIGH)) == 0
}

/// The high bit of each byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// `test` of each eight bytes of `bytes`, or-ed. The last eight bytes
/// are read overlapping the ones before (a byte tested twice changes
/// nothing); fewer than eight in all are put in a word a byte at a time,
/// padded with a letter (not copied through memory: a load of bytes just
/// stored one by one stalls).
#[inline]
fn words_or(bytes: &[u8], test: impl Fn(u64) -> u64) -> u64 {
    let word = |eight: &[u8]| u64::from_le_bytes(eight.try_into().unwrap_or([b'a'; 8]));
    let mut words = bytes.chunks_exact(8);
    let mut found = 0;
    for eight in &mut words {
        found |= test(word(eight));
    }
    let rest = words.remainder();
    if rest.is_empty() {
        return found;
    }
    if let Some(last) = bytes.len().checked_sub(8).and_then(|at| bytes.get(at..)) {
        return found | test(word(last));
    }
    let mut w = u64::from_le_bytes([b'a'; 8]);
    for (i, &b) in rest.iter().enumerate() {
        let shift = 8 * i;
        w = (w & !(0xff << shift)) | (u64::from(b) << shift);
    }
    found | test(w)
}

/// Not zero when one of the eight bytes of `w` is a control character,
/// `"` or `\\`: the test of a zero byte (`(v - 0x01..) & !v & 0x80..`,
/// exact for whether there is one, whatever the other bytes) on `w` less
/// 0x20 in each byte and on `w` xor each of the two characters.
#[inline]
fn escaped(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let zero = |v: u64| v.wrapping_sub(ONES) & !v;
    (below_space | zero(quote) | zero(backslash)) & HIGH
}

/// A value at a decided level: an object of `type_name`, a list of them,
/// or nothing (`null`).
struct Level<'s, 'a> {
    st: &'s mut Stream<'a>,
    type_name: &'static str,
    fields: &'static [Field],
    /// The answer's top object (the list of masked fields goes in it).
    top: bool,
}

impl<'s, 'a> Level<'s, 'a> {
    /// A bare value where fields are declared is refused by the walk; where
    /// none are (a nested list of strings), it is written as is.
    fn bare(&self) -> Result<(), GiveUp> {
        if self.fields.is_empty() {
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    fn null(self) -> Result<(), GiveUp> {
        self.st.out.extend_from_slice(b"null");
        Ok(())
    }

    fn list(self) -> Result<LevelList<'s, 'a>, GiveUp> {
        self.st.out.push(b'[');
        Ok(LevelList {
            st: self.st,
            type_name: self.type_name,
            fields: self.fields,
            index: 0,
        })
    }
}

/// A scalar at a decided level: see [`Level::bare`].
macro_rules! bare {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<(), GiveUp> {
            self.bare()?;
            Check(&mut self.st.json()).$method(v).map_err(|_| GiveUp)
        }
    )*};
}

/// Shapes the walk writes differently (or refuses) at a decided level.
macro_rules! give_up {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $ret:ty),* $(,)?) => {$(
        fn $method(self, $(_: $ty),*) -> Result<$ret, GiveUp> {
            Err(GiveUp)
        }
    )*};
}

impl<'s, 'a> Serializer for Level<'s, 'a> {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = LevelList<'s, 'a>;
    type SerializeTuple = LevelList<'s, 'a>;
    type SerializeTupleStruct = LevelList<'s, 'a>;
    type SerializeTupleVariant = Impossible<(), GiveUp>;
    type SerializeMap = Impossible<(), GiveUp>;
    type SerializeStruct = LevelObject<'s, 'a>;
    type SerializeStructVariant = Impossible<(), GiveUp>;

    bare!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
    );

    give_up!(
        serialize_f32(v: f32) -> (),
        serialize_i128(v: i128) -> (),
        serialize_u128(v: u128) -> (),
        serialize_bytes(v: &[u8]) -> (),
        serialize_map(len: Option<usize>) -> Impossible<(), GiveUp>,
        serialize_tuple_variant(n: &'static str, i: u32, v: &'static str, len: usize)
            -> Impossible<(), GiveUp>,
        serialize_struct_variant(n: &'static str, i: u32, v: &'static str, len: usize)
            -> Impossible<(), GiveUp>,
    );

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<(), GiveUp> {
        self.bare()?;
        Check(&mut self.st.json())
            .serialize_unit_variant(name, index, variant)
            .map_err(|_| GiveUp)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), GiveUp> {
        Err(GiveUp)
    }

    fn serialize_none(self) -> Result<(), GiveUp> {
        self.null()
    }

    fn serialize_unit(self) -> Result<(), GiveUp> {
        self.null()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), GiveUp> {
        self.null()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), GiveUp> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<LevelList<'s, 'a>, GiveUp> {
        self.list()
    }

    fn serialize_tuple(self, _: usize) -> Result<LevelList<'s, 'a>, GiveUp> {
        self.list()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<LevelList<'s, 'a>, GiveUp> {
        self.list()
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<LevelObject<'s, 'a>, GiveUp> {
        if name.starts_with("$serde_json") {
            return Err(GiveUp);
        }
        let rights = self.st.rights_of(self.type_name, self.fields)?;
        self.st.out.push(b'{');
        Ok(LevelObject {
            st: self.st,
            fields: self.fields,
            rights,
            top: self.top,
            first: true,
            seen: 0,
            next: 0,
        })
    }
}

/// A list at a decided level: each item decided as the list's type.
struct LevelList<'s, 'a> {
    st: &'s mut Stream<'a>,
    type_name: &'static str,
    fields: &'static [Field],
    index: usize,
}

impl LevelList<'_, '_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        if self.index > 0 {
            self.st.out.push(b',');
        }
        self.st.enter(self.index)?;
        value.serialize(Level {
            st: &mut *self.st,
            type_name: self.type_name,
            fields: self.fields,
            top: false,
        })?;
        self.st.leave();
        self.index += 1;
        Ok(())
    }

    fn close(self) -> Result<(), GiveUp> {
        self.st.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeSeq for LevelList<'_, '_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.item(value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.close()
    }
}

impl ser::SerializeTuple for LevelList<'_, '_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.item(value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for LevelList<'_, '_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.item(value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.close()
    }
}

/// An object at a decided level: every field declared, each decided.
struct LevelObject<'s, 'a> {
    st: &'s mut Stream<'a>,
    fields: &'static [Field],
    /// Index of the fields' rights in the stream.
    rights: usize,
    top: bool,
    first: bool,
    /// The declared fields serialized so far (one bit each).
    seen: u64,
    /// The index after the last field serialized.
    next: usize,
}

impl LevelObject<'_, '_> {
    #[inline]
    fn visibility(&self, index: usize) -> Visibility {
        self.st
            .rights
            .get(self.rights)
            .and_then(|(_, _, v)| v.get(index))
            .copied()
            .unwrap_or(Visibility::Visible)
    }

    fn decide<T: Serialize + ?Sized>(
        &mut self,
        index: usize,
        field: &Field,
        value: &T,
    ) -> Result<(), GiveUp> {
        let visibility = self.visibility(index);
        let st = &mut *self.st;
        match field.carries {
            Carries::Nested(nested_type, nested_fields) => {
                let len = st.path.len();
                if !st.path.is_empty() {
                    st.path.push('.');
                }
                st.path.push_str(field.name);
                let done = if st.readable(nested_type) {
                    st.key(&mut self.first, field).and_then(|()| {
                        value.serialize(Level {
                            st: &mut *st,
                            type_name: nested_type,
                            fields: nested_fields,
                            top: false,
                        })
                    })
                } else {
                    let path = st.path.as_str();
                    note(
                        &mut st.withheld,
                        |n| n == path,
                        &st.at,
                        st.ordered,
                        || path.to_owned(),
                    );
                    unseen(value)
                };
                st.path.truncate(len);
                done
            }
            Carries::Plain | Carries::Personal(_) => match visibility {
                Visibility::Visible => {
                    st.key(&mut self.first, field)?;
                    let start = st.out.len();
                    value.serialize(Check(&mut st.json())).map_err(|_| GiveUp)?;
                    if matches!(field.carries, Carries::Personal(_))
                        && st.out.get(start..) != Some(b"null".as_slice())
                    {
                        note_field(&mut st.shown, field.name, &st.at, st.ordered);
                    }
                    Ok(())
                }
                Visibility::Hidden => {
                    note_field(&mut st.hidden, field.name, &st.at, st.ordered);
                    unseen(value)
                }
                Visibility::Masked => {
                    let kind = match field.carries {
                        Carries::Personal(kind) => kind,
                        _ => Kind::Custom("REDACTED"),
                    };
                    st.key(&mut self.first, field)?;
                    st.masked(value, kind)?;
                    note_field(&mut st.masked, field.name, &st.at, st.ordered);
                    Ok(())
                }
            },
        }
    }
}

impl ser::SerializeStruct for LevelObject<'_, '_> {
    type Ok = ();
    type Error = GiveUp;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        // An undeclared field is refused by the walk; a field serialized
        // twice is written once by it.
        // Fields mostly serialize in their declared order: the one after
        // the last is tried first.
        let fields = self.fields;
        let (index, field) = match fields.get(self.next) {
            Some(f) if same_name(f.name, key) => (self.next, f),
            _ => fields
                .iter()
                .enumerate()
                .find(|(_, f)| same_name(f.name, key))
                .ok_or(GiveUp)?,
        };
        if index < self.next {
            // A field before one already written: places may now come out
            // of the walk's order.
            self.st.ordered = false;
        }
        self.next = index + 1;
        let bit = 1u64
            .checked_shl(u32::try_from(index).map_err(|_| GiveUp)?)
            .ok_or(GiveUp)?;
        if self.seen & bit != 0 {
            return Err(GiveUp);
        }
        self.seen |= bit;
        self.st.enter(index)?;
        self.decide(index, field, value)?;
        self.st.leave();
        Ok(())
    }

    fn end(self) -> Result<(), GiveUp> {
        let st = self.st;
        if self.top && !st.masked.is_empty() {
            // The walk's `masked` list, in the walk's order: nothing is
            // noted after the top object ends.
            st.masked.sort_by(|a, b| a.1.cmp(&b.1));
            if !self.first {
                st.out.push(b',');
            }
            st.out.extend_from_slice(b"\"masked\":[");
            for (i, (name, _)) in st.masked.iter().enumerate() {
                if i > 0 {
                    st.out.push(b',');
                }
                write_str(&mut st.out, name)?;
            }
            st.out.push(b']');
        }
        st.out.push(b'}');
        Ok(())
    }
}

/// Why a masked field's value was not masked as text.
enum Probe {
    /// Not a string: masked as the walk masks a number or a structure.
    NotText,
    GiveUp,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Probe::NotText => "NotText",
            Probe::GiveUp => "GiveUp",
        })
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Probe {}

impl ser::Error for Probe {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probe::GiveUp
    }
}

/// A masked field: text (through options and newtypes) masked without a
/// copy; `null` left as is; anything else reported, nothing written.
struct MaskText<'s, 'a> {
    st: &'s mut Stream<'a>,
    kind: Kind,
}

macro_rules! not_text {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $ty),*) -> Result<(), Probe> {
            Err(Probe::NotText)
        }
    )*};
}

impl Serializer for MaskText<'_, '_> {
    type Ok = ();
    type Error = Probe;
    type SerializeSeq = Impossible<(), Probe>;
    type SerializeTuple = Impossible<(), Probe>;
    type SerializeTupleStruct = Impossible<(), Probe>;
    type SerializeTupleVariant = Impossible<(), Probe>;
    type SerializeMap = Impossible<(), Probe>;
    type SerializeStruct = Impossible<(), Probe>;
    type SerializeStructVariant = Impossible<(), Probe>;

    fn serialize_str(self, text: &str) -> Result<(), Probe> {
        // The masked text (`Masker::mask_value`'s bytes) written between
        // quotes where it is as JSON writes it; otherwise (a character to
        // escape, or beyond ASCII) taken back out and written as
        // `mask_value` returns it, through serde_json.
        // Where the masker keeps JSON text as it is, the value is looked at
        // rather than what was just written (read back at once, the bytes
        // written one by one stall the reads).
        let kept = self.st.guard.mask_keeps_json_text() && json_verbatim(text.as_bytes());
        let out = &mut self.st.out;
        out.push(b'"');
        let start = out.len();
        self.st
            .guard
            .masker()
            .operator()
            .apply_into(self.kind, text, out)
            .map_err(|_| Probe::GiveUp)?;
        if kept || json_verbatim(out.get(start..).unwrap_or(&[])) {
            out.push(b'"');
            return Ok(());
        }
        let masked = out.split_off(start);
        out.pop();
        let masked = String::from_utf8_lossy(&masked);
        write_str(out, &masked).map_err(|_| Probe::GiveUp)
    }

    fn serialize_none(self) -> Result<(), Probe> {
        self.st.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), Probe> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Probe> {
        self.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Probe> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Probe> {
        value.serialize(self)
    }

    not_text!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Probe> {
        Err(Probe::NotText)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Impossible<(), Probe>, Probe> {
        Err(Probe::NotText)
    }

    fn serialize_tuple(self, _: usize) -> Result<Impossible<(), Probe>, Probe> {
        Err(Probe::NotText)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Probe>, Probe> {
        Err(Probe::NotText)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Probe>, Probe> {
        Err(Probe::NotText)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Impossible<(), Probe>, Probe> {
        Err(Probe::NotText)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Impossible<(), Probe>, Probe> {
        Err(Probe::NotText)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Probe>, Probe> {
        Err(Probe::NotText)
    }
}

/// A value written as is (a visible field): forwarded to serde_json, but
/// failing on the shapes the `Value` tree writes differently — maps (a
/// `Value` map orders or merges keys), `f32` (widened to `f64` in a
/// `Value`), 128-bit integers, byte strings, serde_json's private types, a
/// struct field given twice — and on enum variants with several fields.
struct Check<S>(S);

/// The error of a [`Check`]ed serializer giving up.
fn unlike_value<E: ser::Error>() -> E {
    E::custom("written differently through a value tree")
}

/// A value whose serialization goes through [`Check`] too.
struct Checked<'v, T: ?Sized>(&'v T);

impl<T: Serialize + ?Sized> Serialize for Checked<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Check(serializer))
    }
}

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
            self.0.$method(v)
        }
    )*};
}

macro_rules! unlike {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $ty),*) -> Result<S::Ok, S::Error> {
            Err(unlike_value())
        }
    )*};
}

impl<S: Serializer> Serializer for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Check<S::SerializeSeq>;
    type SerializeTuple = Check<S::SerializeTuple>;
    type SerializeTupleStruct = Check<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = Impossible<S::Ok, S::Error>;
    type SerializeStruct = CheckStruct<S::SerializeStruct>;
    type SerializeStructVariant = Impossible<S::Ok, S::Error>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
    );

    unlike!(
        serialize_f32(f32),
        serialize_i128(i128),
        serialize_u128(u128),
        serialize_bytes(&[u8]),
    );

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Checked(value))
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_struct(name)
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        if name.starts_with("$serde_json") {
            return Err(unlike_value());
        }
        self.0.serialize_newtype_struct(name, &Checked(value))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Checked(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Check)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Check)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Check)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Err(unlike_value())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Err(unlike_value())
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        if name.starts_with("$serde_json") {
            return Err(unlike_value());
        }
        self.0.serialize_struct(name, len).map(|inner| CheckStruct {
            inner,
            keys: Vec::new(),
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Err(unlike_value())
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

impl<S: ser::SerializeSeq> ser::SerializeSeq for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_element(&Checked(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTuple> ser::SerializeTuple for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_element(&Checked(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTupleStruct> ser::SerializeTupleStruct for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_field(&Checked(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

/// A struct written as is, refusing a field given twice (a `Value` map
/// keeps one).
struct CheckStruct<S> {
    inner: S,
    keys: Vec<&'static str>,
}

impl<S: ser::SerializeStruct> ser::SerializeStruct for CheckStruct<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        if self.keys.contains(&key) {
            return Err(unlike_value());
        }
        self.keys.push(key);
        self.inner.serialize_field(key, &Checked(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.inner.end()
    }
}

#[cfg(test)]
mod tests;
