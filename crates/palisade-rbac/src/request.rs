//! What is asked: principal, action, resource, tenant and context.

use std::fmt;

use crate::error::{Error, Result};

/// A context attribute value: conditions compare these with constants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Long(i64),
    /// A string.
    String(String),
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Self::Long(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Long(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// Request attributes (time of day, channel, amount, …) that rule
/// conditions compare with constants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Sorted by key, keys unique.
    entries: Vec<(String, Value)>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(key.into(), value.into());
        self
    }

    fn insert(&mut self, key: String, value: Value) {
        match self.entries.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(at) => {
                if let Some(slot) = self.entries.get_mut(at) {
                    slot.1 = value;
                }
            }
            Err(at) => self.entries.insert(at, (key, value)),
        }
    }

    /// Parses a JSON object whose values are strings, integers or booleans.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::ContextInvalid(e.to_string()))?;
        let serde_json::Value::Object(map) = value else {
            return Err(Error::ContextInvalid("expected a JSON object".to_owned()));
        };
        let mut context = Self::new();
        for (key, value) in map {
            let value = match value {
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::String(s) => Value::String(s),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(n) => Value::Long(n),
                    None => {
                        return Err(Error::ContextInvalid(format!(
                            "`{key}` is not a 64-bit integer"
                        )));
                    }
                },
                _ => {
                    return Err(Error::ContextInvalid(format!(
                        "`{key}` is not a string, integer or boolean"
                    )));
                }
            };
            context.insert(key, value);
        }
        Ok(context)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .and_then(|at| self.entries.get(at))
            .map(|(_, value)| value)
    }

    /// The attributes in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// The resource a request is about: its type (declared in the schema), its
/// id and, optionally, its owner.
///
/// On the command line a resource is written `Type:id` (or `Type` for "any
/// resource of that type"); its owner comes from `--owner` or from the
/// policy file's `[resources."Type:id"]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource<'a> {
    pub(crate) type_name: &'a str,
    pub(crate) id: &'a str,
    pub(crate) owner: Option<&'a str>,
}

impl<'a> Resource<'a> {
    /// A resource of type `type_name` with identifier `id`.
    pub fn new(type_name: &'a str, id: &'a str) -> Self {
        Self {
            type_name,
            id,
            owner: None,
        }
    }

    /// Parses `Type:id` or `Type`.
    pub fn parse(text: &'a str) -> Result<Self> {
        let (type_name, id) = text.split_once(':').unwrap_or((text, ""));
        if type_name.is_empty() || type_name.contains('*') {
            return Err(Error::ResourceMalformed(text.to_owned()));
        }
        Ok(Self::new(type_name, id))
    }

    /// States the resource's owner (overrides the owner in the policy file).
    #[must_use]
    pub fn owned_by(mut self, owner: &'a str) -> Self {
        self.owner = Some(owner);
        self
    }

    /// The resource type.
    pub fn type_name(&self) -> &'a str {
        self.type_name
    }

    /// The resource id (empty for "any resource of the type").
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// The owner stated in the request, if any.
    pub fn owner(&self) -> Option<&'a str> {
        self.owner
    }
}

impl fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.id.is_empty() {
            f.write_str(self.type_name)
        } else {
            write!(f, "{}:{}", self.type_name, self.id)
        }
    }
}

/// An authorization question: may `principal` perform `action` on `resource`
/// (in `tenant`, given `context`)?
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub(crate) principal: &'a str,
    pub(crate) action: &'a str,
    pub(crate) resource: Resource<'a>,
    pub(crate) tenant: Option<&'a str>,
    pub(crate) context: Option<&'a Context>,
}

impl<'a> Request<'a> {
    /// A request outside any tenant (only roles held in every tenant apply).
    pub fn new(principal: &'a str, action: &'a str, resource: Resource<'a>) -> Self {
        Self {
            principal,
            action,
            resource,
            tenant: None,
            context: None,
        }
    }

    /// Evaluates the request within `tenant`: the principal's roles in that
    /// tenant apply as well as the roles it holds in every tenant.
    #[must_use]
    pub fn in_tenant(mut self, tenant: &'a str) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Attaches the request context that rule conditions read.
    #[must_use]
    pub fn with_context(mut self, context: &'a Context) -> Self {
        self.context = Some(context);
        self
    }

    /// The principal asking.
    pub fn principal(&self) -> &'a str {
        self.principal
    }

    /// The action asked for.
    pub fn action(&self) -> &'a str {
        self.action
    }

    /// The resource.
    pub fn resource(&self) -> Resource<'a> {
        self.resource
    }

    /// The tenant, if any.
    pub fn tenant(&self) -> Option<&'a str> {
        self.tenant
    }

    /// The context, if any.
    pub fn context(&self) -> Option<&'a Context> {
        self.context
    }
}
