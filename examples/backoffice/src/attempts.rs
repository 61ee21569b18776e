//! The sign-in limiter's counters in the back office's own database, so
//! that every instance on one PostgreSQL meets one back-off.

use std::sync::Arc;

use palisade_password::{AttemptCounter, AttemptStore};

use crate::db::Db;

/// palisade-password's attempt store over the app's database: a load and a
/// compare-and-swap (one conditional statement each).
pub(crate) struct DbAttempts(pub(crate) Arc<Db>);

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> palisade_password::Error {
    palisade_password::Error::AttemptStoreFailed(Box::new(e))
}

fn column(t: u64) -> palisade_password::Result<i64> {
    i64::try_from(t).map_err(failed)
}

impl AttemptStore for DbAttempts {
    fn load(&self, key: &str) -> palisade_password::Result<Option<AttemptCounter>> {
        let Some(row) = self
            .0
            .query_one(
                "SELECT attempts, retry_at, expires_at FROM login_attempts WHERE key = $1",
                &[key.into()],
            )
            .map_err(failed)?
        else {
            return Ok(None);
        };
        let int = |c: &str| row.int(c).map_err(failed);
        Ok(Some(AttemptCounter::from_parts(
            u32::try_from(int("attempts")?).map_err(failed)?,
            u64::try_from(int("retry_at")?).map_err(failed)?,
            u64::try_from(int("expires_at")?).map_err(failed)?,
        )))
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> palisade_password::Result<bool> {
        let (attempts, retry_at, expires_at) = (
            i64::from(new.attempts()),
            column(new.retry_at())?,
            column(new.expires_at())?,
        );
        let n = match current {
            None => self.0.exec(
                "INSERT INTO login_attempts (key, attempts, retry_at, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO NOTHING",
                &[key.into(), attempts.into(), retry_at.into(), expires_at.into()],
            ),
            Some(old) => self.0.exec(
                "UPDATE login_attempts SET attempts = $1, retry_at = $2, expires_at = $3 \
                 WHERE key = $4 AND attempts = $5 AND retry_at = $6 AND expires_at = $7",
                &[
                    attempts.into(),
                    retry_at.into(),
                    expires_at.into(),
                    key.into(),
                    i64::from(old.attempts()).into(),
                    column(old.retry_at())?.into(),
                    column(old.expires_at())?.into(),
                ],
            ),
        }
        .map_err(failed)?;
        Ok(n == 1)
    }
}
