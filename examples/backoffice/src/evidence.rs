//! The audit trail as evidence: a signed bundle an auditor verifies
//! offline, and the verification of the stored log.

use std::sync::Arc;

use axum::extract::{Query, State};
use palisade_audit::{Bundle, CheckpointVerifier};
use palisade_axum::{Authorized, Guarded};
use serde::Deserialize;

use crate::app::Backoffice;
use crate::error::{Error, Result, internal};
use crate::gate::{Audit, Export, Read};
use crate::views::{AuditCheck, Evidence};

/// Which records a bundle holds.
#[derive(Deserialize, Default)]
pub(crate) struct Range {
    pub(crate) from: Option<u64>,
    pub(crate) to: Option<u64>,
}

impl Backoffice {
    /// Exports the tenant's audit records `from..to` as an evidence bundle.
    pub fn export_evidence(
        &self,
        tenant: &str,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<Bundle> {
        let log = self.audit(tenant)?;
        let len = log.len().map_err(internal)?;
        let to = to.unwrap_or(len).min(len);
        let from = from.unwrap_or(0);
        log.export(from, to)
            .map_err(|e| Error::BadRequest(e.to_string()))
    }

    /// The public key that verifies the tenant's checkpoints and bundles.
    pub fn audit_key(&self, tenant: &str) -> Result<CheckpointVerifier> {
        self.audit(tenant)?
            .verifier()
            .ok_or_else(|| internal("audit log without a key"))
    }

    /// Verifies the tenant's stored audit log (framing, chain, tree,
    /// payload commitments, checkpoint signatures): `Ok` with the record
    /// count, or `Err` naming the first bad record and why.
    pub fn verify_audit(&self, tenant: &str) -> Result<std::result::Result<u64, String>> {
        if self.config.database_url.is_some()
            && let Some(finding) =
                crate::app::first_bad_row(&self.db, &crate::app::audit_schema(tenant))?
        {
            return Ok(Err(finding));
        }
        Ok(match self.audit(tenant)?.verify(&self.audit_dir(tenant)) {
            Ok(records) => Ok(records),
            Err(e) => Err(e.to_string()),
        })
    }
}

/// `GET /api/audit/bundle?from=N&to=M`
pub(crate) async fn bundle(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Export, Audit>,
    Query(range): Query<Range>,
) -> Result<Guarded<Evidence>> {
    let tenant = auth.tenant().to_owned();
    let bundle = app
        .blocking(move |app| app.export_evidence(&tenant, range.from, range.to))
        .await?;
    Ok(auth.respond(Evidence(bundle)).as_download("evidence.json"))
}

/// `GET /api/audit/verify`
pub(crate) async fn verify(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Audit>,
) -> Result<Guarded<AuditCheck>> {
    let tenant = auth.tenant().to_owned();
    let check = match app.blocking(move |app| app.verify_audit(&tenant)).await? {
        Ok(records) => AuditCheck {
            ok: true,
            records: Some(records),
            finding: None,
        },
        Err(finding) => AuditCheck {
            ok: false,
            records: None,
            finding: Some(finding),
        },
    };
    Ok(auth.respond(check))
}
