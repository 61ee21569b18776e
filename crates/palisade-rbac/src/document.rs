//! The editable policy: parsed file, checked mutations, compilation.

use toml::Spanned;

use crate::compile::compile;
use crate::error::{Error, Result};
use crate::model::{File, RoleDef, Status, Visibility, parse_action_ref};
use crate::policy::Policy;
use crate::validate::{ensure_valid, holds_role, parse};

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

/// A policy as written: parsed and validated, editable through checked
/// operations that keep every invariant, and compiled into a [`Policy`]
/// snapshot for decisions.
///
/// Every mutation either succeeds and leaves a valid policy, or fails with
/// a typed error and changes nothing. In particular a tenant always keeps an
/// owner, and owners can be neither blocked, deleted nor demoted.
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    file: File,
}

impl PolicyDocument {
    /// Parses and validates a TOML policy file.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file = parse(text)?;
        ensure_valid(&file, Some(text))?;
        Ok(Self { file })
    }

    /// Writes the policy back as TOML (comments are not kept).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(&self.file).map_err(|e| Error::Write(e.to_string()))
    }

    /// Compiles the immutable snapshot used for decisions.
    pub fn compile(&self) -> Policy {
        compile(&self.file)
    }

    /// Applies `change` to a copy, validates, and commits only on success.
    fn change(&mut self, change: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
        let mut next = self.file.clone();
        change(&mut next)?;
        ensure_valid(&next, None)?;
        self.file = next;
        Ok(())
    }

    fn owned_tenants(&self, principal: &str) -> Vec<String> {
        self.file
            .tenants
            .iter()
            .filter(|(_, t)| t.get_ref().owners.iter().any(|o| o.get_ref() == principal))
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn require_user(&self, principal: &str) -> Result<()> {
        if self.file.users.contains_key(principal) {
            Ok(())
        } else {
            Err(Error::UnknownPrincipal(principal.to_owned()))
        }
    }

    /// Adds an active principal with no rights.
    pub fn add_user(&mut self, principal: &str) -> Result<()> {
        self.change(|file| {
            file.users
                .entry(principal.to_owned())
                .or_insert_with(|| spanned(crate::model::UserDef::default()));
            Ok(())
        })
    }

    /// Blocks a principal: it is denied everything at once. Owners of a
    /// tenant cannot be blocked.
    pub fn block(&mut self, principal: &str) -> Result<()> {
        self.require_user(principal)?;
        if let Some(tenant) = self.owned_tenants(principal).into_iter().next() {
            return Err(Error::OwnerCannotBeBlocked {
                principal: principal.to_owned(),
                tenant,
            });
        }
        self.change(|file| {
            if let Some(user) = file.users.get_mut(principal) {
                user.get_mut().status = Status::Blocked;
            }
            Ok(())
        })
    }

    /// Unblocks a principal.
    pub fn unblock(&mut self, principal: &str) -> Result<()> {
        self.require_user(principal)?;
        self.change(|file| {
            if let Some(user) = file.users.get_mut(principal) {
                user.get_mut().status = Status::Active;
            }
            Ok(())
        })
    }

    /// Deletes a principal and the resources' references to it. Owners of a
    /// tenant cannot be deleted.
    pub fn delete_user(&mut self, principal: &str) -> Result<()> {
        self.require_user(principal)?;
        if let Some(tenant) = self.owned_tenants(principal).into_iter().next() {
            return Err(Error::OwnerCannotBeDeleted {
                principal: principal.to_owned(),
                tenant,
            });
        }
        self.change(|file| {
            file.users.remove(principal);
            for resource in file.resources.values_mut() {
                let resource = resource.get_mut();
                if resource
                    .owner
                    .as_ref()
                    .is_some_and(|o| o.get_ref() == principal)
                {
                    resource.owner = None;
                }
            }
            Ok(())
        })
    }

    /// Replaces the roles `principal` holds in `tenant` (or in every tenant
    /// when `None`). An owner must keep its tenant's owner role.
    pub fn set_roles(
        &mut self,
        principal: &str,
        tenant: Option<&str>,
        roles: &[&str],
    ) -> Result<()> {
        self.require_user(principal)?;
        if let Some(t) = tenant
            && !self.file.tenants.contains_key(t)
        {
            return Err(Error::UnknownTenant(t.to_owned()));
        }
        if let Some(role) = roles.iter().find(|r| !self.file.roles.contains_key(**r)) {
            return Err(Error::UnknownRole((*role).to_owned()));
        }
        let mut next = self.file.clone();
        if let Some(user) = next.users.get_mut(principal) {
            let list: Vec<Spanned<String>> =
                roles.iter().map(|r| spanned((*r).to_owned())).collect();
            let user = user.get_mut();
            match tenant {
                Some(t) if list.is_empty() => {
                    user.tenants.remove(t);
                }
                Some(t) => {
                    user.tenants.insert(t.to_owned(), list);
                }
                None => user.roles = list,
            }
        }
        for tenant in self.owned_tenants(principal) {
            let role = self
                .file
                .tenants
                .get(&tenant)
                .map(|t| t.get_ref().owner_role.get_ref().clone())
                .unwrap_or_default();
            if !holds_role(&next, principal, &tenant, &role) {
                return Err(Error::OwnerCannotBeDemoted {
                    principal: principal.to_owned(),
                    tenant,
                    role,
                });
            }
        }
        self.change(|file| {
            *file = next;
            Ok(())
        })
    }

    /// Makes `principal` an owner of `tenant`; it must be active and hold
    /// the tenant's owner role.
    pub fn add_owner(&mut self, tenant: &str, principal: &str) -> Result<()> {
        self.require_user(principal)?;
        if !self.file.tenants.contains_key(tenant) {
            return Err(Error::UnknownTenant(tenant.to_owned()));
        }
        self.change(|file| {
            if let Some(t) = file.tenants.get_mut(tenant) {
                let owners = &mut t.get_mut().owners;
                if !owners.iter().any(|o| o.get_ref() == principal) {
                    owners.push(spanned(principal.to_owned()));
                }
            }
            Ok(())
        })
    }

    /// Removes `principal` from the owners of `tenant`; refused when it is
    /// the last one.
    pub fn remove_owner(&mut self, tenant: &str, principal: &str) -> Result<()> {
        let Some(t) = self.file.tenants.get(tenant) else {
            return Err(Error::UnknownTenant(tenant.to_owned()));
        };
        let owners = &t.get_ref().owners;
        if owners.iter().all(|o| o.get_ref() == principal) {
            return Err(Error::TenantWithoutOwner(tenant.to_owned()));
        }
        self.change(|file| {
            if let Some(t) = file.tenants.get_mut(tenant) {
                t.get_mut().owners.retain(|o| o.get_ref() != principal);
            }
            Ok(())
        })
    }

    fn check_action(&self, action: &str) -> Result<()> {
        let known = match parse_action_ref(action) {
            Some(crate::model::ActionRef::All) => true,
            Some(crate::model::ActionRef::AllOf(ty)) => self.file.types.contains_key(ty),
            Some(crate::model::ActionRef::One(ty, a)) => self
                .file
                .types
                .get(ty)
                .is_some_and(|t| t.get_ref().actions.iter().any(|x| x == a)),
            None => false,
        };
        if known {
            Ok(())
        } else {
            let (resource_type, action) = action.split_once(':').unwrap_or((action, ""));
            Err(Error::UnknownAction {
                resource_type: resource_type.to_owned(),
                action: action.to_owned(),
            })
        }
    }

    /// Grants `principal` an action (`Type:action`, `Type:*` or `*`) on top
    /// of its roles. A deny anywhere still wins.
    pub fn grant(&mut self, principal: &str, action: &str) -> Result<()> {
        self.require_user(principal)?;
        self.check_action(action)?;
        self.change(|file| {
            if let Some(user) = file.users.get_mut(principal) {
                user.get_mut().allow.push(spanned(action.to_owned()));
            }
            Ok(())
        })
    }

    /// Denies `principal` an action whatever its roles allow.
    pub fn deny(&mut self, principal: &str, action: &str) -> Result<()> {
        self.require_user(principal)?;
        self.check_action(action)?;
        self.change(|file| {
            if let Some(user) = file.users.get_mut(principal) {
                user.get_mut().deny.push(spanned(action.to_owned()));
            }
            Ok(())
        })
    }

    /// Sets how `field` (`Type.field`) is shown to `principal`, overriding
    /// its roles.
    pub fn set_field(
        &mut self,
        principal: &str,
        field: &str,
        visibility: Visibility,
    ) -> Result<()> {
        self.require_user(principal)?;
        self.change(|file| {
            if let Some(user) = file.users.get_mut(principal) {
                user.get_mut().fields.insert(field.to_owned(), visibility);
            }
            Ok(())
        })
    }

    /// Adds a role, or replaces one, inheriting `inherits` and allowing `allow`.
    pub fn put_role(&mut self, role: &str, inherits: &[&str], allow: &[&str]) -> Result<()> {
        self.change(|file| {
            let def = RoleDef {
                inherits: inherits.iter().map(|r| spanned((*r).to_owned())).collect(),
                allow: allow.iter().map(|a| spanned((*a).to_owned())).collect(),
                ..RoleDef::default()
            };
            file.roles.insert(role.to_owned(), spanned(def));
            Ok(())
        })
    }
}
