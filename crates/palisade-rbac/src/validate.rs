//! Parsing and validation of policy files against their declared schema.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use crate::compile::{compile, to_u32};
use crate::error::{Error, Problem, Result, Severity};
use crate::model::{
    ActionRef, Effect, File, Op, Operand, Rights, Status, Visibility, parse_action_ref,
};

/// Parses the TOML text into the file model (shape only, no schema checks).
/// A malformed file is one problem, where the parser stopped.
pub(crate) fn parse(text: &str) -> Result<File> {
    toml::from_str(text).map_err(|error| {
        let (line, column) = error.span().map(|span| place(text, span.start)).unzip();
        Error::PolicyInvalid(vec![Problem {
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
pub(crate) fn validate(file: &File, text: Option<&str>) -> Vec<Problem> {
    let mut check = Checker {
        file,
        text,
        problems: Vec::new(),
    };
    check.types();
    check.roles();
    check.delegation();
    check.tenants();
    check.users();
    check.resources();
    // Needs every name resolved, so only on an otherwise valid file.
    if check.problems.is_empty() {
        check.owners_keep_their_rights();
    }
    let mut problems = check.problems;
    problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column.unwrap_or(0)));
    problems
}

/// Validates and turns problems into an error.
pub(crate) fn ensure_valid(file: &File, text: Option<&str>) -> Result<()> {
    let problems = validate(file, text);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::PolicyInvalid(problems))
    }
}

/// The roles `user` holds in `tenant` (every-tenant roles first), with
/// where each is written.
pub(crate) fn roles_in<'f>(file: &'f File, user: &str, tenant: &str) -> Vec<&'f Spanned<String>> {
    file.users
        .get(user)
        .map(|u| {
            let u = u.get_ref();
            u.roles
                .iter()
                .chain(u.tenants.get(tenant).into_iter().flatten())
                .collect()
        })
        .unwrap_or_default()
}

/// The place of `role` in the delegation order (0 = most senior), if listed.
pub(crate) fn rank_of(file: &File, role: &str) -> Option<usize> {
    file.delegation
        .as_ref()?
        .get_ref()
        .order
        .iter()
        .position(|rank| rank.get_ref().roles().iter().any(|r| r == role))
}

/// Whether `user` is directly assigned `role` in `tenant` (or in every tenant).
pub(crate) fn holds_role(file: &File, user: &str, tenant: &str, role: &str) -> bool {
    file.users.get(user).is_some_and(|u| {
        let u = u.get_ref();
        u.roles.iter().any(|r| r.get_ref() == role)
            || u.tenants
                .get(tenant)
                .is_some_and(|roles| roles.iter().any(|r| r.get_ref() == role))
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains([':', '.', '*'])
        && !name.chars().any(char::is_control)
        && name.trim() == name
}

struct Checker<'a> {
    file: &'a File,
    text: Option<&'a str>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, span: Range<usize>, message: String) {
        let (line, column) = self.text.map(|text| place(text, span.start)).unzip();
        self.problems.push(Problem {
            severity: Severity::Error,
            line,
            column,
            message,
        });
    }

    fn types(&mut self) {
        for (name, def) in &self.file.types {
            let span = def.span();
            if !valid_name(name) {
                self.report(
                    span.clone(),
                    format!("resource type `{name}` has an invalid name (no `:`, `.`, `*`, control characters or surrounding spaces)"),
                );
            }
            let mut seen = BTreeSet::new();
            for action in &def.get_ref().actions {
                if !valid_name(action) {
                    self.report(
                        span.clone(),
                        format!("resource type `{name}` has an invalid action name `{action}`"),
                    );
                } else if !seen.insert(action.as_str()) {
                    self.report(
                        span.clone(),
                        format!("resource type `{name}` declares action `{action}` twice"),
                    );
                }
            }
            let mut seen = BTreeSet::new();
            for field in &def.get_ref().fields {
                if !valid_name(field) {
                    self.report(
                        span.clone(),
                        format!("resource type `{name}` has an invalid field name `{field}`"),
                    );
                } else if !seen.insert(field.as_str()) {
                    self.report(
                        span.clone(),
                        format!("resource type `{name}` declares field `{field}` twice"),
                    );
                }
            }
        }
    }

    fn action_ref(&mut self, owner: &str, what: &str, reference: &Spanned<String>) {
        let text = reference.get_ref();
        let message = match parse_action_ref(text) {
            None => format!(
                "{owner}: {what} `{text}` is not an action (expected `Type:action`, `Type:*` or `*`)"
            ),
            Some(ActionRef::All) => return,
            Some(ActionRef::AllOf(ty)) => {
                if self.file.types.contains_key(ty) {
                    return;
                }
                format!("{owner}: {what} `{text}` names unknown resource type `{ty}`")
            }
            Some(ActionRef::One(ty, action)) => match self.file.types.get(ty) {
                None => format!("{owner}: {what} `{text}` names unknown resource type `{ty}`"),
                Some(def) if def.get_ref().actions.iter().any(|a| a == action) => return,
                Some(_) => format!(
                    "{owner}: {what} `{text}` names unknown action `{action}` of resource type `{ty}`"
                ),
            },
        };
        self.report(reference.span(), message);
    }

    fn rights(&mut self, owner: &str, span: Range<usize>, rights: Rights<'_>) {
        for reference in rights.allow {
            self.action_ref(owner, "allow", reference);
        }
        for reference in rights.deny {
            self.action_ref(owner, "deny", reference);
        }
        for field in rights.fields.keys() {
            let known = field.split_once('.').is_some_and(|(ty, name)| {
                self.file
                    .types
                    .get(ty)
                    .is_some_and(|def| def.get_ref().fields.iter().any(|f| f == name))
            });
            if !known {
                self.report(
                    span.clone(),
                    format!("{owner}: unknown field `{field}` (expected `Type.field` of a declared type)"),
                );
            }
        }
        for (index, rule) in rights.rules.iter().enumerate() {
            let def = rule.get_ref();
            let label = match &def.id {
                Some(id) => format!("{owner}, rule `{id}`"),
                None => format!("{owner}, rule {}", index + 1),
            };
            if def.actions.is_empty() {
                self.report(rule.span(), format!("{label}: names no action"));
            }
            for reference in &def.actions {
                self.action_ref(&label, "action", reference);
            }
            for comparison in &def.when {
                let key = &comparison.context;
                let fine = match (comparison.op, &comparison.value) {
                    (_, _) if key.is_empty() => false,
                    (Op::In, Operand::List(items)) => !items.is_empty(),
                    (Op::In, _) | (_, Operand::List(_)) => false,
                    (Op::Eq | Op::Ne, _) => true,
                    (Op::Lt | Op::Le | Op::Gt | Op::Ge, value) => matches!(value, Operand::Long(_)),
                };
                if !fine {
                    self.report(
                        rule.span(),
                        format!(
                            "{label}: comparison `context.{key} {} {}` is not supported (`in` takes a non-empty list, `lt`/`le`/`gt`/`ge` an integer, `eq`/`ne` a string, integer or boolean)",
                            comparison.op.symbol(),
                            comparison.value
                        ),
                    );
                }
            }
        }
    }

    fn roles(&mut self) {
        for (name, def) in &self.file.roles {
            let owner = format!("role `{name}`");
            if name.is_empty() || name.chars().any(char::is_control) {
                self.report(def.span(), format!("{owner} has an invalid name"));
            }
            for parent in &def.get_ref().inherits {
                if !self.file.roles.contains_key(parent.get_ref()) {
                    self.report(
                        parent.span(),
                        format!("{owner} inherits unknown role `{}`", parent.get_ref()),
                    );
                }
            }
            self.rights(&owner, def.span(), def.get_ref().rights());
        }
        self.cycles();
    }

    /// Reports each inheritance cycle once, naming its roles in order.
    fn cycles(&mut self) {
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        let mut found = Vec::new();
        for start in self.file.roles.keys() {
            if state.get(start.as_str()).copied().unwrap_or(0) != 0 {
                continue;
            }
            // Iterative DFS: (role, index of the next parent to visit).
            let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
            state.insert(start.as_str(), 1);
            while let Some((role, next)) = path.last_mut() {
                let parents = self
                    .file
                    .roles
                    .get(*role)
                    .map_or(&[][..], |def| def.get_ref().inherits.as_slice());
                let Some(parent) = parents.get(*next) else {
                    state.insert(role, 2);
                    path.pop();
                    continue;
                };
                *next += 1;
                let parent = parent.get_ref().as_str();
                if !self.file.roles.contains_key(parent) {
                    continue;
                }
                match state.get(parent).copied().unwrap_or(0) {
                    0 => {
                        state.insert(parent, 1);
                        path.push((parent, 0));
                    }
                    1 => {
                        let from = path.iter().position(|(r, _)| *r == parent).unwrap_or(0);
                        let mut cycle: Vec<&str> =
                            path.iter().skip(from).map(|(r, _)| *r).collect();
                        cycle.push(parent);
                        found.push(cycle);
                    }
                    _ => {}
                }
            }
        }
        for cycle in found {
            let first = cycle.first().copied().unwrap_or_default();
            let span = self.file.roles.get(first).map_or(0..0, Spanned::span);
            let chain = cycle
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(" -> ");
            self.report(span, format!("role `{first}` inherits itself: {chain}"));
        }
    }

    fn delegation(&mut self) {
        let Some(def) = &self.file.delegation else {
            return;
        };
        let mut seen = BTreeSet::new();
        for rank in &def.get_ref().order {
            let roles = rank.get_ref().roles();
            if roles.is_empty() {
                self.report(
                    rank.span(),
                    "delegation order has an empty list of peer roles".to_owned(),
                );
            }
            for role in roles {
                if !self.file.roles.contains_key(role) {
                    self.report(
                        rank.span(),
                        format!("delegation order names unknown role `{role}`"),
                    );
                } else if !seen.insert(role.as_str()) {
                    self.report(
                        rank.span(),
                        format!("delegation order lists role `{role}` twice"),
                    );
                }
            }
        }
    }

    /// Owners are protected in their rights, not only in their status: in a
    /// tenant it owns, nothing but the owner role itself may take away a
    /// right the owner role gives or show a field less openly than the owner
    /// role does (no deny or field setting of the owner's own, no other role
    /// it holds there).
    fn owners_keep_their_rights(&mut self) {
        let policy = compile(self.file);
        for (tenant_name, tenant) in &self.file.tenants {
            let tenant = tenant.get_ref();
            let role_name = tenant.owner_role.get_ref();
            let (Some(&role_id), Some(&tenant_id)) = (
                policy.role_ix.get(role_name.as_str()),
                policy.tenant_ix.get(tenant_name.as_str()),
            ) else {
                continue;
            };
            let Some(owner_role) = policy.roles.get(role_id as usize) else {
                continue;
            };
            let own_rules: BTreeSet<u32> = owner_role.set.rules.iter().copied().collect();
            let given: BTreeSet<u32> = owner_role
                .set
                .rules
                .iter()
                .filter_map(|r| policy.rules.get(*r as usize))
                .filter(|r| r.effect == Effect::Allow)
                .flat_map(|r| r.perms.iter().copied())
                .collect();
            let role_fields = policy.role_visibility_table(role_id);
            // Fields of a type the owner role gives no action on are no part of it.
            let role_reach = policy.fields_reached(&policy.role_access_table(role_id));
            for owner in &tenant.owners {
                let who = owner.get_ref();
                let Some(&user_id) = policy.user_ix.get(who.as_str()) else {
                    continue;
                };
                let Some(user) = policy.users.get(user_id as usize) else {
                    continue;
                };
                let prefix =
                    format!("tenant `{tenant_name}`: owner `{who}` cannot be restricted in it");
                // Its own denies.
                for rule in user
                    .own
                    .iter()
                    .flat_map(|set| set.rules.iter())
                    .filter_map(|r| policy.rules.get(*r as usize))
                    .filter(|r| r.effect == Effect::Deny)
                {
                    if let Some(perm) = rule.perms.iter().find(|p| given.contains(p)) {
                        let at = rule.at as usize;
                        self.report(
                            at..at,
                            format!(
                                "{prefix}: `{}` (deny {}) takes away `{}`, which its owner role `{role_name}` gives",
                                rule.path,
                                rule.actions,
                                policy.perm_label(*perm)
                            ),
                        );
                    }
                }
                // Denies of the other roles it holds there.
                for held in roles_in(self.file, who, tenant_name) {
                    let Some(role) = policy
                        .role_ix
                        .get(held.get_ref().as_str())
                        .and_then(|id| policy.roles.get(*id as usize))
                    else {
                        continue;
                    };
                    let taken = role
                        .set
                        .rules
                        .iter()
                        .filter(|r| !own_rules.contains(r))
                        .filter_map(|r| policy.rules.get(*r as usize))
                        .filter(|r| r.effect == Effect::Deny)
                        .find_map(|r| Some((r, r.perms.iter().find(|p| given.contains(p))?)));
                    if let Some((rule, perm)) = taken {
                        self.report(
                            held.span(),
                            format!(
                                "{prefix}: it holds role `{}`, whose `{}` (deny {}) takes away `{}`, which its owner role `{role_name}` gives",
                                held.get_ref(),
                                rule.path,
                                rule.actions,
                                policy.perm_label(*perm)
                            ),
                        );
                    }
                }
                // Field settings: its own, or the most restrictive of its roles.
                // As settings, whatever its permissions (a deny is reported above).
                let seen: Vec<Visibility> = (0..to_u32(policy.types.len()))
                    .flat_map(|ty| policy.field_rights(user_id, Some(tenant_id), ty, true))
                    .map(|right| right.visibility)
                    .collect();
                let own_fields = self.file.users.get(who).map(|u| &u.get_ref().fields);
                for (field, ((seen, shown), reached)) in
                    (0u32..).zip(seen.iter().zip(&role_fields).zip(&role_reach))
                {
                    if !reached || seen <= shown {
                        continue;
                    }
                    let label = policy.field_label(field);
                    let span = match own_fields.is_some_and(|f| f.contains_key(&label)) {
                        true => self.file.users.get(who).map_or(0..0, Spanned::span),
                        false => roles_in(self.file, who, tenant_name)
                            .into_iter()
                            .find(|held| {
                                policy
                                    .role_ix
                                    .get(held.get_ref().as_str())
                                    .is_some_and(|id| {
                                        policy.role_visibility_table(*id).get(field as usize)
                                            == Some(seen)
                                    })
                            })
                            .map_or(0..0, Spanned::span),
                    };
                    self.report(
                        span,
                        format!(
                            "{prefix}: it sees `{label}` {seen}, but its owner role `{role_name}` shows it {shown}"
                        ),
                    );
                }
            }
        }
    }

    fn tenants(&mut self) {
        for (name, def) in &self.file.tenants {
            let tenant = def.get_ref();
            if !valid_name(name) {
                self.report(def.span(), format!("tenant `{name}` has an invalid name"));
            }
            let role = tenant.owner_role.get_ref();
            if !self.file.roles.contains_key(role) {
                self.report(
                    tenant.owner_role.span(),
                    format!("tenant `{name}` names unknown owner role `{role}`"),
                );
            }
            if tenant.owners.is_empty() {
                self.report(def.span(), format!("tenant `{name}` has no owner"));
            }
            for owner in &tenant.owners {
                let who = owner.get_ref();
                match self.file.users.get(who) {
                    None => self.report(
                        owner.span(),
                        format!("tenant `{name}` names unknown owner `{who}`"),
                    ),
                    Some(user) if user.get_ref().status == Status::Blocked => self.report(
                        owner.span(),
                        format!("tenant `{name}`: owner `{who}` is blocked"),
                    ),
                    Some(_) if !holds_role(self.file, who, name, role) => self.report(
                        owner.span(),
                        format!(
                            "tenant `{name}`: owner `{who}` does not hold the owner role `{role}`"
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
    }

    fn users(&mut self) {
        for (name, def) in &self.file.users {
            let owner = format!("user `{name}`");
            let user = def.get_ref();
            if name.is_empty() || name.chars().any(char::is_control) {
                self.report(def.span(), format!("{owner} has an invalid name"));
            }
            for role in &user.roles {
                if !self.file.roles.contains_key(role.get_ref()) {
                    self.report(
                        role.span(),
                        format!("{owner} holds unknown role `{}`", role.get_ref()),
                    );
                }
            }
            for (tenant, roles) in &user.tenants {
                if !self.file.tenants.contains_key(tenant) {
                    self.report(
                        def.span(),
                        format!("{owner} holds roles in unknown tenant `{tenant}`"),
                    );
                }
                for role in roles {
                    if !self.file.roles.contains_key(role.get_ref()) {
                        self.report(
                            role.span(),
                            format!(
                                "{owner} holds unknown role `{}` in tenant `{tenant}`",
                                role.get_ref()
                            ),
                        );
                    }
                }
            }
            self.rights(&owner, def.span(), user.rights());
        }
    }

    fn resources(&mut self) {
        for (name, def) in &self.file.resources {
            match name.split_once(':') {
                Some((ty, id)) if !id.is_empty() => {
                    if !self.file.types.contains_key(ty) {
                        self.report(
                            def.span(),
                            format!("resource `{name}` has unknown resource type `{ty}`"),
                        );
                    }
                }
                _ => self.report(
                    def.span(),
                    format!("resource `{name}` is not named `Type:id`"),
                ),
            }
            if let Some(owner) = &def.get_ref().owner
                && !self.file.users.contains_key(owner.get_ref())
            {
                self.report(
                    owner.span(),
                    format!("resource `{name}` has unknown owner `{}`", owner.get_ref()),
                );
            }
        }
    }
}
