//! Bookings: appointments with a client. Who may create them, edit them or
//! delete them is each a right of its own (a user may create bookings but
//! not change them).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use palisade_axum::{Authorized, Guarded};
use serde::Deserialize;

use crate::app::{Backoffice, random_id};
use crate::clients::client_id;
use crate::error::{Error, Result};
use crate::gate::{Booking, Client, Create, Delete, Edit, Read};
use crate::http::ApiJson;
use crate::views::{BookingList, BookingView, Changed, Created, subject};

/// The longest note on a booking, in bytes.
const MAX_NOTE_LEN: usize = 1000;

/// A new booking of a client.
#[derive(Deserialize)]
pub(crate) struct NewBooking {
    /// When it starts (Unix seconds).
    pub(crate) starts: i64,
    /// How long it lasts, in minutes (5 to 480).
    pub(crate) minutes: i64,
    /// A free-text note (encrypted; no card numbers).
    #[serde(default)]
    pub(crate) note: String,
}

/// A change to a booking.
#[derive(Deserialize, Default)]
pub(crate) struct BookingChange {
    pub(crate) starts: Option<i64>,
    pub(crate) minutes: Option<i64>,
    pub(crate) note: Option<String>,
}

/// Which bookings to list.
#[derive(Deserialize, Default)]
pub(crate) struct BookingQuery {
    /// From this time on (Unix seconds); default: now minus one day.
    pub(crate) from: Option<i64>,
}

fn validate(minutes: i64, note: &str) -> Result<()> {
    if !(5..=480).contains(&minutes) {
        return Err(Error::BadRequest("a booking lasts 5 to 480 minutes".into()));
    }
    if note.len() > MAX_NOTE_LEN {
        return Err(Error::BadRequest(format!(
            "a note of at most {MAX_NOTE_LEN} bytes"
        )));
    }
    Ok(())
}

impl Backoffice {
    /// Books `client`; returns the booking's id.
    pub(crate) fn add_booking(
        &self,
        tenant: &str,
        user: &str,
        client: &str,
        form: &NewBooking,
    ) -> Result<String> {
        validate(form.minutes, &form.note)?;
        let note = self.free_text("note", &form.note)?;
        let id = random_id("k")?;
        self.db.exec(
            "INSERT INTO bookings (id, tenant, client_id, created_by, starts, minutes, note, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                id.clone().into(),
                tenant.into(),
                client.into(),
                user.into(),
                form.starts.into(),
                form.minutes.into(),
                self.seal_text(tenant, "bookings", "note", &id, &note)?.into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(id)
    }

    /// The tenant's bookings from `from` on, by start time.
    pub(crate) fn bookings(&self, tenant: &str, from: i64) -> Result<Vec<BookingView>> {
        let rows = self.db.query(
            "SELECT id, client_id, created_by, starts, minutes, note FROM bookings \
             WHERE tenant = $1 AND starts >= $2 ORDER BY starts, id LIMIT 500",
            &[tenant.into(), from.into()],
        )?;
        rows.iter()
            .map(|r| {
                let id = r.text("id")?;
                Ok(BookingView {
                    client: r.text("client_id")?,
                    created_by: r.text("created_by")?,
                    starts: r.int("starts")?,
                    minutes: r.int("minutes")?,
                    note: self.open_text(tenant, "bookings", "note", &id, &r.text("note")?)?,
                    id,
                })
            })
            .collect()
    }

    /// Changes a booking; returns the names of the fields changed.
    pub(crate) fn edit_booking(
        &self,
        tenant: &str,
        id: &str,
        change: &BookingChange,
    ) -> Result<Vec<String>> {
        let row = self
            .db
            .query_one(
                "SELECT minutes FROM bookings WHERE id = $1 AND tenant = $2",
                &[id.into(), tenant.into()],
            )?
            .ok_or(Error::NotFound)?;
        let minutes = change.minutes.unwrap_or(row.int("minutes")?);
        validate(minutes, change.note.as_deref().unwrap_or(""))?;
        let mut changed = Vec::new();
        self.db.transaction(|tx| {
            if let Some(starts) = change.starts {
                tx.exec(
                    "UPDATE bookings SET starts = $1 WHERE id = $2",
                    &[starts.into(), id.into()],
                )?;
                changed.push("starts".to_owned());
            }
            if change.minutes.is_some() {
                tx.exec(
                    "UPDATE bookings SET minutes = $1 WHERE id = $2",
                    &[minutes.into(), id.into()],
                )?;
                changed.push("minutes".to_owned());
            }
            if let Some(note) = &change.note {
                let note = self.free_text("note", note)?;
                tx.exec(
                    "UPDATE bookings SET note = $1 WHERE id = $2",
                    &[
                        self.seal_text(tenant, "bookings", "note", id, &note)?
                            .into(),
                        id.into(),
                    ],
                )?;
                changed.push("note".to_owned());
            }
            Ok(())
        })?;
        Ok(changed)
    }

    /// Deletes a booking.
    pub(crate) fn delete_booking(&self, tenant: &str, id: &str) -> Result<()> {
        let n = self.db.exec(
            "DELETE FROM bookings WHERE id = $1 AND tenant = $2",
            &[id.into(), tenant.into()],
        )?;
        if n == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}

fn booking_id<A: palisade_axum::Action>(auth: &Authorized<A, Booking>) -> Result<String> {
    auth.id().map(str::to_owned).ok_or(Error::NotFound)
}

/// `GET /api/bookings?from=T`
pub(crate) async fn list(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Booking>,
    Query(query): Query<BookingQuery>,
) -> Result<Guarded<BookingList>> {
    let tenant = auth.tenant().to_owned();
    let from = query.from.unwrap_or_else(|| app.clock.now() - 86_400);
    let bookings = app.blocking(move |app| app.bookings(&tenant, from)).await?;
    Ok(auth.respond(BookingList { bookings }))
}

/// `POST /api/clients/{client}/bookings`
pub(crate) async fn add(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Booking>,
    client: Authorized<Read, Client>,
    ApiJson(form): ApiJson<NewBooking>,
) -> Result<Guarded<Created>> {
    let (tenant, user, client) = (
        auth.tenant().to_owned(),
        auth.principal().user().to_owned(),
        client_id(&client)?,
    );
    auth.concerns(subject(&client));
    let id = app
        .blocking(move |app| app.add_booking(&tenant, &user, &client, &form))
        .await?;
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
}

/// `PUT /api/bookings/{booking}`
pub(crate) async fn edit(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Edit, Booking>,
    ApiJson(change): ApiJson<BookingChange>,
) -> Result<Guarded<Changed>> {
    let (tenant, id) = (auth.tenant().to_owned(), booking_id(&auth)?);
    let target = id.clone();
    let changed = app
        .blocking(move |app| app.edit_booking(&tenant, &target, &change))
        .await?;
    auth.note("fields", changed.clone());
    Ok(auth.respond(Changed { id, changed }))
}

/// `DELETE /api/bookings/{booking}`
pub(crate) async fn delete(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Delete, Booking>,
) -> Result<Guarded<Changed>> {
    let (tenant, id) = (auth.tenant().to_owned(), booking_id(&auth)?);
    let target = id.clone();
    app.blocking(move |app| app.delete_booking(&tenant, &target))
        .await?;
    Ok(auth.respond(Changed {
        id,
        changed: vec!["deleted".into()],
    }))
}
