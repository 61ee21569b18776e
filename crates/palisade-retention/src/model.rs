//! The policy file as written: its serde model, with spans for precise
//! messages. Nothing here is checked beyond the TOML shape.

use serde::Deserialize;
use toml::Spanned;

/// The whole policy file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    /// The IANA time zone in which calendar durations are counted (UTC when absent).
    pub(crate) time_zone: Option<Spanned<String>>,
    /// The data categories rules may govern.
    pub(crate) categories: Vec<Spanned<String>>,
    /// The named events rules may start from (besides the built-in erasure request).
    #[serde(default)]
    pub(crate) events: Vec<Spanned<String>>,
    /// The `[[rule]]` tables, in file order.
    #[serde(default, rename = "rule")]
    pub(crate) rules: Vec<Spanned<RuleDef>>,
}

/// One `[[rule]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDef {
    pub(crate) name: Spanned<String>,
    pub(crate) category: Spanned<String>,
    /// The trigger: `created`, `last_activity` or a declared event.
    pub(crate) from: Spanned<String>,
    /// An obligation to keep for this long.
    pub(crate) retain: Option<Spanned<String>>,
    /// An action this long after the trigger, without an obligation to keep.
    pub(crate) after: Option<Spanned<String>>,
    /// The action at the end of the period.
    pub(crate) then: Option<Spanned<String>>,
    pub(crate) locked: Option<bool>,
    pub(crate) description: Option<String>,
}
