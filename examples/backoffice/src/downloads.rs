//! Copies of downloaded client lists: the exact bytes each export sent,
//! encrypted and bound to their row, readable only by the owner (the
//! `Download` type is the Administrator's alone), kept under the
//! `download_copies` retention rule.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use palisade_axum::{Authorized, Guarded, Principal};
use sha2::{Digest, Sha256};

use crate::app::{Backoffice, random_id};
use crate::error::{Error, Result, internal};
use crate::gate::{Download, Read};
use crate::views::{DownloadFile, DownloadList, DownloadView};

/// The largest export kept (and sent): 64 MiB.
const COPY_MAX: usize = 64 << 20;

impl Backoffice {
    /// Keeps an encrypted copy of `bytes`, which `who` downloaded as `file_name`.
    pub(crate) fn keep_copy(
        &self,
        who: &Principal,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let id = random_id("dl")?;
        let tenant = who.tenant();
        let text = std::str::from_utf8(bytes).map_err(internal)?;
        let sealed = self.seal_text(tenant, "downloads", "body", &id, text)?;
        self.db.exec(
            "INSERT INTO downloads (id, tenant, user_id, created, file_name, body, bytes, sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                id.clone().into(),
                tenant.into(),
                who.actor().into(),
                self.clock.now().into(),
                file_name.into(),
                sealed.into(),
                i64::try_from(bytes.len()).map_err(internal)?.into(),
                data_encoding::HEXLOWER
                    .encode(&Sha256::digest(bytes))
                    .into(),
            ],
        )?;
        Ok(id)
    }

    fn downloads(&self, tenant: &str) -> Result<Vec<DownloadView>> {
        self.db
            .query(
                "SELECT id, user_id, created, file_name, bytes, sha256 FROM downloads \
                 WHERE tenant = $1 ORDER BY created DESC, id",
                &[tenant.into()],
            )?
            .iter()
            .map(|row| {
                Ok(DownloadView {
                    id: row.text("id")?,
                    user: row.text("user_id")?,
                    created: row.int("created")?,
                    file_name: row.text("file_name")?,
                    bytes: row.int("bytes")?,
                    sha256: row.text("sha256")?,
                })
            })
            .collect()
    }

    fn download(&self, tenant: &str, id: &str) -> Result<DownloadFile> {
        let row = self
            .db
            .query_one(
                "SELECT file_name, body FROM downloads WHERE id = $1 AND tenant = $2",
                &[id.into(), tenant.into()],
            )?
            .ok_or(Error::NotFound)?;
        Ok(DownloadFile {
            id: id.to_owned(),
            file_name: row.text("file_name")?,
            content: self.open_text(tenant, "downloads", "body", id, &row.text("body")?)?,
        })
    }
}

/// Sends `response` (an export the guard has decided and masked) and keeps
/// a copy of exactly its bytes first; a copy that cannot be kept stops the
/// download (nothing leaves unrecorded).
pub(crate) async fn sent_with_copy(
    app: &Arc<Backoffice>,
    who: Principal,
    file_name: &'static str,
    response: Response,
) -> Result<Response> {
    if !response.status().is_success() {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, COPY_MAX)
        .await
        .map_err(|_| Error::BadRequest("the export is too large to be kept".into()))?;
    let copy = bytes.clone();
    app.blocking(move |app| app.keep_copy(&who, file_name, &copy))
        .await?;
    Ok(Response::from_parts(parts, Body::from(bytes)).into_response())
}

/// `GET /api/downloads`
pub(crate) async fn list(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Download>,
) -> Result<Guarded<DownloadList>> {
    let tenant = auth.tenant().to_owned();
    let downloads = app.blocking(move |app| app.downloads(&tenant)).await?;
    Ok(auth.respond(DownloadList { downloads }))
}

/// `GET /api/downloads/{download}`
pub(crate) async fn get(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Download>,
) -> Result<Guarded<DownloadFile>> {
    let tenant = auth.tenant().to_owned();
    let id = auth.id().map(str::to_owned).ok_or(Error::NotFound)?;
    let file = app.blocking(move |app| app.download(&tenant, &id)).await?;
    Ok(auth.respond(file))
}
