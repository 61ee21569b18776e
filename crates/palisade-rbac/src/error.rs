//! The one error type of the crate.

use std::fmt;

/// A problem found while validating a policy: what is wrong and, when the
/// policy came from a file, on which line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the policy file, when known.
    pub line: Option<usize>,
    /// What is wrong, in Cedar's style (lowercase, user input in backticks).
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything that can go wrong when loading, changing or querying a policy.
///
/// Decisions themselves never fail: an unknown principal, action or resource
/// type is simply not permitted (default deny).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The policy file is not well-formed TOML or does not have the expected shape.
    #[error("{}", syntax_message(*.line, .message))]
    Syntax {
        /// 1-based line of the error, when the parser knows it.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// The policy is well-formed but breaks its schema or an invariant.
    #[error("invalid policy: {}", join(.problems))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
    /// No principal has this name.
    #[error("unknown principal `{0}`")]
    UnknownPrincipal(String),
    /// No tenant has this name.
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    /// No role has this name.
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    /// The resource type or the action is not declared in the schema.
    #[error("unknown action `{action}` on resource type `{resource_type}`")]
    UnknownAction {
        /// The resource type asked for.
        resource_type: String,
        /// The action asked for.
        action: String,
    },
    /// A resource name is not of the form `Type:id`.
    #[error("malformed resource `{0}`: expected `Type:id` or `Type`")]
    MalformedResource(String),
    /// A request context is not a JSON object of strings, integers and booleans.
    #[error("invalid context: {0}")]
    InvalidContext(String),
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
    /// The policy could not be written out as TOML.
    #[error("cannot write policy: {0}")]
    Write(String),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

fn syntax_message(line: Option<usize>, message: &str) -> String {
    let message = message.trim_end();
    match line {
        Some(line) => format!("malformed policy file at line {line}: {message}"),
        None => format!("malformed policy file: {message}"),
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
