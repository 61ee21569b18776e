#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod audit;
mod compile;
mod config;
mod error;
mod flow;
mod http;
mod identity;
mod logout;
mod mapping;
mod model;
mod provider;
mod sso;
mod validate;
mod verify;

pub use crate::{
    config::Config,
    error::{Cause, Error, Problem, Result, Severity},
    flow::{Callback, PendingSignIn, SignInStart},
    identity::{Authenticated, Identity, SignIn},
    logout::LogoutNotice,
    mapping::{LocalAccount, Provisioning, RoleAssignment},
    sso::{ClientSecret, Sso},
};

/// Re-exported so that applications name URLs with the same type.
pub use openidconnect::url::Url;
