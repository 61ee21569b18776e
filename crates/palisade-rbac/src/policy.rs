//! The compiled, immutable policy snapshot and its decisions.

use std::collections::BTreeSet;
use std::fmt;

use rustc_hash::FxHashMap;

use crate::model::{Effect, Op, Operand, Scalar, Visibility};
use crate::permset::PermSet;
use crate::request::{Context, Request, Value};

/// A compiled policy: names interned, every role's inherited rights
/// flattened into permission sets, so a check is a handful of lookups.
///
/// A `Policy` is immutable and `Send + Sync`; share it in an `Arc`, or in a
/// [`PolicyStore`](crate::PolicyStore) for lock-free hot reload.
#[derive(Debug)]
pub struct Policy {
    pub(crate) types: Box<[TypeEntry]>,
    pub(crate) type_ix: FxHashMap<Box<str>, u32>,
    /// Number of (type, action) permissions.
    pub(crate) perm_count: u32,
    /// The type of each permission.
    pub(crate) perm_type: Box<[u32]>,
    pub(crate) roles: Box<[RoleEntry]>,
    pub(crate) role_ix: FxHashMap<Box<str>, u32>,
    pub(crate) users: Box<[UserEntry]>,
    pub(crate) user_ix: FxHashMap<Box<str>, u32>,
    pub(crate) tenants: Box<[TenantEntry]>,
    pub(crate) tenant_ix: FxHashMap<Box<str>, u32>,
    pub(crate) rules: Box<[Rule]>,
}

#[derive(Debug)]
pub(crate) struct TypeEntry {
    pub(crate) name: Box<str>,
    pub(crate) actions: Box<[Box<str>]>,
    pub(crate) first_perm: u32,
    pub(crate) fields: Box<[Box<str>]>,
    pub(crate) first_field: u32,
    /// Owners of known resources of this type, by resource id.
    pub(crate) owners: FxHashMap<Box<str>, u32>,
}

#[derive(Debug)]
pub(crate) struct RoleEntry {
    pub(crate) name: Box<str>,
    /// Rights of the role and everything it inherits.
    pub(crate) set: RuleSet,
}

#[derive(Debug)]
pub(crate) struct UserEntry {
    pub(crate) name: Box<str>,
    pub(crate) blocked: bool,
    /// Roles held in every tenant.
    pub(crate) global: Box<[u32]>,
    /// Roles held per tenant, sorted by tenant id.
    pub(crate) tenants: Box<[(u32, Box<[u32]>)]>,
    /// The user's own grants, denies and rules (its field overrides are in `fields`).
    pub(crate) own: Option<RuleSet>,
}

#[derive(Debug)]
pub(crate) struct TenantEntry {
    pub(crate) name: Box<str>,
    pub(crate) owners: Box<[u32]>,
}

/// Flattened rights of one role (with its ancestors) or one user.
#[derive(Debug)]
pub(crate) struct RuleSet {
    pub(crate) allow: PermSet,
    pub(crate) deny: PermSet,
    /// Permissions that some conditional rule mentions.
    pub(crate) cond_mask: PermSet,
    /// Conditional rule ids.
    pub(crate) cond: Box<[u32]>,
    /// Every rule id that contributes (for explanations and queries).
    pub(crate) rules: Box<[u32]>,
    /// Field visibilities by global field id, sorted.
    pub(crate) fields: Box<[(u32, Visibility)]>,
}

#[derive(Debug)]
pub(crate) struct Rule {
    /// Byte offset of the rule in the policy file (0 when not from a file).
    pub(crate) at: u32,
    /// Path into the policy file, e.g. `roles.Operator.rules[0]`.
    pub(crate) path: Box<str>,
    pub(crate) effect: Effect,
    /// Sorted permission ids.
    pub(crate) perms: Box<[u32]>,
    /// `None` means unconditional.
    pub(crate) cond: Option<Condition>,
    /// The actions as written.
    pub(crate) actions: Box<str>,
}

#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) owner: bool,
    pub(crate) when: Box<[Comparison]>,
}

#[derive(Debug)]
pub(crate) struct Comparison {
    pub(crate) key: Box<str>,
    pub(crate) op: Op,
    pub(crate) value: Operand,
}

impl Condition {
    fn holds(&self, owner_is_principal: bool, context: Option<&Context>) -> bool {
        (!self.owner || owner_is_principal) && self.when.iter().all(|c| c.holds(context))
    }
}

fn scalar_eq(value: &Value, scalar: &Scalar) -> bool {
    match (value, scalar) {
        (Value::Bool(a), Scalar::Bool(b)) => a == b,
        (Value::Long(a), Scalar::Long(b)) => a == b,
        (Value::String(a), Scalar::String(b)) => a == b,
        _ => false,
    }
}

fn operand_eq(value: &Value, operand: &Operand) -> Option<bool> {
    match (value, operand) {
        (Value::Bool(a), Operand::Bool(b)) => Some(a == b),
        (Value::Long(a), Operand::Long(b)) => Some(a == b),
        (Value::String(a), Operand::String(b)) => Some(a == b),
        (_, Operand::List(_)) => None,
        _ => Some(false),
    }
}

impl Comparison {
    /// Total: a missing attribute or an ill-typed comparison is false
    /// (values of different types are unequal, so `ne` holds for them).
    fn holds(&self, context: Option<&Context>) -> bool {
        let Some(value) = context.and_then(|c| c.get(&self.key)) else {
            return false;
        };
        match self.op {
            Op::Eq => operand_eq(value, &self.value).unwrap_or(false),
            Op::Ne => operand_eq(value, &self.value).is_some_and(|eq| !eq),
            Op::In => match &self.value {
                Operand::List(items) => items.iter().any(|item| scalar_eq(value, item)),
                _ => false,
            },
            Op::Lt | Op::Le | Op::Gt | Op::Ge => match (value, &self.value) {
                (Value::Long(a), Operand::Long(b)) => match self.op {
                    Op::Lt => a < b,
                    Op::Le => a <= b,
                    Op::Gt => a > b,
                    _ => a >= b,
                },
                _ => false,
            },
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "context.{} {} {}",
            self.key,
            self.op.symbol(),
            self.value
        )
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.owner {
            parts.push("the principal owns the resource".to_owned());
        }
        parts.extend(self.when.iter().map(ToString::to_string));
        f.write_str(&parts.join(" and "))
    }
}

/// The outcome of a decision. Serialized as `"allow"`, `"forbidden"` or
/// `"not_permitted"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[must_use]
pub enum Outcome {
    /// An allow matched and no deny did.
    Allow,
    /// An explicit deny matched, or the principal is blocked.
    Forbidden,
    /// Nothing allowed it (default deny), including unknown principals,
    /// resource types and actions.
    NotPermitted,
}

impl Outcome {
    /// Whether the request is allowed.
    pub fn is_allowed(self) -> bool {
        self == Self::Allow
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "allow",
            Self::Forbidden => "deny (forbidden)",
            Self::NotPermitted => "deny (not permitted)",
        })
    }
}

/// The answer to a [`Request`]: the outcome, and on demand the field rights
/// of the resource type.
///
/// Use [`Policy::explain`] for the rules that decided. Serialized (for a log
/// line or an API answer) as
/// `{"outcome":"allow","allowed":true,"fields":[{"field":"phone","visibility":"masked"}]}`.
#[derive(Clone, Copy, Debug)]
#[must_use = "a decision says whether the request may go on"]
pub struct Decision<'p> {
    policy: &'p Policy,
    outcome: Outcome,
    user: Option<u32>,
    tenant: Option<u32>,
    type_id: Option<u32>,
}

impl<'p> Decision<'p> {
    /// Allow, forbidden or not permitted.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.outcome.is_allowed()
    }

    /// How each field of the resource type is shown to the principal: every
    /// field is hidden when the request is denied.
    pub fn fields(&self) -> Vec<FieldRight<'p>> {
        match (self.user, self.type_id) {
            (Some(user), Some(type_id)) => {
                self.policy
                    .field_rights(user, self.tenant, type_id, self.is_allowed())
            }
            (_, Some(type_id)) => self.policy.field_rights_hidden(type_id),
            _ => Vec::new(),
        }
    }
}

impl serde::Serialize for Decision<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = serializer.serialize_struct("Decision", 3)?;
        out.serialize_field("outcome", &self.outcome)?;
        out.serialize_field("allowed", &self.is_allowed())?;
        out.serialize_field("fields", &self.fields())?;
        out.end()
    }
}

/// How one field is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldRight<'p> {
    /// The field name as declared in the schema.
    pub field: &'p str,
    /// Visible, masked or hidden.
    pub visibility: Visibility,
}

/// A rule that matched a request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MatchedRule {
    /// Where the rule is written, e.g. `roles.Operator.rules[0]` or `users.bob.deny[1]`.
    pub path: String,
    /// Allow or deny.
    pub effect: Effect,
    /// The actions as written, and the condition when there is one.
    pub description: String,
}

impl fmt::Display for MatchedRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {})", self.path, self.effect, self.description)
    }
}

/// Why a request was decided the way it was (Cedar's "reason" set).
/// Serialized as `{"outcome":…,"rules":[{"path":…,"effect":…,"description":…}],"summary":…}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[must_use]
pub struct Explanation {
    /// The outcome, always equal to [`Policy::decide`]'s.
    pub outcome: Outcome,
    /// The deciding rules: the denies that matched for `Forbidden`, the
    /// allows for `Allow`, none for `NotPermitted`.
    pub rules: Vec<MatchedRule>,
    /// One line saying why, naming the deciding rules.
    pub summary: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.outcome, self.summary)
    }
}

/// What a principal may do with one action, regardless of a particular
/// resource or context. Serialized as `{"access":"allowed"}`,
/// `{"access":"conditional","allow_if":[…],"deny_if":[…]}` or
/// `{"access":"forbidden"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "access", rename_all = "snake_case")]
pub enum Access {
    /// Allowed unconditionally.
    Allowed,
    /// Allowed only when conditions hold (`allow_if`, any of them), and
    /// never when one of `deny_if` holds.
    Conditional {
        /// Conditions under which an allow rule applies.
        allow_if: Vec<String>,
        /// Conditions under which a deny rule applies.
        deny_if: Vec<String>,
    },
    /// An unconditional deny applies (or the principal is blocked).
    Forbidden,
}

/// One line of [`Policy::permissions`]: an action the principal has some
/// access to, or is explicitly forbidden. Serialized flat:
/// `{"resource_type":"Client","action":"read","access":"allowed"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Permission<'p> {
    /// The resource type.
    pub resource_type: &'p str,
    /// The action.
    pub action: &'p str,
    /// The access.
    #[serde(flatten)]
    pub access: Access,
}

/// One line of [`Policy::who_can`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Grantee<'p> {
    /// The principal.
    pub principal: &'p str,
    /// The tenant in which it is allowed; `None` when allowed by roles or
    /// rights that hold in every tenant.
    pub tenant: Option<&'p str>,
}

/// The error of an undeclared tenant, kept off the decision's hot path.
#[cold]
#[inline(never)]
fn tenant_unknown(tenant: &str) -> crate::Error {
    crate::Error::TenantUnknown(tenant.to_owned())
}

/// Sets that apply to a user in a tenant: own rights, then roles.
struct Applicable<'p> {
    own: Option<&'p RuleSet>,
    global: &'p [u32],
    tenant: &'p [u32],
}

impl<'p> Applicable<'p> {
    fn sets(&self, policy: &'p Policy) -> impl Iterator<Item = &'p RuleSet> + use<'p> {
        let roles = &policy.roles;
        self.own.into_iter().chain(
            self.global
                .iter()
                .chain(self.tenant.iter())
                .filter_map(move |r| roles.get(*r as usize).map(|role| &role.set)),
        )
    }
}

impl Policy {
    /// Parses, validates and compiles a TOML policy file: the front door.
    ///
    /// # Errors
    /// [`Error::PolicyInvalid`](crate::Error::PolicyInvalid) with every
    /// problem found, each with its line and column.
    pub fn from_toml(text: &str) -> crate::Result<Self> {
        crate::PolicyDocument::from_toml(text).map(|document| document.compile())
    }

    fn perm_of(&self, type_id: u32, action: &str) -> Option<u32> {
        let ty = self.types.get(type_id as usize)?;
        let index = ty.actions.iter().position(|a| &**a == action)?;
        u32::try_from(index).ok().map(|i| ty.first_perm + i)
    }

    fn applicable<'p>(&'p self, user: &'p UserEntry, tenant: Option<u32>) -> Applicable<'p> {
        let tenant_roles = tenant
            .and_then(|t| {
                user.tenants
                    .binary_search_by_key(&t, |(id, _)| *id)
                    .ok()
                    .and_then(|at| user.tenants.get(at))
            })
            .map_or(&[][..], |(_, roles)| &roles[..]);
        Applicable {
            own: user.own.as_ref(),
            global: &user.global,
            tenant: tenant_roles,
        }
    }

    fn owner_is_principal(&self, request: &Request<'_>, type_id: u32, user: u32) -> bool {
        match request.resource.owner {
            Some(owner) => owner == request.principal,
            None => self
                .types
                .get(type_id as usize)
                .and_then(|ty| ty.owners.get(request.resource.id))
                .is_some_and(|owner| *owner == user),
        }
    }

    /// Decides a request: a deny beats any allow; default deny. Unknown
    /// principals, resource types and actions are simply not permitted.
    ///
    /// A tenant the policy does not declare is refused with
    /// [`Error::TenantUnknown`](crate::Error::TenantUnknown), as by
    /// [`permissions`](Self::permissions) and [`who_can`](Self::who_can): a
    /// mistyped tenant is an error in the caller, not a question to answer
    /// from the principal's global roles. A decision allocates nothing
    /// (only the error does).
    pub fn decide(&self, request: &Request<'_>) -> crate::Result<Decision<'_>> {
        let tenant = match request.tenant {
            None => None,
            Some(t) => match self.tenant_ix.get(t) {
                Some(id) => Some(*id),
                None => return Err(tenant_unknown(t)),
            },
        };
        Ok(self.decide_in(request, tenant))
    }

    /// [`decide`](Self::decide) with the tenant already resolved.
    #[inline]
    fn decide_in(&self, request: &Request<'_>, tenant: Option<u32>) -> Decision<'_> {
        let mut decision = Decision {
            policy: self,
            outcome: Outcome::NotPermitted,
            user: None,
            tenant,
            type_id: None,
        };
        decision.type_id = self.type_ix.get(request.resource.type_name).copied();
        let Some(&user_id) = self.user_ix.get(request.principal) else {
            return decision;
        };
        let Some(user) = self.users.get(user_id as usize) else {
            return decision;
        };
        decision.user = Some(user_id);
        if user.blocked {
            decision.outcome = Outcome::Forbidden;
            return decision;
        }
        let Some(type_id) = decision.type_id else {
            return decision;
        };
        let Some(perm) = self.perm_of(type_id, request.action) else {
            return decision;
        };
        let applicable = self.applicable(user, decision.tenant);
        let mut allowed = false;
        let mut conditional = false;
        for set in applicable.sets(self) {
            if set.deny.contains(perm) {
                decision.outcome = Outcome::Forbidden;
                return decision;
            }
            allowed |= set.allow.contains(perm);
            conditional |= set.cond_mask.contains(perm);
        }
        if conditional {
            let owner = self.owner_is_principal(request, type_id, user_id);
            for set in applicable.sets(self) {
                for rule in set.cond.iter().filter_map(|r| self.rules.get(*r as usize)) {
                    let matches = rule.perms.binary_search(&perm).is_ok()
                        && rule
                            .cond
                            .as_ref()
                            .is_some_and(|c| c.holds(owner, request.context));
                    if matches {
                        match rule.effect {
                            Effect::Deny => {
                                decision.outcome = Outcome::Forbidden;
                                return decision;
                            }
                            Effect::Allow => allowed = true,
                        }
                    }
                }
            }
        }
        if allowed {
            decision.outcome = Outcome::Allow;
        }
        decision
    }

    /// Decides a request and says why: the rules that matched, by their
    /// place in the policy file. Slower than [`decide`](Self::decide); its
    /// outcome is always the same, and it refuses an undeclared tenant alike.
    pub fn explain(&self, request: &Request<'_>) -> crate::Result<Explanation> {
        let tenant = self.tenant_id(request.tenant)?;
        Ok(self.explain_in(request, tenant))
    }

    fn explain_in(&self, request: &Request<'_>, tenant: Option<u32>) -> Explanation {
        let not_permitted = |summary: String| Explanation {
            outcome: Outcome::NotPermitted,
            rules: Vec::new(),
            summary,
        };
        let resource = request.resource;
        let Some((user_id, user)) = self
            .user_ix
            .get(request.principal)
            .and_then(|id| Some((*id, self.users.get(*id as usize)?)))
        else {
            return not_permitted(format!("unknown principal `{}`", request.principal));
        };
        if user.blocked {
            return Explanation {
                outcome: Outcome::Forbidden,
                rules: Vec::new(),
                summary: format!("principal `{}` is blocked", request.principal),
            };
        }
        let Some(&type_id) = self.type_ix.get(resource.type_name) else {
            return not_permitted(format!("unknown resource type `{}`", resource.type_name));
        };
        let Some(perm) = self.perm_of(type_id, request.action) else {
            return not_permitted(format!(
                "unknown action `{}` on resource type `{}`",
                request.action, resource.type_name
            ));
        };
        let owner = self.owner_is_principal(request, type_id, user_id);
        let mut rule_ids = BTreeSet::new();
        for set in self.applicable(user, tenant).sets(self) {
            rule_ids.extend(set.rules.iter().copied());
        }
        let mut allows = Vec::new();
        let mut denies = Vec::new();
        for rule in rule_ids.iter().filter_map(|r| self.rules.get(*r as usize)) {
            let matches = rule.perms.binary_search(&perm).is_ok()
                && rule
                    .cond
                    .as_ref()
                    .is_none_or(|c| c.holds(owner, request.context));
            if matches {
                let matched = self.matched(rule);
                match rule.effect {
                    Effect::Allow => allows.push(matched),
                    Effect::Deny => denies.push(matched),
                }
            }
        }
        let list = |rules: &[MatchedRule]| {
            rules
                .iter()
                .map(|r| r.path.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let action = format!("{}:{}", resource.type_name, request.action);
        if !denies.is_empty() {
            let summary = format!("`{action}` is denied by {}", list(&denies));
            Explanation {
                outcome: Outcome::Forbidden,
                rules: denies,
                summary,
            }
        } else if !allows.is_empty() {
            let summary = format!("`{action}` is allowed by {}", list(&allows));
            Explanation {
                outcome: Outcome::Allow,
                rules: allows,
                summary,
            }
        } else {
            not_permitted(format!(
                "no rule allows `{action}` to `{}`{}",
                request.principal,
                match request.tenant {
                    Some(t) => format!(" in tenant `{t}`"),
                    None => String::new(),
                }
            ))
        }
    }

    fn matched(&self, rule: &Rule) -> MatchedRule {
        let description = match &rule.cond {
            Some(cond) => format!("{} if {cond}", rule.actions),
            None => rule.actions.to_string(),
        };
        MatchedRule {
            path: rule.path.to_string(),
            effect: rule.effect,
            description,
        }
    }

    fn field_rights_hidden(&self, type_id: u32) -> Vec<FieldRight<'_>> {
        self.types
            .get(type_id as usize)
            .map(|ty| {
                ty.fields
                    .iter()
                    .map(|f| FieldRight {
                        field: f,
                        visibility: Visibility::Hidden,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Field rights: the user's own setting wins; otherwise the most
    /// restrictive setting among its roles; otherwise visible.
    pub(crate) fn field_rights(
        &self,
        user_id: u32,
        tenant: Option<u32>,
        type_id: u32,
        allowed: bool,
    ) -> Vec<FieldRight<'_>> {
        let (Some(ty), Some(user)) = (
            self.types.get(type_id as usize),
            self.users.get(user_id as usize),
        ) else {
            return Vec::new();
        };
        if !allowed {
            return self.field_rights_hidden(type_id);
        }
        let applicable = self.applicable(user, tenant);
        let lookup = |set: &RuleSet, field: u32| {
            set.fields
                .binary_search_by_key(&field, |(f, _)| *f)
                .ok()
                .and_then(|at| set.fields.get(at))
                .map(|(_, v)| *v)
        };
        let mut rights = Vec::with_capacity(ty.fields.len());
        for (offset, name) in (0u32..).zip(ty.fields.iter()) {
            let field = ty.first_field + offset;
            let own = applicable.own.and_then(|set| lookup(set, field));
            let visibility = own.unwrap_or_else(|| {
                applicable
                    .global
                    .iter()
                    .chain(applicable.tenant.iter())
                    .filter_map(|r| self.roles.get(*r as usize))
                    .filter_map(|role| lookup(&role.set, field))
                    .max()
                    .unwrap_or(Visibility::Visible)
            });
            rights.push(FieldRight {
                field: name,
                visibility,
            });
        }
        rights
    }

    /// Field rights of `principal` on a resource type, as a decision that
    /// allowed access would carry (for "log in as that user").
    pub fn field_rights_of(
        &self,
        principal: &str,
        tenant: Option<&str>,
        resource_type: &str,
    ) -> crate::Result<Vec<FieldRight<'_>>> {
        let user = *self
            .user_ix
            .get(principal)
            .ok_or_else(|| crate::Error::PrincipalUnknown(principal.to_owned()))?;
        let type_id =
            *self
                .type_ix
                .get(resource_type)
                .ok_or_else(|| crate::Error::ActionUnknown {
                    resource_type: resource_type.to_owned(),
                    action: "*".to_owned(),
                })?;
        let tenant = self.tenant_id(tenant)?;
        let blocked = self.users.get(user as usize).is_none_or(|u| u.blocked);
        Ok(self.field_rights(user, tenant, type_id, !blocked))
    }

    fn tenant_id(&self, tenant: Option<&str>) -> crate::Result<Option<u32>> {
        tenant
            .map(|t| {
                self.tenant_ix
                    .get(t)
                    .copied()
                    .ok_or_else(|| crate::Error::TenantUnknown(t.to_owned()))
            })
            .transpose()
    }

    /// Everything `principal` may do in `tenant` (or with the rights that
    /// hold in every tenant, when `None`): each action it is allowed,
    /// allowed under conditions, or explicitly forbidden. Actions merely not
    /// permitted are left out. For "log in as that user".
    pub fn permissions(
        &self,
        principal: &str,
        tenant: Option<&str>,
    ) -> crate::Result<Vec<Permission<'_>>> {
        let user = self
            .user_ix
            .get(principal)
            .and_then(|id| self.users.get(*id as usize))
            .ok_or_else(|| crate::Error::PrincipalUnknown(principal.to_owned()))?;
        let tenant = self.tenant_id(tenant)?;
        let applicable = self.applicable(user, tenant);
        let mut rule_ids = BTreeSet::new();
        for set in applicable.sets(self) {
            rule_ids.extend(set.rules.iter().copied());
        }
        let rules: Vec<&Rule> = rule_ids
            .iter()
            .filter_map(|r| self.rules.get(*r as usize))
            .collect();
        let mut out = Vec::new();
        for perm in 0..self.perm_count {
            let Some((ty, action)) = self.perm_name(perm) else {
                continue;
            };
            let access = if user.blocked {
                Some(Access::Forbidden)
            } else {
                Self::access(&rules, perm)
            };
            if let Some(access) = access {
                out.push(Permission {
                    resource_type: ty,
                    action,
                    access,
                });
            }
        }
        Ok(out)
    }

    /// How a principal may use every permission, indexed by permission id
    /// (`None`: not permitted), as [`permissions`](Self::permissions) lists it.
    pub(crate) fn access_table(&self, user_id: u32, tenant: Option<u32>) -> Vec<Option<Access>> {
        let Some(user) = self.users.get(user_id as usize) else {
            return vec![None; self.perm_count as usize];
        };
        if user.blocked {
            return vec![Some(Access::Forbidden); self.perm_count as usize];
        }
        let mut rule_ids = BTreeSet::new();
        for set in self.applicable(user, tenant).sets(self) {
            rule_ids.extend(set.rules.iter().copied());
        }
        let rules: Vec<&Rule> = rule_ids
            .iter()
            .filter_map(|r| self.rules.get(*r as usize))
            .collect();
        (0..self.perm_count)
            .map(|perm| Self::access(&rules, perm))
            .collect()
    }

    /// What a role alone (with what it inherits) gives, indexed by permission id.
    pub(crate) fn role_access_table(&self, role_id: u32) -> Vec<Option<Access>> {
        let rules: Vec<&Rule> = self
            .roles
            .get(role_id as usize)
            .map(|role| {
                role.set
                    .rules
                    .iter()
                    .filter_map(|r| self.rules.get(*r as usize))
                    .collect()
            })
            .unwrap_or_default();
        (0..self.perm_count)
            .map(|perm| Self::access(&rules, perm))
            .collect()
    }

    /// How a principal sees every field, indexed by global field id: hidden
    /// when it may do nothing with the field's type (nor when blocked).
    pub(crate) fn visibility_table(&self, user_id: u32, tenant: Option<u32>) -> Vec<Visibility> {
        let reached = self.fields_reached(&self.access_table(user_id, tenant));
        (0..crate::compile::to_u32(self.types.len()))
            .flat_map(|type_id| self.field_rights(user_id, tenant, type_id, true))
            .zip(reached)
            .map(|(right, reached)| {
                if reached {
                    right.visibility
                } else {
                    Visibility::Hidden
                }
            })
            .collect()
    }

    /// How a role alone shows every field (its own or inherited setting,
    /// else visible), indexed by global field id.
    pub(crate) fn role_visibility_table(&self, role_id: u32) -> Vec<Visibility> {
        let fields = self
            .roles
            .get(role_id as usize)
            .map_or(&[][..], |role| &role.set.fields[..]);
        (0..self.field_count())
            .map(|field| {
                fields
                    .binary_search_by_key(&field, |(f, _)| *f)
                    .ok()
                    .and_then(|at| fields.get(at))
                    .map_or(Visibility::Visible, |(_, v)| *v)
            })
            .collect()
    }

    /// For each field (by global id), whether `access` allows some action
    /// of its type, perhaps under conditions: only then is the field shown.
    pub(crate) fn fields_reached(&self, access: &[Option<Access>]) -> Vec<bool> {
        let mut types = vec![false; self.types.len()];
        for (perm, access) in access.iter().enumerate() {
            if matches!(access, Some(Access::Allowed | Access::Conditional { .. }))
                && let Some(slot) = self
                    .perm_type
                    .get(perm)
                    .and_then(|ty| types.get_mut(*ty as usize))
            {
                *slot = true;
            }
        }
        self.types
            .iter()
            .zip(types)
            .flat_map(|(ty, reached)| std::iter::repeat_n(reached, ty.fields.len()))
            .collect()
    }

    /// Number of fields over all types.
    pub(crate) fn field_count(&self) -> u32 {
        self.types.last().map_or(0, |ty| {
            ty.first_field + crate::compile::to_u32(ty.fields.len())
        })
    }

    /// The field with a global id, as `Type.field`.
    pub(crate) fn field_label(&self, field: u32) -> String {
        self.types
            .iter()
            .find_map(|ty| {
                let offset = field.checked_sub(ty.first_field)?;
                let name = ty.fields.get(offset as usize)?;
                Some(format!("{}.{name}", ty.name))
            })
            .unwrap_or_default()
    }

    /// The global id of a field written `Type.field`.
    pub(crate) fn field_id(&self, name: &str) -> Option<u32> {
        let (ty, field) = name.split_once('.')?;
        let ty = self.types.get(*self.type_ix.get(ty)? as usize)?;
        let offset = ty.fields.iter().position(|f| &**f == field)?;
        Some(ty.first_field + crate::compile::to_u32(offset))
    }

    /// The permission as `Type:action`.
    pub(crate) fn perm_label(&self, perm: u32) -> String {
        self.perm_name(perm)
            .map(|(ty, action)| format!("{ty}:{action}"))
            .unwrap_or_default()
    }

    /// The permissions an action reference (`*`, `Type:*`, `Type:action`) covers.
    pub(crate) fn perms_of(&self, reference: &str) -> Vec<u32> {
        let of_type = |ty: &TypeEntry| {
            let first = ty.first_perm;
            (0..crate::compile::to_u32(ty.actions.len())).map(move |i| first + i)
        };
        match crate::model::parse_action_ref(reference) {
            Some(crate::model::ActionRef::All) => (0..self.perm_count).collect(),
            Some(crate::model::ActionRef::AllOf(ty)) => self
                .type_ix
                .get(ty)
                .and_then(|id| self.types.get(*id as usize))
                .map(|ty| of_type(ty).collect())
                .unwrap_or_default(),
            Some(crate::model::ActionRef::One(ty, action)) => self
                .type_ix
                .get(ty)
                .and_then(|id| self.perm_of(*id, action))
                .into_iter()
                .collect(),
            None => Vec::new(),
        }
    }

    fn access(rules: &[&Rule], perm: u32) -> Option<Access> {
        let mut allowed = false;
        let mut allow_if = Vec::new();
        let mut deny_if = Vec::new();
        for rule in rules
            .iter()
            .filter(|r| r.perms.binary_search(&perm).is_ok())
        {
            match (&rule.cond, rule.effect) {
                (None, Effect::Deny) => return Some(Access::Forbidden),
                (None, Effect::Allow) => allowed = true,
                (Some(c), Effect::Allow) => allow_if.push(c.to_string()),
                (Some(c), Effect::Deny) => deny_if.push(c.to_string()),
            }
        }
        if allowed && deny_if.is_empty() {
            Some(Access::Allowed)
        } else if allowed {
            Some(Access::Conditional {
                allow_if: vec!["always".to_owned()],
                deny_if,
            })
        } else if !allow_if.is_empty() {
            Some(Access::Conditional { allow_if, deny_if })
        } else {
            None
        }
    }

    pub(crate) fn perm_name(&self, perm: u32) -> Option<(&str, &str)> {
        let ty = self
            .types
            .get(*self.perm_type.get(perm as usize)? as usize)?;
        let action = ty.actions.get((perm - ty.first_perm) as usize)?;
        Some((&ty.name, action))
    }

    /// Who may perform `action` on `resource` (with `context`), in `tenant`
    /// or, when `None`, in any tenant: each principal with the tenant where
    /// it is allowed. For access lists of sensitive resources.
    pub fn who_can(
        &self,
        action: &str,
        resource: crate::Resource<'_>,
        tenant: Option<&str>,
        context: Option<&Context>,
    ) -> crate::Result<Vec<Grantee<'_>>> {
        let type_id =
            *self
                .type_ix
                .get(resource.type_name)
                .ok_or_else(|| crate::Error::ActionUnknown {
                    resource_type: resource.type_name.to_owned(),
                    action: action.to_owned(),
                })?;
        if self.perm_of(type_id, action).is_none() {
            return Err(crate::Error::ActionUnknown {
                resource_type: resource.type_name.to_owned(),
                action: action.to_owned(),
            });
        }
        self.tenant_id(tenant)?;
        let mut out = Vec::new();
        for user in self.users.iter() {
            let ask = |tenant: Option<&str>| {
                let mut request = Request::new(&user.name, action, resource);
                request.tenant = tenant;
                request.context = context;
                self.decide(&request).is_ok_and(|d| d.is_allowed())
            };
            if let Some(t) = tenant {
                if ask(Some(t)) {
                    out.push(Grantee {
                        principal: &user.name,
                        tenant: self
                            .tenant_ix
                            .get(t)
                            .and_then(|id| self.tenants.get(*id as usize).map(|e| &*e.name)),
                    });
                }
                continue;
            }
            if ask(None) {
                out.push(Grantee {
                    principal: &user.name,
                    tenant: None,
                });
                continue;
            }
            for (tenant_id, _) in user.tenants.iter() {
                if let Some(t) = self.tenants.get(*tenant_id as usize)
                    && ask(Some(&t.name))
                {
                    out.push(Grantee {
                        principal: &user.name,
                        tenant: Some(&t.name),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The principals, in name order.
    pub fn principals(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|u| &*u.name)
    }

    /// The roles, in name order.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().map(|r| &*r.name)
    }

    /// The tenants with their owners, in name order.
    pub fn tenants(&self) -> impl Iterator<Item = (&str, Vec<&str>)> {
        self.tenants.iter().map(|t| {
            let owners = t
                .owners
                .iter()
                .filter_map(|u| self.users.get(*u as usize).map(|u| &*u.name))
                .collect();
            (&*t.name, owners)
        })
    }

    /// The tenants in which `principal` holds roles of its own (roles held
    /// in every tenant are not listed), in name order.
    pub fn tenants_of(&self, principal: &str) -> Vec<&str> {
        self.user_ix
            .get(principal)
            .and_then(|id| self.users.get(*id as usize))
            .map(|user| {
                user.tenants
                    .iter()
                    .filter_map(|(t, _)| self.tenants.get(*t as usize).map(|t| &*t.name))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the principal exists and is blocked.
    pub fn is_blocked(&self, principal: &str) -> bool {
        self.user_ix
            .get(principal)
            .and_then(|id| self.users.get(*id as usize))
            .is_some_and(|u| u.blocked)
    }

    /// Bytes of memory the compiled snapshot holds (struct sizes plus heap,
    /// hash tables counted at capacity with their control bytes).
    pub fn memory_bytes(&self) -> usize {
        fn table<V>(map: &FxHashMap<Box<str>, V>) -> usize {
            map.capacity() * (size_of::<(Box<str>, V)>() + 1)
                + map.keys().map(|k| k.len()).sum::<usize>()
        }
        fn set(s: &RuleSet) -> usize {
            s.allow.heap_bytes()
                + s.deny.heap_bytes()
                + s.cond_mask.heap_bytes()
                + (s.cond.len() + s.rules.len()) * 4
                + s.fields.len() * size_of::<(u32, Visibility)>()
        }
        let mut total = size_of::<Self>();
        for ty in self.types.iter() {
            total += size_of::<TypeEntry>()
                + ty.name.len()
                + ty.actions.iter().map(|a| a.len() + 16).sum::<usize>()
                + ty.fields.iter().map(|f| f.len() + 16).sum::<usize>()
                + table(&ty.owners);
        }
        total += table(&self.type_ix) + self.perm_type.len() * 4;
        for role in self.roles.iter() {
            total += size_of::<RoleEntry>() + role.name.len() + set(&role.set);
        }
        total += table(&self.role_ix);
        for user in self.users.iter() {
            total += size_of::<UserEntry>()
                + user.name.len()
                + user.global.len() * 4
                + user
                    .tenants
                    .iter()
                    .map(|(_, r)| size_of::<(u32, Box<[u32]>)>() + r.len() * 4)
                    .sum::<usize>()
                + user
                    .own
                    .as_ref()
                    .map_or(0, |s| size_of::<RuleSet>() + set(s));
        }
        total += table(&self.user_ix);
        for tenant in self.tenants.iter() {
            total += size_of::<TenantEntry>() + tenant.name.len() + tenant.owners.len() * 4;
        }
        total += table(&self.tenant_ix);
        for rule in self.rules.iter() {
            total += size_of::<Rule>()
                + rule.path.len()
                + rule.actions.len()
                + rule.perms.len() * 4
                + rule.cond.as_ref().map_or(0, |c| {
                    size_of::<Condition>()
                        + c.when
                            .iter()
                            .map(|w| size_of::<Comparison>() + w.key.len())
                            .sum::<usize>()
                });
        }
        total
    }
}
