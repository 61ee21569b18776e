//! Random role models for the property and differential tests: a small
//! deterministic generator (SplitMix64), the model, its TOML policy file,
//! and random requests over it.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test support shared by several test files, each using part of it; fails loudly"
)]

use std::fmt::Write as _;

use palisade_rbac::{Context, Error, Outcome, Policy, Request, Resource};

/// SplitMix64: tiny, fast, good enough to drive test generation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[derive(Clone, Debug)]
pub enum ActionRef {
    All,
    AllOf(usize),
    One(usize, usize),
}

#[derive(Clone, Debug)]
pub enum Scalar {
    Bool(bool),
    Long(i64),
    Str(&'static str),
}

#[derive(Clone, Debug)]
pub enum Operand {
    Scalar(Scalar),
    List(Vec<Scalar>),
}

#[derive(Clone, Debug)]
pub struct Cmp {
    pub key: &'static str,
    pub op: &'static str,
    pub value: Operand,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub allow: bool,
    pub actions: Vec<ActionRef>,
    pub owner: bool,
    pub when: Vec<Cmp>,
    /// Unconditional rules may be written in the `allow`/`deny` lists.
    pub as_list: bool,
}

impl Rule {
    pub fn conditional(&self) -> bool {
        self.owner || !self.when.is_empty()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Role {
    pub inherits: Vec<usize>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub blocked: bool,
    pub global: Vec<usize>,
    pub tenants: Vec<(usize, Vec<usize>)>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
pub struct Model {
    /// Number of actions of each type `T{i}` (actions `a{j}`).
    pub types: Vec<usize>,
    pub roles: Vec<Role>,
    pub tenants: usize,
    pub users: Vec<User>,
    /// (type, id, owner) of known resources.
    pub resources: Vec<(usize, usize, Option<usize>)>,
}

pub const KEYS: [&str; 2] = ["k", "j"];
const STRINGS: [&str; 3] = ["web", "app", "api"];

fn scalar(rng: &mut Rng) -> Scalar {
    match rng.below(3) {
        0 => Scalar::Bool(rng.chance(50)),
        1 => Scalar::Long(rng.below(5) as i64 - 1),
        _ => Scalar::Str(STRINGS[rng.below(STRINGS.len())]),
    }
}

fn cmp(rng: &mut Rng) -> Cmp {
    let key = KEYS[rng.below(KEYS.len())];
    let op = ["eq", "ne", "lt", "le", "gt", "ge", "in"][rng.below(7)];
    let value = match op {
        "in" => Operand::List((0..1 + rng.below(3)).map(|_| scalar(rng)).collect()),
        "eq" | "ne" => Operand::Scalar(scalar(rng)),
        _ => Operand::Scalar(Scalar::Long(rng.below(5) as i64 - 1)),
    };
    Cmp { key, op, value }
}

pub fn action_ref(rng: &mut Rng, types: &[usize]) -> ActionRef {
    let t = rng.below(types.len());
    match rng.below(10) {
        0 => ActionRef::All,
        1 | 2 => ActionRef::AllOf(t),
        _ => ActionRef::One(t, rng.below(types[t])),
    }
}

pub fn rule(rng: &mut Rng, types: &[usize], allow_percent: usize) -> Rule {
    let allow = rng.chance(allow_percent);
    let actions = (0..1 + rng.below(2))
        .map(|_| action_ref(rng, types))
        .collect();
    let owner = rng.chance(20);
    let when = if rng.chance(30) {
        (0..1 + rng.below(2)).map(|_| cmp(rng)).collect()
    } else {
        Vec::new()
    };
    let as_list = rng.chance(50);
    Rule {
        allow,
        actions,
        owner,
        when,
        as_list,
    }
}

fn subset(rng: &mut Rng, n: usize, percent: usize) -> Vec<usize> {
    (0..n).filter(|_| rng.chance(percent)).collect()
}

impl Model {
    pub fn random(rng: &mut Rng) -> Self {
        let types: Vec<usize> = (0..1 + rng.below(3)).map(|_| 1 + rng.below(3)).collect();
        let role_count = 1 + rng.below(5);
        let roles = (0..role_count)
            .map(|i| Role {
                inherits: subset(rng, i, 30),
                rules: (0..rng.below(4)).map(|_| rule(rng, &types, 75)).collect(),
            })
            .collect();
        let tenants = rng.below(3);
        let user_count = 1 + rng.below(4);
        let mut users: Vec<User> = (0..user_count)
            .map(|_| User {
                blocked: rng.chance(15),
                global: subset(rng, role_count, 20),
                tenants: (0..tenants)
                    .filter_map(|t| {
                        let roles = subset(rng, role_count, 35);
                        (!roles.is_empty()).then_some((t, roles))
                    })
                    .collect(),
                rules: (0..rng.below(3)).map(|_| rule(rng, &types, 60)).collect(),
            })
            .collect();
        // User 0 owns every tenant: active, holding role 0 there, and
        // restricted by nothing else (owners are protected in their rights:
        // no deny of its own, no other role), though it may have grants.
        if tenants > 0 {
            let owner = &mut users[0];
            owner.blocked = false;
            owner.global.clear();
            owner.tenants = (0..tenants).map(|t| (t, vec![0])).collect();
            owner.rules.retain(|rule| rule.allow);
        }
        let mut resources = Vec::new();
        for (t, _) in types.iter().enumerate() {
            for id in 0..2 {
                let owner = rng.chance(70).then(|| rng.below(user_count));
                resources.push((t, id, owner));
            }
        }
        Self {
            types,
            roles,
            tenants,
            users,
            resources,
        }
    }

    pub fn action_text(&self, action: &ActionRef) -> String {
        match action {
            ActionRef::All => "*".to_owned(),
            ActionRef::AllOf(t) => format!("T{t}:*"),
            ActionRef::One(t, a) => format!("T{t}:a{a}"),
        }
    }

    /// Concrete (type, action) pairs an action reference covers.
    pub fn expand(&self, action: &ActionRef) -> Vec<(usize, usize)> {
        match action {
            ActionRef::All => self
                .types
                .iter()
                .enumerate()
                .flat_map(|(t, n)| (0..*n).map(move |a| (t, a)))
                .collect(),
            ActionRef::AllOf(t) => (0..self.types[*t]).map(|a| (*t, a)).collect(),
            ActionRef::One(t, a) => vec![(*t, *a)],
        }
    }

    fn write_rights(&self, out: &mut String, table: &str, rules: &[Rule]) {
        let list = |allow: bool| -> Vec<String> {
            rules
                .iter()
                .filter(|r| r.as_list && !r.conditional() && r.allow == allow)
                .flat_map(|r| {
                    r.actions
                        .iter()
                        .map(|a| format!("{:?}", self.action_text(a)))
                })
                .collect()
        };
        let allow = list(true);
        let deny = list(false);
        if !allow.is_empty() {
            writeln!(out, "allow = [{}]", allow.join(", ")).unwrap();
        }
        if !deny.is_empty() {
            writeln!(out, "deny = [{}]", deny.join(", ")).unwrap();
        }
        for rule in rules.iter().filter(|r| !r.as_list || r.conditional()) {
            writeln!(out, "[[{table}.rules]]").unwrap();
            writeln!(
                out,
                "effect = {:?}",
                if rule.allow { "allow" } else { "deny" }
            )
            .unwrap();
            let actions: Vec<String> = rule
                .actions
                .iter()
                .map(|a| format!("{:?}", self.action_text(a)))
                .collect();
            writeln!(out, "actions = [{}]", actions.join(", ")).unwrap();
            if rule.owner {
                writeln!(out, "owner = true").unwrap();
            }
            if !rule.when.is_empty() {
                let when: Vec<String> = rule
                    .when
                    .iter()
                    .map(|c| {
                        format!(
                            "{{ context = {:?}, op = {:?}, value = {} }}",
                            c.key,
                            c.op,
                            toml_operand(&c.value)
                        )
                    })
                    .collect();
                writeln!(out, "when = [{}]", when.join(", ")).unwrap();
            }
        }
    }

    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (t, actions) in self.types.iter().enumerate() {
            let names: Vec<String> = (0..*actions).map(|a| format!("\"a{a}\"")).collect();
            writeln!(out, "[types.T{t}]\nactions = [{}]", names.join(", ")).unwrap();
        }
        for (r, role) in self.roles.iter().enumerate() {
            writeln!(out, "[roles.r{r}]").unwrap();
            if !role.inherits.is_empty() {
                let names: Vec<String> =
                    role.inherits.iter().map(|p| format!("\"r{p}\"")).collect();
                writeln!(out, "inherits = [{}]", names.join(", ")).unwrap();
            }
            self.write_rights(&mut out, &format!("roles.r{r}"), &role.rules);
        }
        for t in 0..self.tenants {
            writeln!(
                out,
                "[tenants.t{t}]\nowners = [\"u0\"]\nowner_role = \"r0\""
            )
            .unwrap();
        }
        for (u, user) in self.users.iter().enumerate() {
            writeln!(out, "[users.u{u}]").unwrap();
            if user.blocked {
                writeln!(out, "status = \"blocked\"").unwrap();
            }
            if !user.global.is_empty() {
                let names: Vec<String> = user.global.iter().map(|r| format!("\"r{r}\"")).collect();
                writeln!(out, "roles = [{}]", names.join(", ")).unwrap();
            }
            if !user.tenants.is_empty() {
                let parts: Vec<String> = user
                    .tenants
                    .iter()
                    .map(|(t, roles)| {
                        let names: Vec<String> =
                            roles.iter().map(|r| format!("\"r{r}\"")).collect();
                        format!("t{t} = [{}]", names.join(", "))
                    })
                    .collect();
                writeln!(out, "tenants = {{ {} }}", parts.join(", ")).unwrap();
            }
            self.write_rights(&mut out, &format!("users.u{u}"), &user.rules);
        }
        for (t, id, owner) in &self.resources {
            if let Some(owner) = owner {
                writeln!(out, "[resources.\"T{t}:r{id}\"]\nowner = \"u{owner}\"").unwrap();
            }
        }
        out
    }

    pub fn compile(&self) -> Policy {
        let text = self.to_toml();
        Policy::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    pub fn random_request(&self, rng: &mut Rng) -> Ask {
        let principal = match rng.below(10) {
            0 => "ghost".to_owned(),
            _ => format!("u{}", rng.below(self.users.len())),
        };
        let t = rng.below(self.types.len());
        let (type_name, action) = match rng.below(20) {
            0 => ("Nope".to_owned(), "a0".to_owned()),
            1 => (format!("T{t}"), "zz".to_owned()),
            _ => (format!("T{t}"), format!("a{}", rng.below(self.types[t]))),
        };
        let id = format!("r{}", rng.below(3));
        let tenant = match rng.below(20) {
            0..=4 => None,
            // An undeclared tenant: refused with an error, not decided.
            5 => Some("t9".to_owned()),
            _ if self.tenants == 0 => None,
            _ => Some(format!("t{}", rng.below(self.tenants))),
        };
        let mut context = Vec::new();
        for key in KEYS {
            if rng.chance(70) {
                context.push((key, scalar(rng)));
            }
        }
        Ask {
            principal,
            type_name,
            action,
            id,
            tenant,
            context,
        }
    }
}

fn toml_scalar(s: &Scalar) -> String {
    match s {
        Scalar::Bool(b) => b.to_string(),
        Scalar::Long(n) => n.to_string(),
        Scalar::Str(s) => format!("{s:?}"),
    }
}

fn toml_operand(o: &Operand) -> String {
    match o {
        Operand::Scalar(s) => toml_scalar(s),
        Operand::List(items) => {
            let parts: Vec<String> = items.iter().map(toml_scalar).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// An owned request.
#[derive(Clone, Debug)]
pub struct Ask {
    pub principal: String,
    pub type_name: String,
    pub action: String,
    pub id: String,
    pub tenant: Option<String>,
    pub context: Vec<(&'static str, Scalar)>,
}

impl Ask {
    pub fn context(&self) -> Context {
        self.context
            .iter()
            .fold(Context::new(), |c, (key, value)| match value {
                Scalar::Bool(b) => c.with(*key, *b),
                Scalar::Long(n) => c.with(*key, *n),
                Scalar::Str(s) => c.with(*key, *s),
            })
    }

    /// The outcome, or `None` when the request names an undeclared tenant
    /// (then both `decide` and `explain` must refuse it as unknown).
    pub fn decide(&self, policy: &Policy) -> Option<Outcome> {
        let context = self.context();
        let mut request = Request::new(
            &self.principal,
            &self.action,
            Resource::new(&self.type_name, &self.id),
        )
        .with_context(&context);
        if let Some(t) = &self.tenant {
            request = request.in_tenant(t);
        }
        let declared = self
            .tenant
            .as_deref()
            .is_none_or(|t| policy.tenants().any(|(name, _)| name == t));
        if !declared {
            let unknown = Error::TenantUnknown(self.tenant.clone().unwrap_or_default());
            assert_eq!(
                policy.decide(&request).err(),
                Some(unknown.clone()),
                "{self:?}"
            );
            assert_eq!(policy.explain(&request).err(), Some(unknown), "{self:?}");
            return None;
        }
        let outcome = policy.decide(&request).unwrap().outcome();
        assert_eq!(
            policy.explain(&request).unwrap().outcome,
            outcome,
            "{self:?}"
        );
        Some(outcome)
    }
}
