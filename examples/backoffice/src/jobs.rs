//! Background jobs on exactly one instance at a time: a lease in the shared
//! database (`job_leases`), taken with one conditional write and renewed by
//! its holder at every run; when the holder dies, another instance takes the
//! job over once the lease has run out. Every run is written to `job_runs`,
//! naming the instance, so that "only one ran" can be checked.
//!
//! A lease rather than a PostgreSQL advisory lock: it works on SQLite too,
//! survives a connection pool (an advisory lock belongs to one connection),
//! and its expiry bounds how long a job may stay without a runner.

use crate::app::Backoffice;
use crate::error::Result;

impl Backoffice {
    /// Takes, or renews, this instance's lease on `job` for `seconds`;
    /// `true` when this instance holds it now.
    pub fn hold_lease(&self, job: &str, seconds: i64) -> Result<bool> {
        let now = self.clock.now();
        self.db.exec(
            "INSERT INTO job_leases (job, holder, expires) VALUES ($1, '', 0) ON CONFLICT (job) DO NOTHING",
            &[job.into()],
        )?;
        let taken = self.db.exec(
            "UPDATE job_leases SET holder = $1, expires = $2 WHERE job = $3 AND (holder = $1 OR expires <= $4)",
            &[
                self.instance.clone().into(),
                (now + seconds).into(),
                job.into(),
                now.into(),
            ],
        )?;
        Ok(taken == 1)
    }

    /// Gives up the lease on `job` if this instance holds it (a clean stop:
    /// another instance takes over at its next tick, not after the lease).
    pub fn release_lease(&self, job: &str) -> Result<()> {
        self.db.exec(
            "UPDATE job_leases SET expires = 0 WHERE job = $1 AND holder = $2",
            &[job.into(), self.instance.clone().into()],
        )?;
        Ok(())
    }

    /// Writes that this instance ran `job` now.
    pub(crate) fn note_run(&self, job: &str) -> Result<()> {
        self.db.exec(
            "INSERT INTO job_runs (job, instance, at) VALUES ($1, $2, $3)",
            &[
                job.into(),
                self.instance.clone().into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(())
    }

    /// This instance's name in leases and job runs (random per start).
    pub fn instance(&self) -> &str {
        &self.instance
    }
}
