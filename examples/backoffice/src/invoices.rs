//! Invoices, kept ten years by law (palisade-retention answers until when).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use palisade_axum::{Authorized, Guarded};
use serde::Deserialize;

use crate::app::{Backoffice, random_id};
use crate::clients::client_id;
use crate::error::{Error, Result, internal};
use crate::gate::{Client, Create, Invoice, Read};
use crate::http::ApiJson;
use crate::views::{Created, InvoiceView, subject};

/// The largest invoice amount accepted, in cents (one billion units).
const MAX_INVOICE_CENTS: i64 = 100_000_000_000;

/// A new invoice.
#[derive(Deserialize)]
pub(crate) struct NewInvoice {
    pub(crate) amount_cents: i64,
}

impl Backoffice {
    /// Issues an invoice to `client`; returns its id.
    pub(crate) fn add_invoice(
        &self,
        tenant: &str,
        client: &str,
        amount_cents: i64,
    ) -> Result<String> {
        if !(1..=MAX_INVOICE_CENTS).contains(&amount_cents) {
            return Err(Error::BadRequest(format!(
                "an amount of 1 to {MAX_INVOICE_CENTS} cents is required"
            )));
        }
        let id = random_id("i")?;
        self.db.exec(
            "INSERT INTO invoices (id, tenant, client_id, amount, created) VALUES ($1, $2, $3, $4, $5)",
            &[
                id.clone().into(),
                tenant.into(),
                client.into(),
                self.seal_text(tenant, "invoices", "amount", &id, &amount_cents.to_string())?
                    .into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(id)
    }
}

impl Backoffice {
    /// A client's invoices, their amounts decrypted.
    pub(crate) fn invoices_of(&self, tenant: &str, client: &str) -> Result<Vec<InvoiceView>> {
        let rows = self.db.query(
            "SELECT id, amount, created FROM invoices WHERE client_id = $1 AND tenant = $2 ORDER BY created, id",
            &[client.into(), tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                let id = r.text("id")?;
                let amount =
                    self.open_text(tenant, "invoices", "amount", &id, &r.text("amount")?)?;
                Ok(InvoiceView {
                    amount_cents: amount.parse().map_err(internal)?,
                    created: r.int("created")?,
                    id,
                })
            })
            .collect()
    }
}

/// `POST /api/clients/{client}/invoices`
pub(crate) async fn add(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Invoice>,
    client: Authorized<Read, Client>,
    ApiJson(form): ApiJson<NewInvoice>,
) -> Result<Guarded<Created>> {
    let (tenant, client) = (auth.tenant().to_owned(), client_id(&client)?);
    auth.concerns(subject(&client));
    let id = app
        .blocking(move |app| app.add_invoice(&tenant, &client, form.amount_cents))
        .await?;
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
}
