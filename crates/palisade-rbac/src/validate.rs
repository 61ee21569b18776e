//! Parsing and validation of policy files against their declared schema.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use crate::error::{Error, Problem, Result};
use crate::model::{ActionRef, File, Op, Operand, Rights, Status, parse_action_ref};

/// Parses the TOML text into the file model (shape only, no schema checks).
pub(crate) fn parse(text: &str) -> Result<File> {
    toml::from_str(text).map_err(|error| Error::Syntax {
        line: error.span().map(|span| line_of(text, span.start)),
        message: error.message().to_owned(),
    })
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| {
        before.bytes().filter(|b| *b == b'\n').count() + 1
    })
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
    check.tenants();
    check.users();
    check.resources();
    let mut problems = check.problems;
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    problems
}

/// Validates and turns problems into an error.
pub(crate) fn ensure_valid(file: &File, text: Option<&str>) -> Result<()> {
    let problems = validate(file, text);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid { problems })
    }
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
    fn line(&self, span: Range<usize>) -> Option<usize> {
        self.text.map(|text| line_of(text, span.start))
    }

    fn report(&mut self, span: Range<usize>, message: String) {
        let line = self.line(span);
        self.problems.push(Problem { line, message });
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
