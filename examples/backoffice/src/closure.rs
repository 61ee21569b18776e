//! End of service: the owner closes the tenant, takes a full export of its
//! data, and the retention rules delete it after the period they state
//! (`end-of-service-*` in `assets/retention.toml`); invoices kept by law
//! stay, and the sweep's answer says until when.

use std::sync::Arc;

use axum::extract::State;
use palisade_axum::{Authorized, Fresh, Guarded};
use serde::Deserialize;

use crate::app::Backoffice;
use crate::error::{Error, Result};
use crate::gate::{Close, Tenant};
use crate::http::ApiJson;
use crate::views::TenantExport;

/// The period the end-of-service rules give before deletion (for the answer;
/// the retention policy decides).
const GRACE_DAYS: i64 = 30;

/// The owner confirms by naming the tenant.
#[derive(Deserialize)]
pub(crate) struct CloseRequest {
    pub(crate) confirm: String,
}

impl Backoffice {
    /// Marks the end of service (once: a second close keeps the first
    /// date) and exports everything the tenant holds.
    fn close_tenant(&self, tenant: &str) -> Result<TenantExport> {
        let now = self.clock.now();
        self.db.exec(
            "UPDATE tenants SET closing_at = $1 WHERE id = $2 AND closing_at IS NULL",
            &[now.into(), tenant.into()],
        )?;
        let ended = self
            .db
            .query_one(
                "SELECT closing_at FROM tenants WHERE id = $1",
                &[tenant.into()],
            )?
            .and_then(|r| r.opt_int("closing_at"))
            .ok_or(Error::NotFound)?;
        let mut clients = self.all_clients(tenant)?;
        for c in &mut clients {
            c.attachments = Some(self.attachments_of(tenant, &c.id)?);
            c.invoices = Some(self.invoices_of(tenant, &c.id)?);
        }
        Ok(TenantExport {
            tenant: tenant.to_owned(),
            service_ended: ended,
            deleted_after: ended + GRACE_DAYS * 86_400,
            clients,
            bookings: self.bookings(tenant, i64::MIN)?,
            payments: self.payments(tenant)?,
            tariffs: self.tariffs(tenant)?,
        })
    }
}

/// `POST /api/tenant/close {"confirm": "<tenant>"}`: the owner's alone; needs
/// a fresh step-up. Answers the full export as a file.
pub(crate) async fn close(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Close, Tenant>,
    _fresh: Fresh,
    ApiJson(form): ApiJson<CloseRequest>,
) -> Result<Guarded<TenantExport>> {
    let tenant = auth.tenant().to_owned();
    if form.confirm != tenant {
        return Err(Error::BadRequest(
            "confirm by naming the tenant being closed".into(),
        ));
    }
    let export = app.blocking(move |app| app.close_tenant(&tenant)).await?;
    auth.note("deleted_after", export.deleted_after);
    Ok(auth.respond(export).as_download("tenant-export.json"))
}
