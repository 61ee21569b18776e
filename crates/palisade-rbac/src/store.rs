//! Lock-free sharing and hot reload of the compiled policy, with a decision hook.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::policy::{Decision, Outcome, Policy};
use crate::request::Request;

/// Receives every decision a [`PolicyStore`] makes, e.g. to append it to an
/// audit log (OPA's decision log). Called on the deciding thread; keep it
/// cheap or hand the record to a queue.
pub trait DecisionHook: Send + Sync {
    /// One decision and the request it answered.
    fn record(&self, request: &Request<'_>, decision: &Decision<'_>);
}

/// The current policy, shared across threads: readers never lock, and
/// [`replace`](Self::replace) swaps in a new snapshot atomically (hot
/// reload). Requests in flight finish on the snapshot they started with.
pub struct PolicyStore {
    current: ArcSwap<Policy>,
    hook: Option<Arc<dyn DecisionHook>>,
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore")
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl PolicyStore {
    /// A store serving `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            current: ArcSwap::from_pointee(policy),
            hook: None,
        }
    }

    /// Sends every decision to `hook`.
    #[must_use]
    pub fn with_hook(mut self, hook: Arc<dyn DecisionHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Decides on the current snapshot and reports the decision to the hook.
    ///
    /// A request in a tenant the snapshot does not declare is refused with
    /// [`Error::TenantUnknown`](crate::Error::TenantUnknown); it is not a
    /// decision and the hook does not see it.
    pub fn decide(&self, request: &Request<'_>) -> crate::Result<Outcome> {
        let policy = self.current.load();
        let decision = policy.decide(request)?;
        if let Some(hook) = &self.hook {
            hook.record(request, &decision);
        }
        Ok(decision.outcome())
    }

    /// The current snapshot, for several questions against one version.
    pub fn snapshot(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Atomically installs a new snapshot; returns the previous one.
    pub fn replace(&self, policy: Policy) -> Arc<Policy> {
        self.current.swap(Arc::new(policy))
    }
}
