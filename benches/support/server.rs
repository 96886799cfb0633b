//! A small local server on 127.0.0.1 that both sides of a figure talk to: an OAuth token endpoint
//! (with an adjustable delay, counting requests), `GET /api/1.0/users/{user}` and
//! `GET /api/1.0/projects/{pages}/tasks` serving canned Asana-shaped bodies.
//!
//! It runs on its own thread with its own single-threaded tokio runtime, so that the client side of
//! a benchmark never shares a runtime with it. Every body is built once at start and served as
//! shared bytes: the server does the same (small) work for our client and for the baseline.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

/// Items per page, as Asana serves at most.
pub const PAGE_SIZE: usize = 100;

/// The page counts a project can have: `GET /projects/{pages}/tasks` for each of these.
pub const PROJECT_PAGES: [usize; 2] = [10, 100];

/// A running local server; dropping it stops the server.
pub struct LocalServer {
    handle: ServerHandle,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What a benchmark needs from the server: its URLs and its token-request counter.
#[derive(Clone)]
pub struct ServerHandle {
    base: String,
    shared: Arc<Shared>,
}

struct Shared {
    token_requests: AtomicUsize,
    token_delay_ms: AtomicU64,
    user: Bytes,
    /// Page bodies by the project's page count.
    pages: HashMap<usize, Vec<Bytes>>,
}

impl LocalServer {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub fn start() -> LocalServer {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr: SocketAddr = listener.local_addr().expect("the bound address");
        let base = format!("http://{addr}");
        let shared = Arc::new(Shared {
            token_requests: AtomicUsize::new(0),
            token_delay_ms: AtomicU64::new(0),
            user: Bytes::from(user_body()),
            pages: PROJECT_PAGES
                .iter()
                .map(|&pages| (pages, page_bodies(&base, pages)))
                .collect(),
        });
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/api/1.0/users/{user}", get(user))
            .route("/api/1.0/projects/{pages}/tasks", get(tasks))
            .with_state(shared.clone());
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the server runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    let serve = axum::serve(listener, app).into_future();
                    tokio::select! {
                        result = serve => result.expect("the local server failed"),
                        _ = stop => {}
                    }
                });
            })
            .expect("the server thread");
        LocalServer {
            handle: ServerHandle { base, shared },
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// A handle to share with the benchmarks.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl ServerHandle {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// How many token requests the server has received so far.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// Makes the token endpoint wait this long before answering.
    pub fn set_token_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.token_delay_ms.store(ms, Ordering::SeqCst);
    }
}

/// `POST /oauth/token`: a new access token each time (no refresh token: the caller keeps its own).
async fn token(State(shared): State<Arc<Shared>>, _form: Bytes) -> Response {
    let n = shared.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = shared.token_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let body =
        format!(r#"{{"access_token":"bench-access-{n}","token_type":"bearer","expires_in":3600}}"#);
    json(Bytes::from(body))
}

/// `GET /api/1.0/users/{user}`: the same user whatever is asked.
async fn user(State(shared): State<Arc<Shared>>, Path(_user): Path<String>) -> Response {
    json(shared.user.clone())
}

/// `GET /api/1.0/projects/{pages}/tasks?limit=100&offset=o<index>`.
async fn tasks(
    State(shared): State<Arc<Shared>>,
    Path(pages): Path<usize>,
    RawQuery(query): RawQuery,
) -> Response {
    let index = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("offset=o"))
        .map_or(Some(0), |index| index.parse::<usize>().ok());
    match (shared.pages.get(&pages), index) {
        (Some(bodies), Some(index)) if index < bodies.len() => json(bodies[index].clone()),
        _ => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

fn json(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A full user record, as `GET /users/me` returns it.
fn user_body() -> String {
    r#"{"data":{"gid":"1201000000000001","resource_type":"user","name":"Greg Sanchez","email":"gsanchez@example.com","photo":{"image_21x21":"https://s3.amazonaws.com/profile_photos/21.png","image_27x27":"https://s3.amazonaws.com/profile_photos/27.png","image_36x36":"https://s3.amazonaws.com/profile_photos/36.png","image_60x60":"https://s3.amazonaws.com/profile_photos/60.png","image_128x128":"https://s3.amazonaws.com/profile_photos/128.png"},"workspaces":[{"gid":"1200000000000001","resource_type":"workspace","name":"My Company Workspace"},{"gid":"1200000000000002","resource_type":"workspace","name":"Side Project"}]}}"#
        .to_string()
}

/// The bodies of a project of `pages` pages of compact tasks, linked by `next_page`.
fn page_bodies(base: &str, pages: usize) -> Vec<Bytes> {
    (0..pages)
        .map(|index| {
            let items: Vec<String> = (0..PAGE_SIZE)
                .map(|i| {
                    let n = index * PAGE_SIZE + i;
                    format!(
                        r#"{{"gid":"{}","resource_type":"task","name":"Task {n}","resource_subtype":"default_task"}}"#,
                        1_300_000_000_000_000u64 + n as u64
                    )
                })
                .collect();
            let next = if index + 1 < pages {
                let path = format!("/projects/{pages}/tasks?limit={PAGE_SIZE}&offset=o{}", index + 1);
                format!(
                    r#"{{"offset":"o{}","path":"{path}","uri":"{base}/api/1.0{path}"}}"#,
                    index + 1
                )
            } else {
                "null".to_string()
            };
            Bytes::from(format!(
                r#"{{"data":[{}],"next_page":{next}}}"#,
                items.join(",")
            ))
        })
        .collect()
}
