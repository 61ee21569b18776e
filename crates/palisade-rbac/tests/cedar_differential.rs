//! Differential test against Cedar (`cedar-policy`, the reference engine
//! whose semantics palisade-rbac follows: deny overrides allow, default
//! deny). Random role models are translated to Cedar policies and entities,
//! and both engines must agree on every random request, including on
//! *why* a request is denied: Palisade's `Forbidden` must be exactly
//! Cedar's "deny with a non-empty reason set" (a forbid policy matched).
//!
//! Translation: user `u` is `User::"u"` with attribute `blocked`; a role `r`
//! held in every tenant is `Role::"*/r"`, held in tenant `t` `Role::"t/r"`;
//! inheritance makes `Role::"s/r"` a member of `Role::"s/p"`. Each rule of
//! role `r` becomes one policy per scope `s`, tenant scopes guarded by
//! `context.tenant == "t"`; a user's own rules use `principal == User::"u"`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::fmt::Write as _;
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use common::{Ask, Model, Operand, Rng, Rule, Scalar};
use palisade_rbac::Outcome;
use serde_json::{Value, json};

fn cedar_scalar(s: &Scalar) -> String {
    match s {
        Scalar::Bool(b) => b.to_string(),
        Scalar::Long(n) => n.to_string(),
        Scalar::Str(s) => format!("{s:?}"),
    }
}

fn cedar_condition(rule: &Rule) -> Vec<String> {
    let mut parts = Vec::new();
    if rule.owner {
        parts.push("resource has owner && resource.owner == principal".to_owned());
    }
    for c in &rule.when {
        let key = c.key;
        let test = match (&c.value, c.op) {
            (Operand::List(items), _) => {
                let items: Vec<String> = items.iter().map(cedar_scalar).collect();
                format!("[{}].contains(context.{key})", items.join(", "))
            }
            (Operand::Scalar(v), op) => {
                let symbol = match op {
                    "eq" => "==",
                    "ne" => "!=",
                    "lt" => "<",
                    "le" => "<=",
                    "gt" => ">",
                    _ => ">=",
                };
                format!("context.{key} {symbol} {}", cedar_scalar(v))
            }
        };
        parts.push(format!("(context has {key} && {test})"));
    }
    parts
}

fn cedar_policy(
    model: &Model,
    out: &mut String,
    principal: &str,
    scope: Option<usize>,
    rule: &Rule,
) {
    let actions: Vec<String> = rule
        .actions
        .iter()
        .flat_map(|a| model.expand(a))
        .map(|(t, a)| format!("Action::\"T{t}:a{a}\""))
        .collect();
    let mut conditions = cedar_condition(rule);
    if let Some(t) = scope {
        conditions.insert(
            0,
            format!("(context has tenant && context.tenant == \"t{t}\")"),
        );
    }
    let effect = if rule.allow { "permit" } else { "forbid" };
    write!(
        out,
        "{effect}(principal {principal}, action in [{}], resource)",
        actions.join(", ")
    )
    .unwrap();
    if !conditions.is_empty() {
        write!(out, " when {{ {} }}", conditions.join(" && ")).unwrap();
    }
    out.push_str(";\n");
}

fn to_cedar(model: &Model) -> (PolicySet, Entities) {
    let mut text =
        String::from("forbid(principal, action, resource) when { principal.blocked };\n");
    let scopes: Vec<Option<usize>> = std::iter::once(None)
        .chain((0..model.tenants).map(Some))
        .collect();
    let scope_name = |s: Option<usize>| s.map_or("*".to_owned(), |t| format!("t{t}"));
    for (r, role) in model.roles.iter().enumerate() {
        for scope in &scopes {
            let principal = format!("in Role::\"{}/r{r}\"", scope_name(*scope));
            for rule in &role.rules {
                cedar_policy(model, &mut text, &principal, *scope, rule);
            }
        }
    }
    for (u, user) in model.users.iter().enumerate() {
        for rule in &user.rules {
            cedar_policy(model, &mut text, &format!("== User::\"u{u}\""), None, rule);
        }
    }
    let policies = PolicySet::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));

    let mut entities = Vec::new();
    for scope in &scopes {
        for (r, role) in model.roles.iter().enumerate() {
            let parents: Vec<Value> = role
                .inherits
                .iter()
                .map(|p| json!({"type": "Role", "id": format!("{}/r{p}", scope_name(*scope))}))
                .collect();
            entities.push(json!({
                "uid": {"type": "Role", "id": format!("{}/r{r}", scope_name(*scope))},
                "attrs": {},
                "parents": parents,
            }));
        }
    }
    for (u, user) in model.users.iter().enumerate() {
        let mut parents: Vec<Value> = user
            .global
            .iter()
            .map(|r| json!({"type": "Role", "id": format!("*/r{r}")}))
            .collect();
        for (t, roles) in &user.tenants {
            parents.extend(
                roles
                    .iter()
                    .map(|r| json!({"type": "Role", "id": format!("t{t}/r{r}")})),
            );
        }
        entities.push(json!({
            "uid": {"type": "User", "id": format!("u{u}")},
            "attrs": {"blocked": user.blocked},
            "parents": parents,
        }));
    }
    for (t, id, owner) in &model.resources {
        let attrs = match owner {
            Some(o) => json!({"owner": {"__entity": {"type": "User", "id": format!("u{o}")}}}),
            None => json!({}),
        };
        entities.push(json!({
            "uid": {"type": format!("T{t}"), "id": format!("r{id}")},
            "attrs": attrs,
            "parents": [],
        }));
    }
    let entities = Entities::from_json_value(Value::Array(entities), None).unwrap();
    (policies, entities)
}

fn cedar_decide(ask: &Ask, policies: &PolicySet, entities: &Entities) -> Outcome {
    let uid = |ty: &str, id: &str| EntityUid::from_str(&format!("{ty}::{id:?}")).unwrap();
    let mut context = serde_json::Map::new();
    if let Some(t) = &ask.tenant {
        context.insert("tenant".to_owned(), json!(t));
    }
    for (key, value) in &ask.context {
        let value = match value {
            Scalar::Bool(b) => json!(b),
            Scalar::Long(n) => json!(n),
            Scalar::Str(s) => json!(s),
        };
        context.insert((*key).to_owned(), value);
    }
    let request = Request::new(
        uid("User", &ask.principal),
        uid("Action", &format!("{}:{}", ask.type_name, ask.action)),
        uid(&ask.type_name, &ask.id),
        Context::from_json_value(Value::Object(context), None).unwrap(),
        None,
    )
    .unwrap();
    let response = Authorizer::new().is_authorized(&request, policies, entities);
    match response.decision() {
        Decision::Allow => Outcome::Allow,
        Decision::Deny if response.diagnostics().reason().next().is_some() => Outcome::Forbidden,
        Decision::Deny => Outcome::NotPermitted,
    }
}

#[test]
fn agrees_with_cedar_on_random_models() {
    const MODELS: u64 = 500;
    const REQUESTS_PER_MODEL: usize = 240;
    let mut requests = 0usize;
    let mut refused = 0usize;
    let mut tally = [0usize; 3];
    for seed in 0..MODELS {
        let mut rng = Rng::new(0x5EED_0000 + seed);
        let model = Model::random(&mut rng);
        let policy = model.compile();
        let (policies, entities) = to_cedar(&model);
        for _ in 0..REQUESTS_PER_MODEL {
            let ask = model.random_request(&mut rng);
            // An undeclared tenant is refused (checked inside `decide`); Cedar has no tenants.
            let Some(ours) = ask.decide(&policy) else {
                refused += 1;
                continue;
            };
            let theirs = cedar_decide(&ask, &policies, &entities);
            assert_eq!(
                ours,
                theirs,
                "seed {seed}: {ask:?}\n--- policy ---\n{}\n--- cedar ---\n{policies}",
                model.to_toml()
            );
            tally[match ours {
                Outcome::Allow => 0,
                Outcome::Forbidden => 1,
                Outcome::NotPermitted => 2,
            }] += 1;
            requests += 1;
        }
    }
    println!(
        "palisade-rbac and cedar-policy agreed on {requests} requests over {MODELS} random models \
         (allow {}, forbidden {}, not permitted {}; {refused} in undeclared tenants refused)",
        tally[0], tally[1], tally[2]
    );
    assert!(requests >= 100_000);
    assert!(refused > 0, "undeclared tenants are exercised");
    // Every outcome is well represented, so agreement is not trivial.
    assert!(tally.iter().all(|n| *n >= requests / 20), "{tally:?}");
}
