//! The state every endpoint of a mock shares: the registered app, codes, grants, tokens, injected
//! faults, counters and objects.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::ResponseTemplate;

use super::data::{Data, Gid};

/// The app registered with the mock and the facts that do not change after start.
pub(super) struct App {
    pub uri: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub personal_access_token: String,
    pub require_pkce: bool,
    pub me: Gid,
}

/// An authorization code waiting to be exchanged.
pub(super) struct AuthCode {
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub scope: String,
    pub expires_at: Instant,
    pub used: bool,
}

/// A grant: what one consent produced. Keyed by its refresh token.
pub(super) struct Grant {
    pub scope: String,
    pub revoked: bool,
}

/// An access token; `grant` is the refresh token of the grant it belongs to.
pub(super) struct AccessToken {
    pub grant: String,
    pub expires_at: Instant,
}

/// What an injected fault answers.
#[derive(Clone, Copy)]
pub(super) enum FaultKind {
    Status(u16),
    RateLimit(Option<u64>),
}

/// An injected fault and how many more requests it answers.
pub(super) struct Fault {
    pub remaining: u32,
    pub kind: FaultKind,
}

/// Request counts.
#[derive(Default)]
pub(super) struct Counters {
    pub token_requests: u64,
    pub token_requests_by_grant: HashMap<String, u64>,
    pub api_requests: u64,
    pub revocations: u64,
    pub authorizations: u64,
    pub by_route: HashMap<(String, String), u64>,
}

pub(super) struct State {
    pub app: App,
    pub token_lifetime_secs: u64,
    pub code_lifetime: Duration,
    pub latency: Duration,
    pub codes: HashMap<String, AuthCode>,
    pub grants: HashMap<String, Grant>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub api_faults: VecDeque<Fault>,
    pub token_faults: VecDeque<Fault>,
    pub denials: u32,
    pub counters: Counters,
    pub data: Data,
}

/// Takes the next fault from a queue, if any.
pub(super) fn take_fault(queue: &mut VecDeque<Fault>) -> Option<FaultKind> {
    let front = queue.front_mut()?;
    let kind = front.kind;
    front.remaining = front.remaining.saturating_sub(1);
    if front.remaining == 0 {
        queue.pop_front();
    }
    Some(kind)
}

/// A random opaque token with a readable prefix.
pub(super) fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

impl State {
    /// Creates a grant and its first access token; returns (access token, refresh token).
    pub fn issue_grant(&mut self, scope: &str) -> (String, String) {
        let refresh_token = random_token("mock_rt_");
        self.grants.insert(
            refresh_token.clone(),
            Grant {
                scope: scope.to_string(),
                revoked: false,
            },
        );
        let access_token = self.issue_access_token(&refresh_token);
        (access_token, refresh_token)
    }

    /// Issues a new access token for an existing grant.
    pub fn issue_access_token(&mut self, grant: &str) -> String {
        let access_token = random_token("mock_at_");
        self.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                grant: grant.to_string(),
                expires_at: Instant::now() + Duration::from_secs(self.token_lifetime_secs),
            },
        );
        access_token
    }

    /// Revokes a grant and every access token issued under it.
    pub fn revoke_grant(&mut self, refresh_token: &str) {
        if let Some(grant) = self.grants.get_mut(refresh_token) {
            grant.revoked = true;
        }
        self.access_tokens
            .retain(|_, token| token.grant != refresh_token);
    }
}

/// The mutex-guarded state, shared by the mock handle and every endpoint.
#[derive(Clone)]
pub(super) struct Shared(Arc<Mutex<State>>);

impl Shared {
    pub fn new(state: State) -> Self {
        Shared(Arc::new(Mutex::new(state)))
    }

    /// Locks the state. A panic while it was held cannot leave it half-updated in a way that
    /// matters to a test double, so a poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A reply body.
pub(super) enum Body {
    Json(Value),
    /// Bytes with their content type.
    Raw(Vec<u8>, &'static str),
}

/// What an endpoint answers, before latency is applied.
pub(super) struct Reply {
    pub status: u16,
    pub body: Option<Body>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(Body::Json(body)),
            headers: Vec::new(),
        }
    }

    pub fn raw(status: u16, body: Vec<u8>, content_type: &'static str) -> Self {
        Reply {
            status,
            body: Some(Body::Raw(body, content_type)),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The wiremock response, delayed by `latency` unless it is zero.
    pub fn into_template(self, latency: Duration) -> ResponseTemplate {
        let mut template = ResponseTemplate::new(self.status);
        for (name, value) in self.headers {
            template = template.insert_header(name, value.as_str());
        }
        match self.body {
            Some(Body::Json(body)) => template = template.set_body_json(body),
            Some(Body::Raw(body, content_type)) => {
                template = template.set_body_raw(body, content_type);
            }
            None => {}
        }
        if !latency.is_zero() {
            template = template.set_delay(latency);
        }
        template
    }
}
