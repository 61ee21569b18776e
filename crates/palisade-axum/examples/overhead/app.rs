//! The app of the guard's cost: one router with the same handler twice,
//! plain (`GET /plain`: serialize a page of 20 clients) and guarded (`GET
//! /guarded`: the same page through `Authorized` and `Guarded`: session
//! lookup, decision, field masking, one audit record in memory per request).
//! Served by `main.rs` (loaded with `wrk` by `benches/axum/overhead.sh`) and
//! called in process by the `guard` criterion bench.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark app: a broken setup aborts the run"
)]

use std::sync::Arc;

use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use palisade_audit::{AuditLog, Event, MemoryStore};
use palisade_axum::{
    Authorized, BoxFuture, DecisionLog, Field, Guard, Guarded, Kind, PolicySource, Principal,
    Protected, Refusal, SessionLookup, Subjects, action, resource,
};
use palisade_rbac::Policy;
use serde::Serialize;

action!(Read = "read");
resource!(Client);

#[derive(Clone, Serialize)]
struct ClientView {
    id: String,
    name: String,
    phone: String,
    email: String,
}

impl Protected for ClientView {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::personal("name", Kind::Custom("NAME")),
        Field::personal("phone", Kind::Phone),
        Field::personal("email", Kind::Email),
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

fn page() -> Vec<ClientView> {
    (0..20)
        .map(|i| ClientView {
            id: format!("c-{i:04}"),
            name: format!("Client Number {i}"),
            phone: format!("+48 601 {:03} {:03}", i * 37 % 1000, i * 53 % 1000),
            email: format!("client.{i}@mail.example"),
        })
        .collect()
}

struct Sessions;
impl SessionLookup for Sessions {
    fn principal<'a>(&'a self, r: &'a Parts) -> BoxFuture<'a, Result<Option<Principal>, Refusal>> {
        let user = r
            .headers
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move { Ok(user.map(|u| Principal::new(u, "acme"))) })
    }
    fn end_sessions<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

struct Policies(Arc<Policy>);
impl PolicySource for Policies {
    fn policy<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Arc<Policy>, Refusal>> {
        Box::pin(async move { Ok(Arc::clone(&self.0)) })
    }
}

struct Log(AuditLog<MemoryStore>);
impl DecisionLog for Log {
    fn record<'a>(&'a self, _: &'a str, e: Event) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move { self.0.append(e).map(|_| ()).map_err(|_| Refusal::Internal) })
    }
}

const POLICY: &str = r#"
[types.Client]
actions = ["read"]
fields = ["name", "phone", "email"]
[roles.Operator]
allow = ["Client:read"]
fields = { "Client.phone" = "masked", "Client.email" = "masked" }
[tenants.acme]
owners = ["olivia"]
owner_role = "Operator"
[users.olivia]
tenants = { acme = ["Operator"] }
[users.otto]
tenants = { acme = ["Operator"] }
"#;

/// The router: `/plain` without any layer, `/guarded` behind the guard's.
pub(crate) fn app() -> Router {
    let policy = Arc::new(Policy::from_toml(POLICY).unwrap());
    let guard = Guard::builder(Sessions, Policies(policy), Log(AuditLog::new())).build();
    let clients = Arc::new(page());
    let plain = {
        let clients = Arc::clone(&clients);
        move || {
            let clients = clients.as_ref().clone();
            async move { Json(ClientList { clients }) }
        }
    };
    let guarded = {
        let clients = Arc::clone(&clients);
        move |auth: Authorized<Read, Client>| {
            let clients = clients.as_ref().clone();
            async move { auth.respond(ClientList { clients }) as Guarded<ClientList> }
        }
    };
    Router::new()
        .route("/guarded", get(guarded))
        .layer(guard.layer())
        .route("/plain", get(plain))
        .with_state(guard)
}
