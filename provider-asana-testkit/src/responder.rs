//! The one wiremock responder behind every endpoint of a mock: it counts the request, hands it to
//! its endpoint's handler in `oauth` or `api` under the state's lock, and applies the latency.

use wiremock::{Request, Respond, ResponseTemplate};

use super::state::Shared;
use super::{api, oauth};

/// Which endpoint a responder serves.
#[derive(Clone, Copy)]
pub(super) enum Endpoint {
    Authorize,
    Token,
    Revoke,
    Api,
    /// The storage host of attachment downloads.
    Download,
}

/// The [`Respond`] implementation behind every endpoint of the mock.
pub(super) struct Responder {
    pub state: Shared,
    pub endpoint: Endpoint,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock();
        let route = (
            request.method.as_str().to_ascii_uppercase(),
            request.url.path().to_string(),
        );
        *state.counters.by_route.entry(route).or_default() += 1;
        let reply = match self.endpoint {
            Endpoint::Authorize => oauth::authorize(&mut state, request),
            Endpoint::Token => oauth::token(&mut state, request),
            Endpoint::Revoke => oauth::revoke(&mut state, request),
            Endpoint::Api => api::handle(&mut state, request),
            Endpoint::Download => api::download(&state, request),
        };
        let latency = state.latency;
        drop(state);
        reply.into_template(latency)
    }
}
