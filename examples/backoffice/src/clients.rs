//! Client data: encrypted phone and e-mail, lookup by phone through a blind
//! index, masking by field right, export, attachments, invoices, erasure and
//! the retention sweeper. Every read and change is audited.

use std::collections::HashMap;

use palisade_audit::{Bundle, CheckpointVerifier};
use palisade_crypt::{BlindIndex, Normalizer};
use palisade_pii::JsonMasker;
use palisade_rbac::Visibility;
use palisade_retention::{ActionError, Executor, RecordBuf, Status, Timestamp, execute};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{Auth, Backoffice, random_id};
use crate::db::{Db, Val};
use crate::error::{Error, Result, internal};

/// Bits of the phone blind index: small on purpose, so that many phones
/// share each value (CipherSweet's guidance); candidates are confirmed by
/// decrypting.
const PHONE_INDEX_BITS: u32 = 16;
/// The blind index compares the last nine digits (national number).
const PHONE_DIGITS: usize = 9;
/// Clients per page of the list.
pub const PAGE: i64 = 20;

#[derive(Deserialize)]
pub(crate) struct NewClient {
    pub(crate) name: String,
    pub(crate) phone: String,
    pub(crate) email: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct ClientChange {
    pub(crate) name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PhoneLookup {
    pub(crate) phone: String,
}

#[derive(Deserialize)]
pub(crate) struct NewAttachment {
    pub(crate) file_name: String,
    pub(crate) body: String,
}

#[derive(Deserialize)]
pub(crate) struct NewInvoice {
    pub(crate) amount_cents: i64,
}

#[derive(Deserialize)]
pub(crate) struct Hold {
    pub(crate) hold: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Range {
    pub(crate) from: Option<u64>,
    pub(crate) to: Option<u64>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Page {
    pub(crate) offset: Option<i64>,
}

fn ts(unix: i64) -> Result<Timestamp> {
    Timestamp::from_second(unix).map_err(internal)
}

fn subject(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// One CSV cell: quoted, and neutralised when a spreadsheet would read it
/// as a formula (OWASP's CSV injection rule: a leading `=`, `+`, `-`, `@`,
/// tab or carriage return gets a `'` in front; phones starting with `+`
/// too, since `+48 …` is a formula to a spreadsheet).
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Deletes rows when the retention plan says so.
struct RowDeleter<'a> {
    db: &'a Db,
    tenant: &'a str,
}

impl Executor<RecordBuf> for RowDeleter<'_> {
    fn delete(&mut self, record: &RecordBuf) -> std::result::Result<(), ActionError> {
        let sql = match record.category.as_str() {
            "support_attachment" => "DELETE FROM attachments WHERE id = $1 AND tenant = $2",
            "client_record" => "DELETE FROM clients WHERE id = $1 AND tenant = $2",
            "invoice" => "DELETE FROM invoices WHERE id = $1 AND tenant = $2",
            other => return Err(format!("no table for category `{other}`").into()),
        };
        self.db
            .exec(sql, &[record.id.clone().into(), self.tenant.into()])
            .map_err(|e| -> ActionError { e.to_string().into() })?;
        Ok(())
    }
    fn anonymize(&mut self, _: &RecordBuf) -> std::result::Result<(), ActionError> {
        Err("anonymization is not used by this policy".into())
    }
    fn crypto_shred(&mut self, _: &RecordBuf) -> std::result::Result<(), ActionError> {
        Err("crypto-shredding is not used by this policy".into())
    }
    fn archive(&mut self, _: &RecordBuf) -> std::result::Result<(), ActionError> {
        Err("archiving is not used by this policy".into())
    }
    fn review(&mut self, record: &RecordBuf) -> std::result::Result<(), ActionError> {
        tracing::warn!(record = %record.id, "record sent to review");
        Ok(())
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
        let context = Self::field_context(tenant, "clients", column, row);
        Ok(self
            .keyring
            .encrypt(value.as_bytes(), &context)
            .map_err(internal)?
            .to_token())
    }

    fn unseal(&self, tenant: &str, column: &str, row: &str, token: &str) -> Result<String> {
        let context = Self::field_context(tenant, "clients", column, row);
        let ciphertext = token.parse().map_err(internal)?;
        let plain = self
            .keyring
            .decrypt(&ciphertext, &context)
            .map_err(internal)?;
        String::from_utf8(plain.to_vec()).map_err(internal)
    }

    /// Client rows as JSON, decrypted, then masked or hidden per field right.
    fn present(
        &self,
        tenant: &str,
        rows: &[crate::db::Row],
        fields: &HashMap<String, Visibility>,
    ) -> Result<Value> {
        let vis = |f: &str| fields.get(f).copied().unwrap_or(Visibility::Visible);
        let mut clients = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.text(0)?;
            let mut c = serde_json::Map::new();
            c.insert("id".into(), json!(id));
            if vis("name") != Visibility::Hidden {
                c.insert("name".into(), json!(r.text(1)?));
            }
            if vis("phone") != Visibility::Hidden {
                c.insert(
                    "phone".into(),
                    json!(self.unseal(tenant, "phone", &id, &r.text(2)?)?),
                );
            }
            if vis("email") != Visibility::Hidden {
                c.insert(
                    "email".into(),
                    json!(self.unseal(tenant, "email", &id, &r.text(3)?)?),
                );
            }
            clients.push(Value::Object(c));
        }
        let mut out = json!({ "clients": clients });
        let mut masker = JsonMasker::new(&self.masker).detect_content(false);
        let mut masked = Vec::new();
        for f in ["name", "phone", "email"] {
            if vis(f) == Visibility::Masked {
                masker = masker.path(&format!("clients[*].{f}")).map_err(internal)?;
                masked.push(f);
            }
        }
        if !masked.is_empty() {
            masker.mask(&mut out).map_err(internal)?;
        }
        if let Some(o) = out.as_object_mut() {
            o.insert("masked".into(), json!(masked));
        }
        Ok(out)
    }

    /// A page of the tenant's clients (masked per field right). Audited.
    pub(crate) fn list_clients(&self, auth: &Auth, page: &Page) -> Result<Value> {
        let fields = self.client_fields(auth, "read")?;
        let offset = page.offset.unwrap_or(0).max(0);
        let rows = self.db.query(
            "SELECT id, name, phone, email FROM clients WHERE tenant = $1 ORDER BY name, id LIMIT $2 OFFSET $3",
            &[auth.tenant.clone().into(), PAGE.into(), offset.into()],
        )?;
        let mut out = self.present(&auth.tenant, &rows, &fields)?;
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|r| r.text(0).ok())
            .map(|id| subject(&id))
            .collect();
        let masked = out.get("masked").cloned().unwrap_or(Value::Null);
        self.record(
            &auth.tenant,
            &auth.user_id,
            "client.list",
            "clients",
            &ids,
            json!({ "offset": offset, "count": ids.len(), "masked": masked }),
        )?;
        if let Some(o) = out.as_object_mut() {
            o.insert("offset".into(), json!(offset));
        }
        Ok(out)
    }

    /// One client with its attachments and invoices. Audited.
    pub(crate) fn get_client(&self, auth: &Auth, id: &str) -> Result<Value> {
        let fields = self.client_fields(auth, "read")?;
        let rows = self.db.query(
            "SELECT id, name, phone, email FROM clients WHERE id = $1 AND tenant = $2",
            &[id.into(), auth.tenant.clone().into()],
        )?;
        if rows.is_empty() {
            return Err(self.not_found(auth, "clients", "read", id));
        }
        let out = self.present(&auth.tenant, &rows, &fields)?;
        let mut client = out
            .get("clients")
            .and_then(|c| c.get(0))
            .cloned()
            .ok_or(Error::NotFound)?;
        // Nested values are decided by the policy of their own type: a
        // client's invoices are shown only to who may read invoices.
        let mut withheld = Vec::new();
        if self.allowed(auth, "Attachment", "read") {
            let attachments: Vec<Value> = self
                .db
                .query(
                    "SELECT id, file_name, ticket_closed, legal_hold FROM attachments WHERE client_id = $1 AND tenant = $2 ORDER BY created, id",
                    &[id.into(), auth.tenant.clone().into()],
                )?
                .iter()
                .map(|r| json!({ "id": r.opt_text(0), "file_name": r.opt_text(1), "ticket_closed": r.opt_int(2), "legal_hold": r.opt_text(3) }))
                .collect();
            if let Some(o) = client.as_object_mut() {
                o.insert("attachments".into(), json!(attachments));
            }
        } else {
            withheld.push("attachments");
        }
        if self.allowed(auth, "Invoice", "read") {
            let invoices: Vec<Value> = self
                .db
                .query(
                    "SELECT id, amount_cents, created FROM invoices WHERE client_id = $1 AND tenant = $2 ORDER BY created, id",
                    &[id.into(), auth.tenant.clone().into()],
                )?
                .iter()
                .map(|r| json!({ "id": r.opt_text(0), "amount_cents": r.opt_int(1), "created": r.opt_int(2) }))
                .collect();
            if let Some(o) = client.as_object_mut() {
                o.insert("invoices".into(), json!(invoices));
            }
        } else {
            withheld.push("invoices");
        }
        if let Some(o) = client.as_object_mut() {
            o.insert(
                "masked".into(),
                out.get("masked").cloned().unwrap_or(Value::Null),
            );
        }
        self.record(
            &auth.tenant,
            &auth.user_id,
            "client.read",
            &format!("clients/{id}"),
            &[subject(id)],
            json!({ "withheld": withheld }),
        )?;
        Ok(client)
    }

    /// Adds a client (phone and e-mail encrypted, phone indexed). Audited.
    pub(crate) fn create_client(&self, auth: &Auth, form: &NewClient) -> Result<Value> {
        self.authorize(auth, "Client", "create", "*")?;
        let id = random_id("c")?;
        self.insert_client(&auth.tenant, &id, form)?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "client.create",
            &format!("clients/{id}"),
            &[subject(&id)],
            json!({}),
        )?;
        Ok(json!({ "id": id }))
    }

    pub(crate) fn insert_client(&self, tenant: &str, id: &str, form: &NewClient) -> Result<()> {
        validate_client(&form.name, &form.phone, &form.email)?;
        let now = self.clock.now();
        self.db.exec(
            "INSERT INTO clients (id, tenant, name, phone, email, phone_index, created, last_activity) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                id.into(),
                tenant.into(),
                form.name.trim().into(),
                self.seal(tenant, "phone", id, form.phone.trim())?.into(),
                self.seal(tenant, "email", id, form.email.trim())?.into(),
                self.phone_index(tenant)?.compute(&form.phone).to_hex().into(),
                now.into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// Changes a client's fields. Audited (names of the changed fields only).
    pub(crate) fn edit_client(&self, auth: &Auth, id: &str, form: &ClientChange) -> Result<Value> {
        self.authorize(auth, "Client", "edit", id)?;
        self.require_client(auth, id, "edit")?;
        let mut changed = Vec::new();
        let now = self.clock.now();
        if let Some(name) = &form.name {
            validate_client(name, "+00 000", "a@b.c")?;
            self.db.exec(
                "UPDATE clients SET name = $1, last_activity = $2 WHERE id = $3",
                &[name.trim().into(), now.into(), id.into()],
            )?;
            changed.push("name");
        }
        if let Some(phone) = &form.phone {
            validate_client("x", phone, "a@b.c")?;
            self.db.exec(
                "UPDATE clients SET phone = $1, phone_index = $2, last_activity = $3 WHERE id = $4",
                &[
                    self.seal(&auth.tenant, "phone", id, phone.trim())?.into(),
                    self.phone_index(&auth.tenant)?
                        .compute(phone)
                        .to_hex()
                        .into(),
                    now.into(),
                    id.into(),
                ],
            )?;
            changed.push("phone");
        }
        if let Some(email) = &form.email {
            validate_client("x", "+00 000", email)?;
            self.db.exec(
                "UPDATE clients SET email = $1, last_activity = $2 WHERE id = $3",
                &[
                    self.seal(&auth.tenant, "email", id, email.trim())?.into(),
                    now.into(),
                    id.into(),
                ],
            )?;
            changed.push("email");
        }
        self.record(
            &auth.tenant,
            &auth.user_id,
            "client.edit",
            &format!("clients/{id}"),
            &[subject(id)],
            json!({ "fields": changed }),
        )?;
        Ok(json!({ "id": id, "changed": changed }))
    }

    /// Finds clients by phone through the blind index; candidates are
    /// confirmed after decryption. Audited.
    ///
    /// Searching by a field needs the right to see that field in clear: a
    /// search by a masked phone would confirm the number one guess at a
    /// time. Searches are rate-limited per user, and every one, refused or
    /// not, is audited.
    pub(crate) fn find_by_phone(&self, auth: &Auth, form: &PhoneLookup) -> Result<Value> {
        let fields = self.client_fields(auth, "read")?;
        if fields.get("phone").copied().unwrap_or(Visibility::Visible) != Visibility::Visible {
            self.record_denied(&auth.tenant, &auth.user_id, "client.search", "clients");
            return Err(Error::Forbidden(
                "searching by phone needs the right to see phones".into(),
            ));
        }
        if let Err(retry_after) = self.search_limit(&auth.user_id) {
            self.record_denied(&auth.tenant, &auth.user_id, "client.search", "clients");
            return Err(Error::Throttled(retry_after));
        }
        let index = self.phone_index(&auth.tenant)?;
        let wanted = Normalizer::LastDigits(PHONE_DIGITS).apply(&form.phone);
        let candidates = self.db.query(
            "SELECT id, name, phone, email FROM clients WHERE tenant = $1 AND phone_index = $2 ORDER BY name, id",
            &[auth.tenant.clone().into(), index.compute(&form.phone).to_hex().into()],
        )?;
        let mut hits = Vec::new();
        for r in candidates {
            let id = r.text(0)?;
            let phone = self.unseal(&auth.tenant, "phone", &id, &r.text(2)?)?;
            if *Normalizer::LastDigits(PHONE_DIGITS).apply(&phone) == *wanted {
                hits.push(r);
            }
        }
        let out = self.present(&auth.tenant, &hits, &fields)?;
        let ids: Vec<String> = hits
            .iter()
            .filter_map(|r| r.text(0).ok())
            .map(|id| subject(&id))
            .collect();
        self.record(
            &auth.tenant,
            &auth.user_id,
            "client.search",
            "clients",
            &ids,
            json!({ "by": "phone", "count": ids.len() }),
        )?;
        Ok(out)
    }

    /// The whole client list as CSV; needs `Client:export`. Audited.
    pub(crate) fn export_clients(&self, auth: &Auth) -> Result<String> {
        let fields = self.client_fields(auth, "export")?;
        let rows = self.db.query(
            "SELECT id, name, phone, email FROM clients WHERE tenant = $1 ORDER BY name, id",
            &[auth.tenant.clone().into()],
        )?;
        let out = self.present(&auth.tenant, &rows, &fields)?;
        let mut csv = String::from("id,name,phone,email\n");
        for c in out
            .get("clients")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let cell = |k: &str| csv_cell(c.get(k).and_then(Value::as_str).unwrap_or(""));
            csv.push_str(&format!(
                "{},{},{},{}\n",
                cell("id"),
                cell("name"),
                cell("phone"),
                cell("email")
            ));
        }
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|r| r.text(0).ok())
            .map(|id| subject(&id))
            .collect();
        self.record(
            &auth.tenant,
            &auth.user_id,
            "client.export",
            "clients",
            &ids,
            json!({ "count": ids.len(), "format": "csv" }),
        )?;
        Ok(csv)
    }

    /// Checks that client `id` is the caller's tenant's; a probe of
    /// another tenant's id is answered 404 and audited (see `not_found`).
    fn require_client(&self, auth: &Auth, id: &str, action: &str) -> Result<()> {
        if self.exists(
            "SELECT id FROM clients WHERE id = $1 AND tenant = $2",
            &[id.into(), auth.tenant.clone().into()],
        )? {
            Ok(())
        } else {
            Err(self.not_found(auth, "clients", action, id))
        }
    }

    /// A file a client sent to support.
    pub(crate) fn add_attachment(
        &self,
        auth: &Auth,
        client: &str,
        form: &NewAttachment,
    ) -> Result<Value> {
        self.authorize(auth, "Attachment", "create", "*")?;
        self.require_client(auth, client, "attach")?;
        if form.file_name.is_empty() || form.file_name.len() > 255 || form.body.len() > 1 << 20 {
            return Err(Error::BadRequest(
                "a file name of 1 to 255 bytes and a body up to 1 MiB".into(),
            ));
        }
        let id = random_id("a")?;
        self.db.exec(
            "INSERT INTO attachments (id, tenant, client_id, file_name, body, created) VALUES ($1, $2, $3, $4, $5, $6)",
            &[id.clone().into(), auth.tenant.clone().into(), client.into(), form.file_name.clone().into(), form.body.clone().into(), self.clock.now().into()],
        )?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "attachment.create",
            &format!("attachments/{id}"),
            &[subject(client)],
            json!({}),
        )?;
        Ok(json!({ "id": id }))
    }

    /// Closes the support ticket of an attachment: its retention clock starts.
    pub(crate) fn close_ticket(&self, auth: &Auth, id: &str) -> Result<Value> {
        self.authorize(auth, "Attachment", "close", id)?;
        let n = self.db.exec(
            "UPDATE attachments SET ticket_closed = $1 WHERE id = $2 AND tenant = $3",
            &[
                self.clock.now().into(),
                id.into(),
                auth.tenant.clone().into(),
            ],
        )?;
        if n == 0 {
            return Err(self.not_found(auth, "attachments", "close", id));
        }
        self.record(
            &auth.tenant,
            &auth.user_id,
            "attachment.close",
            &format!("attachments/{id}"),
            &[],
            json!({}),
        )?;
        Ok(json!({ "id": id, "ticket_closed": true }))
    }

    /// Places (or with `hold: null` lifts) a legal hold on an attachment.
    pub(crate) fn hold_attachment(&self, auth: &Auth, id: &str, form: &Hold) -> Result<Value> {
        self.authorize(auth, "Attachment", "hold", id)?;
        if let Some(reason) = &form.hold {
            validate_hold(reason)?;
        }
        let n = self.db.exec(
            "UPDATE attachments SET legal_hold = $1 WHERE id = $2 AND tenant = $3",
            &[
                form.hold.clone().into(),
                id.into(),
                auth.tenant.clone().into(),
            ],
        )?;
        if n == 0 {
            return Err(self.not_found(auth, "attachments", "hold", id));
        }
        self.record(
            &auth.tenant,
            &auth.user_id,
            "attachment.hold",
            &format!("attachments/{id}"),
            &[],
            json!({ "hold": form.hold }),
        )?;
        Ok(json!({ "id": id, "legal_hold": form.hold }))
    }

    /// Issues an invoice to a client.
    pub(crate) fn add_invoice(
        &self,
        auth: &Auth,
        client: &str,
        form: &NewInvoice,
    ) -> Result<Value> {
        self.authorize(auth, "Invoice", "create", "*")?;
        self.require_client(auth, client, "invoice")?;
        if !(1..=MAX_INVOICE_CENTS).contains(&form.amount_cents) {
            return Err(Error::BadRequest(format!(
                "an amount of 1 to {MAX_INVOICE_CENTS} cents is required"
            )));
        }
        let id = random_id("i")?;
        self.db.exec(
            "INSERT INTO invoices (id, tenant, client_id, amount_cents, created) VALUES ($1, $2, $3, $4, $5)",
            &[id.clone().into(), auth.tenant.clone().into(), client.into(), form.amount_cents.into(), self.clock.now().into()],
        )?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "invoice.create",
            &format!("invoices/{id}"),
            &[subject(client)],
            json!({ "amount_cents": form.amount_cents }),
        )?;
        Ok(json!({ "id": id }))
    }

    /// Every retention record of a tenant (optionally of one client).
    fn retention_records(&self, tenant: &str, client: Option<&str>) -> Result<Vec<RecordBuf>> {
        let mut out = Vec::new();
        let filter = if client.is_some() {
            " AND client_id = $2"
        } else {
            ""
        };
        let mut params: Vec<Val> = vec![tenant.into()];
        if let Some(c) = client {
            params.push(c.into());
        }
        for r in self.db.query(&format!("SELECT id, client_id, created, ticket_closed, legal_hold FROM attachments WHERE tenant = $1{filter}"), &params)? {
            let mut rec = RecordBuf::new(r.text(0)?, "support_attachment", ts(r.int(2)?)?).with_subject(subject(&r.text(1)?));
            if let Some(closed) = r.opt_int(3) {
                rec = rec.with_event("ticket_closed", ts(closed)?);
            }
            if let Some(hold) = r.opt_text(4) {
                rec = rec.with_hold(hold);
            }
            out.push(rec);
        }
        for r in self.db.query(
            &format!(
                "SELECT id, client_id, created, legal_hold FROM invoices WHERE tenant = $1{filter}"
            ),
            &params,
        )? {
            let mut rec = RecordBuf::new(r.text(0)?, "invoice", ts(r.int(2)?)?)
                .with_subject(subject(&r.text(1)?));
            if let Some(hold) = r.opt_text(3) {
                rec = rec.with_hold(hold);
            }
            out.push(rec);
        }
        let client_filter = if client.is_some() { " AND id = $2" } else { "" };
        for r in self.db.query(
            &format!(
                "SELECT id, created, last_activity FROM clients WHERE tenant = $1{client_filter}"
            ),
            &params,
        )? {
            let id = r.text(0)?;
            out.push(
                RecordBuf::new(id.clone(), "client_record", ts(r.int(1)?)?)
                    .with_subject(subject(&id))
                    .with_last_activity(ts(r.int(2)?)?),
            );
        }
        Ok(out)
    }

    /// A client's erasure request: everything erasable is deleted now;
    /// records kept by law (invoices) or under a legal hold stay, and the
    /// answer says why and until when. Receipts go to the audit log.
    pub(crate) fn erase_client(&self, auth: &Auth, id: &str) -> Result<Value> {
        self.authorize(auth, "Client", "erase", id)?;
        self.require_client(auth, id, "erase")?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "client.erasure_requested",
            &format!("clients/{id}"),
            &[subject(id)],
            json!({}),
        )?;
        let records = self.retention_records(&auth.tenant, Some(id))?;
        let now = ts(self.clock.now())?;
        let items: Vec<_> = self.retention.erase(&records, &subject(id), now).collect();
        let mut kept = Vec::new();
        for item in &items {
            if item.status != Status::Due {
                kept.push(json!({
                    "record": item.record.id,
                    "category": item.record.category,
                    "status": item.status.as_str(),
                    "rule": item.retention.as_ref().map(|r| r.rule.name().to_owned()),
                    "until": item.retention.as_ref().and_then(|r| r.until).map(|t| t.to_string()),
                    "hold": item.hold(),
                }));
            }
        }
        let log = self.audit(&auth.tenant)?;
        let mut executor = RowDeleter {
            db: &self.db,
            tenant: &auth.tenant,
        };
        let execution = execute(items, &mut executor, log.as_ref());
        Ok(json!({
            "erased": execution.executed.iter().map(|e| json!({ "record": e.record, "action": e.action.to_string(), "receipt": e.receipt.index })).collect::<Vec<_>>(),
            "kept": kept,
            "failures": execution.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))
    }

    /// Runs the retention plan over one tenant's data now.
    pub fn sweep_tenant(&self, tenant: &str) -> Result<Value> {
        let records = self.retention_records(tenant, None)?;
        let now = ts(self.clock.now())?;
        let items: Vec<_> = self.retention.plan(&records, now).collect();
        let held: Vec<Value> = items
            .iter()
            .filter(|i| i.status == Status::Held)
            .map(|i| json!({ "record": i.record.id, "hold": i.hold() }))
            .collect();
        let log = self.audit(tenant)?;
        let mut executor = RowDeleter {
            db: &self.db,
            tenant,
        };
        let execution = execute(items, &mut executor, log.as_ref());
        for f in &execution.failures {
            tracing::error!(failure = %f, "retention action failed");
        }
        Ok(json!({
            "executed": execution.executed.iter().map(|e| json!({ "record": e.record, "action": e.action.to_string(), "rule": e.rule, "receipt": e.receipt.index })).collect::<Vec<_>>(),
            "held": held,
            "failures": execution.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))
    }

    /// The sweeper's pass over every tenant.
    pub fn sweep_all(&self) -> Result<usize> {
        let tenants = self.db.query("SELECT id FROM tenants", &[])?;
        let mut done = 0;
        for t in tenants {
            let v = self.sweep_tenant(&t.text(0)?)?;
            done += v
                .get("executed")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
        }
        Ok(done)
    }

    /// Runs the sweeper now on the caller's tenant (`Retention:run`).
    pub(crate) fn sweep(&self, auth: &Auth) -> Result<Value> {
        self.authorize(auth, "Retention", "run", "*")?;
        self.sweep_tenant(&auth.tenant)
    }

    /// Exports the tenant's audit records `from..to` as an evidence bundle.
    pub fn export_evidence(
        &self,
        tenant: &str,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<Bundle> {
        let log = self.audit(tenant)?;
        let len = log.len().map_err(internal)?;
        let to = to.unwrap_or(len).min(len);
        let from = from.unwrap_or(0);
        log.export(from, to)
            .map_err(|e| Error::BadRequest(e.to_string()))
    }

    /// The public key that verifies the tenant's checkpoints and bundles.
    pub fn audit_key(&self, tenant: &str) -> Result<CheckpointVerifier> {
        self.audit(tenant)?
            .verifier()
            .ok_or_else(|| internal("audit log without a key"))
    }

    pub(crate) fn audit_bundle(&self, auth: &Auth, range: &Range) -> Result<String> {
        self.authorize(auth, "Audit", "export", "*")?;
        let bundle = self.export_evidence(&auth.tenant, range.from, range.to)?;
        bundle.to_json().map_err(internal)
    }

    /// Verifies the tenant's stored audit log (framing, chain, tree,
    /// payload commitments, checkpoint signatures): `Ok` with the record
    /// count, or `Err` naming the first bad record and why.
    pub fn verify_audit(&self, tenant: &str) -> Result<std::result::Result<u64, String>> {
        if self.config.database_url.is_some()
            && let Some(finding) =
                crate::app::first_bad_row(&self.db, &crate::app::audit_schema(tenant))?
        {
            return Ok(Err(finding));
        }
        Ok(match self.audit(tenant)?.verify(&self.audit_dir(tenant)) {
            Ok(records) => Ok(records),
            Err(e) => Err(e.to_string()),
        })
    }

    pub(crate) fn audit_verify(&self, auth: &Auth) -> Result<Value> {
        self.authorize(auth, "Audit", "read", "*")?;
        Ok(match self.verify_audit(&auth.tenant)? {
            Ok(records) => json!({ "ok": true, "records": records }),
            Err(finding) => json!({ "ok": false, "finding": finding }),
        })
    }
}

/// The largest invoice amount accepted, in cents (one billion units).
const MAX_INVOICE_CENTS: i64 = 100_000_000_000;
/// The longest legal-hold reason accepted, in bytes.
const MAX_HOLD_LEN: usize = 200;

fn validate_client(name: &str, phone: &str, email: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Error::BadRequest(
            "a name of 1 to 200 bytes without control characters is required".into(),
        ));
    }
    if !valid_phone(phone) {
        return Err(Error::BadRequest(
            "a phone number of 5 to 17 digits (spaces, dots, dashes, parentheses and a leading `+` allowed) is required"
                .into(),
        ));
    }
    if !email.contains('@')
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::BadRequest("an e-mail address is required".into()));
    }
    Ok(())
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

/// A legal-hold reason: a short case reference, one line of printable text.
fn validate_hold(reason: &str) -> Result<()> {
    if reason.trim().is_empty()
        || reason.len() > MAX_HOLD_LEN
        || reason.chars().any(char::is_control)
    {
        return Err(Error::BadRequest(format!(
            "a hold reason of 1 to {MAX_HOLD_LEN} bytes on one line is required"
        )));
    }
    Ok(())
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

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, want) in [
            ("=1+2", "\"'=1+2\""),
            ("+48 601", "\"'+48 601\""),
            ("-2", "\"'-2\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("\tx", "\"'\tx\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("Anna", "\"Anna\""),
        ] {
            assert_eq!(csv_cell(cell), want);
        }
    }
}
