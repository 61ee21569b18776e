//! The SQLite store (feature `sqlite`).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::{Columns, SCHEMA, from_columns, to_columns};
use crate::{AttemptCounter, AttemptStore, Error, Result};

/// The login limiter's counters in a SQLite database, in the table
/// `login_attempts` (created if missing; schema in the crate docs).
///
/// Each compare-and-swap is one statement, atomic in SQLite, so several
/// connections and processes may share the database file. WAL journal with
/// `synchronous = NORMAL` (a power loss may forget the last few attempts),
/// a 5-second busy timeout. A new database file is created readable by its
/// owner only. Call [`purge_expired`](Self::purge_expired) from time to time
/// (hourly, say): rows are not deleted otherwise.
pub struct SqliteAttemptStore {
    conn: Mutex<Connection>,
}

impl core::fmt::Debug for SqliteAttemptStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteAttemptStore").finish_non_exhaustive()
    }
}

fn db(e: rusqlite::Error) -> Error {
    Error::AttemptStoreFailed(Box::new(e))
}

impl SqliteAttemptStore {
    /// Opens (or creates, with mode 0600) the database at `path` and creates
    /// the table if needed.
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        create_private(path)?;
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        // No fsync per counter update: a power loss may forget the last
        // few attempts, never corrupt the file.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        Self::with_connection(conn)
    }

    /// A store in a private in-memory database (tests, single process).
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`].
    pub fn open_in_memory() -> Result<Self> {
        Self::with_connection(Connection::open_in_memory().map_err(db)?)
    }

    fn with_connection(conn: Connection) -> Result<Self> {
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Deletes the counters expired at `now`; answers how many.
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`].
    pub fn purge_expired(&self, now: u64) -> Result<u64> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let n = self
            .conn()?
            .execute("DELETE FROM login_attempts WHERE expires_at <= ?1", [now])
            .map_err(db)?;
        Ok(n as u64)
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::AttemptStoreFailed("the connection's lock is poisoned".into()))
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::AttemptStoreFailed(Box::new(std::io::Error::new(
            e.kind(),
            format!("cannot create the database file: {e}"),
        )))),
    }
}

#[cfg(not(unix))]
fn create_private(_: &Path) -> Result<()> {
    Ok(())
}

impl AttemptStore for SqliteAttemptStore {
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>> {
        let row: Option<Columns> = self
            .conn()?
            .prepare_cached(
                "SELECT attempts, retry_at, expires_at FROM login_attempts WHERE key = ?1",
            )
            .map_err(db)?
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(db)?;
        row.map(from_columns).transpose()
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool> {
        let (a, r, e) = to_columns(new)?;
        let conn = self.conn()?;
        let changed = match current {
            None => conn
                .prepare_cached(
                    "INSERT INTO login_attempts (key, attempts, retry_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO NOTHING",
                )
                .map_err(db)?
                .execute(params![key, a, r, e])
                .map_err(db)?,
            Some(current) => {
                let (ca, cr, ce) = to_columns(current)?;
                conn.prepare_cached(
                    "UPDATE login_attempts SET attempts = ?2, retry_at = ?3, expires_at = ?4 \
                     WHERE key = ?1 AND attempts = ?5 AND retry_at = ?6 AND expires_at = ?7",
                )
                .map_err(db)?
                .execute(params![key, a, r, e, ca, cr, ce])
                .map_err(db)?
            }
        };
        Ok(changed == 1)
    }
}
