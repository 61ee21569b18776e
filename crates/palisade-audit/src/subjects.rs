//! `Subjects`: the data subjects of an event or record, in one buffer.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The data subjects an event or record concerns (`customer:4711`), in
/// order: their text in one buffer, not a string each, so that an event
/// naming a page of twenty clients costs one allocation, not twenty.
///
/// ```
/// use palisade_audit::Subjects;
///
/// let mut subjects = Subjects::new();
/// subjects.push("customer:4711");
/// subjects.push_id("customer", "99");
/// assert_eq!(subjects.len(), 2);
/// assert_eq!(subjects.get(1), Some("customer:99"));
/// assert_eq!(subjects.iter().collect::<Vec<_>>(), ["customer:4711", "customer:99"]);
/// assert!(subjects.contains("customer:4711"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Subjects {
    /// The subjects one after the other.
    text: String,
    /// Where each ends in `text`.
    ends: Vec<usize>,
}

impl Subjects {
    /// No subjects.
    pub fn new() -> Subjects {
        Subjects::default()
    }

    /// No subjects yet, with room for `count` of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> Subjects {
        Subjects {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(count),
        }
    }

    /// Makes room for `count` more subjects of `bytes` more bytes in all.
    pub fn reserve(&mut self, count: usize, bytes: usize) {
        self.ends.reserve(count);
        self.text.reserve(bytes);
    }

    /// Appends `subject`.
    pub fn push(&mut self, subject: &str) {
        self.text.push_str(subject);
        self.ends.push(self.text.len());
    }

    /// Appends the subject `kind:id` (`customer:4711`, what [`subject`]
    /// names) without a string of its own.
    pub fn push_id(&mut self, kind: &str, id: &str) {
        put_id(&mut self.text, kind, id);
        self.ends.push(self.text.len());
    }

    /// Appends every subject of `other`, in order.
    pub fn extend_from(&mut self, other: &Subjects) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().map(|end| base + end));
    }

    /// The number of subjects.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Subject `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start..end)
    }

    /// Whether `subject` is one of them.
    pub fn contains(&self, subject: &str) -> bool {
        self.iter().any(|s| s == subject)
    }

    /// The subjects in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            subjects: self,
            front: 0,
            back: self.ends.len(),
        }
    }

    /// The subjects as strings of their own.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// The name of the data subject `id` of kind `kind`: `kind:id`
/// (`customer:4711`), as [`Subjects::push_id`] adds it, in one allocation
/// of its length.
///
/// ```
/// assert_eq!(palisade_audit::subject("client", "c-42"), "client:c-42");
/// ```
pub fn subject(kind: &str, id: &str) -> String {
    let mut name = String::with_capacity(kind.len().saturating_add(id.len()).saturating_add(1));
    put_id(&mut name, kind, id);
    name
}

/// Writes `kind:id`: the one place a subject's name is made of its parts.
fn put_id(text: &mut String, kind: &str, id: &str) {
    text.push_str(kind);
    text.push(':');
    text.push_str(id);
}

/// The subjects of a [`Subjects`], in order ([`Subjects::iter`]).
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    subjects: &'a Subjects,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.front >= self.back {
            return None;
        }
        let subject = self.subjects.get(self.front);
        self.front += 1;
        subject
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.back.saturating_sub(self.front);
        (left, Some(left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        self.subjects.get(self.back)
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Subjects {
    type Item = &'a str;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Subjects {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Subjects {
        let mut subjects = Subjects::new();
        subjects.extend(iter);
        subjects
    }
}

impl<S: AsRef<str>> Extend<S> for Subjects {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for subject in iter {
            self.push(subject.as_ref());
        }
    }
}

impl fmt::Debug for Subjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Subjects {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Subjects {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for &Subjects {
    fn eq(&self, other: &[S; N]) -> bool {
        **self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Subjects {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl Serialize for Subjects {
    /// A list of strings.
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for subject in self {
            seq.serialize_element(subject)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Subjects {
    /// From a list of strings.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Subjects, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Subjects;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of data subjects (strings)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Subjects, A::Error> {
                let mut subjects = Subjects::new();
                while let Some(subject) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    subjects.push(&subject);
                }
                Ok(subjects)
            }
        }
        deserializer.deserialize_seq(List)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use proptest::prelude::*;

    use super::Subjects;

    proptest! {
        /// Whatever is pushed comes back, in order, by `get`, `iter`
        /// both ways, `to_vec` and JSON; `extend_from` acts as on a list of
        /// strings.
        #[test]
        fn subjects_behave_as_a_list_of_strings(
            list in proptest::collection::vec(".{0,12}", 0..8),
            more in proptest::collection::vec(".{0,12}", 0..4),
        ) {
            let subjects: Subjects = list.iter().collect();
            prop_assert_eq!(subjects.len(), list.len());
            prop_assert_eq!(subjects.is_empty(), list.is_empty());
            prop_assert_eq!(subjects.to_vec(), list.clone());
            for (i, s) in list.iter().enumerate() {
                prop_assert_eq!(subjects.get(i), Some(s.as_str()));
                prop_assert!(subjects.contains(s));
            }
            prop_assert_eq!(subjects.get(list.len()), None);
            let backwards: Vec<&str> = subjects.iter().rev().collect();
            let expected: Vec<&str> = list.iter().rev().map(String::as_str).collect();
            prop_assert_eq!(backwards, expected);
            prop_assert_eq!(subjects.iter().len(), list.len());
            let json = serde_json::to_string(&subjects).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&list).unwrap());
            prop_assert_eq!(serde_json::from_str::<Subjects>(&json).unwrap(), subjects.clone());

            let mut joined = subjects.clone();
            joined.extend_from(&more.iter().collect());
            let mut all = list.clone();
            all.extend(more.iter().cloned());
            prop_assert_eq!(joined.to_vec(), all);
        }
    }

    #[test]
    fn an_id_is_its_kind_a_colon_and_itself() {
        let mut subjects = Subjects::new();
        subjects.push_id("client", "c-42");
        subjects.push("");
        assert_eq!(subjects, ["client:c-42", ""]);
        assert_eq!(
            subjects.get(0),
            Some(super::subject("client", "c-42").as_str())
        );
        assert_eq!(format!("{subjects:?}"), r#"["client:c-42", ""]"#);
        assert!(serde_json::from_str::<Subjects>(r#"["a", 1]"#).is_err());
    }
}
