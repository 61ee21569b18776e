//! Analytics (the tenant's activity as a whole) and statistics (each
//! employee's own work: an operator sees only its own).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use palisade_axum::{Authorized, Guarded};

use crate::app::Backoffice;
use crate::error::{Error, Result};
use crate::gate::{Analytics, Read, Statistics};
use crate::views::{AnalyticsView, StatisticsList, StatisticsView};

/// Days the analytics and statistics look back.
const WINDOW_DAYS: i64 = 30;

impl Backoffice {
    /// The tenant's activity over the last 30 days: clients in all, new
    /// clients and bookings per day.
    pub(crate) fn analytics(&self, tenant: &str) -> Result<AnalyticsView> {
        let since = self.clock.now() - WINDOW_DAYS * 86_400;
        let clients = self
            .db
            .query_one(
                "SELECT COUNT(*) AS n FROM clients WHERE tenant = $1",
                &[tenant.into()],
            )?
            .map_or(Ok(0), |r| r.int("n"))?;
        let per_day = |table: &str, column: &str| -> Result<BTreeMap<i64, i64>> {
            let rows = self.db.query(
                &format!("SELECT {column} AS t FROM {table} WHERE tenant = $1 AND {column} >= $2"),
                &[tenant.into(), since.into()],
            )?;
            let mut days = BTreeMap::new();
            for r in rows {
                *days
                    .entry(r.int("t")?.div_euclid(86_400) * 86_400)
                    .or_insert(0) += 1;
            }
            Ok(days)
        };
        Ok(AnalyticsView {
            days: WINDOW_DAYS,
            clients,
            new_clients: per_day("clients", "created")?.into_iter().collect(),
            bookings: per_day("bookings", "starts")?.into_iter().collect(),
        })
    }

    /// The work of `user` (or of every employee) over the last 30 days:
    /// clients added and bookings made.
    pub(crate) fn statistics(
        &self,
        tenant: &str,
        user: Option<&str>,
    ) -> Result<Vec<StatisticsView>> {
        let since = self.clock.now() - WINDOW_DAYS * 86_400;
        let mut by_user: BTreeMap<String, StatisticsView> = BTreeMap::new();
        for (table, bookings) in [("clients", false), ("bookings", true)] {
            let rows = self.db.query(
                &format!(
                    "SELECT created_by FROM {table} WHERE tenant = $1 AND created >= $2 AND created_by <> ''"
                ),
                &[tenant.into(), since.into()],
            )?;
            for r in rows {
                let who = r.text("created_by")?;
                if user.is_some_and(|u| u != who) {
                    continue;
                }
                let entry = by_user
                    .entry(who.clone())
                    .or_insert_with(|| StatisticsView {
                        user: who,
                        days: WINDOW_DAYS,
                        clients_added: 0,
                        bookings_made: 0,
                    });
                if bookings {
                    entry.bookings_made += 1;
                } else {
                    entry.clients_added += 1;
                }
            }
        }
        if let Some(user) = user {
            by_user
                .entry(user.to_owned())
                .or_insert_with(|| StatisticsView {
                    user: user.to_owned(),
                    days: WINDOW_DAYS,
                    clients_added: 0,
                    bookings_made: 0,
                });
        }
        Ok(by_user.into_values().collect())
    }
}

/// `GET /api/analytics`
pub(crate) async fn analytics(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Analytics>,
) -> Result<Guarded<AnalyticsView>> {
    let tenant = auth.tenant().to_owned();
    let view = app.blocking(move |app| app.analytics(&tenant)).await?;
    Ok(auth.respond(view))
}

/// `GET /api/statistics`: every employee's (needs `Statistics:read` on all).
pub(crate) async fn all(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Statistics>,
) -> Result<Guarded<StatisticsList>> {
    let tenant = auth.tenant().to_owned();
    let statistics = app
        .blocking(move |app| app.statistics(&tenant, None))
        .await?;
    Ok(auth.respond(StatisticsList { statistics }))
}

/// `GET /api/statistics/{user}`: one employee's (an operator: its own).
pub(crate) async fn of(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Statistics>,
) -> Result<Guarded<StatisticsList>> {
    let tenant = auth.tenant().to_owned();
    let user = auth.id().map(str::to_owned).ok_or(Error::NotFound)?;
    let statistics = app
        .blocking(move |app| app.statistics(&tenant, Some(&user)))
        .await?;
    Ok(auth.respond(StatisticsList { statistics }))
}
