//! Administrative delegation: the back office's holes (issue 15, points 2
//! and 7) as scenarios, and property tests over random policies and random
//! sequences of changes: owners never lose a right to a non-owner, no actor
//! gives a right it lacks, and nobody raises its own rights, not even through
//! accounts it creates.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::Rng;
use palisade_rbac::{
    Access, Actor, Error, Outcome, Policy, PolicyDocument, Request, Resource, Visibility,
};
use proptest::prelude::*;

/// The back office's roles, with a delegation order.
const SHOP: &str = r#"
[types.Client]
actions = ["read", "create", "edit", "export"]
fields = ["name", "phone"]

[types.Account]
actions = ["read", "create", "block", "set_rights"]

[types.Invoice]
actions = ["read"]

[roles.Operator]
allow = ["Client:read", "Client:create"]
fields = { "Client.phone" = "masked" }

[roles."Operator supervisor"]
inherits = ["Operator"]
allow = ["Client:edit", "Client:export", "Account:read"]
fields = { "Client.phone" = "visible" }

[roles.Manager]
allow = ["*"]

[roles.Administrator]
inherits = ["Manager"]

[delegation]
order = ["Administrator", "Manager", "Operator supervisor", "Operator"]

[tenants.shop]
owners = ["olivia"]
owner_role = "Administrator"

[users.olivia]
tenants = { shop = ["Administrator"] }

[users.max]
tenants = { shop = ["Manager"] }

[users.mia]
tenants = { shop = ["Manager"] }

[users.sofia]
tenants = { shop = ["Operator supervisor"] }

[users.otto]
tenants = { shop = ["Operator"] }
"#;

fn shop() -> PolicyDocument {
    PolicyDocument::from_toml(SHOP).unwrap()
}

fn outcome(document: &PolicyDocument, who: &str, action: &str, resource: &str) -> Outcome {
    let request = Request::new(who, action, Resource::parse(resource).unwrap()).in_tenant("shop");
    document.compile().decide(&request).unwrap().outcome()
}

fn phone(document: &PolicyDocument, who: &str) -> Visibility {
    document
        .compile()
        .field_rights_of(who, Some("shop"), "Client")
        .unwrap()
        .into_iter()
        .find(|f| f.field == "phone")
        .unwrap()
        .visibility
}

const OLIVIA: Actor<'static> = Actor::new("olivia", "shop");
const MAX: Actor<'static> = Actor::new("max", "shop");
const SOFIA: Actor<'static> = Actor::new("sofia", "shop");

/// Max (a Manager) restricted by the owner: no exports, phone numbers masked.
fn restricted_max() -> PolicyDocument {
    let mut document = shop();
    document.deny(&OLIVIA, "max", "Client:export").unwrap();
    document
        .set_field(&OLIVIA, "max", "Client.phone", Visibility::Masked)
        .unwrap();
    document
}

// ---- Hole 2: a Manager strips the owner of every right -------------------------

#[test]
fn a_manager_cannot_deny_the_owner_anything() {
    let mut document = shop();
    let initial = document.compile();
    let before = initial.permissions("olivia", Some("shop")).unwrap();
    assert_eq!(
        document.deny(&MAX, "olivia", "*").unwrap_err(),
        Error::OwnerProtected {
            actor: "max".into(),
            principal: "olivia".into(),
            tenant: "shop".into()
        }
    );
    assert_eq!(
        document.deny(&MAX, "olivia", "*").unwrap_err().to_string(),
        "principal `max` cannot change `olivia`, an owner of tenant `shop`"
    );
    // Not even the policy's author, nor a hand-edited file.
    assert!(matches!(
        document.unchecked().deny("olivia", "*"),
        Err(Error::PolicyInvalid(_))
    ));
    let edited = SHOP.replace(
        "[users.olivia]\ntenants = { shop = [\"Administrator\"] }",
        "[users.olivia]\ntenants = { shop = [\"Administrator\"] }\ndeny = [\"*\"]",
    );
    let Err(Error::PolicyInvalid(problems)) = PolicyDocument::from_toml(&edited) else {
        panic!("a hand-edited deny on the owner must be invalid");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, Some(36));
    assert_eq!(
        problems[0].message,
        "tenant `shop`: owner `olivia` cannot be restricted in it: `users.olivia.deny[0]` (deny `*`) \
         takes away `Account:read`, which its owner role `Administrator` gives"
    );
    assert_eq!(
        document
            .compile()
            .permissions("olivia", Some("shop"))
            .unwrap(),
        before
    );
    assert_eq!(
        outcome(&document, "olivia", "read", "Client:c1"),
        Outcome::Allow
    );
}

#[test]
fn an_owner_cannot_be_given_a_restricting_role_or_field() {
    // Another role held by the owner may not take a right away either.
    let edited = SHOP.replace(
        "[users.olivia]\ntenants = { shop = [\"Administrator\"] }",
        "[users.olivia]\ntenants = { shop = [\"Administrator\", \"Operator\"] }",
    );
    let Err(Error::PolicyInvalid(problems)) = PolicyDocument::from_toml(&edited) else {
        panic!("the Operator role masks the owner's phone column");
    };
    assert_eq!(
        problems[0].message,
        "tenant `shop`: owner `olivia` cannot be restricted in it: it sees `Client.phone` masked, \
         but its owner role `Administrator` shows it visible"
    );
    let mut document = shop();
    assert!(matches!(
        document
            .unchecked()
            .set_field("olivia", "Client.phone", Visibility::Hidden),
        Err(Error::PolicyInvalid(_))
    ));
    // Showing more to the owner is no restriction.
    document
        .unchecked()
        .set_field("olivia", "Client.phone", Visibility::Visible)
        .unwrap();
}

// ---- Hole 7: administration escalates --------------------------------------------

#[test]
fn a_manager_cannot_create_an_administrator() {
    let mut document = shop();
    assert_eq!(
        document
            .add_user(&MAX, "eve", &["Administrator"])
            .unwrap_err(),
        Error::RoleNotOutranked {
            actor: "max".into(),
            role: "Administrator".into(),
            tenant: "shop".into()
        }
    );
    // Nor a peer Manager, nor promote an operator to one.
    assert!(matches!(
        document.add_user(&MAX, "eve", &["Manager"]),
        Err(Error::RoleNotOutranked { .. })
    ));
    assert!(matches!(
        document.set_roles(&MAX, "otto", &["Manager"]),
        Err(Error::RoleNotOutranked { .. })
    ));
    // Nor change a peer.
    assert!(matches!(
        document.deny(&MAX, "mia", "Client:read"),
        Err(Error::RoleNotOutranked { .. })
    ));
    assert!(document.compile().principals().all(|p| p != "eve"));
    // Below its rank it may.
    document.add_user(&MAX, "eve", &["Operator"]).unwrap();
    document
        .set_roles(&MAX, "eve", &["Operator supervisor"])
        .unwrap();
    assert_eq!(
        outcome(&document, "eve", "export", "Client:c1"),
        Outcome::Allow
    );
    // The owner may create anyone.
    document
        .add_user(&OLIVIA, "adam", &["Administrator"])
        .unwrap();
}

#[test]
fn a_restricted_manager_cannot_lift_its_own_restriction() {
    let mut document = restricted_max();
    assert_eq!(phone(&document, "max"), Visibility::Masked);
    assert_eq!(
        document
            .set_field(&MAX, "max", "Client.phone", Visibility::Visible)
            .unwrap_err(),
        Error::SelfChangeRefused {
            actor: "max".into()
        }
    );
    assert!(matches!(
        document.remove_field(&MAX, "max", "Client.phone"),
        Err(Error::SelfChangeRefused { .. })
    ));
    assert!(matches!(
        document.remove_deny(&MAX, "max", "Client:export"),
        Err(Error::SelfChangeRefused { .. })
    ));
    assert!(matches!(
        document.grant(&MAX, "max", "Client:export"),
        Err(Error::SelfChangeRefused { .. })
    ));
    assert_eq!(phone(&document, "max"), Visibility::Masked);
    assert_eq!(
        outcome(&document, "max", "export", "Client:c1"),
        Outcome::Forbidden
    );
}

#[test]
fn a_restricted_manager_cannot_escape_through_a_new_account() {
    let mut document = restricted_max();
    // A fresh Manager is a peer: refused by rank.
    assert!(matches!(
        document.add_user(&MAX, "helper", &["Manager"]),
        Err(Error::RoleNotOutranked { .. })
    ));
    // A supervisor is below it, but exports and sees phone numbers: refused by rights.
    assert_eq!(
        document
            .add_user(&MAX, "helper", &["Operator supervisor"])
            .unwrap_err(),
        Error::ActorLacksRight {
            actor: "max".into(),
            right: "Client:export".into(),
            tenant: "shop".into()
        }
    );
    // Nor may it hand a right it lacks to someone it outranks.
    assert!(matches!(
        document.grant(&MAX, "otto", "Client:export"),
        Err(Error::ActorLacksRight { .. })
    ));
    assert_eq!(
        document
            .set_field(&MAX, "otto", "Client.phone", Visibility::Visible)
            .unwrap_err()
            .to_string(),
        "principal `max` sees `Client.phone` masked in tenant `shop` and cannot show it more openly"
    );
    // An operator it creates is within its rights; that account cannot act on max.
    document.add_user(&MAX, "helper", &["Operator"]).unwrap();
    let helper = Actor::new("helper", "shop");
    assert!(matches!(
        document.remove_deny(&helper, "max", "Client:export"),
        Err(Error::ActorUnranked { .. } | Error::RoleNotOutranked { .. })
    ));
    assert_eq!(
        outcome(&document, "helper", "export", "Client:c1"),
        Outcome::NotPermitted
    );
    // Removing the supervisor's own restriction would give back what max lacks.
    document.deny(&OLIVIA, "sofia", "Client:export").unwrap();
    assert!(matches!(
        document.remove_deny(&MAX, "sofia", "Client:export"),
        Err(Error::ActorLacksRight { .. })
    ));
}

#[test]
fn a_manager_cannot_restrict_the_owner_one_right_at_a_time() {
    let mut document = shop();
    for result in [
        document.deny(&MAX, "olivia", "Client:export"),
        document.set_field(&MAX, "olivia", "Client.phone", Visibility::Hidden),
        document.set_roles(&MAX, "olivia", &["Operator"]),
        document.block(&MAX, "olivia"),
        document.delete_user(&MAX, "olivia"),
        document.deny(&SOFIA, "olivia", "Client:export"),
    ] {
        assert!(
            matches!(result, Err(Error::OwnerProtected { .. })),
            "{result:?}"
        );
    }
    assert_eq!(
        outcome(&document, "olivia", "export", "Client:c1"),
        Outcome::Allow
    );
    assert_eq!(phone(&document, "olivia"), Visibility::Visible);
}

#[test]
fn the_owner_undoes_any_change() {
    let mut document = restricted_max();
    // A manager restricts an operator; the owner lifts it, and lifts max's own.
    document.deny(&MAX, "otto", "Client:create").unwrap();
    document.grant(&MAX, "otto", "Invoice:read").unwrap();
    assert_eq!(
        outcome(&document, "otto", "create", "Client:c1"),
        Outcome::Forbidden
    );
    document
        .remove_deny(&OLIVIA, "otto", "Client:create")
        .unwrap();
    document
        .remove_grant(&OLIVIA, "otto", "Invoice:read")
        .unwrap();
    assert_eq!(
        outcome(&document, "otto", "create", "Client:c1"),
        Outcome::Allow
    );
    assert_eq!(
        outcome(&document, "otto", "read", "Invoice:i1"),
        Outcome::NotPermitted
    );
    document
        .remove_deny(&OLIVIA, "max", "Client:export")
        .unwrap();
    document
        .remove_field(&OLIVIA, "max", "Client.phone")
        .unwrap();
    assert_eq!(
        outcome(&document, "max", "export", "Client:c1"),
        Outcome::Allow
    );
    assert_eq!(phone(&document, "max"), Visibility::Visible);
    // Removing what is not there says so.
    assert_eq!(
        document
            .remove_deny(&OLIVIA, "max", "Client:export")
            .unwrap_err()
            .to_string(),
        "principal `max` has no own deny of `Client:export`"
    );
    // A blocked manager is unblocked by the owner, and cannot act meanwhile.
    document.block(&OLIVIA, "max").unwrap();
    assert!(matches!(
        document.deny(&MAX, "otto", "Client:read"),
        Err(Error::ActorBlocked { .. })
    ));
    document.unblock(&OLIVIA, "max").unwrap();
    // The document survives a round trip with its delegation order.
    let again = PolicyDocument::from_toml(&document.to_toml().unwrap()).unwrap();
    assert_eq!(again.to_toml().unwrap(), document.to_toml().unwrap());
    assert!(document.to_toml().unwrap().contains("[delegation]"));
}

#[test]
fn the_delegation_order_is_validated_with_lines() {
    let text = SHOP.replace(
        "order = [\"Administrator\", \"Manager\", \"Operator supervisor\", \"Operator\"]",
        "order = [\n  \"Administrator\",\n  [\"Manager\", \"Boss\"],\n  \"Manager\",\n  [],\n]",
    );
    let Err(Error::PolicyInvalid(problems)) = Policy::from_toml(&text) else {
        panic!("invalid order accepted");
    };
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "line 30, column 3: error: delegation order names unknown role `Boss`",
            "line 31, column 3: error: delegation order lists role `Manager` twice",
            "line 32, column 3: error: delegation order has an empty list of peer roles",
        ]
    );
    let text = SHOP.replace("order = [", "order = [1, ");
    assert!(matches!(
        Policy::from_toml(&text),
        Err(Error::PolicyInvalid(problems)) if problems.len() == 1
    ));
}

#[test]
fn peers_do_not_outrank_each_other_and_unranked_roles_only_owners_change() {
    let text = SHOP
        .replace(
            "order = [\"Administrator\", \"Manager\", \"Operator supervisor\", \"Operator\"]",
            "order = [\"Manager\", [\"Operator supervisor\", \"Operator\"]]",
        )
        .replace(
            "[users.otto]",
            "[users.ivy]\ntenants = { shop = [\"Administrator\"] }\n\n[users.otto]",
        );
    let mut document = PolicyDocument::from_toml(&text).unwrap();
    assert!(matches!(
        document.deny(&SOFIA, "otto", "Client:read"),
        Err(Error::RoleNotOutranked { .. })
    ));
    document.deny(&MAX, "otto", "Client:read").unwrap();
    // `Administrator` is not in the order: only an owner changes its holders.
    assert!(matches!(
        document.deny(&MAX, "ivy", "Client:read"),
        Err(Error::RoleNotOutranked { .. })
    ));
    document.deny(&OLIVIA, "ivy", "Client:read").unwrap();
    // Someone without a ranked role outranks nobody.
    let ivy = Actor::new("ivy", "shop");
    assert!(matches!(
        document.deny(&ivy, "otto", "Client:edit"),
        Err(Error::ActorUnranked { .. })
    ));
}

#[test]
fn a_change_must_be_allowed_in_every_tenant_it_reaches() {
    // Carl works in two tenants; Max manages only one of them.
    let text = format!(
        "{SHOP}\n[tenants.cafe]\nowners = [\"cleo\"]\nowner_role = \"Administrator\"\n\
         [users.cleo]\ntenants = {{ cafe = [\"Administrator\"] }}\n\
         [users.carl]\ntenants = {{ shop = [\"Operator\"], cafe = [\"Manager\"] }}\n\
         [users.gil]\nroles = [\"Operator\"]\n"
    );
    let mut document = PolicyDocument::from_toml(&text).unwrap();
    assert_eq!(
        document.deny(&MAX, "carl", "Client:read").unwrap_err(),
        Error::ActorUnranked {
            actor: "max".into(),
            tenant: "cafe".into()
        }
    );
    // Roles held everywhere reach every tenant.
    assert!(matches!(
        document.deny(&MAX, "gil", "Client:read"),
        Err(Error::ActorUnranked { .. })
    ));
    // The owner of one tenant cannot change an owner of another.
    assert!(matches!(
        document.add_user(&OLIVIA, "cleo", &[]),
        Err(Error::PrincipalExists(_))
    ));
    assert_eq!(
        document
            .set_roles(&OLIVIA, "cleo", &["Operator"])
            .unwrap_err(),
        Error::OwnerProtected {
            actor: "olivia".into(),
            principal: "cleo".into(),
            tenant: "cafe".into()
        }
    );
}

// ---- Properties over random policies and random changes ---------------------------

const TYPES: [(&str, &[&str], &[&str]); 2] = [
    ("T0", &["a0", "a1", "a2"], &["f0", "f1"]),
    ("T1", &["a0", "a1"], &["f0"]),
];
const REFS: [&str; 7] = ["*", "T0:*", "T1:*", "T0:a0", "T0:a1", "T0:a2", "T1:a1"];
const FIELDS: [&str; 3] = ["T0.f0", "T0.f1", "T1.f0"];
const VISIBILITY: [&str; 3] = ["visible", "masked", "hidden"];
const ROLES: usize = 5;
const TENANTS: [&str; 2] = ["t0", "t1"];

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

fn quoted(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", parts.join(", "))
}

fn rights(rng: &mut Rng, out: &mut String, table: &str, denies: bool) {
    let allow: Vec<&str> = (0..rng.below(3)).map(|_| pick(rng, &REFS)).collect();
    writeln!(out, "allow = {}", quoted(&allow)).unwrap();
    if denies && rng.chance(40) {
        writeln!(out, "deny = [{:?}]", pick(rng, &REFS)).unwrap();
    }
    if denies && rng.chance(40) {
        writeln!(
            out,
            "fields = {{ {:?} = {:?} }}",
            pick(rng, &FIELDS),
            pick(rng, &VISIBILITY)
        )
        .unwrap();
    }
    if rng.chance(25) {
        writeln!(
            out,
            "[[{table}.rules]]\neffect = \"allow\"\nactions = [{:?}]\nowner = true",
            pick(rng, &REFS)
        )
        .unwrap();
    }
}

/// A random valid policy: two tenants owned by `u0` and `u1` (role `r0`,
/// which allows everything), users `u2`… with random roles and rights.
fn random_policy(rng: &mut Rng) -> String {
    let mut out = String::new();
    for (name, actions, fields) in TYPES {
        writeln!(
            out,
            "[types.{name}]\nactions = {}\nfields = {}",
            quoted(actions),
            quoted(fields)
        )
        .unwrap();
    }
    writeln!(out, "[roles.r0]\nallow = [\"*\"]").unwrap();
    for r in 1..ROLES {
        writeln!(out, "[roles.r{r}]").unwrap();
        let parents: Vec<String> = (r + 1..ROLES)
            .filter(|_| rng.chance(25))
            .map(|p| format!("r{p}"))
            .collect();
        let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
        writeln!(out, "inherits = {}", quoted(&parents)).unwrap();
        rights(rng, &mut out, &format!("roles.r{r}"), true);
    }
    // The delegation order: a random sequence of ranks over some of the roles.
    let mut roles: Vec<String> = (0..ROLES).map(|r| format!("r{r}")).collect();
    rng.shuffle(&mut roles);
    let mut ranks = Vec::new();
    let mut rest = &roles[..rng.below(ROLES + 1)];
    while !rest.is_empty() {
        let take = 1 + rng.below(rest.len().min(2));
        let group: Vec<&str> = rest[..take].iter().map(String::as_str).collect();
        ranks.push(if take == 1 {
            format!("{:?}", group[0])
        } else {
            quoted(&group)
        });
        rest = &rest[take..];
    }
    writeln!(out, "[delegation]\norder = [{}]", ranks.join(", ")).unwrap();
    for (t, tenant) in TENANTS.iter().enumerate() {
        writeln!(
            out,
            "[tenants.{tenant}]\nowners = [\"u{t}\"]\nowner_role = \"r0\""
        )
        .unwrap();
    }
    let users = 4 + rng.below(3);
    for u in 0..users {
        writeln!(out, "[users.u{u}]").unwrap();
        let mut held = Vec::new();
        for (t, tenant) in TENANTS.iter().enumerate() {
            let roles: Vec<String> = if u == t {
                vec!["r0".to_owned()]
            } else {
                (1..ROLES)
                    .filter(|_| rng.chance(30))
                    .map(|r| format!("r{r}"))
                    .collect()
            };
            if !roles.is_empty() {
                let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
                held.push(format!("{tenant} = {}", quoted(&roles)));
            }
        }
        if u >= TENANTS.len() && rng.chance(15) {
            writeln!(out, "roles = [\"r{}\"]", 1 + rng.below(ROLES - 1)).unwrap();
        }
        if !held.is_empty() {
            writeln!(out, "tenants = {{ {} }}", held.join(", ")).unwrap();
        }
        // Owners may have grants but no restriction of their own.
        rights(rng, &mut out, &format!("users.u{u}"), u >= TENANTS.len());
    }
    out
}

#[derive(Clone, Debug)]
enum Change {
    AddUser(String, Vec<String>),
    SetRoles(String, Vec<String>),
    Grant(String, &'static str),
    Deny(String, &'static str),
    RemoveGrant(String, &'static str),
    RemoveDeny(String, &'static str),
    SetField(String, &'static str, Visibility),
    RemoveField(String, &'static str),
    Block(String),
    Unblock(String),
    Delete(String),
}

impl Change {
    fn target(&self) -> &str {
        match self {
            Self::AddUser(t, _)
            | Self::SetRoles(t, _)
            | Self::Grant(t, _)
            | Self::Deny(t, _)
            | Self::RemoveGrant(t, _)
            | Self::RemoveDeny(t, _)
            | Self::SetField(t, _, _)
            | Self::RemoveField(t, _)
            | Self::Block(t)
            | Self::Unblock(t)
            | Self::Delete(t) => t,
        }
    }

    fn random(rng: &mut Rng, users: &[String], fresh: usize) -> Self {
        let target = users[rng.below(users.len())].clone();
        let roles = |rng: &mut Rng| -> Vec<String> {
            (0..ROLES)
                .filter(|_| rng.chance(25))
                .map(|r| format!("r{r}"))
                .collect()
        };
        match rng.below(11) {
            0 => Self::AddUser(format!("n{fresh}"), roles(rng)),
            1 => Self::SetRoles(target, roles(rng)),
            2 => Self::Grant(target, pick(rng, &REFS)),
            3 => Self::Deny(target, pick(rng, &REFS)),
            4 => Self::RemoveGrant(target, pick(rng, &REFS)),
            5 => Self::RemoveDeny(target, pick(rng, &REFS)),
            6 => Self::SetField(
                target,
                pick(rng, &FIELDS),
                [Visibility::Visible, Visibility::Masked, Visibility::Hidden][rng.below(3)],
            ),
            7 => Self::RemoveField(target, pick(rng, &FIELDS)),
            8 => Self::Block(target),
            9 => Self::Unblock(target),
            _ => Self::Delete(target),
        }
    }

    fn apply(&self, document: &mut PolicyDocument, actor: &Actor<'_>) -> Result<(), Error> {
        match self {
            Self::AddUser(t, roles) => {
                let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
                document.add_user(actor, t, &roles)
            }
            Self::SetRoles(t, roles) => {
                let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
                document.set_roles(actor, t, &roles)
            }
            Self::Grant(t, a) => document.grant(actor, t, a),
            Self::Deny(t, a) => document.deny(actor, t, a),
            Self::RemoveGrant(t, a) => document.remove_grant(actor, t, a),
            Self::RemoveDeny(t, a) => document.remove_deny(actor, t, a),
            Self::SetField(t, f, v) => document.set_field(actor, t, f, *v),
            Self::RemoveField(t, f) => document.remove_field(actor, t, f),
            Self::Block(t) => document.block(actor, t),
            Self::Unblock(t) => document.unblock(actor, t),
            Self::Delete(t) => document.delete_user(actor, t),
        }
    }
}

/// Everything a principal may do and see in a context (a tenant or none).
#[derive(Clone, Debug, PartialEq)]
struct Rights {
    access: BTreeMap<String, Access>,
    fields: BTreeMap<String, Visibility>,
}

fn rights_of(policy: &Policy, who: &str, tenant: Option<&str>) -> Rights {
    if !policy.principals().any(|p| p == who) {
        return Rights {
            access: BTreeMap::new(),
            fields: FIELDS
                .iter()
                .map(|f| ((*f).to_owned(), Visibility::Hidden))
                .collect(),
        };
    }
    let access = policy
        .permissions(who, tenant)
        .unwrap()
        .into_iter()
        .map(|p| (format!("{}:{}", p.resource_type, p.action), p.access))
        .collect();
    let access: BTreeMap<String, Access> = access;
    let mut fields = BTreeMap::new();
    for (ty, _, _) in TYPES {
        // A field of a type the principal may do nothing with is not seen.
        let reached = access.iter().any(|(right, access)| {
            right.starts_with(&format!("{ty}:")) && *access != Access::Forbidden
        });
        for right in policy.field_rights_of(who, tenant, ty).unwrap() {
            let seen = if reached {
                right.visibility
            } else {
                Visibility::Hidden
            };
            fields.insert(format!("{ty}.{}", right.field), seen);
        }
    }
    Rights { access, fields }
}

/// Whether access `a` allows nothing that `b` does not (conditions as written).
fn within(a: Option<&Access>, b: Option<&Access>) -> bool {
    match (a, b) {
        (None | Some(Access::Forbidden), _) | (_, Some(Access::Allowed)) => true,
        (
            Some(Access::Conditional {
                allow_if: a_allow,
                deny_if: a_deny,
            }),
            Some(Access::Conditional {
                allow_if: b_allow,
                deny_if: b_deny,
            }),
        ) => {
            (b_allow.iter().any(|c| c == "always") || a_allow.iter().all(|c| b_allow.contains(c)))
                && b_deny.iter().all(|c| a_deny.contains(c))
        }
        _ => false,
    }
}

/// What `after` has beyond `before` that `holder` lacks: rights and fields.
fn beyond(after: &Rights, before: &Rights, holder: &Rights) -> Vec<String> {
    let mut found = Vec::new();
    for (right, access) in &after.access {
        if !within(Some(access), before.access.get(right))
            && !within(Some(access), holder.access.get(right))
        {
            found.push(format!("{right} {access:?}"));
        }
    }
    for (field, seen) in &after.fields {
        let old = before
            .fields
            .get(field)
            .copied()
            .unwrap_or(Visibility::Hidden);
        let held = holder
            .fields
            .get(field)
            .copied()
            .unwrap_or(Visibility::Hidden);
        if *seen < old && *seen < held {
            found.push(format!("{field} {seen}"));
        }
    }
    found
}

fn users_of(policy: &Policy) -> Vec<String> {
    policy.principals().map(str::to_owned).collect()
}

const CONTEXTS: [Option<&str>; 3] = [Some("t0"), Some("t1"), None];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// No sequence of changes by non-owners reduces an owner's rights.
    #[test]
    fn non_owners_never_reduce_an_owner(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let text = random_policy(&mut rng);
        let mut document = PolicyDocument::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let initial = document.compile();
        let owners = |policy: &Policy| -> Vec<Rights> {
            TENANTS.iter().enumerate().map(|(t, tenant)| rights_of(policy, &format!("u{t}"), Some(tenant))).collect()
        };
        let before = owners(&initial);
        for step in 0..24 {
            let users = users_of(&document.compile());
            let actors: Vec<&String> = users.iter().filter(|u| *u != "u0" && *u != "u1").collect();
            let actor = actors[rng.below(actors.len())].clone();
            let tenant = TENANTS[rng.below(2)];
            let change = Change::random(&mut rng, &users, step);
            let _ = change.apply(&mut document, &Actor::new(&actor, tenant));
            prop_assert_eq!(&owners(&document.compile()), &before, "{} {:?}\n{}", actor, change, text);
        }
    }

    /// No change gives anyone a right its actor lacks, and whatever a grant,
    /// a field setting or a role writes is within the actor's own rights.
    #[test]
    fn no_actor_gives_a_right_it_lacks(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let text = random_policy(&mut rng);
        let mut document = PolicyDocument::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let mut accepted = 0;
        for step in 0..48 {
            let policy = document.compile();
            let users = users_of(&policy);
            let t = rng.below(2);
            let tenant = TENANTS[t];
            // Owners act a third of the time, anyone else otherwise.
            let actor = if rng.chance(33) {
                format!("u{t}")
            } else {
                users[rng.below(users.len())].clone()
            };
            let change = Change::random(&mut rng, &users, step);
            let mut next = document.clone();
            if change.apply(&mut next, &Actor::new(&actor, tenant)).is_err() {
                continue;
            }
            accepted += 1;
            let after = next.compile();
            prop_assert_ne!(change.target(), actor.as_str());
            for context in CONTEXTS {
                let holder = rights_of(&policy, &actor, Some(context.unwrap_or(tenant)));
                let old = rights_of(&policy, change.target(), context);
                let new = rights_of(&after, change.target(), context);
                let gained = beyond(&new, &old, &holder);
                prop_assert!(gained.is_empty(), "{} in {} {:?} gave {:?} in {:?}\n{}", actor, tenant, change, gained, context, text);
            }
            let holder = rights_of(&policy, &actor, Some(tenant));
            if let Change::Grant(_, reference) = &change {
                for (right, access) in &rights_of(&Policy::from_toml(&format!("{text}\n[users.probe]\nallow = [{reference:?}]")).unwrap(), "probe", None).access {
                    prop_assert_eq!(holder.access.get(right), Some(&Access::Allowed), "{} {:?}", right, access);
                }
            }
            if let Change::SetField(_, field, visibility) = &change {
                prop_assert!(*visibility >= holder.fields[*field]);
            }
            document = next;
        }
        eprintln!("accepted {accepted} of 48 changes");
    }

    /// A non-owner cannot raise its own rights by any sequence of changes made
    /// by itself or by accounts it creates, and those accounts never exceed it.
    #[test]
    fn nobody_raises_its_own_rights(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let text = random_policy(&mut rng);
        let mut document = PolicyDocument::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let users = users_of(&document.compile());
        // Preferably someone who may administer somebody (it holds a ranked role).
        let ranked: Vec<&String> = users[TENANTS.len()..]
            .iter()
            .filter(|u| TENANTS.iter().any(|t| document.clone().add_user(&Actor::new(u, t), "probe", &[]).is_ok()))
            .collect();
        let me = if ranked.is_empty() {
            users[TENANTS.len() + rng.below(users.len() - TENANTS.len())].clone()
        } else {
            ranked[rng.below(ranked.len())].clone()
        };
        let initial = document.compile();
        // In each tenant (requests without one are bounded by the actor's
        // rights in the tenant it acts in, see `no_actor_gives_a_right_it_lacks`).
        let contexts = [Some("t0"), Some("t1")];
        let mine: Vec<Rights> = contexts.iter().map(|c| rights_of(&initial, &me, *c)).collect();
        let mut controlled = vec![me.clone()];
        let mut accepted = 0usize;
        for step in 0..32 {
            let users = users_of(&document.compile());
            let actor = controlled[rng.below(controlled.len())].clone();
            let tenant = TENANTS[rng.below(2)];
            let mut change = Change::random(&mut rng, &users, step);
            if rng.chance(25) {
                let roles = (0..ROLES).filter(|_| rng.chance(25)).map(|r| format!("r{r}")).collect();
                change = Change::AddUser(format!("h{step}"), roles);
            } else if rng.chance(50) {
                // Aim at itself or at its own accounts.
                let target = controlled[rng.below(controlled.len())].clone();
                change = match change {
                    Change::Grant(_, a) => Change::Grant(target, a),
                    Change::RemoveDeny(_, a) => Change::RemoveDeny(target, a),
                    Change::SetField(_, f, v) => Change::SetField(target, f, v),
                    Change::RemoveField(_, f) => Change::RemoveField(target, f),
                    Change::SetRoles(_, r) => Change::SetRoles(target, r),
                    Change::Unblock(_) => Change::Unblock(target),
                    other => other,
                };
            }
            let applied = change.apply(&mut document, &Actor::new(&actor, tenant)).is_ok();
            accepted += usize::from(applied);
            if applied && let Change::AddUser(name, _) = &change {
                controlled.push(name.clone());
            }
            let policy = document.compile();
            for account in &controlled {
                for (context, held) in contexts.iter().zip(&mine) {
                    let now = rights_of(&policy, account, *context);
                    let gained = beyond(&now, held, held);
                    prop_assert!(gained.is_empty(), "{} gained {:?} in {:?} after {} {:?}\n{}", account, gained, context, actor, change, text);
                }
            }
        }
        eprintln!("accepted {accepted} of 32 changes by {} accounts", controlled.len());
    }
}
