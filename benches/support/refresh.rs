//! Figure 2, the refresh storm (many tasks of one process ask for a token that has just expired),
//! and figure 3, the cross-process refresh (two processes sharing one SQLite store do the same).
//!
//! Both count the token requests the local server received; both compare wall time with one
//! refresh request sent straight to the same token endpoint, with the same server-side delay.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integrations::{
    AuthManager, MemoryCredentialStore, OAuth2Token, Session, SqliteCredentialStore,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::server::ServerHandle;
use super::{
    CLIENT_ID, CLIENT_SECRET, PROVIDER, REFRESH_TOKEN, REQUEST_TIMEOUT, SUBJECT, expired_token,
    manager,
};

/// The hidden first argument that makes a bench or example binary the second process of figure 3.
pub const CHILD_FLAG: &str = "--cross-process-child";

/// Server-side latency of the token endpoint in figures 2 and 3, so that the ratio measures the
/// coordination overhead rather than the loopback round trip.
pub const TOKEN_DELAY: Duration = Duration::from_millis(50);

/// What one storm or race did.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// From the first caller's start until every caller had its token.
    pub elapsed: Duration,
    /// Token requests the server received meanwhile.
    pub token_requests: usize,
}

/// One refresh request straight to the token endpoint: the baseline of figures 2 and 3.
pub struct OneRefresh {
    http: reqwest::Client,
    token_url: String,
}

impl OneRefresh {
    /// A client for the server's token endpoint.
    pub fn new(server: &ServerHandle) -> OneRefresh {
        OneRefresh {
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client"),
            token_url: format!("{}/oauth/token", server.url()),
        }
    }

    /// Sends the refresh form a session sends and reads the answer; returns the wall time.
    pub async fn run(&self) -> Duration {
        let start = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .header("Accept", "application/json")
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", REFRESH_TOKEN),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .expect("the token endpoint answers");
        assert!(response.status().is_success(), "the refresh succeeds");
        let body = response.bytes().await.expect("the token response");
        std::hint::black_box(body);
        start.elapsed()
    }
}

/// Figure 2: one session (memory store) shared by many tasks.
pub struct Storm {
    server: ServerHandle,
    auth: AuthManager,
    session: Arc<Session>,
}

impl Storm {
    /// A manager over a memory store and a session on an expired token.
    pub async fn new(server: &ServerHandle) -> Storm {
        let auth = manager(server.url(), MemoryCredentialStore::new());
        auth.store_credentials(PROVIDER, SUBJECT, &expired_token())
            .await
            .expect("store the expired token");
        let session = Arc::new(auth.session(SUBJECT).await.expect("open the session"));
        Storm {
            server: server.clone(),
            auth,
            session,
        }
    }

    /// Stores a token that has just expired (every session of the subject sees it at once), then
    /// `callers` tasks ask for a token at the same time. Checks that every caller got the same
    /// new token.
    pub async fn run(&self, callers: usize) -> Outcome {
        self.auth
            .store_credentials(PROVIDER, SUBJECT, &expired_token())
            .await
            .expect("store the expired token");
        let before = self.server.token_requests();
        let start = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let session = self.session.clone();
                tokio::spawn(async move { session.token(PROVIDER).await })
            })
            .collect();
        let mut tokens = BTreeSet::new();
        for task in tasks {
            let token = task
                .await
                .expect("the caller task ran")
                .expect("a fresh token");
            tokens.insert(token.expose_secret().to_string());
        }
        let elapsed = start.elapsed();
        assert_eq!(tokens.len(), 1, "every caller got the same token");
        assert!(
            tokens.iter().all(|t| t.starts_with("bench-access-")),
            "the token is the refreshed one"
        );
        Outcome {
            elapsed,
            token_requests: self.server.token_requests() - before,
        }
    }
}

/// One side of figure 3: a manager over the shared SQLite file and a session on the expired token.
struct Racer {
    auth: AuthManager,
    session: Arc<Session>,
}

impl Racer {
    async fn open(server_url: &str, db: &Path) -> Racer {
        let store = SqliteCredentialStore::builder(db)
            .unencrypted()
            .open()
            .await
            .expect("open the shared SQLite store");
        let auth = manager(server_url, store);
        let session = Arc::new(auth.session(SUBJECT).await.expect("open the session"));
        Racer { auth, session }
    }

    /// `callers` concurrent `token()` calls; checks that they all got one token and that it is
    /// the one the store now holds.
    async fn race(&self, callers: usize) {
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let session = self.session.clone();
                tokio::spawn(async move { session.token(PROVIDER).await })
            })
            .collect();
        let mut tokens = Vec::with_capacity(callers);
        for task in tasks {
            tokens.push(
                task.await
                    .expect("the caller task ran")
                    .expect("a fresh token"),
            );
        }
        let stored: OAuth2Token = self
            .auth
            .load_credentials(PROVIDER, SUBJECT)
            .await
            .expect("read the store")
            .expect("the credentials are stored");
        assert!(
            tokens.iter().all(|t| t.same_secret(&stored.access_token)),
            "every caller got the token the store holds"
        );
        assert_eq!(
            stored.refresh_token.as_ref().map(|t| t.expose_secret()),
            Some(REFRESH_TOKEN),
            "the refresh token is kept"
        );
    }
}

/// Figure 3: this process and a second one (`exe` run with [`CHILD_FLAG`]) share one SQLite file
/// holding an expired token; each runs `callers` concurrent `token()` calls, started together.
pub async fn cross_process(server: &ServerHandle, exe: &Path, callers: usize) -> Outcome {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("shared.db");
    let racer = Racer::open(server.url(), &db).await;
    racer
        .auth
        .store_credentials(PROVIDER, SUBJECT, &expired_token())
        .await
        .expect("store the expired token");

    let mut child = Command::new(exe)
        .arg(CHILD_FLAG)
        .arg(server.url())
        .arg(&db)
        .arg(callers.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the second process");
    let mut lines = BufReader::new(child.stdout.take().expect("the child's stdout")).lines();
    let mut stdin = child.stdin.take().expect("the child's stdin");
    let ready = lines.next_line().await.expect("read the child's output");
    assert_eq!(
        ready.as_deref(),
        Some("ready"),
        "the child opened its session"
    );

    let before = server.token_requests();
    let start = Instant::now();
    stdin.write_all(b"go\n").await.expect("signal the child");
    stdin.flush().await.expect("signal the child");
    racer.race(callers).await;
    let done = lines.next_line().await.expect("read the child's output");
    let elapsed = start.elapsed();
    assert_eq!(
        done.as_deref(),
        Some("done"),
        "the child's callers succeeded"
    );
    let status = child.wait().await.expect("the child exits");
    assert!(status.success(), "the child exited with {status}");
    Outcome {
        elapsed,
        token_requests: server.token_requests() - before,
    }
}

/// The second process of figure 3. Arguments after [`CHILD_FLAG`]: server URL, database path,
/// number of callers. Prints `ready` once its session is open, waits for a line on stdin, runs
/// its callers, and prints `done`.
pub fn child_main(args: &[String]) -> ExitCode {
    let [server_url, db, callers] = args else {
        eprintln!("usage: {CHILD_FLAG} <server url> <database> <callers>");
        return ExitCode::FAILURE;
    };
    let Ok(callers) = callers.parse::<usize>() else {
        eprintln!("{CHILD_FLAG}: <callers> must be a number");
        return ExitCode::FAILURE;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let racer = Racer::open(server_url, Path::new(db)).await;
        println!("ready");
        let mut go = String::new();
        let mut stdin = BufReader::new(tokio::io::stdin());
        stdin.read_line(&mut go).await.expect("wait for the signal");
        racer.race(callers).await;
        println!("done");
    });
    ExitCode::SUCCESS
}
