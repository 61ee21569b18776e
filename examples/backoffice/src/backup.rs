//! Backups: a consistent snapshot of the database (SQLite's online backup
//! API, or `pg_dump` of one exported snapshot) and the audit logs, packed as
//! a tar stream and sealed with palisade-crypt's STREAM construction under a
//! keyring of its own. The backup's key is kept apart (`DATA/backup-keys/`),
//! encrypted under the app's keyring: deleting it (the retention rule does,
//! after 35 days) makes every copy of the backup unreadable. Each backup is
//! recorded in the audit log with its manifest, and a restore drill restores
//! it into a temporary folder, opens it, verifies the audit logs and compares
//! row counts and digests, and records the result.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_audit::{Event, Outcome};
use palisade_crypt::{Context, Keyring};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::{Backoffice, Config, private_dir, random_id};
use crate::error::{Error, Result, internal};

/// The format name in every manifest.
pub const BACKUP_FORMAT: &str = "palisade-backoffice backup 1";
/// The tables whose rows a manifest counts (and a drill compares).
const TABLES: &[&str] = &[
    "tenants",
    "users",
    "clients",
    "attachments",
    "invoices",
    "bookings",
    "payments",
    "tariffs",
    "audit_keys",
];
/// The folder of the backups' keys, beside (never inside) the backups.
const KEYS_DIR: &str = "backup-keys";

/// What a backup holds, written first in its archive and recorded in the
/// audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`BACKUP_FORMAT`].
    pub format: String,
    /// The backup's id (`b-…`), also its key's name.
    pub id: String,
    /// When it was made (Unix seconds).
    pub created: i64,
    /// `sqlite` or `postgresql`.
    pub engine: String,
    /// Every file of the archive but the manifest: its path, size and SHA-256.
    pub components: Vec<Component>,
    /// Rows per table at the snapshot.
    pub rows: BTreeMap<String, u64>,
}

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Its path in the archive.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// When the daily backup runs, and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSchedule {
    /// Seconds after midnight, UTC.
    pub at: u32,
    /// The folder of the backups.
    pub dir: PathBuf,
}

impl BackupSchedule {
    /// A backup every day at `at` (`HH:MM`, UTC) into `dir`.
    ///
    /// # Errors
    /// [`Error::BadRequest`] for a time that is not `HH:MM`.
    pub fn daily(at: &str, dir: impl Into<PathBuf>) -> Result<Self> {
        let bad = || Error::BadRequest(format!("`{at}` is not a time of day (HH:MM)"));
        let (h, m) = at.split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(BackupSchedule {
            at: h * 3600 + m * 60,
            dir: dir.into(),
        })
    }

    /// Seconds from `now` (Unix) to the next run.
    pub fn wait_from(&self, now: i64) -> u64 {
        let today = now.rem_euclid(86_400);
        let at = i64::from(self.at);
        let wait = if at > today {
            at - today
        } else {
            at + 86_400 - today
        };
        u64::try_from(wait).unwrap_or(86_400)
    }
}

/// A backup made: where it is and what it holds.
#[derive(Clone, Debug)]
pub struct BackupReport {
    /// The sealed file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The sealed file's size in bytes.
    pub sealed_bytes: u64,
    /// The sealed file's SHA-256, hex.
    pub sealed_sha256: String,
}

/// A restore drill's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillReport {
    /// The backup drilled.
    pub id: String,
    /// Whether everything matched.
    pub ok: bool,
    /// What was checked, or what failed.
    pub findings: Vec<String>,
}

/// A PostgreSQL error with the server's message.
fn pg_error(e: postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Internal(format!("{} ({})", db.message(), db.code().code())),
        None => Error::Internal(e.to_string()),
    }
}

/// A scratch folder in `parent`, readable by its owner only.
fn scratch_dir(parent: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(parent)?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// The context a backup is sealed for: its id (a sealed file renamed to
/// another backup's name does not open).
fn backup_context(id: &str) -> Context {
    Context::new()
        .with("palisade-backoffice", "backup")
        .with("id", id)
}

/// The folder of a data folder's backup keys.
pub fn backup_keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_DIR)
}

fn key_path(keys: &Path, id: &str) -> PathBuf {
    keys.join(format!("{id}.key"))
}

/// `pg_dump`/`pg_restore`: on the `PATH`, or Debian's newest under
/// `/usr/lib/postgresql/*/bin`.
fn pg_tool(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| PathBuf::from(name))
}

fn run(command: &mut Command, what: &str) -> Result<()> {
    let out = command
        .output()
        .map_err(|e| Error::Internal(format!("{what}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Backoffice {
    /// Makes a backup into `out_dir`: snapshot, pack, seal, record.
    pub fn backup(&self, out_dir: &Path) -> Result<BackupReport> {
        private_dir(out_dir)?;
        let keys = backup_keys_dir(&self.config.data_dir);
        private_dir(&keys)?;
        let id = random_id("b")?;
        let staging = scratch_dir(&self.config.data_dir, ".backup-")?;
        let snapshot_dir = staging.path();
        let (db_file, rows) = self.snapshot_database(snapshot_dir)?;
        let mut files: Vec<(String, Source)> = vec![db_file];
        if self.config.database_url.is_none() {
            // File-store audit logs: append-only segments, copied as they are.
            let audit = self.config.data_dir.join("audit");
            let mut pending = vec![audit.clone()];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir)? {
                    let path = entry?.path();
                    if path.is_dir() {
                        pending.push(path);
                    } else if let Ok(relative) = path.strip_prefix(&self.config.data_dir)
                        && relative.file_name().is_some_and(|n| n != "LOCK")
                    {
                        files.push((
                            relative.to_string_lossy().into_owned(),
                            Source::File(path.clone()),
                        ));
                    }
                }
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        // The backup's own keyring, kept encrypted under the app's keyring.
        let key = Keyring::generate().map_err(internal)?;
        let wrapped = self
            .keyring
            .encrypt(&key.to_json().map_err(internal)?, &backup_context(&id))
            .map_err(internal)?
            .to_token();
        crate::tls::write_private(&key_path(&keys, &id), wrapped.as_bytes())?;
        let path = out_dir.join(format!("{id}.backup"));
        let header = Manifest {
            format: BACKUP_FORMAT.into(),
            id: id.clone(),
            created: self.clock.now(),
            engine: self.engine().into(),
            components: Vec::new(),
            rows,
        };
        let (manifest, sealed_bytes, sealed_sha256) = seal_archive(&key, header, files, &path)?;
        let report = BackupReport {
            path,
            manifest,
            sealed_bytes,
            sealed_sha256,
        };
        self.record_system(
            "backup.created",
            &format!("backups/{id}"),
            Outcome::Success,
            serde_json::json!({
                "manifest": report.manifest,
                "sealed_bytes": report.sealed_bytes,
                "sealed_sha256": report.sealed_sha256,
            }),
        )?;
        tracing::info!(backup = %id, bytes = report.sealed_bytes, "backup made");
        Ok(report)
    }

    /// The database snapshot (SQLite: the pages of one read transaction,
    /// streamed as they are packed, or a copy in `dir` when this SQLite has
    /// no `sqlite_dbpage` table; PostgreSQL: a dump in `dir`), and the rows
    /// per table it holds.
    fn snapshot_database(&self, dir: &Path) -> Result<((String, Source), BTreeMap<String, u64>)> {
        match &self.config.database_url {
            None => {
                if let Some((conn, bytes, rows)) = self.sqlite_pages()? {
                    return Ok((("db.sqlite3".into(), Source::Pages { conn, bytes }), rows));
                }
                let file = dir.join("db.sqlite3");
                self.db.sqlite_backup(&file)?;
                let copy = rusqlite::Connection::open_with_flags(
                    &file,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map_err(internal)?;
                let rows = sqlite_rows(&copy)?;
                Ok((("db.sqlite3".into(), Source::File(file)), rows))
            }
            Some(url) => {
                // One exported snapshot: the counts and the dump see the
                // same database state.
                let mut client = crate::db::pg_connect(url, self.config.database_ca.as_deref())?;
                let mut tx = client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .map_err(pg_error)?;
                let snapshot: String = tx
                    .query_one("SELECT pg_export_snapshot()", &[])
                    .map_err(pg_error)?
                    .get(0);
                let mut rows = BTreeMap::new();
                for table in TABLES {
                    let n: i64 = tx
                        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                        .map_err(pg_error)?
                        .get(0);
                    rows.insert((*table).to_owned(), u64::try_from(n).unwrap_or(0));
                }
                let file = dir.join("db.pgdump");
                run(
                    Command::new(pg_tool("pg_dump"))
                        .arg("--format=custom")
                        .arg("--no-owner")
                        .arg(format!("--snapshot={snapshot}"))
                        .arg("--file")
                        .arg(&file)
                        .arg(format!(
                            "--dbname={}",
                            crate::db::pg_tool_url(url, self.config.database_ca.as_deref())
                        )),
                    "pg_dump",
                )?;
                tx.commit().map_err(pg_error)?;
                Ok((("db.pgdump".into(), Source::File(file)), rows))
            }
        }
    }

    /// A connection of its own to the SQLite database, holding a read
    /// transaction open, with the database's size in bytes and its rows per
    /// table, all of that one snapshot (WAL: writers go on, and a checkpoint
    /// never overwrites a page this transaction still reads). `None` when
    /// this SQLite was built without the `sqlite_dbpage` table.
    fn sqlite_pages(&self) -> Result<Option<PagesSnapshot>> {
        let path = self.db.sqlite_path()?;
        let flags =
            rusqlite::OpenFlags::default().difference(rusqlite::OpenFlags::SQLITE_OPEN_CREATE);
        let conn = rusqlite::Connection::open_with_flags(&path, flags).map_err(internal)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(internal)?;
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
            .map_err(internal)?;
        match conn.prepare(PAGES) {
            Ok(_) => {}
            Err(e) if e.to_string().contains("no such table") => return Ok(None),
            Err(e) => return Err(internal(e)),
        }
        // Pages are read once, in order: a small cache is enough.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -512; BEGIN")
            .map_err(internal)?;
        // The first read starts the snapshot; every statement until the
        // transaction ends sees the same database.
        let rows = sqlite_rows(&conn)?;
        let pragma = |name: &str| -> Result<u64> {
            let n: i64 = conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .map_err(internal)?;
            u64::try_from(n).map_err(internal)
        };
        let bytes = pragma("page_size")?
            .checked_mul(pragma("page_count")?)
            .ok_or_else(|| internal("the database's size overflows"))?;
        Ok(Some((conn, bytes, rows)))
    }

    /// Records an event of the installation itself (backups, drills, alerts)
    /// in the `_system` audit log.
    pub(crate) fn record_system(
        &self,
        action: &str,
        resource: &str,
        outcome: Outcome,
        payload: serde_json::Value,
    ) -> Result<u64> {
        let event = Event::new("backoffice", action, resource)
            .with_tenant("_system")
            .with_outcome(outcome)
            .with_payload(payload);
        self.append("_system", event)
    }

    /// Restores the backup at `file` into the new data folder `into` (with
    /// `config`'s database: a SQLite file there, or the PostgreSQL database
    /// of its URL, which must be empty). The backup's key is read from this
    /// installation's key folder. Every component's digest is checked
    /// against the manifest before anything is used.
    pub fn restore(&self, file: &Path, into: &Config) -> Result<Manifest> {
        let id = file
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| Error::BadRequest("not a backup file name".into()))?
            .to_owned();
        let key = self.backup_key(&id)?;
        restore_archive(&key, &id, file, into)
    }

    /// The keyring of backup `id`; an error once it was shredded.
    fn backup_key(&self, id: &str) -> Result<Keyring> {
        let path = key_path(&backup_keys_dir(&self.config.data_dir), id);
        let token = std::fs::read_to_string(&path).map_err(|_| {
            Error::BadRequest(format!(
                "backup `{id}` has no key (destroyed by its retention rule, or another installation's)"
            ))
        })?;
        let ciphertext = token.trim().parse().map_err(internal)?;
        let json = self
            .keyring
            .decrypt(&ciphertext, &backup_context(id))
            .map_err(internal)?;
        Keyring::from_json(&json).map_err(internal)
    }

    /// Destroys backup `id`'s key: every copy of the backup becomes
    /// unreadable. Returns whether there was a key.
    pub fn shred_backup(&self, id: &str) -> Result<bool> {
        let path = key_path(&backup_keys_dir(&self.config.data_dir), id);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                std::fs::File::open(backup_keys_dir(&self.config.data_dir))?.sync_all()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The backups whose keys this installation holds, with their creation
    /// times (for the retention sweep).
    pub(crate) fn backup_keys(&self) -> Result<Vec<(String, i64)>> {
        let dir = backup_keys_dir(&self.config.data_dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if let (Some(id), Some("key")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) {
                let created = std::fs::metadata(&path)?
                    .modified()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
                keys.push((id.to_owned(), created));
            }
        }
        Ok(keys)
    }

    /// The restore drill: restores `backup` into a temporary folder (and for
    /// PostgreSQL a temporary database), opens it as a back office, verifies
    /// every tenant's audit log, compares the row counts with the manifest,
    /// and records the outcome; a failed drill is also recorded as an alert.
    pub fn drill(&self, backup: &BackupReport) -> Result<DrillReport> {
        let result = self.drill_into(backup);
        let (ok, findings) = match result {
            Ok(findings) => (true, findings),
            Err(e) => (false, vec![e.to_string()]),
        };
        let report = DrillReport {
            id: backup.manifest.id.clone(),
            ok,
            findings,
        };
        self.record_system(
            "backup.drill",
            &format!("backups/{}", report.id),
            if ok {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            serde_json::json!({ "findings": report.findings }),
        )?;
        if !ok {
            self.raise_alert(
                "restore-drill-failed",
                &format!("backups/{}", report.id),
                serde_json::json!({ "findings": report.findings }),
            )?;
            tracing::error!(backup = %report.id, "restore drill failed");
        }
        Ok(report)
    }

    fn drill_into(&self, backup: &BackupReport) -> Result<Vec<String>> {
        let scratch = scratch_dir(&self.config.data_dir, ".drill-")?;
        let mut config = Config::new(scratch.path().join("data"));
        config.keys = self.config.keys.clone();
        config.database_ca = self.config.database_ca.clone();
        let database = match &self.config.database_url {
            Some(url) => {
                let name = format!("drill_{}", backup.manifest.id.replace('-', "_"));
                let mut admin = crate::db::pg_connect(url, self.config.database_ca.as_deref())?;
                // Two statements: CREATE DATABASE runs outside a transaction.
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                    .map_err(pg_error)?;
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .map_err(pg_error)?;
                config.database_url = Some(database_url_named(url, &name)?);
                Some((admin, name))
            }
            None => None,
        };
        let result = (|| {
            let manifest = self
                .restore(&backup.path, &config)
                .map_err(|e| Error::Internal(format!("restore: {e}")))?;
            let mut findings = vec![format!(
                "{} components match their digests",
                manifest.components.len()
            )];
            let restored = Backoffice::open(config.clone())
                .map_err(|e| Error::Internal(format!("opening the restored copy: {e}")))?;
            for (table, expected) in &manifest.rows {
                let n = restored
                    .db
                    .query_one(&format!("SELECT COUNT(*) AS n FROM {table}"), &[])?
                    .map_or(Ok(0), |r| r.int("n"))?;
                let n = u64::try_from(n).unwrap_or(0);
                if n != *expected {
                    return Err(Error::Internal(format!(
                        "table `{table}`: {n} rows restored, {expected} in the backup"
                    )));
                }
            }
            findings.push(format!("row counts match ({} tables)", manifest.rows.len()));
            let tenants = restored.db.query("SELECT id FROM tenants", &[])?;
            for tenant in &tenants {
                let tenant = tenant.text("id")?;
                match restored.verify_audit(&tenant)? {
                    Ok(records) => findings.push(format!(
                        "audit log of `{tenant}`: {records} records verified"
                    )),
                    Err(finding) => {
                        return Err(Error::Internal(format!(
                            "audit log of `{tenant}`: {finding}"
                        )));
                    }
                }
            }
            drop(restored);
            Ok(findings)
        })();
        if let Some((mut admin, name)) = database {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        result
    }
}

/// Rows per table of [`TABLES`] in the SQLite database `conn`.
fn sqlite_rows(conn: &rusqlite::Connection) -> Result<BTreeMap<String, u64>> {
    let mut rows = BTreeMap::new();
    for table in TABLES {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(internal)?;
        rows.insert((*table).to_owned(), u64::try_from(n).unwrap_or(0));
    }
    Ok(rows)
}

/// The pages of the database, in order (`sqlite_dbpage` reads each through
/// the pager, so from the transaction's snapshot; the lock-byte page of a
/// database over 1 GiB comes back as zeros, as SQLite leaves it).
const PAGES: &str = "SELECT data FROM sqlite_dbpage ORDER BY pgno";

/// `url` with its database name replaced by `name`.
fn database_url_named(url: &str, name: &str) -> Result<String> {
    let mut config: postgres::Config = url.parse().map_err(internal)?;
    config.dbname(name);
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(" password={}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    Ok(format!(
        "host={host} port={port} user={user} dbname={name}{password}"
    ))
}

/// A connection holding a read transaction open, the database's size in
/// bytes and its rows per table in that transaction's snapshot.
type PagesSnapshot = (rusqlite::Connection, u64, BTreeMap<String, u64>);

/// Where the bytes of one file of a backup come from.
enum Source {
    /// A file: an audit segment, a database copy or dump.
    File(PathBuf),
    /// The SQLite database's pages, read through `sqlite_dbpage` on `conn`,
    /// whose open read transaction pins the snapshot the manifest's row
    /// counts were taken from; `bytes` is its size in that snapshot.
    Pages {
        conn: rusqlite::Connection,
        bytes: u64,
    },
}

/// Packs `files` and then `manifest.json` (with every file's size and
/// SHA-256, computed as it is packed: one read of each file) as a tar
/// stream, and seals it into `path` under `key`. One pass over the data, in
/// constant memory, on three threads joined by bounded in-memory pipes: the
/// packer reads and hashes the files, the sealer seals the chunks (on every
/// core), the writer hashes and writes the sealed bytes and syncs the file
/// once at the end. Returns the manifest, the sealed size and the sealed
/// file's SHA-256.
fn seal_archive(
    key: &Keyring,
    mut manifest: Manifest,
    files: Vec<(String, Source)>,
    path: &Path,
) -> Result<(Manifest, u64, String)> {
    let id = manifest.id.clone();
    let created = u64::try_from(manifest.created).unwrap_or(0);
    let out = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode_private()
        .open(path)?;
    let (plain_in, plain_out) = pipe();
    let (sealed_in, mut sealed_out) = pipe();
    let result = std::thread::scope(|scope| {
        let packer = scope.spawn(move || -> Result<Manifest> {
            let mut tar = tar::Builder::new(plain_in);
            for (name, source) in files {
                let mut header = tar::Header::new_gnu();
                let (bytes, sha256) = match source {
                    Source::File(file) => {
                        let opened = std::fs::File::open(file)?;
                        header.set_metadata(&opened.metadata()?);
                        header.set_mode(0o600);
                        let mut hashing = HashingReader::new(opened);
                        tar.append_data(&mut header, &name, &mut hashing)?;
                        (hashing.bytes, hashing.hasher.finalize())
                    }
                    Source::Pages { conn, bytes } => {
                        header.set_size(bytes);
                        header.set_mode(0o600);
                        header.set_mtime(created);
                        let (read, sha256) = {
                            let mut pages = conn.prepare(PAGES).map_err(internal)?;
                            let mut hashing = HashingReader::new(PageReader {
                                rows: pages.query([]).map_err(internal)?,
                                page: Vec::new(),
                                at: 0,
                            });
                            tar.append_data(&mut header, &name, &mut hashing)?;
                            (hashing.bytes, hashing.hasher.finalize())
                        };
                        if read != bytes {
                            return Err(Error::Internal(format!(
                                "the database snapshot has {read} bytes, {bytes} expected"
                            )));
                        }
                        conn.execute_batch("COMMIT").map_err(internal)?;
                        (bytes, sha256)
                    }
                };
                manifest.components.push(Component {
                    path: name,
                    bytes,
                    sha256: hex(&sha256),
                });
            }
            let json = serde_json::to_vec_pretty(&manifest).map_err(internal)?;
            let mut header = tar::Header::new_gnu();
            header.set_size(json.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(created);
            header.set_cksum();
            tar.append_data(&mut header, "manifest.json", json.as_slice())?;
            tar.into_inner()?.finish()?;
            Ok(manifest)
        });
        let writer = scope.spawn(move || -> Result<(u64, String)> {
            let mut hashing = HashingWriter::new(out);
            sealed_out.drain_into(&mut hashing)?;
            hashing.inner.sync_all()?;
            Ok((hashing.bytes, hex(&hashing.hasher.finalize())))
        });
        let threads = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
        let mut sealed_in = sealed_in;
        let sealed = key
            .seal_stream_parallel(&backup_context(&id), plain_out, &mut sealed_in, threads)
            .map_err(internal)
            .and_then(|_| Ok(sealed_in.finish()?));
        let manifest = packer
            .join()
            .map_err(|_| internal("the packing thread failed"))?;
        let written = writer
            .join()
            .map_err(|_| internal("the writing thread failed"))?;
        let manifest = manifest?;
        sealed?;
        let (bytes, sha256) = written?;
        Ok((manifest, bytes, sha256))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Bytes per buffer of a [`pipe`].
const PIPE_BUFFER: usize = 256 * 1024;
/// Buffers a [`pipe`] holds between its ends.
const PIPE_DEPTH: usize = 16;

/// An in-memory pipe between two threads: buffers of [`PIPE_BUFFER`] bytes
/// handed over whole (at most [`PIPE_DEPTH`] waiting, then the writer
/// waits), and handed back for reuse. The reader sees the end of the stream
/// only after [`PipeWriter::finish`]: a writer dropped before it (its thread
/// failed) is an error, never a stream that looks complete.
fn pipe() -> (PipeWriter, PipeReader) {
    let (full, full_rx) = std::sync::mpsc::sync_channel(PIPE_DEPTH);
    let (empty, empty_rx) = std::sync::mpsc::channel();
    (
        PipeWriter {
            full,
            empty: empty_rx,
            buffer: Vec::with_capacity(PIPE_BUFFER),
        },
        PipeReader {
            full: full_rx,
            empty,
            buffer: Vec::new(),
            at: 0,
            ended: false,
        },
    )
}

fn pipe_closed() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the other end of the pipe stopped",
    )
}

/// The writing end of a [`pipe`].
struct PipeWriter {
    full: std::sync::mpsc::SyncSender<Vec<u8>>,
    empty: std::sync::mpsc::Receiver<Vec<u8>>,
    buffer: Vec<u8>,
}

impl PipeWriter {
    /// Hands the buffer over (when it holds anything).
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut next = self.empty.try_recv().unwrap_or_default();
        next.clear();
        next.reserve(PIPE_BUFFER);
        let full = std::mem::replace(&mut self.buffer, next);
        self.full.send(full).map_err(|_| pipe_closed())
    }

    /// Hands over what is left and marks the end of the stream.
    fn finish(mut self) -> std::io::Result<()> {
        self.send()?;
        self.full.send(Vec::new()).map_err(|_| pipe_closed())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buffer.len() >= PIPE_BUFFER {
            self.send()?;
        }
        let n = data.len().min(PIPE_BUFFER - self.buffer.len());
        self.buffer
            .extend_from_slice(data.get(..n).unwrap_or_default());
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading end of a [`pipe`].
struct PipeReader {
    full: std::sync::mpsc::Receiver<Vec<u8>>,
    empty: std::sync::mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
    at: usize,
    ended: bool,
}

impl PipeReader {
    /// The next buffer, the old one handed back; `false` at the end.
    fn next_buffer(&mut self) -> std::io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        let next = self.full.recv().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the stream stopped before its end",
            )
        })?;
        if next.is_empty() {
            self.ended = true;
            return Ok(false);
        }
        let old = std::mem::replace(&mut self.buffer, next);
        self.at = 0;
        // The writer may be gone already: the buffer is then just freed.
        let _ = self.empty.send(old);
        Ok(true)
    }

    /// Writes every buffer, whole, into `out` until the end of the stream.
    fn drain_into(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        while self.next_buffer()? {
            out.write_all(&self.buffer)?;
        }
        Ok(())
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.buffer.len() {
            if !self.next_buffer()? {
                return Ok(0);
            }
        }
        let rest = self.buffer.get(self.at..).unwrap_or_default();
        let n = rest.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), rest.get(..n)) {
            to.copy_from_slice(from);
        }
        self.at += n;
        Ok(n)
    }
}

/// The rows of [`PAGES`] as one byte stream.
struct PageReader<'s> {
    rows: rusqlite::Rows<'s>,
    page: Vec<u8>,
    at: usize,
}

impl Read for PageReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.page.len() {
            let Some(row) = self.rows.next().map_err(std::io::Error::other)? else {
                return Ok(0);
            };
            let data = row
                .get_ref(0)
                .map_err(std::io::Error::other)?
                .as_blob()
                .map_err(std::io::Error::other)?;
            if data.is_empty() {
                return Err(std::io::Error::other("an empty database page"));
            }
            // A whole page fits: straight into the caller's buffer.
            if let Some(to) = out.get_mut(..data.len()) {
                to.copy_from_slice(data);
                return Ok(data.len());
            }
            self.page.clear();
            self.page.extend_from_slice(data);
            self.at = 0;
        }
        let rest = self.page.get(self.at..).unwrap_or_default();
        let n = rest.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), rest.get(..n)) {
            to.copy_from_slice(from);
        }
        self.at += n;
        Ok(n)
    }
}

/// Unseals and unpacks the backup at `file` into `into`, checking every
/// component against the manifest.
fn restore_archive(key: &Keyring, id: &str, file: &Path, into: &Config) -> Result<Manifest> {
    private_dir(&into.data_dir)?;
    let staging = scratch_dir(&into.data_dir, ".restore-")?;
    let (reader, writer) = std::io::pipe()?;
    let manifest = std::thread::scope(|scope| -> Result<Manifest> {
        let opener = scope.spawn(move || -> Result<()> {
            let sealed = std::io::BufReader::new(std::fs::File::open(file)?);
            let mut writer = writer;
            key.open_stream(&backup_context(id), sealed, &mut writer)
                .map_err(|e| Error::BadRequest(format!("the backup does not open: {e}")))?;
            Ok(())
        });
        let mut archive = tar::Archive::new(reader);
        let mut manifest: Option<Manifest> = None;
        let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let unpacked = (|| -> Result<()> {
            for entry in archive.entries()? {
                let mut entry = entry?;
                let name = entry.path()?.to_string_lossy().into_owned();
                if manifest.is_some() {
                    return Err(Error::BadRequest(
                        "the backup goes on after its manifest".into(),
                    ));
                }
                if name == "manifest.json" {
                    let mut text = Vec::new();
                    entry.read_to_end(&mut text)?;
                    manifest = Some(serde_json::from_slice(&text).map_err(|e| {
                        Error::BadRequest(format!("the backup's manifest is malformed: {e}"))
                    })?);
                    continue;
                }
                let safe = Path::new(&name)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !safe || seen.contains_key(&name) {
                    return Err(Error::BadRequest(format!(
                        "`{name}` is not a file of a backup"
                    )));
                }
                let target = staging.path().join(&name);
                if let Some(parent) = target.parent() {
                    private_dir(parent)?;
                }
                let out = std::fs::OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .mode_private()
                    .open(&target)?;
                let mut hashing = HashingWriter::new(std::io::BufWriter::new(out));
                std::io::copy(&mut entry, &mut hashing)?;
                hashing.inner.flush()?;
                seen.insert(name, (hashing.bytes, hex(&hashing.hasher.finalize())));
            }
            Ok(())
        })();
        // Drain what is left so that the opener is never blocked, then
        // take its verdict first: a damaged stream explains everything else.
        let mut rest = archive.into_inner();
        let _ = std::io::copy(&mut rest, &mut std::io::sink());
        drop(rest);
        opener
            .join()
            .map_err(|_| internal("the opening thread failed"))??;
        unpacked?;
        let manifest =
            manifest.ok_or_else(|| Error::BadRequest("the backup has no manifest".into()))?;
        if manifest.format != BACKUP_FORMAT || manifest.id != id {
            return Err(Error::BadRequest(
                "the backup's manifest is for another backup".into(),
            ));
        }
        let listed: BTreeMap<String, (u64, String)> = manifest
            .components
            .iter()
            .map(|c| (c.path.clone(), (c.bytes, c.sha256.clone())))
            .collect();
        if listed != seen {
            return Err(Error::BadRequest(
                "the backup's files do not match their digests in the manifest".into(),
            ));
        }
        Ok(manifest)
    })?;
    // Everything checked: move the files into place.
    for component in &manifest.components {
        let from = staging.path().join(&component.path);
        match component.path.as_str() {
            "db.sqlite3" => {
                std::fs::rename(&from, into.data_dir.join("backoffice.sqlite3"))?;
            }
            "db.pgdump" => {
                let url = into.database_url.as_ref().ok_or_else(|| {
                    Error::BadRequest(
                        "a PostgreSQL backup restores into a PostgreSQL database".into(),
                    )
                })?;
                run(
                    Command::new(pg_tool("pg_restore"))
                        .arg("--no-owner")
                        .arg("--exit-on-error")
                        .arg(format!(
                            "--dbname={}",
                            crate::db::pg_tool_url(url, into.database_ca.as_deref())
                        ))
                        .arg(&from),
                    "pg_restore",
                )?;
            }
            other => {
                let target = into.data_dir.join(other);
                if let Some(parent) = target.parent() {
                    private_dir(parent)?;
                }
                std::fs::rename(&from, &target)?;
            }
        }
    }
    Ok(manifest)
}

/// A reader that counts and hashes what passes through.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A writer that counts and hashes what passes through.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Files of a backup are created readable by their owner only.
trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for std::fs::OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}
