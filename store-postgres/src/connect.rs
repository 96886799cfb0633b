//! Connections: TLS as the URL asks, the pool, and the listener's own connection.
//!
//! `sslmode=require` connects with TLS through rustls, verifying the server's certificate
//! against the Mozilla root certificates (webpki-roots) and its name against the host. Without
//! `sslmode`, or with `sslmode=disable` or `prefer`, connections are plaintext: `prefer` cannot
//! protect against an attacker on the path (one can answer "no TLS"), so asking for TLS means
//! `require`. A Unix socket path as host never uses TLS.

use std::sync::Arc;
use std::time::Duration;

use auth_core::StoreError;
use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Metrics, Pool, QueueMode, RecyclingMethod, Runtime,
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{backend, pg_error};

/// How connections are secured.
#[derive(Clone)]
pub(crate) enum Tls {
    /// Plaintext (or a Unix socket).
    Plain,
    /// TLS through rustls.
    Rustls(MakeRustlsConnect),
}

impl Tls {
    /// What `config`'s `sslmode` asks for; `prefer` becomes `disable` (see the module docs).
    pub(crate) fn for_config(config: &mut Config, location: &str) -> Result<Self, StoreError> {
        if config.get_ssl_mode() != SslMode::Require {
            config.ssl_mode(SslMode::Disable);
            return Ok(Tls::Plain);
        }
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| backend(location, "setting up TLS", &e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Tls::Rustls(MakeRustlsConnect::new(tls)))
    }

    /// Whether connections use TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Tls::Rustls(_))
    }
}

/// How a pool is sized and kept.
pub(crate) struct PoolSettings {
    /// The most connections it opens.
    pub(crate) size: usize,
    /// How long a connection may sit unused before it is replaced instead of lent.
    pub(crate) max_idle: Duration,
    /// How long connecting, or waiting for a free connection, may take.
    pub(crate) connect_timeout: Duration,
}

/// A pool of connections to `config`, as `settings` say.
pub(crate) fn pool(
    config: Config,
    tls: &Tls,
    settings: PoolSettings,
    location: &str,
) -> Result<Pool, StoreError> {
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls {
        Tls::Plain => Manager::from_config(config, NoTls, manager_config),
        Tls::Rustls(tls) => Manager::from_config(config, tls.clone(), manager_config),
    };
    let PoolSettings {
        size,
        max_idle,
        connect_timeout,
    } = settings;
    Pool::builder(manager)
        .max_size(size)
        // The connection used last goes out first: a few warm server processes serve a light
        // load, instead of every connection in turn with its caches gone cold.
        .queue_mode(QueueMode::Lifo)
        // One unused for longer is dropped (the pool then lends another or opens a new one):
        // something on the way may have dropped it silently.
        .pre_recycle(Hook::sync_fn(move |_, metrics| {
            if overstayed(metrics, max_idle) {
                Err(HookError::message("idle for longer than the store allows"))
            } else {
                Ok(())
            }
        }))
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(connect_timeout))
        .wait_timeout(Some(connect_timeout))
        .recycle_timeout(Some(connect_timeout))
        .build()
        .map_err(|e| backend(location, "creating the connection pool", &e.to_string()))
}

/// Whether a pooled connection has been unused for longer than `max_idle`.
fn overstayed(metrics: &Metrics, max_idle: Duration) -> bool {
    metrics.last_used() > max_idle
}

/// Closes `pool`'s connections unused for longer than `max_idle`, looking every half of it
/// (at least every 100 ms); runs until aborted.
pub(crate) async fn prune(pool: Pool, max_idle: Duration) {
    let every = (max_idle / 2).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        pool.retain(|_, metrics| !overstayed(&metrics, max_idle));
    }
}

/// A connection of its own whose notifications arrive on the returned channel (closed when the
/// connection ends), and the task driving it.
pub(crate) async fn dedicated(
    config: &Config,
    tls: &Tls,
    location: &str,
) -> Result<(Client, mpsc::UnboundedReceiver<String>, JoinHandle<()>), StoreError> {
    let err = |e: tokio_postgres::Error| pg_error(location, "connecting the listener", &e);
    let (tx, rx) = mpsc::unbounded_channel();
    let (client, driver) = match tls {
        Tls::Plain => {
            let (client, connection) = config.connect(NoTls).await.map_err(err)?;
            (client, tokio::spawn(drive(connection, tx)))
        }
        Tls::Rustls(tls) => {
            let (client, connection) = config.connect(tls.clone()).await.map_err(err)?;
            (client, tokio::spawn(drive(connection, tx)))
        }
    };
    Ok((client, rx, driver))
}

/// Polls `connection` until it ends, forwarding each notification's payload.
async fn drive<T>(mut connection: Connection<Socket, T>, tx: mpsc::UnboundedSender<String>)
where
    T: tokio_postgres::tls::TlsStream + Unpin,
{
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(n)) => {
                if tx.send(n.payload().to_string()).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "the listener's connection ended");
                return;
            }
        }
    }
}
