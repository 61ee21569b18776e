//! What the API answers: typed views, each declaring the fields it
//! serializes and the personal data they carry, so that palisade-axum's
//! guard decides every field by the caller's rights.

use palisade_axum::{Field, Kind, Protected, Subjects};
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

    fn subjects(&self, out: &mut Subjects) {
        out.push_id("client", &self.id);
    }
}

/// The data subject of a client in audit records (what a view's
/// `subjects` adds).
pub(crate) fn subject(client: &str) -> String {
    palisade_axum::subject("client", client)
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

    fn subjects(&self, out: &mut Subjects) {
        self.clients.subjects(out);
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
    /// The administrator viewing the app as this employee ("log in as").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) viewed_by: Option<String>,
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
        Field::plain("viewed_by"),
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

    fn subjects(&self, out: &mut Subjects) {
        out.push_id("client", &self.client);
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

    fn subjects(&self, out: &mut Subjects) {
        self.bookings.subjects(out);
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

/// One audit record, as the action and data-access logs show it.
#[derive(Debug, Serialize)]
pub(crate) struct LogEntry {
    pub(crate) index: u64,
    pub(crate) time: i64,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) resource: String,
    pub(crate) outcome: &'static str,
    pub(crate) subjects: Vec<String>,
    /// Personal fields the answer showed in clear.
    pub(crate) shown: Vec<String>,
    /// Personal fields the answer masked.
    pub(crate) masked: Vec<String>,
}

/// The action log.
#[derive(Debug, Serialize)]
pub(crate) struct ActionList {
    pub(crate) entries: Vec<LogEntry>,
}

impl Protected for ActionList {
    const TYPE: &'static str = "Audit";
    const FIELDS: &'static [Field] = &[Field::plain("entries")];
}

/// A client's data-access log.
#[derive(Debug, Serialize)]
pub(crate) struct AccessList {
    pub(crate) entries: Vec<LogEntry>,
}

impl Protected for AccessList {
    const TYPE: &'static str = "Audit";
    const FIELDS: &'static [Field] = &[Field::plain("entries")];
}

/// One data subject of an incident.
#[derive(Debug, Serialize)]
pub(crate) struct IncidentSubject {
    pub(crate) subject: String,
    /// The client's name, for the notice (`None` once erased).
    pub(crate) name: Option<String>,
    pub(crate) fields_in_clear: Vec<String>,
    pub(crate) fields_masked: Vec<String>,
    pub(crate) accesses: u64,
    pub(crate) first: i64,
    pub(crate) last: i64,
}

/// A draft notice to one data subject.
#[derive(Debug, Serialize)]
pub(crate) struct Notice {
    pub(crate) subject: String,
    pub(crate) text: String,
}

/// An incident report.
#[derive(Debug, Serialize)]
pub(crate) struct IncidentReport {
    pub(crate) user: String,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) detected: i64,
    /// GDPR art. 33: 72 hours after the breach became known.
    pub(crate) notify_authority_by: i64,
    pub(crate) subjects: Vec<IncidentSubject>,
    pub(crate) notices: Vec<Notice>,
}

impl Protected for IncidentReport {
    const TYPE: &'static str = "Incident";
    const FIELDS: &'static [Field] = &[
        Field::plain("user"),
        Field::plain("from"),
        Field::plain("to"),
        Field::plain("detected"),
        Field::plain("notify_authority_by"),
        Field::plain("subjects"),
        Field::plain("notices"),
    ];
}

/// An alert.
#[derive(Debug, Serialize)]
pub(crate) struct AlertView {
    pub(crate) id: String,
    pub(crate) rule: String,
    pub(crate) actor: String,
    pub(crate) raised: i64,
    pub(crate) detail: serde_json::Value,
    /// The audit record that raised it.
    pub(crate) record: Option<i64>,
}

/// The alerts page.
#[derive(Debug, Serialize)]
pub(crate) struct AlertList {
    pub(crate) alerts: Vec<AlertView>,
}

impl Protected for AlertList {
    const TYPE: &'static str = "Alert";
    const FIELDS: &'static [Field] = &[Field::plain("alerts")];
}

/// A kept copy of a downloaded file.
#[derive(Debug, Serialize)]
pub(crate) struct DownloadView {
    pub(crate) id: String,
    pub(crate) user: String,
    pub(crate) created: i64,
    pub(crate) file_name: String,
    pub(crate) bytes: i64,
    pub(crate) sha256: String,
}

/// The kept copies.
#[derive(Debug, Serialize)]
pub(crate) struct DownloadList {
    pub(crate) downloads: Vec<DownloadView>,
}

impl Protected for DownloadList {
    const TYPE: &'static str = "Download";
    const FIELDS: &'static [Field] = &[Field::plain("downloads")];
}

/// A kept copy, its bytes as they were sent.
#[derive(Debug, Serialize)]
pub(crate) struct DownloadFile {
    pub(crate) id: String,
    pub(crate) file_name: String,
    pub(crate) content: String,
}

impl Protected for DownloadFile {
    const TYPE: &'static str = "Download";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("file_name"),
        Field::plain("content"),
    ];
}

/// Everything a tenant holds, for the owner at the end of service.
#[derive(Debug, Serialize)]
pub(crate) struct TenantExport {
    pub(crate) tenant: String,
    /// When the service ended (Unix seconds).
    pub(crate) service_ended: i64,
    /// When the end-of-service rules delete the data.
    pub(crate) deleted_after: i64,
    pub(crate) clients: Vec<ClientView>,
    pub(crate) bookings: Vec<BookingView>,
    pub(crate) payments: Vec<PaymentView>,
    pub(crate) tariffs: Vec<TariffView>,
}

impl Protected for TenantExport {
    const TYPE: &'static str = "Tenant";
    const FIELDS: &'static [Field] = &[
        Field::plain("tenant"),
        Field::plain("service_ended"),
        Field::plain("deleted_after"),
        Field::nested("clients", "Client", ClientView::FIELDS),
        Field::nested("bookings", "Booking", BookingView::FIELDS),
        Field::nested("payments", "Payment", PaymentView::FIELDS),
        Field::nested("tariffs", "Tariff", TariffView::FIELDS),
    ];

    fn subjects(&self, out: &mut Subjects) {
        self.clients.subjects(out);
    }
}
