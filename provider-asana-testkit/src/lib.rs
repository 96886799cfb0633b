//! `MockAsana`: a stateful fake Asana on [`wiremock`], for this project's tests and for yours.
//!
//! A [`MockAsana`] listens on `127.0.0.1`, runs the OAuth endpoints (authorization code grant with
//! PKCE, refresh, revocation) and a REST API under `/api/1.0` over seeded, deterministic data (see
//! [`seed`]). It answers with the shapes the real Asana sends: `{"data": ...}` envelopes,
//! `{"errors": [...]}` errors, `next_page` pagination, the real token response (numeric `data.id`,
//! string `data.gid`, `token_type` `bearer`) and the exact 401 message for an expired token. Knobs
//! inject failures (`fail_next`, `rate_limit_next`, `fail_next_token_requests`), expire or revoke
//! tokens, expire the sync tokens of `GET /events` and slow responses down; counters tell a test
//! what a client actually sent.
//!
//! It knows nothing of `provider-asana`: it speaks Asana's wire format, so it tests any Asana
//! client. To use it in your own tests, add it as a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! provider-asana-testkit = "0.1"
//! ```
//!
//! and point your client at it, for example with [`MockAsana::app_config`] (the URLs and app
//! credentials an Asana provider needs) or [`MockAsana::api_base_url`] and
//! [`MockAsana::personal_access_token`]. The [example](#example) below speaks to it with plain
//! HTTP; with this project's library, `AuthManager::builder().configure("asana",
//! asana.app_config())` points the Asana provider at it, and [`MockAsana::consent`] answers the
//! consent page of `flow.authorize(...)`'s URL with the callback URL whose code
//! `flow.exchange(...)` takes (the repository's `examples/quickstart.rs` runs that whole flow).
//!
//! # Endpoints
//!
//! | endpoint | behaviour |
//! | --- | --- |
//! | `GET /-/oauth_authorize` | checks `client_id` and the exact `redirect_uri` (400 otherwise, no redirect); then 302 to `redirect_uri?code=...&state=...`, or `?error=...` (missing `state`, `response_type` not `code`, PKCE missing or not `S256`, a queued denial) |
//! | `POST /-/oauth_token` | form body; client credentials in the body or HTTP Basic; `authorization_code` (single-use code, 15 minute life, same `redirect_uri`, PKCE S256) and `refresh_token` (no new refresh token) |
//! | `POST /-/oauth_revoke` | form `token` = a refresh token: revokes the grant and its access tokens; 200 for unknown tokens, 400 for access tokens |
//! | `/api/1.0/...` | `Authorization: Bearer` with an access token or [`MockAsana::personal_access_token`]; users, workspaces, teams, projects, sections, tasks, subtasks, stories, tags, attachments, and every other resource Asana's API has (custom fields, goals, portfolios, status updates, time tracking, memberships, templates, jobs, webhooks, time periods, typeahead, batch) |
//! | `GET /-/attachments/{gid}/{name}?signature=...` | the storage host of an attachment's `download_url`: the bytes with no token; 400 if an `Authorization` header is sent (as a presigned storage URL answers), 403 for a wrong signature |
//!
//! API routes: `GET /users?workspace|team`, `GET /users/{gid|me|email}`,
//! `GET /users/{gid|me|email}/teams?organization`, `GET /workspaces`, `GET /workspaces/{gid}`,
//! `GET /workspaces/{gid}/users`, `GET /workspaces/{gid}/tasks/search` (no paging; `sort_by` is
//! ignored: gid order), `POST /workspaces/{gid}/addUser`, `GET /workspaces/{gid}/teams`,
//! `GET /workspaces/{gid}/projects`, `GET|POST /workspaces/{gid}/tags`, `GET /teams/{gid}`,
//! `GET /teams/{gid}/users`, `GET /teams/{gid}/projects`, `GET /projects?workspace|team`,
//! `POST /projects`, `GET|PUT|DELETE /projects/{gid}`, `GET|POST /projects/{gid}/sections`,
//! `GET /projects/{gid}/tasks`, `GET|PUT|DELETE /sections/{gid}`, `GET /sections/{gid}/tasks`,
//! `POST /sections/{gid}/addTask`, `GET /tasks?project|section|tag|assignee+workspace`, `POST /tasks`,
//! `GET|PUT|DELETE /tasks/{gid}`, `GET|POST /tasks/{gid}/subtasks`, `GET|POST /tasks/{gid}/stories`,
//! `GET /tasks/{gid}/projects`, `GET /tasks/{gid}/dependencies`, `GET /tasks/{gid}/dependents`,
//! `POST /tasks/{gid}/addTag|removeTag`, `GET /attachments?parent` (a task),
//! `GET|DELETE /attachments/{gid}`, `GET /tags?workspace`, `POST /tags`,
//! `GET|PUT|DELETE /tags/{gid}`, `GET /tags/{gid}/tasks`, `GET /events?resource&sync`.
//!
//! Kept as generic records (created from the request body, where fields naming objects become
//! `{gid, name, resource_type}` references and unknown gids are a 400; `PUT` merges the body;
//! a deleted record is 404): custom fields with their enum options
//! (`/workspaces/{gid}/custom_fields`, `/custom_fields[/{gid}[/enum_options[/insert]]]`,
//! `/enum_options/{gid}`) and settings (`/projects|portfolios/{gid}/custom_field_settings`,
//! `addCustomFieldSetting`, `removeCustomFieldSetting`); `/status_updates[/{gid}]` and
//! `/projects/{gid}/project_statuses`; `/goals[/{gid}]` with `setMetric`,
//! `setMetricCurrentValue`, `addFollowers`, `removeFollowers`, `parentGoals`,
//! `addSupportingRelationship`, `removeSupportingRelationship` and `/goal_relationships[/{gid}]`;
//! `/portfolios[/{gid}]` with `items`, `addItem`, `removeItem`, `addMembers`, `removeMembers`,
//! `portfolio_memberships`; `/time_tracking_entries[/{gid}]` and
//! `/tasks/{gid}/time_tracking_entries`; `/user_task_lists/{gid}[/tasks]` and
//! `/users/{gid}/user_task_list`; `/memberships[/{gid}]`, `/projects/{gid}/project_memberships`,
//! `/project_memberships/{gid}`, `/projects/{gid}/addMembers|removeMembers|addFollowers|removeFollowers`;
//! team and workspace memberships (`/teams/{gid}/team_memberships`, `/team_memberships[/{gid}]`,
//! `/users/{gid}/team_memberships`, `/workspaces/{gid}/workspace_memberships`,
//! `/workspace_memberships/{gid}`, `/users/{gid}/workspace_memberships`), kept in step with
//! `addUser`/`removeUser` on teams and workspaces; `/project_templates[/{gid}]`,
//! `/teams/{gid}/project_templates`, `saveAsTemplate`, `instantiateProject`; `/jobs/{gid}` (the
//! succeeded jobs of duplicating tasks and projects, saving and instantiating templates);
//! `/webhooks[/{gid}]`; `/time_periods[/{gid}]`. Also `PUT /workspaces/{gid}`,
//! `GET /workspaces/{gid}/users/{gid}`, `GET /workspaces/{gid}/tasks/custom_id/{id}`,
//! `GET /workspaces/{gid}/typeahead` (names containing `query`, of one `resource_type`, at most
//! `count`), `POST /teams`, `PUT /teams/{gid}`, `POST /teams|workspaces/{gid}/projects`,
//! `POST /tasks|projects/{gid}/duplicate`, `GET /projects/{gid}/task_counts`,
//! `GET /users/{gid}/favorites` and `POST /batch` (each call routed as if sent alone).
//! Path segments are percent-decoded. Other routes answer 404 `No matching route for request`.
//!
//! Lists take `limit` (1..=100, otherwise 400) and an opaque `offset`; `next_page`
//! (`{offset, path, uri}` or `null`) is present only when `limit` was sent. Lists return compact
//! records, single objects full ones; `opt_fields` keeps `gid` and the named top-level fields
//! (`assignee.name` keeps `assignee`). Task lists also take `completed_since` and `modified_since`.
//!
//! `GET /events?resource=<gid>&sync=<token>` answers the changes to tasks made through the API
//! since the token: `added` (a task created, a subtask added to its parent, a task added to a
//! project, with that project or parent task as `parent`), `changed` (`PUT /tasks/{gid}`, tags,
//! followers, dependencies, parent, a move to another section), `removed` (from a project) and
//! `deleted`, each `{user, created_at, type: "task", action, resource, parent}`. A `resource`
//! (a task or project) gets the events of that task, of the tasks in that project and of its
//! subtasks being added; oldest first, at most 100, with the next `sync` and `has_more`. Without
//! `sync`, or with a token the mock did not issue for that resource or that
//! [`MockAsana::expire_sync_tokens`] expired, it answers 412 with a fresh token in `sync`, as
//! Asana does.
//!
//! The mocks are mounted with wiremock's default priority (5), so a test can override any
//! endpoint by mounting its own mock with a smaller priority on [`MockAsana::server`].
//!
//! # Time
//!
//! The server runs on its own thread and in real time: token and code expiry use
//! [`std::time::Instant`] and latency sleeps for real. To test expiry, call
//! [`MockAsana::expire_access_tokens`] or use [`MockAsanaBuilder::token_lifetime`] rather than
//! advancing tokio's clock. Do not drive a mock from a test with tokio's paused clock
//! (`start_paused = true`) through an HTTP client that has a timeout: while the test waits on the
//! socket, paused time may auto-advance to the timeout and the request fails spuriously.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use provider_asana_testkit::{MockAsana, seed};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let asana = MockAsana::start().await;
//! let http = reqwest::Client::builder()
//!     .timeout(Duration::from_secs(10))
//!     .build()?;
//!
//! // A personal access token works at once.
//! let me: serde_json::Value = http
//!     .get(format!("{}/users/me", asana.api_base_url()))
//!     .bearer_auth(asana.personal_access_token())
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(me["data"]["gid"], seed::ME_GID);
//! assert_eq!(me["data"]["name"], "Greg Sanchez");
//!
//! // The OAuth dance: consent (auto-granted), then the code exchange with the PKCE verifier.
//! let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; // BASE64URL(SHA256(verifier))
//! let authorize = reqwest::Url::parse_with_params(
//!     &asana.authorization_url(),
//!     [
//!         ("client_id", asana.client_id()),
//!         ("redirect_uri", asana.redirect_uri()),
//!         ("response_type", "code"),
//!         ("state", "xyz"),
//!         ("code_challenge", challenge),
//!         ("code_challenge_method", "S256"),
//!     ],
//! )?;
//! let callback = asana.consent(authorize.as_str()).await?;
//! let code = callback
//!     .query_pairs()
//!     .find(|(name, _)| name == "code")
//!     .map(|(_, value)| value.into_owned())
//!     .expect("the callback carries a code");
//! let tokens: serde_json::Value = http
//!     .post(asana.token_url())
//!     .form(&[
//!         ("grant_type", "authorization_code"),
//!         ("client_id", asana.client_id()),
//!         ("client_secret", asana.client_secret()),
//!         ("redirect_uri", asana.redirect_uri()),
//!         ("code", code.as_str()),
//!         ("code_verifier", verifier),
//!     ])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(tokens["token_type"], "bearer");
//! assert_eq!(tokens["data"]["id"], 4673218951_u64);
//! assert_eq!(asana.token_requests_for("authorization_code"), 1);
//!
//! // Knobs: the next API request gets a 503 envelope.
//! asana.fail_next(1, 503);
//! let status = http
//!     .get(format!("{}/workspaces", asana.api_base_url()))
//!     .bearer_auth(tokens["access_token"].as_str().unwrap_or_default())
//!     .send()
//!     .await?
//!     .status();
//! assert_eq!(status, 503);
//! assert_eq!(asana.requests_to("GET", "/api/1.0/workspaces"), 1);
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers, each module importing only those above it in this list: `seed`; `data` (the objects);
// `state` (app, grants, tokens, faults, counters, replies); `request` (a parsed API request and
// its answers); `resources` (the API operations, found by `asana_endpoints::route`); `api` and
// `oauth` (the endpoints' handlers);
// `responder` (the wiremock responder that dispatches to them); this file (the server and builder).
mod api;
mod data;
mod oauth;
mod request;
mod resources;
mod responder;
pub mod seed;
mod state;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{path, path_regex};
use wiremock::{Mock, MockServer, Request};

pub use self::request::UNPAGINATED_MAX;

use self::data::Data;
use self::responder::{Endpoint, Responder};
use self::state::{App, Counters, Fault, FaultKind, Shared, State};

/// The redirect URI registered for the mock's app unless the builder says otherwise.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";
/// The mock app's client id unless the builder says otherwise.
pub const DEFAULT_CLIENT_ID: &str = "1201234567890123";
/// The mock app's client secret unless the builder says otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "mock-asana-client-secret";
/// The personal access token every mock accepts (it never expires).
pub const PERSONAL_ACCESS_TOKEN: &str = "2/4673218951/1201000000000999:mock-personal-access-token";
/// The lifetime of access tokens unless changed: Asana's one hour.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3600;
/// How long an authorization code stays exchangeable.
pub const CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// A running fake Asana. Dropping it stops the server.
///
/// Every method that reads or changes state is synchronous (the state sits behind a mutex that no
/// endpoint holds across an `.await`).
pub struct MockAsana {
    /// Taken only by `Drop`.
    server: Option<MockServer>,
    state: Shared,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    tasks_per_project: usize,
}

/// wiremock's `MockServer` blocks on a tokio lock when dropped. On a runtime thread whose task
/// has spent its cooperative budget (awaiting a few hundred finished tasks does), that lock's
/// budget check never passes and the drop spins forever; on a thread of its own, it cannot.
impl Drop for MockAsana {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = std::thread::spawn(move || drop(server)).join();
        }
    }
}

impl fmt::Debug for MockAsana {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAsana")
            .field("uri", &self.server().uri())
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("tasks_per_project", &self.tasks_per_project)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`MockAsana`]; start it with [`MockAsanaBuilder::start`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use provider_asana_testkit::MockAsana;
///
/// let asana = MockAsana::builder()
///     .tasks_per_project(120)
///     .redirect_uri("http://localhost:9000/oauth/callback")
///     .start()
///     .await;
/// assert_eq!(asana.redirect_uri(), "http://localhost:9000/oauth/callback");
/// assert_eq!(asana.tasks_per_project(), 120);
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MockAsanaBuilder {
    tasks_per_project: usize,
    redirect_uri: String,
    client_id: String,
    client_secret: String,
    token_lifetime_secs: u64,
    latency: Duration,
    require_pkce: bool,
}

impl Default for MockAsanaBuilder {
    fn default() -> Self {
        MockAsanaBuilder {
            tasks_per_project: seed::DEFAULT_TASKS_PER_PROJECT,
            redirect_uri: DEFAULT_REDIRECT_URI.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            token_lifetime_secs: DEFAULT_TOKEN_LIFETIME_SECS,
            latency: Duration::ZERO,
            require_pkce: true,
        }
    }
}

impl MockAsanaBuilder {
    /// How many generated tasks the Backlog project holds (default 250: three pages of 100).
    pub fn tasks_per_project(mut self, tasks: usize) -> Self {
        self.tasks_per_project = tasks;
        self
    }

    /// The redirect URI registered for the app (default [`DEFAULT_REDIRECT_URI`]); authorization
    /// requests must send exactly this value.
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = redirect_uri.into();
        self
    }

    /// The app's client id (default [`DEFAULT_CLIENT_ID`]).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// The app's client secret (default [`DEFAULT_CLIENT_SECRET`]).
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = client_secret.into();
        self
    }

    /// The lifetime of access tokens issued from now on, in seconds (default 3600); also their
    /// `expires_in`. Zero makes every new access token expired at once.
    pub fn token_lifetime(mut self, secs: u64) -> Self {
        self.token_lifetime_secs = secs;
        self
    }

    /// A delay added to every response (default none).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Whether authorization requests must carry a PKCE `S256` challenge (default `true`; the real
    /// Asana also accepts requests without PKCE).
    pub fn require_pkce(mut self, require: bool) -> Self {
        self.require_pkce = require;
        self
    }

    /// Starts the server on `127.0.0.1` with a fresh seed.
    pub async fn start(self) -> MockAsana {
        let server = MockServer::builder().start().await;
        let me = seed::ME_GID.parse().unwrap_or_default();
        let state = Shared::new(State {
            app: App {
                uri: server.uri(),
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.clone(),
                redirect_uri: self.redirect_uri.clone(),
                personal_access_token: PERSONAL_ACCESS_TOKEN.into(),
                require_pkce: self.require_pkce,
                me,
            },
            token_lifetime_secs: self.token_lifetime_secs,
            code_lifetime: CODE_LIFETIME,
            latency: self.latency,
            codes: HashMap::new(),
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            api_faults: VecDeque::new(),
            token_faults: VecDeque::new(),
            denials: 0,
            counters: Counters::default(),
            data: Data::seeded(self.tasks_per_project),
        });
        for (matcher_path, endpoint, name) in [
            (
                "/-/oauth_authorize",
                Endpoint::Authorize,
                "asana oauth_authorize",
            ),
            ("/-/oauth_token", Endpoint::Token, "asana oauth_token"),
            ("/-/oauth_revoke", Endpoint::Revoke, "asana oauth_revoke"),
        ] {
            Mock::given(path(matcher_path))
                .respond_with(Responder {
                    state: state.clone(),
                    endpoint,
                })
                .named(name)
                .mount(&server)
                .await;
        }
        Mock::given(path_regex(r"^/-/attachments/"))
            .respond_with(Responder {
                state: state.clone(),
                endpoint: Endpoint::Download,
            })
            .named("asana attachment downloads")
            .mount(&server)
            .await;
        Mock::given(path_regex(r"^/api/1\.0(/.*)?$"))
            .respond_with(Responder {
                state: state.clone(),
                endpoint: Endpoint::Api,
            })
            .named("asana api")
            .mount(&server)
            .await;
        MockAsana {
            server: Some(server),
            state,
            client_id: self.client_id,
            client_secret: self.client_secret,
            redirect_uri: self.redirect_uri,
            tasks_per_project: self.tasks_per_project,
        }
    }
}

/// Tokens issued by [`MockAsana::issue_tokens`], without going through the OAuth endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedTokens {
    /// A live access token.
    pub access_token: String,
    /// The grant's refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Why [`MockAsana::consent`] could not produce a callback URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The URL does not point at this mock's authorization endpoint; nothing was sent.
    #[error("the authorization URL does not start with this mock's {expected}")]
    NotThisMock {
        /// This mock's authorization endpoint.
        expected: String,
    },
    /// The request to the authorization endpoint failed.
    #[error("the request to the mock authorization endpoint failed")]
    Http(#[source] reqwest::Error),
    /// The authorization endpoint refused without redirecting (bad `client_id` or `redirect_uri`).
    #[error("the mock authorization endpoint answered {status} without a redirect: {body}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The response body (an OAuth error object).
        body: String,
    },
    /// The redirect's `Location` is not a valid URL.
    #[error("the mock authorization endpoint redirected to an invalid URL")]
    BadLocation,
}

impl MockAsana {
    /// Starts a mock with the default settings (see [`MockAsanaBuilder`]).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// A builder for a mock with other settings.
    pub fn builder() -> MockAsanaBuilder {
        MockAsanaBuilder::default()
    }

    /// The server's base URI, e.g. `http://127.0.0.1:41234`.
    pub fn uri(&self) -> String {
        self.server().uri()
    }

    /// The API base URL: `{uri}/api/1.0`.
    pub fn api_base_url(&self) -> String {
        format!("{}/api/1.0", self.server().uri())
    }

    /// The authorization endpoint: `{uri}/-/oauth_authorize`.
    pub fn authorization_url(&self) -> String {
        format!("{}/-/oauth_authorize", self.server().uri())
    }

    /// The token endpoint: `{uri}/-/oauth_token`.
    pub fn token_url(&self) -> String {
        format!("{}/-/oauth_token", self.server().uri())
    }

    /// The revocation endpoint: `{uri}/-/oauth_revoke`.
    pub fn revocation_url(&self) -> String {
        format!("{}/-/oauth_revoke", self.server().uri())
    }

    /// The registered app's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The registered app's client secret (test data, hence a plain `&str`).
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The redirect URI registered for the app.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// A personal access token the mock accepts as Greg Sanchez; it never expires.
    pub fn personal_access_token(&self) -> &str {
        PERSONAL_ACCESS_TOKEN
    }

    /// How many generated tasks the Backlog project started with.
    pub fn tasks_per_project(&self) -> usize {
        self.tasks_per_project
    }

    /// Everything an Asana provider needs, as `(key, value)` pairs: `authorization_url`,
    /// `token_url`, `revocation_url`, `api_base_url`, `client_id`, `client_secret`, `redirect_uri`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let asana = provider_asana_testkit::MockAsana::start().await;
    /// let config: std::collections::HashMap<_, _> = asana.app_config().into_iter().collect();
    /// assert_eq!(config["token_url"], format!("{}/-/oauth_token", asana.uri()));
    /// assert_eq!(config["client_id"], asana.client_id());
    /// # }
    /// ```
    pub fn app_config(&self) -> Vec<(&'static str, String)> {
        vec![
            ("authorization_url", self.authorization_url()),
            ("token_url", self.token_url()),
            ("revocation_url", self.revocation_url()),
            ("api_base_url", self.api_base_url()),
            ("client_id", self.client_id.clone()),
            ("client_secret", self.client_secret.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
        ]
    }

    /// The underlying wiremock server: mount overrides with a priority below 5, or inspect it.
    pub fn server(&self) -> &MockServer {
        self.server
            .as_ref()
            .expect("the server lives as long as the MockAsana")
    }

    /// Plays the user's browser: sends `authorization_url` (as built by a client) to the mock's
    /// authorization endpoint and returns where it redirects, i.e. the app's callback URL with
    /// `code` and `state` (or `error`, `error_description` and `state`).
    ///
    /// Errors: [`ConsentError::NotThisMock`] if the URL does not start with
    /// [`MockAsana::authorization_url`] (nothing is sent), [`ConsentError::Rejected`] when the mock
    /// answers without a redirect (wrong `client_id` or `redirect_uri`), [`ConsentError::Http`] if
    /// the request fails.
    pub async fn consent(&self, authorization_url: &str) -> Result<url::Url, ConsentError> {
        let expected = self.authorization_url();
        let ours = authorization_url
            .strip_prefix(&expected)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'));
        if !ours {
            return Err(ConsentError::NotThisMock { expected });
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(ConsentError::Http)?;
        let response = http
            .get(authorization_url)
            .send()
            .await
            .map_err(ConsentError::Http)?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(ConsentError::BadLocation)?;
            return url::Url::parse(location).map_err(|_| ConsentError::BadLocation);
        }
        let body = response.text().await.map_err(ConsentError::Http)?;
        Err(ConsentError::Rejected {
            status: status.as_u16(),
            body,
        })
    }

    /// Creates a grant directly (as if the user had consented and the code been exchanged) and
    /// returns its tokens. Not counted as a token request. `scope` is recorded as granted.
    pub fn issue_tokens(&self, scope: &str) -> IssuedTokens {
        let mut state = self.state.lock();
        let (access_token, refresh_token) = state.issue_grant(scope);
        IssuedTokens {
            access_token,
            refresh_token,
            expires_in: state.token_lifetime_secs,
        }
    }

    /// Every access token issued so far now answers 401 with Asana's "The bearer token has
    /// expired..." message. Tokens issued later are not affected; refresh tokens stay valid.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for token in self.state.lock().access_tokens.values_mut() {
            token.expires_at = now;
        }
    }

    /// Every authorization code issued so far is now expired (`invalid_grant` on exchange).
    pub fn expire_authorization_codes(&self) {
        let now = Instant::now();
        for code in self.state.lock().codes.values_mut() {
            code.expires_at = now;
        }
    }

    /// Every sync token of `GET /events` issued so far is now too old: it answers 412 with
    /// Asana's "Sync token invalid or too old..." message and a fresh token, as the real Asana
    /// answers a token it no longer keeps. Tokens issued later are not affected.
    pub fn expire_sync_tokens(&self) {
        self.state.lock().data.events.expire();
    }

    /// Revokes every grant so far, as a user disconnecting the app would: their refresh tokens get
    /// `invalid_grant` and their access tokens 401 `Not Authorized`.
    pub fn revoke_all_grants(&self) {
        let mut state = self.state.lock();
        let grants: Vec<String> = state.grants.keys().cloned().collect();
        for grant in grants {
            state.revoke_grant(&grant);
        }
    }

    /// The next `n` authorization requests that pass the `client_id`/`redirect_uri` checks are
    /// denied: they redirect with `error=access_denied` and the `state`.
    pub fn deny_next_authorizations(&self, n: u32) {
        self.state.lock().denials = n;
    }

    /// The next `n` API requests answer `status` with an Asana error envelope (`phrase` on 500)
    /// before authentication is checked. Faults queue in call order with
    /// [`MockAsana::rate_limit_next`].
    ///
    /// # Panics
    ///
    /// If `status` is not a valid HTTP status (100..=999): that is a bug in the calling test.
    pub fn fail_next(&self, n: u32, status: u16) {
        assert_valid_status(status);
        push_fault(
            &mut self.state.lock().api_faults,
            n,
            FaultKind::Status(status),
        );
    }

    /// The next `n` API requests answer 429 with Asana's rate-limit envelope and, when given, a
    /// `Retry-After: <secs>` header. Faults queue in call order with [`MockAsana::fail_next`].
    pub fn rate_limit_next(&self, n: u32, retry_after_secs: Option<u64>) {
        push_fault(
            &mut self.state.lock().api_faults,
            n,
            FaultKind::RateLimit(retry_after_secs),
        );
    }

    /// The next `n` token requests answer `status` with an OAuth error body (`server_error`,
    /// `temporarily_unavailable` for 503, ...), before anything else is checked. They still count
    /// in [`MockAsana::token_requests`].
    ///
    /// # Panics
    ///
    /// If `status` is not a valid HTTP status (100..=999): that is a bug in the calling test.
    pub fn fail_next_token_requests(&self, n: u32, status: u16) {
        assert_valid_status(status);
        push_fault(
            &mut self.state.lock().token_faults,
            n,
            FaultKind::Status(status),
        );
    }

    /// Delays every response from now on by `latency` (zero turns it off). The delay runs on the
    /// mock's own thread in real time.
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().latency = latency;
    }

    /// The lifetime (and `expires_in`) of access tokens issued from now on, in seconds.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.state.lock().token_lifetime_secs = secs;
    }

    /// How many requests reached the token endpoint, whatever their outcome.
    pub fn token_requests(&self) -> u64 {
        self.state.lock().counters.token_requests
    }

    /// How many token requests carried `grant_type=<grant_type>` (e.g. `refresh_token`).
    pub fn token_requests_for(&self, grant_type: &str) -> u64 {
        self.state
            .lock()
            .counters
            .token_requests_by_grant
            .get(grant_type)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests reached `/api/1.0`, whatever their outcome (faults included).
    pub fn api_requests(&self) -> u64 {
        self.state.lock().counters.api_requests
    }

    /// How many requests reached the revocation endpoint, whatever their outcome.
    pub fn revocations(&self) -> u64 {
        self.state.lock().counters.revocations
    }

    /// How many requests reached the authorization endpoint, whatever their outcome.
    pub fn authorizations(&self) -> u64 {
        self.state.lock().counters.authorizations
    }

    /// How many requests with this method (any case) reached this exact path (a query part is
    /// ignored), e.g. `requests_to("GET", "/api/1.0/users/me")` or
    /// `requests_to("POST", "/-/oauth_token")`.
    pub fn requests_to(&self, method: &str, path: &str) -> u64 {
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        let key = (method.to_ascii_uppercase(), path.to_string());
        self.state
            .lock()
            .counters
            .by_route
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Every request the server received, in order (headers and bodies included).
    pub async fn received_requests(&self) -> Vec<Request> {
        self.server().received_requests().await.unwrap_or_default()
    }

    /// The full representation of any object the mock holds (what `GET` of it would return under
    /// `data`), or `None` if there is no such object (for example after a delete).
    pub fn object(&self, gid: &str) -> Option<Value> {
        let gid = gid.parse().ok()?;
        let state = self.state.lock();
        state.data.any_json(gid, &state.app.uri).map(Value::Object)
    }
}

fn assert_valid_status(status: u16) {
    assert!(
        (100..=999).contains(&status),
        "MockAsana: {status} is not an HTTP status"
    );
}

fn push_fault(queue: &mut VecDeque<Fault>, n: u32, kind: FaultKind) {
    if n > 0 {
        queue.push_back(Fault { remaining: n, kind });
    }
}
