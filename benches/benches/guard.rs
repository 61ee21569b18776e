//! palisade-axum's guard in process: the same handler (a page of 20
//! clients) plain and behind the guard (session lookup, decision, field
//! masking, one audit record in memory), each request sent through the
//! router with tower's `oneshot` and its body read, without a network or a
//! load generator. The router is `benches/axum/overhead.sh`'s (the
//! `overhead` example's `app.rs`), with the same allocator.
//!
//! Run: `cargo bench -p palisade-benches --bench guard`
//!
//! The ratio of the two times is the guard's cost on the handler's own
//! work; `overhead.sh` measures it under `wrk`, where HTTP and the kernel's
//! share of each request (the same on both routes) dilute it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup: a failure aborts the run"
)]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../../crates/palisade-axum/examples/overhead/app.rs"]
mod app;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

fn guard(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let router = app::app();
    let call = |route: &str| {
        let request = Request::get(route)
            .header("x-user", "otto")
            .body(Body::empty())
            .unwrap();
        let router = router.clone();
        runtime.block_on(async move {
            let response = router.oneshot(request).await.unwrap();
            assert!(response.status().is_success());
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
                .len()
        })
    };
    // Both answers are the page (the guarded one masked).
    assert!(call("/plain") > 1000 && call("/guarded") > 1000);
    let mut group = c.benchmark_group("guard");
    group.bench_function("plain", |b| b.iter(|| call("/plain")));
    group.bench_function("guarded", |b| b.iter(|| call("/guarded")));
    group.finish();
}

criterion_group!(benches, guard);
criterion_main!(benches);
