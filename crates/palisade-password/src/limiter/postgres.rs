//! The PostgreSQL store (feature `postgres`): counters shared by several
//! application instances.

use std::sync::{Mutex, MutexGuard};

use postgres::{Client, NoTls, Statement};

use super::sql::{SCHEMA, from_columns, to_columns};
use crate::{AttemptCounter, AttemptStore, Error, Result};

/// The login limiter's counters in PostgreSQL, in the table
/// `login_attempts` (created if missing, under an advisory lock so
/// instances starting together do not race; schema in the crate docs).
///
/// Each compare-and-swap is one statement: `INSERT … ON CONFLICT (key) DO
/// NOTHING` for a new counter, `UPDATE … WHERE` every column still holds the
/// value read for an existing one. Under PostgreSQL's default READ COMMITTED
/// isolation a concurrent writer of the same row makes the second statement
/// wait and then re-check its `WHERE` on the new row, so exactly one of two
/// racing instances swaps: the back-off holds across every instance sharing
/// the database. One connection (no TLS) per store, used under a mutex and
/// reopened if the server closed it; open one store per application
/// instance. Call [`purge_expired`](Self::purge_expired) from time to time.
pub struct PostgresAttemptStore {
    params: String,
    conn: Mutex<Conn>,
}

/// A connection and its prepared statements (one round trip each).
struct Conn {
    client: Client,
    load: Statement,
    insert: Statement,
    update: Statement,
}

impl Conn {
    /// Connects, creates the table if needed (under an advisory lock, so
    /// instances starting together do not race) and prepares the statements.
    fn open(params: &str) -> Result<Self> {
        let mut client = Client::connect(params, NoTls).map_err(db)?;
        let mut tx = client.transaction().map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock(73062027)", &[])
            .map_err(db)?;
        tx.batch_execute(SCHEMA).map_err(db)?;
        tx.commit().map_err(db)?;
        let load = client
            .prepare("SELECT attempts, retry_at, expires_at FROM login_attempts WHERE key = $1")
            .map_err(db)?;
        let insert = client
            .prepare(
                "INSERT INTO login_attempts (key, attempts, retry_at, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
            )
            .map_err(db)?;
        let update = client
            .prepare(
                "UPDATE login_attempts SET attempts = $2, retry_at = $3, expires_at = $4 \
                 WHERE key = $1 AND attempts = $5 AND retry_at = $6 AND expires_at = $7",
            )
            .map_err(db)?;
        Ok(Self {
            client,
            load,
            insert,
            update,
        })
    }
}

impl core::fmt::Debug for PostgresAttemptStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresAttemptStore")
            .finish_non_exhaustive()
    }
}

fn db(e: postgres::Error) -> Error {
    Error::AttemptStoreFailed(Box::new(e))
}

impl PostgresAttemptStore {
    /// Connects with a libpq-style connection string (`host=… user=…
    /// dbname=…`) and creates the table if needed.
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`].
    pub fn connect(params: &str) -> Result<Self> {
        Ok(Self {
            params: params.to_owned(),
            conn: Mutex::new(Conn::open(params)?),
        })
    }

    /// Deletes the counters expired at `now`; answers how many.
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`].
    pub fn purge_expired(&self, now: u64) -> Result<u64> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.conn()?
            .client
            .execute("DELETE FROM login_attempts WHERE expires_at <= $1", &[&now])
            .map_err(db)
    }

    fn conn(&self) -> Result<MutexGuard<'_, Conn>> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Error::AttemptStoreFailed("the connection's lock is poisoned".into()))?;
        if conn.client.is_closed() {
            *conn = Conn::open(&self.params)?;
        }
        Ok(conn)
    }
}

impl AttemptStore for PostgresAttemptStore {
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>> {
        let mut conn = self.conn()?;
        let Conn { client, load, .. } = &mut *conn;
        let row = client.query_opt(&*load, &[&key]).map_err(db)?;
        row.map(|r| {
            from_columns((
                r.try_get(0).map_err(db)?,
                r.try_get(1).map_err(db)?,
                r.try_get(2).map_err(db)?,
            ))
        })
        .transpose()
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool> {
        let (a, r, e) = to_columns(new)?;
        let mut conn = self.conn()?;
        let Conn {
            client,
            insert,
            update,
            ..
        } = &mut *conn;
        let changed = match current {
            None => client.execute(&*insert, &[&key, &a, &r, &e]).map_err(db)?,
            Some(current) => {
                let (ca, cr, ce) = to_columns(current)?;
                client
                    .execute(&*update, &[&key, &a, &r, &e, &ca, &cr, &ce])
                    .map_err(db)?
            }
        };
        Ok(changed == 1)
    }
}
