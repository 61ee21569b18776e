//! The guard: configuration, authentication of each request, and the layer
//! that records every decision before the answer leaves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota};
use palisade_audit::{Event, Outcome, Subjects};
use palisade_pii::{Masker, Operator, PartialMask};
use palisade_rbac::Policy;

use crate::principal::{
    BoxFuture, DecisionLog, PolicySource, Principal, ResourceLocator, SessionLookup,
};
use crate::refusal::Refusal;

/// The clock the guard reads step-up times against (Unix seconds).
pub(crate) type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// One guard per application: it decides, masks and records every request
/// that uses its extractors. Cheap to clone (an `Arc`).
///
/// Build it with [`Guard::builder`], put it in the router's state (the
/// extractors find it through `FromRef`), and install [`Guard::layer`] on
/// the routes it protects: the layer writes the audit record of every
/// decision and answers only once the record is durable.
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

struct Inner {
    sessions: Arc<dyn SessionLookup>,
    policies: Arc<dyn PolicySource>,
    log: Arc<dyn DecisionLog>,
    locator: Option<Arc<dyn ResourceLocator>>,
    masker: Arc<Masker>,
    /// The masker writes JSON text as it is for JSON text as it is: a
    /// partial mask with a character JSON does not escape (it writes only
    /// the value's bytes and that character's).
    mask_keeps_json_text: bool,
    step_up_window: u64,
    clock: Clock,
    per_principal: Option<DefaultKeyedRateLimiter<String>>,
    quotas: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
    /// The length of the last JSON answer written: the next one's buffer
    /// starts that large (no copy as it grows to the usual size).
    answer_len: AtomicUsize,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("step_up_window", &self.0.step_up_window)
            .field("locator", &self.0.locator.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Guard`]; see [`Guard::builder`].
pub struct GuardBuilder {
    sessions: Arc<dyn SessionLookup>,
    policies: Arc<dyn PolicySource>,
    log: Arc<dyn DecisionLog>,
    locator: Option<Arc<dyn ResourceLocator>>,
    masker: Option<Arc<Masker>>,
    step_up_window: u64,
    clock: Option<Clock>,
    per_principal: Option<Quota>,
    quotas: Vec<(&'static str, Quota)>,
}

impl std::fmt::Debug for GuardBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardBuilder").finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard over the application's sessions, per-tenant policies and
    /// audit logs. Defaults: a five-minute step-up window, masking with
    /// `X`s keeping the last three characters (`+48 XXX XXX 211`), no rate
    /// limits, no resource locator.
    pub fn builder(
        sessions: impl SessionLookup,
        policies: impl PolicySource,
        log: impl DecisionLog,
    ) -> GuardBuilder {
        GuardBuilder {
            sessions: Arc::new(sessions),
            policies: Arc::new(policies),
            log: Arc::new(log),
            locator: None,
            masker: None,
            step_up_window: 300,
            clock: None,
            per_principal: None,
            quotas: Vec::new(),
        }
    }

    /// The layer that records every decision made for a request and answers
    /// only once its record is durable (a failed append answers 500). It also
    /// refuses a successful answer with a body that did not go through
    /// [`Guarded`](crate::Guarded): a handler cannot return data the policy
    /// was not asked about.
    pub fn layer(&self) -> GuardLayer {
        GuardLayer {
            guard: self.clone(),
        }
    }

    pub(crate) fn masker(&self) -> &Masker {
        &self.0.masker
    }

    /// Whether masking a value JSON writes as it is gives a value JSON
    /// writes as it is (no need to look at what the masker wrote).
    pub(crate) fn mask_keeps_json_text(&self) -> bool {
        self.0.mask_keeps_json_text
    }

    /// The capacity to give the buffer of a JSON answer: the last one's
    /// length and an eighth, at least 1 KiB, at most 1 MiB.
    pub(crate) fn answer_capacity(&self) -> usize {
        let last = self.0.answer_len.load(Ordering::Relaxed);
        last.saturating_add(last / 8).clamp(1 << 10, 1 << 20)
    }

    /// Notes the length of a JSON answer written ([`Guard::answer_capacity`]).
    pub(crate) fn note_answer_len(&self, len: usize) {
        // Written only when it changed: answers of one length (a page of a
        // list) leave the line shared by every core's requests unwritten.
        if self.0.answer_len.load(Ordering::Relaxed) != len {
            self.0.answer_len.store(len, Ordering::Relaxed);
        }
    }

    pub(crate) fn now(&self) -> u64 {
        (self.0.clock)()
    }

    pub(crate) fn step_up_window(&self) -> u64 {
        self.0.step_up_window
    }

    pub(crate) fn locator(&self) -> Option<&dyn ResourceLocator> {
        self.0.locator.as_deref()
    }

    /// Takes one request from `principal`'s allowance of the named quota
    /// (set with [`GuardBuilder::with_quota`]), or refuses with 429.
    ///
    /// # Errors
    /// [`Refusal::RateLimited`]; [`Refusal::Internal`] for an unknown quota.
    pub fn limit(&self, quota: &str, principal: &Principal) -> Result<(), Refusal> {
        let limiter = self.0.quotas.get(quota).ok_or_else(|| {
            tracing::error!(quota, "palisade-axum: unknown quota");
            Refusal::Internal
        })?;
        check(limiter, principal)
    }

    /// The caller of `parts`, authenticated once per request (later
    /// extractors reuse it): the session looked up, the policy of its tenant
    /// loaded, a blocked user (or viewer) refused with its sessions ended,
    /// a viewer refused any change, the per-principal rate limit taken.
    pub(crate) async fn authenticate(
        &self,
        parts: &mut Parts,
    ) -> Result<(Principal, Arc<Policy>), Refusal> {
        if let Some(Authenticated(principal, policy)) = parts.extensions.get::<Authenticated>() {
            return Ok((principal.clone(), Arc::clone(policy)));
        }
        let principal = self
            .0
            .sessions
            .principal(parts)
            .await?
            .ok_or(Refusal::Unauthenticated)?;
        let policy = self.0.policies.policy(principal.tenant()).await?;
        let slot = Slot::of(parts)?;
        let blocked = policy.is_blocked(principal.user())
            || principal.viewer().is_some_and(|v| policy.is_blocked(v));
        let refusal = if blocked {
            for user in std::iter::once(principal.user()).chain(principal.viewer()) {
                self.0.sessions.end_sessions(principal.tenant(), user).await;
            }
            Some(Refusal::Blocked)
        } else if principal.viewer().is_some()
            && !matches!(parts.method.as_str(), "GET" | "HEAD" | "OPTIONS")
        {
            Some(Refusal::ReadOnly)
        } else if let Some(limiter) = &self.0.per_principal {
            check(limiter, &principal).err()
        } else {
            None
        };
        if let Some(refusal) = refusal {
            slot.push(Pending::new(principal, "session", "Session", None));
            return Err(refusal);
        }
        parts
            .extensions
            .insert(Authenticated(principal.clone(), Arc::clone(&policy)));
        Ok((principal, policy))
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, principal: &Principal) -> Result<(), Refusal> {
    use governor::clock::Clock as _;
    let key = format!("{}/{}", principal.tenant(), principal.user());
    limiter.check_key(&key).map_err(|not_until| {
        let now = limiter.clock().now();
        Refusal::RateLimited {
            retry_after: not_until.wait_time_from(now).as_secs().max(1),
        }
    })
}

impl GuardBuilder {
    /// Tells the guard which tenant owns a resource, so that a request for
    /// another tenant's id is answered 404 (its existence not revealed) and
    /// recorded as a probe in both tenants' logs.
    #[must_use]
    pub fn with_locator(mut self, locator: impl ResourceLocator) -> Self {
        self.locator = Some(Arc::new(locator));
        self
    }

    /// Masks fields the policy marks `masked` with `masker`'s operator.
    #[must_use]
    pub fn with_masker(mut self, masker: Arc<Masker>) -> Self {
        self.masker = Some(masker);
        self
    }

    /// How long a step-up proof counts for [`Fresh`](crate::Fresh) (seconds).
    #[must_use]
    pub fn with_step_up_window(mut self, seconds: u64) -> Self {
        self.step_up_window = seconds;
        self
    }

    /// The clock step-up times are compared with (default: the system clock).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Every principal's requests are limited to `quota` (429 with
    /// `Retry-After` beyond it).
    #[must_use]
    pub fn with_principal_quota(mut self, quota: Quota) -> Self {
        self.per_principal = Some(quota);
        self
    }

    /// A named quota per principal, taken with [`Guard::limit`] by the
    /// routes that need one (e.g. `search`).
    #[must_use]
    pub fn with_quota(mut self, name: &'static str, quota: Quota) -> Self {
        self.quotas.push((name, quota));
        self
    }

    /// The guard.
    pub fn build(self) -> Guard {
        let masker = self
            .masker
            .unwrap_or_else(|| Arc::new(Masker::new(Operator::Partial(PartialMask::default()))));
        let clock = self.clock.unwrap_or_else(|| {
            Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            })
        });
        // The one check of what JSON writes as it is, on the mask character.
        let mask_keeps_json_text = match masker.operator() {
            Operator::Partial(p) => {
                crate::stream::json_verbatim(p.mask_char().encode_utf8(&mut [0; 4]).as_bytes())
            }
            _ => false,
        };
        Guard(Arc::new(Inner {
            sessions: self.sessions,
            policies: self.policies,
            log: self.log,
            locator: self.locator,
            masker,
            mask_keeps_json_text,
            step_up_window: self.step_up_window,
            clock,
            per_principal: self.per_principal.map(DefaultKeyedRateLimiter::keyed),
            quotas: self
                .quotas
                .into_iter()
                .map(|(name, quota)| (name, DefaultKeyedRateLimiter::keyed(quota)))
                .collect(),
            answer_len: AtomicUsize::new(0),
        }))
    }
}

/// The principal and policy of a request, once authenticated.
#[derive(Clone)]
struct Authenticated(Principal, Arc<Policy>);

/// A decision made for the request, recorded when the answer is ready.
pub(crate) struct Pending {
    pub(crate) principal: Principal,
    pub(crate) action: String,
    pub(crate) type_name: &'static str,
    pub(crate) id: Option<String>,
    pub(crate) allowed: bool,
    /// The other tenant owning the requested id (a cross-tenant probe).
    pub(crate) probe_of: Option<String>,
    /// What the handler added to the record: details and data subjects.
    pub(crate) details: serde_json::Map<String, serde_json::Value>,
    pub(crate) subjects: Vec<String>,
}

impl Pending {
    pub(crate) fn new(
        principal: Principal,
        action: &str,
        type_name: &'static str,
        id: Option<String>,
    ) -> Pending {
        Pending {
            principal,
            action: action.to_owned(),
            type_name,
            id,
            allowed: false,
            probe_of: None,
            details: serde_json::Map::new(),
            subjects: Vec::new(),
        }
    }
}

/// The decisions of one request, shared between the extractors and the layer.
#[derive(Clone, Default)]
pub(crate) struct Slot(Arc<Mutex<Vec<Pending>>>);

impl Slot {
    /// The request's slot; missing when [`Guard::layer`] is not installed,
    /// which fails closed (nothing could be recorded).
    pub(crate) fn of(parts: &Parts) -> Result<Slot, Refusal> {
        parts.extensions.get::<Slot>().cloned().ok_or_else(|| {
            tracing::error!("palisade-axum: Guard::layer is not installed on this route");
            Refusal::Internal
        })
    }

    /// Adds a decision; returns its place, for [`Slot::with`].
    pub(crate) fn push(&self, pending: Pending) -> usize {
        match self.0.lock() {
            Ok(mut v) => {
                v.push(pending);
                v.len() - 1
            }
            Err(_) => usize::MAX,
        }
    }

    /// Changes the decision at `index` (a handler's note or subject).
    pub(crate) fn with(&self, index: usize, f: impl FnOnce(&mut Pending)) {
        if let Ok(mut v) = self.0.lock()
            && let Some(p) = v.get_mut(index)
        {
            f(p);
        }
    }

    fn take(&self) -> Vec<Pending> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// What a [`Guarded`](crate::Guarded) answer tells the layer: the data
/// subjects it shows, the fields masked, hidden or withheld.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GuardedMark {
    pub(crate) subjects: Subjects,
    pub(crate) masked: Vec<String>,
    pub(crate) hidden: Vec<String>,
    /// Personal fields shown in clear: the data-access log's "who saw it".
    pub(crate) shown: Vec<String>,
    pub(crate) withheld: Vec<String>,
}

/// The layer of [`Guard::layer`].
#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// The service of [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S> tower::Service<Request> for GuardService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let slot = Slot::default();
        request.extensions_mut().insert(slot.clone());
        // The service polled ready takes the request now; its future owns
        // what it needs (no clone of the inner service per request).
        let response = self.inner.call(request);
        let guard = self.guard.clone();
        Box::pin(async move {
            let response = response.await?;
            Ok(record_decisions(&guard, &slot, response).await)
        })
    }
}

async fn record_decisions(guard: &Guard, slot: &Slot, mut response: Response) -> Response {
    let pending = slot.take();
    if pending.is_empty() {
        return response;
    }
    let mark = response.extensions_mut().remove::<GuardedMark>();
    let status = response.status();
    let unvouched = status.is_success() && mark.is_none() && has_body(&response);
    if unvouched {
        tracing::error!(
            status = status.as_u16(),
            "palisade-axum: an authorized request answered with a body that is not Guarded; refused"
        );
    }
    let mut mark = mark.unwrap_or_default();
    // The answer's subjects go in the record of every allowed decision:
    // moved into the last one's, copied into the others'.
    let mut allowed_left = pending.iter().filter(|p| p.allowed).count();
    for p in pending {
        let outcome = if !p.allowed {
            Outcome::Denied
        } else if status.is_success() && !unvouched {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let resource = [p.type_name, ":", p.id.as_deref().unwrap_or("*")].concat();
        let action = action_name(p.type_name, &p.action);
        // The answer's lists are moved into the last allowed decision's
        // record, copied into the others'.
        let last_allowed = p.allowed && allowed_left == 1;
        let mut payload = serde_json::Value::Object(p.details);
        if let Some(o) = payload.as_object_mut() {
            o.insert("status".into(), status.as_u16().into());
            if let Some(viewer) = p.principal.viewer() {
                o.insert("viewer".into(), viewer.into());
                o.insert("user".into(), p.principal.user().into());
            }
            for (key, list) in [
                ("shown", &mut mark.shown),
                ("masked", &mut mark.masked),
                ("hidden", &mut mark.hidden),
                ("withheld", &mut mark.withheld),
            ] {
                if !list.is_empty() && p.allowed {
                    let list = if last_allowed {
                        std::mem::take(list)
                    } else {
                        list.clone()
                    };
                    let list = list.into_iter().map(serde_json::Value::String).collect();
                    o.insert(key.into(), serde_json::Value::Array(list));
                }
            }
        }
        let probe_resource = p.probe_of.is_some().then(|| resource.clone());
        let mut shown = Subjects::new();
        if p.allowed {
            allowed_left -= 1;
            shown = if allowed_left == 0 {
                std::mem::take(&mut mark.subjects)
            } else {
                mark.subjects.clone()
            };
            shown.extend(p.subjects);
        }
        let event = Event::new(p.principal.actor(), action, resource)
            .with_tenant(p.principal.tenant())
            .with_outcome(outcome);
        // More subjects than a record holds: one record for each part, in
        // order, each saying which part of how many it is; none is dropped.
        let (single, parts) = if shown.len() <= palisade_audit::format::MAX_SUBJECTS {
            let single = event.with_payload(payload).with_subject_list(shown);
            (Some(single), Vec::new())
        } else {
            let parts = split_subjects(&shown, palisade_audit::format::MAX_SUBJECTS);
            let count = parts.len();
            let parts = parts
                .into_iter()
                .enumerate()
                .map(|(i, part)| {
                    let mut payload = payload.clone();
                    if let Some(o) = payload.as_object_mut() {
                        o.insert("subjects_part".into(), (i + 1).into());
                        o.insert("subjects_parts".into(), count.into());
                    }
                    event.clone().with_payload(payload).with_subject_list(part)
                })
                .collect();
            (None, parts)
        };
        for event in single.into_iter().chain(parts) {
            if guard
                .0
                .log
                .record(p.principal.tenant(), event)
                .await
                .is_err()
            {
                tracing::error!("palisade-axum: audit append failed; answer withheld");
                return Refusal::Internal.into_response();
            }
        }
        if let (Some(other), Some(resource)) = (&p.probe_of, probe_resource) {
            let probe = Event::new(
                format!("{}/{}", p.principal.tenant(), p.principal.actor()),
                action_name(p.type_name, "cross_tenant"),
                resource,
            )
            .with_tenant(other.as_str())
            .with_outcome(Outcome::Denied);
            if guard.0.log.record(other, probe).await.is_err() {
                tracing::error!("palisade-axum: audit append failed; answer withheld");
                return Refusal::Internal.into_response();
            }
            tracing::warn!(tenant = %p.principal.tenant(), "cross-tenant probe");
        }
    }
    if unvouched {
        return Refusal::Internal.into_response();
    }
    response
}

/// `subjects` in parts of at most `max` (at least one), in order.
fn split_subjects(subjects: &Subjects, max: usize) -> Vec<Subjects> {
    let mut parts = vec![Subjects::new()];
    for subject in subjects {
        if parts.last().is_some_and(|part| part.len() >= max.max(1)) {
            parts.push(Subjects::new());
        }
        if let Some(part) = parts.last_mut() {
            part.push(subject);
        }
    }
    parts
}

/// The audit action of `action` on a resource type: `client.read`, the
/// type in lower case as `str::to_lowercase` writes it (without its
/// per-character case mapping for an ASCII name).
fn action_name(type_name: &str, action: &str) -> String {
    let mut name = String::with_capacity(type_name.len() + 1 + action.len());
    if type_name.is_ascii() {
        name.push_str(type_name);
        name.make_ascii_lowercase();
    } else {
        name.push_str(&type_name.to_lowercase());
    }
    name.push('.');
    name.push_str(action);
    name
}

fn has_body(response: &Response) -> bool {
    use axum::body::HttpBody;
    response.body().size_hint().exact() != Some(0)
}
