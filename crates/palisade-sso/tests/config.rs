//! The configuration file: what it accepts, and each refusal with its line.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use palisade_sso::{Config, Error, Problem};

const GOOD: &str = r#"
[tenants.acme]
issuer = "https://login.acme.example"
client_id = "backoffice"
client_secret_file = "/run/secrets/acme-oidc"
redirect_uri = "https://backoffice.example/sso/acme/callback"
post_logout_redirect_uri = "https://backoffice.example/"
scopes = ["email", "profile", "groups"]
algorithms = ["RS256", "ES256"]
allowed_email_domains = ["acme.example", "acme-labs.example"]
clock_skew_seconds = 30
max_session_seconds = 3600
jit = "provision"

[tenants.acme.second_factor]
amr = ["mfa", "otp", "hwk"]
acr = ["phr"]
fallback = "local-totp"

[[tenants.acme.roles]]
claim = "groups"
value = "backoffice-admins"
role = "Manager"

[[tenants.acme.roles]]
claim = "groups"
value = "support"
role = "Operator"

[tenants.dev]
issuer = "http://127.0.0.1:8080"
client_id = "backoffice-dev"
client_secret_key = "dev-oidc"
redirect_uri = "http://localhost:3000/sso/dev/callback"
allowed_email_domains = ["dev.example"]
default_role = "Viewer"
second_factor = { fallback = "local-totp" }
"#;

/// The problems of an invalid file, panicking on anything else.
fn problems(text: &str) -> Vec<Problem> {
    match Config::from_toml(text) {
        Err(Error::ConfigInvalid(problems)) => problems,
        other => panic!("expected invalid, got {other:?}"),
    }
}

/// The good file with one line replaced.
fn with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Exactly one problem, on the line holding `needle`, whose message contains `says`.
fn refused_at(text: &str, needle: &str, says: &str) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(line_of(text, needle)), "{found:?}");
    assert!(
        found[0].message.contains(says),
        "{:?} lacks {says:?}",
        found[0].message
    );
}

#[test]
fn a_good_file_compiles() {
    let config = Config::from_toml(GOOD).unwrap();
    assert_eq!(config.tenants().collect::<Vec<_>>(), ["acme", "dev"]);
    assert_eq!(config.roles("acme").unwrap(), ["Manager", "Operator"]);
    assert_eq!(config.roles("dev").unwrap(), ["Viewer"]);
    assert!(Config::from_toml("").unwrap().tenants().next().is_none());
}

#[test]
fn unsigned_and_symmetric_algorithms_are_refused() {
    let text = with(
        r#"algorithms = ["RS256", "ES256"]"#,
        r#"algorithms = ["none"]"#,
    );
    refused_at(&text, "algorithms", "`none` is refused");
    let text = with(
        r#"algorithms = ["RS256", "ES256"]"#,
        r#"algorithms = ["RS256", "HS256"]"#,
    );
    refused_at(
        &text,
        "algorithms",
        "`HS256` is refused: a symmetric algorithm",
    );
    let text = with(
        r#"algorithms = ["RS256", "ES256"]"#,
        r#"algorithms = ["RS1"]"#,
    );
    refused_at(&text, "algorithms", "unsupported");
    let text = with(r#"algorithms = ["RS256", "ES256"]"#, "algorithms = []");
    refused_at(&text, "algorithms", "is empty");
}

#[test]
fn urls_must_be_https_or_loopback_http() {
    let text = with("https://login.acme.example", "http://login.acme.example");
    refused_at(&text, "issuer", "plain http");
    let text = with(
        "https://login.acme.example",
        "https://login.acme.example/?x=1",
    );
    refused_at(&text, "issuer", "has a query");
    let text = with(
        "https://backoffice.example/sso/acme/callback",
        "https://backoffice.example/sso/acme/callback#frag",
    );
    refused_at(&text, "redirect_uri", "has a fragment");
    let text = with(
        "https://backoffice.example/sso/acme/callback",
        "https://user:pw@backoffice.example/cb",
    );
    refused_at(&text, "redirect_uri", "carries credentials");
    let text = with(
        "https://backoffice.example/\"",
        "ftp://backoffice.example/\"",
    );
    refused_at(&text, "post_logout_redirect_uri", "scheme `ftp`");
    let text = with("https://login.acme.example", "not a url");
    refused_at(&text, "issuer", "not an absolute url");
}

#[test]
fn the_client_secret_comes_from_exactly_one_place() {
    let text = with(
        "client_secret_file = \"/run/secrets/acme-oidc\"",
        "client_secret_file = \"/run/secrets/acme-oidc\"\nclient_secret_key = \"acme\"",
    );
    refused_at(&text, "client_secret_key", "not both");
    let text = with("client_secret_file = \"/run/secrets/acme-oidc\"\n", "");
    refused_at(&text, "[tenants.acme]", "has no client secret");
}

#[test]
fn the_second_factor_must_be_said() {
    let text = with("second_factor = { fallback = \"local-totp\" }", "");
    refused_at(&text, "[tenants.dev]", "has no `second_factor` table");
    let text = with(
        "second_factor = { fallback = \"local-totp\" }",
        "second_factor = { }",
    );
    refused_at(&text, "second_factor = { }", "nobody could sign in");
    let text = with(
        "fallback = \"local-totp\"\n\n[[",
        "fallback = \"sms\"\n\n[[",
    );
    let found = problems(&text);
    assert_eq!(
        found.len(),
        1,
        "an unknown fallback is a syntax error: {found:?}"
    );
    assert_eq!(found[0].line, Some(line_of(&text, "fallback = \"sms\"")));
    assert!(found[0].message.contains("sms"), "{}", found[0].message);
}

#[test]
fn email_domains_are_required_and_plain() {
    let text = with(
        r#"allowed_email_domains = ["dev.example"]"#,
        "allowed_email_domains = []",
    );
    refused_at(&text, "allowed_email_domains = []", "is empty");
    for bad in [
        "*.example",
        "@acme.example",
        "Acme.example",
        "acme",
        "acme..example",
    ] {
        let text = with(r#"["dev.example"]"#, &format!("[\"{bad}\"]"));
        refused_at(
            &text,
            &format!("allowed_email_domains = [\"{bad}\"]"),
            "not a lowercase domain name",
        );
    }
}

#[test]
fn role_rules_are_checked() {
    let text = with(
        "value = \"support\"\nrole = \"Operator\"",
        "value = \"backoffice-admins\"\nrole = \"Operator\"",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].message.contains("already maps to role `Manager`"),
        "{found:?}"
    );
    let text = with(
        "claim = \"groups\"\nvalue = \"support\"",
        "claim = \"aud\"\nvalue = \"support\"",
    );
    assert!(
        problems(&text)[0]
            .message
            .contains("claim `aud` says nothing about roles")
    );
    let text = with("default_role = \"Viewer\"\n", "");
    refused_at(&text, "[tenants.dev]", "maps no role");
}

#[test]
fn two_tenants_never_share_an_issuer_and_client() {
    let text = with(
        "issuer = \"http://127.0.0.1:8080\"\nclient_id = \"backoffice-dev\"",
        "issuer = \"https://login.acme.example/\"\nclient_id = \"backoffice\"",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    let second = text
        .lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| *l == "client_id = \"backoffice\"")
        .unwrap()
        + 1;
    assert_eq!(found[0].line, Some(second));
    assert!(
        found[0]
            .message
            .contains("same issuer and client id as tenant `acme`"),
        "{found:?}"
    );
}

#[test]
fn bounds_are_enforced() {
    let text = with("clock_skew_seconds = 30", "clock_skew_seconds = 3600");
    refused_at(&text, "clock_skew_seconds", "outside 0..=300");
    let text = with("max_session_seconds = 3600", "max_session_seconds = 10");
    refused_at(&text, "max_session_seconds", "outside 60..=604800");
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = GOOD
        .replace(
            r#"algorithms = ["RS256", "ES256"]"#,
            r#"algorithms = ["none"]"#,
        )
        .replace("https://login.acme.example", "http://login.acme.example")
        .replace(
            r#"allowed_email_domains = ["dev.example"]"#,
            "allowed_email_domains = []",
        );
    let found = problems(&text);
    let lines: Vec<usize> = found.iter().map(|p| p.line.unwrap()).collect();
    assert_eq!(
        lines,
        [
            line_of(&text, "issuer = \"http://login"),
            line_of(&text, "algorithms"),
            line_of(&text, "allowed_email_domains = []")
        ]
    );
    let shown = Error::ConfigInvalid(found).to_string();
    assert!(
        shown.starts_with(
            "invalid sso configuration: line 3, column 10: error: tenant `acme`: issuer"
        ),
        "{shown}"
    );
}

#[test]
fn malformed_files_are_syntax_errors_with_lines() {
    let text = with("jit = \"provision\"", "jit = \"provision\"\nsurprise = 1");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "unknown fields are refused: {found:?}");
    assert_eq!(
        (found[0].line, found[0].column),
        (Some(line_of(&text, "surprise")), Some(1))
    );
    assert!(
        found[0].message.contains("surprise"),
        "{}",
        found[0].message
    );
    assert_eq!(problems("[tenants.acme\n")[0].line, Some(1));
    let huge = "#".repeat(2 << 20);
    assert_eq!(problems(&huge)[0].line, None);
}

/// An axum handler's future must be `Send`: so must the crate's futures.
#[test]
fn the_sso_and_its_futures_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<palisade_sso::Sso>();
    send_sync::<Error>();
    let sso = palisade_sso::Sso::new(
        Config::from_toml("").unwrap(),
        std::sync::Arc::new(palisade_audit::AuditLog::new()),
    )
    .unwrap();
    let pending: palisade_sso::PendingSignIn = serde_json::from_value(serde_json::json!({
        "tenant": "acme", "state": "s", "nonce": "n", "verifier": "v",
        "redirect_uri": "https://app/cb", "created": 0
    }))
    .unwrap();
    let callback = palisade_sso::Callback::default();
    send(&sso.begin("acme"));
    send(&sso.complete(pending, &callback));
    send(&sso.logout_url("acme", "x"));
    send(&sso.verify_logout_token("acme", "x"));
}
