//! What the back office tells palisade-axum's guard: its sessions, the
//! tenants' policies, which tenant owns an id, and the audit logs; and the
//! actions and resource types its routes name.

use std::sync::Arc;

use axum::http::request::Parts;
use palisade_audit::Event;
use palisade_axum::{
    BoxFuture, DecisionLog, Guard, PolicySource, Principal, Refusal, ResourceLocator,
    SessionCookie, SessionLookup, action, per_minute, resource,
};
use palisade_rbac::Policy;

use crate::app::Backoffice;
use crate::error::Error;
use crate::sessions::Stage;

action!(
    Read = "read",
    Create = "create",
    Edit = "edit",
    Export = "export",
    Erase = "erase",
    Close = "close",
    Hold = "hold",
    Block = "block",
    SetRights = "set_rights",
    UnlockFactor = "unlock_factor",
    Run = "run",
    Search = "search",
    Delete = "delete",
    ResetFactor = "reset_factor",
    ViewAs = "view_as",
    Report = "report",
);

resource!(
    Client["client"],
    Attachment["attachment"],
    Invoice["invoice"],
    Account["user"] owned_by_id,
    Booking["booking"],
    Payment["payment"],
    Tariff["tariff"],
    Statistics["user"] owned_by_id,
    Download["download"],
    Alert["alert"],
    Audit,
    Retention,
    Analytics,
    Settings,
    Incident,
    Tenant,
);

/// The back office as the guard sees it.
pub(crate) struct Gate {
    app: Arc<Backoffice>,
    cookie: SessionCookie,
}

/// Searches by a field (each one could confirm a value): per user, a burst
/// of 30, then one every two seconds.
pub(crate) const SEARCH_QUOTA: &str = "search";

/// The guard of `app`'s routes.
pub(crate) fn guard(app: &Arc<Backoffice>, cookie: &SessionCookie) -> Guard {
    let gate = Arc::new(Gate {
        app: Arc::clone(app),
        cookie: cookie.clone(),
    });
    let clock = app.clock();
    Guard::builder(Arc::clone(&gate), Arc::clone(&gate), Arc::clone(&gate))
        .with_locator(gate)
        .with_masker(Arc::clone(&app.masker))
        .with_clock(move || u64::try_from(clock.now()).unwrap_or(0))
        .with_quota(SEARCH_QUOTA, per_minute(30))
        .build()
}

fn refusal(e: Error) -> Refusal {
    match e {
        Error::Unauthorized(_) => Refusal::Unauthenticated,
        Error::NotFound => Refusal::NotFound,
        other => {
            tracing::error!(error = %other, "guard lookup failed");
            Refusal::Internal
        }
    }
}

impl SessionLookup for Gate {
    fn principal<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Principal>, Refusal>> {
        let token = self.cookie.read(&request.headers).map(str::to_owned);
        Box::pin(async move {
            let Some(token) = token else {
                return Ok(None);
            };
            let session = self
                .app
                .blocking(move |app| app.session(&token))
                .await
                .map_err(refusal)?;
            Ok(session.filter(|s| s.stage == Stage::Full).map(|s| {
                // "Log in as": the employee's rights decide, the
                // administrator is named in every record, nothing changes.
                let principal = match s.viewing_as {
                    Some(employee) => Principal::new(employee, s.tenant).viewed_by(s.user_id),
                    None => Principal::new(s.user_id, s.tenant),
                };
                match s.stepped_up.and_then(|t| u64::try_from(t).ok()) {
                    Some(at) => principal.with_step_up_at(at),
                    None => principal,
                }
            }))
        })
    }

    fn end_sessions<'a>(&'a self, _tenant: &'a str, user: &'a str) -> BoxFuture<'a, ()> {
        let user = user.to_owned();
        Box::pin(async move {
            if let Err(e) = self.app.blocking(move |app| app.end_sessions(&user)).await {
                tracing::error!(error = %e, "ending a blocked user's sessions failed");
            }
        })
    }
}

impl PolicySource for Gate {
    fn policy<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<Arc<Policy>, Refusal>> {
        let tenant = tenant.to_owned();
        Box::pin(async move {
            if let Some(policy) = self.app.cached_policy(&tenant) {
                return Ok(policy);
            }
            self.app
                .blocking(move |app| app.tenant_policy(&tenant))
                .await
                .map_err(refusal)
        })
    }
}

impl ResourceLocator for Gate {
    fn tenant_of<'a>(
        &'a self,
        type_name: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, Refusal>> {
        let sql = match type_name {
            "Client" => Some("SELECT tenant FROM clients WHERE id = $1"),
            "Attachment" => Some("SELECT tenant FROM attachments WHERE id = $1"),
            "Invoice" => Some("SELECT tenant FROM invoices WHERE id = $1"),
            "Account" | "Statistics" => Some("SELECT tenant FROM users WHERE id = $1"),
            "Booking" => Some("SELECT tenant FROM bookings WHERE id = $1"),
            "Payment" => Some("SELECT tenant FROM payments WHERE id = $1"),
            "Tariff" => Some("SELECT tenant FROM tariffs WHERE id = $1"),
            _ => None,
        };
        let id = id.to_owned();
        Box::pin(async move {
            let Some(sql) = sql else {
                return Ok(None);
            };
            self.app
                .blocking(move |app| {
                    app.db
                        .query_one(sql, &[id.into()])?
                        .map(|row| row.text("tenant"))
                        .transpose()
                })
                .await
                .map_err(refusal)
        })
    }
}

impl DecisionLog for Gate {
    fn record<'a>(&'a self, tenant: &'a str, event: Event) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            self.app
                .append_async(tenant, event)
                .await
                .map(|_| ())
                .map_err(refusal)
        })
    }
}
