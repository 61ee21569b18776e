#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod authorized;
mod guard;
mod layers;
mod principal;
mod protect;
mod refusal;
mod stream;

pub use crate::{
    authorized::{Action, Authorized, Fresh, Resource, SignedIn},
    guard::{Guard, GuardBuilder, GuardLayer, GuardService},
    layers::{
        STRICT_CSP, SessionCookie, WebDefences, WebDefencesService, client_address, per_minute,
        same_origin,
    },
    principal::{BoxFuture, DecisionLog, PolicySource, Principal, ResourceLocator, SessionLookup},
    protect::{Field, Guarded, Protected, csv_cell},
    refusal::{Refusal, error_response},
};

/// The personal-data kinds fields declare (re-exported from palisade-pii).
pub use palisade_pii::Kind;

/// The data subjects a [`Protected`] value names, and the name of one
/// (`client:c-42`, for [`Authorized::concerns`]), as the audit log writes
/// them (re-exported from palisade-audit).
pub use palisade_audit::{Subjects, subject};
