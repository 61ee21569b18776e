//! Files clients send to support, kept until 30 days after the ticket
//! closes unless a legal hold applies.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use palisade_axum::{Authorized, Guarded};
use serde::Deserialize;

use crate::app::{Backoffice, random_id};
use crate::clients::client_id;
use crate::error::{Error, Result};
use crate::gate::{Attachment, Client, Close, Create, Hold, Read};
use crate::http::ApiJson;
use crate::views::{Changed, Created, subject};

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
                form.file_name.clone().into(),
                form.body.clone().into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(id)
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
        if let Some(reason) = hold {
            validate_hold(reason)?;
        }
        let n = self.db.exec(
            "UPDATE attachments SET legal_hold = $1 WHERE id = $2 AND tenant = $3",
            &[hold.map(str::to_owned).into(), id.into(), tenant.into()],
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

/// `POST /api/clients/{client}/attachments`
pub(crate) async fn add(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Attachment>,
    client: Authorized<Read, Client>,
    ApiJson(form): ApiJson<NewAttachment>,
) -> Result<Guarded<Created>> {
    let (tenant, client) = (auth.tenant().to_owned(), client_id(&client)?);
    auth.concerns(subject(&client));
    let id = app
        .blocking(move |app| app.add_attachment(&tenant, &client, &form))
        .await?;
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
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
