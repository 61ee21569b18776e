//! The guard's cost: one server with the same handler twice, plain
//! (`GET /plain`: serialize a page of 20 clients) and guarded (`GET
//! /guarded`: the same page through `Authorized` and `Guarded`: session
//! lookup, decision, field masking, one audit record in memory per request).
//! `benches/axum/overhead.sh` loads both with `wrk` in one run.
//!
//! `cargo run --release -p palisade-axum --example overhead -- 127.0.0.1:18181`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark server"
)]

/// The back office's allocator (one process: both routes get it). With
/// glibc's `malloc` a sixth of the guarded server's CPU went to the
/// allocator under load (`perf`), which hides what the guard itself costs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod app;

#[tokio::main]
async fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18181".into());
    let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
    println!("listening on {address}");
    axum::serve(listener, app::app()).await.unwrap();
}
