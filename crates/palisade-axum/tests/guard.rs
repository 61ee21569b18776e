//! The guard end to end through an axum router: decisions, masking, nested
//! values, fail-closed answers, probes across tenants, blocking, "log in
//! as", step-up, rate limits, the web defences, and the audit record of
//! every decision written before the answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use palisade_audit::{AuditLog, Event, MemoryStore, Outcome};
use palisade_axum::{
    Authorized, BoxFuture, DecisionLog, Field, Fresh, Guard, Guarded, Kind, PolicySource,
    Principal, Protected, Refusal, ResourceLocator, SessionLookup, Subjects, WebDefences, action,
    per_minute, resource,
};
use palisade_rbac::{Policy, PolicyStore};
use serde::Serialize;
use serde_json::{Value, json};

const POLICY: &str = r#"
[types.Client]
actions = ["read", "edit", "export"]
fields = ["name", "phone"]

[types.Invoice]
actions = ["read"]

[roles.Operator]
allow = ["Client:read", "Client:edit"]
fields = { "Client.phone" = "masked" }

[roles.Administrator]
allow = ["*"]

[tenants.acme]
owners = ["olivia"]
owner_role = "Administrator"

[tenants.globex]
owners = ["gina"]
owner_role = "Administrator"

[users.olivia]
tenants = { acme = ["Administrator"] }

[users.otto]
tenants = { acme = ["Operator"] }

[users.hidden]
tenants = { acme = ["Operator"] }
fields = { "Client.name" = "hidden" }

[users.gina]
tenants = { globex = ["Administrator"] }
"#;

action!(Read = "read", Edit = "edit", Export = "export");
resource!(Client);

#[derive(Serialize)]
struct InvoiceView {
    id: String,
    amount_cents: i64,
}

impl Protected for InvoiceView {
    const TYPE: &'static str = "Invoice";
    const FIELDS: &'static [Field] = &[Field::plain("id"), Field::plain("amount_cents")];
}

#[derive(Serialize)]
struct ClientView {
    id: String,
    name: String,
    phone: String,
    invoices: Vec<InvoiceView>,
}

impl Protected for ClientView {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::personal("name", Kind::Custom("NAME")),
        Field::personal("phone", Kind::Phone),
        Field::nested("invoices", "Invoice", InvoiceView::FIELDS),
    ];
    fn subjects(&self, out: &mut Subjects) {
        out.push_id("client", &self.id);
    }
}

#[derive(Serialize)]
struct ClientList {
    clients: Vec<ClientView>,
}

impl Protected for ClientList {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[Field::nested("clients", "Client", ClientView::FIELDS)];
    fn subjects(&self, out: &mut Subjects) {
        self.clients.subjects(out);
    }
}

/// A view that serializes a field it does not declare.
#[derive(Serialize)]
struct Leaky {
    id: String,
    secret_notes: String,
}

impl Protected for Leaky {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[Field::plain("id")];
}

fn anna(id: &str) -> ClientView {
    ClientView {
        id: id.into(),
        name: "Anna Kowalska".into(),
        phone: "+48 601 234 211".into(),
        invoices: vec![InvoiceView {
            id: "i-1".into(),
            amount_cents: 4900,
        }],
    }
}

async fn read_client(auth: Authorized<Read, Client>) -> Guarded<ClientView> {
    let id = auth.id().unwrap().to_owned();
    auth.respond(anna(&id))
}

async fn list_clients(auth: Authorized<Read, Client>) -> Guarded<ClientList> {
    auth.respond(ClientList {
        clients: vec![anna("c-1"), anna("c-2")],
    })
}

/// More clients than one audit record names (2,500: three records' worth).
async fn list_many(auth: Authorized<Read, Client>) -> Guarded<ClientList> {
    auth.respond(ClientList {
        clients: (0..2_500).map(|i| anna(&format!("c-{i}"))).collect(),
    })
}

async fn leaky(auth: Authorized<Read, Client>) -> Guarded<Leaky> {
    auth.respond(Leaky {
        id: "c-1".into(),
        secret_notes: "owes money".into(),
    })
}

async fn raw_json(_auth: Authorized<Read, Client>) -> axum::Json<Value> {
    axum::Json(json!({ "phone": "+48 601 234 211" }))
}

async fn edit_client(_auth: Authorized<Edit, Client>) -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn export(auth: Authorized<Export, Client>, _fresh: Fresh) -> Guarded<ClientList> {
    auth.respond(ClientList {
        clients: vec![ClientView {
            name: "=HYPERLINK(\"http://evil\")".into(),
            ..anna("c-1")
        }],
    })
    .as_csv("clients", "clients.csv")
}

/// Sessions named by the `x-user` header; `x-viewer` views as; `x-step-up`
/// gives the time of the last step-up.
#[derive(Default)]
struct Sessions {
    ended: Mutex<Vec<String>>,
}

impl SessionLookup for Sessions {
    fn principal<'a>(&'a self, r: &'a Parts) -> BoxFuture<'a, Result<Option<Principal>, Refusal>> {
        let header = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let principal = header("x-user").map(|user| {
            let tenant = if user == "gina" { "globex" } else { "acme" };
            let mut p = Principal::new(user, tenant);
            if let Some(viewer) = header("x-viewer") {
                p = p.viewed_by(viewer);
            }
            if let Some(at) = header("x-step-up") {
                p = p.with_step_up_at(at.parse().unwrap());
            }
            p
        });
        Box::pin(async move { Ok(principal) })
    }
    fn end_sessions<'a>(&'a self, _: &'a str, user: &'a str) -> BoxFuture<'a, ()> {
        self.ended.lock().unwrap().push(user.to_owned());
        Box::pin(async {})
    }
}

struct Policies(Arc<PolicyStore>);

impl PolicySource for Policies {
    fn policy<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Arc<Policy>, Refusal>> {
        Box::pin(async move { Ok(self.0.snapshot()) })
    }
}

/// One memory log per tenant; appends can be made to fail.
#[derive(Default)]
struct Logs {
    logs: Mutex<HashMap<String, Arc<AuditLog<MemoryStore>>>>,
    fail: AtomicBool,
}

impl Logs {
    fn of(&self, tenant: &str) -> Arc<AuditLog<MemoryStore>> {
        Arc::clone(
            self.logs
                .lock()
                .unwrap()
                .entry(tenant.to_owned())
                .or_default(),
        )
    }

    fn payloads(&self, tenant: &str) -> Vec<Value> {
        let log = self.of(tenant);
        let n = log.len().unwrap();
        log.read(0, n)
            .unwrap()
            .iter()
            .map(|r| r.payload().unwrap_or(Value::Null))
            .collect()
    }

    fn records(&self, tenant: &str) -> Vec<(String, String, String, Outcome, Vec<String>)> {
        let log = self.of(tenant);
        let n = log.len().unwrap();
        log.read(0, n)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.actor().to_owned(),
                    r.action().to_owned(),
                    r.resource().to_owned(),
                    r.outcome(),
                    r.subjects().to_vec(),
                )
            })
            .collect()
    }
}

impl DecisionLog for Logs {
    fn record<'a>(&'a self, tenant: &'a str, event: Event) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            if self.fail.load(Ordering::Relaxed) {
                return Err(Refusal::Internal);
            }
            self.of(tenant)
                .append(event)
                .map(|_| ())
                .map_err(|_| Refusal::Internal)
        })
    }
}

/// Clients `c-*` belong to acme, `g-*` to globex.
struct Locator;

impl ResourceLocator for Locator {
    fn tenant_of<'a>(
        &'a self,
        _: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, Refusal>> {
        let owner = match id.split_once('-') {
            Some(("c", _)) => Some("acme".to_owned()),
            Some(("g", _)) => Some("globex".to_owned()),
            _ => None,
        };
        Box::pin(async move { Ok(owner) })
    }
}

struct World {
    router: Router,
    logs: Arc<Logs>,
    sessions: Arc<Sessions>,
    policies: Arc<PolicyStore>,
    now: Arc<AtomicU64>,
}

fn world() -> World {
    let policies = Arc::new(PolicyStore::new(Policy::from_toml(POLICY).unwrap()));
    let logs = Arc::new(Logs::default());
    let sessions = Arc::new(Sessions::default());
    let now = Arc::new(AtomicU64::new(1_000_000));
    let clock = Arc::clone(&now);
    let guard = Guard::builder(
        Arc::clone(&sessions),
        Policies(Arc::clone(&policies)),
        Arc::clone(&logs),
    )
    .with_locator(Locator)
    .with_clock(move || clock.load(Ordering::Relaxed))
    .with_quota("search", per_minute(3))
    .build();
    let router = Router::new()
        .route("/clients", get(list_clients))
        .route("/clients/export", get(export))
        .route("/clients/many", get(list_many))
        .route("/clients/{id}", get(read_client).put(edit_client))
        .route("/leaky/{id}", get(leaky))
        .route("/raw/{id}", get(raw_json))
        .route(
            "/search",
            post(|auth: Authorized<Read, Client>| async move {
                auth.guard().limit("search", auth.principal())?;
                Ok::<_, Refusal>(auth.respond(ClientList { clients: vec![] }))
            }),
        )
        .route(
            "/notes",
            post(|note: String| async move {
                if note.is_empty() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::NO_CONTENT
                }
            }),
        )
        .layer(guard.layer())
        .layer(WebDefences::new().with_hsts(true))
        .with_state(guard);
    World {
        router,
        logs,
        sessions,
        policies,
        now,
    }
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (Response<()>, String) {
    use tower::ServiceExt;
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        Response::from_parts(parts, ()),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// `call` with a request body.
async fn call_with_body(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static str,
) -> Response<()> {
    use tower::ServiceExt;
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    Response::from_parts(response.into_parts().0, ())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn no_session_is_401_and_nothing_is_recorded() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/clients/c-1", &[]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(json(&body), json!({ "error": "sign in first" }));
    assert!(w.logs.records("acme").is_empty());
}

#[tokio::test]
async fn an_operator_sees_masked_phones_and_no_invoices_and_the_read_is_recorded() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/clients/c-7", &[("x-user", "otto")]).await;
    assert_eq!(r.status(), 200, "{body}");
    let v = json(&body);
    assert_eq!(v["phone"], "+48 XXX XXX 211");
    assert_eq!(v["name"], "Anna Kowalska");
    assert!(v.get("invoices").is_none(), "Invoice:read not allowed: {v}");
    assert_eq!(v["masked"], json!(["phone"]));
    let records = w.logs.records("acme");
    assert_eq!(records.len(), 1, "{records:?}");
    let (actor, action, resource, outcome, subjects) = &records[0];
    assert_eq!(
        (actor.as_str(), action.as_str(), resource.as_str(), *outcome),
        ("otto", "client.read", "Client:c-7", Outcome::Success)
    );
    assert_eq!(subjects, &vec!["client:c-7".to_owned()]);
    // The record says which personal fields left in clear and which masked.
    let payload = &w.logs.payloads("acme")[0];
    assert_eq!(payload["masked"], json!(["phone"]), "{payload}");
    assert_eq!(payload["shown"], json!(["name"]), "{payload}");
    assert!(
        r.headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap().contains("max-age"))
    );
}

#[tokio::test]
async fn the_owner_sees_everything_and_field_rights_apply_in_lists() {
    let w = world();
    let (_, body) = call(&w.router, "GET", "/clients/c-7", &[("x-user", "olivia")]).await;
    let v = json(&body);
    assert_eq!(v["phone"], "+48 601 234 211");
    assert_eq!(v["invoices"][0]["amount_cents"], 4900);
    assert!(v.get("masked").is_none());
    let (_, body) = call(&w.router, "GET", "/clients", &[("x-user", "hidden")]).await;
    let v = json(&body);
    for c in v["clients"].as_array().unwrap() {
        assert!(c.get("name").is_none(), "hidden for this user: {c}");
        assert_eq!(c["phone"], "+48 XXX XXX 211");
    }
    let payload = &w.logs.payloads("acme")[0];
    assert_eq!(
        payload["shown"],
        json!(["name", "phone"]),
        "the owner saw the phone: {payload}"
    );
    let records = w.logs.records("acme");
    assert_eq!(
        records[1].4,
        vec!["client:c-1".to_owned(), "client:c-2".to_owned()]
    );
}

/// An answer naming more data subjects than one record holds is recorded
/// in as many records as it takes, in order, each saying which part it is:
/// no subject an answer showed is left out of the log.
#[tokio::test]
async fn every_subject_of_a_long_answer_is_recorded() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/clients/many", &[("x-user", "olivia")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(&body)["clients"].as_array().unwrap().len(), 2_500);
    let records = w.logs.records("acme");
    assert_eq!(records.len(), 3, "1,024 subjects a record at most");
    let subjects: Vec<String> = records.iter().flat_map(|r| r.4.clone()).collect();
    let expected: Vec<String> = (0..2_500).map(|i| format!("client:c-{i}")).collect();
    assert_eq!(subjects, expected);
    for (i, (actor, action, resource, outcome, _)) in records.iter().enumerate() {
        assert_eq!(
            (actor.as_str(), action.as_str(), resource.as_str(), *outcome),
            ("olivia", "client.read", "Client:*", Outcome::Success)
        );
        let payload = &w.logs.payloads("acme")[i];
        assert_eq!(payload["subjects_part"], i + 1, "{payload}");
        assert_eq!(payload["subjects_parts"], 3, "{payload}");
        assert_eq!(payload["shown"], json!(["name", "phone"]), "{payload}");
    }
    // The parts of one answer carry the same time (to the nanosecond): with
    // the actor and `subjects_parts`, what ties them together when other
    // requests' records come between them.
    let log = w.logs.of("acme");
    let times: Vec<_> = log.read(0, 3).unwrap().iter().map(|r| r.time()).collect();
    assert!(times.iter().all(|t| *t == times[0]), "{times:?}");
    // One record's worth: no parts.
    let (_, _) = call(&w.router, "GET", "/clients", &[("x-user", "olivia")]).await;
    let last = w.logs.payloads("acme").pop().unwrap();
    assert!(last.get("subjects_part").is_none(), "{last}");
}

/// Two long answers at once: their parts may interleave in the log, and
/// the parts of each (same actor and time) still name all 2,500 clients,
/// in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_long_answers_each_record_every_subject() {
    let w = world();
    let (a, b) = tokio::join!(
        call(&w.router, "GET", "/clients/many", &[("x-user", "olivia")]),
        call(&w.router, "GET", "/clients/many", &[("x-user", "olivia")]),
    );
    assert_eq!(a.0.status(), 200);
    assert_eq!(b.0.status(), 200);
    let log = w.logs.of("acme");
    let records = log.read(0, log.len().unwrap()).unwrap();
    assert_eq!(records.len(), 6);
    let mut by_answer: std::collections::BTreeMap<_, Vec<String>> = Default::default();
    for r in &records {
        by_answer
            .entry(r.time_nanos())
            .or_default()
            .extend(r.subjects().to_vec());
    }
    let expected: Vec<String> = (0..2_500).map(|i| format!("client:c-{i}")).collect();
    // Every client twice in all, whatever the interleaving.
    let mut all: Vec<String> = by_answer.values().flatten().cloned().collect();
    all.sort();
    let mut twice: Vec<String> = expected.iter().chain(&expected).cloned().collect();
    twice.sort();
    assert_eq!(all, twice);
    // Each answer's parts, told apart by their time (two clocks reading the
    // same nanosecond would merge them; then the check above holds alone).
    if by_answer.len() == 2 {
        for subjects in by_answer.values() {
            assert_eq!(subjects, &expected);
        }
    }
}

#[tokio::test]
async fn a_refusal_is_403_and_recorded_as_denied() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/clients/export", &[("x-user", "otto")]).await;
    assert_eq!(r.status(), 403, "{body}");
    assert_eq!(json(&body)["error"], "not allowed to export client");
    let records = w.logs.records("acme");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1, "client.export");
    assert_eq!(records[0].3, Outcome::Denied);
    assert!(records[0].4.is_empty(), "a refusal shows no subject");
}

#[tokio::test]
async fn another_tenants_id_is_404_and_recorded_in_both_logs() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/clients/g-9", &[("x-user", "olivia")]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(json(&body), json!({ "error": "not found" }));
    let mine = w.logs.records("acme");
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].2.as_str(), mine[0].3),
        ("Client:g-9", Outcome::Denied)
    );
    let theirs = w.logs.records("globex");
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].0, "acme/olivia");
    assert_eq!(theirs[0].1, "client.cross_tenant");
}

#[tokio::test]
async fn an_undeclared_field_fails_closed() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/leaky/c-1", &[("x-user", "olivia")]).await;
    assert_eq!(r.status(), 500);
    assert!(!body.contains("owes money"), "{body}");
    assert_eq!(w.logs.records("acme")[0].3, Outcome::Failure);
}

#[tokio::test]
async fn a_body_that_did_not_go_through_the_guard_fails_closed() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/raw/c-1", &[("x-user", "otto")]).await;
    assert_eq!(r.status(), 500);
    assert!(!body.contains("601"), "{body}");
}

#[tokio::test]
async fn no_answer_leaves_without_its_record() {
    let w = world();
    w.logs.fail.store(true, Ordering::Relaxed);
    let (r, body) = call(&w.router, "GET", "/clients/c-1", &[("x-user", "olivia")]).await;
    assert_eq!(r.status(), 500);
    assert!(!body.contains("601"), "{body}");
}

#[tokio::test]
async fn a_blocked_user_is_refused_at_once_and_its_sessions_end() {
    let w = world();
    let (r, _) = call(&w.router, "GET", "/clients/c-1", &[("x-user", "otto")]).await;
    assert_eq!(r.status(), 200);
    let mut doc = palisade_rbac::PolicyDocument::from_toml(POLICY).unwrap();
    doc.unchecked().block("otto").unwrap();
    w.policies.replace(doc.compile());
    let (r, body) = call(&w.router, "GET", "/clients/c-1", &[("x-user", "otto")]).await;
    assert_eq!(r.status(), 401, "{body}");
    assert_eq!(json(&body)["error"], "the account is blocked");
    assert_eq!(*w.sessions.ended.lock().unwrap(), vec!["otto".to_owned()]);
    assert_eq!(w.logs.records("acme").last().unwrap().3, Outcome::Denied);
}

#[tokio::test]
async fn viewing_as_a_user_shows_exactly_their_answers_and_changes_nothing() {
    let w = world();
    let (_, as_otto) = call(&w.router, "GET", "/clients/c-1", &[("x-user", "otto")]).await;
    let (r, viewed) = call(
        &w.router,
        "GET",
        "/clients/c-1",
        &[("x-user", "otto"), ("x-viewer", "olivia")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(as_otto, viewed, "the same masks as the user");
    let (r, body) = call(
        &w.router,
        "PUT",
        "/clients/c-1",
        &[("x-user", "otto"), ("x-viewer", "olivia")],
    )
    .await;
    assert_eq!(r.status(), 403, "{body}");
    assert_eq!(
        json(&body)["error"],
        "read-only while viewing as another user"
    );
    let records = w.logs.records("acme");
    assert_eq!(records[1].0, "olivia as otto");
    assert_eq!(records[2].0, "olivia as otto");
    assert_eq!(records[2].3, Outcome::Denied);
}

#[tokio::test]
async fn export_needs_a_fresh_step_up_and_neutralises_formulas() {
    let w = world();
    let (r, body) = call(&w.router, "GET", "/clients/export", &[("x-user", "olivia")]).await;
    assert_eq!(r.status(), 403, "{body}");
    assert_eq!(r.headers()["x-step-up"], "required");
    let stale = (1_000_000 - 301).to_string();
    let (r, _) = call(
        &w.router,
        "GET",
        "/clients/export",
        &[("x-user", "olivia"), ("x-step-up", &stale)],
    )
    .await;
    assert_eq!(r.status(), 403);
    let fresh = (1_000_000 - 10).to_string();
    let (r, body) = call(
        &w.router,
        "GET",
        "/clients/export",
        &[("x-user", "olivia"), ("x-step-up", &fresh)],
    )
    .await;
    assert_eq!(r.status(), 200, "{body}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(body.contains("\"'=HYPERLINK"), "{body}");
    assert!(body.starts_with("\"id\",\"name\",\"phone\"\n"), "{body}");
    w.now.store(0, Ordering::Relaxed);
}

#[tokio::test]
async fn named_quotas_answer_429_with_retry_after() {
    let w = world();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (r, _) = call(&w.router, "POST", "/search", &[("x-user", "olivia")]).await;
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn cross_site_changes_are_refused_before_any_handler() {
    let w = world();
    for headers in [
        [("x-user", "olivia"), ("origin", "https://evil.example")],
        [("x-user", "olivia"), ("sec-fetch-site", "cross-site")],
    ] {
        let (r, body) = call(&w.router, "PUT", "/clients/c-1", &headers).await;
        assert_eq!(r.status(), 403, "{body}");
        assert_eq!(json(&body)["error"], "cross-site request refused");
    }
    assert!(w.logs.records("acme").is_empty(), "no handler ran");
    let (r, _) = call(
        &w.router,
        "PUT",
        "/clients/c-1",
        &[("x-user", "olivia"), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(r.status(), 204);
    let (r, _) = call(&w.router, "GET", "/clients/c-1", &[("x-user", "olivia")]).await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
}

/// A refusal answered before the request's body was read closes the
/// connection and says so (the server cannot find the next request on it;
/// a client that reused it would see it closed under its next request).
#[tokio::test]
async fn a_refusal_before_the_body_is_read_says_the_connection_closes() {
    let w = world();
    let refused = call_with_body(
        &w.router,
        "POST",
        "/notes",
        &[("sec-fetch-site", "cross-site")],
        "hello",
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["connection"], "close");
    let read = call_with_body(
        &w.router,
        "POST",
        "/notes",
        &[("sec-fetch-site", "same-origin")],
        "hello",
    )
    .await;
    assert_eq!(read.status(), 204);
    assert!(
        read.headers().get("connection").is_none(),
        "body read: kept"
    );
    let (r, _) = call(&w.router, "GET", "/clients/c-1", &[("x-user", "olivia")]).await;
    assert!(r.headers().get("connection").is_none(), "no body: kept");
}
