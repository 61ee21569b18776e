//! Clients: name, phone and e-mail encrypted and bound to their row, a
//! lookup by phone through a blind index, the export. The guard decides and
//! records every request; what leaves is masked by the caller's rights.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use palisade_axum::{Authorized, Fresh, Guarded};
use palisade_crypt::{BlindIndex, Normalizer};
use palisade_rbac::Visibility;
use serde::Deserialize;

use crate::app::{Backoffice, random_id};
use crate::db::{FromRow, Row};
use crate::error::{Error, Result, internal};
use crate::gate::{Client, Create, Edit, Export, Read, SEARCH_QUOTA, Search};
use crate::http::ApiJson;
use crate::views::{Changed, ClientList, ClientView, Created, subject};
use axum::response::IntoResponse as _;

/// Bits of the phone blind index: small on purpose, so that many phones
/// share each value (CipherSweet's guidance); candidates are confirmed by
/// decrypting.
const PHONE_INDEX_BITS: u32 = 16;
/// The blind index compares the last nine digits (national number).
const PHONE_DIGITS: usize = 9;
/// Clients per page of the list.
pub const PAGE: i64 = 20;

/// A new client.
#[derive(Deserialize)]
pub(crate) struct NewClient {
    pub(crate) name: String,
    pub(crate) phone: String,
    pub(crate) email: String,
}

/// A change to a client's fields.
#[derive(Deserialize, Default)]
pub(crate) struct ClientChange {
    pub(crate) name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
}

/// A search by phone.
#[derive(Deserialize)]
pub(crate) struct PhoneLookup {
    pub(crate) phone: String,
}

/// The page of the list asked for.
#[derive(Deserialize, Default)]
pub(crate) struct Page {
    pub(crate) offset: Option<i64>,
}

/// A client row, its fields still sealed.
struct ClientRow {
    id: String,
    name: String,
    phone: String,
    email: String,
}

impl FromRow for ClientRow {
    fn from_row(row: &Row) -> Result<Self> {
        Ok(ClientRow {
            id: row.text("id")?,
            name: row.text("name")?,
            phone: row.text("phone")?,
            email: row.text("email")?,
        })
    }
}

impl Backoffice {
    fn phone_index(&self, tenant: &str) -> Result<BlindIndex> {
        // One index key per tenant: equal phones in two tenants do not match.
        self.keyring
            .blind_index(
                &format!("{tenant}/clients.phone"),
                PHONE_INDEX_BITS,
                Normalizer::LastDigits(PHONE_DIGITS),
            )
            .map_err(internal)
    }

    fn seal(&self, tenant: &str, column: &str, row: &str, value: &str) -> Result<String> {
        self.seal_text(tenant, "clients", column, row, value)
    }

    fn unseal(&self, tenant: &str, column: &str, row: &str, token: &str) -> Result<String> {
        self.open_text(tenant, "clients", column, row, token)
    }

    /// A client row decrypted into its view (no nested values).
    fn open_client(&self, tenant: &str, row: ClientRow) -> Result<ClientView> {
        Ok(ClientView {
            name: self.unseal(tenant, "name", &row.id, &row.name)?,
            phone: self.unseal(tenant, "phone", &row.id, &row.phone)?,
            email: self.unseal(tenant, "email", &row.id, &row.email)?,
            id: row.id,
            attachments: None,
            invoices: None,
        })
    }

    fn open_clients(&self, tenant: &str, rows: Vec<ClientRow>) -> Result<Vec<ClientView>> {
        rows.into_iter()
            .map(|row| self.open_client(tenant, row))
            .collect()
    }

    /// A page of the tenant's clients, by name.
    pub(crate) fn clients_page(&self, tenant: &str, offset: i64) -> Result<Vec<ClientView>> {
        let rows = self.db.query_as(
            "SELECT id, name, phone, email FROM clients WHERE tenant = $1 ORDER BY created, id LIMIT $2 OFFSET $3",
            &[tenant.into(), PAGE.into(), offset.max(0).into()],
        )?;
        self.open_clients(tenant, rows)
    }

    /// Every client of the tenant, by name.
    pub(crate) fn all_clients(&self, tenant: &str) -> Result<Vec<ClientView>> {
        let rows = self.db.query_as(
            "SELECT id, name, phone, email FROM clients WHERE tenant = $1 ORDER BY created, id",
            &[tenant.into()],
        )?;
        self.open_clients(tenant, rows)
    }

    /// One client, with its attachments and invoices when asked for.
    pub(crate) fn client(
        &self,
        tenant: &str,
        id: &str,
        attachments: bool,
        invoices: bool,
    ) -> Result<ClientView> {
        let row = self
            .db
            .query_one_as::<ClientRow>(
                "SELECT id, name, phone, email FROM clients WHERE id = $1 AND tenant = $2",
                &[id.into(), tenant.into()],
            )?
            .ok_or(Error::NotFound)?;
        let mut client = self.open_client(tenant, row)?;
        if attachments {
            client.attachments = Some(self.attachments_of(tenant, id)?);
        }
        if invoices {
            client.invoices = Some(self.invoices_of(tenant, id)?);
        }
        Ok(client)
    }

    /// Adds a client (fields encrypted, phone indexed); returns its id.
    pub(crate) fn create_client(
        &self,
        tenant: &str,
        user: &str,
        form: &NewClient,
    ) -> Result<String> {
        let id = random_id("c")?;
        self.insert_client(tenant, user, &id, form)?;
        Ok(id)
    }

    pub(crate) fn insert_client(
        &self,
        tenant: &str,
        user: &str,
        id: &str,
        form: &NewClient,
    ) -> Result<()> {
        validate_client(&form.name, &form.phone, &form.email)?;
        let now = self.clock.now();
        self.db.exec(
            "INSERT INTO clients (id, tenant, name, phone, email, phone_index, created_by, created, last_activity) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                id.into(),
                tenant.into(),
                self.seal(tenant, "name", id, &self.free_text("name", form.name.trim())?)?
                    .into(),
                self.seal(tenant, "phone", id, form.phone.trim())?.into(),
                self.seal(tenant, "email", id, form.email.trim())?.into(),
                self.phone_index(tenant)?.compute(&form.phone).to_hex().into(),
                user.into(),
                now.into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// Changes a client's fields; returns the names of those changed.
    pub(crate) fn edit_client(
        &self,
        tenant: &str,
        id: &str,
        form: &ClientChange,
    ) -> Result<Vec<String>> {
        if let Some(name) = &form.name {
            validate_name(name)?;
        }
        if let Some(phone) = &form.phone
            && !valid_phone(phone)
        {
            return Err(phone_refused());
        }
        if let Some(email) = &form.email {
            validate_email(email)?;
        }
        let now = self.clock.now();
        let mut changed = Vec::new();
        self.db.transaction(|tx| {
            let exists = tx.query_one(
                "SELECT id FROM clients WHERE id = $1 AND tenant = $2",
                &[id.into(), tenant.into()],
            )?;
            if exists.is_none() {
                return Err(Error::NotFound);
            }
            if let Some(name) = &form.name {
                tx.exec(
                    "UPDATE clients SET name = $1, last_activity = $2 WHERE id = $3",
                    &[
                        self.seal(tenant, "name", id, &self.free_text("name", name.trim())?)?
                            .into(),
                        now.into(),
                        id.into(),
                    ],
                )?;
                changed.push("name".to_owned());
            }
            if let Some(phone) = &form.phone {
                tx.exec(
                    "UPDATE clients SET phone = $1, phone_index = $2, last_activity = $3 WHERE id = $4",
                    &[
                        self.seal(tenant, "phone", id, phone.trim())?.into(),
                        self.phone_index(tenant)?.compute(phone).to_hex().into(),
                        now.into(),
                        id.into(),
                    ],
                )?;
                changed.push("phone".to_owned());
            }
            if let Some(email) = &form.email {
                tx.exec(
                    "UPDATE clients SET email = $1, last_activity = $2 WHERE id = $3",
                    &[
                        self.seal(tenant, "email", id, email.trim())?.into(),
                        now.into(),
                        id.into(),
                    ],
                )?;
                changed.push("email".to_owned());
            }
            Ok(())
        })?;
        Ok(changed)
    }

    /// Clients whose phone is `phone`: candidates from the blind index,
    /// confirmed after decryption.
    pub(crate) fn find_by_phone(&self, tenant: &str, phone: &str) -> Result<Vec<ClientView>> {
        let wanted = Normalizer::LastDigits(PHONE_DIGITS).apply(phone);
        let rows = self.db.query_as::<ClientRow>(
            "SELECT id, name, phone, email FROM clients WHERE tenant = $1 AND phone_index = $2 ORDER BY created, id",
            &[tenant.into(), self.phone_index(tenant)?.compute(phone).to_hex().into()],
        )?;
        let mut hits = Vec::new();
        for client in self.open_clients(tenant, rows)? {
            if *Normalizer::LastDigits(PHONE_DIGITS).apply(&client.phone) == *wanted {
                hits.push(client);
            }
        }
        Ok(hits)
    }
}

/// The client id a route names (the guard has checked it is the caller's tenant's).
pub(crate) fn client_id<A: palisade_axum::Action>(auth: &Authorized<A, Client>) -> Result<String> {
    auth.id().map(str::to_owned).ok_or(Error::NotFound)
}

/// `GET /api/clients?offset=N`: a page of clients.
pub(crate) async fn list(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Client>,
    Query(page): Query<Page>,
) -> Result<Guarded<ClientList>> {
    let tenant = auth.tenant().to_owned();
    let offset = page.offset.unwrap_or(0).max(0);
    let clients = app
        .blocking(move |app| app.clients_page(&tenant, offset))
        .await?;
    auth.note("offset", offset);
    Ok(auth.respond(ClientList { clients, offset }))
}

/// `GET /api/clients/{client}`: one client; its attachments and invoices
/// only for who may read those (the guard withholds them otherwise too).
pub(crate) async fn get(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Client>,
) -> Result<Guarded<ClientView>> {
    let (tenant, id) = (auth.tenant().to_owned(), client_id(&auth)?);
    let attachments = auth.may("read", "Attachment");
    let invoices = auth.may("read", "Invoice");
    let client = app
        .blocking(move |app| app.client(&tenant, &id, attachments, invoices))
        .await?;
    Ok(auth.respond(client))
}

/// `POST /api/clients`
pub(crate) async fn create(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Client>,
    ApiJson(form): ApiJson<NewClient>,
) -> Result<Guarded<Created>> {
    let (tenant, user) = (auth.tenant().to_owned(), auth.principal().user().to_owned());
    let id = app
        .blocking(move |app| app.create_client(&tenant, &user, &form))
        .await?;
    auth.concerns(subject(&id));
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
}

/// `PUT /api/clients/{client}`
pub(crate) async fn edit(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Edit, Client>,
    ApiJson(form): ApiJson<ClientChange>,
) -> Result<Guarded<Changed>> {
    let (tenant, id) = (auth.tenant().to_owned(), client_id(&auth)?);
    let target = id.clone();
    let changed = app
        .blocking(move |app| app.edit_client(&tenant, &target, &form))
        .await?;
    auth.concerns(subject(&id));
    auth.note("fields", changed.clone());
    Ok(auth.respond(Changed { id, changed }))
}

/// `POST /api/clients/search`: searching by a field needs the right to see
/// that field in clear (a search by a masked phone would confirm the number
/// one guess at a time), and searches are rate-limited per user. Every
/// search, refused or not, is recorded by the guard.
pub(crate) async fn search(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Search, Client>,
    ApiJson(form): ApiJson<PhoneLookup>,
) -> Result<Guarded<ClientList>> {
    let phone_visible = auth
        .policy()
        .field_rights_of(auth.principal().user(), Some(auth.tenant()), "Client")
        .map_err(internal)?
        .iter()
        .all(|f| f.field != "phone" || f.visibility == Visibility::Visible);
    if !phone_visible {
        return Err(auth
            .refuse("searching by phone needs the right to see phones")
            .into());
    }
    auth.limit(SEARCH_QUOTA)?;
    let tenant = auth.tenant().to_owned();
    let clients = app
        .blocking(move |app| app.find_by_phone(&tenant, &form.phone))
        .await?;
    auth.note("by", "phone");
    Ok(auth.respond(ClientList { clients, offset: 0 }))
}

/// `GET /api/clients/export`: the whole list as CSV, masked like the list;
/// needs `Client:export` and a fresh step-up.
pub(crate) async fn export(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Export, Client>,
    _fresh: Fresh,
) -> Result<axum::response::Response> {
    let tenant = auth.tenant().to_owned();
    let clients = app.blocking(move |app| app.all_clients(&tenant)).await?;
    auth.note("format", "csv");
    let who = auth.principal().clone();
    let response = auth
        .respond(ClientList { clients, offset: 0 })
        .as_csv("clients", "clients.csv")
        .into_response();
    // The owner can later see exactly what left.
    crate::downloads::sent_with_copy(&app, who, "clients.csv", response).await
}

fn validate_client(name: &str, phone: &str, email: &str) -> Result<()> {
    validate_name(name)?;
    if !valid_phone(phone) {
        return Err(phone_refused());
    }
    validate_email(email)
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Error::BadRequest(
            "a name of 1 to 200 bytes without control characters is required".into(),
        ));
    }
    Ok(())
}

fn validate_email(email: &str) -> Result<()> {
    if !email.contains('@')
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::BadRequest("an e-mail address is required".into()));
    }
    Ok(())
}

fn phone_refused() -> Error {
    Error::BadRequest(
        "a phone number of 5 to 17 digits (spaces, dots, dashes, parentheses and a leading `+` allowed) is required"
            .into(),
    )
}

/// A phone number as people write one: digits, separators, and `+` only
/// in front. Anything else (letters, `|`, `!`, quotes) is refused, not
/// stored to be exported later.
fn valid_phone(phone: &str) -> bool {
    let phone = phone.trim();
    let body = phone.strip_prefix('+').unwrap_or(phone);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    (5..=17).contains(&digits)
        && phone.len() <= 40
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_as_people_write_them() {
        for ok in [
            "+48 601 555 000",
            "(030) 123-4567",
            "601.555.000",
            "+4860155500",
        ] {
            assert!(valid_phone(ok), "{ok}");
        }
        for bad in [
            "+4860123 +cmd|'/C calc'!A0",
            "=1+2 601 555 000",
            "601 555 000 +",
            "1234",
            "+48 601 555 000 ext 5",
            "++48 601 555 000",
        ] {
            assert!(!valid_phone(bad), "{bad}");
        }
    }
}
