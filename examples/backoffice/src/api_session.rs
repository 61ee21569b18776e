//! A blocking client of the back office's JSON API, signing in the way the
//! page does: the load generator and the tour use it.

use zeroize::Zeroizing;

use crate::error::{Error, Result, internal};

/// A signed-in session: the session cookie over a keep-alive connection.
pub struct ApiSession {
    url: String,
    cookie: Zeroizing<String>,
    agent: ureq::Agent,
}

impl ApiSession {
    /// Signs in to `tenant` at `url` (e.g. `http://127.0.0.1:8080`): the
    /// password, then the current TOTP `code`. A refused step is
    /// [`Error::Unauthorized`].
    pub fn sign_in(
        url: &str,
        tenant: &str,
        email: &str,
        password: &str,
        code: &str,
    ) -> Result<ApiSession> {
        let agent = agent();
        let response = agent
            .post(format!("{url}/api/login"))
            .send_json(
                serde_json::json!({ "tenant": tenant, "email": email, "password": password }),
            )
            .map_err(internal)?;
        let cookie = cookie_of(&response)?;
        let response = agent
            .post(format!("{url}/api/login/second-factor"))
            .header("Cookie", cookie.as_str())
            .send_json(serde_json::json!({ "code": code }))
            .map_err(internal)?;
        Ok(ApiSession {
            url: url.to_owned(),
            cookie: cookie_of(&response)?,
            agent,
        })
    }

    /// The same session on a connection of its own (for concurrent readers).
    #[must_use]
    pub fn fork(&self) -> ApiSession {
        ApiSession {
            url: self.url.clone(),
            cookie: self.cookie.clone(),
            agent: agent(),
        }
    }

    /// `GET path`: the status and the body as text.
    pub fn get_text(&self, path: &str) -> Result<(u16, String)> {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.url))
            .header("Cookie", self.cookie.as_str())
            .call()
            .map_err(internal)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(internal)?;
        Ok((status, body))
    }

    /// `GET path`: the status and the JSON body (`null` if it is not JSON).
    pub fn get_json(&self, path: &str) -> Result<(u16, serde_json::Value)> {
        let (status, body) = self.get_text(path)?;
        Ok((
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        ))
    }
}

impl std::fmt::Debug for ApiSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSession")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// An agent that hands every status to the caller instead of failing.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// The session cookie a sign-in step set, or why there is none.
fn cookie_of(response: &ureq::http::Response<ureq::Body>) -> Result<Zeroizing<String>> {
    if response.status() != 200 {
        return Err(Error::Unauthorized(format!(
            "sign-in refused (HTTP {})",
            response.status()
        )));
    }
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|c| Zeroizing::new(c.to_owned()))
        .ok_or_else(|| {
            Error::Unauthorized(format!(
                "sign-in refused (HTTP {}, no session cookie)",
                response.status()
            ))
        })
}
