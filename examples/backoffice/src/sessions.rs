//! Sessions: a random token in a cookie, its SHA-256 in the database, the
//! sign-in stage it has reached, and when it last stepped up.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::app::{Backoffice, random_token, token_hash};
use crate::db::{FromRow, Row};
use crate::error::{Error, Result};
use crate::http::AppState;

/// How far a session has come through sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Password accepted; a TOTP or recovery code is due.
    Totp,
    /// Password accepted; the user has no second factor yet and must enroll.
    Enroll,
    /// Fully signed in.
    Full,
}

impl Stage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Totp => "totp",
            Stage::Enroll => "enroll",
            Stage::Full => "ok",
        }
    }

    fn parse(s: &str) -> Result<Stage> {
        match s {
            "totp" => Ok(Stage::Totp),
            "enroll" => Ok(Stage::Enroll),
            "ok" => Ok(Stage::Full),
            _ => Err(Error::Storage("unknown session stage".into())),
        }
    }
}

/// One session row.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) token_hash: String,
    pub(crate) user_id: String,
    pub(crate) tenant: String,
    pub(crate) stage: Stage,
    expires: i64,
    /// When the session last proved the password or a code again.
    pub(crate) stepped_up: Option<i64>,
    /// "Log in as": the employee this (administrator's) session views the
    /// app as, read-only.
    pub(crate) viewing_as: Option<String>,
}

impl FromRow for Session {
    fn from_row(row: &Row) -> Result<Self> {
        Ok(Session {
            token_hash: row.text("token_hash")?,
            user_id: row.text("user_id")?,
            tenant: row.text("tenant")?,
            stage: Stage::parse(&row.text("stage")?)?,
            expires: row.int("expires")?,
            stepped_up: row.opt_int("stepped_up"),
            viewing_as: row.opt_text("viewing_as"),
        })
    }
}

impl Backoffice {
    /// Opens a session for `user_id` at `stage`; returns the token.
    pub(crate) fn new_session(&self, user_id: &str, tenant: &str, stage: Stage) -> Result<String> {
        let token = random_token()?;
        self.db.exec(
            "INSERT INTO sessions (token_hash, user_id, tenant, stage, expires) VALUES ($1, $2, $3, $4, $5)",
            &[
                token_hash(&token).into(),
                user_id.into(),
                tenant.into(),
                stage.as_str().into(),
                (self.clock.now() + self.config.session_ttl).into(),
            ],
        )?;
        Ok(token)
    }

    /// Replaces `session` with a new token at `stage` (a new token at each
    /// step of sign-in: no session fixation).
    pub(crate) fn promote(&self, session: &Session, stage: Stage) -> Result<String> {
        self.end_session(session)?;
        self.new_session(&session.user_id, &session.tenant, stage)
    }

    /// Ends one session.
    pub(crate) fn end_session(&self, session: &Session) -> Result<()> {
        self.db.exec(
            "DELETE FROM sessions WHERE token_hash = $1",
            &[session.token_hash.clone().into()],
        )?;
        Ok(())
    }

    /// Ends every session of `user_id`.
    pub(crate) fn end_sessions(&self, user_id: &str) -> Result<u64> {
        self.db
            .exec("DELETE FROM sessions WHERE user_id = $1", &[user_id.into()])
    }

    /// Ends "log in as" in `session`; returns whom it viewed as.
    pub(crate) fn end_view_as(&self, session: &Session) -> Result<Option<String>> {
        self.db.exec(
            "UPDATE sessions SET viewing_as = NULL WHERE token_hash = $1",
            &[session.token_hash.clone().into()],
        )?;
        Ok(session.viewing_as.clone())
    }

    /// Records a step-up proof in `session` (now).
    pub(crate) fn mark_stepped_up(&self, session: &Session) -> Result<()> {
        self.db.exec(
            "UPDATE sessions SET stepped_up = $1 WHERE token_hash = $2",
            &[self.clock.now().into(), session.token_hash.clone().into()],
        )?;
        Ok(())
    }

    /// The live session behind `token`; an expired one is deleted.
    pub(crate) fn session(&self, token: &str) -> Result<Option<Session>> {
        let hash = token_hash(token);
        let Some(session) = self.db.query_one_as::<Session>(
            "SELECT token_hash, user_id, tenant, stage, expires, stepped_up, viewing_as FROM sessions WHERE token_hash = $1",
            &[hash.into()],
        )?
        else {
            return Ok(None);
        };
        if session.expires <= self.clock.now() {
            self.end_session(&session)?;
            return Ok(None);
        }
        let mut session = session;
        // "Log in as" ends when the employee has come to see more than the
        // administrator (checked at every request).
        if let Some(employee) = &session.viewing_as
            && !crate::users::sees_at_least(
                &*self.tenant_policy(&session.tenant)?,
                &session.tenant,
                &session.user_id,
                employee,
            )
        {
            self.end_view_as(&session)?;
            session.viewing_as = None;
        }
        Ok(Some(session))
    }
}

/// The caller of a sign-in route, at any stage (password accepted, or
/// fully signed in): the routes of sign-in check the stage they need.
pub(crate) struct Caller(pub(crate) Session);

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let state = AppState::from_ref(state);
        let token = state
            .cookie
            .read(&parts.headers)
            .map(str::to_owned)
            .ok_or_else(|| Error::Unauthorized("sign in first".into()))?;
        let app = Arc::clone(&state.app);
        let session = app
            .blocking(move |app| app.session(&token))
            .await?
            .ok_or_else(|| Error::Unauthorized("sign in first".into()))?;
        let policy = state.app.blocking({
            let tenant = session.tenant.clone();
            move |app| app.tenant_policy(&tenant)
        });
        if policy.await?.is_blocked(&session.user_id) {
            let user = session.user_id.clone();
            state
                .app
                .blocking(move |app| app.end_sessions(&user))
                .await?;
            return Err(Error::Unauthorized("the account is blocked".into()));
        }
        Ok(Caller(session))
    }
}
