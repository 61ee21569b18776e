//! Policy files are untrusted input: parsing, validation and compilation
//! must never panic, and a valid policy must survive a round trip through
//! `to_toml` with the same permissions and decisions.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_rbac::{Policy, PolicyDocument, Request, Resource};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(document) = PolicyDocument::from_toml(text) else {
        return;
    };
    let policy = document.compile();
    let again = Policy::from_toml(&document.to_toml().expect("a valid policy serializes"))
        .expect("a serialized policy parses and validates");
    let principals: Vec<&str> = policy.principals().take(8).collect();
    let tenants: Vec<&str> = policy.tenants().map(|(t, _)| t).take(2).collect();
    for principal in &principals {
        assert_eq!(
            policy.permissions(principal, None).ok(),
            again.permissions(principal, None).ok()
        );
        for tenant in &tenants {
            for resource in ["Conversation:1", "Client:c1", "Booking:b1", "T0:r0"] {
                let resource = Resource::parse(resource).expect("well-formed");
                let request = Request::new(principal, "read", resource).in_tenant(tenant);
                // Every tenant asked about is declared, so nothing is refused.
                let outcome = policy.decide(&request).expect("a declared tenant").outcome();
                assert_eq!(policy.explain(&request).map(|e| e.outcome), Ok(outcome));
                assert_eq!(again.decide(&request).map(|d| d.outcome()), Ok(outcome));
            }
        }
    }
});
