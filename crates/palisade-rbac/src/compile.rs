//! Turns a validated policy file into the compiled snapshot.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::model::{ActionRef, File, Rights, Status, Visibility, parse_action_ref};
use crate::permset::PermSet;
use crate::policy::{
    Comparison, Condition, Policy, RoleEntry, Rule, RuleSet, TenantEntry, TypeEntry, UserEntry,
};

/// `name` as a TOML key in a path: bare when possible, quoted otherwise.
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Rule ids and field settings written on one role or user.
type OwnRights = (Vec<u32>, Vec<(u32, Visibility)>);

struct Builder {
    types: Vec<TypeEntry>,
    type_ix: FxHashMap<Box<str>, u32>,
    perm_count: u32,
    field_ix: BTreeMap<String, u32>,
    rules: Vec<Rule>,
}

impl Builder {
    fn resolve(&self, text: &str) -> Vec<u32> {
        let all_of = |ty: &TypeEntry| {
            (0..to_u32(ty.actions.len()))
                .map(|i| ty.first_perm + i)
                .collect::<Vec<_>>()
        };
        match parse_action_ref(text) {
            Some(ActionRef::All) => (0..self.perm_count).collect(),
            Some(ActionRef::AllOf(ty)) => self
                .type_ix
                .get(ty)
                .and_then(|id| self.types.get(*id as usize))
                .map(all_of)
                .unwrap_or_default(),
            Some(ActionRef::One(ty, action)) => self
                .type_ix
                .get(ty)
                .and_then(|id| self.types.get(*id as usize))
                .and_then(|entry| {
                    let at = entry.actions.iter().position(|a| &**a == action)?;
                    Some(vec![entry.first_perm + to_u32(at)])
                })
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Adds the rules of one role or user; returns their ids and field settings.
    fn add_rights(&mut self, prefix: &str, rights: Rights<'_>) -> OwnRights {
        let mut ids = Vec::new();
        for (list, effect) in [
            (rights.allow, crate::Effect::Allow),
            (rights.deny, crate::Effect::Deny),
        ] {
            for (index, action) in list.iter().enumerate() {
                let mut perms = self.resolve(action.get_ref());
                perms.sort_unstable();
                perms.dedup();
                ids.push(to_u32(self.rules.len()));
                self.rules.push(Rule {
                    at: to_u32(action.span().start),
                    path: format!("{prefix}.{effect}[{index}]").into(),
                    effect,
                    perms: perms.into(),
                    cond: None,
                    actions: format!("`{}`", action.get_ref()).into(),
                });
            }
        }
        for (index, rule) in rights.rules.iter().enumerate() {
            let def = rule.get_ref();
            let mut perms: Vec<u32> = def
                .actions
                .iter()
                .flat_map(|a| self.resolve(a.get_ref()))
                .collect();
            perms.sort_unstable();
            perms.dedup();
            let cond = (def.owner || !def.when.is_empty()).then(|| Condition {
                owner: def.owner,
                when: def
                    .when
                    .iter()
                    .map(|c| Comparison {
                        key: c.context.as_str().into(),
                        op: c.op,
                        value: c.value.clone(),
                    })
                    .collect(),
            });
            let path = match &def.id {
                Some(id) => format!("{prefix}.rules[{index}] `{id}`"),
                None => format!("{prefix}.rules[{index}]"),
            };
            let actions = def
                .actions
                .iter()
                .map(|a| format!("`{}`", a.get_ref()))
                .collect::<Vec<_>>()
                .join(", ");
            ids.push(to_u32(self.rules.len()));
            self.rules.push(Rule {
                at: to_u32(rule.span().start),
                path: path.into(),
                effect: def.effect,
                perms: perms.into(),
                cond,
                actions: actions.into(),
            });
        }
        let fields = rights
            .fields
            .iter()
            .filter_map(|(name, v)| self.field_ix.get(name).map(|id| (*id, *v)))
            .collect();
        (ids, fields)
    }

    fn rule_set(&self, rule_ids: &[u32], fields: Vec<(u32, Visibility)>) -> RuleSet {
        let mut allow = Vec::new();
        let mut deny = Vec::new();
        let mut cond_mask = Vec::new();
        let mut cond = Vec::new();
        for id in rule_ids {
            let Some(rule) = self.rules.get(*id as usize) else {
                continue;
            };
            let target = match (&rule.cond, rule.effect) {
                (Some(_), _) => {
                    cond.push(*id);
                    &mut cond_mask
                }
                (None, crate::Effect::Allow) => &mut allow,
                (None, crate::Effect::Deny) => &mut deny,
            };
            target.extend(rule.perms.iter().copied());
        }
        let mut rules = rule_ids.to_vec();
        rules.sort_unstable();
        rules.dedup();
        cond.sort_unstable();
        cond.dedup();
        let mut fields = fields;
        fields.sort_unstable();
        RuleSet {
            allow: PermSet::build(allow, self.perm_count),
            deny: PermSet::build(deny, self.perm_count),
            cond_mask: PermSet::build(cond_mask, self.perm_count),
            cond: cond.into(),
            rules: rules.into(),
            fields: fields.into(),
        }
    }
}

/// Roles in an order where every role comes after all roles it inherits.
/// Total even on cyclic input (a cycle's members come out in some order).
fn parents_first(file: &File, role_ix: &FxHashMap<Box<str>, u32>) -> Vec<u32> {
    let names: Vec<&String> = file.roles.keys().collect();
    let mut done = vec![false; names.len()];
    let mut order = Vec::with_capacity(names.len());
    for start in 0..names.len() {
        if done.get(start).copied().unwrap_or(true) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        if let Some(d) = done.get_mut(start) {
            *d = true;
        }
        while let Some((role, next)) = stack.last_mut() {
            let parents = names
                .get(*role)
                .and_then(|n| file.roles.get(*n))
                .map_or(&[][..], |def| def.get_ref().inherits.as_slice());
            if let Some(parent) = parents.get(*next) {
                *next += 1;
                if let Some(&p) = role_ix.get(parent.get_ref().as_str())
                    && let Some(d) = done.get_mut(p as usize)
                    && !*d
                {
                    *d = true;
                    stack.push((p as usize, 0));
                }
            } else {
                order.push(to_u32(*role));
                stack.pop();
            }
        }
    }
    order
}

/// Compiles a file that passed validation. Never panics; on a file that
/// did not pass validation, unknown names are skipped.
pub(crate) fn compile(file: &File) -> Policy {
    let mut builder = Builder {
        types: Vec::with_capacity(file.types.len()),
        type_ix: FxHashMap::default(),
        perm_count: 0,
        field_ix: BTreeMap::new(),
        rules: Vec::new(),
    };
    let mut field_count = 0u32;
    let mut perm_type = Vec::new();
    for (index, (name, def)) in file.types.iter().enumerate() {
        let def = def.get_ref();
        let type_id = to_u32(index);
        for (offset, field) in def.fields.iter().enumerate() {
            builder
                .field_ix
                .insert(format!("{name}.{field}"), field_count + to_u32(offset));
        }
        builder.type_ix.insert(name.as_str().into(), type_id);
        builder.types.push(TypeEntry {
            name: name.as_str().into(),
            actions: def.actions.iter().map(|a| a.as_str().into()).collect(),
            first_perm: builder.perm_count,
            fields: def.fields.iter().map(|f| f.as_str().into()).collect(),
            first_field: field_count,
            owners: FxHashMap::default(),
        });
        perm_type.extend(std::iter::repeat_n(type_id, def.actions.len()));
        builder.perm_count += to_u32(def.actions.len());
        field_count += to_u32(def.fields.len());
    }

    let user_ix: FxHashMap<Box<str>, u32> = file
        .users
        .keys()
        .enumerate()
        .map(|(i, name)| (name.as_str().into(), to_u32(i)))
        .collect();
    let role_ix: FxHashMap<Box<str>, u32> = file
        .roles
        .keys()
        .enumerate()
        .map(|(i, name)| (name.as_str().into(), to_u32(i)))
        .collect();
    let tenant_ix: FxHashMap<Box<str>, u32> = file
        .tenants
        .keys()
        .enumerate()
        .map(|(i, name)| (name.as_str().into(), to_u32(i)))
        .collect();

    for (name, def) in &file.resources {
        let Some((ty, id)) = name.split_once(':') else {
            continue;
        };
        let owner = def
            .get_ref()
            .owner
            .as_ref()
            .and_then(|o| user_ix.get(o.get_ref().as_str()));
        if let (Some(type_id), Some(owner)) = (builder.type_ix.get(ty), owner)
            && let Some(entry) = builder.types.get_mut(*type_id as usize)
        {
            entry.owners.insert(id.into(), *owner);
        }
    }

    // Each role's own rules and fields, then the flattened sets parents first.
    let mut own: Vec<OwnRights> = Vec::with_capacity(file.roles.len());
    for (name, def) in &file.roles {
        let prefix = format!("roles.{}", key(name));
        own.push(builder.add_rights(&prefix, def.get_ref().rights()));
    }
    let order = parents_first(file, &role_ix);
    let role_defs: Vec<_> = file.roles.values().collect();
    let mut closure_rules: Vec<Vec<u32>> = vec![Vec::new(); own.len()];
    let mut closure_fields: Vec<Vec<(u32, Visibility)>> = vec![Vec::new(); own.len()];
    for role in order {
        let Some(def) = role_defs.get(role as usize) else {
            continue;
        };
        let (mut rules, own_fields) = own.get(role as usize).cloned().unwrap_or_default();
        // Inherited fields: most restrictive among parents; own settings override.
        let mut inherited: BTreeMap<u32, Visibility> = BTreeMap::new();
        for parent in &def.get_ref().inherits {
            let Some(&p) = role_ix.get(parent.get_ref().as_str()) else {
                continue;
            };
            if p == role {
                continue;
            }
            if let Some(r) = closure_rules.get(p as usize) {
                rules.extend(r.iter().copied());
            }
            for (field, v) in closure_fields.get(p as usize).into_iter().flatten() {
                let slot = inherited.entry(*field).or_insert(*v);
                *slot = (*slot).max(*v);
            }
        }
        for (field, v) in own_fields {
            inherited.insert(field, v);
        }
        rules.sort_unstable();
        rules.dedup();
        if let Some(slot) = closure_rules.get_mut(role as usize) {
            *slot = rules;
        }
        if let Some(slot) = closure_fields.get_mut(role as usize) {
            *slot = inherited.into_iter().collect();
        }
    }
    let roles: Box<[RoleEntry]> = file
        .roles
        .keys()
        .zip(closure_rules.iter().zip(closure_fields))
        .map(|(name, (rules, fields))| RoleEntry {
            name: name.as_str().into(),
            set: builder.rule_set(rules, fields),
        })
        .collect();

    let mut users = Vec::with_capacity(file.users.len());
    for (name, def) in &file.users {
        let def = def.get_ref();
        let prefix = format!("users.{}", key(name));
        let rights = def.rights();
        let has_own = !rights.allow.is_empty()
            || !rights.deny.is_empty()
            || !rights.rules.is_empty()
            || !rights.fields.is_empty();
        let own = has_own.then(|| {
            let (ids, fields) = builder.add_rights(&prefix, rights);
            builder.rule_set(&ids, fields)
        });
        let ids = |roles: &[toml::Spanned<String>]| -> Box<[u32]> {
            let mut ids: Vec<u32> = roles
                .iter()
                .filter_map(|r| role_ix.get(r.get_ref().as_str()).copied())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into()
        };
        let mut tenants: Vec<(u32, Box<[u32]>)> = def
            .tenants
            .iter()
            .filter_map(|(t, roles)| Some((*tenant_ix.get(t.as_str())?, ids(roles))))
            .collect();
        tenants.sort_unstable_by_key(|(t, _)| *t);
        users.push(UserEntry {
            name: name.as_str().into(),
            blocked: def.status == Status::Blocked,
            global: ids(&def.roles),
            tenants: tenants.into(),
            own,
        });
    }

    let tenants = file
        .tenants
        .iter()
        .map(|(name, def)| TenantEntry {
            name: name.as_str().into(),
            owners: def
                .get_ref()
                .owners
                .iter()
                .filter_map(|o| user_ix.get(o.get_ref().as_str()).copied())
                .collect(),
        })
        .collect();

    Policy {
        types: builder.types.into(),
        type_ix: builder.type_ix,
        perm_count: builder.perm_count,
        perm_type: perm_type.into(),
        roles,
        role_ix,
        users: users.into(),
        user_ix,
        tenants,
        tenant_ix,
        rules: builder.rules.into(),
    }
}
