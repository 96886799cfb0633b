//! The API's entry points: requests under `/api/1.0` (injected faults, then authentication, then
//! the route in `resources`) and the storage host of attachment downloads.

use std::time::Instant;

use wiremock::Request;
use wiremock::http::Method;

use super::data::{Data, Gid};
use super::request::{ApiError, Ctx, envelope};
use super::resources;
use super::state::{FaultKind, Reply, State, take_fault};

/// The exact message Asana sends for an expired access token.
pub(super) const EXPIRED_MESSAGE: &str = "The bearer token has expired. If you have a refresh token, please use it to request a new bearer token, otherwise allow the user to re-authenticate.";
/// The message of a 429.
const RATE_LIMITED_MESSAGE: &str = "You have made too many requests recently. Please, be chill.";

/// The message an injected failure carries for its status.
fn fault_message(status: u16) -> &'static str {
    match status {
        400 => "Invalid Request",
        401 => "Not Authorized",
        402 => "This feature is only available to premium users.",
        403 => "Forbidden",
        404 => "Not Found",
        412 => "Precondition Failed",
        429 => RATE_LIMITED_MESSAGE,
        451 => "Unavailable For Legal Reasons",
        500 => "Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected failure",
    }
}

/// Answers one request under `/api/1.0`.
pub(super) fn handle(state: &mut State, request: &Request) -> Reply {
    state.counters.api_requests += 1;
    match take_fault(&mut state.api_faults) {
        Some(FaultKind::Status(status)) => return envelope(status, fault_message(status)),
        Some(FaultKind::RateLimit(retry_after)) => {
            let reply = envelope(429, RATE_LIMITED_MESSAGE);
            return match retry_after {
                Some(secs) => reply.header("retry-after", secs.to_string()),
                None => reply,
            };
        }
        None => {}
    }
    if let Err(reply) = authenticate(state, request) {
        return reply;
    }
    let ctx = Ctx::new(state, request);
    resources::route(&mut state.data, &ctx).unwrap_or_else(ApiError::into_reply)
}

/// Serves `GET /-/attachments/{gid}/{name}?signature=...`, the mock's storage host: like a
/// presigned storage URL it needs no token and refuses one (400, as S3 refuses a second
/// authentication mechanism), 403 for a wrong signature, 404 once the attachment is gone.
pub(super) fn download(state: &State, request: &Request) -> Reply {
    let storage_error =
        |status: u16, message: &str| Reply::raw(status, message.as_bytes().to_vec(), "text/plain");
    if request.method != Method::GET {
        return storage_error(405, "MethodNotAllowed");
    }
    if request.headers.contains_key("authorization") {
        return storage_error(
            400,
            "InvalidArgument: Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
    }
    let gid = request
        .url
        .path()
        .strip_prefix("/-/attachments/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|gid| gid.parse::<Gid>().ok());
    let Some((gid, attachment)) =
        gid.and_then(|gid| state.data.attachments.get(&gid).map(|a| (gid, a)))
    else {
        return storage_error(404, "NoSuchKey");
    };
    let signature = request
        .url
        .query_pairs()
        .find(|(name, _)| name == "signature")
        .map(|(_, value)| value.into_owned());
    if signature != Some(Data::download_signature(gid)) {
        return storage_error(403, "SignatureDoesNotMatch");
    }
    match &attachment.content {
        Some(content) => Reply::raw(200, content.clone(), "application/octet-stream"),
        None => storage_error(404, "NoSuchKey"),
    }
}

/// Checks `Authorization: Bearer <token>` against the personal access token and the live access
/// tokens.
fn authenticate(state: &State, request: &Request) -> Result<(), Reply> {
    let not_authorized = || envelope(401, "Not Authorized");
    let token = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(not_authorized)?;
    if token == state.app.personal_access_token {
        return Ok(());
    }
    match state.access_tokens.get(token) {
        None => Err(not_authorized()),
        Some(access) if Instant::now() >= access.expires_at => Err(envelope(401, EXPIRED_MESSAGE)),
        Some(_) => Ok(()),
    }
}
