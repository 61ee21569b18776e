#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod api_session;
mod app;
mod attachments;
mod attempts;
mod auth;
mod clients;
mod db;
mod error;
mod evidence;
mod gate;
mod http;
mod invoices;
mod retention;
mod run;
mod seed;
mod sessions;
mod users;
mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use crate::{
    api_session::ApiSession,
    app::{
        Backoffice, CardNumbers, Clock, Config, OWNER_ROLE, PASSWORD_FREE_ATTEMPTS,
        POLICY_TEMPLATE, RETENTION_POLICY, ROLES, SESSION_COOKIE, audit_schema,
    },
    clients::PAGE,
    error::{Error, Result},
    http::router,
    run::{ServeOptions, Started, run, start},
    seed::{Demo, DemoUser},
};

/// Log levels of [`init_logging`] (re-exported from `tracing`).
pub use tracing::Level as LogLevel;

/// Serves the back office on `listener` until `shutdown` completes.
pub async fn serve(
    app: Arc<Backoffice>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::from)
}

/// Runs the retention sweeper over every tenant every `every`, on Tokio's
/// blocking pool, until the runtime stops.
pub fn spawn_sweeper(app: Arc<Backoffice>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let app = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || app.sweep_all()).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(actions = n, "retention sweep"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
                Err(_) => tracing::error!("retention sweep panicked"),
            }
        }
    })
}

/// Installs the global `tracing` subscriber, writing every event through
/// palisade-pii's scrubber (`<PHONE>`, `<EMAIL>`, `<SECRET>` …) to `inner`.
pub fn init_logging<W>(inner: W, level: tracing::Level) -> Result<()>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let writer =
        palisade_pii::ScrubbingMakeWriter::new(Arc::new(palisade_pii::Masker::default()), inner);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(level)
        .with_ansi(false)
        .try_init()
        .map_err(|e| Error::Internal(e.to_string()))
}
