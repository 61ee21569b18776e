//! The editable policy: parsed file, changes checked for delegation and
//! invariants, compilation.

use toml::Spanned;

use crate::compile::compile;
use crate::delegation::{Actor, Written, authorize};
use crate::error::{Error, Result};
use crate::model::{
    ActionRef, Effect, File, RoleDef, Status, UserDef, Visibility, parse_action_ref,
};
use crate::policy::Policy;
use crate::validate::{ensure_valid, holds_role, parse};

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

/// A policy as written: parsed and validated, editable through checked
/// changes, and compiled into a [`Policy`] snapshot for decisions.
///
/// Every change names the [`Actor`] making it and is refused with a typed
/// error unless the actor may make it (administrative delegation):
///
/// - nobody changes its own roles or rights ([`Error::SelfChangeRefused`]);
/// - only an owner of a tenant changes another owner of it
///   ([`Error::OwnerProtected`]); an owner may change anyone and undo any
///   change made by others;
/// - anyone else changes only principals whose roles it outranks, and gives
///   only roles it outranks, in the policy's delegation order
///   ([`Error::RoleNotOutranked`], [`Error::ActorUnranked`]);
/// - nobody gives a right it does not hold or shows a field more openly than
///   it sees it, by a grant, a field setting, a role, a new account, or by
///   removing a deny or a restriction ([`Error::ActorLacksRight`],
///   [`Error::ActorLacksFieldRight`]).
///
/// The delegation order is declared in the policy file, most senior first;
/// a list is a group of peers, none of which outranks another:
///
/// ```toml
/// [delegation]
/// order = ["Administrator", "Manager", ["Accountant", "Supervisor"], "Operator"]
/// ```
///
/// Every change either succeeds and leaves a valid policy, or fails and
/// changes nothing. Whoever makes it, the invariants hold: a tenant always
/// keeps an owner; owners can be neither blocked, deleted nor demoted; and
/// in a tenant it owns, nothing but the owner role restricts an owner (no
/// deny, field setting or other role of its own may take away what the owner
/// role gives; a policy file that tries is invalid).
///
/// [`unchecked`](Self::unchecked) makes the same changes without the
/// delegation checks, for tools acting as the policy's author.
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    file: File,
}

/// The changes of a [`PolicyDocument`] made as the policy's author: every
/// invariant is kept (owners keep their rights and status, tenants keep an
/// owner, the policy stays valid), but nobody's delegation rights are
/// checked. For tools, migrations and tests — never for a request made on a
/// user's behalf, which goes through the document's own methods with an
/// [`Actor`].
#[derive(Debug)]
pub struct Unchecked<'d> {
    document: &'d mut PolicyDocument,
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
        toml::to_string_pretty(&self.file).map_err(Error::PolicyUnwritable)
    }

    /// Compiles the immutable snapshot used for decisions.
    pub fn compile(&self) -> Policy {
        compile(&self.file)
    }

    /// Changes made as the policy's author, without delegation checks.
    pub fn unchecked(&mut self) -> Unchecked<'_> {
        Unchecked { document: self }
    }

    /// Commits `next`, a change to `principal`, if it keeps every invariant.
    fn commit(&mut self, next: File, principal: &str) -> Result<()> {
        protect_owners(&self.file, &next, principal)?;
        ensure_valid(&next, None)?;
        self.file = next;
        Ok(())
    }

    /// Commits `next` if `actor` may make it and it keeps every invariant.
    fn commit_as(
        &mut self,
        actor: &Actor<'_>,
        next: File,
        principal: &str,
        written: &Written<'_>,
    ) -> Result<()> {
        authorize(&self.file, &next, actor, principal, written)?;
        self.commit(next, principal)
    }

    fn require_user(&self, principal: &str) -> Result<()> {
        if self.file.users.contains_key(principal) {
            Ok(())
        } else {
            Err(Error::PrincipalUnknown(principal.to_owned()))
        }
    }

    fn require_tenant(&self, tenant: &str) -> Result<()> {
        if self.file.tenants.contains_key(tenant) {
            Ok(())
        } else {
            Err(Error::TenantUnknown(tenant.to_owned()))
        }
    }

    fn require_roles(&self, roles: &[&str]) -> Result<()> {
        match roles.iter().find(|r| !self.file.roles.contains_key(**r)) {
            Some(role) => Err(Error::RoleUnknown((*role).to_owned())),
            None => Ok(()),
        }
    }

    fn require_action(&self, action: &str) -> Result<()> {
        let known = match parse_action_ref(action) {
            Some(ActionRef::All) => true,
            Some(ActionRef::AllOf(ty)) => self.file.types.contains_key(ty),
            Some(ActionRef::One(ty, a)) => self
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
            Err(Error::ActionUnknown {
                resource_type: resource_type.to_owned(),
                action: action.to_owned(),
            })
        }
    }

    fn require_field(&self, field: &str) -> Result<()> {
        let known = field.split_once('.').is_some_and(|(ty, name)| {
            self.file
                .types
                .get(ty)
                .is_some_and(|t| t.get_ref().fields.iter().any(|f| f == name))
        });
        if known {
            Ok(())
        } else {
            Err(Error::FieldUnknown(field.to_owned()))
        }
    }

    /// A copy with `edit` applied to `principal`'s entry.
    fn edited(&self, principal: &str, edit: impl FnOnce(&mut UserDef)) -> File {
        let mut next = self.file.clone();
        if let Some(user) = next.users.get_mut(principal) {
            edit(user.get_mut());
        }
        next
    }

    fn with_roles(&self, principal: &str, tenant: Option<&str>, roles: &[&str]) -> File {
        self.edited(principal, |user| {
            let list: Vec<Spanned<String>> =
                roles.iter().map(|r| spanned((*r).to_owned())).collect();
            match tenant {
                Some(t) if list.is_empty() => {
                    user.tenants.remove(t);
                }
                Some(t) => {
                    user.tenants.insert(t.to_owned(), list);
                }
                None => user.roles = list,
            }
        })
    }

    fn with_entry(&self, principal: &str, effect: Effect, action: &str) -> Result<File> {
        self.require_user(principal)?;
        self.require_action(action)?;
        Ok(self.edited(principal, |user| {
            let list = match effect {
                Effect::Allow => &mut user.allow,
                Effect::Deny => &mut user.deny,
            };
            if !list.iter().any(|a| a.get_ref() == action) {
                list.push(spanned(action.to_owned()));
            }
        }))
    }

    fn without_entry(&self, principal: &str, effect: Effect, action: &str) -> Result<File> {
        self.require_user(principal)?;
        let present = self.file.users.get(principal).is_some_and(|user| {
            let user = user.get_ref();
            let list = match effect {
                Effect::Allow => &user.allow,
                Effect::Deny => &user.deny,
            };
            list.iter().any(|a| a.get_ref() == action)
        });
        if !present {
            let kind = match effect {
                Effect::Allow => "grant",
                Effect::Deny => "deny",
            };
            return Err(Error::RightNotSet {
                principal: principal.to_owned(),
                setting: format!("{kind} of `{action}`"),
            });
        }
        Ok(self.edited(principal, |user| {
            let list = match effect {
                Effect::Allow => &mut user.allow,
                Effect::Deny => &mut user.deny,
            };
            list.retain(|a| a.get_ref() != action);
        }))
    }

    fn with_field(
        &self,
        principal: &str,
        field: &str,
        visibility: Option<Visibility>,
    ) -> Result<File> {
        self.require_user(principal)?;
        self.require_field(field)?;
        let present = self
            .file
            .users
            .get(principal)
            .is_some_and(|u| u.get_ref().fields.contains_key(field));
        if visibility.is_none() && !present {
            return Err(Error::RightNotSet {
                principal: principal.to_owned(),
                setting: format!("setting of field `{field}`"),
            });
        }
        Ok(self.edited(principal, |user| match visibility {
            Some(v) => {
                user.fields.insert(field.to_owned(), v);
            }
            None => {
                user.fields.remove(field);
            }
        }))
    }

    fn with_status(&self, principal: &str, status: Status) -> Result<File> {
        self.require_user(principal)?;
        Ok(self.edited(principal, |user| user.status = status))
    }

    fn without_user(&self, principal: &str) -> Result<File> {
        self.require_user(principal)?;
        let mut next = self.file.clone();
        next.users.remove(principal);
        for resource in next.resources.values_mut() {
            let resource = resource.get_mut();
            if resource
                .owner
                .as_ref()
                .is_some_and(|o| o.get_ref() == principal)
            {
                resource.owner = None;
            }
        }
        Ok(next)
    }

    /// Creates `principal` holding `roles` in the actor's tenant. The actor
    /// must outrank each role (or own the tenant) and hold every right and
    /// field right the roles give.
    pub fn add_user(&mut self, actor: &Actor<'_>, principal: &str, roles: &[&str]) -> Result<()> {
        if self.file.users.contains_key(principal) {
            return Err(Error::PrincipalExists(principal.to_owned()));
        }
        self.require_tenant(actor.tenant())?;
        self.require_roles(roles)?;
        let mut next = self.file.clone();
        next.users
            .insert(principal.to_owned(), spanned(UserDef::default()));
        let created = Self { file: next };
        let next = if roles.is_empty() {
            created.file
        } else {
            created.with_roles(principal, Some(actor.tenant()), roles)
        };
        let written = Written {
            roles: roles.to_vec(),
            ..Written::default()
        };
        self.commit_as(actor, next, principal, &written)
    }

    /// Replaces the roles `principal` holds in the actor's tenant (none
    /// removes it from the tenant). The actor must outrank every role the
    /// principal holds and is given, and hold what the new roles give.
    pub fn set_roles(&mut self, actor: &Actor<'_>, principal: &str, roles: &[&str]) -> Result<()> {
        self.require_user(principal)?;
        self.require_tenant(actor.tenant())?;
        self.require_roles(roles)?;
        let before: Vec<String> = crate::validate::roles_in(&self.file, principal, actor.tenant())
            .into_iter()
            .map(|r| r.get_ref().clone())
            .collect();
        let next = self.with_roles(principal, Some(actor.tenant()), roles);
        let written = Written {
            roles: roles
                .iter()
                .copied()
                .filter(|r| !before.iter().any(|b| b == r))
                .collect(),
            ..Written::default()
        };
        self.commit_as(actor, next, principal, &written)
    }

    /// Grants `principal` an action (`Type:action`, `Type:*` or `*`) on top
    /// of its roles; a deny anywhere still wins. The actor must hold every
    /// right the grant covers, unconditionally.
    pub fn grant(&mut self, actor: &Actor<'_>, principal: &str, action: &str) -> Result<()> {
        let next = self.with_entry(principal, Effect::Allow, action)?;
        let written = Written {
            grant: Some(action),
            ..Written::default()
        };
        self.commit_as(actor, next, principal, &written)
    }

    /// Denies `principal` an action whatever its roles allow.
    pub fn deny(&mut self, actor: &Actor<'_>, principal: &str, action: &str) -> Result<()> {
        let next = self.with_entry(principal, Effect::Deny, action)?;
        self.commit_as(actor, next, principal, &Written::default())
    }

    /// Removes a grant of `principal` (written exactly as granted).
    pub fn remove_grant(&mut self, actor: &Actor<'_>, principal: &str, action: &str) -> Result<()> {
        let next = self.without_entry(principal, Effect::Allow, action)?;
        self.commit_as(actor, next, principal, &Written::default())
    }

    /// Removes a deny of `principal` (written exactly as denied). The actor
    /// must hold every right the principal regains.
    pub fn remove_deny(&mut self, actor: &Actor<'_>, principal: &str, action: &str) -> Result<()> {
        let next = self.without_entry(principal, Effect::Deny, action)?;
        self.commit_as(actor, next, principal, &Written::default())
    }

    /// Sets how `field` (`Type.field`) is shown to `principal`, overriding
    /// its roles. The actor must see the field at least as openly.
    pub fn set_field(
        &mut self,
        actor: &Actor<'_>,
        principal: &str,
        field: &str,
        visibility: Visibility,
    ) -> Result<()> {
        let next = self.with_field(principal, field, Some(visibility))?;
        let written = Written {
            field: Some((field, visibility)),
            ..Written::default()
        };
        self.commit_as(actor, next, principal, &written)
    }

    /// Removes `principal`'s own setting of `field`: its roles decide again.
    /// The actor must see the field at least as openly as the principal
    /// then does.
    pub fn remove_field(&mut self, actor: &Actor<'_>, principal: &str, field: &str) -> Result<()> {
        let next = self.with_field(principal, field, None)?;
        self.commit_as(actor, next, principal, &Written::default())
    }

    /// Blocks `principal`: it is denied everything at once. Owners cannot be
    /// blocked.
    pub fn block(&mut self, actor: &Actor<'_>, principal: &str) -> Result<()> {
        let next = self.with_status(principal, Status::Blocked)?;
        self.commit_as(actor, next, principal, &Written::default())
    }

    /// Lifts a block. The actor must hold every right the principal regains.
    pub fn unblock(&mut self, actor: &Actor<'_>, principal: &str) -> Result<()> {
        let next = self.with_status(principal, Status::Active)?;
        self.commit_as(actor, next, principal, &Written::default())
    }

    /// Deletes `principal` and the resources' references to it. Owners
    /// cannot be deleted.
    pub fn delete_user(&mut self, actor: &Actor<'_>, principal: &str) -> Result<()> {
        let next = self.without_user(principal)?;
        self.commit_as(actor, next, principal, &Written::default())
    }
}

/// An owner stays active, present and holding its tenant's owner role.
fn protect_owners(file: &File, next: &File, principal: &str) -> Result<()> {
    for (tenant, def) in &file.tenants {
        let def = def.get_ref();
        if !def.owners.iter().any(|o| o.get_ref() == principal) {
            continue;
        }
        let Some(user) = next.users.get(principal) else {
            return Err(Error::OwnerCannotBeDeleted {
                principal: principal.to_owned(),
                tenant: tenant.clone(),
            });
        };
        if user.get_ref().status == Status::Blocked {
            return Err(Error::OwnerCannotBeBlocked {
                principal: principal.to_owned(),
                tenant: tenant.clone(),
            });
        }
        let role = def.owner_role.get_ref();
        let still_owner = next
            .tenants
            .get(tenant)
            .is_some_and(|t| t.get_ref().owners.iter().any(|o| o.get_ref() == principal));
        if still_owner && !holds_role(next, principal, tenant, role) {
            return Err(Error::OwnerCannotBeDemoted {
                principal: principal.to_owned(),
                tenant: tenant.clone(),
                role: role.clone(),
            });
        }
    }
    Ok(())
}

impl Unchecked<'_> {
    /// Adds an active principal with no rights (nothing if it exists).
    pub fn add_user(&mut self, principal: &str) -> Result<()> {
        let mut next = self.document.file.clone();
        next.users
            .entry(principal.to_owned())
            .or_insert_with(|| spanned(UserDef::default()));
        self.document.commit(next, principal)
    }

    /// Blocks a principal. Owners of a tenant cannot be blocked.
    pub fn block(&mut self, principal: &str) -> Result<()> {
        let next = self.document.with_status(principal, Status::Blocked)?;
        self.document.commit(next, principal)
    }

    /// Unblocks a principal.
    pub fn unblock(&mut self, principal: &str) -> Result<()> {
        let next = self.document.with_status(principal, Status::Active)?;
        self.document.commit(next, principal)
    }

    /// Deletes a principal and the resources' references to it. Owners of a
    /// tenant cannot be deleted.
    pub fn delete_user(&mut self, principal: &str) -> Result<()> {
        let next = self.document.without_user(principal)?;
        self.document.commit(next, principal)
    }

    /// Replaces the roles `principal` holds in `tenant` (or in every tenant
    /// when `None`). An owner must keep its tenant's owner role.
    pub fn set_roles(
        &mut self,
        principal: &str,
        tenant: Option<&str>,
        roles: &[&str],
    ) -> Result<()> {
        self.document.require_user(principal)?;
        if let Some(t) = tenant {
            self.document.require_tenant(t)?;
        }
        self.document.require_roles(roles)?;
        let next = self.document.with_roles(principal, tenant, roles);
        self.document.commit(next, principal)
    }

    /// Makes `principal` an owner of `tenant`; it must be active, hold the
    /// tenant's owner role, and carry no restriction of the owner's rights.
    pub fn add_owner(&mut self, tenant: &str, principal: &str) -> Result<()> {
        self.document.require_user(principal)?;
        self.document.require_tenant(tenant)?;
        let mut next = self.document.file.clone();
        if let Some(t) = next.tenants.get_mut(tenant) {
            let owners = &mut t.get_mut().owners;
            if !owners.iter().any(|o| o.get_ref() == principal) {
                owners.push(spanned(principal.to_owned()));
            }
        }
        self.document.commit(next, principal)
    }

    /// Removes `principal` from the owners of `tenant`; refused when it is
    /// the last one.
    pub fn remove_owner(&mut self, tenant: &str, principal: &str) -> Result<()> {
        let Some(t) = self.document.file.tenants.get(tenant) else {
            return Err(Error::TenantUnknown(tenant.to_owned()));
        };
        if t.get_ref().owners.iter().all(|o| o.get_ref() == principal) {
            return Err(Error::TenantWithoutOwner(tenant.to_owned()));
        }
        let mut next = self.document.file.clone();
        if let Some(t) = next.tenants.get_mut(tenant) {
            t.get_mut().owners.retain(|o| o.get_ref() != principal);
        }
        ensure_valid(&next, None)?;
        self.document.file = next;
        Ok(())
    }

    /// Grants `principal` an action (`Type:action`, `Type:*` or `*`).
    pub fn grant(&mut self, principal: &str, action: &str) -> Result<()> {
        let next = self.document.with_entry(principal, Effect::Allow, action)?;
        self.document.commit(next, principal)
    }

    /// Denies `principal` an action whatever its roles allow.
    pub fn deny(&mut self, principal: &str, action: &str) -> Result<()> {
        let next = self.document.with_entry(principal, Effect::Deny, action)?;
        self.document.commit(next, principal)
    }

    /// Removes a grant of `principal`.
    pub fn remove_grant(&mut self, principal: &str, action: &str) -> Result<()> {
        let next = self
            .document
            .without_entry(principal, Effect::Allow, action)?;
        self.document.commit(next, principal)
    }

    /// Removes a deny of `principal`.
    pub fn remove_deny(&mut self, principal: &str, action: &str) -> Result<()> {
        let next = self
            .document
            .without_entry(principal, Effect::Deny, action)?;
        self.document.commit(next, principal)
    }

    /// Sets how `field` (`Type.field`) is shown to `principal`.
    pub fn set_field(
        &mut self,
        principal: &str,
        field: &str,
        visibility: Visibility,
    ) -> Result<()> {
        let next = self
            .document
            .with_field(principal, field, Some(visibility))?;
        self.document.commit(next, principal)
    }

    /// Removes `principal`'s own setting of `field`.
    pub fn remove_field(&mut self, principal: &str, field: &str) -> Result<()> {
        let next = self.document.with_field(principal, field, None)?;
        self.document.commit(next, principal)
    }

    /// Adds a role, or replaces one, inheriting `inherits` and allowing `allow`.
    pub fn put_role(&mut self, role: &str, inherits: &[&str], allow: &[&str]) -> Result<()> {
        let mut next = self.document.file.clone();
        let def = RoleDef {
            inherits: inherits.iter().map(|r| spanned((*r).to_owned())).collect(),
            allow: allow.iter().map(|a| spanned((*a).to_owned())).collect(),
            ..RoleDef::default()
        };
        next.roles.insert(role.to_owned(), spanned(def));
        ensure_valid(&next, None)?;
        self.document.file = next;
        Ok(())
    }
}
