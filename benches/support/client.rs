//! Figure 4, client overhead (`get_user("me")` through a session against a bare reqwest GET and
//! serde decode of the same body), and figure 5, pagination (streaming every task of a project
//! against a hand-written page loop).

use futures::TryStreamExt;
use integrations::asana::models::{Page, Task, User};
use integrations::asana::{AsanaClient, AsanaSessionExt, List};
use integrations::{MemoryCredentialStore, Session};
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::Value;

use super::server::{PAGE_SIZE, ServerHandle};
use super::{PROVIDER, REQUEST_TIMEOUT, SUBJECT, VALID_ACCESS_TOKEN, manager, valid_token};

/// `{"data": ...}`, as the baseline decodes it.
#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// Both clients of figures 4 and 5, on the same local server.
pub struct Clients {
    /// Kept so that the client's token source stays bound to a live session.
    _session: Session,
    client: AsanaClient,
    http: reqwest::Client,
    api: String,
}

impl Clients {
    /// `session.asana()` over a valid stored token, and a bare reqwest client.
    pub async fn new(server: &ServerHandle) -> Clients {
        let auth = manager(server.url(), MemoryCredentialStore::new());
        auth.store_credentials(PROVIDER, SUBJECT, &valid_token())
            .await
            .expect("store the valid token");
        let session = auth.session(SUBJECT).await.expect("open the session");
        let client = session.asana().expect("an Asana client");
        Clients {
            _session: session,
            client,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client"),
            api: format!("{}/api/1.0", server.url()),
        }
    }

    /// Ours: `client.get_user("me")` (token source, limiter, retry layer, typed decode).
    pub async fn get_user(&self) -> User {
        self.client.get_user("me").await.expect("get_user(\"me\")")
    }

    /// Baseline: GET the same URL with the same bearer token, decode the same type.
    pub async fn bare_get_user(&self) -> User {
        let body = self
            .http
            .get(format!("{}/users/me", self.api))
            .bearer_auth(VALID_ACCESS_TOKEN)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("GET /users/me")
            .bytes()
            .await
            .expect("the body");
        serde_json::from_slice::<Data<User>>(&body)
            .expect("a user")
            .data
    }

    /// Ours: streams every task of the project of `pages` pages; returns how many.
    pub async fn stream_tasks(&self, pages: usize) -> usize {
        count_items(self.client.tasks().list_for_project(&pages.to_string())).await
    }

    /// Ours, compact: streams the same tasks as `TaskCompact`s (`.compact()`, which also sends
    /// their `opt_fields`; the local server answers the same pages either way).
    pub async fn stream_compact_tasks(&self, pages: usize) -> usize {
        count_items(
            self.client
                .tasks()
                .list_for_project(&pages.to_string())
                .compact(),
        )
        .await
    }

    /// Baseline: the loop one would write by hand: GET a page, decode it, follow `next_page`.
    pub async fn loop_tasks(&self, pages: usize) -> usize {
        let mut offset: Option<String> = None;
        let mut count = 0;
        loop {
            let body = self.bare_page(pages, offset.as_deref()).await;
            let page: Page<Task> = serde_json::from_slice(&body).expect("a page of tasks");
            for task in page.data {
                std::hint::black_box(task);
                count += 1;
            }
            match page.next_page {
                Some(next) => offset = Some(next.offset),
                None => return count,
            }
        }
    }

    /// Baseline of figure 5's CPU: the same loop decoding each page into a `serde_json::Value`
    /// (generic decoding), taking the next offset out of it.
    pub async fn loop_values(&self, pages: usize) -> usize {
        let mut offset: Option<String> = None;
        let mut count = 0;
        loop {
            let body = self.bare_page(pages, offset.as_deref()).await;
            let mut page: Value = serde_json::from_slice(&body).expect("a page of JSON");
            if let Some(Value::Array(items)) = page.get_mut("data").map(Value::take) {
                for item in items {
                    std::hint::black_box(item);
                    count += 1;
                }
            }
            match page.pointer_mut("/next_page/offset").map(Value::take) {
                Some(Value::String(next)) => offset = Some(next),
                _ => return count,
            }
        }
    }

    /// The body of one page of the project of `pages` pages, as the hand-written loops GET it.
    async fn bare_page(&self, pages: usize, offset: Option<&str>) -> axum::body::Bytes {
        let mut request = self
            .http
            .get(format!("{}/projects/{pages}/tasks", self.api))
            .bearer_auth(VALID_ACCESS_TOKEN)
            .header(ACCEPT, "application/json")
            .query(&[("limit", PAGE_SIZE)]);
        if let Some(offset) = offset {
            request = request.query(&[("offset", offset)]);
        }
        request
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("GET a page")
            .bytes()
            .await
            .expect("the page body")
    }
}

/// Streams every item of `list`, each consumed as it arrives; returns how many.
async fn count_items<T: serde::de::DeserializeOwned + Send + 'static>(list: List<T>) -> usize {
    list.stream()
        .try_fold(0, |count, item| {
            std::hint::black_box(item);
            futures::future::ready(Ok(count + 1))
        })
        .await
        .expect("stream the tasks")
}
