//! The one error type of the crate.

use std::fmt;

/// How serious a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The policy is usable as written.
    Warning,
    /// The policy cannot be used as written.
    Error,
}

/// One finding of policy parsing or validation: how serious, where in the
/// policy file (when the policy came from one) and what is wrong.
///
/// The same shape as palisade-retention's `Problem`, so a tool reports the
/// problems of both kinds of policy file alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning. Every problem this crate reports today is an error.
    pub severity: Severity,
    /// 1-based line in the policy file, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) in that line, when known.
    pub column: Option<usize>,
    /// What is wrong, in Cedar's style (lowercase, user input in backticks).
    pub message: String,
}

/// `line 3, column 7: error: unknown role `Admin``; the place is left out
/// when unknown.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(
                    f,
                    "line {line}, column {column}: {severity}: {}",
                    self.message
                )
            }
            (Some(line), None) => write!(f, "line {line}: {severity}: {}", self.message),
            _ => write!(f, "{severity}: {}", self.message),
        }
    }
}

/// Everything that can go wrong when loading, changing or querying a policy.
///
/// A decision fails only for a tenant the policy does not declare
/// ([`Error::TenantUnknown`]); an unknown principal, action or resource type
/// is simply not permitted (default deny).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy file is not well-formed TOML, does not have the expected
    /// shape, or breaks its schema or an invariant; every problem found is
    /// listed, in file order (a malformed file has one).
    #[error("invalid policy: {}", join(.0))]
    PolicyInvalid(Vec<Problem>),
    /// No principal has this name.
    #[error("unknown principal `{0}`")]
    PrincipalUnknown(String),
    /// A principal of this name already exists.
    #[error("principal `{0}` already exists")]
    PrincipalExists(String),
    /// No tenant has this name. A decision in an undeclared tenant is
    /// refused with this error rather than answered (a mistyped tenant).
    #[error("unknown tenant `{0}`")]
    TenantUnknown(String),
    /// No role has this name.
    #[error("unknown role `{0}`")]
    RoleUnknown(String),
    /// The resource type or the action is not declared in the schema.
    #[error("unknown action `{action}` on resource type `{resource_type}`")]
    ActionUnknown {
        /// The resource type asked for.
        resource_type: String,
        /// The action asked for.
        action: String,
    },
    /// The field is not declared in the schema (`Type.field`).
    #[error("unknown field `{0}` (expected `Type.field` of a declared type)")]
    FieldUnknown(String),
    /// A resource name is not of the form `Type:id`.
    #[error("malformed resource `{0}`: expected `Type:id` or `Type`")]
    ResourceMalformed(String),
    /// A request context is not a JSON object of strings, integers and booleans.
    #[error("invalid context: {0}")]
    ContextInvalid(String),
    /// The principal owns a tenant, so it cannot be blocked.
    #[error("principal `{principal}` owns tenant `{tenant}` and cannot be blocked")]
    OwnerCannotBeBlocked {
        /// The protected principal.
        principal: String,
        /// A tenant it owns.
        tenant: String,
    },
    /// The principal owns a tenant, so it cannot be deleted.
    #[error("principal `{principal}` owns tenant `{tenant}` and cannot be deleted")]
    OwnerCannotBeDeleted {
        /// The protected principal.
        principal: String,
        /// A tenant it owns.
        tenant: String,
    },
    /// The change would take the tenant's owner role away from one of its owners.
    #[error("principal `{principal}` owns tenant `{tenant}` and must keep role `{role}`")]
    OwnerCannotBeDemoted {
        /// The protected principal.
        principal: String,
        /// A tenant it owns.
        tenant: String,
        /// The tenant's owner role.
        role: String,
    },
    /// The change would leave a tenant without any owner.
    #[error("tenant `{0}` would be left without an owner")]
    TenantWithoutOwner(String),
    /// The acting principal is blocked, so it can change nothing.
    #[error("principal `{actor}` is blocked and cannot change the policy")]
    ActorBlocked {
        /// The acting principal.
        actor: String,
    },
    /// Nobody changes their own roles, rights or status.
    #[error("principal `{actor}` cannot change its own roles or rights")]
    SelfChangeRefused {
        /// The acting principal, also the one it tried to change.
        actor: String,
    },
    /// The principal owns a tenant in which the change would apply, and only
    /// an owner of that tenant may change it.
    #[error("principal `{actor}` cannot change `{principal}`, an owner of tenant `{tenant}`")]
    OwnerProtected {
        /// The acting principal.
        actor: String,
        /// The owner it tried to change.
        principal: String,
        /// The tenant `principal` owns.
        tenant: String,
    },
    /// The acting principal holds no role of the delegation order in the
    /// tenant, so it outranks nobody there.
    #[error("principal `{actor}` holds no ranked role in tenant `{tenant}` and outranks nobody")]
    ActorUnranked {
        /// The acting principal.
        actor: String,
        /// The tenant.
        tenant: String,
    },
    /// The acting principal does not outrank a role: one the changed
    /// principal holds, or one it would be given.
    #[error("principal `{actor}` does not outrank role `{role}` in tenant `{tenant}`")]
    RoleNotOutranked {
        /// The acting principal.
        actor: String,
        /// The role it does not outrank.
        role: String,
        /// The tenant.
        tenant: String,
    },
    /// The change would give a right the acting principal does not hold
    /// itself (unconditionally, or under the same conditions).
    #[error("principal `{actor}` cannot give `{right}` in tenant `{tenant}`: it does not hold it")]
    ActorLacksRight {
        /// The acting principal.
        actor: String,
        /// The right, `Type:action`.
        right: String,
        /// The tenant in which the actor lacks it.
        tenant: String,
    },
    /// The change would show a field more openly than the acting principal
    /// sees it itself.
    #[error(
        "principal `{actor}` sees `{field}` {visibility} in tenant `{tenant}` and cannot show it more openly"
    )]
    ActorLacksFieldRight {
        /// The acting principal.
        actor: String,
        /// The field, `Type.field`.
        field: String,
        /// How the actor sees it.
        visibility: crate::Visibility,
        /// The tenant.
        tenant: String,
    },
    /// There is no such grant, deny or field setting of the principal to remove.
    #[error("principal `{principal}` has no own {setting}")]
    RightNotSet {
        /// The principal.
        principal: String,
        /// What was to be removed, e.g. ``deny of `Client:export` ``.
        setting: String,
    },
    /// The policy could not be written out as TOML.
    #[error("cannot write policy: {0}")]
    PolicyUnwritable(#[source] toml::ser::Error),
}

impl Error {
    /// The problems of an invalid policy ([`Error::PolicyInvalid`]), in file
    /// order; empty for every other error.
    #[must_use]
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::PolicyInvalid(problems) => problems,
            _ => &[],
        }
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
