//! Every figure of `BENCHMARKS.md` against its baseline, side by side, in one run.
//!
//! ```sh
//! cargo run --release --example perf            # a table
//! cargo run --release --example perf -- --json  # the same as one JSON object
//! ```
//!
//! Both sides of a figure run in this process against the same local server on 127.0.0.1,
//! in rounds that run both sides back to back (alternating which goes first), so that machine
//! noise hits both; each side's figure is its median over the rounds, and the ratio is the median
//! of the per-round ratios. Figure 3 re-executes this binary as the second process. The criterion benches of the same code are in `benches/figures.rs`.

#[path = "../benches/support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::client::Clients;
use support::refresh::{self, CHILD_FLAG, OneRefresh, Storm, TOKEN_DELAY};
use support::server::{LocalServer, PAGE_SIZE, PROJECT_PAGES, ServerHandle};
use support::stores::{Files, Sqlite};
use support::token::HotPath;

/// Counts heap bytes while [`TRACKING`] is on, to measure figure 5's memory. Off, it costs one
/// relaxed load per allocation, the same for both sides of every figure.
struct CountingAllocator;

static TRACKING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since tracking started.
static NET: AtomicIsize = AtomicIsize::new(0);
/// The highest [`NET`] seen since tracking started.
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn track(delta: isize) {
    if TRACKING.load(Ordering::Relaxed) {
        let net = NET.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(net, Ordering::Relaxed);
    }
}

fn size(layout: Layout) -> isize {
    isize::try_from(layout.size()).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(size(layout));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) };
        track(-size(layout));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            track(size(layout));
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            track(isize::try_from(new_size).unwrap_or(isize::MAX) - size(layout));
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The peak net heap growth (bytes) while `run` runs.
async fn peak_heap_growth<F: Future<Output = usize>>(run: F) -> isize {
    NET.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    TRACKING.store(true, Ordering::SeqCst);
    black_box(run.await);
    TRACKING.store(false, Ordering::SeqCst);
    PEAK.load(Ordering::SeqCst)
}

/// The median of `samples`; zero when empty.
fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    }
}

/// The median of the per-round ratios `ours[i] / base[i]`: each round runs both sides back to back,
/// so a slow stretch of the machine lands on both sides of the same ratio.
fn paired_ratio(ours: &[f64], base: &[f64]) -> f64 {
    let ratios: Vec<f64> = ours.iter().zip(base).map(|(o, b)| o / b).collect();
    median(&ratios)
}

/// Nanoseconds per call of `f`, over `calls` calls (results dropped inside the loop).
fn ns_per_call<R>(calls: u32, mut f: impl FnMut() -> R) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// One line of the table.
struct Row {
    id: &'static str,
    figure: &'static str,
    ours: String,
    baseline: String,
    /// As the target states it: ours/baseline time, or our throughput relative to the baseline's.
    ratio: Option<f64>,
    target: &'static str,
    /// `None` for information rows, which have no target of their own.
    pass: Option<bool>,
    values: Value,
}

fn fmt_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

fn fmt_bytes(bytes: isize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn say(json: bool, what: &str) {
    if !json {
        eprintln!("… {what}");
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_FLAG) {
        return refresh::child_main(&args[2..]);
    }
    let json = match args.get(1).map(String::as_str) {
        None => false,
        Some("--json") => true,
        Some(other) => {
            eprintln!("unknown argument {other:?}; usage: perf [--json]");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let server = LocalServer::start();
    let rows = runtime.block_on(measure(&server.handle(), json));
    let elapsed = started.elapsed();

    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let targets = rows.iter().filter(|r| r.pass.is_some()).count();
    let met = rows.iter().filter(|r| r.pass == Some(true)).count();
    if json {
        let out = json!({
            "machine": {
                "cores": cores,
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
            },
            "elapsed_s": secs(elapsed),
            "targets": targets,
            "targets_met": met,
            "figures": rows.iter().map(|r| json!({
                "id": r.id,
                "figure": r.figure,
                "ours": r.ours,
                "baseline": r.baseline,
                "ratio": r.ratio,
                "target": r.target,
                "pass": r.pass,
                "values": r.values,
            })).collect::<Vec<_>>(),
        });
        println!("{out:#}");
    } else {
        print_table(&rows);
        println!(
            "\n{met} of {targets} targets met; {cores} cores; {:.1} s.",
            secs(elapsed)
        );
    }
    ExitCode::SUCCESS
}

/// Every figure, in order.
async fn measure(server: &ServerHandle, json: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    say(json, "figure 1: token hot path");
    rows.extend(token_hot_path(server).await);
    say(json, "figure 2: refresh storm");
    rows.extend(refresh_storm(server).await);
    say(json, "figure 3: cross-process refresh");
    rows.extend(cross_process(server).await);
    say(json, "figure 4: client overhead");
    rows.extend(client_overhead(server).await);
    say(json, "figure 5: pagination");
    rows.extend(pagination(server).await);
    say(json, "figure 6: stores");
    rows.extend(stores().await);
    rows
}

fn print_table(rows: &[Row]) {
    println!("| # | figure | ours | baseline | ratio | target | result |");
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        let ratio = row.ratio.map_or("–".to_string(), |r| format!("{r:.2}"));
        let result = match row.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "info",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.id, row.figure, row.ours, row.baseline, ratio, row.target, result
        );
    }
}

async fn token_hot_path(server: &ServerHandle) -> Vec<Row> {
    const ROUNDS: usize = 201;
    const CALLS: u32 = 50_000;
    let hot = HotPath::new(server.url()).await;
    let (mut session, mut source, mut floor, mut clock) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        // Rotate the order so that no side always runs first.
        for k in 0..4 {
            match (round + k) % 4 {
                0 => session.push(ns_per_call(CALLS, || hot.session_token())),
                1 => source.push(ns_per_call(CALLS, || hot.source_token())),
                2 => floor.push(ns_per_call(CALLS, || hot.floor())),
                _ => clock.push(ns_per_call(CALLS, || hot.floor_with_clock())),
            }
        }
    }
    let ratios = (
        paired_ratio(&session, &floor),
        paired_ratio(&session, &clock),
        paired_ratio(&source, &floor),
    );
    let (session, source, floor, clock) = (
        median(&session),
        median(&source),
        median(&floor),
        median(&clock),
    );
    let values = json!({"session_ns": session, "token_source_ns": source, "floor_ns": floor,
        "floor_plus_clock_ns": clock, "rounds": ROUNDS, "calls_per_round": CALLS});
    vec![
        Row {
            id: "1",
            figure: "token hot path: `session.token()`, cached token",
            ours: fmt_ns(session),
            baseline: format!("{} (`RwLock<Arc<str>>` read)", fmt_ns(floor)),
            ratio: Some(ratios.0),
            target: "ratio ≤ 2.0 and < 200 ns",
            pass: Some(ratios.0 <= 2.0 && session < 200.0),
            values: values.clone(),
        },
        Row {
            id: "1",
            figure: "… against the floor plus the clock read it cannot skip",
            ours: fmt_ns(session),
            baseline: format!("{} (read + coarse clock read)", fmt_ns(clock)),
            ratio: Some(ratios.1),
            target: "(information)",
            pass: None,
            values: values.clone(),
        },
        Row {
            id: "1",
            figure: "… through the client's `Arc<dyn TokenSource>`",
            ours: fmt_ns(source),
            baseline: format!("{} (`RwLock<Arc<str>>` read)", fmt_ns(floor)),
            ratio: Some(ratios.2),
            target: "(information)",
            pass: None,
            values,
        },
    ]
}

async fn refresh_storm(server: &ServerHandle) -> Vec<Row> {
    const ROUNDS: usize = 15;
    const CALLERS: usize = 1000;
    server.set_token_delay(TOKEN_DELAY);
    let storm = Storm::new(server).await;
    let one = OneRefresh::new(server);
    // Warm both connections.
    storm.run(1).await;
    one.run().await;
    let (mut ours, mut base, mut requests) = (vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        for k in 0..2 {
            if (round + k) % 2 == 0 {
                let outcome = storm.run(CALLERS).await;
                ours.push(secs(outcome.elapsed));
                requests.push(outcome.token_requests);
            } else {
                base.push(secs(one.run().await));
            }
        }
    }
    server.set_token_delay(Duration::ZERO);
    let ratio = paired_ratio(&ours, &base);
    let (ours, base) = (median(&ours), median(&base));
    let max_requests = requests.iter().copied().max().unwrap_or(0);
    vec![Row {
        id: "2",
        figure: "refresh storm: 1000 tasks, token just expired (memory store)",
        ours: format!(
            "{:.1} ms, {} token request(s) per storm",
            ours * 1e3,
            max_requests
        ),
        baseline: format!(
            "{:.1} ms (one refresh; endpoint delay {} ms)",
            base * 1e3,
            TOKEN_DELAY.as_millis()
        ),
        ratio: Some(ratio),
        target: "exactly 1 request; ≤ 1.5× one refresh",
        pass: Some(requests.iter().all(|&r| r == 1) && ratio <= 1.5),
        values: json!({"storm_s": ours, "one_refresh_s": base, "token_requests": requests,
            "callers": CALLERS, "rounds": ROUNDS, "token_delay_ms": TOKEN_DELAY.as_millis()}),
    }]
}

async fn cross_process(server: &ServerHandle) -> Vec<Row> {
    const RUNS: usize = 7;
    const CALLERS: usize = 100;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => panic!("figure 3 re-executes this binary, whose path is unknown: {e}"),
    };
    server.set_token_delay(TOKEN_DELAY);
    let one = OneRefresh::new(server);
    one.run().await;
    let (mut ours, mut base, mut requests) = (vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let outcome = refresh::cross_process(server, &exe, CALLERS).await;
        ours.push(secs(outcome.elapsed));
        requests.push(outcome.token_requests);
        base.push(secs(one.run().await));
    }
    server.set_token_delay(Duration::ZERO);
    let ratio = paired_ratio(&ours, &base);
    let (ours, base) = (median(&ours), median(&base));
    let max_requests = requests.iter().copied().max().unwrap_or(0);
    vec![Row {
        id: "3",
        figure: "cross-process refresh: 2 processes × 100 callers, one SQLite file",
        ours: format!(
            "{} token request(s) per race ({RUNS} races), {:.1} ms",
            max_requests,
            ours * 1e3
        ),
        baseline: format!("{:.1} ms (one refresh)", base * 1e3),
        ratio: Some(ratio),
        target: "exactly 1 token request",
        pass: Some(requests.iter().all(|&r| r == 1)),
        values: json!({"race_s": ours, "one_refresh_s": base, "token_requests": requests,
            "callers_per_process": CALLERS, "runs": RUNS}),
    }]
}

async fn client_overhead(server: &ServerHandle) -> Vec<Row> {
    const ROUNDS: usize = 41;
    const CALLS: u32 = 100;
    let clients = Clients::new(server).await;
    for _ in 0..CALLS {
        black_box(clients.get_user().await);
        black_box(clients.bare_get_user().await);
    }
    let (mut ours, mut base) = (vec![], vec![]);
    for round in 0..ROUNDS {
        for k in 0..2 {
            let start = Instant::now();
            if (round + k) % 2 == 0 {
                for _ in 0..CALLS {
                    black_box(clients.get_user().await);
                }
                ours.push(start.elapsed().as_nanos() as f64 / f64::from(CALLS));
            } else {
                for _ in 0..CALLS {
                    black_box(clients.bare_get_user().await);
                }
                base.push(start.elapsed().as_nanos() as f64 / f64::from(CALLS));
            }
        }
    }
    let ratio = paired_ratio(&ours, &base);
    let (ours, base) = (median(&ours), median(&base));
    vec![Row {
        id: "4",
        figure: "client overhead: `get_user(\"me\")` through a session",
        ours: fmt_ns(ours),
        baseline: format!("{} (bare reqwest GET + serde)", fmt_ns(base)),
        ratio: Some(ratio),
        target: "ratio ≤ 1.10",
        pass: Some(ratio <= 1.10),
        values: json!({"ours_ns": ours, "baseline_ns": base, "rounds": ROUNDS,
            "calls_per_round": CALLS}),
    }]
}

async fn pagination(server: &ServerHandle) -> Vec<Row> {
    const ROUNDS: usize = 81;
    let [few, many] = PROJECT_PAGES;
    let clients = Clients::new(server).await;
    assert_eq!(clients.stream_tasks(many).await, many * PAGE_SIZE);
    assert_eq!(clients.loop_tasks(many).await, many * PAGE_SIZE);
    let (mut ours, mut base) = (vec![], vec![]);
    for round in 0..ROUNDS {
        for k in 0..2 {
            let start = Instant::now();
            if (round + k) % 2 == 0 {
                black_box(clients.stream_tasks(many).await);
                ours.push(secs(start.elapsed()));
            } else {
                black_box(clients.loop_tasks(many).await);
                base.push(secs(start.elapsed()));
            }
        }
    }
    let ratio = paired_ratio(&ours, &base);
    let (ours, base) = (median(&ours), median(&base));

    let ours_few = peak_heap_growth(clients.stream_tasks(few)).await;
    let ours_many = peak_heap_growth(clients.stream_tasks(many)).await;
    let base_few = peak_heap_growth(clients.loop_tasks(few)).await;
    let base_many = peak_heap_growth(clients.loop_tasks(many)).await;
    let growth = ours_many as f64 / ours_few.max(1) as f64;
    vec![
        Row {
            id: "5",
            figure: "pagination: stream 10,000 tasks over 100 pages",
            ours: format!("{:.2} ms", ours * 1e3),
            baseline: format!("{:.2} ms (hand-written page loop)", base * 1e3),
            ratio: Some(ratio),
            target: "ratio ≤ 1.05",
            pass: Some(ratio <= 1.05),
            values: json!({"ours_s": ours, "baseline_s": base, "rounds": ROUNDS,
                "tasks": many * PAGE_SIZE, "pages": many}),
        },
        Row {
            id: "5",
            figure: "pagination memory: peak heap growth, 100 pages vs 10 pages",
            ours: format!("{} vs {}", fmt_bytes(ours_many), fmt_bytes(ours_few)),
            baseline: format!(
                "{} vs {} (hand-written loop)",
                fmt_bytes(base_many),
                fmt_bytes(base_few)
            ),
            ratio: Some(growth),
            target: "flat: 100-page peak ≤ 1.25× 10-page peak",
            pass: Some(growth <= 1.25),
            values: json!({"ours_peak_bytes": {"pages_10": ours_few, "pages_100": ours_many},
                "baseline_peak_bytes": {"pages_10": base_few, "pages_100": base_many},
                "method": "counting global allocator: peak of bytes allocated minus bytes freed during the run"}),
        },
    ]
}

async fn stores() -> Vec<Row> {
    const GET_ROUNDS: usize = 21;
    const GETS: u32 = 200;
    const PUT_ROUNDS: usize = 25;
    const PUTS: u32 = 10;
    let mut sqlite = Sqlite::new().await;
    for _ in 0..GETS {
        sqlite.store_get().await;
        sqlite.raw_get_blocking().await;
        sqlite.raw_get_direct();
    }
    let (mut get_store, mut get_blocking, mut get_direct) = (vec![], vec![], vec![]);
    for round in 0..GET_ROUNDS {
        for k in 0..3 {
            let start = Instant::now();
            let side = match (round + k) % 3 {
                0 => {
                    for _ in 0..GETS {
                        sqlite.store_get().await;
                    }
                    &mut get_store
                }
                1 => {
                    for _ in 0..GETS {
                        sqlite.raw_get_blocking().await;
                    }
                    &mut get_blocking
                }
                _ => {
                    for _ in 0..GETS {
                        sqlite.raw_get_direct();
                    }
                    &mut get_direct
                }
            };
            side.push(start.elapsed().as_nanos() as f64 / f64::from(GETS));
        }
    }
    let (mut put_store, mut put_blocking, mut put_direct) = (vec![], vec![], vec![]);
    for round in 0..PUT_ROUNDS {
        for k in 0..3 {
            let start = Instant::now();
            let side = match (round + k) % 3 {
                0 => {
                    for _ in 0..PUTS {
                        sqlite.store_put().await;
                    }
                    &mut put_store
                }
                1 => {
                    for _ in 0..PUTS {
                        sqlite.raw_put_blocking().await;
                    }
                    &mut put_blocking
                }
                _ => {
                    for _ in 0..PUTS {
                        sqlite.raw_put_direct();
                    }
                    &mut put_direct
                }
            };
            side.push(start.elapsed().as_nanos() as f64 / f64::from(PUTS));
        }
    }
    let mut files = Files::new().await;
    files.store_put().await;
    files.raw_put().await;
    let (mut file_store, mut file_raw) = (vec![], vec![]);
    for round in 0..PUT_ROUNDS {
        for k in 0..2 {
            let start = Instant::now();
            let side = if (round + k) % 2 == 0 {
                for _ in 0..PUTS {
                    files.store_put().await;
                }
                &mut file_store
            } else {
                for _ in 0..PUTS {
                    files.raw_put().await;
                }
                &mut file_raw
            };
            side.push(start.elapsed().as_nanos() as f64 / f64::from(PUTS));
        }
    }
    // Throughput relative to the baseline's: the inverse of the time ratio.
    let throughput = |ours: &[f64], base: &[f64]| paired_ratio(base, ours);
    let (get_vs_blocking, get_vs_direct) = (
        throughput(&get_store, &get_blocking),
        throughput(&get_store, &get_direct),
    );
    let (put_vs_blocking, put_vs_direct) = (
        throughput(&put_store, &put_blocking),
        throughput(&put_store, &put_direct),
    );
    let file_vs_raw = throughput(&file_store, &file_raw);
    let m = |v: &Vec<f64>| median(v);
    let (get_store, get_blocking, get_direct) = (m(&get_store), m(&get_blocking), m(&get_direct));
    let (put_store, put_blocking, put_direct) = (m(&put_store), m(&put_blocking), m(&put_direct));
    let (file_store, file_raw) = (m(&file_store), m(&file_raw));
    let ops = |ns: f64| format!("{} ({:.0} op/s)", fmt_ns(ns), 1e9 / ns);
    vec![
        Row {
            id: "6",
            figure: "SQLite store `get`",
            ours: ops(get_store),
            baseline: format!("{} raw rusqlite on `spawn_blocking`", ops(get_blocking)),
            ratio: Some(get_vs_blocking),
            target: "throughput ≥ 0.8× baseline",
            pass: Some(get_vs_blocking >= 0.8),
            values: json!({"store_ns": get_store, "raw_spawn_blocking_ns": get_blocking,
                "raw_direct_ns": get_direct}),
        },
        Row {
            id: "6",
            figure: "… against raw rusqlite called directly on the runtime thread",
            ours: ops(get_store),
            baseline: format!("{} raw rusqlite, blocking the runtime", ops(get_direct)),
            ratio: Some(get_vs_direct),
            target: "(information)",
            pass: None,
            values: json!({}),
        },
        Row {
            id: "6",
            figure: "SQLite store conditional put (`PutMode::Update`)",
            ours: ops(put_store),
            baseline: format!(
                "{} raw `UPDATE … WHERE version = ?` on `spawn_blocking`",
                ops(put_blocking)
            ),
            ratio: Some(put_vs_blocking),
            target: "throughput ≥ 0.8× baseline",
            pass: Some(put_vs_blocking >= 0.8),
            values: json!({"store_ns": put_store, "raw_spawn_blocking_ns": put_blocking,
                "raw_direct_ns": put_direct}),
        },
        Row {
            id: "6",
            figure: "… against the raw update called directly on the runtime thread",
            ours: ops(put_store),
            baseline: format!("{} raw update, blocking the runtime", ops(put_direct)),
            ratio: Some(put_vs_direct),
            target: "(information)",
            pass: None,
            values: json!({}),
        },
        Row {
            id: "6",
            figure: "file store put",
            ours: ops(file_store),
            baseline: format!(
                "{} raw temp write + fsync + rename + fsync dir ({} bytes)",
                ops(file_raw),
                files.document_len()
            ),
            ratio: Some(file_vs_raw),
            target: "throughput ≥ 0.8× baseline",
            pass: Some(file_vs_raw >= 0.8),
            values: json!({"store_ns": file_store, "raw_ns": file_raw,
                "document_bytes": files.document_len()}),
        },
    ]
}
