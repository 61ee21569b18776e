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
