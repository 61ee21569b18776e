//! Files clients send to support, kept until 30 days after the ticket
//! closes unless a legal hold applies.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use palisade_axum::{Authorized, Guarded};
use palisade_scan::Decision;
use serde::Deserialize;

use crate::app::{Backoffice, random_id};
use crate::clients::client_id;
use crate::error::{Error, Result, internal};
use crate::gate::{Attachment, Client, Close, Create, Hold, Read};
use crate::http::ApiJson;
use crate::views::{AttachmentFile, AttachmentView, Changed, Created, subject};

/// The longest legal-hold reason accepted, in bytes.
const MAX_HOLD_LEN: usize = 200;

/// A file sent to support.
#[derive(Deserialize)]
pub(crate) struct NewAttachment {
    pub(crate) file_name: String,
    pub(crate) body: String,
}

/// A legal hold placed (a case reference) or lifted (`null`).
#[derive(Deserialize)]
pub(crate) struct LegalHold {
    pub(crate) hold: Option<String>,
}

impl Backoffice {
    /// Stores a file a client sent; returns its id.
    pub(crate) fn add_attachment(
        &self,
        tenant: &str,
        client: &str,
        form: &NewAttachment,
    ) -> Result<String> {
        if form.file_name.is_empty()
            || form.file_name.len() > 255
            || form.file_name.chars().any(char::is_control)
            || form.body.len() > 1 << 20
        {
            return Err(Error::BadRequest(
                "a file name of 1 to 255 bytes and a body up to 1 MiB".into(),
            ));
        }
        let id = random_id("a")?;
        self.db.exec(
            "INSERT INTO attachments (id, tenant, client_id, file_name, body, created) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                id.clone().into(),
                tenant.into(),
                client.into(),
                self.seal_text(
                    tenant,
                    "attachments",
                    "file_name",
                    &id,
                    &self.free_text("file_name", &form.file_name)?,
                )?
                .into(),
                self.seal_body(tenant, &id, form.body.as_bytes())?.into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(id)
    }

    /// An attachment's body sealed as a palisade-crypt stream (chunked,
    /// constant memory for any size), bound to its row, as base64 text.
    pub(crate) fn seal_body(&self, tenant: &str, id: &str, body: &[u8]) -> Result<String> {
        let context = Self::field_context(tenant, "attachments", "body", id);
        let mut sealed = Vec::with_capacity(body.len() + 128);
        self.keyring
            .seal_stream(&context, body, &mut sealed)
            .map_err(internal)?;
        Ok(data_encoding::BASE64.encode(&sealed))
    }

    /// The body [`Self::seal_body`] sealed.
    pub(crate) fn open_body(&self, tenant: &str, id: &str, sealed: &str) -> Result<Vec<u8>> {
        let context = Self::field_context(tenant, "attachments", "body", id);
        let bytes = data_encoding::BASE64
            .decode(sealed.as_bytes())
            .map_err(internal)?;
        let mut body = Vec::with_capacity(bytes.len());
        self.keyring
            .open_stream(&context, bytes.as_slice(), &mut body)
            .map_err(internal)?;
        Ok(body)
    }

    /// A client's attachments, their names and holds decrypted.
    pub(crate) fn attachments_of(&self, tenant: &str, client: &str) -> Result<Vec<AttachmentView>> {
        let rows = self.db.query(
            "SELECT id, file_name, ticket_closed, legal_hold FROM attachments WHERE client_id = $1 AND tenant = $2 ORDER BY created, id",
            &[client.into(), tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                let id = r.text("id")?;
                Ok(AttachmentView {
                    file_name: self.open_text(
                        tenant,
                        "attachments",
                        "file_name",
                        &id,
                        &r.text("file_name")?,
                    )?,
                    ticket_closed: r.opt_int("ticket_closed"),
                    legal_hold: r
                        .opt_text("legal_hold")
                        .map(|h| self.open_text(tenant, "attachments", "legal_hold", &id, &h))
                        .transpose()?,
                    id,
                })
            })
            .collect()
    }

    /// An attachment's name and body, decrypted.
    pub(crate) fn attachment_file(&self, tenant: &str, id: &str) -> Result<AttachmentFile> {
        let row = self
            .db
            .query_one(
                "SELECT file_name, body FROM attachments WHERE id = $1 AND tenant = $2",
                &[id.into(), tenant.into()],
            )?
            .ok_or(Error::NotFound)?;
        let body = self.open_body(tenant, id, &row.text("body")?)?;
        Ok(AttachmentFile {
            id: id.to_owned(),
            file_name: self.open_text(
                tenant,
                "attachments",
                "file_name",
                id,
                &row.text("file_name")?,
            )?,
            body: String::from_utf8(body).map_err(internal)?,
        })
    }

    /// Closes the support ticket of an attachment: its retention clock starts.
    pub(crate) fn close_ticket(&self, tenant: &str, id: &str) -> Result<()> {
        let n = self.db.exec(
            "UPDATE attachments SET ticket_closed = $1 WHERE id = $2 AND tenant = $3",
            &[self.clock.now().into(), id.into(), tenant.into()],
        )?;
        if n == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// Places (or with `None` lifts) a legal hold on an attachment.
    pub(crate) fn hold_attachment(&self, tenant: &str, id: &str, hold: Option<&str>) -> Result<()> {
        let sealed = match hold {
            Some(reason) => {
                validate_hold(reason)?;
                let reason = self.free_text("hold", reason)?;
                Some(self.seal_text(tenant, "attachments", "legal_hold", id, &reason)?)
            }
            None => None,
        };
        let n = self.db.exec(
            "UPDATE attachments SET legal_hold = $1 WHERE id = $2 AND tenant = $3",
            &[sealed.into(), id.into(), tenant.into()],
        )?;
        if n == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}

/// A legal-hold reason: a short case reference, one line of printable text.
fn validate_hold(reason: &str) -> Result<()> {
    if reason.trim().is_empty()
        || reason.len() > MAX_HOLD_LEN
        || reason.chars().any(char::is_control)
    {
        return Err(Error::BadRequest(format!(
            "a hold reason of 1 to {MAX_HOLD_LEN} bytes on one line is required"
        )));
    }
    Ok(())
}

fn attachment_id<A: palisade_axum::Action>(auth: &Authorized<A, Attachment>) -> Result<String> {
    auth.id().map(str::to_owned).ok_or(Error::NotFound)
}

/// Scans an upload before it is stored: infected → 422 (the signature in
/// the request's audit record); scanner failing → refused unless the
/// configuration fails open; no scanner configured → refused outside a
/// development configuration.
async fn scan<A: palisade_axum::Action, R: palisade_axum::Resource>(
    app: &Backoffice,
    auth: &Authorized<A, R>,
    body: &[u8],
) -> Result<()> {
    let Some(scanner) = &app.scanner else {
        if app.config.dev {
            auth.note("scan", "none configured (development)");
            return Ok(());
        }
        return Err(Error::Unavailable(
            "no virus scanner is configured; uploads are refused".into(),
        ));
    };
    match scanner.decide_async(body).await {
        Decision::Clean => {
            auth.note("scan", "clean");
            Ok(())
        }
        Decision::Infected { signature } => {
            auth.note("scan", "infected");
            auth.note("signature", signature.clone());
            tracing::warn!(signature = %signature, "infected upload refused");
            Err(Error::Unprocessable(format!(
                "the file is infected ({signature}) and was not stored"
            )))
        }
        Decision::AdmittedUnscanned(e) => {
            auth.note("scan", format!("not scanned: {e}"));
            tracing::warn!(error = %e, "upload stored unscanned (fail-open)");
            Ok(())
        }
        Decision::Refused(e) => {
            auth.note("scan", format!("refused: {e}"));
            Err(match e {
                palisade_scan::Error::FileTooLarge { .. }
                | palisade_scan::Error::ScannerLimitExceeded => {
                    Error::BadRequest(format!("the file is too large to scan: {e}"))
                }
                other => Error::Unavailable(format!(
                    "the file could not be scanned ({other}); try again later"
                )),
            })
        }
    }
}

/// `POST /api/clients/{client}/attachments`: scanned, then stored sealed.
pub(crate) async fn add(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Attachment>,
    client: Authorized<Read, Client>,
    ApiJson(form): ApiJson<NewAttachment>,
) -> Result<Guarded<Created>> {
    let (tenant, client) = (auth.tenant().to_owned(), client_id(&client)?);
    auth.concerns(subject(&client));
    if form.body.len() as u64 > crate::app::ATTACHMENT_MAX {
        return Err(Error::BadRequest(
            "a file name of 1 to 255 bytes and a body up to 1 MiB".into(),
        ));
    }
    scan(&app, &auth, form.body.as_bytes()).await?;
    let id = app
        .blocking(move |app| app.add_attachment(&tenant, &client, &form))
        .await?;
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
}

/// `GET /api/attachments/{attachment}`: the file, decrypted.
pub(crate) async fn get(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Attachment>,
) -> Result<Guarded<AttachmentFile>> {
    let (tenant, id) = (auth.tenant().to_owned(), attachment_id(&auth)?);
    let file = app
        .blocking(move |app| app.attachment_file(&tenant, &id))
        .await?;
    Ok(auth.respond(file))
}

/// `POST /api/attachments/{attachment}/close`
pub(crate) async fn close(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Close, Attachment>,
) -> Result<Guarded<Changed>> {
    let (tenant, id) = (auth.tenant().to_owned(), attachment_id(&auth)?);
    let target = id.clone();
    app.blocking(move |app| app.close_ticket(&tenant, &target))
        .await?;
    Ok(auth.respond(Changed {
        id,
        changed: vec!["ticket_closed".into()],
    }))
}

/// `PUT /api/attachments/{attachment}/hold`
pub(crate) async fn hold(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Hold, Attachment>,
    ApiJson(form): ApiJson<LegalHold>,
) -> Result<Guarded<Changed>> {
    let (tenant, id) = (auth.tenant().to_owned(), attachment_id(&auth)?);
    auth.note("hold", form.hold.is_some());
    let target = id.clone();
    app.blocking(move |app| app.hold_attachment(&tenant, &target, form.hold.as_deref()))
        .await?;
    Ok(auth.respond(Changed {
        id,
        changed: vec!["legal_hold".into()],
    }))
}
