//! Employees: list, create, block and unblock, per-user rights, and an
//! administrator's unlock of a locked second factor.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use palisade_axum::{Authorized, Fresh, Guarded, Principal};
use palisade_otp::FactorState;
use std::collections::HashSet;

use palisade_rbac::{Access, Actor, Policy, PolicyDocument, Visibility};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::app::{Backoffice, ROLES};
use crate::error::{Error, Result, internal};
use crate::gate::{
    Account, Block, Create, Delete, Read, ResetFactor, SetRights, UnlockFactor, ViewAs,
};
use crate::http::ApiJson;
use crate::sessions::Caller;
use crate::views::{AccountChange, Created, UserList, UserView};

/// A new employee.
#[derive(Deserialize)]
pub(crate) struct NewEmployee {
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) password: Zeroizing<String>,
}

/// Per-user rights: extra grants, denies and field settings.
#[derive(Deserialize, Default)]
pub(crate) struct Restrictions {
    #[serde(default)]
    pub(crate) grant: Vec<String>,
    #[serde(default)]
    pub(crate) deny: Vec<String>,
    #[serde(default)]
    pub(crate) fields: std::collections::BTreeMap<String, String>,
}

/// An account as listed, its e-mail and name decrypted.
struct AccountRow {
    id: String,
    email: String,
    name: String,
    role: String,
    totp: bool,
}

impl Backoffice {
    /// The tenant's employees, by e-mail.
    fn accounts(&self, tenant: &str) -> Result<Vec<AccountRow>> {
        let rows = self.db.query(
            "SELECT id, email, name, role, totp_secret FROM users WHERE tenant = $1",
            &[tenant.into()],
        )?;
        let mut accounts = rows
            .iter()
            .map(|row| {
                let (email, name) = self.employee_identity(tenant, row)?;
                Ok(AccountRow {
                    id: row.text("id")?,
                    email,
                    name,
                    role: row.text("role")?,
                    totp: row.opt_text("totp_secret").is_some(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        accounts.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(accounts)
    }

    /// Adds an employee with one of the seed roles: the account row and the
    /// policy change are stored in one transaction.
    pub(crate) fn create_user(&self, who: &Principal, form: &NewEmployee) -> Result<String> {
        if !ROLES.contains(&form.role.as_str()) {
            return Err(Error::BadRequest(format!("unknown role `{}`", form.role)));
        }
        let account = self.new_account(&form.email, &form.name, &form.role, &form.password)?;
        let id = account.id.clone();
        let tenant = who.tenant().to_owned();
        let role = form.role.clone();
        let now = self.clock.now();
        self.change_policy_and(
            &tenant,
            |doc| doc.add_user(&Actor::new(who.user(), who.tenant()), &id, &[role.as_str()]),
            |tx| self.store_account(tx, &tenant, &account, now),
        )?;
        Ok(id)
    }

    /// Dismisses an employee: blocked in the policy (owners cannot be), and
    /// every session ends at once. Returns how many ended.
    pub(crate) fn block_user(&self, who: &Principal, id: &str) -> Result<u64> {
        self.change_policy(who.tenant(), |doc| doc.block(&actor(who), id))?;
        let ended = self.end_sessions(id)?;
        tracing::info!(user = %id, ended, "employee blocked");
        Ok(ended)
    }

    /// Lifts a block.
    pub(crate) fn unblock_user(&self, who: &Principal, id: &str) -> Result<()> {
        self.change_policy(who.tenant(), |doc| doc.unblock(&actor(who), id))
    }

    /// Per-user restrictions: extra grants, denies and field settings.
    pub(crate) fn restrict_user(
        &self,
        who: &Principal,
        id: &str,
        form: &Restrictions,
    ) -> Result<()> {
        let mut fields = Vec::new();
        for (field, vis) in &form.fields {
            let v = match vis.as_str() {
                "visible" => Visibility::Visible,
                "masked" => Visibility::Masked,
                "hidden" => Visibility::Hidden,
                other => return Err(Error::BadRequest(format!("unknown visibility `{other}`"))),
            };
            fields.push((field.clone(), v));
        }
        let actor = actor(who);
        self.change_policy(who.tenant(), |doc| {
            for a in &form.grant {
                doc.grant(&actor, id, a)?;
            }
            for a in &form.deny {
                doc.deny(&actor, id, a)?;
            }
            for (f, v) in &fields {
                doc.set_field(&actor, id, f, *v)?;
            }
            Ok(())
        })
    }

    /// Removes one of an employee's own grants, denies or field settings.
    pub(crate) fn lift_restriction(
        &self,
        who: &Principal,
        id: &str,
        kind: Lift,
        what: &str,
    ) -> Result<()> {
        let actor = actor(who);
        self.change_policy(who.tenant(), |doc| match kind {
            Lift::Grant => doc.remove_grant(&actor, id, what),
            Lift::Deny => doc.remove_deny(&actor, id, what),
            Lift::Field => doc.remove_field(&actor, id, what),
        })
    }

    /// Deletes an employee: removed from the policy (owners cannot be) and
    /// from the accounts, its sessions ended, in one transaction.
    pub(crate) fn delete_user(&self, who: &Principal, id: &str) -> Result<()> {
        let actor = actor(who);
        let tenant = who.tenant().to_owned();
        self.change_policy_and(
            who.tenant(),
            |doc| doc.delete_user(&actor, id),
            |tx| {
                tx.exec(
                    "DELETE FROM users WHERE id = $1 AND tenant = $2",
                    &[id.into(), tenant.clone().into()],
                )?;
                tx.exec("DELETE FROM sessions WHERE user_id = $1", &[id.into()])?;
                Ok(())
            },
        )
    }

    /// Whether `user` owns `tenant` (owners are neither reset, nor viewed
    /// as, by anyone else).
    pub(crate) fn is_owner(&self, tenant: &str, user: &str) -> Result<bool> {
        Ok(self
            .tenant_policy(tenant)?
            .tenants()
            .any(|(t, owners)| t == tenant && owners.contains(&user)))
    }

    /// Refuses an administrative act of `who` on employee `id` unless the
    /// policy's delegation rules let `who` administer `id` (outranks it, is
    /// not `id`, and `id` is not an owner unless `who` is one): checked as
    /// palisade-rbac checks a block, on a copy of the policy document.
    fn require_outranks(&self, who: &Principal, id: &str, what: &str) -> Result<()> {
        if who.user() == id {
            return Err(Error::Forbidden(format!("nobody can {what} themselves")));
        }
        let text = self
            .db
            .query_one(
                "SELECT policy FROM tenants WHERE id = $1",
                &[who.tenant().into()],
            )?
            .ok_or(Error::NotFound)?
            .text("policy")?;
        let mut probe = PolicyDocument::from_toml(&text).map_err(internal)?;
        probe
            .block(&actor(who), id)
            .map_err(|e| Error::Forbidden(format!("cannot {what} this employee: {e}")))
    }

    /// Resets an employee's second factor (a lost phone): the secret and
    /// recovery codes are gone, every session ends, and the next sign-in
    /// enrolls a new factor.
    pub(crate) fn reset_factor(&self, who: &Principal, id: &str) -> Result<u64> {
        self.require_outranks(who, id, "reset the second factor of")?;
        let state = serde_json::to_string(&FactorState::new()).map_err(internal)?;
        let n = self.db.exec(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, recovery = NULL, totp_state = $1              WHERE id = $2 AND tenant = $3",
            &[state.into(), id.into(), who.tenant().into()],
        )?;
        if n != 1 {
            return Err(Error::NotFound);
        }
        self.end_sessions(id)
    }

    /// Starts "log in as": `session` (an administrator's) shows the app as
    /// employee `id` sees it, read-only, until it ends. Never as an owner.
    pub(crate) fn start_view_as(
        &self,
        who: &Principal,
        session: &crate::sessions::Session,
        id: &str,
    ) -> Result<()> {
        if self.is_owner(who.tenant(), id)? {
            return Err(Error::Forbidden(
                "nobody views the app as the tenant's owner".into(),
            ));
        }
        if who.user() == id {
            return Err(Error::BadRequest("that is you".into()));
        }
        self.require_outranks(who, id, "view the app as")?;
        if !sees_at_least(
            &*self.tenant_policy(who.tenant())?,
            who.tenant(),
            who.user(),
            id,
        ) {
            return Err(Error::Forbidden(
                "this employee may see what you may not: viewing as them would show it to you"
                    .into(),
            ));
        }
        self.db.exec(
            "UPDATE sessions SET viewing_as = $1 WHERE token_hash = $2",
            &[id.into(), session.token_hash.clone().into()],
        )?;
        Ok(())
    }

    /// An administrator's unlock of an employee's second factor, locked
    /// after too many wrong codes: the failure count and back-off are
    /// cleared, the last accepted step kept (old codes stay refused).
    /// Returns how many failures were cleared.
    pub(crate) fn unlock_factor(&self, id: &str) -> Result<u32> {
        let text = self
            .db
            .query_one("SELECT totp_state FROM users WHERE id = $1", &[id.into()])?
            .ok_or(Error::NotFound)?
            .text("totp_state")?;
        let mut state: FactorState = serde_json::from_str(&text).map_err(internal)?;
        let failures = state.failures();
        state.unlock();
        let n = self.db.exec(
            "UPDATE users SET totp_state = $1 WHERE id = $2 AND totp_state = $3",
            &[
                serde_json::to_string(&state).map_err(internal)?.into(),
                id.into(),
                text.into(),
            ],
        )?;
        if n != 1 {
            return Err(Error::Conflict(
                "the factor changed concurrently; try again".into(),
            ));
        }
        Ok(failures)
    }
}

/// The principal acting on the policy: every change is checked by
/// palisade-rbac's delegation rules (rank, rights held, owners untouchable).
fn actor(who: &Principal) -> Actor<'_> {
    Actor::new(who.user(), who.tenant())
}

/// Whether `viewer` may see everything `target` may in `tenant`: every
/// action the target may take (even only on its own resources) the viewer
/// may take on any, and every field at least as openly. Viewing as someone
/// who sees more would be an escalation.
pub(crate) fn sees_at_least(policy: &Policy, tenant: &str, viewer: &str, target: &str) -> bool {
    let (Ok(theirs), Ok(mine)) = (
        policy.permissions(target, Some(tenant)),
        policy.permissions(viewer, Some(tenant)),
    ) else {
        return false;
    };
    let allowed: HashSet<(&str, &str)> = mine
        .iter()
        .filter(|p| matches!(p.access, Access::Allowed))
        .map(|p| (p.resource_type, p.action))
        .collect();
    let mut types = HashSet::new();
    for p in &theirs {
        if matches!(p.access, Access::Forbidden) {
            continue;
        }
        if !allowed.contains(&(p.resource_type, p.action)) {
            return false;
        }
        types.insert(p.resource_type);
    }
    let openness = |v: Visibility| match v {
        Visibility::Hidden => 0,
        Visibility::Masked => 1,
        Visibility::Visible => 2,
    };
    types.into_iter().all(|ty| {
        let (Ok(theirs), Ok(mine)) = (
            policy.field_rights_of(target, Some(tenant), ty),
            policy.field_rights_of(viewer, Some(tenant), ty),
        ) else {
            return false;
        };
        theirs.iter().all(|t| {
            let mine = mine
                .iter()
                .find(|m| m.field == t.field)
                .map_or(Visibility::Visible, |m| m.visibility);
            openness(mine) >= openness(t.visibility)
        })
    })
}

/// Which of an employee's own settings a `DELETE` lifts.
#[derive(Clone, Copy)]
pub(crate) enum Lift {
    /// A grant on top of the roles.
    Grant,
    /// A deny.
    Deny,
    /// A field setting.
    Field,
}

/// The employee id a route names (the guard has checked it is the caller's tenant's).
fn employee<A: palisade_axum::Action>(auth: &Authorized<A, Account>) -> Result<String> {
    auth.id().map(str::to_owned).ok_or(Error::NotFound)
}

/// `GET /api/users`
pub(crate) async fn list(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Account>,
) -> Result<Guarded<UserList>> {
    let tenant = auth.tenant().to_owned();
    let rows = app.blocking(move |app| app.accounts(&tenant)).await?;
    let users = rows
        .into_iter()
        .map(|r| UserView {
            blocked: auth.policy().is_blocked(&r.id),
            id: r.id,
            email: r.email,
            name: r.name,
            role: r.role,
            totp: r.totp,
        })
        .collect();
    Ok(auth.respond(UserList { users }))
}

/// `POST /api/users`
pub(crate) async fn create(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Account>,
    ApiJson(form): ApiJson<NewEmployee>,
) -> Result<Guarded<Created>> {
    let who = auth.principal().clone();
    auth.note("role", form.role.clone());
    let id = app
        .blocking(move |app| app.create_user(&who, &form))
        .await?;
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
}

/// `POST /api/users/{user}/block`
pub(crate) async fn block(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Block, Account>,
) -> Result<Guarded<AccountChange>> {
    let (who, id) = (auth.principal().clone(), employee(&auth)?);
    let target = id.clone();
    let ended = app
        .blocking(move |app| app.block_user(&who, &target))
        .await?;
    auth.note("sessions_ended", ended);
    Ok(auth.respond(AccountChange {
        id,
        done: "blocked",
        sessions_ended: Some(ended),
    }))
}

/// `POST /api/users/{user}/unblock`
pub(crate) async fn unblock(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Block, Account>,
) -> Result<Guarded<AccountChange>> {
    let (who, id) = (auth.principal().clone(), employee(&auth)?);
    let target = id.clone();
    app.blocking(move |app| app.unblock_user(&who, &target))
        .await?;
    Ok(auth.respond(AccountChange {
        id,
        done: "unblocked",
        sessions_ended: None,
    }))
}

/// `PUT /api/users/{user}/rights`: a rights change needs a fresh step-up.
pub(crate) async fn restrict(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<SetRights, Account>,
    _fresh: Fresh,
    ApiJson(form): ApiJson<Restrictions>,
) -> Result<Guarded<AccountChange>> {
    let (who, id) = (auth.principal().clone(), employee(&auth)?);
    auth.note(
        "change",
        serde_json::json!({ "grant": form.grant, "deny": form.deny, "fields": form.fields }),
    );
    let target = id.clone();
    app.blocking(move |app| app.restrict_user(&who, &target, &form))
        .await?;
    Ok(auth.respond(AccountChange {
        id,
        done: "rights changed",
        sessions_ended: None,
    }))
}

/// `POST /api/users/{user}/second-factor/unlock`
pub(crate) async fn unlock_factor(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<UnlockFactor, Account>,
) -> Result<Guarded<AccountChange>> {
    let id = employee(&auth)?;
    let target = id.clone();
    let cleared = app.blocking(move |app| app.unlock_factor(&target)).await?;
    auth.note("failures_cleared", cleared);
    Ok(auth.respond(AccountChange {
        id,
        done: "second factor unlocked",
        sessions_ended: None,
    }))
}

/// `DELETE /api/users/{user}/rights/grant/{right}`, `…/deny/{right}` and
/// `…/fields/{field}`: lifts one setting; like any rights change it needs a
/// fresh step-up and is checked by delegation.
async fn lift(
    app: Arc<Backoffice>,
    auth: Authorized<SetRights, Account>,
    kind: Lift,
    what: String,
) -> Result<Guarded<AccountChange>> {
    let (who, id) = (auth.principal().clone(), employee(&auth)?);
    auth.note("lifted", what.clone());
    let target = id.clone();
    app.blocking(move |app| app.lift_restriction(&who, &target, kind, &what))
        .await?;
    Ok(auth.respond(AccountChange {
        id,
        done: "rights changed",
        sessions_ended: None,
    }))
}

/// `DELETE /api/users/{user}/rights/grant/{right}`
pub(crate) async fn lift_grant(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<SetRights, Account>,
    _fresh: Fresh,
    Path((_, right)): Path<(String, String)>,
) -> Result<Guarded<AccountChange>> {
    lift(app, auth, Lift::Grant, right).await
}

/// `DELETE /api/users/{user}/rights/deny/{right}`
pub(crate) async fn lift_deny(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<SetRights, Account>,
    _fresh: Fresh,
    Path((_, right)): Path<(String, String)>,
) -> Result<Guarded<AccountChange>> {
    lift(app, auth, Lift::Deny, right).await
}

/// `DELETE /api/users/{user}/rights/fields/{field}`
pub(crate) async fn lift_field(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<SetRights, Account>,
    _fresh: Fresh,
    Path((_, field)): Path<(String, String)>,
) -> Result<Guarded<AccountChange>> {
    lift(app, auth, Lift::Field, field).await
}

/// `DELETE /api/users/{user}`: needs a fresh step-up; owners cannot be deleted.
pub(crate) async fn delete(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Delete, Account>,
    _fresh: Fresh,
) -> Result<Guarded<AccountChange>> {
    let (who, id) = (auth.principal().clone(), employee(&auth)?);
    let target = id.clone();
    app.blocking(move |app| app.delete_user(&who, &target))
        .await?;
    Ok(auth.respond(AccountChange {
        id,
        done: "deleted",
        sessions_ended: None,
    }))
}

/// `POST /api/users/{user}/second-factor/reset`: needs a fresh step-up.
pub(crate) async fn reset_factor(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<ResetFactor, Account>,
    _fresh: Fresh,
) -> Result<Guarded<AccountChange>> {
    let (who, id) = (auth.principal().clone(), employee(&auth)?);
    let target = id.clone();
    let ended = app
        .blocking(move |app| app.reset_factor(&who, &target))
        .await?;
    auth.note("sessions_ended", ended);
    Ok(auth.respond(AccountChange {
        id,
        done: "second factor reset",
        sessions_ended: Some(ended),
    }))
}

/// `POST /api/users/{user}/view-as`: "log in as", read-only; needs a fresh
/// step-up; raises a `view_as` alert.
pub(crate) async fn view_as(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<ViewAs, Account>,
    _fresh: Fresh,
    Caller(session): Caller,
) -> Result<Guarded<AccountChange>> {
    let (who, id) = (auth.principal().clone(), employee(&auth)?);
    let target = id.clone();
    app.blocking(move |app| app.start_view_as(&who, &session, &target))
        .await?;
    Ok(auth.respond(AccountChange {
        id,
        done: "viewing as",
        sessions_ended: None,
    }))
}
