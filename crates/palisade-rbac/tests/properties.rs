//! Property tests of the decision semantics over random role models:
//! monotonicity of denies and grants, independence from rule order, and
//! blocked principals being denied everything. proptest drives the seeds of
//! the model generator (shared with the Cedar differential test) and the
//! choice of the added rule, principal and permutation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::{Model, Rng, rule};
use palisade_rbac::Outcome;
use proptest::prelude::*;

const REQUESTS: usize = 64;

fn outcomes(model: &Model, seed: u64) -> Vec<(common::Ask, Option<Outcome>)> {
    let policy = model.compile();
    let mut rng = Rng::new(seed);
    (0..REQUESTS)
        .map(|_| {
            let ask = model.random_request(&mut rng);
            let outcome = ask.decide(&policy);
            (ask, outcome)
        })
        .collect()
}

/// Adds `rule` to a random role or user of the model.
fn add_rule(model: &mut Model, rng: &mut Rng, allow: bool) {
    let mut added = rule(rng, &model.types.clone(), if allow { 100 } else { 0 });
    added.allow = allow;
    let roles = model.roles.len();
    let mut at = rng.below(roles + model.users.len());
    // The owner (user 0, when there are tenants) cannot carry a deny of its own.
    if !allow && model.tenants > 0 && at == roles {
        at = 0;
    }
    if at < roles {
        model.roles[at].rules.push(added);
    } else {
        model.users[at - roles].rules.push(added);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn adding_a_deny_never_turns_a_deny_into_an_allow(seed in any::<u64>(), choice in any::<u64>()) {
        let model = Model::random(&mut Rng::new(seed));
        let mut denied = model.clone();
        add_rule(&mut denied, &mut Rng::new(choice), false);
        let before = outcomes(&model, seed ^ 1);
        let after = outcomes(&denied, seed ^ 1);
        for ((ask, old), (_, new)) in before.iter().zip(&after) {
            prop_assert_eq!(old.is_none(), new.is_none(), "{:?}", ask);
            let (Some(old), Some(new)) = (old, new) else { continue };
            if *old != Outcome::Allow {
                prop_assert_ne!(*new, Outcome::Allow, "{:?}", ask);
            }
            // A deny already matching keeps matching.
            if *old == Outcome::Forbidden {
                prop_assert_eq!(*new, Outcome::Forbidden, "{:?}", ask);
            }
        }
    }

    #[test]
    fn adding_a_grant_never_turns_an_allow_into_a_deny(seed in any::<u64>(), choice in any::<u64>()) {
        let model = Model::random(&mut Rng::new(seed));
        let mut granted = model.clone();
        add_rule(&mut granted, &mut Rng::new(choice), true);
        let before = outcomes(&model, seed ^ 2);
        let after = outcomes(&granted, seed ^ 2);
        for ((ask, old), (_, new)) in before.iter().zip(&after) {
            prop_assert_eq!(old.is_none(), new.is_none(), "{:?}", ask);
            let (Some(old), Some(new)) = (old, new) else { continue };
            match old {
                Outcome::Allow => prop_assert_eq!(*new, Outcome::Allow, "{:?}", ask),
                // Only a matching deny denies, and a grant adds none.
                Outcome::Forbidden => prop_assert_eq!(*new, Outcome::Forbidden, "{:?}", ask),
                Outcome::NotPermitted => prop_assert_ne!(*new, Outcome::Forbidden, "{:?}", ask),
            }
        }
    }

    #[test]
    fn decisions_do_not_depend_on_rule_order(seed in any::<u64>(), shuffle in any::<u64>()) {
        let model = Model::random(&mut Rng::new(seed));
        let mut shuffled = model.clone();
        let mut rng = Rng::new(shuffle);
        for role in &mut shuffled.roles {
            rng.shuffle(&mut role.rules);
            rng.shuffle(&mut role.inherits);
            for rule in &mut role.rules {
                rng.shuffle(&mut rule.actions);
                rng.shuffle(&mut rule.when);
                rule.as_list = rng.chance(50);
            }
        }
        for user in &mut shuffled.users {
            rng.shuffle(&mut user.rules);
            rng.shuffle(&mut user.global);
            for (_, roles) in &mut user.tenants {
                rng.shuffle(roles);
            }
            for rule in &mut user.rules {
                rng.shuffle(&mut rule.actions);
                rule.as_list = rng.chance(50);
            }
        }
        let before = outcomes(&model, seed ^ 3);
        let after = outcomes(&shuffled, seed ^ 3);
        prop_assert_eq!(before.len(), after.len());
        for ((ask, old), (_, new)) in before.iter().zip(&after) {
            prop_assert_eq!(old, new, "{:?}", ask);
        }
    }

    #[test]
    fn a_blocked_principal_is_denied_everything(seed in any::<u64>(), pick in any::<u64>()) {
        let mut model = Model::random(&mut Rng::new(seed));
        // Owners cannot be blocked (validation); pick another user when there are tenants.
        let candidates: Vec<usize> = (0..model.users.len())
            .filter(|u| model.tenants == 0 || *u != 0)
            .collect();
        prop_assume!(!candidates.is_empty());
        let user = candidates[(pick % candidates.len() as u64) as usize];
        model.users[user].blocked = true;
        let name = format!("u{user}");
        let policy = model.compile();
        let mut rng = Rng::new(seed ^ 4);
        for _ in 0..REQUESTS {
            let mut ask = model.random_request(&mut rng);
            ask.principal = name.clone();
            if let Some(outcome) = ask.decide(&policy) {
                prop_assert_eq!(outcome, Outcome::Forbidden, "{:?}", ask);
            }
        }
        prop_assert!(policy.permissions(&name, None).unwrap().iter().all(|p| p.access == palisade_rbac::Access::Forbidden));
    }
}
