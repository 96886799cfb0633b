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

mod postgres;
mod service;
#[path = "../../benches/support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use integrations::asana::models::{Task, TaskCompact};
use support::client::Clients;
use support::refresh::{self, CHILD_FLAG, OneRefresh, Storm, TOKEN_DELAY};
use support::server::{LocalServer, PAGE_SIZE, PROJECT_PAGES, ServerHandle};
use support::stores::{Files, Sqlite};
use support::token::HotPath;

use integrations_server::StoreLocation;
use service::{Hosted, Services, add_rows, load};

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

/// CPU time of the client side: this process's CPU time minus that of the local server's thread
/// (which runs in this process, doing the same work for both sides of a figure). Read from the
/// kernel's CPU clocks, so that the time the process waits for the (shared) cores does not count.
struct ClientCpu {
    /// The CPU clock of the thread named `bench-server`.
    server: libc::clockid_t,
}

impl ClientCpu {
    /// Finds the local server's thread (by its name, in `/proc/self/task`).
    fn new() -> ClientCpu {
        let find = || {
            let tasks = std::fs::read_dir("/proc/self/task").expect("list /proc/self/task");
            tasks
                .filter_map(Result::ok)
                .find(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.trim_end() == "bench-server")
                })
                .and_then(|task| task.file_name().to_str()?.parse::<libc::pid_t>().ok())
        };
        // The thread names itself once it runs, which may be a moment after it was spawned.
        let tid = (0..100)
            .find_map(|_| {
                find().or_else(|| {
                    std::thread::sleep(Duration::from_millis(10));
                    None
                })
            })
            .expect("the local server's thread");
        ClientCpu {
            server: thread_clock(tid),
        }
    }

    /// The client side's CPU time so far.
    fn now(&self) -> Duration {
        cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID).saturating_sub(cpu_clock(self.server))
    }

    /// The wall time and the client side's CPU time `run` takes.
    async fn measure<F: Future>(&self, run: F) -> (Duration, Duration, F::Output) {
        let (wall, cpu) = (Instant::now(), self.now());
        let out = run.await;
        (wall.elapsed(), self.now().saturating_sub(cpu), out)
    }
}

/// A thread's CPU clock id, as glibc's `pthread_getcpuclockid` builds it from the thread id: the
/// bitwise complement of the id, shifted left by 3, with the per-thread scheduler clock bits
/// (`CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED` = 6).
fn thread_clock(tid: libc::pid_t) -> libc::clockid_t {
    ((!tid) << 3) | 6
}

/// The CPU time so far of this process's threads whose name starts with one of `prefixes` (a
/// thread that ended no longer counts).
fn threads_cpu(prefixes: &[&str]) -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").expect("list /proc/self/task");
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| prefixes.iter().any(|p| name.starts_with(p)))
        })
        .filter_map(|task| task.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .map(|tid| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable timespec; `clock_gettime` writes only to it.
            // A thread that ended since it was listed fails the call and counts nothing.
            let rc = unsafe { libc::clock_gettime(thread_clock(tid), &mut ts) };
            if rc != 0 {
                return Duration::ZERO;
            }
            Duration::new(
                u64::try_from(ts.tv_sec).unwrap_or(0),
                u32::try_from(ts.tv_nsec).unwrap_or(0),
            )
        })
        .sum()
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; `clock_gettime` writes only to it.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock}) failed");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
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
    if args.get(1).map(String::as_str) == Some(READ_ROW_FLAG) {
        return read_token_row(&args[2..]);
    }
    let mut json = false;
    let mut only: Option<Vec<String>> = None;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match (arg.as_str(), only.is_none()) {
            ("--json", _) => json = true,
            ("--only", true) => {
                only = rest
                    .next()
                    .map(|list| list.split(',').map(str::to_string).collect());
            }
            (other, _) => {
                eprintln!(
                    "unknown argument {other:?}; usage: perf [--json] [--only 1,4,...] (the figures to run)"
                );
                return ExitCode::FAILURE;
            }
        }
    }
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
    let rows = runtime.block_on(measure(&server.handle(), json, only.as_deref()));
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

/// Every figure (or those in `only`), in order.
async fn measure(server: &ServerHandle, json: bool, only: Option<&[String]>) -> Vec<Row> {
    let runs = |figure: &str| only.is_none_or(|only| only.iter().any(|n| n == figure));
    let mut rows = Vec::new();
    if runs("1") {
        say(json, "figure 1: token hot path");
        rows.extend(token_hot_path(server).await);
    }
    if runs("2") {
        say(json, "figure 2: refresh storm");
        rows.extend(refresh_storm(server).await);
    }
    if runs("3") {
        say(json, "figure 3: cross-process refresh");
        rows.extend(cross_process(server).await);
    }
    let cpu = ClientCpu::new();
    if runs("4") {
        say(json, "figure 4: client overhead");
        rows.extend(client_overhead(server, &cpu).await);
    }
    if runs("5") {
        say(json, "figure 5: pagination");
        rows.extend(pagination(server, &cpu).await);
    }
    if runs("6") {
        say(json, "figure 6: stores");
        rows.extend(stores().await);
    }
    let mut services = Services::new();
    if runs("7") {
        say(json, "figure 7: service execute under load");
        rows.extend(service_load(server, &mut services).await);
    }
    if runs("8") {
        say(json, "figure 8: service scale");
        rows.extend(service_scale(server, &mut services).await);
    }
    drop(services);
    if runs("9") {
        say(json, "figure 9: CLI token");
        rows.extend(cli_token(server).await);
    }
    if runs("10") {
        say(json, "figure 10: PostgreSQL store");
        rows.extend(postgres_store(&cpu).await);
    }
    if runs("11") {
        say(
            json,
            "figure 11: multi-instance refresh storm on PostgreSQL",
        );
        rows.extend(instance_storm(server, &cpu).await);
    }
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

async fn client_overhead(server: &ServerHandle, cpu: &ClientCpu) -> Vec<Row> {
    const ROUNDS: usize = 31;
    const CALLS: u32 = 200;
    let clients = Clients::new(server).await;
    for _ in 0..CALLS {
        black_box(clients.get_user().await);
        black_box(clients.bare_get_user().await);
    }
    let (mut ours, mut base, mut ours_cpu, mut base_cpu) = (vec![], vec![], vec![], vec![]);
    let per_call = |d: Duration| d.as_nanos() as f64 / f64::from(CALLS);
    for round in 0..ROUNDS {
        for k in 0..2 {
            if (round + k) % 2 == 0 {
                let (wall, used, ()) = cpu
                    .measure(async {
                        for _ in 0..CALLS {
                            black_box(clients.get_user().await);
                        }
                    })
                    .await;
                ours.push(per_call(wall));
                ours_cpu.push(per_call(used));
            } else {
                let (wall, used, ()) = cpu
                    .measure(async {
                        for _ in 0..CALLS {
                            black_box(clients.bare_get_user().await);
                        }
                    })
                    .await;
                base.push(per_call(wall));
                base_cpu.push(per_call(used));
            }
        }
    }
    let ratio = paired_ratio(&ours, &base);
    let cpu_ratio = paired_ratio(&ours_cpu, &base_cpu);
    let (ours, base) = (median(&ours), median(&base));
    let (ours_cpu, base_cpu) = (median(&ours_cpu), median(&base_cpu));
    vec![
        Row {
            id: "4",
            figure: "client overhead: `get_user(\"me\")` through a session (wall)",
            ours: fmt_ns(ours),
            baseline: format!("{} (bare reqwest GET + serde)", fmt_ns(base)),
            ratio: Some(ratio),
            target: "ratio ≤ 1.10",
            pass: Some(ratio <= 1.10),
            values: json!({"ours_ns": ours, "baseline_ns": base, "rounds": ROUNDS,
                "calls_per_round": CALLS}),
        },
        Row {
            id: "4",
            figure: "client CPU per request: `get_user(\"me\")` × 200 sequential",
            ours: format!("{} CPU", fmt_ns(ours_cpu)),
            baseline: format!("{} CPU (bare reqwest GET + serde)", fmt_ns(base_cpu)),
            ratio: Some(cpu_ratio),
            target: "ratio ≤ 1.05",
            pass: Some(cpu_ratio <= 1.05),
            values: json!({"ours_cpu_ns": ours_cpu, "baseline_cpu_ns": base_cpu,
                "method": "process CPU clock minus the local server thread's CPU clock",
                "rounds": ROUNDS, "calls_per_round": CALLS}),
        },
    ]
}

async fn pagination(server: &ServerHandle, cpu: &ClientCpu) -> Vec<Row> {
    const ROUNDS: usize = 41;
    let [few, many] = PROJECT_PAGES;
    let clients = Clients::new(server).await;
    assert_eq!(clients.stream_tasks(many).await, many * PAGE_SIZE);
    assert_eq!(clients.stream_compact_tasks(many).await, many * PAGE_SIZE);
    assert_eq!(clients.loop_tasks(many).await, many * PAGE_SIZE);
    assert_eq!(clients.loop_values(many).await, many * PAGE_SIZE);
    // Wall and CPU seconds of each side: the typed stream, the compact stream, the typed loop,
    // the `Value` loop; the sides rotate so that each runs in every position.
    let mut wall: [Vec<f64>; 4] = Default::default();
    let mut used: [Vec<f64>; 4] = Default::default();
    for round in 0..ROUNDS {
        for k in 0..4 {
            let side = (round + k) % 4;
            let (elapsed, cpu_time, count) = match side {
                0 => cpu.measure(clients.stream_tasks(many)).await,
                1 => cpu.measure(clients.stream_compact_tasks(many)).await,
                2 => cpu.measure(clients.loop_tasks(many)).await,
                _ => cpu.measure(clients.loop_values(many)).await,
            };
            black_box(count);
            wall[side].push(secs(elapsed));
            used[side].push(secs(cpu_time));
        }
    }
    let [ours, _, base, values] = &wall;
    let [ours_cpu, compact_cpu, base_cpu, values_cpu] = &used;
    let ratio = paired_ratio(ours, base);
    let cpu_ratio = paired_ratio(ours_cpu, values_cpu);
    let compact_cpu_ratio = paired_ratio(compact_cpu, values_cpu);
    let typed_cpu_ratio = paired_ratio(base_cpu, values_cpu);
    let (ours, base, values) = (median(ours), median(base), median(values));
    let [ours_cpu, compact_cpu, base_cpu, values_cpu] = used.each_ref().map(|side| median(side));
    let ms = |s: f64| format!("{:.2} ms", s * 1e3);
    let ours_few = peak_heap_growth(clients.stream_tasks(few)).await;
    let ours_many = peak_heap_growth(clients.stream_tasks(many)).await;
    let base_few = peak_heap_growth(clients.loop_tasks(few)).await;
    let base_many = peak_heap_growth(clients.loop_tasks(many)).await;
    let growth = ours_many as f64 / ours_few.max(1) as f64;
    let task_bytes = std::mem::size_of::<Task>();
    let compact_bytes = std::mem::size_of::<TaskCompact>();
    vec![
        Row {
            id: "5",
            figure: "pagination: stream 10,000 tasks over 100 pages (wall)",
            ours: ms(ours),
            baseline: format!("{} (hand-written typed page loop)", ms(base)),
            ratio: Some(ratio),
            target: "ratio ≤ 1.05",
            pass: Some(ratio <= 1.05),
            values: json!({"ours_s": ours, "baseline_s": base, "value_loop_s": values,
                "rounds": ROUNDS, "tasks": many * PAGE_SIZE, "pages": many}),
        },
        Row {
            id: "5",
            figure: "pagination CPU: typed stream against decoding pages into `serde_json::Value`",
            ours: format!("{} CPU", ms(ours_cpu)),
            baseline: format!("{} CPU (page loop into `Value`)", ms(values_cpu)),
            ratio: Some(cpu_ratio),
            target: "ratio ≤ 1.0",
            pass: Some(cpu_ratio <= 1.0),
            values: json!({"ours_cpu_s": ours_cpu, "typed_loop_cpu_s": base_cpu,
                "value_loop_cpu_s": values_cpu,
                "method": "process CPU clock minus the local server thread's CPU clock"}),
        },
        Row {
            id: "5",
            figure: "pagination CPU: compact typed stream (`.compact()`, `TaskCompact`) against the same `Value` loop",
            ours: format!("{} CPU", ms(compact_cpu)),
            baseline: format!("{} CPU (page loop into `Value`)", ms(values_cpu)),
            ratio: Some(compact_cpu_ratio),
            target: "ratio ≤ 1.0",
            pass: Some(compact_cpu_ratio <= 1.0),
            values: json!({"compact_cpu_s": compact_cpu, "value_loop_cpu_s": values_cpu}),
        },
        Row {
            id: "5",
            figure: "… the hand-written typed loop against the same `Value` loop",
            ours: format!("{} CPU", ms(base_cpu)),
            baseline: format!("{} CPU (page loop into `Value`)", ms(values_cpu)),
            ratio: Some(typed_cpu_ratio),
            target: "(information)",
            pass: None,
            values: json!({}),
        },
        Row {
            id: "5",
            figure: "the compact task: `size_of::<TaskCompact>()`",
            ours: format!("{compact_bytes} bytes"),
            baseline: "256 bytes".to_string(),
            ratio: Some(compact_bytes as f64 / 256.0),
            target: "≤ 256 bytes",
            pass: Some(compact_bytes <= 256),
            values: json!({"task_compact_bytes": compact_bytes}),
        },
        Row {
            id: "5",
            figure: "… the full `Task`: `size_of::<Task>()`",
            ours: format!("{task_bytes} bytes"),
            baseline: "256 bytes".to_string(),
            ratio: Some(task_bytes as f64 / 256.0),
            target: "(information)",
            pass: None,
            values: json!({"task_bytes": task_bytes}),
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
        sqlite.ours.get().await;
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
                        sqlite.ours.get().await;
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
                        sqlite.ours.put().await;
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

/// The names of the threads that serve figure 7's requests, in groups that say where our side's
/// CPU goes: the services' runtime (workers and blocking pool, which serve the forwarder too,
/// whose CPU is all there), the store threads that read and those that write (the credential
/// store's `sqlite-store-reader` and `sqlite-store-writer`, as `/proc` truncates them, and the
/// service store's).
const SERVICE_THREAD_GROUPS: [(&str, &[&str]); 3] = [
    ("runtime", &["bench-service"]),
    ("store readers", &["service-reader", "sqlite-store-re"]),
    ("store writers", &["service-writer", "sqlite-store-wr"]),
];

async fn service_load(server: &ServerHandle, services: &mut Services) -> Vec<Row> {
    const ROUNDS: usize = 5;
    const WINDOW: Duration = Duration::from_millis(400);
    const CONNECTORS: usize = 8;
    let hosted = Arc::new(services.hosted(server, CONNECTORS).await);
    let forwarder = Arc::new(services.forwarder(server));
    let ours = {
        let hosted = hosted.clone();
        move |n: usize| {
            let hosted = hosted.clone();
            async move { hosted.execute(n).await }
        }
    };
    let base = {
        let forwarder = forwarder.clone();
        move |n: usize| {
            let forwarder = forwarder.clone();
            async move { forwarder.execute(n).await }
        }
    };
    load(64, WINDOW / 2, ours.clone()).await;
    load(64, WINDOW / 2, base.clone()).await;
    let (mut ours_rps, mut base_rps) = (vec![], vec![]);
    // The services' CPU per request: their runtime's threads (workers and blocking pool) and the
    // credential store's connection threads, over every round of each side.
    let (mut ours_cpu, mut base_cpu) = ((Duration::ZERO, 0), (Duration::ZERO, 0));
    let mut ours_groups = [Duration::ZERO; SERVICE_THREAD_GROUPS.len()];
    let groups_cpu = || SERVICE_THREAD_GROUPS.map(|(_, names)| threads_cpu(names));
    for round in 0..ROUNDS {
        for k in 0..2 {
            let ours_turn = (round + k) % 2 == 0;
            let before = groups_cpu();
            let run = if ours_turn {
                load(64, WINDOW, ours.clone()).await
            } else {
                load(64, WINDOW, base.clone()).await
            };
            let by_group: Vec<Duration> = groups_cpu()
                .iter()
                .zip(before)
                .map(|(after, before)| after.saturating_sub(before))
                .collect();
            let spent: Duration = by_group.iter().sum();
            if ours_turn {
                for (group, spent) in ours_groups.iter_mut().zip(by_group) {
                    *group += spent;
                }
            }
            let (rps, cpu) = if ours_turn {
                (&mut ours_rps, &mut ours_cpu)
            } else {
                (&mut base_rps, &mut base_cpu)
            };
            rps.push(run.throughput());
            cpu.0 += spent;
            cpu.1 += run.latencies.len();
        }
    }
    let ratio = paired_ratio(&ours_rps, &base_rps);
    let (ours_rps, base_rps) = (median(&ours_rps), median(&base_rps));
    let per_request = |(cpu, n): (Duration, usize)| cpu.as_secs_f64() * 1e6 / n.max(1) as f64;
    let by_group = ours_groups.map(|spent| per_request((spent, ours_cpu.1)));
    let (ours_cpu, base_cpu) = (per_request(ours_cpu), per_request(base_cpu));
    let where_ours_goes = SERVICE_THREAD_GROUPS
        .iter()
        .zip(by_group)
        .map(|((name, _), us)| format!("{name} {us:.0} µs"))
        .collect::<Vec<_>>()
        .join(", ");
    let heavy = load(200, WINDOW * 2, ours).await;
    let heavy_base = load(200, WINDOW * 2, base).await;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p50, p99) = (heavy.quantile(0.5), heavy.quantile(0.99));
    let (b50, b99) = (heavy_base.quantile(0.5), heavy_base.quantile(0.99));
    let spread = p99.as_secs_f64() / p50.as_secs_f64().max(1e-9);
    vec![
        Row {
            id: "7",
            figure: "service `execute` (users/me) through `integrations-server` on SQLite, 64 concurrent clients",
            ours: format!("{ours_rps:.0} req/s, {ours_cpu:.0} µs CPU/request"),
            baseline: format!(
                "{base_rps:.0} req/s, {base_cpu:.0} µs CPU/request (bare axum handler forwarding with reqwest)"
            ),
            ratio: Some(ratio),
            target: "throughput ≥ 0.7× baseline",
            pass: Some(ratio >= 0.7),
            values: json!({"ours_rps": ours_rps, "baseline_rps": base_rps, "clients": 64,
                "rounds": ROUNDS, "window_ms": WINDOW.as_millis(), "connectors": CONNECTORS,
                "ours_cpu_us_per_request": ours_cpu, "baseline_cpu_us_per_request": base_cpu}),
        },
        Row {
            id: "7",
            figure: "… where ours' CPU per request goes, by thread (64 clients)",
            ours: where_ours_goes,
            baseline: format!("{base_cpu:.0} µs, all on the runtime"),
            ratio: None,
            target: "(information)",
            pass: None,
            values: json!({"runtime_us": by_group[0], "store_readers_us": by_group[1],
                "store_writers_us": by_group[2], "baseline_runtime_us": base_cpu}),
        },
        Row {
            id: "7",
            figure: "… latency at 200 concurrent clients: p99 against p50",
            ours: format!(
                "p50 {:.1} ms, p99 {:.1} ms ({:.0} req/s)",
                ms(p50),
                ms(p99),
                heavy.throughput()
            ),
            baseline: format!(
                "baseline p50 {:.1} ms, p99 {:.1} ms ({:.0} req/s)",
                ms(b50),
                ms(b99),
                heavy_base.throughput()
            ),
            ratio: Some(spread),
            target: "p99 ≤ 3× p50",
            pass: Some(spread <= 3.0),
            values: json!({"p50_ms": ms(p50), "p99_ms": ms(p99), "baseline_p50_ms": ms(b50),
                "baseline_p99_ms": ms(b99), "requests": heavy.latencies.len(), "clients": 200}),
        },
    ]
}

async fn service_scale(server: &ServerHandle, services: &mut Services) -> Vec<Row> {
    const FIGURE: &str =
        "service `execute` latency with 100,000 stored connectors against 100 (PostgreSQL)";
    let small = services.hosted(server, SCALE_CONNECTORS).await;
    let big = services.hosted(server, SCALE_CONNECTORS).await;
    let StoreLocation::Directory(dir) = big.store() else {
        unreachable!("`hosted` keeps its store in a directory")
    };
    add_rows(dir, &big.connectors[0], SCALE_STORED - SCALE_CONNECTORS);
    let mut rows = scale_rows(&small, &big, "SQLite").await;
    let (few, many) = match (postgres::database().await, postgres::database().await) {
        (Ok(few), Ok(many)) => (few, many),
        (Err(why), _) | (_, Err(why)) => {
            rows.push(skipped("8", FIGURE, "ratio ≤ 1.2", &why));
            return rows;
        }
    };
    let small = services
        .hosted_on(
            server,
            SCALE_CONNECTORS,
            StoreLocation::Postgres(few.postgres_url()),
        )
        .await;
    let big = services
        .hosted_on(
            server,
            SCALE_CONNECTORS,
            StoreLocation::Postgres(many.postgres_url()),
        )
        .await;
    postgres::add_rows(&many, &big.connectors[0], SCALE_STORED - SCALE_CONNECTORS).await;
    rows.extend(scale_rows(&small, &big, "PostgreSQL").await);
    rows
}

/// Figure 8's connectors that executes go to, and the connectors stored in the large service.
const SCALE_CONNECTORS: usize = 100;
const SCALE_STORED: usize = 100_000;

/// Figure 8's rows on one store: executes over the same 100 warm connectors of `small` (100
/// stored) and of `big` (100,000 stored), and the heap each connector's first execute leaves.
async fn scale_rows(small: &Hosted, big: &Hosted, store: &str) -> Vec<Row> {
    const ROUNDS: usize = 9;
    const CONNECTORS: usize = SCALE_CONNECTORS;
    // Memory per warm connector: the heap the first execute on each connector leaves behind.
    small.execute(0).await;
    NET.store(0, Ordering::SeqCst);
    TRACKING.store(true, Ordering::SeqCst);
    for n in 1..CONNECTORS {
        small.execute(n).await;
    }
    TRACKING.store(false, Ordering::SeqCst);
    let per_connector = NET.load(Ordering::SeqCst) as f64 / (CONNECTORS - 1) as f64;

    for n in 0..CONNECTORS {
        big.execute(n).await;
    }
    let (mut few, mut many) = (vec![], vec![]);
    for round in 0..ROUNDS {
        for k in 0..2 {
            let hosted = if (round + k) % 2 == 0 { small } else { big };
            let start = Instant::now();
            for n in 0..CONNECTORS {
                hosted.execute(n).await;
            }
            let per_call = start.elapsed().as_nanos() as f64 / CONNECTORS as f64;
            if (round + k) % 2 == 0 {
                few.push(per_call);
            } else {
                many.push(per_call);
            }
        }
    }
    let ratio = paired_ratio(&many, &few);
    let (few, many) = (median(&few), median(&many));
    let (latency, memory) = if store == "SQLite" {
        (
            "service `execute` latency with 100,000 stored connectors against 100 (SQLite)",
            "memory per warm connector (heap left by each connector's first execute)",
        )
    } else {
        (
            "service `execute` latency with 100,000 stored connectors against 100 (PostgreSQL)",
            "memory per warm connector (heap left by each connector's first execute; PostgreSQL)",
        )
    };
    vec![
        Row {
            id: "8",
            figure: latency,
            ours: format!("{} (100,000 connectors)", fmt_ns(many)),
            baseline: format!("{} (100 connectors)", fmt_ns(few)),
            ratio: Some(ratio),
            target: "ratio ≤ 1.2",
            pass: Some(ratio <= 1.2),
            values: json!({"latency_ns_100000": many, "latency_ns_100": few, "store": store,
                "rounds": ROUNDS, "executes_per_round": CONNECTORS}),
        },
        Row {
            id: "8",
            figure: memory,
            ours: fmt_bytes(per_connector as isize),
            baseline: "4.0 KiB".to_string(),
            ratio: Some(per_connector / 4096.0),
            target: "≤ 4 KiB",
            pass: Some(per_connector <= 4096.0),
            values: json!({"bytes_per_connector": per_connector, "connectors": CONNECTORS - 1,
                "store": store,
                "method": "counting global allocator: bytes allocated minus bytes freed over the first execute of each connector"}),
        },
    ]
}

/// The hidden argument that makes this binary figure 9's baseline.
const READ_ROW_FLAG: &str = "--read-token-row";

/// Figure 9's baseline, the least a program can do to print a stored token: open the SQLite
/// file, read the row, take the access token out of its JSON and print it.
fn read_token_row(args: &[String]) -> ExitCode {
    let Some(path) = args.first() else {
        eprintln!("usage: perf {READ_ROW_FLAG} <credentials.db>");
        return ExitCode::FAILURE;
    };
    let read = || -> Result<String, Box<dyn std::error::Error>> {
        let connection = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let payload: Vec<u8> = connection.query_row(
            "SELECT payload FROM credentials WHERE provider = ?1 AND subject = ?2",
            [support::PROVIDER, CLI_SUBJECT],
            |row| row.get(0),
        )?;
        let token: Value = serde_json::from_slice(&payload)?;
        Ok(token["access_token"]
            .as_str()
            .ok_or("no access_token in the row")?
            .to_string())
    };
    match read() {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot read the token row: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The subject figure 9 stores its token under: the CLI's default.
const CLI_SUBJECT: &str = "default";

/// CPU time of the children this process has waited for.
fn children_cpu() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage; `getrusage` writes only to it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_CHILDREN) failed");
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Runs `command` to its end; checks that it printed `expected` and returns its wall and CPU time.
fn timed_run(command: &mut std::process::Command, expected: &str) -> (f64, f64) {
    let (cpu, start) = (children_cpu(), Instant::now());
    let output = command.output().expect("run the command");
    let wall = secs(start.elapsed());
    let cpu = secs(children_cpu().saturating_sub(cpu));
    assert!(
        output.status.success() && output.stdout == format!("{expected}\n").as_bytes(),
        "{command:?} printed {:?} (stderr {:?})",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    (wall, cpu)
}

async fn cli_token(server: &ServerHandle) -> Vec<Row> {
    const RUNS: usize = 31;
    let exe = std::env::current_exe().expect("the path of this binary");
    // target/<profile>/examples/perf -> target/<profile>/integrations
    let cli = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("integrations"))
        .filter(|cli| cli.exists());
    let Some(cli) = cli else {
        return vec![Row {
            id: "9",
            figure: "CLI `integrations token asana` (skipped: build it with `cargo build --release -p integrations-cli`)",
            ours: "–".to_string(),
            baseline: "–".to_string(),
            ratio: None,
            target: "wall ≤ 2.0× baseline",
            pass: None,
            values: json!({"skipped": "target/release/integrations is not built"}),
        }];
    };
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("credentials.db");
    {
        let store = integrations::SqliteCredentialStore::open(&path)
            .await
            .expect("open the store");
        let auth = support::manager(server.url(), store);
        auth.store_credentials(support::PROVIDER, CLI_SUBJECT, &support::valid_token())
            .await
            .expect("store a valid token");
    }
    let mut ours = std::process::Command::new(&cli);
    ours.args(["token", "asana"])
        .env("INTEGRATIONS_STORE", format!("sqlite:{}", path.display()));
    let mut base = std::process::Command::new(&exe);
    base.arg(READ_ROW_FLAG).arg(&path);
    for command in [&mut ours, &mut base] {
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("ASANA_")
                || (key_text.starts_with("INTEGRATIONS_") && key_text != "INTEGRATIONS_STORE")
                || key_text == "RUST_LOG"
            {
                command.env_remove(&key);
            }
        }
    }
    timed_run(&mut ours, support::VALID_ACCESS_TOKEN);
    timed_run(&mut base, support::VALID_ACCESS_TOKEN);
    let (mut ours_wall, mut base_wall, mut ours_cpu, mut base_cpu) =
        (vec![], vec![], vec![], vec![]);
    for round in 0..RUNS {
        for k in 0..2 {
            if (round + k) % 2 == 0 {
                let (wall, cpu) = timed_run(&mut ours, support::VALID_ACCESS_TOKEN);
                ours_wall.push(wall);
                ours_cpu.push(cpu);
            } else {
                let (wall, cpu) = timed_run(&mut base, support::VALID_ACCESS_TOKEN);
                base_wall.push(wall);
                base_cpu.push(cpu);
            }
        }
    }
    let ratio = paired_ratio(&ours_wall, &base_wall);
    let cpu_ratio = median(&ours_cpu) / median(&base_cpu).max(1e-9);
    let ms = |s: f64| format!("{:.2} ms", s * 1e3);
    let (ow, bw, oc, bc) = (
        median(&ours_wall),
        median(&base_wall),
        median(&ours_cpu),
        median(&base_cpu),
    );
    vec![Row {
        id: "9",
        figure: "CLI `integrations token asana`, valid stored token, process start included",
        ours: format!("{} wall, {} CPU", ms(ow), ms(oc)),
        baseline: format!(
            "{} wall, {} CPU (a binary that opens the SQLite file and reads the row)",
            ms(bw),
            ms(bc)
        ),
        ratio: Some(ratio),
        target: "wall ≤ 2.0× baseline",
        pass: Some(ratio <= 2.0),
        values: json!({"ours_wall_s": ow, "baseline_wall_s": bw, "ours_cpu_s": oc,
                "baseline_cpu_s": bc, "cpu_ratio": cpu_ratio, "runs": RUNS,
                "cpu_method": "getrusage(RUSAGE_CHILDREN) around each run"}),
    }]
}

/// The row of a PostgreSQL figure that could not run.
fn skipped(id: &'static str, figure: &'static str, target: &'static str, why: &str) -> Row {
    Row {
        id,
        figure,
        ours: "skipped: no PostgreSQL".to_string(),
        baseline: "–".to_string(),
        ratio: None,
        target,
        pass: None,
        values: json!({"skipped": why}),
    }
}

async fn postgres_store(cpu: &ClientCpu) -> Vec<Row> {
    const ROUNDS: usize = 21;
    const CALLS: u32 = 200;
    const TARGET: &str = "throughput ≥ 0.8× baseline";
    let database = match postgres::database().await {
        Ok(database) => database,
        Err(why) => {
            return vec![skipped(
                "10",
                "PostgreSQL store `get` and conditional put",
                TARGET,
                &why,
            )];
        }
    };
    let mut stores = postgres::Stores::new(&database).await;
    for _ in 0..CALLS {
        stores.ours.get().await;
        stores.raw_get().await;
        stores.ours.put().await;
        stores.raw_put().await;
    }
    // Per side: wall and CPU per call, over the rounds.
    let mut wall: [Vec<f64>; 4] = Default::default();
    let mut used: [Vec<f64>; 4] = Default::default();
    let per_call = |d: Duration| d.as_nanos() as f64 / f64::from(CALLS);
    for round in 0..ROUNDS {
        // Rotate the order so that no side always runs first.
        for k in 0..4 {
            let side = (round + k) % 4;
            let (w, c, ()) = match side {
                0 => {
                    cpu.measure(async {
                        for _ in 0..CALLS {
                            stores.ours.get().await;
                        }
                    })
                    .await
                }
                1 => {
                    cpu.measure(async {
                        for _ in 0..CALLS {
                            stores.raw_get().await;
                        }
                    })
                    .await
                }
                2 => {
                    cpu.measure(async {
                        for _ in 0..CALLS {
                            stores.ours.put().await;
                        }
                    })
                    .await
                }
                _ => {
                    cpu.measure(async {
                        for _ in 0..CALLS {
                            stores.raw_put().await;
                        }
                    })
                    .await
                }
            };
            wall[side].push(per_call(w));
            used[side].push(per_call(c));
        }
    }
    // Throughput relative to the baseline's: baseline time over ours.
    let get_ratio = paired_ratio(&wall[1], &wall[0]);
    let put_ratio = paired_ratio(&wall[3], &wall[2]);
    let get_cpu_ratio = paired_ratio(&used[0], &used[1]);
    let put_cpu_ratio = paired_ratio(&used[2], &used[3]);
    let [get_store, get_raw, put_store, put_raw] = wall.each_ref().map(|w| median(w));
    let [get_store_cpu, get_raw_cpu, put_store_cpu, put_raw_cpu] =
        used.each_ref().map(|c| median(c));
    let ops = |ns: f64, cpu_ns: f64| {
        format!(
            "{} ({:.0} op/s), {} CPU",
            fmt_ns(ns),
            1e9 / ns,
            fmt_ns(cpu_ns)
        )
    };
    let method = "wall per call; CPU: this process's CPU clock minus the local server thread's (PostgreSQL's own processes not counted)";
    vec![
        Row {
            id: "10",
            figure: "PostgreSQL store `get`",
            ours: ops(get_store, get_store_cpu),
            baseline: format!(
                "{} raw tokio-postgres, the same SELECT prepared on one connection",
                ops(get_raw, get_raw_cpu)
            ),
            ratio: Some(get_ratio),
            target: TARGET,
            pass: Some(get_ratio >= 0.8),
            values: json!({"store_ns": get_store, "raw_ns": get_raw,
                "store_cpu_ns": get_store_cpu, "raw_cpu_ns": get_raw_cpu,
                "cpu_ratio": get_cpu_ratio, "rounds": ROUNDS, "calls_per_round": CALLS,
                "method": method}),
        },
        Row {
            id: "10",
            figure: "PostgreSQL store conditional put (`PutMode::Update`)",
            ours: ops(put_store, put_store_cpu),
            baseline: format!(
                "{} raw tokio-postgres, the same `UPDATE … WHERE version = $7 RETURNING version`",
                ops(put_raw, put_raw_cpu)
            ),
            ratio: Some(put_ratio),
            target: TARGET,
            pass: Some(put_ratio >= 0.8),
            values: json!({"store_ns": put_store, "raw_ns": put_raw,
                "store_cpu_ns": put_store_cpu, "raw_cpu_ns": put_raw_cpu,
                "cpu_ratio": put_cpu_ratio, "rounds": ROUNDS, "calls_per_round": CALLS,
                "method": method}),
        },
    ]
}

async fn instance_storm(server: &ServerHandle, cpu: &ClientCpu) -> Vec<Row> {
    const ROUNDS: usize = 3;
    const CONNECTORS: usize = 50;
    const EXECUTES: usize = 500;
    const FIGURE: &str = "multi-instance refresh storm: 3 instances on one PostgreSQL, 50 OAuth connectors expired at once, 500 concurrent executes (10 per connector)";
    const TARGET: &str = "token requests = connectors (exactly); wall ≤ 1.5× one refresh round";
    let database = match postgres::database().await {
        Ok(database) => database,
        Err(why) => return vec![skipped("11", FIGURE, TARGET, &why)],
    };
    let mut services = Services::new();
    let mut storm = postgres::Storm::new(&mut services, server, &database).await;
    server.set_token_delay(TOKEN_DELAY);
    let one = OneRefresh::new(server);
    one.run().await;
    // One storm untimed first: the first to need every pooled connection of every instance
    // opens them (PostgreSQL starts a backend for each, which prepares each statement once), a
    // cost a running service paid long before and that the first round's storm would otherwise
    // pay alone.
    let warmup = storm.due_connectors(CONNECTORS).await;
    let warmed = storm.run(&warmup, EXECUTES).await;
    let (mut ours, mut rounds, mut ours_cpu, mut warm, mut single) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut requests = Vec::new();
    // Each connector expires once: every pass that refreshes takes connectors of its own.
    let due = |outcome: &postgres::StormOutcome, what: &str| {
        assert_eq!(
            outcome.token_requests, CONNECTORS,
            "figure 11: {CONNECTORS} connectors due at once must be refreshed exactly once each across the instances ({what})"
        );
    };
    due(&warmed, "the untimed first storm");
    for round in 0..ROUNDS {
        let storm_ids = storm.due_connectors(CONNECTORS).await;
        let round_ids = storm.due_connectors(CONNECTORS).await;
        for k in 0..2 {
            if (round + k) % 2 == 0 {
                let (wall, used, outcome) = cpu.measure(storm.run(&storm_ids, EXECUTES)).await;
                due(&outcome, "the storm");
                requests.push(outcome.token_requests);
                ours.push(secs(wall));
                ours_cpu.push(secs(used));
                // The same executes again, on tokens now valid: what the storm costs without
                // refreshing.
                let again = storm.run(&storm_ids, EXECUTES).await;
                assert_eq!(again.token_requests, 0, "valid tokens are not refreshed");
                warm.push(secs(again.elapsed));
            } else {
                // One refresh round: every connector refreshed once, by one execute each.
                let outcome = storm.run(&round_ids, CONNECTORS).await;
                due(&outcome, "the refresh round");
                rounds.push(secs(outcome.elapsed));
            }
        }
        single.push(secs(one.run().await));
    }
    server.set_token_delay(Duration::ZERO);
    drop(services);
    let ratio = paired_ratio(&ours, &rounds);
    let per_refresh = paired_ratio(&ours, &single);
    // What the refreshes add to the same executes: each storm against its own warm pass.
    let added: Vec<f64> = ours.iter().zip(&warm).map(|(s, w)| s - w).collect();
    let added_ratio = paired_ratio(&added, &single);
    let added = median(&added);
    let (ours, round, base, ours_cpu, warm) = (
        median(&ours),
        median(&rounds),
        median(&single),
        median(&ours_cpu),
        median(&warm),
    );
    let ms = |s: f64| format!("{:.1} ms", s * 1e3);
    let exact = requests.iter().all(|&n| n == CONNECTORS);
    vec![
        Row {
            id: "11",
            figure: FIGURE,
            ours: format!(
                "{} wall, {} CPU, {CONNECTORS} token requests per storm",
                ms(ours),
                ms(ours_cpu)
            ),
            baseline: format!(
                "{} (one refresh round: {CONNECTORS} executes, one per connector, on {CONNECTORS} other connectors expired at once; {CONNECTORS} token requests)",
                ms(round)
            ),
            ratio: Some(ratio),
            target: TARGET,
            pass: Some(exact && ratio <= 1.5),
            values: json!({"storm_s": ours, "storm_cpu_s": ours_cpu, "round_s": round,
                "one_refresh_s": base, "warm_s": warm,
                "token_requests": requests, "connectors": CONNECTORS, "executes": EXECUTES,
                "instances": postgres::INSTANCES, "rounds": ROUNDS,
                "token_delay_ms": TOKEN_DELAY.as_millis(),
                "cpu_method": "this process's CPU clock (the instances, the load and their drivers) minus the local server thread's; PostgreSQL's processes not counted"}),
        },
        Row {
            id: "11",
            figure: "… the storm against one refresh request (the earlier definition)",
            ours: ms(ours),
            baseline: format!(
                "{} (one refresh; endpoint delay {} ms)",
                ms(base),
                TOKEN_DELAY.as_millis()
            ),
            ratio: Some(per_refresh),
            target: "(information)",
            pass: None,
            values: json!({"storm_s": ours, "one_refresh_s": base}),
        },
        Row {
            id: "11",
            figure: "… the same 500 executes again, tokens valid (no refresh); the storm's wall minus this",
            ours: format!("{} wall; the storm adds {}", ms(warm), ms(added)),
            baseline: ms(base),
            ratio: Some(added_ratio),
            target: "(information: ratio = what the storm adds / one refresh)",
            pass: None,
            values: json!({"warm_s": warm, "storm_minus_warm_s": added}),
        },
    ]
}
