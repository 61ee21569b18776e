//! The public configuration: parse → validate → compile.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::compile::{TenantConfig, compile};
use crate::error::{Error, Result};
use crate::mapping::{LocalAccount, RoleAssignment, assign, mapped_role};
use crate::validate::{ensure_valid, parse};

/// Every tenant's identity provider, validated and compiled.
///
/// Built from a TOML file with [`Config::from_toml`]; see the crate
/// documentation for the format.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub(crate) tenants: BTreeMap<String, Arc<TenantConfig>>,
}

impl Config {
    /// Parses, validates and compiles a configuration file. Every problem is
    /// reported at once, with its line and column ([`Error::ConfigInvalid`]);
    /// a file that is not TOML of the expected shape is one such problem.
    pub fn from_toml(text: &str) -> Result<Config> {
        let file = parse(text)?;
        ensure_valid(&file, text)?;
        Ok(Config {
            tenants: compile(&file)?,
        })
    }

    /// The configured tenants, in name order.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// Every role `tenant`'s mapping can give, in file order (the default role
    /// last): check them against the application's roles.
    pub fn roles(&self, tenant: &str) -> Result<Vec<&str>> {
        let mut roles: Vec<&str> = Vec::new();
        for role in self.tenant(tenant)?.roles() {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        Ok(roles)
    }

    /// The role a user with `claims` (the ID token's claims, a JSON object)
    /// gets in `tenant`, given the local account found for them, if any. This
    /// is the rule [`Authenticated::admit`](crate::Authenticated::admit)
    /// applies; an administration page can use it to preview a mapping.
    ///
    /// The result's role is always one the tenant's configuration names, or
    /// the existing owner's own role: an owner's role is never changed by a claim.
    pub fn role_for(
        &self,
        tenant: &str,
        claims: &Value,
        existing: Option<&LocalAccount>,
    ) -> Result<RoleAssignment> {
        let tenant = self.tenant(tenant)?;
        assign(tenant, mapped_role(tenant, claims), existing)
    }

    pub(crate) fn tenant(&self, name: &str) -> Result<&Arc<TenantConfig>> {
        self.tenants
            .get(name)
            .ok_or_else(|| Error::TenantUnknown(name.to_owned()))
    }
}
