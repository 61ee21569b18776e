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
    error::{Error, Problem, Result, Severity},
    model::{Effect, Status, Visibility},
    policy::{
        Access, Decision, Explanation, FieldRight, Grantee, MatchedRule, Outcome, Permission,
        Policy,
    },
    request::{Context, Request, Resource, Value},
    store::{DecisionHook, PolicyStore},
};
