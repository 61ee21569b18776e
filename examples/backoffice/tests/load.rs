//! Load measurements (issues 17 and 22), not correctness tests: ignored by
//! default, run by `benches/backoffice/load.sh` in a release build. Each
//! starts `palisade-backoffice serve` processes, signs an Operator in, and
//! loads `GET /api/clients` (authorized, masked, each read's decision
//! durably recorded in the tenant's audit log before the answer) with `wrk`,
//! a separate process on loopback. They print what they measured and fail
//! only when the load could not run or was refused (every answer must be a
//! 200: the figures count only served reads).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Instance, on, sign_in_real_time, spawn, spawn_args, spawn_with};
use palisade_backoffice::{Backoffice, Config, Demo};

/// Clients in the demo tenant: the list answers all of them.
const CLIENTS: usize = 20;
/// Seconds of each `wrk` run.
const SECONDS: u64 = 10;
/// Open connections in total (split over the instances).
const CONNECTIONS: usize = 64;

/// What one `wrk` run measured.
#[derive(Debug)]
struct Run {
    per_second: f64,
    p99: String,
    failed: u64,
}

/// `wrk` against `url` with the session `cookie`, started now.
fn wrk(url: &str, cookie: &str, threads: usize, connections: usize) -> std::process::Child {
    Command::new("wrk")
        .args([
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "-H",
            &format!("Cookie: {cookie}"),
            &format!("{url}/api/clients"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("wrk runs (apt-get install wrk)")
}

fn finish(child: std::process::Child) -> Run {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "wrk failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
            .map(str::to_owned)
    };
    let failed = field("Non-2xx or 3xx responses:").map_or(0, |n| n.parse().unwrap())
        + field("Socket errors:").map_or(0, |_| 1);
    Run {
        per_second: field("Requests/sec:").unwrap().parse().unwrap(),
        p99: field("99%").unwrap(),
        failed,
    }
}

/// CPU seconds (user + system) used so far by the processes whose command
/// name is `name`, or by `pid`.
fn cpu_seconds(select: impl Fn(u32, &str) -> bool) -> f64 {
    let tick: f64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid … utime stime: fields 14 and 15.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !select(pid, &stat[open + 1..close]) {
            continue;
        }
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        ticks += rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
    }
    #[allow(clippy::cast_precision_loss, reason = "CPU ticks of a test run")]
    let seconds = ticks as f64 / tick;
    seconds
}

fn seed(data: &std::path::Path, database: Option<&str>) -> Demo {
    let mut config = Config::new(data);
    config.database_url = database.map(str::to_owned);
    let app = Backoffice::open(config).unwrap();
    app.seed_demo("acme", CLIENTS).unwrap()
}

/// `wrk` on every instance at once (the connections split evenly), with
/// the CPU that PostgreSQL and the instances used meanwhile.
fn load(instances: &[&Instance], cookie: &str, label: &str) {
    let ids: Vec<u32> = instances.iter().map(|i| i.child.id()).collect();
    // PostgreSQL's processes are counted while they live (a server of an
    // earlier test may be exiting: its CPU is not this run's).
    let pg = || cpu_seconds(|_, name| name == "postgres");
    let apps = || cpu_seconds(|pid, _| ids.contains(&pid));
    let (pg0, app0, began) = (pg(), apps(), Instant::now());
    let per = CONNECTIONS / instances.len();
    let threads = (2 / instances.len()).max(1);
    let runs: Vec<Run> = instances
        .iter()
        .map(|i| wrk(&i.url, cookie, threads, per))
        .collect::<Vec<_>>()
        .into_iter()
        .map(finish)
        .collect();
    let wall = began.elapsed().as_secs_f64();
    let (pg1, app1) = (pg(), apps());
    let total: f64 = runs.iter().map(|r| r.per_second).sum();
    let p99: Vec<&str> = runs.iter().map(|r| r.p99.as_str()).collect();
    println!(
        "{label}: {total:.0} reads/s, p99 {p99:?}, {CONNECTIONS} connections; CPU over {wall:.1} s \
         on {cores} cores: PostgreSQL {pg:.1} s ({pg_share:.0}% of the machine), back office {app:.1} s",
        cores = std::thread::available_parallelism().map_or(1, usize::from),
        pg = (pg1 - pg0).max(0.0),
        pg_share = 100.0 * (pg1 - pg0).max(0.0)
            / (wall * std::thread::available_parallelism().map_or(1, usize::from) as f64),
        app = app1 - app0,
    );
    for run in &runs {
        assert_eq!(run.failed, 0, "every read served: {run:?}");
    }
}

/// Issue 17: one instance on SQLite, its audit log in segment files
/// (`fsync`ed, concurrent appends grouped), 64 connections.
#[test]
#[ignore = "a load measurement: benches/backoffice/load.sh"]
fn client_list_under_load_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = seed(&data, None);
    let instance = spawn_with(&data, None);
    let operator = sign_in_real_time(&instance.url, demo.user("Operator").unwrap());
    let cookie = operator.cookie.clone().unwrap();
    load(&[&instance], &cookie, "1 instance, SQLite");
}

/// Issue 22: one instance on PostgreSQL, then two, the same 64 connections
/// split over them.
#[test]
#[ignore = "a load measurement: benches/backoffice/load.sh"]
fn client_list_under_load_on_postgres_one_instance_and_two() {
    let pg = palisade_testkit::Postgres::start().expect("PostgreSQL starts");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = seed(&data, Some(pg.url()));
    let first = spawn(&data, pg.url());
    let operator = sign_in_real_time(&first.url, demo.user("Operator").unwrap());
    let cookie = operator.cookie.clone().unwrap();
    load(&[&first], &cookie, "1 instance, PostgreSQL");
    let second = spawn(&data, pg.url());
    load(&[&first, &second], &cookie, "2 instances, PostgreSQL");
}

/// The server's blocking pool is bounded (`--blocking-threads`, by default
/// as many threads as database connections): no blocking task may wait for
/// another one, or a small pool would hang. One thread and one connection
/// serve sign-ins, concurrent reads of the list and of single clients, and
/// creations, each recorded in the audit log, within a deadline.
#[test]
fn one_blocking_thread_serves_concurrent_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = seed(&data, None);
    let instance = spawn_args(&data, None, &["--pool", "1", "--blocking-threads", "1"]);
    let url = instance.url.clone();
    let (done, finished) = std::sync::mpsc::channel();
    // The requests run on other threads: a hung server fails the test at
    // the deadline instead of hanging it (the instance is killed on drop).
    std::thread::spawn(move || {
        let operator = sign_in_real_time(&url, demo.user("Operator").unwrap());
        let admin = sign_in_real_time(&url, demo.user("Administrator").unwrap());
        let first = on(&url, &operator).get("/api/clients");
        assert_eq!(first.status, 200, "{}", first.text);
        let id = first.json()["clients"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let workers: Vec<_> = (0..12)
            .map(|t| {
                let id = id.clone();
                let mut browser = on(&url, if t % 3 == 0 { &admin } else { &operator });
                std::thread::spawn(move || {
                    (0..8)
                        .map(|i| match (t % 3, i % 2) {
                            (0, _) => browser.post(
                                "/api/clients",
                                serde_json::json!({
                                    "name": format!("Load {t} {i}"),
                                    "phone": "+48 601 234 567",
                                    "email": format!("load.{t}.{i}@example.com"),
                                }),
                            ),
                            (_, 0) => browser.get("/api/clients"),
                            _ => browser.get(&format!("/api/clients/{id}")),
                        })
                        .map(|answer| answer.status)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        let statuses: Vec<u16> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let _ = done.send(statuses);
    });
    let statuses = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("every request answered within 60 s (a blocking task waits for another?)");
    assert_eq!(statuses.len(), 96);
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 201),
        "{statuses:?}"
    );
    drop(instance);
}
