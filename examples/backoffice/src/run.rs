//! Starting the server the way the binary and the demo example do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::app::{Backoffice, Config};
use crate::error::{Error, Result, internal};

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

/// Opens the back office, seeds the demo tenant if asked (printing its
/// logins and second-factor secrets on standard output), and serves until
/// Ctrl-C.
pub async fn run(options: ServeOptions) -> Result<()> {
    let config = options.config.clone();
    let app = tokio::task::spawn_blocking(move || Backoffice::open(config))
        .await
        .map_err(internal)??;
    let app = Arc::new(app);
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let address = listener.local_addr()?;
    println!("Palisade back office on http://{address}/");
    println!(
        "  storage: {} in {}",
        app.engine(),
        if app.config().database_url.is_some() {
            "PostgreSQL".to_owned()
        } else {
            app.data_dir().display().to_string()
        }
    );
    if let Some(tenant) = options.demo_tenant.clone() {
        let seeding = Arc::clone(&app);
        let demo = tokio::task::spawn_blocking(move || seeding.seed_demo(&tenant, 12))
            .await
            .map_err(internal)?;
        match demo {
            Ok(demo) => demo.print_logins(),
            Err(Error::Conflict(_)) => {
                println!("  demo tenant already seeded; logins were printed at first start")
            }
            Err(e) => return Err(e),
        }
    }
    println!(
        "  audit evidence: GET /api/audit/bundle (Administrator) or `palisade-backoffice evidence`"
    );
    println!("Ctrl-C stops it.");
    let sweeper = crate::spawn_sweeper(Arc::clone(&app), options.sweep_every);
    let keep = Arc::clone(&app);
    crate::serve(app, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    sweeper.abort();
    let _ = sweeper.await;
    // The last reference is dropped off the runtime's threads: PostgreSQL's
    // blocking client cannot be closed from inside the runtime.
    let _ = tokio::task::spawn_blocking(move || drop(keep)).await;
    println!("stopped");
    Ok(())
}
