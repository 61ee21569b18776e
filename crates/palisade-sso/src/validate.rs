//! Parsing and validation of configuration files.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;

use openidconnect::url::{Host, Url};
use toml::Spanned;

use crate::error::{Error, Problem, Result, Severity};
use crate::model::{Fallback, File, TenantDef};

/// Largest configuration file accepted (a few hundred tenants fit easily).
pub(crate) const MAX_FILE_LEN: usize = 1 << 20;

/// The signature algorithms a tenant may allow: asymmetric only.
pub(crate) const ASYMMETRIC_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Used when a tenant lists no `algorithms`.
pub(crate) const DEFAULT_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// Default and largest allowed clock skew, in seconds.
pub(crate) const DEFAULT_SKEW: i64 = 60;
pub(crate) const MAX_SKEW: i64 = 300;

/// Default, smallest and largest session lifetime, in seconds.
pub(crate) const DEFAULT_SESSION: i64 = 8 * 3600;
pub(crate) const MIN_SESSION: i64 = 60;
pub(crate) const MAX_SESSION: i64 = 7 * 24 * 3600;

/// Longest string value (URLs, names, claim values) a file may hold.
const MAX_VALUE_LEN: usize = 2048;

/// Parses the TOML text into the file model (shape only).
pub(crate) fn parse(text: &str) -> Result<File> {
    if text.len() > MAX_FILE_LEN {
        return Err(Error::ConfigInvalid(vec![Problem {
            severity: Severity::Error,
            line: None,
            column: None,
            message: format!(
                "the file has {} bytes, more than {MAX_FILE_LEN}",
                text.len()
            ),
        }]));
    }
    toml::from_str(text).map_err(|error| {
        let (line, column) = error.span().map(|span| place(text, span.start)).unzip();
        Error::ConfigInvalid(vec![Problem {
            severity: Severity::Error,
            line,
            column,
            message: error.message().trim_end().to_owned(),
        }])
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn place(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Collects every problem of a parsed file; an empty list means valid.
pub(crate) fn validate(file: &File, text: &str) -> Vec<Problem> {
    let mut check = Checker {
        text,
        problems: Vec::new(),
    };
    for (name, def) in &file.tenants {
        check.tenant(name, def);
    }
    check.shared_clients(file);
    let mut problems = check.problems;
    problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column.unwrap_or(0)));
    problems
}

/// Validates and turns problems into an error.
pub(crate) fn ensure_valid(file: &File, text: &str) -> Result<()> {
    let problems = validate(file, text);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::ConfigInvalid(problems))
    }
}

/// A tenant, role or claim name: printable, no surrounding spaces, not too long.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.chars().any(char::is_control)
        && name.trim() == name
}

/// Whether `url` is on the loopback interface (where plain HTTP never leaves the machine).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Checks an absolute URL: HTTPS, or HTTP on loopback; no credentials or
/// fragment. Returns the reason it is unacceptable.
pub(crate) fn url_problem(text: &str, allow_query: bool) -> Option<String> {
    if text.len() > MAX_VALUE_LEN {
        return Some(format!("is longer than {MAX_VALUE_LEN} bytes"));
    }
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(e) => return Some(format!("is not an absolute url ({e})")),
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Some("uses plain http (only https, or http on loopback)".to_owned()),
        other => return Some(format!("has scheme `{other}` (expected https)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("carries credentials".to_owned());
    }
    if url.fragment().is_some() {
        return Some("has a fragment".to_owned());
    }
    if !allow_query && url.query().is_some() {
        return Some("has a query".to_owned());
    }
    None
}

/// Whether `domain` is a lowercase DNS name (`example.com`, `sub.example.co.uk`).
fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Whether `scope` is an RFC 6749 scope token.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 256
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, span: Range<usize>, message: String) {
        let (line, column) = place(self.text, span.start);
        self.problems.push(Problem {
            severity: Severity::Error,
            line: Some(line),
            column: Some(column),
            message,
        });
    }

    fn tenant(&mut self, name: &str, def: &Spanned<TenantDef>) {
        let span = def.span();
        let t = def.get_ref();
        let who = format!("tenant `{name}`");
        if !valid_name(name) {
            self.report(span.clone(), format!("{who} has an invalid name"));
        }

        if let Some(why) = url_problem(t.issuer.get_ref(), false) {
            self.report(
                t.issuer.span(),
                format!("{who}: issuer `{}` {why}", t.issuer.get_ref()),
            );
        }
        let client_id = t.client_id.get_ref();
        if client_id.is_empty()
            || client_id.len() > MAX_VALUE_LEN
            || client_id.chars().any(char::is_control)
        {
            self.report(
                t.client_id.span(),
                format!(
                    "{who}: client id `{client_id}` is empty, too long or has control characters"
                ),
            );
        }
        match (&t.client_secret_file, &t.client_secret_key) {
            (Some(_), Some(key)) => self.report(
                key.span(),
                format!("{who}: give `client_secret_file` or `client_secret_key`, not both"),
            ),
            (None, None) => self.report(
                span.clone(),
                format!("{who} has no client secret: add `client_secret_file` (a path) or `client_secret_key` (a name for the secret provider)"),
            ),
            (Some(file), None) if file.get_ref().is_empty() => {
                self.report(file.span(), format!("{who}: `client_secret_file` is empty"));
            }
            (None, Some(key)) if !valid_name(key.get_ref()) => {
                self.report(key.span(), format!("{who}: `client_secret_key` `{}` is not a valid name", key.get_ref()));
            }
            _ => {}
        }
        if let Some(why) = url_problem(t.redirect_uri.get_ref(), true) {
            self.report(
                t.redirect_uri.span(),
                format!("{who}: redirect uri `{}` {why}", t.redirect_uri.get_ref()),
            );
        }
        if let Some(uri) = &t.post_logout_redirect_uri
            && let Some(why) = url_problem(uri.get_ref(), true)
        {
            self.report(
                uri.span(),
                format!("{who}: post-logout redirect uri `{}` {why}", uri.get_ref()),
            );
        }
        if let Some(scopes) = &t.scopes {
            for scope in scopes.get_ref() {
                if !valid_scope(scope) {
                    self.report(
                        scopes.span(),
                        format!("{who}: `{scope}` is not a valid scope"),
                    );
                }
            }
        }
        self.algorithms(&who, t);
        self.domains(&who, t);
        if let Some(skew) = &t.clock_skew_seconds
            && !(0..=MAX_SKEW).contains(skew.get_ref())
        {
            self.report(
                skew.span(),
                format!(
                    "{who}: clock skew of {} seconds is outside 0..={MAX_SKEW}",
                    skew.get_ref()
                ),
            );
        }
        if let Some(session) = &t.max_session_seconds
            && !(MIN_SESSION..=MAX_SESSION).contains(session.get_ref())
        {
            self.report(
                session.span(),
                format!(
                    "{who}: session lifetime of {} seconds is outside {MIN_SESSION}..={MAX_SESSION}",
                    session.get_ref()
                ),
            );
        }
        self.second_factor(&who, span.clone(), t);
        self.roles(&who, span, t);
    }

    fn algorithms(&mut self, who: &str, t: &TenantDef) {
        let Some(algorithms) = &t.algorithms else {
            return;
        };
        if algorithms.get_ref().is_empty() {
            self.report(algorithms.span(), format!("{who}: `algorithms` is empty"));
        }
        for alg in algorithms.get_ref() {
            let why = if alg.eq_ignore_ascii_case("none") {
                Some("an unsigned token proves nothing")
            } else if alg.to_ascii_uppercase().starts_with("HS") {
                Some(
                    "a symmetric algorithm would let anyone holding the client secret (or a public key) forge tokens",
                )
            } else if !ASYMMETRIC_ALGORITHMS.contains(&alg.as_str()) {
                Some(
                    "unsupported (expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA)",
                )
            } else {
                None
            };
            if let Some(why) = why {
                self.report(
                    algorithms.span(),
                    format!("{who}: algorithm `{alg}` is refused: {why}"),
                );
            }
        }
    }

    fn domains(&mut self, who: &str, t: &TenantDef) {
        let domains = &t.allowed_email_domains;
        if domains.get_ref().is_empty() {
            self.report(
                domains.span(),
                format!("{who}: `allowed_email_domains` is empty (name the company's domains, e.g. `[\"example.com\"]`)"),
            );
        }
        for domain in domains.get_ref() {
            if !valid_domain(domain) {
                self.report(
                    domains.span(),
                    format!(
                        "{who}: `{domain}` is not a lowercase domain name (no `@`, `*` or spaces)"
                    ),
                );
            }
        }
    }

    fn second_factor(&mut self, who: &str, span: Range<usize>, t: &TenantDef) {
        let Some(def) = &t.second_factor else {
            self.report(
                span,
                format!("{who} has no `second_factor` table: list the `amr`/`acr` values that prove a second factor, or set `fallback = \"local-totp\"`"),
            );
            return;
        };
        let sf = def.get_ref();
        if sf.acr.is_empty() && sf.amr.is_empty() && sf.fallback == Fallback::Refuse {
            self.report(
                def.span(),
                format!("{who}: `second_factor` lists no `acr` or `amr` value and falls back to `refuse`, so nobody could sign in"),
            );
        }
        for value in sf.acr.iter().chain(&sf.amr) {
            if !valid_name(value) {
                self.report(
                    def.span(),
                    format!("{who}: second factor value `{value}` is not valid"),
                );
            }
        }
    }

    fn roles(&mut self, who: &str, span: Range<usize>, t: &TenantDef) {
        if t.roles.is_empty() && t.default_role.is_none() {
            self.report(
                span,
                format!(
                    "{who} maps no role: add `[[tenants.<name>.roles]]` rules or a `default_role`"
                ),
            );
        }
        if let Some(role) = &t.default_role
            && !valid_name(role.get_ref())
        {
            self.report(
                role.span(),
                format!(
                    "{who}: default role `{}` has an invalid name",
                    role.get_ref()
                ),
            );
        }
        let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for rule in &t.roles {
            let r = rule.get_ref();
            if !valid_name(&r.claim) {
                self.report(
                    rule.span(),
                    format!("{who}: claim name `{}` is invalid", r.claim),
                );
            } else if RESERVED_CLAIMS.contains(&r.claim.as_str()) {
                self.report(
                    rule.span(),
                    format!(
                        "{who}: claim `{}` says nothing about roles and cannot be mapped",
                        r.claim
                    ),
                );
            }
            if r.value.is_empty()
                || r.value.len() > MAX_VALUE_LEN
                || r.value.chars().any(char::is_control)
            {
                self.report(
                    rule.span(),
                    format!(
                        "{who}: claim value `{}` is empty, too long or has control characters",
                        r.value
                    ),
                );
            }
            if !valid_name(&r.role) {
                self.report(
                    rule.span(),
                    format!("{who}: role `{}` has an invalid name", r.role),
                );
            }
            match seen.get(&(r.claim.as_str(), r.value.as_str())) {
                Some(earlier) if *earlier != r.role => self.report(
                    rule.span(),
                    format!(
                        "{who}: `{}` = `{}` already maps to role `{earlier}`, so this rule for `{}` would never apply",
                        r.claim, r.value, r.role
                    ),
                ),
                Some(_) => self.report(
                    rule.span(),
                    format!("{who}: the rule `{}` = `{}` is repeated", r.claim, r.value),
                ),
                None => {
                    seen.insert((&r.claim, &r.value), &r.role);
                }
            }
        }
    }

    /// Two tenants with the same issuer and client would accept each other's tokens.
    fn shared_clients(&mut self, file: &File) {
        let mut seen: BTreeMap<(String, &str), &str> = BTreeMap::new();
        for (name, def) in &file.tenants {
            let t = def.get_ref();
            let issuer = t.issuer.get_ref().trim_end_matches('/').to_owned();
            let key = (issuer, t.client_id.get_ref().as_str());
            if let Some(other) = seen.get(&key) {
                self.report(
                    t.client_id.span(),
                    format!(
                        "tenant `{name}` uses the same issuer and client id as tenant `{other}`, so each would accept the other's sign-ins: register one client per tenant"
                    ),
                );
            } else {
                seen.insert(key, name);
            }
        }
    }
}

/// Claims that are about the token itself, not the user's roles.
const RESERVED_CLAIMS: [&str; 12] = [
    "iss",
    "aud",
    "azp",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "at_hash",
    "c_hash",
    "jti",
    "sid",
    "auth_time",
];
