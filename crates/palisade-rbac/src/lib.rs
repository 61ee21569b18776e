#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod compile;
mod delegation;
mod document;
mod error;
mod model;
mod permset;
mod policy;
mod request;
mod store;
mod validate;

pub use crate::{
    delegation::Actor,
    document::{PolicyDocument, Unchecked},
    error::{Error, Problem, Result},
    model::{Effect, Status, Visibility},
    policy::{
        Access, Decision, Explanation, FieldRight, Grantee, MatchedRule, Outcome, Permission,
        Policy,
    },
    request::{Context, Request, Resource, Value},
    store::{DecisionHook, PolicyStore},
};

impl Policy {
    /// Parses, validates and compiles a TOML policy file.
    pub fn from_toml(text: &str) -> Result<Self> {
        PolicyDocument::from_toml(text).map(|document| document.compile())
    }
}
