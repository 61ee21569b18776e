//! Property tests of the claim → role mapping: no claim set gives a role the
//! configuration does not name, and no claim set changes the owner's role.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use palisade_sso::{Config, Error, LocalAccount, Provisioning};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const CLAIMS: [&str; 3] = ["groups", "roles", "department"];
const VALUES: [&str; 4] = ["admins", "support", "sales", "Admins"];
const ROLES: [&str; 4] = ["Manager", "Operator", "Viewer", "Owner"];

#[derive(Clone, Debug)]
struct Rule {
    claim: &'static str,
    value: &'static str,
    role: &'static str,
}

fn rules() -> impl Strategy<Value = Vec<Rule>> {
    prop::collection::vec(
        (0..CLAIMS.len(), 0..VALUES.len(), 0..ROLES.len()).prop_map(|(c, v, r)| Rule {
            claim: CLAIMS[c],
            value: VALUES[v],
            role: ROLES[r],
        }),
        0..6,
    )
    .prop_map(|rules| {
        // One role per (claim, value): the validator refuses conflicting rules.
        let mut out: Vec<Rule> = Vec::new();
        for rule in rules {
            if !out
                .iter()
                .any(|r| r.claim == rule.claim && r.value == rule.value)
            {
                out.push(rule);
            }
        }
        out
    })
}

/// Any JSON a provider could put in a claim: strings, arrays (of anything),
/// numbers, booleans, null, objects.
fn claim_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (0..VALUES.len()).prop_map(|i| json!(VALUES[i])),
        (0..ROLES.len()).prop_map(|i| json!(ROLES[i])),
        "[a-zA-Z ]{0,8}".prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claims() -> impl Strategy<Value = Value> {
    prop::collection::vec((0..CLAIMS.len() + 1, claim_value()), 0..5).prop_map(|entries| {
        let mut map = Map::new();
        for (i, value) in entries {
            let name = CLAIMS.get(i).copied().unwrap_or("sub");
            map.insert(name.to_owned(), value);
        }
        Value::Object(map)
    })
}

fn existing() -> impl Strategy<Value = Option<LocalAccount>> {
    prop::option::of(
        (
            prop_oneof![
                (0..ROLES.len()).prop_map(|i| ROLES[i].to_owned()),
                Just("Auditor".to_owned()),
                "[A-Z][a-z]{0,6}",
            ],
            any::<bool>(),
        )
            .prop_map(|(role, owner)| LocalAccount::new(role).with_owner(owner)),
    )
}

fn config_text(rules: &[Rule], default_role: Option<&str>, provision: bool) -> String {
    let mut text = String::from(
        r#"
[tenants.acme]
issuer = "https://login.acme.example"
client_id = "backoffice"
client_secret_file = "/run/secrets/acme"
redirect_uri = "https://backoffice.example/sso/acme/callback"
allowed_email_domains = ["acme.example"]
second_factor = { amr = ["otp"] }
"#,
    );
    text.push_str(if provision {
        "jit = \"provision\"\n"
    } else {
        "jit = \"refuse\"\n"
    });
    if let Some(role) = default_role {
        text.push_str(&format!("default_role = \"{role}\"\n"));
    }
    for rule in rules {
        text.push_str(&format!(
            "\n[[tenants.acme.roles]]\nclaim = \"{}\"\nvalue = \"{}\"\nrole = \"{}\"\n",
            rule.claim, rule.value, rule.role
        ));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_claim_set_gives_an_unnamed_role_or_changes_the_owners(
        rules in rules(),
        default_role in prop::option::of((0..ROLES.len()).prop_map(|i| ROLES[i])),
        provision in any::<bool>(),
        claims in claims(),
        existing in existing(),
    ) {
        let text = config_text(&rules, default_role, provision);
        let config = match Config::from_toml(&text) {
            Ok(config) => config,
            Err(Error::ConfigInvalid(problems)) => {
                // Only a configuration that maps no role at all is refused.
                prop_assert!(rules.is_empty() && default_role.is_none(), "{problems:?}");
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        let named: Vec<&str> = config.roles("acme").unwrap();
        let result = config.role_for("acme", &claims, existing.as_ref());
        match (&existing, result) {
            (Some(owner), result) if owner.is_owner() => {
                let assignment = result.unwrap();
                prop_assert_eq!(assignment.role.as_str(), owner.role());
                prop_assert_eq!(assignment.provisioning, Provisioning::Unchanged);
            }
            (_, Ok(assignment)) => {
                prop_assert!(named.contains(&assignment.role.as_str()),
                    "role {} is not named by {named:?}", assignment.role);
                match (&existing, &assignment.provisioning) {
                    (None, Provisioning::Created) => prop_assert!(provision),
                    (Some(account), Provisioning::Unchanged) => prop_assert_eq!(account.role(), assignment.role.as_str()),
                    (Some(account), Provisioning::RoleChanged { from }) => {
                        prop_assert_eq!(account.role(), from.as_str());
                        prop_assert_ne!(from, &assignment.role);
                    }
                    (existing, provisioning) => {
                        return Err(TestCaseError::fail(format!("{provisioning:?} for {existing:?}")));
                    }
                }
            }
            (None, Err(Error::AccountUnknown)) => prop_assert!(!provision),
            (_, Err(Error::RoleNotMapped)) => prop_assert!(default_role.is_none()),
            (_, Err(e)) => return Err(TestCaseError::fail(e.to_string())),
        }
    }
}

#[test]
fn the_first_matching_rule_wins_and_arrays_match_by_element() {
    let text = config_text(
        &[
            Rule {
                claim: "groups",
                value: "admins",
                role: "Manager",
            },
            Rule {
                claim: "groups",
                value: "support",
                role: "Operator",
            },
        ],
        None,
        true,
    );
    let config = Config::from_toml(&text).unwrap();
    let role = |claims: Value| config.role_for("acme", &claims, None).map(|a| a.role);
    assert_eq!(
        role(json!({ "groups": ["support", "admins"] })).unwrap(),
        "Manager"
    );
    assert_eq!(role(json!({ "groups": "support" })).unwrap(), "Operator");
    // Case matters, and nested or numeric values never match.
    assert!(matches!(
        role(json!({ "groups": ["Admins"] })),
        Err(Error::RoleNotMapped)
    ));
    assert!(matches!(
        role(json!({ "groups": [["admins"]] })),
        Err(Error::RoleNotMapped)
    ));
    assert!(matches!(
        role(json!({ "groups": { "admins": true } })),
        Err(Error::RoleNotMapped)
    ));
    assert!(matches!(role(json!({})), Err(Error::RoleNotMapped)));
    assert!(matches!(
        config.role_for("globex", &json!({}), None),
        Err(Error::TenantUnknown(t)) if t == "globex"
    ));
}
