//! Retention: a client's erasure request and the sweeper, both planned by
//! palisade-retention and receipted in the tenant's audit log.

use std::sync::Arc;

use axum::extract::State;
use palisade_axum::{Authorized, Guarded};
use palisade_retention::{ActionError, Executor, RecordBuf, Status, Timestamp, execute};
use serde_json::{Value, json};

use crate::app::Backoffice;
use crate::clients::client_id;
use crate::db::{Db, Val};
use crate::error::{Result, internal};
use crate::gate::{Client, Erase, Retention, Run};
use crate::views::{RetentionReport, subject};

fn ts(unix: i64) -> Result<Timestamp> {
    Timestamp::from_second(unix).map_err(internal)
}

/// Deletes rows when the retention plan says so: the back office's policy
/// only ever deletes these records, so `delete` is all it implements (any
/// other action would be refused and reported, never skipped).
struct RowDeleter<'a> {
    db: &'a Db,
    tenant: &'a str,
}

impl Executor<RecordBuf> for RowDeleter<'_> {
    fn delete(&mut self, record: &RecordBuf) -> std::result::Result<(), ActionError> {
        let sql = match record.category.as_str() {
            "support_attachment" => "DELETE FROM attachments WHERE id = $1 AND tenant = $2",
            "client_record" => "DELETE FROM clients WHERE id = $1 AND tenant = $2",
            "invoice" => "DELETE FROM invoices WHERE id = $1 AND tenant = $2",
            "download_copy" => "DELETE FROM downloads WHERE id = $1 AND tenant = $2",
            other => return Err(format!("no table for category `{other}`").into()),
        };
        self.db
            .exec(sql, &[record.id.clone().into(), self.tenant.into()])
            .map_err(|e| -> ActionError { e.to_string().into() })?;
        Ok(())
    }
}

impl Backoffice {
    /// Every retention record of a tenant (optionally of one client).
    fn retention_records(&self, tenant: &str, client: Option<&str>) -> Result<Vec<RecordBuf>> {
        let mut out = Vec::new();
        let filter = if client.is_some() {
            " AND client_id = $2"
        } else {
            ""
        };
        let mut params: Vec<Val> = vec![tenant.into()];
        if let Some(c) = client {
            params.push(c.into());
        }
        // The end of service, once the owner closed the tenant.
        let ended = self
            .db
            .query_one(
                "SELECT closing_at FROM tenants WHERE id = $1",
                &[tenant.into()],
            )?
            .and_then(|r| r.opt_int("closing_at"))
            .map(ts)
            .transpose()?;
        let end = |rec: RecordBuf| match ended {
            Some(at) => rec.with_event("service_ended", at),
            None => rec,
        };
        for r in self.db.query(&format!("SELECT id, client_id, created, ticket_closed, legal_hold FROM attachments WHERE tenant = $1{filter}"), &params)? {
            let mut rec = RecordBuf::new(r.text("id")?, "support_attachment", ts(r.int("created")?)?).with_subject(subject(&r.text("client_id")?));
            if let Some(closed) = r.opt_int("ticket_closed") {
                rec = rec.with_event("ticket_closed", ts(closed)?);
            }
            if let Some(hold) = r.opt_text("legal_hold") {
                let id = r.text("id")?;
                rec = rec.with_hold(self.open_text(tenant, "attachments", "legal_hold", &id, &hold)?);
            }
            out.push(end(rec));
        }
        for r in self.db.query(
            &format!(
                "SELECT id, client_id, created, legal_hold FROM invoices WHERE tenant = $1{filter}"
            ),
            &params,
        )? {
            let mut rec = RecordBuf::new(r.text("id")?, "invoice", ts(r.int("created")?)?)
                .with_subject(subject(&r.text("client_id")?));
            if let Some(hold) = r.opt_text("legal_hold") {
                let id = r.text("id")?;
                rec =
                    rec.with_hold(self.open_text(tenant, "invoices", "legal_hold", &id, &hold)?);
            }
            out.push(rec);
        }
        let client_filter = if client.is_some() { " AND id = $2" } else { "" };
        for r in self.db.query(
            &format!(
                "SELECT id, created, last_activity FROM clients WHERE tenant = $1{client_filter}"
            ),
            &params,
        )? {
            let id = r.text("id")?;
            out.push(end(RecordBuf::new(
                id.clone(),
                "client_record",
                ts(r.int("created")?)?,
            )
            .with_subject(subject(&id))
            .with_last_activity(ts(r.int("last_activity")?)?)));
        }
        if client.is_none() {
            // Copies of exports hold many clients: kept as evidence of what
            // left, by their own rule, not erased with one client.
            for r in self.db.query(
                "SELECT id, created FROM downloads WHERE tenant = $1",
                &[tenant.into()],
            )? {
                out.push(end(RecordBuf::new(
                    r.text("id")?,
                    "download_copy",
                    ts(r.int("created")?)?,
                )));
            }
        }
        Ok(out)
    }

    /// A client's erasure request: everything erasable is deleted now;
    /// records kept by law (invoices) or under a legal hold stay, and the
    /// answer says why and until when. Receipts go to the audit log.
    pub(crate) fn erase_client(&self, tenant: &str, id: &str) -> Result<RetentionReport> {
        let records = self.retention_records(tenant, Some(id))?;
        let now = ts(self.clock.now())?;
        let items: Vec<_> = self.retention.erase(&records, &subject(id), now).collect();
        let kept = items
            .iter()
            .filter(|item| item.status != Status::Due)
            .map(|item| {
                json!({
                    "record": item.record.id,
                    "category": item.record.category,
                    "status": item.status.as_str(),
                    "rule": item.retention.as_ref().map(|r| r.rule.name().to_owned()),
                    "until": item.retention.as_ref().and_then(|r| r.until).map(|t| t.to_string()),
                    "hold": item.hold(),
                })
            })
            .collect();
        let log = self.audit(tenant)?;
        let mut executor = RowDeleter {
            db: &self.db,
            tenant,
        };
        let execution = execute(items, &mut executor, log.as_ref());
        Ok(RetentionReport {
            executed: execution
                .executed
                .iter()
                .map(|e| json!({ "record": e.record, "action": e.action.to_string(), "receipt": e.receipt.index }))
                .collect(),
            kept,
            failures: execution.failures.iter().map(ToString::to_string).collect(),
        })
    }

    /// Runs the retention plan over one tenant's data now.
    pub(crate) fn sweep_tenant(&self, tenant: &str) -> Result<RetentionReport> {
        let records = self.retention_records(tenant, None)?;
        let now = ts(self.clock.now())?;
        let items: Vec<_> = self.retention.plan(&records, now).collect();
        let held: Vec<Value> = items
            .iter()
            .filter(|i| i.status == Status::Held)
            .map(|i| json!({ "record": i.record.id, "hold": i.hold() }))
            .collect();
        let log = self.audit(tenant)?;
        let mut executor = RowDeleter {
            db: &self.db,
            tenant,
        };
        let execution = execute(items, &mut executor, log.as_ref());
        for f in &execution.failures {
            tracing::error!(failure = %f, "retention action failed");
        }
        Ok(RetentionReport {
            executed: execution
                .executed
                .iter()
                .map(|e| json!({ "record": e.record, "action": e.action.to_string(), "rule": e.rule, "receipt": e.receipt.index }))
                .collect(),
            kept: held,
            failures: execution.failures.iter().map(ToString::to_string).collect(),
        })
    }

    /// The sweeper's pass over every tenant.
    pub fn sweep_all(&self) -> Result<usize> {
        let tenants = self.db.query("SELECT id FROM tenants", &[])?;
        let mut done = 0;
        for t in tenants {
            done += self.sweep_tenant(&t.text("id")?)?.executed.len();
        }
        done += self.sweep_backups()?;
        // Sign-in counters past their forgetting time.
        self.db.exec(
            "DELETE FROM login_attempts WHERE expires_at <= $1",
            &[self.clock.now().into()],
        )?;
        Ok(done)
    }
}

impl Backoffice {
    /// Crypto-shreds the backups whose retention ended: their keys are
    /// destroyed, receipts in the `_system` audit log. Returns how many.
    pub(crate) fn sweep_backups(&self) -> Result<usize> {
        let records = self
            .backup_keys()?
            .into_iter()
            .map(|(id, created)| Ok(RecordBuf::new(id, "backup", ts(created)?)))
            .collect::<Result<Vec<_>>>()?;
        let now = ts(self.clock.now())?;
        let items: Vec<_> = self.retention.plan(&records, now).collect();
        let log = self.audit("_system")?;
        let execution = execute(items, &mut BackupShredder { app: self }, log.as_ref());
        for f in &execution.failures {
            tracing::error!(failure = %f, "backup shredding failed");
        }
        Ok(execution.executed.len())
    }
}

/// Destroys the keys of backups whose retention ended: backups are only
/// ever crypto-shredded, so that is all it implements.
struct BackupShredder<'a> {
    app: &'a Backoffice,
}

impl Executor<RecordBuf> for BackupShredder<'_> {
    fn crypto_shred(&mut self, record: &RecordBuf) -> std::result::Result<(), ActionError> {
        self.app
            .shred_backup(&record.id)
            .map(|_| ())
            .map_err(|e| -> ActionError { e.to_string().into() })
    }
}

/// `POST /api/clients/{client}/erasure`
pub(crate) async fn erase(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Erase, Client>,
) -> Result<Guarded<RetentionReport>> {
    let (tenant, id) = (auth.tenant().to_owned(), client_id(&auth)?);
    auth.concerns(subject(&id));
    let report = app
        .blocking(move |app| app.erase_client(&tenant, &id))
        .await?;
    Ok(auth.respond(report))
}

/// `POST /api/retention/sweep`: the sweeper, now, on the caller's tenant.
pub(crate) async fn sweep(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Run, Retention>,
) -> Result<Guarded<RetentionReport>> {
    let tenant = auth.tenant().to_owned();
    let report = app.blocking(move |app| app.sweep_tenant(&tenant)).await?;
    Ok(auth.respond(report))
}
