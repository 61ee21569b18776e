//! Structured records: masking serde_json values by field path and by content.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::masker::Masker;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    AnyKey,
    Index(usize),
    AnyIndex,
}

/// A field path: `customer.phone`, `items[*].phone`, `rows[0].*.email`.
///
/// Segments are separated by `.`; `*` matches any key of an object, `[*]` any
/// element of an array, `[N]` element N.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(Vec<Segment>);

impl std::str::FromStr for FieldPath {
    type Err = Error;

    fn from_str(path: &str) -> Result<Self> {
        let bad = |reason| Error::PathInvalid {
            path: path.to_owned(),
            reason,
        };
        if path.is_empty() {
            return Err(bad("the path is empty"));
        }
        let mut segments = Vec::new();
        for part in path.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => part.split_at(i),
                None => (part, ""),
            };
            match name {
                "" if rest.is_empty() => return Err(bad("a segment is empty")),
                "" => {}
                "*" => segments.push(Segment::AnyKey),
                n => segments.push(Segment::Key(n.to_owned())),
            }
            while !rest.is_empty() {
                let Some(close) = rest.find(']') else {
                    return Err(bad("a `[` is not closed"));
                };
                let inner = rest.get(1..close).unwrap_or("");
                segments.push(match inner {
                    "*" => Segment::AnyIndex,
                    n => Segment::Index(
                        n.parse()
                            .map_err(|_| bad("an index is not `*` or a number"))?,
                    ),
                });
                rest = rest.get(close + 1..).unwrap_or("");
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(bad("text follows a `]`"));
                }
            }
        }
        Ok(FieldPath(segments))
    }
}

/// Masks JSON records: fields named by [`FieldPath`]s are masked whole, and
/// (if content detection is on) every other string, and every integer, is
/// scanned and masked like free text.
///
/// A masked field keeps its place; its value becomes a string. A field
/// selected by path is masked as the kind the scanner finds filling it (an
/// e-mail address in `contact`), else as [`Kind::Custom`]`("REDACTED")`;
/// objects and arrays selected by path have every leaf masked; `null` stays.
#[derive(Debug)]
pub struct JsonMasker<'m> {
    masker: &'m Masker,
    paths: Vec<FieldPath>,
    detect: bool,
}

impl<'m> JsonMasker<'m> {
    /// Content detection on, no paths.
    pub fn new(masker: &'m Masker) -> Self {
        Self {
            masker,
            paths: Vec::new(),
            detect: true,
        }
    }

    /// Masks the fields at `path` whole.
    pub fn path(mut self, path: &str) -> Result<Self> {
        self.paths.push(path.parse()?);
        Ok(self)
    }

    /// Whether strings outside the paths are scanned (default: yes).
    pub fn detect_content(mut self, on: bool) -> Self {
        self.detect = on;
        self
    }

    /// Masks `value` in place; returns how many values were changed.
    pub fn mask(&self, value: &mut Value) -> Result<usize> {
        let mut count = 0;
        for path in &self.paths {
            self.mask_path(value, &path.0, &mut count)?;
        }
        if self.detect {
            self.mask_content(value, &mut count)?;
        }
        Ok(count)
    }

    fn mask_path(&self, value: &mut Value, path: &[Segment], count: &mut usize) -> Result<()> {
        let Some((head, rest)) = path.split_first() else {
            return self.mask_all(value, count);
        };
        match (head, value) {
            (Segment::Key(k), Value::Object(map)) => {
                if let Some(v) = map.get_mut(k) {
                    self.mask_path(v, rest, count)?;
                }
            }
            (Segment::AnyKey, Value::Object(map)) => {
                for v in map.values_mut() {
                    self.mask_path(v, rest, count)?;
                }
            }
            (Segment::Index(i), Value::Array(items)) => {
                if let Some(v) = items.get_mut(*i) {
                    self.mask_path(v, rest, count)?;
                }
            }
            (Segment::AnyIndex, Value::Array(items)) => {
                for v in items {
                    self.mask_path(v, rest, count)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn mask_all(&self, value: &mut Value, count: &mut usize) -> Result<()> {
        let text = match value {
            Value::Null => return Ok(()),
            Value::Object(map) => {
                for v in map.values_mut() {
                    self.mask_all(v, count)?;
                }
                return Ok(());
            }
            Value::Array(items) => {
                for v in items {
                    self.mask_all(v, count)?;
                }
                return Ok(());
            }
            Value::String(s) if is_mask_token(s) => return Ok(()),
            Value::String(s) => std::mem::take(s),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
        };
        let found = self.masker.scanner().scan(&text);
        let kind = match found.as_slice() {
            [f] if f.start == 0 && f.end == text.len() => f.kind,
            _ => Kind::Custom("REDACTED"),
        };
        let masked = self.masker.mask_whole(kind, text.as_bytes())?;
        *value = Value::String(String::from_utf8_lossy(&masked).into_owned());
        *count += 1;
        Ok(())
    }

    fn mask_content(&self, value: &mut Value, count: &mut usize) -> Result<()> {
        match value {
            Value::Object(map) => {
                for v in map.values_mut() {
                    self.mask_content(v, count)?;
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.mask_content(v, count)?;
                }
            }
            Value::String(s) => {
                if let std::borrow::Cow::Owned(m) = self.masker.mask(s)? {
                    *s = m;
                    *count += 1;
                }
            }
            Value::Number(n) if n.is_u64() || n.is_i64() => {
                let text = n.to_string();
                if let std::borrow::Cow::Owned(m) = self.masker.mask(&text)? {
                    *value = Value::String(m);
                    *count += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `<PHONE>`, `<EMAIL:k3m9…>`: what an operator wrote (masking is idempotent).
fn is_mask_token(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('<').and_then(|s| s.strip_suffix('>')) else {
        return false;
    };
    let (kind, rest) = inner.split_once(':').unwrap_or((inner, ""));
    !kind.is_empty()
        && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        && rest.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b':' | b'+' | b'/' | b'=' | b'-' | b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        let p: FieldPath = "items[*].phone".parse().unwrap();
        assert_eq!(
            p.0,
            vec![
                Segment::Key("items".into()),
                Segment::AnyIndex,
                Segment::Key("phone".into())
            ]
        );
        let p: FieldPath = "a.*.b[2]".parse().unwrap();
        assert_eq!(
            p.0,
            vec![
                Segment::Key("a".into()),
                Segment::AnyKey,
                Segment::Key("b".into()),
                Segment::Index(2)
            ]
        );
        for bad in ["", "a..b", "a[", "a[x]", "a[0]b"] {
            assert!(bad.parse::<FieldPath>().is_err(), "{bad}");
        }
    }
}
