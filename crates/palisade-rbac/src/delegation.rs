//! Administrative delegation: who may change whom, and with which rights.
//!
//! A change made by an [`Actor`] is checked against the policy before and
//! after it, in every tenant it reaches (the actor's tenant, each tenant where
//! the changed principal holds roles — every tenant for roles held everywhere
//! — and each tenant where the principal's rights or fields change: its own
//! grants, denies and field settings hold in every tenant), and in requests
//! that name no tenant, bounded there by the actor's rights in its tenant:
//!
//! 1. the actor exists, is active, and is not the principal it changes;
//! 2. in each of those tenants the actor owns it, or else: the changed
//!    principal does not own it, and the actor outranks every role the
//!    principal holds there, before and after the change (the delegation
//!    order of the policy file);
//! 3. what the actor writes is within its own rights: a grant covers only
//!    rights it holds, a field setting is no more open than the actor's own,
//!    a role given carries no right or field setting beyond the actor's;
//! 4. what the change does is within the actor's rights: every right the
//!    principal gains (a deny removed, a role taken away, an unblock), the
//!    actor holds; every field the principal sees more openly, the actor sees
//!    at least as openly.

use crate::compile::compile;
use crate::error::{Error, Result};
use crate::model::{File, Visibility};
use crate::policy::{Access, Policy};
use crate::validate::{rank_of, roles_in};

/// The principal making a change, and the tenant it acts in.
///
/// ```
/// # use palisade_rbac::Actor;
/// let max = Actor::new("max", "chatco"); // principal `max`, acting in tenant `chatco`
/// assert_eq!((max.principal(), max.tenant()), ("max", "chatco"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor<'a> {
    principal: &'a str,
    tenant: &'a str,
}

impl<'a> Actor<'a> {
    /// Principal `principal` acting in tenant `tenant`.
    pub const fn new(principal: &'a str, tenant: &'a str) -> Self {
        Self { principal, tenant }
    }

    /// The acting principal.
    pub fn principal(&self) -> &'a str {
        self.principal
    }

    /// The tenant it acts in: roles it gives are given in this tenant.
    pub fn tenant(&self) -> &'a str {
        self.tenant
    }
}

/// What a change writes, checked against the actor's own rights.
#[derive(Default)]
pub(crate) struct Written<'a> {
    /// A grant (`Type:action`, `Type:*`, `*`).
    pub(crate) grant: Option<&'a str>,
    /// A field setting (`Type.field`).
    pub(crate) field: Option<(&'a str, Visibility)>,
    /// Roles given in the actor's tenant that the principal did not hold there.
    pub(crate) roles: Vec<&'a str>,
}

/// Whether access `a` is within access `b`: whenever `a` allows, `b` allows.
/// Conditions are compared as written (an ownership condition means the
/// principal's own resources, for either side).
fn within(a: Option<&Access>, b: Option<&Access>) -> bool {
    match (a, b) {
        (None | Some(Access::Forbidden), _) | (_, Some(Access::Allowed)) => true,
        (
            Some(Access::Conditional {
                allow_if: a_allow,
                deny_if: a_deny,
            }),
            Some(Access::Conditional {
                allow_if: b_allow,
                deny_if: b_deny,
            }),
        ) => {
            let allowed = b_allow.iter().any(|c| c == "always")
                || a_allow.iter().all(|c| b_allow.contains(c));
            allowed && b_deny.iter().all(|c| a_deny.contains(c))
        }
        _ => false,
    }
}

/// The tenants a change to `principal` reaches: the actor's, every tenant
/// where the principal holds roles before or after (all of them for roles held
/// everywhere), and every tenant where its rights or fields change (its own
/// grants, denies and field settings hold in every tenant).
fn scope<'f>(
    file: &'f File,
    next: &'f File,
    before: &Policy,
    after: &Policy,
    principal: &str,
    tenant: &'f str,
) -> Vec<&'f str> {
    let mut tenants = vec![tenant];
    for f in [file, next] {
        let Some(user) = f.users.get(principal) else {
            continue;
        };
        let user = user.get_ref();
        let held: Vec<&str> = if user.roles.is_empty() {
            user.tenants.keys().map(String::as_str).collect()
        } else {
            f.tenants.keys().map(String::as_str).collect()
        };
        for t in held {
            if !tenants.contains(&t) {
                tenants.push(t);
            }
        }
    }
    for t in file.tenants.keys() {
        if !tenants.contains(&t.as_str()) && changes_in(before, after, principal, Some(t)) {
            tenants.push(t);
        }
    }
    tenants
}

/// The rights and fields of `principal` in `context`, or none when it does not exist.
fn tables(
    policy: &Policy,
    principal: &str,
    context: Option<&str>,
) -> (Vec<Option<Access>>, Vec<Visibility>) {
    let user = policy.user_ix.get(principal).copied();
    let context = context.and_then(|t| policy.tenant_ix.get(t).copied());
    match user {
        Some(user) => (
            policy.access_table(user, context),
            policy.visibility_table(user, context),
        ),
        None => (
            vec![None; policy.perm_count as usize],
            vec![Visibility::Hidden; policy.field_count() as usize],
        ),
    }
}

/// Whether what `principal` may do or see in `context` differs.
fn changes_in(before: &Policy, after: &Policy, principal: &str, context: Option<&str>) -> bool {
    let (old_access, old_seen) = tables(before, principal, context);
    let (new_access, new_seen) = tables(after, principal, context);
    old_seen != new_seen
        || old_access.iter().zip(&new_access).any(|(old, new)| {
            !(within(old.as_ref(), new.as_ref()) && within(new.as_ref(), old.as_ref()))
        })
}

fn owns(file: &File, principal: &str, tenant: &str) -> bool {
    file.tenants
        .get(tenant)
        .is_some_and(|t| t.get_ref().owners.iter().any(|o| o.get_ref() == principal))
}

/// Checks that `actor` may turn `file` into `next`, a change to `principal`
/// only, writing `written`.
pub(crate) fn authorize(
    file: &File,
    next: &File,
    actor: &Actor<'_>,
    principal: &str,
    written: &Written<'_>,
) -> Result<()> {
    let who = actor.principal;
    let Some(acting) = file.users.get(who) else {
        return Err(Error::PrincipalUnknown(who.to_owned()));
    };
    if !file.tenants.contains_key(actor.tenant) {
        return Err(Error::TenantUnknown(actor.tenant.to_owned()));
    }
    if acting.get_ref().status == crate::Status::Blocked {
        return Err(Error::ActorBlocked {
            actor: who.to_owned(),
        });
    }
    if who == principal {
        return Err(Error::SelfChangeRefused {
            actor: who.to_owned(),
        });
    }
    let before = compile(file);
    let after = compile(next);
    let tenants = scope(file, next, &before, &after, principal, actor.tenant);
    for tenant in &tenants {
        if owns(file, who, tenant) {
            continue;
        }
        if owns(file, principal, tenant) {
            return Err(Error::OwnerProtected {
                actor: who.to_owned(),
                principal: principal.to_owned(),
                tenant: (*tenant).to_owned(),
            });
        }
        let best = roles_in(file, who, tenant)
            .into_iter()
            .filter_map(|r| rank_of(file, r.get_ref()))
            .min()
            .ok_or_else(|| Error::ActorUnranked {
                actor: who.to_owned(),
                tenant: (*tenant).to_owned(),
            })?;
        let held = roles_in(file, principal, tenant)
            .into_iter()
            .chain(roles_in(next, principal, tenant));
        for role in held {
            if rank_of(file, role.get_ref()).is_none_or(|rank| rank <= best) {
                return Err(Error::RoleNotOutranked {
                    actor: who.to_owned(),
                    role: role.get_ref().clone(),
                    tenant: (*tenant).to_owned(),
                });
            }
        }
    }
    let check = Rights {
        before: &before,
        after: &after,
        actor: who,
        principal,
    };
    for tenant in &tenants {
        check.written(written, tenant, *tenant == actor.tenant)?;
        check.effect(Some(tenant), tenant)?;
    }
    // Requests without a tenant see the principal's own rights and its
    // every-tenant roles; the actor's rights in its tenant bound them.
    check.effect(None, actor.tenant)
}

struct Rights<'p> {
    before: &'p Policy,
    after: &'p Policy,
    actor: &'p str,
    principal: &'p str,
}

impl Rights<'_> {
    fn actor_tables(&self, tenant: &str) -> (Vec<Option<Access>>, Vec<Visibility>) {
        tables(self.before, self.actor, Some(tenant))
    }

    fn lacks_right(&self, perm: u32, tenant: &str) -> Error {
        Error::ActorLacksRight {
            actor: self.actor.to_owned(),
            right: self.before.perm_label(perm),
            tenant: tenant.to_owned(),
        }
    }

    fn lacks_field(&self, field: u32, visibility: Visibility, tenant: &str) -> Error {
        Error::ActorLacksFieldRight {
            actor: self.actor.to_owned(),
            field: self.before.field_label(field),
            visibility,
            tenant: tenant.to_owned(),
        }
    }

    /// What is written is within the actor's rights in `tenant`.
    fn written(&self, written: &Written<'_>, tenant: &str, home: bool) -> Result<()> {
        let (access, seen) = self.actor_tables(tenant);
        if let Some(grant) = written.grant {
            for perm in self.before.perms_of(grant) {
                if !matches!(access.get(perm as usize), Some(Some(Access::Allowed))) {
                    return Err(self.lacks_right(perm, tenant));
                }
            }
        }
        if let Some((field, visibility)) = written.field
            && let Some(id) = self.before.field_id(field)
            && let Some(own) = seen.get(id as usize)
            && visibility < *own
        {
            return Err(self.lacks_field(id, *own, tenant));
        }
        if !home {
            return Ok(());
        }
        for role in &written.roles {
            let Some(&role_id) = self.before.role_ix.get(*role) else {
                return Err(Error::RoleUnknown((*role).to_owned()));
            };
            let gives = self.before.role_access_table(role_id);
            for (perm, (given, held)) in (0u32..).zip(gives.iter().zip(&access)) {
                if !within(given.as_ref(), held.as_ref()) {
                    return Err(self.lacks_right(perm, tenant));
                }
            }
            // A field is shown only with some action of its type.
            let shows = self.before.role_visibility_table(role_id);
            let reached = self.before.fields_reached(&gives);
            for (field, ((shown, own), reached)) in
                (0u32..).zip(shows.iter().zip(&seen).zip(reached))
            {
                if reached && shown < own {
                    return Err(self.lacks_field(field, *own, tenant));
                }
            }
        }
        Ok(())
    }

    /// Every right the principal gains in `context` (a tenant, or none), the
    /// actor holds in `tenant`; every field it sees more openly, the actor
    /// sees at least as openly.
    fn effect(&self, context: Option<&str>, tenant: &str) -> Result<()> {
        let (access, seen) = self.actor_tables(tenant);
        let (old_access, old_seen) = tables(self.before, self.principal, context);
        let (new_access, new_seen) = tables(self.after, self.principal, context);
        for (perm, (new, old)) in (0u32..).zip(new_access.iter().zip(&old_access)) {
            let gained = !within(new.as_ref(), old.as_ref());
            if gained
                && !within(
                    new.as_ref(),
                    access.get(perm as usize).and_then(Option::as_ref),
                )
            {
                return Err(self.lacks_right(perm, tenant));
            }
        }
        // Fields of a type the principal may do nothing with count as hidden.
        for (field, (new, old)) in (0u32..).zip(new_seen.iter().zip(&old_seen)) {
            let own = seen
                .get(field as usize)
                .copied()
                .unwrap_or(Visibility::Hidden);
            if new < old && *new < own {
                return Err(self.lacks_field(field, own, tenant));
            }
        }
        Ok(())
    }
}
