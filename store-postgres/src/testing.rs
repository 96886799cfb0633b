//! Dev-only (feature `testing`): a PostgreSQL database for each test, for this crate's tests and
//! for the crates that test against this store.
//!
//! [`database`] hands out a fresh database (`CREATE DATABASE`) on one server per test binary:
//!
//! - when `DATABASE_URL` is set, on that server;
//! - otherwise on a throwaway cluster started from the system's PostgreSQL binaries (found with
//!   `pg_config --bindir`, in `/usr/lib/postgresql/*/bin`, or on `PATH`): `initdb` into a
//!   temporary directory, `postgres` listening only on a Unix socket in that directory (no TCP
//!   port to clash with), fsync off. PostgreSQL refuses to run as root: when the tests run as
//!   root, both run as the `postgres` user through `runuser -u postgres --`, which must exist,
//!   and the directory is handed to that user. The cluster stops, and its directory is
//!   removed, when the test process exits (a watchdog process sees to it, even after a kill).
//!
//! Without either, [`database`] returns `None` and the test skips, except under CI (`CI` set),
//! where it panics: a CI run without PostgreSQL fails.
//!
//! [`Cluster::start`] starts a cluster of a test's own, which the test can stop and start again
//! (a database restart), stopped and removed when it is dropped.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};

/// The variable naming an existing server to test against.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

/// How long a starting cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The port whose socket file the cluster creates in its directory (nothing listens on TCP).
const PORT: u16 = 5432;

/// Where a test connects to reach its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket: the directory holding `.s.PGSQL.<port>`, and the port.
    Unix(PathBuf, u16),
    /// A TCP host and port.
    Tcp(String, u16),
}

/// How many connections the stores have to a database ([`TestDatabase::store_connections`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConnections {
    /// Pooled connections (`integrations-store`).
    pub pooled: i64,
    /// Listening connections (`integrations-store-listener`).
    pub listeners: i64,
}

/// A database of a test's own.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    config: Config,
}

impl TestDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        self.config.get_dbname().unwrap_or_default()
    }

    /// Settings for [`PostgresCredentialStore::open`](crate::PostgresCredentialStore::open).
    pub fn url(&self) -> String {
        render(&self.config)
    }

    /// The same settings as a `postgres://` URL (a Unix socket directory as its host), for
    /// callers that take URLs only, such as the service's `--store`.
    pub fn postgres_url(&self) -> String {
        render_url(&self.config)
    }

    /// The same database and credentials reached through another TCP address (a proxy).
    pub fn url_via(&self, host: &str, port: u16) -> String {
        let mut via = Config::new();
        via.host(host)
            .port(port)
            .dbname(self.name())
            .ssl_mode(self.config.get_ssl_mode());
        if let Some(user) = self.config.get_user() {
            via.user(user);
        }
        if let Some(password) = self.config.get_password() {
            via.password(password);
        }
        render(&via)
    }

    /// Where the server listens.
    pub fn endpoint(&self) -> Endpoint {
        let port = self.config.get_ports().first().copied().unwrap_or(PORT);
        match self.config.get_hosts().first() {
            Some(Host::Unix(dir)) => Endpoint::Unix(dir.clone(), port),
            Some(Host::Tcp(host)) => Endpoint::Tcp(host.clone(), port),
            None => Endpoint::Tcp("localhost".into(), port),
        }
    }

    /// A connection to the database, for a test to look or meddle (its driver runs on the
    /// current runtime).
    pub async fn connect(&self) -> Client {
        connect(&self.config).await
    }

    /// The stores' connections to the database now: their pools' (`integrations-store`) and
    /// their listeners' (`integrations-store-listener`).
    pub async fn store_connections(&self) -> StoreConnections {
        let row = self
            .connect()
            .await
            .query_one(
                "SELECT count(*) FILTER (WHERE application_name = 'integrations-store'), \
                        count(*) FILTER (WHERE application_name = 'integrations-store-listener') \
                 FROM pg_stat_activity WHERE datname = current_database()",
                &[],
            )
            .await
            .expect("read the stores' connections");
        StoreConnections {
            pooled: row.get(0),
            listeners: row.get(1),
        }
    }
}

/// A fresh database on this test binary's server, or `None` when there is no PostgreSQL and the
/// tests do not run under CI (see the module docs).
pub async fn database() -> Option<TestDatabase> {
    static SERVER: OnceLock<Option<Config>> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let admin = match SERVER.get() {
        Some(server) => server.clone(),
        None => tokio::task::spawn_blocking(|| SERVER.get_or_init(server).clone())
            .await
            .expect("starting PostgreSQL panicked"),
    }?;
    let name = format!(
        "integrations_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    connect(&admin)
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let mut config = admin;
    config.dbname(&name);
    Some(TestDatabase { config })
}

/// The admin settings of this binary's server: `DATABASE_URL`'s, or a cluster started here
/// (which lives as long as the process).
fn server() -> Option<Config> {
    if let Ok(url) = std::env::var(DATABASE_URL_ENV) {
        let config = Config::from_str(&url)
            .unwrap_or_else(|e| panic!("{DATABASE_URL_ENV} is not a PostgreSQL URL: {e}"));
        return Some(config);
    }
    match Cluster::start() {
        Ok(cluster) => {
            let config = cluster.admin_config();
            // Stopped by its watchdog when the process exits.
            std::mem::forget(cluster);
            Some(config)
        }
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI needs PostgreSQL and none could be started: {e}")
        }
        Err(e) => {
            eprintln!(
                "skipping: no PostgreSQL for the tests ({e}); set {DATABASE_URL_ENV} or install postgresql"
            );
            None
        }
    }
}

async fn connect(config: &Config) -> Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Settings as `key=value` pairs, the form `Config::from_str` reads back.
fn render(config: &Config) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut out = String::new();
    match config.get_hosts().first() {
        Some(Host::Unix(dir)) => {
            let _ = write!(out, "host={} ", quote(&dir.display().to_string()));
        }
        Some(Host::Tcp(host)) => {
            let _ = write!(out, "host={} ", quote(host));
        }
        None => {}
    }
    if let Some(port) = config.get_ports().first() {
        let _ = write!(out, "port={port} ");
    }
    if let Some(user) = config.get_user() {
        let _ = write!(out, "user={} ", quote(user));
    }
    if let Some(password) = config.get_password() {
        let _ = write!(
            out,
            "password={} ",
            quote(&String::from_utf8_lossy(password))
        );
    }
    if let Some(dbname) = config.get_dbname() {
        let _ = write!(out, "dbname={} ", quote(dbname));
    }
    let sslmode = match config.get_ssl_mode() {
        SslMode::Require => "require",
        SslMode::Prefer => "prefer",
        _ => "disable",
    };
    let _ = write!(out, "sslmode={sslmode}");
    out
}

/// `config` as a `postgres://user:password@host:port/dbname?sslmode=...` URL.
fn render_url(config: &Config) -> String {
    let encode = |value: &[u8]| {
        value.iter().fold(String::new(), |mut out, &byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                out.push(char::from(byte));
            } else {
                let _ = write!(out, "%{byte:02X}");
            }
            out
        })
    };
    let mut out = String::from("postgres://");
    if let Some(user) = config.get_user() {
        out.push_str(&encode(user.as_bytes()));
        if let Some(password) = config.get_password() {
            let _ = write!(out, ":{}", encode(password));
        }
        out.push('@');
    }
    match config.get_hosts().first() {
        Some(Host::Unix(dir)) => out.push_str(&encode(dir.display().to_string().as_bytes())),
        Some(Host::Tcp(host)) => out.push_str(host),
        None => out.push_str("localhost"),
    }
    let port = config.get_ports().first().copied().unwrap_or(PORT);
    let dbname = config.get_dbname().unwrap_or("postgres");
    let sslmode = match config.get_ssl_mode() {
        SslMode::Require => "require",
        SslMode::Prefer => "prefer",
        _ => "disable",
    };
    let _ = write!(
        out,
        ":{port}/{}?sslmode={sslmode}",
        encode(dbname.as_bytes())
    );
    out
}

/// A throwaway PostgreSQL cluster in a temporary directory, listening on a Unix socket there;
/// stopped and removed when dropped.
#[derive(Debug)]
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    /// The running server, if any.
    postgres: Option<Child>,
    watchdog: Child,
}

impl Cluster {
    /// Runs `initdb` and starts `postgres` (as the `postgres` user when running as root), and
    /// waits until it accepts connections.
    pub fn start() -> Result<Self, String> {
        let bin = bin_dir().ok_or(
            "no PostgreSQL binaries (initdb, postgres) in `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH",
        )?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("integrations-pg-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?;
        if as_postgres {
            hand_to_postgres_user(dir.path())?;
        }
        let initdb = run_as(&bin.join("initdb"), as_postgres, dir.path())
            .arg("-D")
            .arg(dir.path().join("data"))
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !initdb.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&initdb.stderr)
            ));
        }
        let watchdog = start_watchdog(dir.path())?;
        let mut cluster = Self {
            dir,
            bin,
            as_postgres,
            postgres: None,
            watchdog,
        };
        cluster.start_again()?;
        Ok(cluster)
    }

    /// Settings to connect as the superuser to the `postgres` database.
    pub fn admin_config(&self) -> Config {
        let mut config = Config::new();
        config
            .host_path(self.dir.path())
            .port(PORT)
            .user("postgres")
            .dbname("postgres")
            .ssl_mode(SslMode::Disable);
        config
    }

    /// Settings for [`PostgresCredentialStore::open`](crate::PostgresCredentialStore::open) on
    /// the `postgres` database of this cluster.
    pub fn url(&self) -> String {
        render(&self.admin_config())
    }

    /// The same settings as a `postgres://` URL (the socket directory as its host).
    pub fn postgres_url(&self) -> String {
        render_url(&self.admin_config())
    }

    /// Stops the server with a fast shutdown (sessions are ended) and waits until it is gone.
    pub fn stop(&mut self) {
        let Some(mut postgres) = self.postgres.take() else {
            return;
        };
        if let Some(pid) = postmaster_pid(self.dir.path()) {
            // SAFETY: kill(2) with a pid read from the cluster's own postmaster.pid.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(postgres.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = postgres.kill();
        let _ = postgres.wait();
    }

    /// Starts the server (again, after [`Cluster::stop`]) on the same data and socket, and
    /// waits until it accepts connections.
    pub fn start_again(&mut self) -> Result<(), String> {
        if self.postgres.is_some() {
            return Ok(());
        }
        let dir = self.dir.path();
        let log = dir.join("postgres.log");
        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("opening the log: {e}"))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| format!("opening the log: {e}"))?;
        let mut postgres = run_as(&self.bin.join("postgres"), self.as_postgres, dir)
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-k")
            .arg(dir)
            .args(["-p", &PORT.to_string()])
            .args(["-c", "listen_addresses="])
            .args(["-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", "max_connections=500"])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = postgres.try_wait() {
                return Err(format!(
                    "postgres exited ({status}): {}",
                    fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            let ready = fs::read_to_string(dir.join("data/postmaster.pid"))
                .is_ok_and(|pid| pid.lines().nth(7).is_some_and(|s| s.trim() == "ready"));
            if ready {
                self.postgres = Some(postgres);
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = postgres.kill();
                let _ = postgres.wait();
                return Err(format!(
                    "postgres did not become ready in {START_TIMEOUT:?}: {}",
                    fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// The postmaster's process id, from `dir/data/postmaster.pid`.
fn postmaster_pid(dir: &Path) -> Option<i32> {
    fs::read_to_string(dir.join("data/postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A shell that stops the cluster in `dir` (whatever server runs there then) and removes the
/// directory once this process is gone, so that a cluster never outlives its tests, even when
/// they are killed.
fn start_watchdog(dir: &Path) -> Result<Child, String> {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 1; done; \
         pid=$(head -n 1 '{dir}/data/postmaster.pid' 2>/dev/null); \
         if [ -n \"$pid\" ]; then kill -INT \"$pid\" 2>/dev/null; \
         while kill -0 \"$pid\" 2>/dev/null; do sleep 0.1; done; fi; rm -rf '{dir}'",
        parent = std::process::id(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the cluster's watchdog: {e}"))
}

/// A command for `program`, run as the `postgres` user when `as_postgres`, in `dir`.
fn run_as(program: &Path, as_postgres: bool, dir: &Path) -> Command {
    let mut command = if as_postgres {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(program);
        runuser
    } else {
        Command::new(program)
    };
    command.current_dir(dir);
    command
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Gives `dir` to the `postgres` OS user.
fn hand_to_postgres_user(dir: &Path) -> Result<(), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| format!("running id: {e}"))?;
        if !out.status.success() {
            return Err("running as root and there is no `postgres` OS user to run PostgreSQL as (create one: useradd --system postgres)".into());
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("reading the postgres user's id: {e}"))
    };
    let (uid, gid) = (id("-u")?, id("-g")?);
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .map_err(|e: io::Error| format!("handing {} to the postgres user: {e}", dir.display()))
}

/// The first directory holding both `initdb` and `postgres`.
fn bin_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse().ok()?;
                Some((version, e.path().join("bin")))
            })
            .collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev().map(|(_, bin)| bin));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
}
