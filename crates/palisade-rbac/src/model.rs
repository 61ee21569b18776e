//! The policy file: its serde model, with spans for precise messages.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The whole policy file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    /// The declared schema: resource types with their actions and fields.
    #[serde(default)]
    pub(crate) types: BTreeMap<String, Spanned<TypeDef>>,
    #[serde(default)]
    pub(crate) roles: BTreeMap<String, Spanned<RoleDef>>,
    /// Who may administer whom: the order of roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delegation: Option<Spanned<DelegationDef>>,
    #[serde(default)]
    pub(crate) tenants: BTreeMap<String, Spanned<TenantDef>>,
    #[serde(default)]
    pub(crate) users: BTreeMap<String, Spanned<UserDef>>,
    /// Known resources and their attributes, keyed `Type:id`.
    #[serde(default)]
    pub(crate) resources: BTreeMap<String, Spanned<ResourceDef>>,
}

/// `[delegation]`: the order of roles for administrative delegation.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DelegationDef {
    /// Most senior first; each entry outranks every entry after it. An
    /// entry is a role name, or a list of peer roles (none outranks another).
    #[serde(default)]
    pub(crate) order: Vec<Spanned<Rank>>,
}

/// One step of the delegation order: a role, or several peer roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rank {
    One(String),
    Peers(Vec<String>),
}

impl Rank {
    pub(crate) fn roles(&self) -> &[String] {
        match self {
            Self::One(role) => std::slice::from_ref(role),
            Self::Peers(roles) => roles,
        }
    }
}

impl Serialize for Rank {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(role) => serializer.serialize_str(role),
            Self::Peers(roles) => roles.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Rank {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Rank;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a role name or a list of peer role names")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Rank, E> {
                Ok(Rank::One(value.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Rank, A::Error> {
                let mut roles = Vec::new();
                while let Some(role) = seq.next_element::<String>()? {
                    roles.push(role);
                }
                Ok(Rank::Peers(roles))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypeDef {
    #[serde(default)]
    pub(crate) actions: Vec<String>,
    #[serde(default)]
    pub(crate) fields: Vec<String>,
}

/// Rights shared by roles and users.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) inherits: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) allow: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deny: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) fields: BTreeMap<String, Visibility>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) rules: Vec<Spanned<RuleDef>>,
}

/// The rights a role or a user carries (serde's `flatten` would lose spans
/// and unknown-field checks, so both structs list the fields themselves).
#[derive(Clone, Copy)]
pub(crate) struct Rights<'a> {
    pub(crate) allow: &'a [Spanned<String>],
    pub(crate) deny: &'a [Spanned<String>],
    pub(crate) fields: &'a BTreeMap<String, Visibility>,
    pub(crate) rules: &'a [Spanned<RuleDef>],
}

impl RoleDef {
    pub(crate) fn rights(&self) -> Rights<'_> {
        Rights {
            allow: &self.allow,
            deny: &self.deny,
            fields: &self.fields,
            rules: &self.rules,
        }
    }
}

impl UserDef {
    pub(crate) fn rights(&self) -> Rights<'_> {
        Rights {
            allow: &self.allow,
            deny: &self.deny,
            fields: &self.fields,
            rules: &self.rules,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) actions: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) owner: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) when: Vec<Comparison>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(value: &bool) -> bool {
    !*value
}

/// A comparison of one request-context attribute with a constant.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Comparison {
    pub(crate) context: String,
    pub(crate) op: Op,
    pub(crate) value: Operand,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

impl Op {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::In => "in",
        }
    }
}

/// The constant side of a comparison.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub(crate) enum Operand {
    Bool(bool),
    Long(i64),
    String(String),
    List(Vec<Scalar>),
}

/// A scalar constant inside an `in` list.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Bool(bool),
    Long(i64),
    String(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Long(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Long(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
            Self::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Whether a rule allows or denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The rule grants the actions.
    Allow,
    /// The rule forbids the actions; a matching deny beats any allow.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        })
    }
}

/// How a field of a resource is shown to a principal.
///
/// Ordered from least to most restrictive, so `max` picks the stricter one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Shown as is.
    Visible,
    /// Shown masked (hand it to a masking library such as palisade-pii).
    Masked,
    /// Not shown at all.
    Hidden,
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Visible => "visible",
            Self::Masked => "masked",
            Self::Hidden => "hidden",
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    pub(crate) owners: Vec<Spanned<String>>,
    pub(crate) owner_role: Spanned<String>,
}

/// Whether a principal may act at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The principal's rights apply.
    #[default]
    Active,
    /// The principal is denied everything.
    Blocked,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserDef {
    #[serde(default)]
    pub(crate) status: Status,
    /// Roles held in every tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) roles: Vec<Spanned<String>>,
    /// Roles held in one tenant.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) tenants: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) allow: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deny: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) fields: BTreeMap<String, Visibility>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) rules: Vec<Spanned<RuleDef>>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<Spanned<String>>,
}

/// An action reference resolved against the schema: `*`, `Type:*` or `Type:action`.
pub(crate) enum ActionRef<'a> {
    All,
    AllOf(&'a str),
    One(&'a str, &'a str),
}

pub(crate) fn parse_action_ref(text: &str) -> Option<ActionRef<'_>> {
    if text == "*" {
        return Some(ActionRef::All);
    }
    let (ty, action) = text.split_once(':')?;
    if ty.is_empty() || action.is_empty() || action.contains(':') {
        return None;
    }
    if action == "*" {
        Some(ActionRef::AllOf(ty))
    } else {
        Some(ActionRef::One(ty, action))
    }
}
