//! Chapter 8: the back office (examples/backoffice), every crate composed in
//! one app. It starts with the embedded default (SQLite and audit logs in the
//! tour's temporary folder), seeds a demo tenant, prints the URL and the demo
//! logins, then walks in as the operator over real HTTP. From a terminal it
//! keeps serving until Enter or Ctrl-C; otherwise it stops there.

use std::error::Error;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use palisade_backoffice::{ApiSession, Backoffice, Config, Demo, DemoUser, ServeOptions};
use palisade_examples::{chapter, show, step};

type BoxError = Box<dyn Error + Send + Sync>;

pub(crate) fn run(workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        8,
        "The back office",
        "all of the above in one app: sign in with a second factor, see clients masked, \
         every access in the audit log",
    );
    let runtime = tokio::runtime::Runtime::new()?;
    runtime
        .block_on(serve(workdir))
        .map_err(|e| -> Box<dyn Error> { e })
}

async fn serve(workdir: &Path) -> Result<(), BoxError> {
    let options = |port: u16| ServeOptions {
        config: Config::new(workdir.join("backoffice")),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        demo_tenant: Some("acme".to_owned()),
        sweep_every: Duration::from_secs(60),
    };
    // Port 8080 when it is free, any free port otherwise.
    let mut started = match palisade_backoffice::start(options(8080)).await {
        Ok(started) => started,
        Err(_) => palisade_backoffice::start(options(0)).await?,
    };
    let url = started.url()?;
    let app = Arc::clone(started.app());
    let Some(demo) = started.demo.take() else {
        return Err("the demo tenant was already seeded".into());
    };
    step(format!(
        "Palisade back office on {url}/ (SQLite and audit logs in the tour's temporary folder)"
    ));
    demo.print_logins();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(started.serve_until(async move {
        let _ = stopped.await;
    }));

    let visit_app = Arc::clone(&app);
    let visit_url = url.clone();
    let visit = tokio::task::spawn_blocking(move || walk_in(&visit_app, &visit_url, &demo)).await?;

    if visit.is_ok() && std::io::stdin().is_terminal() {
        step(format!(
            "Open {url}/ in a browser and sign in with a login above. Press Enter (or Ctrl-C) to stop."
        ));
        let enter = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)
        });
        tokio::select! {
            _ = enter => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    } else if visit.is_ok() {
        step("Standard input is not a terminal, so the back office stops here.");
        step(
            "Run the tour from a terminal to keep it open, or `cargo run --release --example backoffice`.",
        );
    }
    let _ = stop.send(());
    server.await??;
    // The app's storage is closed off the runtime's worker threads.
    tokio::task::spawn_blocking(move || drop(app)).await?;
    visit
}

/// What a browser does: the owner and the operator sign in (password, then a
/// TOTP code), list the clients, and try the export.
fn walk_in(app: &Backoffice, url: &str, demo: &Demo) -> Result<(), BoxError> {
    let (Some(owner), Some(operator)) = (
        demo.users.first(),
        demo.users.iter().find(|u| u.role == "Operator"),
    ) else {
        return Err("the demo tenant has no owner or operator".into());
    };
    let now = app.clock().now();
    let sign_in = |user: &DemoUser| -> Result<ApiSession, BoxError> {
        let code = user.code_at(now)?;
        Ok(ApiSession::sign_in(
            url,
            &demo.tenant,
            &user.email,
            &user.password,
            &code,
        )?)
    };
    let olivia = sign_in(owner)?;
    let otto = sign_in(operator)?;
    step(format!(
        "{} ({}) and {} ({}) signed in over HTTP with a password and a TOTP code",
        owner.email, owner.role, operator.email, operator.role
    ));

    let first_client = |session: &ApiSession| -> Result<serde_json::Value, BoxError> {
        let (status, list) = session.get_json("/api/clients")?;
        if status != 200 {
            return Err(format!("GET /api/clients answered {status}").into());
        }
        list.get("clients")
            .and_then(|c| c.get(0))
            .cloned()
            .ok_or_else(|| "the client list is empty".into())
    };
    let seen_by_owner = first_client(&olivia)?;
    let seen_by_operator = first_client(&otto)?;
    step("The same client, as each of them sees it:");
    for (who, row) in [("owner", &seen_by_owner), ("operator", &seen_by_operator)] {
        show(
            who,
            format!(
                "{}  {}  {}",
                text(row, "name"),
                text(row, "phone"),
                text(row, "email")
            ),
        );
    }
    let (status, _) = otto.get_json("/api/clients/export")?;
    show(
        "operator's export of the client list",
        format!("HTTP {status}"),
    );
    let (_, verdict) = olivia.get_json("/api/audit/verify")?;
    show("audit log verify (every access above is in it)", verdict);
    Ok(())
}

/// A string field of a JSON row, or `(hidden)` when the policy left it out.
fn text<'a>(row: &'a serde_json::Value, field: &str) -> &'a str {
    row.get(field)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("(hidden)")
}
