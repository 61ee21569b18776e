//! palisade-rbac against cedar-policy and casbin on the same RBAC model at
//! casbin's benchmark sizes: users `u{i}` hold role `g{i/10}`, role `g{j}`
//! may `read` object `d{j/10}` (small: 1k users / 100 roles, medium: 10k /
//! 1k, large: 100k / 10k). Each engine answers the same 64 requests in turn,
//! half allowed, half denied. Cedar's requests are built once outside the
//! timing loop (which favours Cedar); Palisade and casbin take plain strings.
//!
//! Run: `cargo bench -p palisade-benches --bench rbac -- --warm-up-time 1 --measurement-time 4`
//! (`RBAC_SIZES=small,medium` to skip sizes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark setup fails loudly"
)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use criterion::{Criterion, criterion_group, criterion_main};
use palisade_rbac::{Policy, Request, Resource};

const CASBIN_MODEL: &str = "
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
";

struct Size {
    name: &'static str,
    users: usize,
    roles: usize,
}

const SIZES: [Size; 3] = [
    Size {
        name: "small_1k_users_100_roles",
        users: 1_000,
        roles: 100,
    },
    Size {
        name: "medium_10k_users_1k_roles",
        users: 10_000,
        roles: 1_000,
    },
    Size {
        name: "large_100k_users_10k_roles",
        users: 100_000,
        roles: 10_000,
    },
];

/// (user, object, expected) triples: half allowed, half denied.
fn requests(size: &Size) -> Vec<(String, String, bool)> {
    let objects = size.roles / 10;
    (0..64)
        .map(|k| {
            let user = (k * 7919 + 13) % size.users;
            let object = user / 10 / 10;
            if k % 2 == 0 {
                (format!("u{user}"), format!("d{object}"), true)
            } else {
                (
                    format!("u{user}"),
                    format!("d{}", (object + 1) % objects),
                    false,
                )
            }
        })
        .collect()
}

fn palisade(size: &Size) -> Policy {
    let mut text = String::new();
    for d in 0..size.roles / 10 {
        writeln!(text, "[types.d{d}]\nactions = [\"read\", \"write\"]").unwrap();
    }
    for g in 0..size.roles {
        writeln!(text, "[roles.g{g}]\nallow = [\"d{}:read\"]", g / 10).unwrap();
    }
    for u in 0..size.users {
        writeln!(text, "[users.u{u}]\nroles = [\"g{}\"]", u / 10).unwrap();
    }
    Policy::from_toml(&text).unwrap()
}

fn cedar(size: &Size) -> (cedar_policy::PolicySet, cedar_policy::Entities) {
    let mut text = String::new();
    for g in 0..size.roles {
        writeln!(
            text,
            "permit(principal in Role::\"g{g}\", action == Action::\"read\", resource == Data::\"d{}\");",
            g / 10
        )
        .unwrap();
    }
    let policies = cedar_policy::PolicySet::from_str(&text).unwrap();
    let mut entities: Vec<serde_json::Value> = (0..size.roles)
        .map(|g| serde_json::json!({"uid": {"type": "Role", "id": format!("g{g}")}, "attrs": {}, "parents": []}))
        .collect();
    entities.extend((0..size.users).map(|u| {
        serde_json::json!({
            "uid": {"type": "User", "id": format!("u{u}")},
            "attrs": {},
            "parents": [{"type": "Role", "id": format!("g{}", u / 10)}],
        })
    }));
    let entities =
        cedar_policy::Entities::from_json_value(serde_json::Value::Array(entities), None).unwrap();
    (policies, entities)
}

fn casbin(size: &Size) -> Enforcer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let model = DefaultModel::from_str(CASBIN_MODEL).await.unwrap();
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
            .await
            .unwrap();
        let policies = (0..size.roles)
            .map(|g| vec![format!("g{g}"), format!("d{}", g / 10), "read".to_owned()])
            .collect();
        enforcer.add_policies(policies).await.unwrap();
        let groupings = (0..size.users)
            .map(|u| vec![format!("u{u}"), format!("g{}", u / 10)])
            .collect();
        enforcer.add_grouping_policies(groupings).await.unwrap();
        enforcer
    })
}

fn bench(c: &mut Criterion) {
    let wanted = std::env::var("RBAC_SIZES").unwrap_or_else(|_| "small,medium,large".to_owned());
    for size in SIZES
        .iter()
        .filter(|s| wanted.split(',').any(|w| s.name.starts_with(w)))
    {
        let asked = requests(size);

        let started = Instant::now();
        let policy = palisade(size);
        let palisade_build = started.elapsed();
        let started = Instant::now();
        let (policies, entities) = cedar(size);
        let cedar_build = started.elapsed();
        let started = Instant::now();
        let enforcer = casbin(size);
        let casbin_build = started.elapsed();
        eprintln!(
            "{}: build palisade {palisade_build:.2?} (snapshot {} bytes = {:.1} MiB), cedar {cedar_build:.2?}, casbin {casbin_build:.2?}",
            size.name,
            policy.memory_bytes(),
            policy.memory_bytes() as f64 / (1024.0 * 1024.0),
        );

        let cedar_requests: Vec<cedar_policy::Request> = asked
            .iter()
            .map(|(user, object, _)| {
                cedar_policy::Request::new(
                    cedar_policy::EntityUid::from_str(&format!("User::{user:?}")).unwrap(),
                    cedar_policy::EntityUid::from_str("Action::\"read\"").unwrap(),
                    cedar_policy::EntityUid::from_str(&format!("Data::{object:?}")).unwrap(),
                    cedar_policy::Context::empty(),
                    None,
                )
                .unwrap()
            })
            .collect();
        let authorizer = cedar_policy::Authorizer::new();
        // All three engines agree on every request before anything is timed.
        for ((user, object, expected), cedar_request) in asked.iter().zip(&cedar_requests) {
            let request = Request::new(user, "read", Resource::new(object, ""));
            assert_eq!(
                policy.decide(&request).is_ok_and(|d| d.is_allowed()),
                *expected,
                "palisade {user} {object}"
            );
            let cedar = authorizer.is_authorized(cedar_request, &policies, &entities);
            assert_eq!(
                cedar.decision() == cedar_policy::Decision::Allow,
                *expected,
                "cedar"
            );
            let casbin = enforcer
                .enforce((user.as_str(), object.as_str(), "read"))
                .unwrap();
            assert_eq!(casbin, *expected, "casbin {user} {object}");
        }

        let mut group = c.benchmark_group(format!("rbac_check/{}", size.name));
        group.sample_size(if size.users >= 100_000 { 10 } else { 20 });
        let mut i = 0usize;
        group.bench_function("palisade", |b| {
            b.iter(|| {
                i = (i + 1) & 63;
                let (user, object, _) = &asked[i];
                let request = Request::new(user, "read", Resource::new(object, ""));
                black_box(
                    policy
                        .decide(black_box(&request))
                        .is_ok_and(|d| d.is_allowed()),
                )
            });
        });
        group.bench_function("cedar", |b| {
            b.iter(|| {
                i = (i + 1) & 63;
                let response = authorizer.is_authorized(&cedar_requests[i], &policies, &entities);
                black_box(response.decision() == cedar_policy::Decision::Allow)
            });
        });
        group.bench_function("casbin", |b| {
            b.iter(|| {
                i = (i + 1) & 63;
                let (user, object, _) = &asked[i];
                black_box(
                    enforcer
                        .enforce((user.as_str(), object.as_str(), "read"))
                        .unwrap(),
                )
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
