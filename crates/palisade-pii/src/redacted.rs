//! A wrapper whose `Debug` and `Display` never show the value.

use std::fmt;

use crate::kind::Kind;

/// Holds personal data or a secret so it cannot be logged by accident:
/// `Debug` and `Display` print `<REDACTED>` (or the kind, `<PHONE>`), and so
/// does `serde` serialisation; the value is reached only through
/// [`Redacted::expose`].
///
/// ```
/// use palisade_pii::{Kind, Redacted};
///
/// let phone = Redacted::with_kind(Kind::Phone, String::from("+48 601 234 567"));
/// assert_eq!(format!("{phone} {phone:?}"), "<PHONE> Redacted(<PHONE>)");
/// assert_eq!(phone.expose(), "+48 601 234 567");
/// ```
///
/// For secrets, wrap a type that wipes itself (`Redacted<Zeroizing<String>>`):
/// `Redacted` implements [`zeroize::Zeroize`] when its content does.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Redacted<T> {
    value: T,
    kind: Option<Kind>,
}

impl<T> Redacted<T> {
    /// Wraps `value`, shown as `<REDACTED>`.
    pub fn new(value: T) -> Self {
        Self { value, kind: None }
    }

    /// Wraps `value`, shown as its kind: `<EMAIL>`.
    pub fn with_kind(kind: Kind, value: T) -> Self {
        Self {
            value,
            kind: Some(kind),
        }
    }

    /// The value, for the code that really needs it.
    pub fn expose(&self) -> &T {
        &self.value
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.value
    }

    fn label(&self) -> &'static str {
        self.kind.map_or("REDACTED", Kind::name)
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.label())
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redacted(<{}>)", self.label())
    }
}

impl<T> serde::Serialize for Redacted<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<T: zeroize::Zeroize> zeroize::Zeroize for Redacted<T> {
    fn zeroize(&mut self) {
        self.value.zeroize();
    }
}
