//! Table-driven tests of every seed scenario: the chat platform's five roles,
//! the booking owner's per-user restrictions, blocked accounts, owner
//! protection, field rights, explanations and reverse queries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on unexpected values"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use palisade_rbac::{
    Access, Actor, Context, Decision, DecisionHook, Error, Outcome, Policy, PolicyDocument,
    PolicyStore, Request, Resource, Visibility,
};

const CHAT: &str = include_str!("../policies/chat-platform.toml");
const BOOKING: &str = include_str!("../policies/booking.toml");

use Outcome::{Allow, Forbidden, NotPermitted};

fn decide(policy: &Policy, who: &str, action: &str, resource: &str, context: &Context) -> Outcome {
    let resource = Resource::parse(resource).unwrap();
    let request = Request::new(who, action, resource)
        .in_tenant(tenant_of(policy))
        .with_context(context);
    let outcome = policy.decide(&request).unwrap().outcome();
    // The explanation always agrees with the fast path.
    assert_eq!(
        policy.explain(&request).unwrap().outcome,
        outcome,
        "{who} {action} {resource}"
    );
    outcome
}

fn tenant_of(policy: &Policy) -> &str {
    policy.tenants().next().unwrap().0
}

#[test]
fn chat_platform_five_roles() {
    let policy = Policy::from_toml(CHAT).unwrap();
    let none = Context::new();
    #[rustfmt::skip]
    let table: &[(&str, &str, &str, Outcome)] = &[
        // Administrator (owner): every right.
        ("olivia", "edit", "Finance:ledger", Allow),
        ("olivia", "delete", "Account:max", Allow),
        ("olivia", "edit", "Settings:main", Allow),
        ("olivia", "finance", "Analytics:q3", Allow),
        // Manager: the same rights.
        ("max", "edit", "Finance:ledger", Allow),
        ("max", "block", "Account:otto", Allow),
        ("max", "set_rights", "Account:otto", Allow),
        ("max", "export", "Client:c1", Allow),
        // Operator supervisor: configures, sees statistics, no finance.
        ("sofia", "edit", "Settings:main", Allow),
        ("sofia", "read", "Statistics:otto", Allow),
        ("sofia", "team", "Analytics:q3", Allow),
        ("sofia", "general", "Analytics:q3", Allow),
        ("sofia", "read", "Finance:ledger", NotPermitted),
        ("sofia", "finance", "Analytics:q3", NotPermitted),
        ("sofia", "block", "Account:otto", NotPermitted),
        ("sofia", "delete", "Conversation:42", Allow),
        // Senior operator: general analytics only.
        ("sergei", "general", "Analytics:q3", Allow),
        ("sergei", "team", "Analytics:q3", NotPermitted),
        ("sergei", "finance", "Analytics:q3", NotPermitted),
        ("sergei", "edit", "Settings:main", NotPermitted),
        ("sergei", "read", "Statistics:sergei", Allow),
        ("sergei", "read", "Statistics:otto", NotPermitted),
        ("sergei", "reply", "Conversation:42", Allow),
        // Operator: own account, own statistics, conversations.
        ("otto", "read", "Statistics:otto", Allow),
        ("otto", "read", "Statistics:sergei", NotPermitted),
        ("otto", "edit", "Account:otto", Allow),
        ("otto", "edit", "Account:max", NotPermitted),
        ("otto", "general", "Analytics:q3", NotPermitted),
        ("otto", "reply", "Conversation:42", Allow),
        ("otto", "delete", "Conversation:42", NotPermitted),
        ("otto", "read", "Finance:ledger", NotPermitted),
        ("otto", "edit", "Settings:main", NotPermitted),
        // Per-user adjustment by the administrator.
        ("oksana", "general", "Analytics:q3", Allow),
        ("oksana", "transfer", "Conversation:42", Forbidden),
        ("oksana", "reply", "Conversation:42", Allow),
        // Unknown names: default deny.
        ("nobody", "read", "Conversation:42", NotPermitted),
        ("otto", "fly", "Conversation:42", NotPermitted),
        ("otto", "read", "Spaceship:1", NotPermitted),
    ];
    for (who, action, resource, expected) in table {
        assert_eq!(
            decide(&policy, who, action, resource, &none),
            *expected,
            "{who} {action} {resource}"
        );
    }
}

#[test]
fn roles_hold_only_in_their_tenant() {
    let policy = Policy::from_toml(CHAT).unwrap();
    let conversation = Resource::new("Conversation", "42");
    let outside = Request::new("otto", "reply", conversation);
    assert_eq!(policy.decide(&outside).unwrap().outcome(), NotPermitted);
    let elsewhere = Request::new("otto", "reply", conversation).in_tenant("other");
    assert_eq!(
        policy.decide(&elsewhere).unwrap_err(),
        Error::TenantUnknown("other".to_owned())
    );
}

#[test]
fn context_conditions() {
    let policy = Policy::from_toml(CHAT).unwrap();
    #[rustfmt::skip]
    let table: &[(Context, Outcome)] = &[
        (Context::new().with("rows", 500), Allow),
        (Context::new().with("rows", 1000), Allow),
        (Context::new().with("rows", 1001), NotPermitted),
        (Context::new().with("rows", "500"), NotPermitted),
        (Context::new(), NotPermitted),
    ];
    for (context, expected) in table {
        assert_eq!(
            decide(&policy, "sergei", "export", "Client:c1", context),
            *expected,
            "{context:?}"
        );
    }
    // Operators have no such rule at all.
    let small = Context::new().with("rows", 5);
    assert_eq!(
        decide(&policy, "otto", "export", "Client:c1", &small),
        NotPermitted
    );
}

#[test]
fn ownership_stated_in_the_request_overrides_the_file() {
    let policy = Policy::from_toml(CHAT).unwrap();
    let theirs = Resource::new("Statistics", "otto").owned_by("sergei");
    let request = Request::new("otto", "read", theirs).in_tenant("chatco");
    assert_eq!(policy.decide(&request).unwrap().outcome(), NotPermitted);
    let mine = Resource::new("Statistics", "new").owned_by("otto");
    let request = Request::new("otto", "read", mine).in_tenant("chatco");
    assert_eq!(policy.decide(&request).unwrap().outcome(), Allow);
}

#[test]
fn booking_per_user_restrictions() {
    let policy = Policy::from_toml(BOOKING).unwrap();
    let none = Context::new();
    #[rustfmt::skip]
    let table: &[(&str, &str, &str, Outcome)] = &[
        // Bella: restricted by the owner.
        ("bella", "read", "Client:c1", Allow),
        ("bella", "edit", "Client:c1", Allow),
        ("bella", "export", "Client:c1", Forbidden),
        ("bella", "read", "Booking:b1", Allow),
        ("bella", "create", "Booking:b1", Allow),
        ("bella", "edit", "Booking:b1", Forbidden),
        ("bella", "delete", "Booking:b1", Forbidden),
        // Carl: the same role without restrictions.
        ("carl", "export", "Client:c1", Allow),
        ("carl", "edit", "Booking:b1", Allow),
        ("carl", "delete", "Booking:b1", Allow),
        // Dora: dismissed, blocked.
        ("dora", "read", "Booking:b1", Forbidden),
        ("dora", "read", "Client:c1", Forbidden),
        // Anna: the owner.
        ("anna", "export", "Client:c1", Allow),
    ];
    for (who, action, resource, expected) in table {
        assert_eq!(
            decide(&policy, who, action, resource, &none),
            *expected,
            "{who} {action} {resource}"
        );
    }
}

fn visibility(decision: &Decision<'_>, field: &str) -> Visibility {
    decision
        .fields()
        .into_iter()
        .find(|f| f.field == field)
        .unwrap()
        .visibility
}

#[test]
fn field_rights() {
    let booking = Policy::from_toml(BOOKING).unwrap();
    let chat = Policy::from_toml(CHAT).unwrap();
    let client = Resource::new("Client", "c1");
    #[rustfmt::skip]
    let table: &[(&Policy, &str, &str, &str, Visibility)] = &[
        (&booking, "salon", "bella", "phone", Visibility::Masked),
        (&booking, "salon", "bella", "name", Visibility::Visible),
        (&booking, "salon", "carl", "phone", Visibility::Visible),
        (&booking, "salon", "dora", "phone", Visibility::Hidden),
        (&chat, "chatco", "otto", "email", Visibility::Masked),
        (&chat, "chatco", "otto", "phone", Visibility::Visible),
        // A role's own setting overrides what it inherits.
        (&chat, "chatco", "sofia", "email", Visibility::Visible),
        (&chat, "chatco", "sergei", "email", Visibility::Masked),
        (&chat, "chatco", "olivia", "email", Visibility::Visible),
    ];
    for (policy, tenant, who, field, expected) in table {
        let request = Request::new(who, "read", client).in_tenant(tenant);
        assert_eq!(
            visibility(&policy.decide(&request).unwrap(), field),
            *expected,
            "{who} {field}"
        );
    }
    // A denied decision hides every field.
    let export = Request::new("bella", "export", client).in_tenant("salon");
    let decision = booking.decide(&export).unwrap();
    assert!(
        decision
            .fields()
            .iter()
            .all(|f| f.visibility == Visibility::Hidden)
    );
    let booked = Resource::new("Booking", "b1");
    let request = Request::new("bella", "read", booked).in_tenant("salon");
    assert_eq!(
        visibility(&booking.decide(&request).unwrap(), "client_phone"),
        Visibility::Masked
    );
}

#[test]
fn per_user_overrides_through_the_document() {
    let mut document = PolicyDocument::from_toml(CHAT).unwrap();
    let olivia = Actor::new("olivia", "chatco");
    let analytics = Resource::new("Analytics", "q3");
    let request = Request::new("otto", "general", analytics).in_tenant("chatco");
    assert_eq!(
        document.compile().decide(&request).unwrap().outcome(),
        NotPermitted
    );
    document
        .grant(&olivia, "otto", "Analytics:general")
        .unwrap();
    assert_eq!(
        document.compile().decide(&request).unwrap().outcome(),
        Allow
    );
    document.deny(&olivia, "otto", "Analytics:*").unwrap();
    assert_eq!(
        document.compile().decide(&request).unwrap().outcome(),
        Forbidden
    );
    // Field override in both directions.
    let client = Resource::new("Client", "c1");
    let read = Request::new("otto", "read", client).in_tenant("chatco");
    document
        .set_field(&olivia, "otto", "Client.email", Visibility::Visible)
        .unwrap();
    document
        .set_field(&olivia, "otto", "Client.phone", Visibility::Hidden)
        .unwrap();
    let policy = document.compile();
    let decision = policy.decide(&read).unwrap();
    assert_eq!(visibility(&decision, "email"), Visibility::Visible);
    assert_eq!(visibility(&decision, "phone"), Visibility::Hidden);
    assert!(matches!(
        document.grant(&olivia, "otto", "Finance:steal"),
        Err(Error::ActionUnknown { .. })
    ));
    assert!(matches!(
        document.set_field(&olivia, "otto", "Client.ssn", Visibility::Visible),
        Err(Error::FieldUnknown(_))
    ));
    // The document round-trips through TOML.
    let text = document.to_toml().unwrap();
    let again = PolicyDocument::from_toml(&text).unwrap().compile();
    assert_eq!(again.decide(&read).unwrap().outcome(), Allow);
    assert_eq!(again.decide(&request).unwrap().outcome(), Forbidden);
}

#[test]
fn blocked_manager_loses_everything_at_once() {
    let mut document = PolicyDocument::from_toml(CHAT).unwrap();
    let olivia = Actor::new("olivia", "chatco");
    let before = document.compile();
    assert!(
        !before
            .permissions("max", Some("chatco"))
            .unwrap()
            .is_empty()
    );
    document.block(&olivia, "max").unwrap();
    let after = document.compile();
    for permission in after.permissions("max", Some("chatco")).unwrap() {
        assert_eq!(permission.access, Access::Forbidden);
    }
    let ledger = Resource::new("Finance", "ledger");
    let request = Request::new("max", "read", ledger).in_tenant("chatco");
    assert_eq!(after.decide(&request).unwrap().outcome(), Forbidden);
    assert!(after.explain(&request).unwrap().summary.contains("blocked"));
    document.unblock(&olivia, "max").unwrap();
    assert_eq!(
        document.compile().decide(&request).unwrap().outcome(),
        Allow
    );
    document.delete_user(&olivia, "max").unwrap();
    assert_eq!(
        document.compile().decide(&request).unwrap().outcome(),
        NotPermitted
    );
}

#[test]
fn owner_protection() {
    let mut document = PolicyDocument::from_toml(CHAT).unwrap();
    let owner_error = |e: Error| e.to_string();
    let cases: Vec<(&str, Result<(), Error>, &str)> = vec![
        (
            "block",
            document.clone().unchecked().block("olivia"),
            "principal `olivia` owns tenant `chatco` and cannot be blocked",
        ),
        (
            "delete",
            document.clone().unchecked().delete_user("olivia"),
            "principal `olivia` owns tenant `chatco` and cannot be deleted",
        ),
        (
            "demote",
            document
                .clone()
                .unchecked()
                .set_roles("olivia", Some("chatco"), &["Operator"]),
            "principal `olivia` owns tenant `chatco` and must keep role `Administrator`",
        ),
        (
            "remove roles",
            document
                .clone()
                .unchecked()
                .set_roles("olivia", Some("chatco"), &[]),
            "principal `olivia` owns tenant `chatco` and must keep role `Administrator`",
        ),
        (
            "last owner",
            document
                .clone()
                .unchecked()
                .remove_owner("chatco", "olivia"),
            "tenant `chatco` would be left without an owner",
        ),
    ];
    for (name, result, message) in cases {
        assert_eq!(
            result.map_err(owner_error),
            Err(message.to_owned()),
            "{name}"
        );
    }
    // A second owner must hold the owner role, then the first may step down.
    assert!(matches!(
        document.unchecked().add_owner("chatco", "max"),
        Err(Error::PolicyInvalid(_))
    ));
    document
        .unchecked()
        .set_roles("max", Some("chatco"), &["Administrator"])
        .unwrap();
    document.unchecked().add_owner("chatco", "max").unwrap();
    document
        .unchecked()
        .remove_owner("chatco", "olivia")
        .unwrap();
    document.unchecked().block("olivia").unwrap();
    assert!(matches!(
        document.unchecked().block("max"),
        Err(Error::OwnerCannotBeBlocked { .. })
    ));
    // Failed changes change nothing.
    let policy = document.compile();
    assert!(!policy.is_blocked("max"));
    assert!(policy.is_blocked("olivia"));
}

#[test]
fn explanations_name_the_deciding_rules() {
    let policy = Policy::from_toml(CHAT).unwrap();
    #[rustfmt::skip]
    let table: &[(&str, &str, &str, Outcome, &[&str])] = &[
        ("oksana", "transfer", "Conversation:1", Forbidden, &["users.oksana.deny[0]"]),
        ("oksana", "general", "Analytics:q3", Allow, &["users.oksana.allow[0]"]),
        ("otto", "read", "Statistics:otto", Allow, &["roles.Operator.rules[0] `own account and statistics`"]),
        ("olivia", "read", "Finance:ledger", Allow, &["roles.Manager.allow[0]"]),
        ("sergei", "general", "Analytics:x", Allow, &["roles.\"Senior operator\".allow[0]"]),
        ("otto", "read", "Finance:ledger", NotPermitted, &[]),
    ];
    for (who, action, resource, outcome, rules) in table {
        let resource = Resource::parse(resource).unwrap();
        let request = Request::new(who, action, resource).in_tenant("chatco");
        let explanation = policy.explain(&request).unwrap();
        assert_eq!(explanation.outcome, *outcome);
        let paths: Vec<&str> = explanation.rules.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(&paths, rules, "{who} {action}");
    }
    let request = Request::new("otto", "read", Resource::new("Finance", "l")).in_tenant("chatco");
    assert_eq!(
        policy.explain(&request).unwrap().to_string(),
        "deny (not permitted): no rule allows `Finance:read` to `otto` in tenant `chatco`"
    );
}

#[test]
fn log_in_as_that_user() {
    let policy = Policy::from_toml(BOOKING).unwrap();
    let permissions = policy.permissions("bella", Some("salon")).unwrap();
    let access = |ty: &str, action: &str| {
        permissions
            .iter()
            .find(|p| p.resource_type == ty && p.action == action)
            .map(|p| p.access.clone())
    };
    assert_eq!(access("Booking", "read"), Some(Access::Allowed));
    assert_eq!(access("Booking", "edit"), Some(Access::Forbidden));
    assert_eq!(access("Booking", "delete"), Some(Access::Forbidden));
    assert_eq!(access("Client", "export"), Some(Access::Forbidden));
    assert_eq!(access("Client", "read"), Some(Access::Allowed));
    let fields = policy
        .field_rights_of("bella", Some("salon"), "Client")
        .unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f.field == "phone" && f.visibility == Visibility::Masked)
    );

    let chat = Policy::from_toml(CHAT).unwrap();
    let otto = chat.permissions("otto", Some("chatco")).unwrap();
    let statistics = otto
        .iter()
        .find(|p| p.resource_type == "Statistics")
        .unwrap();
    assert_eq!(
        statistics.access,
        Access::Conditional {
            allow_if: vec!["the principal owns the resource".to_owned()],
            deny_if: vec![]
        }
    );
    assert!(otto.iter().all(|p| p.resource_type != "Finance"));
    assert!(matches!(
        chat.permissions("ghost", None),
        Err(Error::PrincipalUnknown(_))
    ));
}

#[test]
fn who_can() {
    let policy = Policy::from_toml(CHAT).unwrap();
    let names = |action: &str, resource: &str| {
        let mut names: Vec<String> = policy
            .who_can(action, Resource::parse(resource).unwrap(), None, None)
            .unwrap()
            .into_iter()
            .map(|g| format!("{}@{}", g.principal, g.tenant.unwrap_or("*")))
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names("read", "Finance:ledger"),
        ["max@chatco", "olivia@chatco"]
    );
    assert_eq!(
        names("read", "Statistics:otto"),
        ["max@chatco", "olivia@chatco", "otto@chatco", "sofia@chatco"]
    );
    assert_eq!(
        names("transfer", "Conversation:1"),
        [
            "max@chatco",
            "olivia@chatco",
            "otto@chatco",
            "sergei@chatco",
            "sofia@chatco"
        ]
    );
    assert!(matches!(
        policy.who_can("fly", Resource::new("Conversation", "1"), None, None),
        Err(Error::ActionUnknown { .. })
    ));
}

#[derive(Default)]
struct Counter {
    allowed: AtomicUsize,
    denied: AtomicUsize,
}

impl DecisionHook for Counter {
    fn record(&self, _request: &Request<'_>, decision: &Decision<'_>) {
        let slot = if decision.is_allowed() {
            &self.allowed
        } else {
            &self.denied
        };
        slot.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn store_hot_reload_and_hook() {
    let counter = Arc::new(Counter::default());
    let store =
        Arc::new(PolicyStore::new(Policy::from_toml(CHAT).unwrap()).with_hook(counter.clone()));
    let ledger = Resource::new("Finance", "ledger");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    let request = Request::new("max", "read", ledger).in_tenant("chatco");
                    let outcome = store.decide(&request).unwrap();
                    // Either snapshot's answer, never anything else.
                    assert!(outcome == Allow || outcome == Forbidden);
                }
            })
        })
        .collect();
    let mut document = PolicyDocument::from_toml(CHAT).unwrap();
    document.unchecked().block("max").unwrap();
    let old = store.replace(document.compile());
    assert!(!old.is_blocked("max"));
    for thread in threads {
        thread.join().unwrap();
    }
    let request = Request::new("max", "read", ledger).in_tenant("chatco");
    assert_eq!(store.decide(&request).unwrap(), Forbidden);
    let total = counter.allowed.load(Ordering::Relaxed) + counter.denied.load(Ordering::Relaxed);
    assert_eq!(total, 4001);
    assert!(counter.denied.load(Ordering::Relaxed) >= 1);
}

/// Regression (issue 15): a request in an undeclared tenant was answered from
/// the principal's global roles, while `permissions` and `who_can` refused it.
#[test]
fn an_undeclared_tenant_is_refused_not_answered() {
    let policy = Policy::from_toml(
        r#"
        [types.Client]
        actions = ["read"]
        [roles.Staff]
        allow = ["Client:read"]
        [tenants.salon]
        owners = ["anna"]
        owner_role = "Staff"
        [users.anna]
        tenants = { salon = ["Staff"] }
        [users.gus]
        roles = ["Staff"]
        "#,
    )
    .unwrap();
    let client = Resource::new("Client", "c1");
    let unknown = Error::TenantUnknown("slaon".to_owned());
    let typo = Request::new("gus", "read", client).in_tenant("slaon");
    assert_eq!(policy.decide(&typo).unwrap_err(), unknown);
    assert_eq!(policy.explain(&typo).unwrap_err(), unknown);
    assert_eq!(
        PolicyStore::new(Policy::from_toml(BOOKING).unwrap())
            .decide(&typo)
            .unwrap_err(),
        unknown
    );
    assert_eq!(
        policy.permissions("gus", Some("slaon")).unwrap_err(),
        unknown
    );
    assert_eq!(
        policy
            .who_can("read", client, Some("slaon"), None)
            .unwrap_err(),
        unknown
    );
    // The same for an unknown principal: the tenant is checked first.
    let nobody = Request::new("ghost", "read", client).in_tenant("slaon");
    assert_eq!(policy.decide(&nobody).unwrap_err(), unknown);
    // Declared tenants and requests without a tenant are decided as before.
    let salon = Request::new("gus", "read", client).in_tenant("salon");
    assert_eq!(policy.decide(&salon).unwrap().outcome(), Allow);
    let anywhere = Request::new("gus", "read", client);
    assert_eq!(policy.decide(&anywhere).unwrap().outcome(), Allow);
}
