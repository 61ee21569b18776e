//! Decisions, explanations, permissions and grantees serialize in the
//! documented shapes, for log lines, API answers and `palisade policy --json`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use palisade_rbac::{Policy, Request, Resource};
use serde_json::json;

const POLICY: &str = r#"
[types.Client]
actions = ["read", "export"]
fields = ["phone"]

[roles.Staff]
allow = ["Client:read"]

[[roles.Staff.rules]]
effect = "allow"
actions = ["Client:export"]
when = [{ context = "rows", op = "le", value = 100 }]

[tenants.t]
owners = ["root"]
owner_role = "Staff"

[users.root]
tenants = { t = ["Staff"] }

[users.bo]
tenants = { t = ["Staff"] }
deny = ["Client:read"]
"#;

#[test]
fn decisions_and_explanations_serialize() {
    let policy = Policy::from_toml(POLICY).unwrap();
    let read = Request::new("bo", "read", Resource::new("Client", "1")).in_tenant("t");
    assert_eq!(
        serde_json::to_value(policy.decide(&read).unwrap()).unwrap(),
        json!({"outcome": "forbidden", "allowed": false, "fields": [{"field": "phone", "visibility": "hidden"}]})
    );
    assert_eq!(
        serde_json::to_value(policy.explain(&read).unwrap()).unwrap(),
        json!({
            "outcome": "forbidden",
            "rules": [{"path": "users.bo.deny[0]", "effect": "deny", "description": "`Client:read`"}],
            "summary": policy.explain(&read).unwrap().summary,
        })
    );
}

#[test]
fn permissions_and_grantees_serialize_flat() {
    let policy = Policy::from_toml(POLICY).unwrap();
    let permissions = serde_json::to_value(policy.permissions("root", Some("t")).unwrap()).unwrap();
    assert_eq!(
        permissions,
        json!([
            {"resource_type": "Client", "action": "read", "access": "allowed"},
            {"resource_type": "Client", "action": "export", "access": "conditional", "allow_if": ["context.rows <= 100"], "deny_if": []},
        ])
    );
    let grantees = policy
        .who_can("read", Resource::new("Client", "1"), Some("t"), None)
        .unwrap();
    assert_eq!(
        serde_json::to_value(grantees).unwrap(),
        json!([{"principal": "root", "tenant": "t"}])
    );
}
