//! The tenant's settings: working hours (the alert rules flag reads outside
//! them) and the webhook alerts are sent to.

use std::sync::Arc;

use axum::extract::State;
use palisade_axum::{Authorized, Guarded};
use serde::{Deserialize, Serialize};

use crate::app::Backoffice;
use crate::error::{Error, Result, internal};
use crate::gate::{Edit, Read, Settings};
use crate::http::ApiJson;
use crate::views::SettingsView;

/// A tenant's settings, stored as JSON in its row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TenantSettings {
    /// The first working hour of the day (0–23, UTC).
    pub(crate) work_starts: u8,
    /// The hour work ends (1–24, UTC).
    pub(crate) work_ends: u8,
    /// Where alerts are posted (`https://…`), if anywhere.
    pub(crate) alert_webhook: Option<String>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            work_starts: 7,
            work_ends: 19,
            alert_webhook: None,
        }
    }
}

impl TenantSettings {
    /// Checks the settings; a webhook on this machine (`http://127.0.0.1…`)
    /// only in a development configuration (`dev`): anyone who may edit the
    /// settings could otherwise make the server post to its own local
    /// services.
    fn validate(&self, dev: bool) -> Result<()> {
        if self.work_starts >= self.work_ends || self.work_ends > 24 {
            return Err(Error::BadRequest(
                "working hours: 0 <= start < end <= 24".into(),
            ));
        }
        if let Some(url) = &self.alert_webhook
            && !(url.starts_with("https://") || dev && url.starts_with("http://127.0.0.1:"))
        {
            return Err(Error::BadRequest(
                "the alert webhook must be an https:// URL".into(),
            ));
        }
        Ok(())
    }

    /// Whether `unix` (seconds) falls within working hours.
    #[allow(
        dead_code,
        reason = "off-hours alert rules (issue 19) are not wired yet"
    )]
    pub(crate) fn working(&self, unix: i64) -> bool {
        let hour = unix.rem_euclid(86_400) / 3600;
        (i64::from(self.work_starts)..i64::from(self.work_ends)).contains(&hour)
    }
}

impl Backoffice {
    /// The tenant's settings.
    pub(crate) fn settings(&self, tenant: &str) -> Result<TenantSettings> {
        let text = self
            .db
            .query_one(
                "SELECT settings FROM tenants WHERE id = $1",
                &[tenant.into()],
            )?
            .ok_or(Error::NotFound)?
            .text("settings")?;
        serde_json::from_str(&text).map_err(internal)
    }

    fn set_settings(&self, tenant: &str, settings: &TenantSettings) -> Result<()> {
        settings.validate(self.config.dev)?;
        self.db.exec(
            "UPDATE tenants SET settings = $1 WHERE id = $2",
            &[
                serde_json::to_string(settings).map_err(internal)?.into(),
                tenant.into(),
            ],
        )?;
        if let Ok(mut seen) = self.settings_seen.lock() {
            seen.remove(tenant);
        }
        Ok(())
    }
}

/// `GET /api/settings`
pub(crate) async fn get(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Settings>,
) -> Result<Guarded<SettingsView>> {
    let tenant = auth.tenant().to_owned();
    let settings = app.blocking(move |app| app.settings(&tenant)).await?;
    Ok(auth.respond(SettingsView(settings)))
}

/// `PUT /api/settings`
pub(crate) async fn put(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Edit, Settings>,
    ApiJson(settings): ApiJson<TenantSettings>,
) -> Result<Guarded<SettingsView>> {
    let tenant = auth.tenant().to_owned();
    let stored = settings.clone();
    app.blocking(move |app| app.set_settings(&tenant, &stored))
        .await?;
    Ok(auth.respond(SettingsView(settings)))
}
