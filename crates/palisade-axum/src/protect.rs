//! Responses masked by field rights: what a value declares, and how the
//! guard serializes it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use palisade_audit::Subjects;
use palisade_pii::Kind;
use palisade_rbac::{Policy, Request as PolicyRequest, Resource as PolicyResource, Visibility};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::guard::{Guard, GuardedMark};
use crate::principal::Principal;
use crate::refusal::Refusal;
use crate::stream::Stream;

/// What one serialized field of a [`Protected`] value carries.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub(crate) name: &'static str,
    pub(crate) carries: Carries,
    /// The name needs no escaping in JSON (no quote, backslash or control
    /// character): written as it is.
    pub(crate) json_plain: bool,
    /// `,"name":` for a name written as it is, in the first `key_len`
    /// bytes (0: a name too long or to escape, written otherwise).
    pub(crate) key: [u8; KEY_LEN],
    pub(crate) key_len: u8,
}

/// The room for a field's `,"name":` written ahead ([`Field::key`]).
pub(crate) const KEY_LEN: usize = 16;

/// `,"name":` and its length, when it fits in [`KEY_LEN`] bytes and the
/// name is written as it is; else nothing (length 0).
#[expect(
    clippy::indexing_slicing,
    reason = "a `const fn` cannot use `get_mut`; every index is below the name's length \
              plus 4, which is checked first to be at most KEY_LEN"
)]
const fn key_of(name: &str) -> ([u8; KEY_LEN], u8) {
    let mut key = [0u8; KEY_LEN];
    let bytes = name.as_bytes();
    if !json_plain(name) || bytes.len() + 4 > KEY_LEN {
        return (key, 0);
    }
    key[0] = b',';
    key[1] = b'"';
    let mut i = 0;
    while i < bytes.len() {
        key[i + 2] = bytes[i];
        i += 1;
    }
    key[i + 2] = b'"';
    key[i + 3] = b':';
    (key, (i + 4) as u8)
}

/// Whether `name` is written in JSON as it is (serde_json escapes control
/// characters, `"` and `\\`).
const fn json_plain(name: &str) -> bool {
    let mut bytes = name.as_bytes();
    while let [b, rest @ ..] = bytes {
        if *b < 0x20 || *b == b'"' || *b == b'\\' {
            return false;
        }
        bytes = rest;
    }
    true
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Carries {
    Plain,
    Personal(Kind),
    Nested(&'static str, &'static [Field]),
}

impl Field {
    /// A field named `name` carrying `carries`, with what is worked out
    /// ahead from its name (whether it needs escaping, its key).
    const fn new(name: &'static str, carries: Carries) -> Field {
        let (key, key_len) = key_of(name);
        Field {
            name,
            carries,
            json_plain: json_plain(name),
            key,
            key_len,
        }
    }

    /// A field without personal data (an id, a date, a count). It is still
    /// hidden or masked when the policy declares a field right for it.
    #[must_use]
    pub const fn plain(name: &'static str) -> Field {
        Field::new(name, Carries::Plain)
    }

    /// A field holding personal data of `kind`: masked as that kind (a
    /// phone keeps its country code and last digits) when the policy says
    /// `masked`, left out when it says `hidden`.
    #[must_use]
    pub const fn personal(name: &'static str, kind: Kind) -> Field {
        Field::new(name, Carries::Personal(kind))
    }

    /// A value (or list of values) of another resource type, decided by
    /// that type's policy: left out entirely unless the principal may `read`
    /// `type_name`, and then masked by its own field rights.
    #[must_use]
    pub const fn nested(
        name: &'static str,
        type_name: &'static str,
        fields: &'static [Field],
    ) -> Field {
        Field::new(name, Carries::Nested(type_name, fields))
    }
}

/// A response value whose every field is declared: the guard serializes
/// it, then decides each field (visible, masked, hidden) and each nested
/// value by the policy. A serialized field that is not declared fails the
/// answer (500): nothing reaches a client that the policy was not asked about.
pub trait Protected: Serialize {
    /// The resource type whose field rights apply.
    const TYPE: &'static str;
    /// Every field the value serializes to.
    const FIELDS: &'static [Field];

    /// Adds the data subjects this value is about to `out`
    /// (`out.push_id("client", &self.id)` for `client:c-42`), written in the
    /// audit record of the request. Into one buffer: a page of twenty
    /// clients names them without a string each.
    fn subjects(&self, out: &mut Subjects) {
        let _ = out;
    }
}

impl<T: Protected> Protected for Vec<T> {
    const TYPE: &'static str = T::TYPE;
    const FIELDS: &'static [Field] = T::FIELDS;

    fn subjects(&self, out: &mut Subjects) {
        // Mostly one subject an item, `kind:` and an id: room for that from
        // the start rather than growing the buffers step by step.
        out.reserve(self.len(), self.len().saturating_mul(32));
        for item in self {
            item.subjects(out);
        }
    }
}

/// How a [`Guarded`] value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    /// `{ list: [ {…}, … ] }` flattened to CSV rows.
    Csv(&'static str),
}

/// An answer the guard vouches for: made by
/// [`Authorized::respond`](crate::Authorized::respond), serialized with the field rights of the
/// request's principal. The only way to answer an authorized request with
/// a body (the guard's layer refuses other bodies).
#[must_use = "a Guarded value is the answer: return it"]
pub struct Guarded<T: Protected> {
    value: T,
    principal: Principal,
    policy: Arc<Policy>,
    guard: Guard,
    format: Format,
    download: Option<&'static str>,
    status: axum::http::StatusCode,
    /// A type the request's own decision let the principal read (every
    /// one of it): nested values of it need no decision of their own.
    readable: Option<&'static str>,
}

impl<T: Protected> std::fmt::Debug for Guarded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("type", &T::TYPE)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl<T: Protected> Guarded<T> {
    /// `readable`: a type the principal was just allowed to `read` whole
    /// (`Type:*`) on `policy`, whose nested values are then not decided
    /// again.
    pub(crate) fn new(
        value: T,
        principal: Principal,
        policy: Arc<Policy>,
        guard: Guard,
        readable: Option<&'static str>,
    ) -> Self {
        Guarded {
            value,
            principal,
            policy,
            guard,
            format: Format::Json,
            download: None,
            status: axum::http::StatusCode::OK,
            readable,
        }
    }

    /// Answers with `status` (e.g. 201 Created) instead of 200.
    pub fn with_status(mut self, status: axum::http::StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Answers as a CSV download named `file_name`: the rows are the
    /// objects of the (masked) list field `list`, one column per field of
    /// the first row; cells a spreadsheet would read as a formula are
    /// neutralised.
    pub fn as_csv(mut self, list: &'static str, file_name: &'static str) -> Self {
        self.format = Format::Csv(list);
        self.download = Some(file_name);
        self
    }

    /// Answers as a download named `file_name` (`Content-Disposition`).
    pub fn as_download(mut self, file_name: &'static str) -> Self {
        self.download = Some(file_name);
        self
    }

    /// The value serialized and decided: what the client receives, and
    /// what the audit record says of it.
    pub(crate) fn protect(&self) -> Result<(Value, GuardedMark), Refusal> {
        let mut value = serde_json::to_value(&self.value).map_err(|e| {
            tracing::error!(error = %e, "palisade-axum: a response did not serialize");
            Refusal::Internal
        })?;
        let mut walker = Walker {
            policy: &self.policy,
            principal: &self.principal,
            guard: &self.guard,
            rights: HashMap::new(),
            readable: self.readable.map(|t| (t, true)).into_iter().collect(),
            mark: GuardedMark::default(),
        };
        walker.walk(&mut value, T::TYPE, T::FIELDS, "")?;
        let mut mark = walker.mark;
        self.value.subjects(&mut mark.subjects);
        if let Value::Object(map) = &mut value
            && !mark.masked.is_empty()
        {
            map.insert("masked".into(), serde_json::json!(mark.masked));
        }
        Ok((value, mark))
    }
}

struct Walker<'a> {
    policy: &'a Policy,
    principal: &'a Principal,
    guard: &'a Guard,
    rights: HashMap<&'static str, HashMap<String, Visibility>>,
    readable: HashMap<&'static str, bool>,
    mark: GuardedMark,
}

impl Walker<'_> {
    fn request<'r>(&'r self, type_name: &'r str) -> PolicyRequest<'r> {
        PolicyRequest::new(
            self.principal.user(),
            "read",
            PolicyResource::new(type_name, "*"),
        )
        .in_tenant(self.principal.tenant())
    }

    fn rights(&mut self, type_name: &'static str) -> &HashMap<String, Visibility> {
        let (policy, principal) = (self.policy, self.principal);
        self.rights.entry(type_name).or_insert_with(|| {
            // Field rights do not depend on the action: the ones an allowed
            // decision carries (a type without field rights has none).
            policy
                .field_rights_of(principal.user(), Some(principal.tenant()), type_name)
                .map(|fields| {
                    fields
                        .into_iter()
                        .map(|f| (f.field.to_owned(), f.visibility))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    fn readable(&mut self, type_name: &'static str) -> bool {
        if let Some(r) = self.readable.get(type_name) {
            return *r;
        }
        let request = self.request(type_name);
        let allowed = self.policy.decide(&request).is_ok_and(|d| d.is_allowed());
        self.readable.insert(type_name, allowed);
        allowed
    }

    fn note(list: &mut Vec<String>, path: String) {
        if !list.contains(&path) {
            list.push(path);
        }
    }

    fn walk(
        &mut self,
        value: &mut Value,
        type_name: &'static str,
        fields: &'static [Field],
        at: &str,
    ) -> Result<(), Refusal> {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.walk(item, type_name, fields, at)?;
                }
                Ok(())
            }
            Value::Object(map) => self.walk_object(map, type_name, fields, at),
            Value::Null => Ok(()),
            _ if fields.is_empty() => Ok(()),
            _ => {
                tracing::error!(
                    type_name,
                    "palisade-axum: a bare value where fields were declared"
                );
                Err(Refusal::Internal)
            }
        }
    }

    fn walk_object(
        &mut self,
        map: &mut Map<String, Value>,
        type_name: &'static str,
        fields: &'static [Field],
        at: &str,
    ) -> Result<(), Refusal> {
        if let Some(key) = map.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
            tracing::error!(
                type_name,
                field = %key,
                "palisade-axum: a response field is not declared; answer refused"
            );
            return Err(Refusal::Internal);
        }
        for field in fields {
            let Some(value) = map.get_mut(field.name) else {
                continue;
            };
            match field.carries {
                Carries::Nested(nested_type, nested_fields) => {
                    let path = if at.is_empty() {
                        field.name.to_owned()
                    } else {
                        format!("{at}.{}", field.name)
                    };
                    if self.readable(nested_type) {
                        self.walk(value, nested_type, nested_fields, &path)?;
                    } else {
                        remove(map, field.name);
                        Self::note(&mut self.mark.withheld, path);
                    }
                }
                Carries::Plain | Carries::Personal(_) => {
                    let visibility = self
                        .rights(type_name)
                        .get(field.name)
                        .copied()
                        .unwrap_or(Visibility::Visible);
                    match visibility {
                        Visibility::Visible => {
                            if matches!(field.carries, Carries::Personal(_))
                                && map.get(field.name).is_some_and(|v| !v.is_null())
                            {
                                note_name(&mut self.mark.shown, field.name);
                            }
                        }
                        Visibility::Hidden => {
                            remove(map, field.name);
                            note_name(&mut self.mark.hidden, field.name);
                        }
                        Visibility::Masked => {
                            let kind = match field.carries {
                                Carries::Personal(kind) => kind,
                                _ => Kind::Custom("REDACTED"),
                            };
                            if let Some(v) = map.get_mut(field.name) {
                                mask(self.guard, v, kind)?;
                            }
                            note_name(&mut self.mark.masked, field.name);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Removes `key` from `map`, keeping the order of the other keys (with
/// serde_json's `preserve_order`, `Map::remove` moves the last key into the
/// removed one's place).
fn remove(map: &mut Map<String, Value>, key: &str) {
    map.retain(|k, _| k != key);
}

fn note_name(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}

pub(crate) fn mask(guard: &Guard, value: &mut Value, kind: Kind) -> Result<(), Refusal> {
    let text = match value {
        Value::Null => return Ok(()),
        Value::String(s) => std::mem::take(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => {
            // A structured value under a masked field: nothing of it shows.
            *value = Value::String(mask_text(guard, Kind::Custom("REDACTED"), "XXXXXXXX")?);
            return Ok(());
        }
    };
    *value = Value::String(mask_text(guard, kind, &text)?);
    Ok(())
}

fn mask_text(guard: &Guard, kind: Kind, text: &str) -> Result<String, Refusal> {
    guard.masker().mask_value(kind, text).map_err(|e| {
        tracing::error!(error = %e, "palisade-axum: masking failed");
        Refusal::Internal
    })
}

impl<T: Protected> Guarded<T> {
    /// The value written as JSON, and what the audit record says of it: in
    /// one pass by the guarded serializer, or, for the shapes it leaves to
    /// the walk, through [`Guarded::protect`] (the reference: the serializer
    /// writes the same text).
    pub(crate) fn protect_json(&self) -> Result<(Vec<u8>, GuardedMark), Refusal> {
        let mut stream = Stream::new(&self.policy, &self.principal, &self.guard, self.readable);
        if stream.write(&self.value, T::TYPE, T::FIELDS).is_ok() {
            let (json, mut mark) = stream.finish();
            self.value.subjects(&mut mark.subjects);
            return Ok((json, mark));
        }
        let (value, mark) = self.protect()?;
        let json = serde_json::to_vec(&value).map_err(|e| {
            tracing::error!(error = %e, "palisade-axum: a response did not serialize");
            Refusal::Internal
        })?;
        Ok((json, mark))
    }
}

impl<T: Protected> IntoResponse for Guarded<T> {
    fn into_response(self) -> Response {
        let done = match self.format {
            Format::Json => self
                .protect_json()
                .map(|(json, mark)| (self.status, json, mark)),
            Format::Csv(list) => self.protect().and_then(|(value, mark)| {
                let columns = T::FIELDS.iter().find_map(|f| match f.carries {
                    Carries::Nested(_, fields) if f.name == list => Some(fields),
                    _ => None,
                });
                let csv = to_csv(&value, list, columns.unwrap_or(&[]))?;
                Ok((self.status, csv.into_bytes(), mark))
            }),
        };
        let (status, body, mark) = match done {
            Ok(done) => done,
            Err(refusal) => return refusal.into_response(),
        };
        let content_type = match self.format {
            Format::Json => "application/json",
            Format::Csv(_) => "text/csv; charset=utf-8",
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response();
        if let Some(name) = self.download
            && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, v);
        }
        response.extensions_mut().insert(mark);
        response
    }
}

/// The rows of `value[list]` as CSV: one column per declared scalar field
/// still present after the decision (hidden fields have no column), in
/// declaration order; every cell quoted, formula cells neutralised (OWASP: a
/// leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'`).
fn to_csv(value: &Value, list: &str, fields: &[Field]) -> Result<String, Refusal> {
    let rows = value
        .get(list)
        .and_then(Value::as_array)
        .ok_or(Refusal::Internal)?;
    let first = rows.first().and_then(Value::as_object);
    let columns: Vec<String> = fields
        .iter()
        .filter(|f| !matches!(f.carries, Carries::Nested(..)))
        .filter(|f| first.is_none_or(|row| row.contains_key(f.name)))
        .map(|f| f.name.to_owned())
        .collect();
    let mut out = String::new();
    let line = |cells: &mut dyn Iterator<Item = String>, out: &mut String| {
        let cells: Vec<String> = cells.collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    };
    line(&mut columns.iter().map(|c| csv_cell(c)), &mut out);
    for row in rows {
        let mut cells = columns.iter().map(|c| match row.get(c) {
            None | Some(Value::Null) => csv_cell(""),
            Some(Value::String(s)) => csv_cell(s),
            Some(other) => csv_cell(&other.to_string()),
        });
        line(&mut cells, &mut out);
    }
    Ok(out)
}

/// One CSV cell: quoted, and neutralised when a spreadsheet would read it as
/// a formula.
pub fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}
