//! Who is asking, and what the application tells the guard: sessions,
//! policies, resource owners and the audit log.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::request::Parts;
use palisade_audit::Event;
use palisade_rbac::Policy;

use crate::refusal::Refusal;

/// A boxed future, as the application's lookups return (they are called
/// through `dyn` references, once per request).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The signed-in caller of one request, as the application's session
/// lookup found it. Cheap to clone (shared): the guard hands it to each
/// extractor, decision record and answer of the request.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal(Arc<Who>);

#[derive(Clone, PartialEq, Eq)]
struct Who {
    user: String,
    tenant: String,
    viewer: Option<String>,
    stepped_up_at: Option<u64>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("user", &self.0.user)
            .field("tenant", &self.0.tenant)
            .field("viewer", &self.0.viewer)
            .field("stepped_up_at", &self.0.stepped_up_at)
            .finish()
    }
}

impl Principal {
    /// `user`, signed in to `tenant`.
    pub fn new(user: impl Into<String>, tenant: impl Into<String>) -> Self {
        Principal(Arc::new(Who {
            user: user.into(),
            tenant: tenant.into(),
            viewer: None,
            stepped_up_at: None,
        }))
    }

    /// The session belongs to `viewer`, an administrator viewing the app as
    /// this user ("log in as"): decisions are the user's, the audit log names
    /// both, and nothing may be changed.
    #[must_use]
    pub fn viewed_by(mut self, viewer: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.0).viewer = Some(viewer.into());
        self
    }

    /// The Unix time (seconds) of the session's last step-up proof (a
    /// password or code entered again, not the sign-in itself).
    #[must_use]
    pub fn with_step_up_at(mut self, unix_seconds: u64) -> Self {
        Arc::make_mut(&mut self.0).stepped_up_at = Some(unix_seconds);
        self
    }

    /// The principal whose rights decide.
    pub fn user(&self) -> &str {
        &self.0.user
    }

    /// The tenant of the session.
    pub fn tenant(&self) -> &str {
        &self.0.tenant
    }

    /// The administrator viewing as [`Self::user`], if any.
    pub fn viewer(&self) -> Option<&str> {
        self.0.viewer.as_deref()
    }

    /// Who acts, for the audit log: the user, or `viewer as user`.
    pub fn actor(&self) -> String {
        match &self.0.viewer {
            Some(viewer) => format!("{viewer} as {}", self.0.user),
            None => self.0.user.clone(),
        }
    }

    /// When the session last stepped up, if ever.
    pub fn stepped_up_at(&self) -> Option<u64> {
        self.0.stepped_up_at
    }
}

/// The application's sessions: who is behind a request.
pub trait SessionLookup: Send + Sync + 'static {
    /// The principal of the request's session (its cookie or bearer token),
    /// or `None` without a valid session.
    fn principal<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Principal>, Refusal>>;

    /// Ends every session of `user` in `tenant`; the guard calls it when it
    /// finds the user blocked.
    fn end_sessions<'a>(&'a self, tenant: &'a str, user: &'a str) -> BoxFuture<'a, ()>;
}

/// The application's compiled policies, one per tenant.
///
/// Keep them in memory (a `palisade_rbac::PolicyStore` per tenant) and swap
/// in a new snapshot when a policy changes: the next request decides on it.
pub trait PolicySource: Send + Sync + 'static {
    /// The current policy of `tenant`.
    fn policy<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<Arc<Policy>, Refusal>>;
}

/// Which tenant owns a resource: how the guard tells "not yours" (a probe
/// of another tenant, answered 404 and recorded in both tenants' logs) from
/// "not allowed" (403).
pub trait ResourceLocator: Send + Sync + 'static {
    /// The tenant owning `type_name` `id`, or `None` when no tenant has it.
    fn tenant_of<'a>(
        &'a self,
        type_name: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, Refusal>>;
}

/// Where decisions go: the tenant's audit log. `record` resolves once the
/// event is durable; the guard answers the request only then.
pub trait DecisionLog: Send + Sync + 'static {
    /// Appends `event` to `tenant`'s log.
    fn record<'a>(&'a self, tenant: &'a str, event: Event) -> BoxFuture<'a, Result<(), Refusal>>;
}

// An application usually keeps its stores behind `Arc`s it also uses
// elsewhere: the guard takes those as they are.
impl<T: SessionLookup> SessionLookup for Arc<T> {
    fn principal<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Principal>, Refusal>> {
        (**self).principal(request)
    }
    fn end_sessions<'a>(&'a self, tenant: &'a str, user: &'a str) -> BoxFuture<'a, ()> {
        (**self).end_sessions(tenant, user)
    }
}

impl<T: PolicySource> PolicySource for Arc<T> {
    fn policy<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<Arc<Policy>, Refusal>> {
        (**self).policy(tenant)
    }
}

impl<T: ResourceLocator> ResourceLocator for Arc<T> {
    fn tenant_of<'a>(
        &'a self,
        type_name: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, Refusal>> {
        (**self).tenant_of(type_name, id)
    }
}

impl<T: DecisionLog> DecisionLog for Arc<T> {
    fn record<'a>(&'a self, tenant: &'a str, event: Event) -> BoxFuture<'a, Result<(), Refusal>> {
        (**self).record(tenant, event)
    }
}

#[cfg(test)]
mod tests {
    use super::Principal;

    /// The copies of a shared principal are independent: turning one into
    /// a "log in as" view, or stepping it up, changes no other copy (no
    /// request's principal becomes read-only, or fresh, through another's).
    #[test]
    fn changing_a_copy_leaves_the_others_as_they_were() {
        let original = Principal::new("otto", "acme");
        let held = original.clone();
        let viewed = original.clone().viewed_by("olivia");
        let fresh = original.clone().with_step_up_at(1_700_000_000);
        assert_eq!(held.viewer(), None);
        assert_eq!(held.stepped_up_at(), None);
        assert_eq!(original, held);
        assert_eq!(viewed.viewer(), Some("olivia"));
        assert_eq!(viewed.actor(), "olivia as otto");
        assert_eq!(viewed.stepped_up_at(), None);
        assert_eq!(fresh.stepped_up_at(), Some(1_700_000_000));
        assert_eq!(fresh.viewer(), None);
        assert_eq!(
            format!("{viewed:?}"),
            r#"Principal { user: "otto", tenant: "acme", viewer: Some("olivia"), stepped_up_at: None }"#
        );
    }
}
