#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod calendar;
mod error;
mod execute;
mod plan;
mod policy;
mod record;

pub use crate::{
    error::{Error, Problem, Result, Severity},
    execute::{
        ActionError, Executed, Execution, ExecutionFailure, Executor, FailedStep, audit_action,
        execute,
    },
    plan::{Erasure, Plan, PlanItem, Retention, Status},
    policy::{Action, ERASURE_REQUESTED, Policy, Rule, RuleKind, Trigger},
    record::{Record, RecordBuf},
};
pub use jiff::Timestamp;
