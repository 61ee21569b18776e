//! Misuse detection: rules over each tenant's audit stream raise alerts,
//! kept in the database, shown on the alerts page and posted to the
//! tenant's webhook.
//!
//! The rules watch every record as it is appended (the guard's decisions
//! and the back office's own records alike):
//!
//! | rule | raised when |
//! |---|---|
//! | `bulk_export` | a client list leaves as a file |
//! | `refusal_burst` | one actor is refused [`REFUSAL_BURST`] times within a minute |
//! | `mass_reads` | one actor reads [`MASS_READS`] different clients within ten minutes |
//! | `off_hours_read` | client data is read outside the tenant's working hours (once per actor and hour) |
//! | `view_as` | an administrator starts viewing the app as an employee |
//! | `restore_drill_failed` | a backup's restore drill fails (system alert) |

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::extract::State;
use palisade_audit::{Event, Outcome};
use palisade_axum::{Authorized, Guarded};
use serde_json::{Value, json};

use crate::app::{Backoffice, random_id};
use crate::error::{Result, internal};
use crate::gate::{Alert, Read};
use crate::views::{AlertList, AlertView};

/// Refusals of one actor within [`REFUSAL_WINDOW`] seconds that raise an alert.
pub(crate) const REFUSAL_BURST: usize = 10;
const REFUSAL_WINDOW: i64 = 60;
/// Different clients read by one actor within [`READS_WINDOW`] seconds that
/// raise an alert.
pub(crate) const MASS_READS: usize = 50;
const READS_WINDOW: i64 = 600;

/// What the rules remember per tenant and actor.
#[derive(Default)]
pub(crate) struct AlertState {
    refusals: HashMap<(String, String), VecDeque<i64>>,
    reads: HashMap<(String, String), ReadWindow>,
    /// `(tenant, actor, rule)` → until when it stays quiet.
    quiet: HashMap<(String, String, &'static str), i64>,
}

/// The different clients one actor read within [`READS_WINDOW`]: each
/// client's last read, and the reads in time order to expire them. A client
/// read again within the same second adds nothing, so the window holds at
/// most one entry per client and second however fast the reads come, and
/// each read costs O(1) (not a pass over the window).
#[derive(Default)]
struct ReadWindow {
    last: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl ReadWindow {
    /// Records that `client` was read at `now`.
    fn read(&mut self, client: &str, now: i64) {
        if self.last.get(client) == Some(&now) {
            return;
        }
        self.last.insert(client.to_owned(), now);
        self.order.push_back((now, client.to_owned()));
    }

    /// Forgets reads at or before `horizon`; returns how many different
    /// clients remain.
    fn distinct_after(&mut self, horizon: i64) -> usize {
        while let Some((t, client)) = self.order.front() {
            if *t > horizon {
                break;
            }
            // Removed only if not read again since.
            if self.last.get(client) == Some(t) {
                self.last.remove(client);
            }
            self.order.pop_front();
        }
        self.last.len()
    }
}

/// An alert about to be stored.
struct Raised {
    rule: &'static str,
    actor: String,
    detail: Value,
}

impl AlertState {
    fn quiet(
        &mut self,
        tenant: &str,
        actor: &str,
        rule: &'static str,
        now: i64,
        for_s: i64,
    ) -> bool {
        let key = (tenant.to_owned(), actor.to_owned(), rule);
        if self.quiet.get(&key).is_some_and(|until| *until > now) {
            return true;
        }
        self.quiet.insert(key, now + for_s);
        false
    }

    /// The alerts `event` raises in `tenant` at `now`, whose working hours
    /// are given by `working`.
    fn observe(&mut self, tenant: &str, event: &Event, now: i64, working: bool) -> Vec<Raised> {
        let mut raised = Vec::new();
        let actor = event.actor().to_owned();
        let action = event.action();
        if action.starts_with("alert.") {
            return raised;
        }
        let key = (tenant.to_owned(), actor.clone());
        match event.outcome() {
            Outcome::Denied => {
                let times = self.refusals.entry(key).or_default();
                times.push_back(now);
                while times.front().is_some_and(|t| *t <= now - REFUSAL_WINDOW) {
                    times.pop_front();
                }
                if times.len() >= REFUSAL_BURST {
                    times.clear();
                    raised.push(Raised {
                        rule: "refusal_burst",
                        actor: actor.clone(),
                        detail: json!({ "refusals": REFUSAL_BURST, "within_seconds": REFUSAL_WINDOW, "last": action }),
                    });
                }
            }
            Outcome::Success => {
                if action == "client.export" {
                    raised.push(Raised {
                        rule: "bulk_export",
                        actor: actor.clone(),
                        detail: json!({ "resource": event.resource(), "clients": event.subjects().len() }),
                    });
                }
                if action == "account.view_as" {
                    raised.push(Raised {
                        rule: "view_as",
                        actor: actor.clone(),
                        detail: json!({ "viewed": event.resource() }),
                    });
                }
                // Reads of client data (not the creation of a client).
                let reads = matches!(action, "client.read" | "client.search" | "client.export");
                let clients: Vec<&str> = event
                    .subjects()
                    .iter()
                    .filter(|s| reads && s.starts_with("client:"))
                    .collect();
                if !clients.is_empty() {
                    if !working && !self.quiet(tenant, &actor, "off_hours_read", now, 3600) {
                        raised.push(Raised {
                            rule: "off_hours_read",
                            actor: actor.clone(),
                            detail: json!({ "action": action, "clients": clients.len() }),
                        });
                    }
                    let reads = self.reads.entry(key).or_default();
                    for c in clients {
                        reads.read(c, now);
                    }
                    let distinct = reads.distinct_after(now - READS_WINDOW);
                    if distinct >= MASS_READS
                        && !self.quiet(tenant, &actor, "mass_reads", now, READS_WINDOW)
                    {
                        raised.push(Raised {
                            rule: "mass_reads",
                            actor,
                            detail: json!({ "clients": distinct, "within_seconds": READS_WINDOW }),
                        });
                    }
                }
            }
            _ => {}
        }
        raised
    }
}

/// How long the alert rules trust a tenant's working hours as last read
/// (this instance drops its copy when it changes them; another instance's
/// change is seen within this time).
pub(crate) const SETTINGS_FRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether `event` reads client data, the only records whose rules depend on
/// the tenant's working hours.
fn reads_clients(event: &Event) -> bool {
    event.outcome() == Outcome::Success
        && matches!(
            event.action(),
            "client.read" | "client.search" | "client.export"
        )
        && event.subjects().iter().any(|s| s.starts_with("client:"))
}

impl Backoffice {
    /// Runs the alert rules over a record just appended to `tenant`'s log
    /// (at `index`); stores and posts what they raise. A failure here is
    /// logged, never lost silently, and never fails the request.
    pub(crate) fn watch(&self, tenant: &str, event: &Event, index: u64) {
        let now = self.clock.now();
        let working = !reads_clients(event) || self.working(tenant, now);
        let raised = self.raise(tenant, event, now, working);
        self.store_raised(tenant, raised, index);
    }

    /// [`Backoffice::watch`] from async code: the rules run in the caller's
    /// task; the blocking pool is used only to read settings not seen within
    /// [`SETTINGS_FRESH`] and to store what the rules raise.
    pub(crate) async fn watch_async(self: &Arc<Self>, tenant: &str, event: &Event, index: u64) {
        let now = self.clock.now();
        let working = if !reads_clients(event) {
            true
        } else if let Some(working) = self.working_seen(tenant, now) {
            working
        } else {
            let owned = tenant.to_owned();
            self.blocking(move |app| Ok(app.working(&owned, now)))
                .await
                .unwrap_or(true)
        };
        let raised = self.raise(tenant, event, now, working);
        if raised.is_empty() {
            return;
        }
        let owned = tenant.to_owned();
        let stored = self
            .blocking(move |app| {
                app.store_raised(&owned, raised, index);
                Ok(())
            })
            .await;
        if let Err(e) = stored {
            tracing::error!(error = %e, "storing alerts failed");
        }
    }

    /// Whether `now` is in `tenant`'s working hours, from settings read
    /// within [`SETTINGS_FRESH`]; `None` when there are none that recent.
    fn working_seen(&self, tenant: &str, now: i64) -> Option<bool> {
        let seen = self.settings_seen.lock().ok()?;
        let (at, settings) = seen.get(tenant)?;
        (at.elapsed() < SETTINGS_FRESH).then(|| settings.working(now))
    }

    /// Whether `now` is in `tenant`'s working hours (settings read from the
    /// database, and remembered); unknown settings count as working hours.
    fn working(&self, tenant: &str, now: i64) -> bool {
        match self.settings(tenant) {
            Ok(settings) => {
                let working = settings.working(now);
                if let Ok(mut seen) = self.settings_seen.lock() {
                    seen.insert(tenant.to_owned(), (std::time::Instant::now(), settings));
                }
                working
            }
            Err(_) => true,
        }
    }

    /// The alerts `event` raises (the rules' memory updated).
    fn raise(&self, tenant: &str, event: &Event, now: i64, working: bool) -> Vec<Raised> {
        match self.alert_state.lock() {
            Ok(mut state) => state.observe(tenant, event, now, working),
            Err(_) => {
                tracing::error!("alert state poisoned");
                Vec::new()
            }
        }
    }

    /// Stores and posts `raised`, raised by record `index`.
    fn store_raised(&self, tenant: &str, raised: Vec<Raised>, index: u64) {
        for alert in raised {
            if let Err(e) =
                self.store_alert(tenant, alert.rule, &alert.actor, alert.detail, Some(index))
            {
                tracing::error!(error = %e, rule = alert.rule, "storing an alert failed");
            }
        }
    }

    /// Stores an alert for `tenant` and posts it to the tenant's webhook.
    pub(crate) fn store_alert(
        &self,
        tenant: &str,
        rule: &str,
        actor: &str,
        detail: Value,
        record: Option<u64>,
    ) -> Result<String> {
        let id = random_id("al")?;
        let raised = self.clock.now();
        self.db.exec(
            "INSERT INTO alerts (id, tenant, rule, actor, raised, detail, record) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                id.clone().into(),
                tenant.into(),
                rule.into(),
                actor.into(),
                raised.into(),
                detail.to_string().into(),
                record.and_then(|r| i64::try_from(r).ok()).into(),
            ],
        )?;
        tracing::warn!(tenant, rule, actor, "alert raised");
        let webhook = self.settings(tenant).ok().and_then(|s| s.alert_webhook);
        if let Some(url) = webhook {
            let body = json!({
                "id": id, "tenant": tenant, "rule": rule, "actor": actor,
                "raised": raised, "detail": detail,
            });
            // Posted off the request path: a slow receiver delays nobody.
            std::thread::spawn(move || {
                let agent = ureq::Agent::config_builder()
                    .timeout_global(Some(std::time::Duration::from_secs(10)))
                    .build()
                    .new_agent();
                if let Err(e) = agent.post(&url).send_json(&body) {
                    tracing::error!(error = %e, "alert webhook failed");
                }
            });
        }
        Ok(id)
    }

    /// The tenant's alerts, newest first.
    pub(crate) fn alerts(&self, tenant: &str) -> Result<Vec<AlertView>> {
        let rows = self.db.query(
            "SELECT id, rule, actor, raised, detail, record FROM alerts WHERE tenant = $1 ORDER BY raised DESC, id",
            &[tenant.into()],
        )?;
        rows.iter()
            .map(|row| {
                Ok(AlertView {
                    id: row.text("id")?,
                    rule: row.text("rule")?,
                    actor: row.text("actor")?,
                    raised: row.int("raised")?,
                    detail: serde_json::from_str(&row.text("detail")?).map_err(internal)?,
                    record: row.opt_int("record"),
                })
            })
            .collect()
    }
}

/// `GET /api/alerts`
pub(crate) async fn list(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Alert>,
) -> Result<Guarded<AlertList>> {
    let tenant = auth.tenant().to_owned();
    let alerts = app.blocking(move |app| app.alerts(&tenant)).await?;
    Ok(auth.respond(AlertList { alerts }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_client_read_again_stays_in_the_window_until_its_last_read_expires() {
        let mut w = ReadWindow::default();
        w.read("client:a", 0);
        w.read("client:b", 5);
        w.read("client:a", 8);
        assert_eq!(
            w.distinct_after(0),
            2,
            "a's read at 0 expired, its read at 8 counts"
        );
        assert_eq!(w.distinct_after(5), 1, "b expired");
        assert_eq!(w.distinct_after(8), 0);
        assert!(w.order.is_empty());
    }

    #[test]
    fn reads_within_one_second_keep_one_entry_per_client() {
        let mut w = ReadWindow::default();
        for _ in 0..10_000 {
            for c in ["client:a", "client:b"] {
                w.read(c, 42);
            }
        }
        assert_eq!(w.order.len(), 2);
        assert_eq!(w.distinct_after(41), 2);
    }

    proptest! {
        /// The window counts what a pass over every read in it counts.
        #[test]
        fn distinct_matches_a_full_pass(
            steps in proptest::collection::vec((0i64..4, 0u8..6), 1..200),
            window in 1i64..20,
        ) {
            let mut w = ReadWindow::default();
            let mut all: Vec<(i64, String)> = Vec::new();
            let mut now = 0;
            for (dt, c) in steps {
                now += dt;
                let client = format!("client:{c}");
                w.read(&client, now);
                all.push((now, client));
                let expected = all
                    .iter()
                    .filter(|(t, _)| *t > now - window)
                    .map(|(_, c)| c)
                    .collect::<HashSet<_>>()
                    .len();
                prop_assert_eq!(w.distinct_after(now - window), expected);
            }
        }
    }
}
