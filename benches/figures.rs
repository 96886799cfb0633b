//! Criterion benches of every figure in `BENCHMARKS.md`, each side of a figure as its own bench:
//!
//! ```sh
//! cargo bench --bench figures              # all figures
//! cargo bench --bench figures -- fig4      # one figure
//! ```
//!
//! `cargo run --release --example perf` measures the same code side by side against the baselines
//! in one run and prints the table.

mod support;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use tokio::runtime::Runtime;

use support::client::Clients;
use support::refresh::{self, CHILD_FLAG, OneRefresh, Storm, TOKEN_DELAY};
use support::server::{LocalServer, PAGE_SIZE, ServerHandle};
use support::stores::{Files, Sqlite};
use support::token::HotPath;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_FLAG) {
        return refresh::child_main(&args[2..]);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = LocalServer::start();
    let server_handle = server.handle();
    let mut criterion = Criterion::default().configure_from_args();
    token_hot_path(&mut criterion, &runtime, &server_handle);
    refresh_storm(&mut criterion, &runtime, &server_handle);
    cross_process(&mut criterion, &runtime, &server_handle);
    client_overhead(&mut criterion, &runtime, &server_handle);
    pagination(&mut criterion, &runtime, &server_handle);
    stores(&mut criterion, &runtime);
    criterion.final_summary();
    ExitCode::SUCCESS
}

/// A group for slow iterations (milliseconds each): few samples of one size.
fn slow_group<'a>(criterion: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = criterion.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group
}

fn token_hot_path(criterion: &mut Criterion, runtime: &Runtime, server: &ServerHandle) {
    let hot = runtime.block_on(HotPath::new(server.url()));
    let mut group = criterion.benchmark_group("fig1_token_hot_path");
    group.bench_function("session_token", |b| b.iter(|| hot.session_token()));
    group.bench_function("token_source_dyn", |b| b.iter(|| hot.source_token()));
    group.bench_function("floor_rwlock_arc_str", |b| b.iter(|| hot.floor()));
    group.bench_function("floor_plus_clock", |b| b.iter(|| hot.floor_with_clock()));
    group.finish();
}

fn refresh_storm(criterion: &mut Criterion, runtime: &Runtime, server: &ServerHandle) {
    server.set_token_delay(TOKEN_DELAY);
    let storm = runtime.block_on(Storm::new(server));
    let one = OneRefresh::new(server);
    let mut group = slow_group(criterion, "fig2_refresh_storm");
    group.bench_function("1000_callers", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let outcome = storm.run(1000).await;
                    assert_eq!(outcome.token_requests, 1, "exactly one token request");
                    total += outcome.elapsed;
                }
                total
            })
        })
    });
    group.bench_function("one_refresh", |b| {
        b.iter_custom(|iters| runtime.block_on(one_refreshes(&one, iters)))
    });
    group.finish();
    server.set_token_delay(Duration::ZERO);
}

async fn one_refreshes(one: &OneRefresh, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        total += one.run().await;
    }
    total
}

fn cross_process(criterion: &mut Criterion, runtime: &Runtime, server: &ServerHandle) {
    server.set_token_delay(TOKEN_DELAY);
    let exe = std::env::current_exe().expect("this executable");
    let one = OneRefresh::new(server);
    let mut group = slow_group(criterion, "fig3_cross_process");
    group.bench_function("2_processes_x_100_callers", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let outcome = refresh::cross_process(server, &exe, 100).await;
                    assert_eq!(outcome.token_requests, 1, "exactly one token request");
                    total += outcome.elapsed;
                }
                total
            })
        })
    });
    group.bench_function("one_refresh", |b| {
        b.iter_custom(|iters| runtime.block_on(one_refreshes(&one, iters)))
    });
    group.finish();
    server.set_token_delay(Duration::ZERO);
}

fn client_overhead(criterion: &mut Criterion, runtime: &Runtime, server: &ServerHandle) {
    let clients = runtime.block_on(Clients::new(server));
    let mut group = criterion.benchmark_group("fig4_client_overhead");
    group.bench_function("get_user_me", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(clients.get_user().await);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("bare_reqwest_serde", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(clients.bare_get_user().await);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn pagination(criterion: &mut Criterion, runtime: &Runtime, server: &ServerHandle) {
    const PAGES: usize = 100;
    let clients = runtime.block_on(Clients::new(server));
    let mut group = slow_group(criterion, "fig5_pagination");
    group.throughput(Throughput::Elements((PAGES * PAGE_SIZE) as u64));
    group.bench_function("stream_10000_tasks", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert_eq!(clients.stream_tasks(PAGES).await, PAGES * PAGE_SIZE);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("stream_10000_compact_tasks", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert_eq!(clients.stream_compact_tasks(PAGES).await, PAGES * PAGE_SIZE);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("hand_written_loop", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert_eq!(clients.loop_tasks(PAGES).await, PAGES * PAGE_SIZE);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("value_loop", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert_eq!(clients.loop_values(PAGES).await, PAGES * PAGE_SIZE);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn stores(criterion: &mut Criterion, runtime: &Runtime) {
    let mut sqlite = runtime.block_on(Sqlite::new());
    let mut group = criterion.benchmark_group("fig6_sqlite_get");
    group.bench_function("store_get", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    sqlite.ours.get().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_spawn_blocking", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    sqlite.raw_get_blocking().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_direct", |b| b.iter(|| sqlite.raw_get_direct()));
    group.finish();

    let mut group = slow_group(criterion, "fig6_sqlite_conditional_put");
    group.bench_function("store_put", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    sqlite.ours.put().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_spawn_blocking", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    sqlite.raw_put_blocking().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_direct", |b| b.iter(|| sqlite.raw_put_direct()));
    group.finish();

    let mut files = runtime.block_on(Files::new());
    let mut group = slow_group(criterion, "fig6_file_put");
    group.throughput(Throughput::Bytes(files.document_len() as u64));
    group.bench_function("store_put", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    files.store_put().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_temp_fsync_rename", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    files.raw_put().await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}
