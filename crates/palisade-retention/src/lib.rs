#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod calendar;
mod compile;
mod error;
mod execute;
mod model;
mod plan;
mod policy;
mod record;
mod rule;
mod validate;

pub use crate::{
    error::{Error, Problem, Result, Severity},
    execute::{
        ActionError, Executed, Execution, ExecutionFailure, Executor, FailedStep, audit_action,
        execute,
    },
    plan::{Erasure, Plan, PlanItem, Retention, Status},
    policy::Policy,
    record::{Record, RecordBuf},
    rule::{Action, ERASURE_REQUESTED, Rule, RuleKind, Trigger},
};
pub use jiff::Timestamp;
