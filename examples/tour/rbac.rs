//! Chapter 4: roles and rights, with palisade-rbac.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use palisade_examples::{chapter, show, step};
use palisade_rbac::{
    Access, Actor, Decision, DecisionHook, Outcome, Policy, PolicyDocument, PolicyStore, Request,
    Resource,
};

const CHAT: &str = include_str!("../../crates/palisade-rbac/policies/chat-platform.toml");
const BOOKING: &str = include_str!("../../crates/palisade-rbac/policies/booking.toml");

/// Counts decisions, as an audit-log hook would record them.
#[derive(Default)]
struct DecisionCount(AtomicUsize);

impl DecisionHook for DecisionCount {
    fn record(&self, _request: &Request<'_>, _decision: &Decision<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) fn run(workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        4,
        "Roles and rights",
        "every employee has a role with exactly the rights it needs; a dismissed employee \
         loses all access at once",
    );

    let mut document = PolicyDocument::from_toml(CHAT)?;
    let hook = Arc::new(DecisionCount::default());
    let store = PolicyStore::new(document.compile()).with_hook(hook.clone());
    step("a chat platform with five roles (crates/palisade-rbac/policies/chat-platform.toml)");
    let who = [
        ("olivia", "Administrator (the owner)"),
        ("max", "Manager"),
        ("sofia", "Operator supervisor"),
        ("sergei", "Senior operator"),
        ("otto", "Operator"),
    ];
    let questions = [
        ("edit", "Finance:ledger"),
        ("edit", "Settings:main"),
        ("general", "Analytics:q3"),
        ("read", "Statistics:otto"),
        ("read", "Statistics:sergei"),
    ];
    for (name, role) in who {
        let answers: Vec<String> = questions
            .iter()
            .map(|(action, resource)| {
                let request =
                    Request::new(name, action, Resource::parse(resource)?).in_tenant("chatco");
                let mark = if store.decide(&request)?.is_allowed() {
                    "yes"
                } else {
                    "no"
                };
                Ok(format!("{resource} {action}: {mark}"))
            })
            .collect::<Result<_, palisade_rbac::Error>>()?;
        show(&format!("{name:>6} ({role})"), answers.join(", "));
    }

    step("an operator's view: what otto may do (\"log in as that user\")");
    let policy = store.snapshot();
    for permission in policy.permissions("otto", Some("chatco"))? {
        let access = match &permission.access {
            Access::Allowed => "allowed".to_owned(),
            Access::Forbidden => "forbidden".to_owned(),
            Access::Conditional { allow_if, .. } => format!("if {}", allow_if.join(" or ")),
        };
        show(
            &format!("{}:{}", permission.resource_type, permission.action),
            access,
        );
    }
    let client = Resource::new("Client", "c-1");
    let read = Request::new("otto", "read", client).in_tenant("chatco");
    let fields: Vec<String> = policy
        .decide(&read)?
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.field, f.visibility))
        .collect();
    show("client card", fields.join(", "));
    let ledger =
        Request::new("otto", "read", Resource::new("Finance", "ledger")).in_tenant("chatco");
    show("why not finance", policy.explain(&ledger)?);

    step("the manager is dismissed: block max, swap the snapshot in (no lock, no restart)");
    let finance =
        Request::new("max", "edit", Resource::new("Finance", "ledger")).in_tenant("chatco");
    show("before", store.decide(&finance)?);
    document.block(&Actor::new("olivia", "chatco"), "max")?; // the owner acts
    store.replace(document.compile());
    show("after", store.decide(&finance)?);
    show("why", store.snapshot().explain(&finance)?);
    let current = store.snapshot();
    let everything = current.permissions("max", Some("chatco"))?;
    let forbidden = everything
        .iter()
        .filter(|p| p.access == Access::Forbidden)
        .count();
    show(
        "max's rights",
        format!("{forbidden} of {} forbidden", everything.len()),
    );

    step("the owner is protected: nobody can block, delete, demote or restrict olivia");
    let sofia = Actor::new("sofia", "chatco");
    show(
        "sofia blocks olivia",
        error_text(document.clone().block(&sofia, "olivia")),
    );
    show(
        "sofia denies olivia everything",
        error_text(document.clone().deny(&sofia, "olivia", "*")),
    );
    show(
        "demote olivia (even as the policy's author)",
        error_text(
            document
                .clone()
                .unchecked()
                .set_roles("olivia", Some("chatco"), &["Operator"]),
        ),
    );
    show(
        "remove the last owner (even as the policy's author)",
        error_text(
            document
                .clone()
                .unchecked()
                .remove_owner("chatco", "olivia"),
        ),
    );

    step("a booking SaaS: the owner restricts bella, then checks as bella");
    let booking = Policy::from_toml(BOOKING)?;
    for (action, resource) in [
        ("read", "Client:c-7"),
        ("export", "Client:c-7"),
        ("edit", "Booking:b-3"),
        ("create", "Booking:b-4"),
    ] {
        let request = Request::new("bella", action, Resource::parse(resource)?).in_tenant("salon");
        let explanation = booking.explain(&request)?;
        show(&format!("{resource} {action}"), &explanation);
    }
    let card = Request::new("bella", "read", Resource::new("Client", "c-7")).in_tenant("salon");
    let phone = booking
        .decide(&card)?
        .fields()
        .into_iter()
        .find(|f| f.field == "phone")
        .map(|f| f.visibility.to_string())
        .unwrap_or_default();
    show(
        "client phone for bella",
        format!("{phone} (palisade-pii shows it as XX)"),
    );
    let dora = Request::new("dora", "read", Resource::new("Booking", "b-3")).in_tenant("salon");
    show(
        "dora (dismissed, blocked)",
        booking.decide(&dora)?.outcome() == Outcome::Forbidden,
    );

    let path = workdir.join("booking-policy.toml");
    std::fs::write(&path, BOOKING)?;
    step(format!(
        "the same from the shell: palisade policy check --policy {} --principal bella --action export --resource Client:c-7 --tenant salon --explain",
        path.display()
    ));
    show(
        "decisions sent to the audit hook",
        hook.0.load(Ordering::Relaxed),
    );
    show(
        "compiled snapshot",
        format!(
            "{} bytes for the chat platform",
            store.snapshot().memory_bytes()
        ),
    );
    Ok(())
}

fn error_text(result: Result<(), palisade_rbac::Error>) -> String {
    match result {
        Ok(()) => "allowed (unexpected)".to_owned(),
        Err(error) => format!("refused: {error}"),
    }
}
