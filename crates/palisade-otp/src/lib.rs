#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod enroll;
mod error;
mod otp;
mod params;
#[cfg(feature = "qr")]
mod qr;
mod recovery;
mod secret;
mod state;
mod stepup;
mod uri;

#[cfg(feature = "qr")]
#[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
pub use crate::qr::QrError;
pub use crate::{
    enroll::Enrollment,
    error::{Error, Result, SecretError, UriError},
    otp::{DEFAULT_LOOK_AHEAD, DEFAULT_SKEW, Hotp, Totp, unix_now},
    params::{Algorithm, DEFAULT_DIGITS, DEFAULT_PERIOD, MAX_PERIOD},
    recovery::{DEFAULT_RECOVERY_CODES, MAX_RECOVERY_CODES, RecoveryCode, RecoveryCodes},
    secret::{DEFAULT_SECRET_LEN, MAX_SECRET_LEN, MIN_SECRET_LEN, Secret},
    state::{FactorState, Throttle},
    stepup::{DEFAULT_STEP_UP_WINDOW, Proof, StepUp},
    uri::{KeyUri, MAX_NAME_LEN, MAX_URI_LEN, OtpKind},
};
