//! Where a ciphertext belongs: the associated data every ciphertext is bound to.

use std::collections::BTreeMap;
use std::fmt;

use crate::{Error, Result};

/// Where a ciphertext belongs, e.g. tenant, table, column and row id.
///
/// Every field ciphertext is bound to its context through the AEAD's
/// associated data, so a ciphertext copied into another row, column or tenant
/// fails to decrypt. A context is a set of `label = value` pairs; the order in
/// which they are added does not matter, and adding a label twice keeps the
/// last value.
///
/// The bytes that are authenticated are a canonical, unambiguous encoding
/// (see [`Context::encode`]): no two different contexts encode alike.
///
/// ```
/// use palisade_crypt::Context;
///
/// let a = Context::field("users", "email", "42").with("tenant", "acme");
/// let b = Context::parse("tenant=acme,table=users,row=42,column=email")?;
/// assert_eq!(a, b);
/// # Ok::<(), palisade_crypt::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Context {
    /// Label to that pair's encoding (`u32` label length, label, `u32`
    /// value length, value): sealing and opening copy each pair whole.
    entries: BTreeMap<String, Vec<u8>>,
}

impl Context {
    /// The empty context: binds a ciphertext to nothing but its key.
    pub fn new() -> Self {
        Self::default()
    }

    /// The usual context of a database field: `table`, `column` and `row`.
    pub fn field(table: &str, column: &str, row: &str) -> Self {
        Self::new()
            .with("table", table)
            .with("column", column)
            .with("row", row)
    }

    /// Adds (or replaces) one `label = value` pair.
    #[must_use]
    pub fn with(mut self, label: &str, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        let mut pair = Vec::with_capacity(8 + label.len() + value.len());
        pair.extend_from_slice(&len32(label.len()));
        pair.extend_from_slice(label.as_bytes());
        pair.extend_from_slice(&len32(value.len()));
        pair.extend_from_slice(value);
        self.entries.insert(label.to_owned(), pair);
        self
    }

    /// Parses `label=value,label=value`, the form the command-line tool uses.
    ///
    /// Labels are non-empty and made of ASCII letters, digits, `_`, `-` and
    /// `.`; values are any text without `,`. A label given twice is refused.
    /// The empty string is the empty context.
    pub fn parse(text: &str) -> Result<Self> {
        let mut context = Self::new();
        if text.is_empty() {
            return Ok(context);
        }
        for pair in text.split(',') {
            let Some((label, value)) = pair.split_once('=') else {
                return Err(Error::ContextInvalid(format!(
                    "`{pair}` is not of the form `label=value`"
                )));
            };
            let valid_label = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid_label {
                return Err(Error::ContextInvalid(format!(
                    "label `{label}` must be letters, digits, `_`, `-` or `.`"
                )));
            }
            if context.entries.contains_key(label) {
                return Err(Error::ContextInvalid(format!(
                    "label `{label}` is given twice"
                )));
            }
            context = context.with(label, value);
        }
        Ok(context)
    }

    /// The value of one label, if present.
    pub fn get(&self, label: &str) -> Option<&[u8]> {
        self.entries
            .get_key_value(label)
            .and_then(|(label, pair)| pair_value(label, pair))
    }

    /// The canonical encoding that is authenticated as associated data:
    /// a big-endian `u32` count of pairs, then for each pair in label order a
    /// big-endian `u32` length and the label's UTF-8 bytes, a big-endian
    /// `u32` length and the value's bytes.
    ///
    /// Lengths are `u32`: a label or value of 4 GiB or more (which no
    /// database field holds) has its length saturated.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    pub(crate) fn encoded_len(&self) -> usize {
        4 + self.entries.values().map(Vec::len).sum::<usize>()
    }

    /// Writes the encoding into `out`; returns its length, or `None` (and
    /// garbage in `out`) when it does not fit.
    pub(crate) fn encode_to(&self, out: &mut [u8]) -> Option<usize> {
        let mut writer = SliceWriter { out, at: 0 };
        writer.put(&len32(self.entries.len()))?;
        for pair in self.entries.values() {
            writer.put(pair)?;
        }
        Some(writer.at)
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&len32(self.entries.len()));
        for pair in self.entries.values() {
            out.extend_from_slice(pair);
        }
    }
}

struct SliceWriter<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.at.checked_add(bytes.len())?;
        self.out.get_mut(self.at..end)?.copy_from_slice(bytes);
        self.at = end;
        Some(())
    }
}

/// The value inside one pair's encoding: what follows the label and the
/// value's length.
fn pair_value<'a>(label: &str, pair: &'a [u8]) -> Option<&'a [u8]> {
    pair.get(8 + label.len()..)
}

fn len32(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (label, pair) in &self.entries {
            let value = pair_value(label, pair).unwrap_or_default();
            map.entry(label, &String::from_utf8_lossy(value));
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_canonical_and_unambiguous() {
        let a = Context::new().with("a", "b,c");
        let b = Context::new().with("a", "b").with("c", "");
        assert_ne!(a.encode(), b.encode());
        let c = Context::new().with("ab", "c");
        let d = Context::new().with("a", "bc");
        assert_ne!(c.encode(), d.encode());
        assert_eq!(
            Context::new().with("x", "1").with("y", "2").encode(),
            Context::new().with("y", "2").with("x", "1").encode()
        );
        assert_eq!(Context::new().encode(), vec![0, 0, 0, 0]);
        for context in [&a, &b, &c, &d] {
            let mut buf = [0u8; 64];
            let n = context.encode_to(&mut buf).unwrap();
            assert_eq!(&buf[..n], &context.encode()[..]);
            assert_eq!(context.encode_to(&mut buf[..n - 1]), None);
        }
        assert_eq!(
            Context::new().with("t", "u").encode(),
            vec![0, 0, 0, 1, 0, 0, 0, 1, b't', 0, 0, 0, 1, b'u']
        );
    }

    #[test]
    fn parse_is_strict() {
        assert!(Context::parse("a=1,a=2").is_err());
        assert!(Context::parse("a").is_err());
        assert!(Context::parse("=1").is_err());
        assert!(Context::parse("a b=1").is_err());
        assert_eq!(Context::parse("").unwrap(), Context::new());
        assert_eq!(
            Context::parse("row=a=b").unwrap().get("row"),
            Some(&b"a=b"[..])
        );
    }

    proptest::proptest! {
        /// The stored per-pair encodings give exactly the encoding the
        /// format defines, computed here from the pairs themselves, and
        /// `get` returns each label's last value.
        #[test]
        fn encoding_matches_the_definition(
            pairs in proptest::collection::vec(("[a-d]{0,3}", proptest::collection::vec(0u8..=255, 0..12)), 0..8)
        ) {
            let mut context = Context::new();
            let mut reference = BTreeMap::new();
            for (label, value) in &pairs {
                context = context.with(label, value);
                reference.insert(label.clone(), value.clone());
            }
            let mut expected = (reference.len() as u32).to_be_bytes().to_vec();
            for (label, value) in &reference {
                expected.extend_from_slice(&(label.len() as u32).to_be_bytes());
                expected.extend_from_slice(label.as_bytes());
                expected.extend_from_slice(&(value.len() as u32).to_be_bytes());
                expected.extend_from_slice(value);
            }
            proptest::prop_assert_eq!(context.encode(), expected.clone());
            proptest::prop_assert_eq!(context.encoded_len(), expected.len());
            let mut buf = vec![0u8; expected.len()];
            proptest::prop_assert_eq!(context.encode_to(&mut buf), Some(expected.len()));
            proptest::prop_assert_eq!(&buf, &expected);
            for (label, value) in &reference {
                proptest::prop_assert_eq!(context.get(label), Some(value.as_slice()));
            }
            proptest::prop_assert_eq!(context.get("zz"), None);
        }
    }
}
