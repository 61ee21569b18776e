//! End-to-end tests against a real OpenID Provider (panva's oidc-provider on
//! loopback, started by the harness): sign-ins, role mapping, second factor,
//! key rotation, logout, and every refusal with its typed error and audit record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palisade_audit::{AuditLog, Outcome};
use palisade_sso::{
    Authenticated, Callback, Error, LocalAccount, PendingSignIn, Provisioning, SignIn, Sso,
};
use serde_json::{Value, json};
use support::{
    Harness, Op, admin, assert_refusal_recorded, browser, harness, jwks_fetches, records,
    sign_in_at_provider,
};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A copy of a pending sign-in, as an attacker replaying a session would hold.
fn copy(pending: &PendingSignIn) -> PendingSignIn {
    serde_json::from_value(serde_json::to_value(pending).unwrap()).unwrap()
}

/// Begins a sign-in and takes it through the provider's login page as `user`.
async fn at_provider(sso: &Sso, tenant: &str, user: &str) -> (PendingSignIn, Callback) {
    let start = sso.begin(tenant).await.unwrap();
    let callback = sign_in_at_provider(&browser(), &start.redirect_url, user).await;
    (start.pending, callback)
}

/// A full sign-in up to the verified identity.
async fn sign_in(sso: &Sso, tenant: &str, user: &str) -> palisade_sso::Result<Authenticated> {
    let (pending, callback) = at_provider(sso, tenant, user).await;
    sso.complete(pending, &callback).await
}

/// A sign-in of alice at acme whose ID token the provider rewrites as `tamper` says.
async fn tampered(h: &Harness, sso: &Sso, tamper: Value) -> palisade_sso::Result<Authenticated> {
    tampered_at(&h.acme, sso, "acme", "alice", tamper).await
}

async fn tampered_at(
    op: &Op,
    sso: &Sso,
    tenant: &str,
    user: &str,
    mut tamper: Value,
) -> palisade_sso::Result<Authenticated> {
    let (pending, callback) = at_provider(sso, tenant, user).await;
    tamper["code"] = json!(callback.code.clone().unwrap());
    admin(op, "/admin/tamper", tamper).await;
    sso.complete(pending, &callback).await
}

macro_rules! refused {
    ($result:expr, $pattern:pat, $log:expr, $reason:expr) => {{
        let result = $result;
        assert!(
            matches!(result, Err($pattern)),
            "expected {}, got {result:?}",
            stringify!($pattern)
        );
        assert_refusal_recorded(&$log, "sso.sign_in", $reason);
    }};
}

#[tokio::test]
async fn a_sign_in_maps_the_claimed_group_to_a_role_and_provisions_the_account() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let start = sso.begin("acme").await.unwrap();
    let query: Vec<(String, String)> = start.redirect_url.query_pairs().into_owned().collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("response_type"), Some("code"));
    assert_eq!(param("code_challenge_method"), Some("S256"));
    assert_eq!(param("client_id"), Some("backoffice-acme"));
    assert_eq!(
        param("redirect_uri"),
        Some("http://127.0.0.1:9/sso/acme/callback")
    );
    assert!(param("state").is_some_and(|s| s.len() >= 43));
    assert!(param("nonce").is_some_and(|s| s.len() >= 43));
    assert!(param("scope").unwrap().split(' ').any(|s| s == "openid"));

    let callback = sign_in_at_provider(&browser(), &start.redirect_url, "alice").await;
    assert_eq!(
        callback.iss.as_deref(),
        Some(h.acme.issuer.as_str()),
        "RFC 9207 iss is sent"
    );
    let authenticated = sso.complete(start.pending, &callback).await.unwrap();
    assert_eq!(authenticated.tenant(), "acme");
    assert_eq!(authenticated.subject(), "alice");
    assert_eq!(authenticated.email(), "alice@acme.test");
    let SignIn::Admitted(identity) = authenticated.admit(None).unwrap() else {
        panic!("the provider proved a second factor");
    };
    assert_eq!(identity.role(), "Manager");
    assert_eq!(identity.provisioning(), &Provisioning::Created);
    assert_eq!(identity.acr(), Some("mfa"));
    assert!(identity.amr().iter().any(|m| m == "otp"));
    assert!(identity.session_id().is_some());
    // The session ends with the ID token (600 s at this provider), not after 8 hours.
    let left = identity
        .expires_at()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        left <= Duration::from_secs(600) && left > Duration::from_secs(500),
        "{left:?}"
    );

    let records = records(&log);
    assert_eq!(records.len(), 2, "a provisioning and a sign-in record");
    assert_eq!(records[0].action(), "sso.provision");
    assert_eq!(records[0].payload().unwrap()["role"], json!("Manager"));
    assert_eq!(records[1].action(), "sso.sign_in");
    assert_eq!(records[1].outcome(), Outcome::Success);
    assert_eq!(records[1].tenant(), Some("acme"));
    assert_eq!(records[1].actor(), "oidc:alice");
}

#[tokio::test]
async fn an_existing_account_follows_the_claims_but_the_owner_keeps_their_role() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let harry = sign_in(&sso, "acme", "harry").await.unwrap();
    let SignIn::Admitted(identity) = harry.admit(Some(&LocalAccount::new("Manager"))).unwrap()
    else {
        panic!("admitted");
    };
    assert_eq!(
        identity.role(),
        "Operator",
        "demoted by the provider's groups"
    );
    assert_eq!(
        identity.provisioning(),
        &Provisioning::RoleChanged {
            from: "Manager".to_owned()
        }
    );
    assert_eq!(
        records(&log)[0].payload().unwrap()["from"],
        json!("Manager")
    );

    // Olga owns the tenant: her claims say `support` (Operator), she stays Owner.
    let olga = sign_in(&sso, "acme", "olga").await.unwrap();
    let owner = LocalAccount::new("Owner").with_owner(true);
    let SignIn::Admitted(identity) = olga.admit(Some(&owner)).unwrap() else {
        panic!("admitted");
    };
    assert_eq!(identity.role(), "Owner");
    assert_eq!(identity.provisioning(), &Provisioning::Unchanged);
}

#[tokio::test]
async fn a_user_without_the_required_amr_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    refused!(
        sign_in(&sso, "acme", "bob").await,
        Error::SecondFactorMissing,
        log,
        "second_factor_missing"
    );
    assert_eq!(records(&log).last().unwrap().actor(), "oidc:bob");
}

#[tokio::test]
async fn a_user_without_the_required_amr_is_sent_to_a_local_totp_where_the_tenant_falls_back() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    // initech accepts only a hardware key (`hwk`); bob proved a password only.
    let bob = sign_in(&sso, "initech", "bob").await.unwrap();
    match bob.admit(Some(&LocalAccount::new("Viewer"))).unwrap() {
        SignIn::NeedsTotp(identity) => assert_eq!(identity.role(), "Viewer"),
        SignIn::Admitted(_) => panic!("no second factor was proven"),
    }
    let last = records(&log).pop().unwrap();
    assert_eq!(
        last.payload().unwrap()["second_factor"],
        json!("local_totp_required")
    );
}

#[tokio::test]
async fn an_unknown_user_is_refused_where_the_tenant_does_not_provision() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let bob = sign_in(&sso, "initech", "bob").await.unwrap();
    assert!(matches!(bob.admit(None), Err(Error::AccountUnknown)));
    assert_refusal_recorded(&log, "sso.sign_in", "account_unknown");
}

#[tokio::test]
async fn a_user_disabled_at_the_provider_loses_access_at_the_next_sign_in() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    refused!(
        sign_in(&sso, "acme", "carol").await,
        Error::ProviderRefused { .. },
        log,
        "provider_refused"
    );

    admin(
        &h.acme,
        "/admin/users",
        json!({
            "id": "ivan", "email": "ivan@acme.test", "email_verified": true,
            "groups": ["support"], "amr": ["pwd", "otp"],
        }),
    )
    .await;
    let ivan = sign_in(&sso, "acme", "ivan").await.unwrap();
    assert!(matches!(ivan.admit(None).unwrap(), SignIn::Admitted(_)));
    admin(
        &h.acme,
        "/admin/users",
        json!({ "id": "ivan", "disabled": true }),
    )
    .await;
    refused!(
        sign_in(&sso, "acme", "ivan").await,
        Error::ProviderRefused { .. },
        log,
        "provider_refused"
    );
}

#[tokio::test]
async fn a_user_removed_from_the_mapped_groups_loses_access() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let erin = sign_in(&sso, "acme", "erin").await.unwrap();
    assert!(matches!(
        erin.admit(Some(&LocalAccount::new("Operator"))),
        Err(Error::RoleNotMapped)
    ));
    assert_refusal_recorded(&log, "sso.sign_in", "role_not_mapped");
}

#[tokio::test]
async fn a_wrong_state_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let (pending, callback) = at_provider(&sso, "acme", "alice").await;
    let mut forged = callback.clone();
    forged.state = Some("forged-state".to_owned());
    refused!(
        sso.complete(copy(&pending), &forged).await,
        Error::StateMismatch,
        log,
        "state_mismatch"
    );
    // The failed attempt spent the sign-in: the genuine callback cannot follow.
    refused!(
        sso.complete(pending, &callback).await,
        Error::SignInReplayed,
        log,
        "sign_in_replayed"
    );

    // A missing state is refused too.
    let (pending, mut callback) = at_provider(&sso, "acme", "alice").await;
    callback.state = None;
    refused!(
        sso.complete(pending, &callback).await,
        Error::StateMismatch,
        log,
        "state_mismatch"
    );
}

#[tokio::test]
async fn a_replayed_sign_in_and_a_replayed_code_are_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let (pending, callback) = at_provider(&sso, "acme", "alice").await;
    let stolen = copy(&pending);
    sso.complete(pending, &callback).await.unwrap();
    refused!(
        sso.complete(stolen, &callback).await,
        Error::SignInReplayed,
        log,
        "sign_in_replayed"
    );

    // The code again, under a fresh sign-in whose state the attacker knows:
    // the provider refuses a code it already exchanged (and the PKCE verifier differs).
    let fresh = sso.begin("acme").await.unwrap();
    let state = fresh
        .redirect_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let replay = Callback::from_query(&format!(
        "code={}&state={state}&iss={}",
        callback.code.clone().unwrap(),
        h.acme.issuer
    ))
    .unwrap();
    refused!(
        sso.complete(fresh.pending, &replay).await,
        Error::CodeRejected { .. },
        log,
        "code_rejected"
    );
}

#[tokio::test]
async fn concurrent_completions_of_one_sign_in_succeed_once() {
    let Some(h) = harness() else { return };
    let (sso, _log) = h.sso();
    let (pending, callback) = at_provider(&sso, "acme", "alice").await;
    let copies: Vec<PendingSignIn> = (0..8).map(|_| copy(&pending)).collect();
    drop(pending);
    let results = futures_join(copies.into_iter().map(|p| sso.complete(p, &callback))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let replayed = results
        .iter()
        .filter(|r| matches!(r, Err(Error::SignInReplayed)))
        .count();
    assert_eq!((ok, replayed), (1, 7), "{results:?}");
}

/// Polls the futures together on the test's runtime.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_wrong_or_missing_nonce_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    refused!(
        tampered(h, &sso, json!({ "patch": { "nonce": "an-old-nonce" } })).await,
        Error::NonceMismatch,
        log,
        "nonce_mismatch"
    );
    refused!(
        tampered(h, &sso, json!({ "remove": ["nonce"] })).await,
        Error::NonceMismatch,
        log,
        "nonce_mismatch"
    );
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    refused!(
        tampered(h, &sso, json!({ "patch": { "aud": "someone-else" } })).await,
        Error::AudienceWrong,
        log,
        "audience_wrong"
    );
    refused!(
        tampered(
            h,
            &sso,
            json!({ "patch": { "aud": ["backoffice-acme", "someone-else"] } })
        )
        .await,
        Error::AudienceWrong,
        log,
        "audience_wrong"
    );
    refused!(
        tampered(h, &sso, json!({ "patch": { "azp": "someone-else" } })).await,
        Error::AudienceWrong,
        log,
        "audience_wrong"
    );
}

#[tokio::test]
async fn an_expired_or_future_token_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let t = now();
    refused!(
        tampered(
            h,
            &sso,
            json!({ "patch": { "exp": t - 3600, "iat": t - 7200 } })
        )
        .await,
        Error::TokenExpired,
        log,
        "token_expired"
    );
    // Within the 60 s skew an expiry just past is still accepted.
    tampered(h, &sso, json!({ "patch": { "exp": t - 10 } }))
        .await
        .unwrap();
    refused!(
        tampered(
            h,
            &sso,
            json!({ "patch": { "iat": t + 3600, "exp": t + 7200 } })
        )
        .await,
        Error::TokenNotYetValid,
        log,
        "token_not_yet_valid"
    );
    refused!(
        tampered(h, &sso, json!({ "patch": { "nbf": t + 3600 } })).await,
        Error::TokenNotYetValid,
        log,
        "token_not_yet_valid"
    );
    refused!(
        tampered(
            h,
            &sso,
            json!({ "patch": { "iat": t - 3 * 3600, "exp": t + 600 } })
        )
        .await,
        Error::TokenExpired,
        log,
        "token_expired"
    );
}

#[tokio::test]
async fn an_unsigned_token_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    refused!(
        tampered(h, &sso, json!({ "sign": "none" })).await,
        Error::AlgorithmRefused(_),
        log,
        "algorithm_refused"
    );
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_providers_public_key_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let result = tampered(h, &sso, json!({ "sign": "hs256-public" })).await;
    assert!(
        matches!(&result, Err(Error::AlgorithmRefused(alg)) if alg == "HS256"),
        "{result:?}"
    );
    assert_refusal_recorded(&log, "sso.sign_in", "algorithm_refused");
}

#[tokio::test]
async fn a_signature_by_an_unknown_key_or_a_wrong_signature_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    refused!(
        tampered(h, &sso, json!({ "sign": "unknown-key" })).await,
        Error::KeyUnknown,
        log,
        "key_unknown"
    );
    refused!(
        tampered(h, &sso, json!({ "sign": "wrong-signature" })).await,
        Error::SignatureInvalid,
        log,
        "signature_invalid"
    );
    // Signed by the provider's own key, but naming another issuer.
    refused!(
        tampered(h, &sso, json!({ "patch": { "iss": h.globex.issuer } })).await,
        Error::IssuerWrong,
        log,
        "issuer_wrong"
    );
}

#[tokio::test]
async fn a_token_issued_by_another_tenants_provider_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    // Globex's provider (a tenant's own, so possibly hostile) mints a token for
    // acme's client naming acme's user.
    let claims = json!({ "sub": "alice", "aud": "backoffice-acme", "email": "alice@acme.test",
        "email_verified": true, "amr": ["otp"] });
    let genuine = admin(&h.globex, "/admin/mint", json!({ "claims": claims })).await;
    refused!(
        tampered(h, &sso, json!({ "replace": genuine["token"] })).await,
        Error::IssuerWrong,
        log,
        "issuer_wrong"
    );
    // The same with acme's issuer forged: globex's key is not acme's.
    let mut forged_claims = claims.clone();
    forged_claims["iss"] = json!(h.acme.issuer);
    let forged = admin(&h.globex, "/admin/mint", json!({ "claims": forged_claims })).await;
    refused!(
        tampered(h, &sso, json!({ "replace": forged["token"] })).await,
        Error::KeyUnknown,
        log,
        "key_unknown"
    );
    // And globex's own sign-ins work for globex only.
    let mallory = sign_in(&sso, "globex", "mallory").await.unwrap();
    assert_eq!(mallory.tenant(), "globex");
}

#[tokio::test]
async fn at_hash_is_checked_when_present() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    tampered(h, &sso, json!({ "add_at_hash": true }))
        .await
        .unwrap();
    refused!(
        tampered(
            h,
            &sso,
            json!({ "patch": { "at_hash": "AAAAAAAAAAAAAAAAAAAAAA" } })
        )
        .await,
        Error::AccessTokenHashMismatch,
        log,
        "at_hash_mismatch"
    );
}

#[tokio::test]
async fn an_email_domain_not_allowed_or_unverified_is_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let result = sign_in(&sso, "acme", "dave").await;
    assert!(
        matches!(&result, Err(Error::EmailDomainRefused(d)) if d == "evil.test"),
        "{result:?}"
    );
    assert_refusal_recorded(&log, "sso.sign_in", "email_domain_refused");
    assert_eq!(records(&log).last().unwrap().actor(), "oidc:dave");
    refused!(
        sign_in(&sso, "acme", "frank").await,
        Error::EmailUnverified,
        log,
        "email_unverified"
    );
}

#[tokio::test]
async fn key_rotation_at_the_provider_is_followed_with_one_rate_limited_refetch() {
    let Some(h) = harness() else { return };
    let log = std::sync::Arc::new(AuditLog::new());
    let config = || palisade_sso::Config::from_toml(&h.config_text()).unwrap();
    let eager = Sso::new(config(), log.clone())
        .unwrap()
        .with_jwks_refetch_interval(Duration::ZERO);
    let patient = Sso::new(config(), log.clone())
        .unwrap()
        .with_jwks_refetch_interval(Duration::from_secs(3600));
    let before = jwks_fetches(&h.rotating).await;
    sign_in(&eager, "rot", "alice").await.unwrap();
    sign_in(&patient, "rot", "alice").await.unwrap();
    assert_eq!(
        jwks_fetches(&h.rotating).await,
        before + 2,
        "one discovery each"
    );

    admin(&h.rotating, "/admin/rotate", json!({})).await;

    // The patient client fetched its keys less than an hour ago: it does not
    // refetch, so the new key stays unknown to it.
    let result = sign_in(&patient, "rot", "alice").await;
    assert!(matches!(result, Err(Error::KeyUnknown)), "{result:?}");
    assert_eq!(jwks_fetches(&h.rotating).await, before + 2);

    // The eager one refetches once and accepts the token of the new key.
    sign_in(&eager, "rot", "alice").await.unwrap();
    assert_eq!(jwks_fetches(&h.rotating).await, before + 3);
    // Known keys do not trigger fetches.
    sign_in(&eager, "rot", "alice").await.unwrap();
    assert_eq!(jwks_fetches(&h.rotating).await, before + 3);
    // A key the provider never published: exactly one refetch, then refused.
    let result = tampered_at(
        &h.rotating,
        &eager,
        "rot",
        "alice",
        json!({ "sign": "unknown-key" }),
    )
    .await;
    assert!(matches!(result, Err(Error::KeyUnknown)), "{result:?}");
    assert_eq!(jwks_fetches(&h.rotating).await, before + 4);
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_provider_session_and_back_channel_logout_is_verified() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let browser = browser();
    let start = sso.begin("acme").await.unwrap();
    let callback = sign_in_at_provider(&browser, &start.redirect_url, "alice").await;
    let SignIn::Admitted(identity) = sso
        .complete(start.pending, &callback)
        .await
        .unwrap()
        .admit(None)
        .unwrap()
    else {
        panic!("admitted");
    };
    let url = sso
        .logout_url("acme", identity.id_token_hint())
        .await
        .unwrap()
        .unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/session/end", h.acme.issuer))
    );
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(
        params
            .iter()
            .any(|(k, v)| k == "id_token_hint" && v == identity.id_token_hint())
    );
    assert!(
        params
            .iter()
            .any(|(k, v)| k == "post_logout_redirect_uri" && v == "http://127.0.0.1:9/")
    );

    // The user confirms the logout at the provider.
    let page = browser.get(url).send().await.unwrap().text().await.unwrap();
    let xsrf = page
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no xsrf in {page}"))
        .to_owned();
    let confirm = browser
        .post(format!("{}/session/end/confirm", h.acme.issuer))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert!(confirm.status().is_redirection(), "{}", confirm.status());
    assert!(
        confirm.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("http://127.0.0.1:9/")
    );

    // The provider POSTs a logout token to the back-channel URI.
    let mut token = None;
    for _ in 0..50 {
        token = h.logout_tokens.lock().unwrap().pop();
        if token.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = token.expect("no back-channel logout arrived");
    let notice = sso.verify_logout_token("acme", &token).await.unwrap();
    assert_eq!(notice.subject.as_deref(), Some("alice"));
    assert_eq!(notice.session_id.as_deref(), identity.session_id());
    let last = records(&log).pop().unwrap();
    assert_eq!(
        (last.action(), last.outcome()),
        ("sso.logout", Outcome::Success)
    );

    // Replayed, for another tenant, or tampered: refused and recorded.
    assert!(matches!(
        sso.verify_logout_token("acme", &token).await,
        Err(Error::LogoutTokenReplayed)
    ));
    assert_refusal_recorded(&log, "sso.logout", "logout_token_replayed");
    assert!(matches!(
        sso.verify_logout_token("initech", &token).await,
        Err(Error::AudienceWrong)
    ));
    assert_refusal_recorded(&log, "sso.logout", "audience_wrong");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = base64_json(
        &json!({"iss": h.acme.issuer, "aud": "backoffice-acme", "iat": now(),
        "jti": "other", "sub": "olga", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
    );
    assert!(matches!(
        sso.verify_logout_token("acme", &parts.join(".")).await,
        Err(Error::SignatureInvalid)
    ));
    // An ID token is not a logout token.
    assert!(matches!(
        sso.verify_logout_token("acme", identity.id_token_hint())
            .await,
        Err(Error::LogoutTokenInvalid(_) | Error::TokenExpired)
    ));
}

fn base64_json(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn an_expired_sign_in_and_an_unknown_tenant_are_refused() {
    let Some(h) = harness() else { return };
    let (sso, log) = h.sso();
    let sso = sso.with_sign_in_ttl(Duration::ZERO);
    let (pending, callback) = at_provider(&sso, "acme", "alice").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    refused!(
        sso.complete(pending, &callback).await,
        Error::SignInExpired,
        log,
        "sign_in_expired"
    );
    assert!(matches!(
        sso.begin("nobody").await,
        Err(Error::TenantUnknown(_))
    ));
}
