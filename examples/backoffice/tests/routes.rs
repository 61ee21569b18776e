//! Every route, as every role of two tenants, against the policy: each
//! answer's status is the one `Policy::decide` implies, each field of a
//! client is present, masked or absent as the user's field rights say,
//! nested invoices and attachments appear only for who may read them,
//! another tenant's ids are 404, and every decision is in the tenant's
//! audit log, which verifies at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use std::sync::Arc;

use common::{Browser, Server};
use palisade_backoffice::{Demo, DemoUser};
use palisade_rbac::{Policy, Request, Resource, Visibility};
use serde_json::{Value, json};

fn sign_in(server: &Server, tenant: &str, user: &DemoUser) -> Browser {
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": tenant, "email": user.email, "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let code = user.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "{}", a.text);
    let a = c.post(
        "/api/step-up",
        json!({ "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    server.app.clock().advance(30);
    c
}

fn decide(
    policy: &Policy,
    user: &str,
    tenant: &str,
    action: &str,
    type_name: &str,
    id: &str,
) -> bool {
    let mut resource = Resource::new(type_name, id);
    if type_name == "Account" {
        resource = resource.owned_by(id);
    }
    policy
        .decide(&Request::new(user, action, resource).in_tenant(tenant))
        .expect("the caller's tenant is declared in its policy")
        .is_allowed()
}

/// One route to walk: what it asks of the policy, and how to call it.
struct Route {
    method: &'static str,
    /// With `{client}`, `{attachment}`, `{user}`, `{booking}`, `{invoice}`,
    /// `{tariff}` replaced per call.
    path: &'static str,
    /// (type, action, id placeholder) of every decision the route makes.
    decisions: &'static [(&'static str, &'static str, &'static str)],
    body: fn(usize) -> Value,
    /// Whether the route creates a fresh target per call (it destroys or
    /// changes the one it is given).
    fresh_target: bool,
}

fn no_body(_: usize) -> Value {
    json!({})
}

const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/api/clients",
        decisions: &[("Client", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/clients/{client}",
        decisions: &[("Client", "read", "client")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/clients",
        decisions: &[("Client", "create", "*")],
        body: |n| json!({ "name": format!("Walker {n}"), "phone": format!("+48 602 100 {:03}", n % 1000), "email": format!("w{n}@mail.example") }),
        fresh_target: false,
    },
    Route {
        method: "PUT",
        path: "/api/clients/{client}",
        decisions: &[("Client", "edit", "client")],
        body: |n| json!({ "name": format!("Renamed {n}") }),
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/clients/search",
        decisions: &[("Client", "search", "*")],
        body: |_| json!({ "phone": "+48 601 101 211" }),
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/clients/export",
        decisions: &[("Client", "export", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/clients/{client}/erasure",
        decisions: &[("Client", "erase", "client")],
        body: no_body,
        fresh_target: true,
    },
    Route {
        method: "POST",
        path: "/api/clients/{client}/attachments",
        decisions: &[("Attachment", "create", "*"), ("Client", "read", "client")],
        body: |n| json!({ "file_name": format!("f{n}.txt"), "body": "text" }),
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/clients/{client}/invoices",
        decisions: &[("Invoice", "create", "*"), ("Client", "read", "client")],
        body: |_| json!({ "amount_cents": 1200 }),
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/attachments/{attachment}/close",
        decisions: &[("Attachment", "close", "attachment")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "PUT",
        path: "/api/attachments/{attachment}/hold",
        decisions: &[("Attachment", "hold", "attachment")],
        body: |_| json!({ "hold": "case-9" }),
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/users",
        decisions: &[("Account", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/users",
        decisions: &[("Account", "create", "*")],
        body: |n| json!({ "email": format!("new{n}@walk.example"), "name": "New Hire", "role": "Operator", "password": format!("amber-falcon-hike-{n}") }),
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/users/{user}/block",
        decisions: &[("Account", "block", "user")],
        body: no_body,
        fresh_target: true,
    },
    Route {
        method: "POST",
        path: "/api/users/{user}/unblock",
        decisions: &[("Account", "block", "user")],
        body: no_body,
        fresh_target: true,
    },
    Route {
        method: "PUT",
        path: "/api/users/{user}/rights",
        decisions: &[("Account", "set_rights", "user")],
        body: |_| json!({ "deny": ["Attachment:hold"] }),
        fresh_target: true,
    },
    Route {
        method: "POST",
        path: "/api/users/{user}/second-factor/unlock",
        decisions: &[("Account", "unlock_factor", "user")],
        body: no_body,
        fresh_target: true,
    },
    Route {
        method: "DELETE",
        path: "/api/users/{user}",
        decisions: &[("Account", "delete", "user")],
        body: no_body,
        fresh_target: true,
    },
    Route {
        method: "POST",
        path: "/api/users/{user}/second-factor/reset",
        decisions: &[("Account", "reset_factor", "user")],
        body: no_body,
        fresh_target: true,
    },
    Route {
        method: "GET",
        path: "/api/audit/actions?user={user}",
        decisions: &[("Audit", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/audit/access?client={client}&field=phone",
        decisions: &[("Audit", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/incidents/report?user={user}&from=0&to=4102444800",
        decisions: &[("Incident", "report", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/alerts",
        decisions: &[("Alert", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/downloads",
        decisions: &[("Download", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/attachments/{attachment}",
        decisions: &[("Attachment", "read", "attachment")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/bookings",
        decisions: &[("Booking", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/clients/{client}/bookings",
        decisions: &[("Booking", "create", "*"), ("Client", "read", "client")],
        body: |n| json!({ "starts": 4_100_000_000_i64 + i64::try_from(n).unwrap() * 3600, "minutes": 45 }),
        fresh_target: false,
    },
    Route {
        method: "PUT",
        path: "/api/bookings/{booking}",
        decisions: &[("Booking", "edit", "booking")],
        body: |_| json!({ "minutes": 60 }),
        fresh_target: false,
    },
    Route {
        method: "DELETE",
        path: "/api/bookings/{booking}",
        decisions: &[("Booking", "delete", "booking")],
        body: no_body,
        fresh_target: true,
    },
    Route {
        method: "GET",
        path: "/api/invoices",
        decisions: &[("Invoice", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/invoices/{invoice}/payments",
        decisions: &[("Payment", "create", "*"), ("Invoice", "read", "invoice")],
        body: |_| json!({ "amount_cents": 100 }),
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/payments",
        decisions: &[("Payment", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/tariffs",
        decisions: &[("Tariff", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/tariffs",
        decisions: &[("Tariff", "create", "*")],
        body: |n| json!({ "name": format!("Walk {n}"), "price_cents": 1200 }),
        fresh_target: false,
    },
    Route {
        method: "PUT",
        path: "/api/tariffs/{tariff}",
        decisions: &[("Tariff", "edit", "tariff")],
        body: |_| json!({ "amount_cents": 1300 }),
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/analytics",
        decisions: &[("Analytics", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/statistics",
        decisions: &[("Statistics", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/statistics/{user}",
        decisions: &[("Statistics", "read", "user")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/settings",
        decisions: &[("Settings", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "PUT",
        path: "/api/settings",
        decisions: &[("Settings", "edit", "*")],
        body: |_| json!({ "work_starts": 0, "work_ends": 24 }),
        fresh_target: false,
    },
    Route {
        method: "POST",
        path: "/api/retention/sweep",
        decisions: &[("Retention", "run", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/audit/bundle",
        decisions: &[("Audit", "export", "*")],
        body: no_body,
        fresh_target: false,
    },
    Route {
        method: "GET",
        path: "/api/audit/verify",
        decisions: &[("Audit", "read", "*")],
        body: no_body,
        fresh_target: false,
    },
];

/// Targets a route acts on: a client, an attachment, an employee.
struct Targets {
    client: String,
    attachment: String,
    user: String,
    booking: String,
    invoice: String,
    tariff: String,
}

/// A fresh client (with an attachment) and a fresh Operator, made by the owner.
fn fresh_targets(owner: &mut Browser, n: usize) -> Targets {
    let a = owner.post(
        "/api/clients",
        json!({ "name": format!("Target {n}"), "phone": format!("+48 603 200 {:03}", n % 1000), "email": format!("t{n}@mail.example") }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let client = a.json()["id"].as_str().unwrap().to_owned();
    let a = owner.post(
        &format!("/api/clients/{client}/attachments"),
        json!({ "file_name": "t.txt", "body": "x" }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let attachment = a.json()["id"].as_str().unwrap().to_owned();
    let a = owner.post(
        "/api/users",
        json!({ "email": format!("target{n}@walk.example"), "name": "Target", "role": "Operator", "password": format!("amber-falcon-quill-{n}") }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let user = a.json()["id"].as_str().unwrap().to_owned();
    let id = |a: common::Answer| {
        assert_eq!(a.status, 201, "{}", a.text);
        a.json()["id"].as_str().unwrap().to_owned()
    };
    let booking = id(owner.post(
        &format!("/api/clients/{client}/bookings"),
        json!({ "starts": 4_000_000_000_i64 + i64::try_from(n).unwrap() * 3600, "minutes": 30, "note": "walk" }),
    ));
    let invoice = id(owner.post(
        &format!("/api/clients/{client}/invoices"),
        json!({ "amount_cents": 5000 }),
    ));
    let tariff = id(owner.post(
        "/api/tariffs",
        json!({ "name": format!("Tariff {n}"), "price_cents": 900 }),
    ));
    Targets {
        client,
        attachment,
        user,
        booking,
        invoice,
        tariff,
    }
}

fn fill(path: &str, t: &Targets) -> String {
    path.replace("{client}", &t.client)
        .replace("{attachment}", &t.attachment)
        .replace("{user}", &t.user)
        .replace("{booking}", &t.booking)
        .replace("{invoice}", &t.invoice)
        .replace("{tariff}", &t.tariff)
}

fn id_of<'a>(placeholder: &str, t: &'a Targets) -> &'a str {
    match placeholder {
        "client" => &t.client,
        "attachment" => &t.attachment,
        "user" => &t.user,
        "booking" => &t.booking,
        "invoice" => &t.invoice,
        "tariff" => &t.tariff,
        _ => "*",
    }
}

fn visibility(policy: &Policy, user: &str, tenant: &str, field: &str) -> Visibility {
    policy
        .field_rights_of(user, Some(tenant), "Client")
        .unwrap()
        .iter()
        .find(|f| f.field == field)
        .map_or(Visibility::Visible, |f| f.visibility)
}

/// Checks a client as shown to `user` against its field rights and the
/// read decisions of the nested types.
fn check_client(c: &Value, policy: &Policy, user: &str, tenant: &str, nested: bool, what: &str) {
    for field in ["name", "phone", "email"] {
        let shown = c.get(field).and_then(Value::as_str);
        match visibility(policy, user, tenant, field) {
            Visibility::Hidden => assert!(shown.is_none(), "{what}: {field} hidden: {c}"),
            Visibility::Masked => assert!(
                shown.is_some_and(|v| v.contains('X')),
                "{what}: {field} masked: {c}"
            ),
            Visibility::Visible => assert!(
                shown.is_some_and(|v| !v.contains("XXX")),
                "{what}: {field} visible: {c}"
            ),
        }
    }
    let may_invoices = decide(policy, user, tenant, "read", "Invoice", "*");
    let may_attachments = decide(policy, user, tenant, "read", "Attachment", "*");
    if nested {
        assert_eq!(
            c.get("invoices").is_some(),
            may_invoices,
            "{what}: invoices: {c}"
        );
        assert_eq!(
            c.get("attachments").is_some(),
            may_attachments,
            "{what}: attachments: {c}"
        );
    } else {
        assert!(
            c.get("invoices").is_none() && c.get("attachments").is_none(),
            "{what}: {c}"
        );
    }
}

fn records_since(server: &Server, tenant: &str, from: usize) -> Vec<palisade_audit::Record> {
    server
        .app
        .export_evidence(tenant, Some(u64::try_from(from).unwrap()), None)
        .unwrap()
        .records
        .iter()
        .map(|r| palisade_audit::Record::decode(&r.record).unwrap())
        .collect()
}

fn audit_len(server: &Server, tenant: &str) -> usize {
    server
        .app
        .export_evidence(tenant, None, None)
        .unwrap()
        .records
        .len()
}

fn walk(server: &Server, tenant: &str, demo: &Demo, other: &Demo) {
    let owner = demo.user("Administrator").unwrap();
    let mut olivia = sign_in(server, tenant, owner);
    let mut n = 0;
    let shared = fresh_targets(&mut olivia, 0);
    for user in &demo.users {
        let mut c = sign_in(server, tenant, user);
        let policy: Arc<Policy> = server.app.policy(tenant).unwrap();
        for route in ROUTES {
            n += 1;
            let targets = if route.fresh_target {
                fresh_targets(&mut olivia, n)
            } else {
                Targets {
                    client: shared.client.clone(),
                    attachment: shared.attachment.clone(),
                    user: shared.user.clone(),
                    booking: shared.booking.clone(),
                    invoice: shared.invoice.clone(),
                    tariff: shared.tariff.clone(),
                }
            };
            let what = format!("{tenant} {} {} {}", user.role, route.method, route.path);
            let mut allowed = route.decisions.iter().all(|(ty, action, id)| {
                decide(&policy, &user.id, tenant, action, ty, id_of(id, &targets))
            });
            if route.path == "/api/clients/search" {
                allowed &= visibility(&policy, &user.id, tenant, "phone") == Visibility::Visible;
            }
            let before = audit_len(server, tenant);
            let path = fill(route.path, &targets);
            let a = match route.method {
                "GET" => c.get(&path),
                method => c.send(method, &path, (route.body)(n)),
            };
            let expected = if allowed { "2xx" } else { "403" };
            assert!(
                if allowed {
                    (200..300).contains(&a.status)
                } else {
                    a.status == 403
                },
                "{what}: expected {expected}, got {} {}",
                a.status,
                a.text
            );
            // Every decision the route made is in the log, in order, up to
            // the first refusal (later extractors do not run), written
            // before the answer came back.
            let records = records_since(server, tenant, before);
            let mut expected = Vec::new();
            for (ty, action, id) in route.decisions {
                let ok = decide(&policy, &user.id, tenant, action, ty, id_of(id, &targets));
                expected.push((
                    user.id.clone(),
                    format!("{}.{action}", ty.to_lowercase()),
                    format!("{ty}:{}", id_of(id, &targets)),
                    ok,
                ));
                if !ok {
                    break;
                }
            }
            for (actor, action, resource, ok) in &expected {
                // A decision the policy allowed is still recorded as denied
                // when the route refuses after it (search by a masked field).
                let outcome = if *ok && allowed {
                    palisade_audit::Outcome::Success
                } else {
                    palisade_audit::Outcome::Denied
                };
                let found = records.iter().any(|r| {
                    r.actor() == actor
                        && r.action() == action
                        && r.resource() == resource
                        && (r.outcome() == outcome
                            || *ok && !allowed && r.outcome() == palisade_audit::Outcome::Success)
                });
                assert!(
                    found,
                    "{what}: no record of {actor} {action} {resource} {outcome:?} in {:?}",
                    records
                        .iter()
                        .map(|r| (
                            r.actor().to_owned(),
                            r.action().to_owned(),
                            r.resource().to_owned(),
                            r.outcome()
                        ))
                        .collect::<Vec<_>>()
                );
            }
            if allowed && route.path.starts_with("/api/clients") && route.method == "GET" {
                let body = a.json();
                if route.path.ends_with("{client}") {
                    check_client(&body, &policy, &user.id, tenant, true, &what);
                } else if route.path == "/api/clients" {
                    for client in body["clients"].as_array().unwrap() {
                        check_client(client, &policy, &user.id, tenant, false, &what);
                    }
                }
            }
            if allowed && route.path == "/api/clients/export" {
                let header = a.text.lines().next().unwrap_or_default().to_owned();
                for field in ["name", "phone", "email"] {
                    let hidden = visibility(&policy, &user.id, tenant, field) == Visibility::Hidden;
                    assert_eq!(!header.contains(field), hidden, "{what}: {header}");
                }
            }
        }
        // Another tenant's client does not exist for this user.
        let a = c.get(&format!("/api/clients/{}", other.clients[0]));
        assert_eq!(a.status, 404, "{tenant} {}: {}", user.role, a.text);
        let a = c.put(
            &format!("/api/clients/{}", other.clients[0]),
            json!({ "name": "x" }),
        );
        assert_eq!(a.status, 404, "{tenant} {}: {}", user.role, a.text);
    }
    let verify = olivia.get("/api/audit/verify").json();
    assert_eq!(verify["ok"], true, "{tenant}: {verify}");
}

#[test]
fn every_route_as_every_role_of_two_tenants() {
    let server = common::start(None);
    let acme = server.app.seed_demo("acme", 6).unwrap();
    let globex = server.app.seed_demo("globex", 6).unwrap();
    walk(&server, "acme", &acme, &globex);
    walk(&server, "globex", &globex, &acme);
    // Each tenant's log holds the other's probes.
    for (tenant, prober) in [("acme", "globex"), ("globex", "acme")] {
        let bundle = server.app.export_evidence(tenant, None, None).unwrap();
        let probes = bundle
            .records
            .iter()
            .filter(|r| {
                let record = palisade_audit::Record::decode(&r.record).unwrap();
                record.action() == "client.cross_tenant" && record.actor().starts_with(prober)
            })
            .count();
        assert_eq!(probes, 10, "{tenant}: probes by {prober}");
    }
}
