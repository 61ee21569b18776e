//! The extractors: `Authorized<Action, Resource>` decides the request,
//! `Fresh` asks for a recent step-up.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use palisade_rbac::{Policy, Request as PolicyRequest, Resource as PolicyResource};

use crate::guard::{Guard, Pending, Slot};
use crate::principal::Principal;
use crate::protect::{Guarded, Protected};
use crate::refusal::Refusal;

/// An action of the policy (`read`, `export`…), as a type a route names.
/// Declare them with [`action!`](crate::action).
pub trait Action: Send + Sync + 'static {
    /// The action's name in the policy.
    const NAME: &'static str;
}

/// A resource type of the policy (`Client`, `Invoice`…), as a type a route
/// names. Declare them with [`resource!`](crate::resource).
pub trait Resource: Send + Sync + 'static {
    /// The type's name in the policy.
    const NAME: &'static str;
    /// The path parameter holding the resource's id (`{id}`), if the route
    /// has one; `None` decides on the whole type (`*`).
    const ID_PARAM: Option<&'static str> = Some("id");
    /// Whether the resource is owned by the principal its id names (an
    /// account: rules with `owner = true` apply to one's own).
    const OWNED_BY_ID: bool = false;
}

/// Declares action types: `action!(Read = "read", Export = "export");`.
#[macro_export]
macro_rules! action {
    ($($(#[$meta:meta])* $name:ident = $value:literal),+ $(,)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The policy action `", $value, "`.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl $crate::Action for $name {
            const NAME: &'static str = $value;
        }
    )+};
}

/// Declares resource types: `resource!(Client);` (its id in the route's
/// `{id}`), `resource!(Client["client"]);` (in `{client}`, so that a route
/// can name two resources), and for accounts, whose owner rules apply to
/// one's own: `resource!(Account["user"] owned_by_id);`.
#[macro_export]
macro_rules! resource {
    ($($(#[$meta:meta])* $name:ident $([$param:literal])? $($owned:ident)?),+ $(,)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The policy resource type `", stringify!($name), "`.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl $crate::Resource for $name {
            const NAME: &'static str = stringify!($name);
            $(const ID_PARAM: Option<&'static str> = Some($param);)?
            $(const OWNED_BY_ID: bool = $crate::__owned!($owned);)?
        }
    )+};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __owned {
    (owned_by_id) => {
        true
    };
}

/// A request the policy allowed: `A` on `R` (the route's `{id}`, or every
/// `R` when the route has none), by the session's principal in its tenant.
///
/// Extracting it authenticates the caller (401 without a session; a blocked
/// user is refused and its sessions end), checks that the id belongs to the
/// caller's tenant (404 otherwise, recorded as a probe in both tenants'
/// logs), and decides. A refusal is answered 403; allowed or not, the
/// decision is recorded by [`Guard::layer`]. Answer with
/// [`Authorized::respond`], which masks the value by the principal's field
/// rights.
pub struct Authorized<A: Action, R: Resource> {
    principal: Principal,
    policy: Arc<Policy>,
    id: Option<String>,
    guard: Guard,
    slot: Slot,
    index: usize,
    _kind: PhantomData<fn() -> (A, R)>,
}

impl<A: Action, R: Resource> std::fmt::Debug for Authorized<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorized")
            .field("action", &A::NAME)
            .field("resource", &R::NAME)
            .field("principal", &self.principal)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<A: Action, R: Resource> Authorized<A, R> {
    /// Who asked.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The tenant of the request.
    pub fn tenant(&self) -> &str {
        self.principal.tenant()
    }

    /// The resource id from the route, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The policy snapshot the request was decided on.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The guard (for [`Guard::limit`]).
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Adds `key: value` to the audit record of this decision (what a
    /// change changed: names of fields, a new role; never personal values).
    pub fn note(&self, key: &str, value: impl Into<serde_json::Value>) {
        let value = value.into();
        self.slot.with(self.index, |p| {
            p.details.insert(key.to_owned(), value);
        });
    }

    /// Refuses the request after all (a rule the policy cannot express, such
    /// as "search by a field only who sees it"): the decision is recorded
    /// as denied, with `reason`, and the answer is 403.
    pub fn refuse(&self, reason: &str) -> Refusal {
        let reason = reason.to_owned();
        self.slot.with(self.index, |p| {
            p.allowed = false;
            p.details.insert("reason".into(), reason.into());
        });
        Refusal::forbidden(A::NAME, R::NAME)
    }

    /// Takes one request from the principal's allowance of the named quota
    /// ([`GuardBuilder::with_quota`](crate::GuardBuilder::with_quota)); over
    /// it, the decision is recorded as denied and the answer is 429.
    ///
    /// # Errors
    /// [`Refusal::RateLimited`] with the seconds to wait.
    pub fn limit(&self, quota: &str) -> Result<(), Refusal> {
        self.guard.limit(quota, &self.principal).inspect_err(|_| {
            self.slot.with(self.index, |p| {
                p.allowed = false;
                p.details.insert("reason".into(), "rate limit".into());
            });
        })
    }

    /// Names a data subject the request concerns in its audit record (a
    /// client created or erased), beside those the answer shows.
    pub fn concerns(&self, subject: impl AsRef<str>) {
        let subject = subject.as_ref();
        self.slot
            .with(self.index, |p| p.subjects.push(subject.to_owned()));
    }

    /// Whether the same principal may also `action` any `type_name` (e.g.
    /// to offer a button); nested values are decided this way by
    /// [`Authorized::respond`] already.
    pub fn may(&self, action: &str, type_name: &str) -> bool {
        decide(
            &self.policy,
            &self.principal,
            action,
            type_name,
            None,
            false,
        )
    }

    /// The answer: `value` serialized with every field decided by the
    /// principal's field rights (visible, masked, hidden), nested values by
    /// their own type's policy.
    pub fn respond<T: Protected>(&self, value: T) -> Guarded<T> {
        // Allowed to read every `R` (no id): nested `R`s are readable.
        let readable =
            (A::NAME == "read" && self.id.is_none() && !R::OWNED_BY_ID).then_some(R::NAME);
        Guarded::new(
            value,
            self.principal.clone(),
            Arc::clone(&self.policy),
            self.guard.clone(),
            readable,
        )
    }
}

pub(crate) fn decide(
    policy: &Policy,
    principal: &Principal,
    action: &str,
    type_name: &str,
    id: Option<&str>,
    owned_by_id: bool,
) -> bool {
    let id = id.unwrap_or("*");
    let mut resource = PolicyResource::new(type_name, id);
    if owned_by_id {
        resource = resource.owned_by(id);
    }
    let request =
        PolicyRequest::new(principal.user(), action, resource).in_tenant(principal.tenant());
    policy.decide(&request).is_ok_and(|d| d.is_allowed())
}

impl<S, A, R> FromRequestParts<S> for Authorized<A, R>
where
    Guard: FromRef<S>,
    S: Send + Sync,
    A: Action,
    R: Resource,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let guard = Guard::from_ref(state);
        let slot = Slot::of(parts)?;
        let (principal, policy) = guard.authenticate(parts).await?;
        let id = match R::ID_PARAM {
            None => None,
            Some(name) => {
                let params = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map_err(|_| Refusal::NotFound)?;
                params
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_owned())
            }
        };
        let mut pending = Pending::new(principal.clone(), A::NAME, R::NAME, id.clone());
        if let (Some(id), Some(locator)) = (&id, guard.locator()) {
            match locator.tenant_of(R::NAME, id).await? {
                Some(owner) if owner != principal.tenant() => {
                    pending.probe_of = Some(owner);
                    slot.push(pending);
                    return Err(Refusal::NotFound);
                }
                _ => {}
            }
        }
        pending.allowed = decide(
            &policy,
            &principal,
            A::NAME,
            R::NAME,
            id.as_deref(),
            R::OWNED_BY_ID,
        );
        let allowed = pending.allowed;
        let index = slot.push(pending);
        if !allowed {
            return Err(Refusal::forbidden(A::NAME, R::NAME));
        }
        Ok(Authorized {
            principal,
            policy,
            id,
            guard,
            slot,
            index,
            _kind: PhantomData,
        })
    }
}

/// The signed-in principal, with a step-up proof (password or code entered
/// again) younger than the guard's window: sensitive actions (replacing a
/// factor, changing rights, exporting) ask for it. Refused with
/// [`Refusal::StepUpRequired`] otherwise, and the client asks the user.
#[derive(Clone, Debug)]
pub struct Fresh(pub Principal);

impl<S> FromRequestParts<S> for Fresh
where
    Guard: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let guard = Guard::from_ref(state);
        let (principal, _) = guard.authenticate(parts).await?;
        let fresh = principal
            .stepped_up_at()
            .is_some_and(|at| guard.now().saturating_sub(at) <= guard.step_up_window());
        if fresh {
            Ok(Fresh(principal))
        } else {
            Err(Refusal::StepUpRequired)
        }
    }
}

/// The signed-in principal, with no decision: for routes about the caller
/// itself (`/me`, sign-out) that every signed-in user may use. Its answers
/// are still recorded and vouched for like any other.
#[derive(Clone, Debug)]
pub struct SignedIn {
    principal: Principal,
    policy: Arc<Policy>,
    guard: Guard,
}

impl SignedIn {
    /// Who asked.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The policy snapshot of the principal's tenant.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The answer, masked by the principal's own field rights.
    pub fn respond<T: Protected>(&self, value: T) -> Guarded<T> {
        Guarded::new(
            value,
            self.principal.clone(),
            Arc::clone(&self.policy),
            self.guard.clone(),
            None,
        )
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    Guard: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let guard = Guard::from_ref(state);
        let slot = Slot::of(parts)?;
        let (principal, policy) = guard.authenticate(parts).await?;
        let mut pending = Pending::new(principal.clone(), "use", "Session", None);
        pending.allowed = true;
        slot.push(pending);
        Ok(SignedIn {
            principal,
            policy,
            guard,
        })
    }
}
