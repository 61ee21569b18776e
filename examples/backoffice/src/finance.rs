//! Finance: invoices, payments and tariffs (the area the Operator supervisor
//! and the operators have no right to).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use palisade_axum::{Authorized, Guarded};
use serde::Deserialize;

use crate::app::{Backoffice, random_id};
use crate::error::{Error, Result, internal};
use crate::gate::{Create, Edit, Invoice, Payment, Read, Tariff};
use crate::http::ApiJson;
use crate::views::{
    Changed, Created, InvoiceLine, InvoiceList, PaymentList, PaymentView, TariffList, TariffView,
};

/// The largest amount accepted, in cents (one billion units).
const MAX_CENTS: i64 = 100_000_000_000;

/// A payment of an invoice.
#[derive(Deserialize)]
pub(crate) struct NewPayment {
    pub(crate) amount_cents: i64,
}

/// A tariff: a named price.
#[derive(Deserialize)]
pub(crate) struct NewTariff {
    pub(crate) name: String,
    pub(crate) price_cents: i64,
}

fn amount(cents: i64) -> Result<i64> {
    if (1..=MAX_CENTS).contains(&cents) {
        Ok(cents)
    } else {
        Err(Error::BadRequest(format!(
            "an amount of 1 to {MAX_CENTS} cents is required"
        )))
    }
}

impl Backoffice {
    /// Every invoice of the tenant, newest first, amounts decrypted.
    pub(crate) fn invoices(&self, tenant: &str) -> Result<Vec<InvoiceLine>> {
        let rows = self.db.query(
            "SELECT id, client_id, amount, created FROM invoices WHERE tenant = $1 ORDER BY created DESC, id LIMIT 500",
            &[tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                let id = r.text("id")?;
                let amount =
                    self.open_text(tenant, "invoices", "amount", &id, &r.text("amount")?)?;
                Ok(InvoiceLine {
                    client: r.text("client_id")?,
                    amount_cents: amount.parse().map_err(internal)?,
                    created: r.int("created")?,
                    id,
                })
            })
            .collect()
    }

    /// Records a payment of an invoice; returns its id.
    pub(crate) fn add_payment(&self, tenant: &str, invoice: &str, cents: i64) -> Result<String> {
        let cents = amount(cents)?;
        let id = random_id("p")?;
        self.db.exec(
            "INSERT INTO payments (id, tenant, invoice_id, amount, created) VALUES ($1, $2, $3, $4, $5)",
            &[
                id.clone().into(),
                tenant.into(),
                invoice.into(),
                self.seal_text(tenant, "payments", "amount", &id, &cents.to_string())?.into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(id)
    }

    /// Every payment of the tenant, newest first.
    pub(crate) fn payments(&self, tenant: &str) -> Result<Vec<PaymentView>> {
        let rows = self.db.query(
            "SELECT id, invoice_id, amount, created FROM payments WHERE tenant = $1 ORDER BY created DESC, id LIMIT 500",
            &[tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                let id = r.text("id")?;
                let amount =
                    self.open_text(tenant, "payments", "amount", &id, &r.text("amount")?)?;
                Ok(PaymentView {
                    invoice: r.text("invoice_id")?,
                    amount_cents: amount.parse().map_err(internal)?,
                    created: r.int("created")?,
                    id,
                })
            })
            .collect()
    }

    /// The tenant's tariffs, by name.
    pub(crate) fn tariffs(&self, tenant: &str) -> Result<Vec<TariffView>> {
        let rows = self.db.query(
            "SELECT id, name, price_cents FROM tariffs WHERE tenant = $1 ORDER BY name, id",
            &[tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(TariffView {
                    id: r.text("id")?,
                    name: r.text("name")?,
                    price_cents: r.int("price_cents")?,
                })
            })
            .collect()
    }

    /// Adds a tariff; returns its id.
    pub(crate) fn add_tariff(&self, tenant: &str, form: &NewTariff) -> Result<String> {
        let name = form.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(Error::BadRequest("a tariff name of 1 to 100 bytes".into()));
        }
        let name = self.free_text("name", name)?;
        let id = random_id("t")?;
        self.db.exec(
            "INSERT INTO tariffs (id, tenant, name, price_cents, created) VALUES ($1, $2, $3, $4, $5)",
            &[
                id.clone().into(),
                tenant.into(),
                name.as_ref().into(),
                amount(form.price_cents)?.into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(id)
    }

    /// Changes a tariff's price.
    pub(crate) fn set_tariff_price(&self, tenant: &str, id: &str, cents: i64) -> Result<()> {
        let n = self.db.exec(
            "UPDATE tariffs SET price_cents = $1 WHERE id = $2 AND tenant = $3",
            &[amount(cents)?.into(), id.into(), tenant.into()],
        )?;
        if n == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}

/// `GET /api/invoices`
pub(crate) async fn invoices(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Invoice>,
) -> Result<Guarded<InvoiceList>> {
    let tenant = auth.tenant().to_owned();
    let invoices = app.blocking(move |app| app.invoices(&tenant)).await?;
    Ok(auth.respond(InvoiceList { invoices }))
}

/// `POST /api/invoices/{invoice}/payments`
pub(crate) async fn pay(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Payment>,
    invoice: Authorized<Read, Invoice>,
    ApiJson(form): ApiJson<NewPayment>,
) -> Result<Guarded<Created>> {
    let tenant = auth.tenant().to_owned();
    let invoice = invoice.id().map(str::to_owned).ok_or(Error::NotFound)?;
    let id = app
        .blocking(move |app| app.add_payment(&tenant, &invoice, form.amount_cents))
        .await?;
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
}

/// `GET /api/payments`
pub(crate) async fn payments(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Payment>,
) -> Result<Guarded<PaymentList>> {
    let tenant = auth.tenant().to_owned();
    let payments = app.blocking(move |app| app.payments(&tenant)).await?;
    Ok(auth.respond(PaymentList { payments }))
}

/// `GET /api/tariffs`
pub(crate) async fn tariffs(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Tariff>,
) -> Result<Guarded<TariffList>> {
    let tenant = auth.tenant().to_owned();
    let tariffs = app.blocking(move |app| app.tariffs(&tenant)).await?;
    Ok(auth.respond(TariffList { tariffs }))
}

/// `POST /api/tariffs`
pub(crate) async fn add_tariff(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Create, Tariff>,
    ApiJson(form): ApiJson<NewTariff>,
) -> Result<Guarded<Created>> {
    let tenant = auth.tenant().to_owned();
    let id = app
        .blocking(move |app| app.add_tariff(&tenant, &form))
        .await?;
    Ok(auth
        .respond(Created { id })
        .with_status(StatusCode::CREATED))
}

/// `PUT /api/tariffs/{tariff}`
pub(crate) async fn edit_tariff(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Edit, Tariff>,
    ApiJson(form): ApiJson<NewPayment>,
) -> Result<Guarded<Changed>> {
    let tenant = auth.tenant().to_owned();
    let id = auth.id().map(str::to_owned).ok_or(Error::NotFound)?;
    let target = id.clone();
    app.blocking(move |app| app.set_tariff_price(&tenant, &target, form.amount_cents))
        .await?;
    Ok(auth.respond(Changed {
        id,
        changed: vec!["price_cents".into()],
    }))
}
