#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod alerts;
mod api_session;
mod app;
mod attachments;
mod attempts;
mod auth;
mod backup;
mod bookings;
mod clients;
mod closure;
mod db;
mod downloads;
mod error;
mod evidence;
mod finance;
mod gate;
mod http;
mod insights;
mod invoices;
mod jobs;
mod keys;
mod oversight;
mod policy_cache;
mod retention;
mod run;
mod seed;
mod sessions;
mod settings;
mod sso;
mod tls;
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
    backup::{
        BACKUP_FORMAT, BackupReport, BackupSchedule, Component, DrillReport, Manifest,
        backup_keys_dir,
    },
    clients::PAGE,
    error::{Error, Result},
    http::router,
    keys::KeySource,
    run::{ServeOptions, Started, run, start},
    seed::{Demo, DemoUser},
    tls::{Tls, development_certificate, development_certificate_pin},
};

/// Log levels of [`init_logging`] (re-exported from `tracing`).
pub use tracing::Level as LogLevel;

/// Serves the back office on `listener` until `shutdown` completes: over
/// HTTPS when the configuration has [`Config::tls`], plain HTTP otherwise.
pub async fn serve(
    app: Arc<Backoffice>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tls = app.tls.clone();
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        None => axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(Error::from),
        Some(config) => {
            let handle = axum_server::Handle::new();
            let stopping = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopping.graceful_shutdown(Some(Duration::from_secs(5)));
            });
            axum_server::from_tcp_rustls(
                listener.into_std()?,
                axum_server::tls_rustls::RustlsConfig::from_config(config),
            )?
            .handle(handle)
            .serve(service)
            .await
            .map_err(Error::from)
        }
    }
}

/// Answers every plain-HTTP request on `listener` with a permanent redirect
/// to the same path on `https://host:https_port`, until `shutdown`.
pub async fn redirect_to_https(
    listener: tokio::net::TcpListener,
    https_port: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let redirect =
        axum::Router::new().fallback(move |request: axum::extract::Request| async move {
            let host = request
                .headers()
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.rsplit_once(':').map_or(Some(h), |(name, _)| Some(name)))
                .unwrap_or("localhost")
                .to_owned();
            let path = request
                .uri()
                .path_and_query()
                .map_or("/", axum::http::uri::PathAndQuery::as_str)
                .to_owned();
            axum::response::Redirect::permanent(&format!("https://{host}:{https_port}{path}"))
        });
    axum::serve(listener, redirect)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::from)
}

/// Runs the retention sweeper over every tenant every `every`, on Tokio's
/// blocking pool, until the runtime stops.
pub fn spawn_sweeper(app: Arc<Backoffice>, every: Duration) -> tokio::task::JoinHandle<()> {
    // Held for three periods: a dead holder is replaced within that.
    let lease = i64::try_from(every.as_secs().max(1) * 3).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let app = Arc::clone(&app);
            let run = move || {
                if !app.hold_lease(SWEEPER_JOB, lease)? {
                    return Ok(0);
                }
                app.note_run(SWEEPER_JOB)?;
                app.sweep_all()
            };
            match tokio::task::spawn_blocking(run).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(actions = n, "retention sweep"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
                Err(_) => tracing::error!("retention sweep panicked"),
            }
        }
    })
}

/// The retention sweeper's name in job leases.
pub const SWEEPER_JOB: &str = "retention-sweeper";
/// The daily backup's name in job leases.
pub const BACKUP_JOB: &str = "backup";

/// Runs the daily backup and its restore drill, if the configuration has a
/// schedule, on Tokio's blocking pool, until the runtime stops. A failed
/// backup or drill raises an alert.
pub fn spawn_backups(app: Arc<Backoffice>) -> Option<tokio::task::JoinHandle<()>> {
    let schedule = app.config().backups.clone()?;
    Some(tokio::spawn(async move {
        loop {
            let wait = schedule.wait_from(app.clock().now());
            tokio::time::sleep(Duration::from_secs(wait)).await;
            let job = Arc::clone(&app);
            let dir = schedule.dir.clone();
            let done = tokio::task::spawn_blocking(move || -> Result<()> {
                // One instance backs up: the lease outlasts any backup.
                if !job.hold_lease(BACKUP_JOB, 6 * 3600)? {
                    return Ok(());
                }
                job.note_run(BACKUP_JOB)?;
                match job.backup(&dir) {
                    Ok(report) => {
                        job.drill(&report)?;
                        Ok(())
                    }
                    Err(e) => {
                        job.raise_alert(
                            "backup-failed",
                            "backups",
                            serde_json::json!({ "error": e.to_string() }),
                        )?;
                        Err(e)
                    }
                }
            })
            .await;
            match done {
                Ok(Ok(())) => tracing::info!("scheduled backup and drill done"),
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled backup failed"),
                Err(_) => tracing::error!("scheduled backup panicked"),
            }
        }
    }))
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
