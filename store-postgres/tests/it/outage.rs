//! The database unreachable, silent or slow: calls fail with a retryable error in bounded time,
//! waiters poll, and the same store recovers when it is back. The store connects through a TCP
//! proxy that this test stops and starts again (which drops every connection and refuses new
//! ones, as a database restart does) or freezes, without disturbing the other tests' server.

use crate::notify::until_listening;
use crate::support::{self, Store};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_core::testing::{payload, payload_n};
use auth_core::{AuthError, CredentialRecord, CredentialStore, PutMode, StoreError};
use store_postgres::testing::{Cluster, Endpoint};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;

/// Forwards connections from a local TCP port to the database, until stopped; while frozen, it
/// holds every byte back without closing anything, as a network that went silent.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    frozen: Arc<AtomicBool>,
}

/// Copies from `from` to `to` until either closes, holding bytes back while `frozen`.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(n @ 1..) = from.read(&mut buf).await else {
            return;
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Forwards between `client` and `server` in both directions.
async fn forward(
    client: TcpStream,
    server: impl AsyncRead + AsyncWrite + Send + 'static,
    frozen: Arc<AtomicBool>,
) {
    let (client_in, client_out) = client.into_split();
    let (server_in, server_out) = tokio::io::split(server);
    tokio::join!(
        pump(client_in, server_out, frozen.clone()),
        pump(server_in, client_out, frozen)
    );
}

impl Proxy {
    /// Listens on `port` (0: any free one).
    async fn start(target: Endpoint, port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let frozen = Arc::new(AtomicBool::new(false));
        let (accepted, held) = (tasks.clone(), frozen.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (target, frozen) = (target.clone(), held.clone());
                let forwarding = tokio::spawn(async move {
                    match target {
                        Endpoint::Unix(dir, port) => {
                            let path = dir.join(format!(".s.PGSQL.{port}"));
                            if let Ok(server) = UnixStream::connect(path).await {
                                forward(client, server, frozen).await;
                            }
                        }
                        Endpoint::Tcp(host, port) => {
                            if let Ok(server) = TcpStream::connect((host.as_str(), port)).await {
                                forward(client, server, frozen).await;
                            }
                        }
                    }
                });
                accepted.lock().unwrap().push(forwarding);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self {
            port,
            tasks,
            frozen,
        }
    }

    /// Holds every byte back (`true`) or lets them through again.
    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }

    /// Closes the port and every forwarded connection.
    fn stop(self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Opens a store on `url` that gives up connecting after 1 s, with (p, s) holding 1, listening.
async fn open_listening(url: &str) -> Store {
    let store =
        support::with_record(support::builder(url, None).connect_timeout(Duration::from_secs(1)))
            .await;
    until_listening(&store, true).await;
    store
}

/// With the database gone: every call fails with a retryable error naming the operation and
/// `location`, within the connect timeout; the listener is down.
async fn assert_unavailable(store: &Store, location: &str) {
    for _ in 0..3 {
        let started = Instant::now();
        let err = store.get("p", "s").await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let StoreError::Io {
            store: kind,
            location: ref at,
            ref source,
        } = err
        else {
            panic!("expected a retryable Io error, got {err:?}");
        };
        assert_eq!(kind, "postgres");
        assert!(at.contains(location), "{at}");
        assert!(source.to_string().starts_with("get failed: "), "{source}");
        assert!(AuthError::from(err).is_transient());
    }
    let err = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    until_listening(store, false).await;
}

/// With the database back: the same store serves again, (p, s) still holds 1 and takes 2, and
/// the listener reconnects.
async fn assert_recovers(store: &Store) {
    let started = Instant::now();
    let got = loop {
        match store.get("p", "s").await {
            Ok(got) => break got.expect("the record"),
            Err(StoreError::Io { .. }) if started.elapsed() < Duration::from_secs(15) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery: {e:?}"),
        }
    };
    assert_eq!((got.version, payload_n(&got.record.payload)), (1, 1));
    store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(1),
        )
        .await
        .unwrap();
    until_listening(store, true).await;
}

#[tokio::test]
async fn an_unreachable_database_fails_calls_retryably_and_the_same_store_recovers() {
    let Some(db) = support::database().await else {
        return;
    };
    let proxy = Proxy::start(db.endpoint(), 0).await;
    let port = proxy.port;
    let store = open_listening(&db.url_via("127.0.0.1", port)).await;

    proxy.stop();
    assert_unavailable(&store, &format!("127.0.0.1:{port}")).await;

    // Waiters poll meanwhile: told to poll every 100 ms, they return long before the notified
    // wait's cap of 2 s.
    let started = Instant::now();
    store
        .wait_for_change(
            "p",
            "s",
            Duration::from_millis(100),
            Duration::from_secs(60),
        )
        .await;
    let took = started.elapsed();
    assert!(
        (Duration::from_millis(90)..Duration::from_millis(1_000)).contains(&took),
        "{took:?}"
    );

    // The database is back on the same address.
    let proxy = Proxy::start(db.endpoint(), port).await;
    assert_recovers(&store).await;
    proxy.stop();
}

#[tokio::test]
async fn sslmode_require_never_falls_back_to_plaintext() {
    let Some(db) = support::database().await else {
        return;
    };
    // The test server has no TLS: a URL that requires it is refused, as a setting to fix.
    let proxy = Proxy::start(db.endpoint(), 0).await;
    // The last setting of a key wins.
    let url = format!("{} sslmode=require", db.url_via("127.0.0.1", proxy.port));
    let err = support::builder(&url, None).open().await.unwrap_err();
    proxy.stop();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("failed: error performing TLS handshake: server does not support TLS"),
        "{err}"
    );
}

/// Opens a store on `url` whose statements time out after 500 ms, with (p, s) holding 1.
async fn open_impatient(url: &str) -> Store {
    support::with_record(support::builder(url, None).query_timeout(Duration::from_millis(500)))
        .await
}

/// The message of a retryable time-out error.
fn timed_out(err: StoreError) -> String {
    let StoreError::Io { ref source, .. } = err else {
        panic!("expected a retryable Io error, got {err:?}");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::TimedOut);
    source.to_string()
}

#[tokio::test]
async fn a_statement_stuck_behind_a_lock_is_cancelled_by_the_query_timeout_and_changes_nothing() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = open_impatient(&db.url()).await;
    let mut admin = db.connect().await;
    let lock = admin.transaction().await.unwrap();
    lock.execute("SELECT 1 FROM integrations_credentials FOR UPDATE", &[])
        .await
        .unwrap();

    let started = Instant::now();
    let err = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(1),
        )
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        (Duration::from_millis(450)..Duration::from_secs(3)).contains(&took),
        "{took:?}"
    );
    let message = timed_out(err);
    assert!(
        message.starts_with("conditional put failed: ")
            && message.contains("SQLSTATE 57014")
            && message.ends_with("the database did not answer in time, retry later"),
        "{message}"
    );

    lock.rollback().await.unwrap();
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(
        (got.version, payload_n(&got.record.payload)),
        (1, 1),
        "the cancelled put had no effect"
    );
    store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(1),
        )
        .await
        .unwrap();
}

/// Runs `call` with every byte to and from the database held back, and lets them through again:
/// the message of its retryable time-out error, and how long it took.
async fn while_frozen<T: std::fmt::Debug>(
    proxy: &Proxy,
    call: impl Future<Output = Result<T, StoreError>>,
) -> (String, Duration) {
    proxy.freeze(true);
    let started = Instant::now();
    let err = call.await.unwrap_err();
    let took = started.elapsed();
    proxy.freeze(false);
    (timed_out(err), took)
}

#[tokio::test]
async fn a_connection_gone_silent_fails_calls_retryably_and_the_store_goes_on() {
    let Some(db) = support::database().await else {
        return;
    };
    let proxy = Proxy::start(db.endpoint(), 0).await;
    let store = open_impatient(&db.url_via("127.0.0.1", proxy.port)).await;

    let (message, took) = while_frozen(&proxy, store.get("p", "s")).await;
    // The statement timeout plus the 5 s given to a silent connection.
    assert!(
        (Duration::from_millis(5_400)..Duration::from_secs(8)).contains(&took),
        "{took:?}"
    );
    assert!(
        message.starts_with("get failed: no answer within 5.5s"),
        "{message}"
    );
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(got.version, 1);

    // A migration too, within its statements' timeouts and the margin, instead of waiting for
    // the kernel to give up on the socket.
    let migration = ["CREATE TABLE silent_component (a int)"];
    let migrating = store.inner().migrate_component("silent", &migration);
    let (message, took) = while_frozen(&proxy, migrating).await;
    // Eight statements of 500 ms, and the 5 s given to a silent connection.
    assert!(
        (Duration::from_millis(8_900)..Duration::from_secs(12)).contains(&took),
        "{took:?}"
    );
    assert!(
        message.starts_with("migrating the schema failed: no answer within 9s"),
        "{message}"
    );
    store
        .inner()
        .migrate_component("silent", &migration)
        .await
        .unwrap();
    proxy.stop();
}

/// A cluster of the test's own; `None` (skip) when there are no PostgreSQL binaries outside CI.
fn own_cluster() -> Option<Cluster> {
    match tokio::task::block_in_place(Cluster::start) {
        Ok(cluster) => Some(cluster),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("CI needs PostgreSQL's binaries: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_database_fails_calls_retryably_then_the_same_store_recovers() {
    let Some(mut cluster) = own_cluster() else {
        return;
    };
    let store = open_listening(&cluster.url()).await;
    let Some(Host::Unix(dir)) = cluster.admin_config().get_hosts().first().cloned() else {
        panic!("the cluster listens on a Unix socket");
    };

    tokio::task::block_in_place(|| cluster.stop());
    assert_unavailable(&store, &dir.display().to_string()).await;
    tokio::task::block_in_place(|| cluster.start_again()).unwrap();
    assert_recovers(&store).await;

    // Dropped, the cluster is stopped and its directory removed.
    drop(store);
    tokio::task::block_in_place(|| drop(cluster));
    assert!(!dir.exists(), "{} is left behind", dir.display());
}
