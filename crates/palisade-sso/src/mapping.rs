//! Claims to roles: the tenant's rules, just-in-time provisioning and the
//! owner's protection.

use serde_json::Value;

use crate::compile::TenantConfig;
use crate::error::{Error, Result};
use crate::model::Jit;

/// What the application knows of the user before this sign-in: the local
/// account found for the provider's subject (see
/// [`Authenticated::subject`](crate::Authenticated::subject)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAccount {
    role: String,
    owner: bool,
}

impl LocalAccount {
    /// An account holding `role` in the tenant.
    pub fn new(role: impl Into<String>) -> LocalAccount {
        LocalAccount {
            role: role.into(),
            owner: false,
        }
    }

    /// Marks the account as the tenant's owner: its role is never changed by a claim.
    pub fn with_owner(mut self, owner: bool) -> LocalAccount {
        self.owner = owner;
        self
    }

    /// The role the account holds now.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Whether the account owns the tenant.
    pub fn is_owner(&self) -> bool {
        self.owner
    }
}

/// What the sign-in does to the local account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provisioning {
    /// The account exists and keeps its role (always the case for the owner).
    Unchanged,
    /// The account does not exist: create it with the mapped role.
    Created,
    /// The account exists and its role changes to the mapped one.
    RoleChanged {
        /// The role it held before.
        from: String,
    },
}

impl Provisioning {
    /// `unchanged`, `created` or `role_changed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Provisioning::Unchanged => "unchanged",
            Provisioning::Created => "created",
            Provisioning::RoleChanged { .. } => "role_changed",
        }
    }
}

/// The role a sign-in gives and what it does to the local account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleAssignment {
    /// The role to hold in the tenant.
    pub role: String,
    /// What to do with the local account.
    pub provisioning: Provisioning,
}

/// Whether `claim` is `value` or an array containing `value`.
fn holds(claim: Option<&Value>, value: &str) -> bool {
    match claim {
        Some(Value::String(s)) => s == value,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(value)),
        _ => false,
    }
}

/// The role the tenant's rules give for `claims` (a JSON object): the first
/// matching rule in file order, else the default role, else none.
pub(crate) fn mapped_role<'t>(tenant: &'t TenantConfig, claims: &Value) -> Option<&'t str> {
    tenant
        .rules
        .iter()
        .find(|rule| holds(claims.get(&rule.claim), &rule.value))
        .map(|rule| rule.role.as_str())
        .or(tenant.default_role.as_deref())
}

/// Applies the mapped role to the local account:
///
/// * the owner keeps their role whatever the claims say;
/// * another existing account takes the mapped role, or loses access when none maps;
/// * an unknown user is created with the mapped role if the tenant provisions
///   accounts, and refused otherwise.
pub(crate) fn assign(
    tenant: &TenantConfig,
    mapped: Option<&str>,
    existing: Option<&LocalAccount>,
) -> Result<RoleAssignment> {
    match (existing, mapped) {
        (Some(account), _) if account.owner => Ok(RoleAssignment {
            role: account.role.clone(),
            provisioning: Provisioning::Unchanged,
        }),
        (_, None) => Err(Error::RoleNotMapped),
        (Some(account), Some(role)) if account.role == role => Ok(RoleAssignment {
            role: role.to_owned(),
            provisioning: Provisioning::Unchanged,
        }),
        (Some(account), Some(role)) => Ok(RoleAssignment {
            role: role.to_owned(),
            provisioning: Provisioning::RoleChanged {
                from: account.role.clone(),
            },
        }),
        (None, Some(role)) => match tenant.jit {
            Jit::Provision => Ok(RoleAssignment {
                role: role.to_owned(),
                provisioning: Provisioning::Created,
            }),
            Jit::Refuse => Err(Error::AccountUnknown),
        },
    }
}
