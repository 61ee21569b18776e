//! The SSO configuration parser on arbitrary text: no panic, problems point
//! inside the file, and a configuration that loads never maps a claim set to
//! a role it does not name nor changes an owner's role.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_sso::{Config, Error, LocalAccount};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    let config = match Config::from_toml(text) {
        Ok(config) => config,
        Err(Error::ConfigInvalid(problems)) => {
            assert!(!problems.is_empty());
            for problem in &problems {
                if let Some(line) = problem.line {
                    assert!((1..=lines).contains(&line), "line {line} of {lines}");
                }
                assert!(problem.column.is_none_or(|c| c >= 1));
            }
            return;
        }
        Err(e) => panic!("unexpected error {e}"),
    };
    let claims = [
        json!({}),
        json!({ "groups": ["admins", "support", "sales"], "roles": "admin" }),
        json!({ "groups": "admins", "department": ["x", 1, null, {"a": "b"}] }),
    ];
    let owner = LocalAccount::new("Owner-of-record").with_owner(true);
    let staff = LocalAccount::new("Somebody");
    for tenant in config.tenants() {
        let named = config.roles(tenant).unwrap();
        assert!(!named.is_empty());
        for claims in &claims {
            for existing in [None, Some(&staff)] {
                if let Ok(a) = config.role_for(tenant, claims, existing) {
                    assert!(named.contains(&a.role.as_str()), "{} not in {named:?}", a.role);
                }
            }
            let kept = config.role_for(tenant, claims, Some(&owner)).unwrap();
            assert_eq!(kept.role, "Owner-of-record");
        }
    }
});
