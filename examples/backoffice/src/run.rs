//! Starting the server the way the binary, the demo example and the tour do.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::app::{Backoffice, Config};
use crate::error::{Error, Result, internal};
use crate::seed::Demo;

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Storage and keys.
    pub config: Config,
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Seed a demo tenant with this id (skipped if it already exists).
    pub demo_tenant: Option<String>,
    /// How often the retention sweeper runs.
    pub sweep_every: Duration,
}

/// A back office that is open, listening and seeded, not yet serving: what
/// [`start`] returns, so that a caller can print its own greeting or drive
/// the app (as the tour does) before [`Started::serve_until`].
#[derive(Debug)]
pub struct Started {
    app: Arc<Backoffice>,
    listener: tokio::net::TcpListener,
    sweep_every: Duration,
    /// The demo tenant seeded now; `None` when none was asked for or it was
    /// already there (its logins were printed at first start).
    pub demo: Option<Demo>,
}

/// Binds `options.listen`, opens the storage, and seeds the demo tenant if
/// asked and new. Prints nothing.
pub async fn start(options: ServeOptions) -> Result<Started> {
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let config = options.config;
    let app = tokio::task::spawn_blocking(move || Backoffice::open(config))
        .await
        .map_err(internal)??;
    let app = Arc::new(app);
    let demo = match options.demo_tenant {
        None => None,
        Some(tenant) => {
            let seeding = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || seeding.seed_demo(&tenant, 12))
                .await
                .map_err(internal)?
            {
                Ok(demo) => Some(demo),
                Err(Error::Conflict(_)) => None,
                Err(e) => return Err(e),
            }
        }
    };
    Ok(Started {
        app,
        listener,
        sweep_every: options.sweep_every,
        demo,
    })
}

impl Started {
    /// The app, to drive it directly alongside the server.
    pub fn app(&self) -> &Arc<Backoffice> {
        &self.app
    }

    /// The base URL, `http://address` or `https://address` (no trailing slash).
    pub fn url(&self) -> Result<String> {
        let scheme = if self.app.config().tls.is_some() {
            "https"
        } else {
            "http"
        };
        Ok(format!("{scheme}://{}", self.listener.local_addr()?))
    }

    /// Serves, with the retention sweeper running, until `stop` completes;
    /// then closes the storage off the runtime's threads (PostgreSQL's
    /// blocking client cannot be closed from inside the runtime).
    pub async fn serve_until(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let sweeper = crate::spawn_sweeper(Arc::clone(&self.app), self.sweep_every);
        let backups = crate::spawn_backups(Arc::clone(&self.app));
        let (stopped, _) = tokio::sync::watch::channel(());
        let redirect = match self.app.config().redirect_http {
            Some(address) => {
                let listener = tokio::net::TcpListener::bind(address).await?;
                let port = self.listener.local_addr()?.port();
                let mut until = stopped.subscribe();
                Some(tokio::spawn(crate::redirect_to_https(
                    listener,
                    port,
                    async move {
                        let _ = until.changed().await;
                    },
                )))
            }
            None => None,
        };
        let served = crate::serve(Arc::clone(&self.app), self.listener, stop).await;
        drop(stopped);
        if let Some(redirect) = redirect {
            let _ = redirect.await;
        }
        sweeper.abort();
        let _ = sweeper.await;
        if let Some(backups) = backups {
            backups.abort();
            let _ = backups.await;
        }
        let app = self.app;
        let _ = tokio::task::spawn_blocking(move || {
            // A clean stop hands the jobs over at once.
            for job in [crate::SWEEPER_JOB, crate::BACKUP_JOB] {
                if let Err(e) = app.release_lease(job) {
                    tracing::warn!(error = %e, job, "releasing a job lease failed");
                }
            }
            drop(app);
        })
        .await;
        served
    }
}

/// Starts the back office, prints its URL, storage and the demo logins (on
/// standard output), and serves until Ctrl-C.
pub async fn run(options: ServeOptions) -> Result<()> {
    let seeding = options.demo_tenant.is_some();
    let started = start(options).await?;
    println!("Palisade back office on {}/", started.url()?);
    println!("  instance: {}", started.app().instance());
    let app = started.app();
    println!(
        "  storage: {} in {}",
        app.engine(),
        if app.config().database_url.is_some() {
            "PostgreSQL".to_owned()
        } else {
            app.data_dir().display().to_string()
        }
    );
    match &started.demo {
        Some(demo) => demo.print_logins(),
        None if seeding => {
            println!("  demo tenant already seeded; logins were printed at first start")
        }
        None => {}
    }
    println!(
        "  audit evidence: GET /api/audit/bundle (Administrator) or `palisade-backoffice evidence`"
    );
    println!("Ctrl-C stops it.");
    started
        .serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!("stopped");
    Ok(())
}
