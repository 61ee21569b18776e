//! What the API answers: typed views, each declaring the fields it
//! serializes and the personal data they carry, so that palisade-axum's
//! guard decides every field by the caller's rights.

use palisade_axum::{Field, Kind, Protected};
use serde::Serialize;

/// A client, its name, phone and e-mail decrypted; with its attachments and
/// invoices when one client is read.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ClientView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) phone: String,
    pub(crate) email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attachments: Option<Vec<AttachmentView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) invoices: Option<Vec<InvoiceView>>,
}

impl Protected for ClientView {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::personal("name", Kind::Custom("NAME")),
        Field::personal("phone", Kind::Phone),
        Field::personal("email", Kind::Email),
        Field::nested("attachments", "Attachment", AttachmentView::FIELDS),
        Field::nested("invoices", "Invoice", InvoiceView::FIELDS),
    ];

    fn subjects(&self) -> Vec<String> {
        vec![subject(&self.id)]
    }
}

/// The data subject of a client in audit records.
pub(crate) fn subject(client: &str) -> String {
    format!("client:{client}")
}

/// A page of clients.
#[derive(Debug, Serialize)]
pub(crate) struct ClientList {
    pub(crate) clients: Vec<ClientView>,
    pub(crate) offset: i64,
}

impl Protected for ClientList {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[
        Field::plain("offset"),
        Field::nested("clients", "Client", ClientView::FIELDS),
    ];

    fn subjects(&self) -> Vec<String> {
        self.clients.iter().flat_map(Protected::subjects).collect()
    }
}

/// A file a client sent to support (its body is not part of the view).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct AttachmentView {
    pub(crate) id: String,
    pub(crate) file_name: String,
    pub(crate) ticket_closed: Option<i64>,
    pub(crate) legal_hold: Option<String>,
}

impl Protected for AttachmentView {
    const TYPE: &'static str = "Attachment";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("file_name"),
        Field::plain("ticket_closed"),
        Field::plain("legal_hold"),
    ];
}

/// An attachment's file.
#[derive(Debug, Serialize)]
pub(crate) struct AttachmentFile {
    pub(crate) id: String,
    pub(crate) file_name: String,
    pub(crate) body: String,
}

impl Protected for AttachmentFile {
    const TYPE: &'static str = "Attachment";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("file_name"),
        Field::plain("body"),
    ];
}

/// An invoice.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct InvoiceView {
    pub(crate) id: String,
    pub(crate) amount_cents: i64,
    pub(crate) created: i64,
}

impl Protected for InvoiceView {
    const TYPE: &'static str = "Invoice";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("amount_cents"),
        Field::plain("created"),
    ];
}

/// An employee account.
#[derive(Debug, Serialize)]
pub(crate) struct UserView {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) totp: bool,
    pub(crate) blocked: bool,
}

impl Protected for UserView {
    const TYPE: &'static str = "Account";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::personal("email", Kind::Email),
        Field::personal("name", Kind::Custom("NAME")),
        Field::plain("role"),
        Field::plain("totp"),
        Field::plain("blocked"),
    ];
}

/// The tenant's employees.
#[derive(Debug, Serialize)]
pub(crate) struct UserList {
    pub(crate) users: Vec<UserView>,
}

impl Protected for UserList {
    const TYPE: &'static str = "Account";
    const FIELDS: &'static [Field] = &[Field::nested("users", "Account", UserView::FIELDS)];
}

/// The caller itself.
#[derive(Debug, Serialize)]
pub(crate) struct Me {
    pub(crate) user: String,
    pub(crate) tenant: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) stage: &'static str,
    pub(crate) permissions: Vec<String>,
}

impl Protected for Me {
    const TYPE: &'static str = "Me";
    const FIELDS: &'static [Field] = &[
        Field::plain("user"),
        Field::plain("tenant"),
        Field::plain("email"),
        Field::plain("name"),
        Field::plain("role"),
        Field::plain("stage"),
        Field::plain("permissions"),
    ];
}

/// What a creation answers: the new object's id.
#[derive(Debug, Serialize)]
pub(crate) struct Created {
    pub(crate) id: String,
}

impl Protected for Created {
    const TYPE: &'static str = "Created";
    const FIELDS: &'static [Field] = &[Field::plain("id")];
}

/// What a change answers: the object and what changed (names only).
#[derive(Debug, Serialize)]
pub(crate) struct Changed {
    pub(crate) id: String,
    pub(crate) changed: Vec<String>,
}

impl Protected for Changed {
    const TYPE: &'static str = "Changed";
    const FIELDS: &'static [Field] = &[Field::plain("id"), Field::plain("changed")];
}

/// What an action on an account answers (blocked, unblocked, unlocked…).
#[derive(Debug, Serialize)]
pub(crate) struct AccountChange {
    pub(crate) id: String,
    pub(crate) done: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sessions_ended: Option<u64>,
}

impl Protected for AccountChange {
    const TYPE: &'static str = "AccountChange";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("done"),
        Field::plain("sessions_ended"),
    ];
}

/// A retention run or an erasure: what was done, what was kept and why.
#[derive(Debug, Serialize)]
pub(crate) struct RetentionReport {
    pub(crate) executed: Vec<serde_json::Value>,
    pub(crate) kept: Vec<serde_json::Value>,
    pub(crate) failures: Vec<String>,
}

impl Protected for RetentionReport {
    const TYPE: &'static str = "RetentionReport";
    const FIELDS: &'static [Field] = &[
        Field::plain("executed"),
        Field::plain("kept"),
        Field::plain("failures"),
    ];
}

/// The result of verifying the tenant's audit log.
#[derive(Debug, Serialize)]
pub(crate) struct AuditCheck {
    pub(crate) ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) records: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) finding: Option<String>,
}

impl Protected for AuditCheck {
    const TYPE: &'static str = "AuditCheck";
    const FIELDS: &'static [Field] = &[
        Field::plain("ok"),
        Field::plain("records"),
        Field::plain("finding"),
    ];
}

/// An evidence bundle, as palisade-audit writes it.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct Evidence(pub(crate) palisade_audit::Bundle);

impl Protected for Evidence {
    const TYPE: &'static str = "Evidence";
    const FIELDS: &'static [Field] = &[
        Field::plain("format"),
        Field::plain("origin"),
        Field::plain("public_key"),
        Field::plain("checkpoint"),
        Field::plain("start"),
        Field::plain("previous"),
        Field::plain("records"),
        Field::plain("earlier_checkpoints"),
    ];
}

/// A booking.
#[derive(Debug, Serialize)]
pub(crate) struct BookingView {
    pub(crate) id: String,
    pub(crate) client: String,
    pub(crate) created_by: String,
    pub(crate) starts: i64,
    pub(crate) minutes: i64,
    pub(crate) note: String,
}

impl Protected for BookingView {
    const TYPE: &'static str = "Booking";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("client"),
        Field::plain("created_by"),
        Field::plain("starts"),
        Field::plain("minutes"),
        Field::personal("note", Kind::Custom("NOTE")),
    ];

    fn subjects(&self) -> Vec<String> {
        vec![subject(&self.client)]
    }
}

/// Bookings.
#[derive(Debug, Serialize)]
pub(crate) struct BookingList {
    pub(crate) bookings: Vec<BookingView>,
}

impl Protected for BookingList {
    const TYPE: &'static str = "Booking";
    const FIELDS: &'static [Field] = &[Field::nested("bookings", "Booking", BookingView::FIELDS)];

    fn subjects(&self) -> Vec<String> {
        self.bookings.iter().flat_map(Protected::subjects).collect()
    }
}

/// An invoice in the finance list.
#[derive(Debug, Serialize)]
pub(crate) struct InvoiceLine {
    pub(crate) id: String,
    pub(crate) client: String,
    pub(crate) amount_cents: i64,
    pub(crate) created: i64,
}

impl Protected for InvoiceLine {
    const TYPE: &'static str = "Invoice";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("client"),
        Field::plain("amount_cents"),
        Field::plain("created"),
    ];
}

/// The tenant's invoices.
#[derive(Debug, Serialize)]
pub(crate) struct InvoiceList {
    pub(crate) invoices: Vec<InvoiceLine>,
}

impl Protected for InvoiceList {
    const TYPE: &'static str = "Invoice";
    const FIELDS: &'static [Field] = &[Field::nested("invoices", "Invoice", InvoiceLine::FIELDS)];
}

/// A payment.
#[derive(Debug, Serialize)]
pub(crate) struct PaymentView {
    pub(crate) id: String,
    pub(crate) invoice: String,
    pub(crate) amount_cents: i64,
    pub(crate) created: i64,
}

impl Protected for PaymentView {
    const TYPE: &'static str = "Payment";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("invoice"),
        Field::plain("amount_cents"),
        Field::plain("created"),
    ];
}

/// The tenant's payments.
#[derive(Debug, Serialize)]
pub(crate) struct PaymentList {
    pub(crate) payments: Vec<PaymentView>,
}

impl Protected for PaymentList {
    const TYPE: &'static str = "Payment";
    const FIELDS: &'static [Field] = &[Field::nested("payments", "Payment", PaymentView::FIELDS)];
}

/// A tariff.
#[derive(Debug, Serialize)]
pub(crate) struct TariffView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) price_cents: i64,
}

impl Protected for TariffView {
    const TYPE: &'static str = "Tariff";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("name"),
        Field::plain("price_cents"),
    ];
}

/// The tenant's tariffs.
#[derive(Debug, Serialize)]
pub(crate) struct TariffList {
    pub(crate) tariffs: Vec<TariffView>,
}

impl Protected for TariffList {
    const TYPE: &'static str = "Tariff";
    const FIELDS: &'static [Field] = &[Field::nested("tariffs", "Tariff", TariffView::FIELDS)];
}

/// The tenant's activity.
#[derive(Debug, Serialize)]
pub(crate) struct AnalyticsView {
    pub(crate) days: i64,
    pub(crate) clients: i64,
    /// (day as Unix seconds at midnight UTC, count)
    pub(crate) new_clients: Vec<(i64, i64)>,
    pub(crate) bookings: Vec<(i64, i64)>,
}

impl Protected for AnalyticsView {
    const TYPE: &'static str = "Analytics";
    const FIELDS: &'static [Field] = &[
        Field::plain("days"),
        Field::plain("clients"),
        Field::plain("new_clients"),
        Field::plain("bookings"),
    ];
}

/// One employee's work.
#[derive(Debug, Serialize)]
pub(crate) struct StatisticsView {
    pub(crate) user: String,
    pub(crate) days: i64,
    pub(crate) clients_added: u64,
    pub(crate) bookings_made: u64,
}

impl Protected for StatisticsView {
    const TYPE: &'static str = "Statistics";
    const FIELDS: &'static [Field] = &[
        Field::plain("user"),
        Field::plain("days"),
        Field::plain("clients_added"),
        Field::plain("bookings_made"),
    ];
}

/// Employees' work.
#[derive(Debug, Serialize)]
pub(crate) struct StatisticsList {
    pub(crate) statistics: Vec<StatisticsView>,
}

impl Protected for StatisticsList {
    const TYPE: &'static str = "Statistics";
    const FIELDS: &'static [Field] = &[Field::nested(
        "statistics",
        "Statistics",
        StatisticsView::FIELDS,
    )];
}

/// The tenant's settings.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct SettingsView(pub(crate) crate::settings::TenantSettings);

impl Protected for SettingsView {
    const TYPE: &'static str = "Settings";
    const FIELDS: &'static [Field] = &[
        Field::plain("work_starts"),
        Field::plain("work_ends"),
        Field::plain("alert_webhook"),
    ];
}
