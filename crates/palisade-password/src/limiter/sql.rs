//! What the SQL stores share: the table and the column conversions.

use crate::{AttemptCounter, Error, Result};

/// The table both SQL stores create (the same text runs on SQLite and
/// PostgreSQL; the README documents it).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS login_attempts (
    key TEXT PRIMARY KEY,
    attempts BIGINT NOT NULL,
    retry_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_expires_at ON login_attempts (expires_at);
";

/// `attempts, retry_at, expires_at` as stored.
pub(super) type Columns = (i64, i64, i64);

pub(super) fn to_columns(c: AttemptCounter) -> Result<Columns> {
    let time = |t: u64| {
        i64::try_from(t)
            .map_err(|_| Error::AttemptStoreFailed(format!("time `{t}` is out of range").into()))
    };
    Ok((
        i64::from(c.attempts()),
        time(c.retry_at())?,
        time(c.expires_at())?,
    ))
}

pub(super) fn from_columns((attempts, retry_at, expires_at): Columns) -> Result<AttemptCounter> {
    let bad = || Error::AttemptStoreFailed("a stored counter is out of range".into());
    Ok(AttemptCounter::from_parts(
        u32::try_from(attempts).map_err(|_| bad())?,
        u64::try_from(retry_at).map_err(|_| bad())?,
        u64::try_from(expires_at).map_err(|_| bad())?,
    ))
}
