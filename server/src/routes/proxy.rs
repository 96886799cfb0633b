//! `execute` on a connector of a provider without a catalog (every declarative provider):
//!
//! - `{entity: "proxy", action: "request", params: {method, path, query?, headers?, body?}}`
//!   sends one raw authenticated request through the core's `Session::request`: the connector's
//!   token goes only to the provider's API origin, the path stays below its API base URL, the
//!   provider's required headers are added (a header of the request's replaces the provider's of
//!   that name; credential and framing headers are refused), a 401 refreshes the token once and
//!   retries once, the response is capped (the core's 16 MiB) and each attempt times out. The
//!   answer is `{result: <body as JSON, else as text, null when empty>, connector_metadata:
//!   {status, headers}}` with the provider's response headers (but `Set-Cookie`), whatever its
//!   status.
//! - `{entity: "*", action: "check"}` runs the provider's "who am I" call (or, without one,
//!   obtains a token, refreshing it if due) and answers healthy or unhealthy.
//!
//! Anything else is 400 naming what is allowed. The audit keeps the method and a path template
//! (segments that look like values replaced by `{}`), the names of the query parameters and
//! headers, and whether there was a body: never a body, a query value or a header value.

use std::any::Any;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use integrations::auth_core::ApiResponse;
use integrations::declarative::{DeclarativeError, DeclarativeProvider, Definition, WhoamiMethod};
use integrations::{AuthError, AuthManager, CredentialStatus, ErrorClass};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{AppState, Status};

use crate::error::ApiError;
use crate::store::ConnectorRecord;

/// The entity of a raw request.
pub(super) const PROXY_ENTITY: &str = "proxy";
/// The action of a raw request.
pub(super) const PROXY_ACTION: &str = "request";

const ALLOWED: &str = "a connector of a provider without a catalog offers {\"entity\": \"proxy\", \"action\": \"request\", \"params\": {\"method\", \"path\", \"query\"?, \"headers\"?, \"body\"?}} and {\"entity\": \"*\", \"action\": \"check\"}";

/// The most request headers `proxy.request` takes.
const MAX_HEADERS: usize = 32;

/// The parameters of `proxy.request`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyParams {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (any case).
    method: String,
    /// Below the provider's API base URL, starting with `/`, without `?`, `#`, `.` or `..`
    /// segments.
    path: String,
    /// Query parameters: strings, numbers or booleans, or lists of them (repeated keys).
    #[serde(default)]
    query: Option<Map<String, Value>>,
    /// Request headers: names to strings.
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    /// A JSON body.
    #[serde(default)]
    body: Option<Value>,
}

/// The HTTP methods `proxy.request` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl ProxyMethod {
    fn parse(method: &str) -> Option<Self> {
        match method.to_ascii_uppercase().as_str() {
            "GET" => Some(ProxyMethod::Get),
            "POST" => Some(ProxyMethod::Post),
            "PUT" => Some(ProxyMethod::Put),
            "PATCH" => Some(ProxyMethod::Patch),
            "DELETE" => Some(ProxyMethod::Delete),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ProxyMethod::Get => "GET",
            ProxyMethod::Post => "POST",
            ProxyMethod::Put => "PUT",
            ProxyMethod::Patch => "PATCH",
            ProxyMethod::Delete => "DELETE",
        }
    }

    fn to_http(self) -> Method {
        match self {
            ProxyMethod::Get => Method::GET,
            ProxyMethod::Post => Method::POST,
            ProxyMethod::Put => Method::PUT,
            ProxyMethod::Patch => Method::PATCH,
            ProxyMethod::Delete => Method::DELETE,
        }
    }
}

/// A checked `proxy.request`.
struct Proxied {
    method: ProxyMethod,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl Proxied {
    /// Reads and checks the params; 422 naming the field, never echoing a value.
    fn parse(params: &Value) -> Result<Self, ApiError> {
        let params: ProxyParams = serde_json::from_value(params.clone()).map_err(|_| {
            ApiError::unprocessable(
                "proxy.request params must be {\"method\": \"GET\"|\"POST\"|\"PUT\"|\"PATCH\"|\"DELETE\", \"path\": \"/...\", \"query\"?: {name: value}, \"headers\"?: {name: string}, \"body\"?: JSON} and nothing else",
            )
        })?;
        let method = ProxyMethod::parse(&params.method).ok_or_else(|| {
            ApiError::unprocessable("params.method must be GET, POST, PUT, PATCH or DELETE")
        })?;
        let path = params.path;
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(ApiError::bad_request(
                "params.path must start with a single `/` and be relative to the provider's API base URL; absolute URLs are refused",
            ));
        }
        if path.contains(['?', '#']) {
            return Err(ApiError::bad_request(
                "params.path must not carry a query or a fragment: put query parameters in params.query",
            ));
        }
        let dotted = |segment: &str| {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            decoded == "." || decoded == ".."
        };
        if path.split(['/', '\\']).any(dotted) || path.to_ascii_lowercase().contains("%2f") {
            return Err(ApiError::bad_request(
                "params.path must stay below the provider's API base URL: `.`, `..` and encoded `/` segments are refused",
            ));
        }
        let mut query = Vec::new();
        for (name, value) in params.query.unwrap_or_default() {
            let values = match value {
                Value::Array(items) => items,
                single => vec![single],
            };
            for value in values {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(ApiError::unprocessable(format!(
                            "params.query.{name} must be a string, a number, a boolean or a list of them"
                        )));
                    }
                };
                query.push((name.clone(), text));
            }
        }
        let headers = params.headers.unwrap_or_default();
        if headers.len() > MAX_HEADERS {
            return Err(ApiError::unprocessable(format!(
                "params.headers takes at most {MAX_HEADERS} headers"
            )));
        }
        let headers = headers
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(value) => Ok((name, value)),
                _ => Err(ApiError::unprocessable(format!(
                    "params.headers.{} must be a string",
                    clip(&name)
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            method,
            path,
            query,
            headers,
            body: params.body,
        })
    }

    /// The path with its query, as the core's request takes it.
    fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        format!("{}?{query}", self.path)
    }
}

/// What the audit keeps of an `execute` on such a connector: for `proxy.request`, the method,
/// the path template, the query parameters' names and whether there was a body; else the
/// params' names.
pub(super) fn audit_names(entity: &str, action: &str, params: &Value) -> Vec<String> {
    let names = || match params {
        Value::Object(params) => params.keys().cloned().collect(),
        _ => Vec::new(),
    };
    if entity != PROXY_ENTITY || action != PROXY_ACTION {
        return names();
    }
    match Proxied::parse(params) {
        Ok(proxied) => {
            let mut kept = vec![
                format!("method {}", proxied.method.as_str()),
                format!("path {}", path_template(&proxied.path)),
            ];
            let mut query: Vec<String> = proxied
                .query
                .iter()
                .map(|(name, _)| format!("query.{name}"))
                .collect();
            query.dedup();
            kept.extend(query);
            kept.extend(
                proxied
                    .headers
                    .iter()
                    .map(|(name, _)| format!("headers.{}", name.to_ascii_lowercase())),
            );
            if proxied.body.is_some() {
                kept.push("body".into());
            }
            kept
        }
        Err(_) => names(),
    }
}

/// The path with every segment that may be a value (digits, upper case, anything but lower-case
/// letters, `-` and `_`, or longer than 32 characters) replaced by `{}`.
fn path_template(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let word = segment.len() <= 32
                && segment
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_');
            if word { segment } else { "{}" }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// What `execute` answers: `(result, connector_metadata)`, the result as JSON text.
pub(super) type Answer = (Box<RawValue>, Map<String, Value>);

/// Runs `entity.action` on a connector of a provider without a catalog.
pub(super) async fn run(
    state: &AppState,
    record: &ConnectorRecord,
    definition: &Definition,
    status: Status,
    entity: &str,
    action: &str,
    params: &Value,
) -> Result<Answer, ApiError> {
    match (entity, action) {
        ("*", "check") => check(state, record, status).await,
        (PROXY_ENTITY, PROXY_ACTION) => {
            let proxied = Proxied::parse(params)?;
            // A raw request says what it does by its method, and for a provider whose GETs can
            // write (Slack's), by its path: a read-only connector sends GETs alone (a GraphQL
            // read, a POST, too is refused), to the paths the definition says only read.
            if record.read_only
                && (proxied.method != ProxyMethod::Get || !definition.reads(&proxied.path))
            {
                let sends = match definition.read_paths {
                    Some(_) => {
                        "only GET requests to the paths that only read (the provider's definition lists them)"
                    }
                    None => "only GET requests",
                };
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "connector {} is read-only: proxy.request sends {sends} through it; nothing was sent; an application token can PATCH it with \"read_only\": false",
                        record.id
                    ),
                ));
            }
            request(state, record, status, proxied).await
        }
        _ => Err(ApiError::bad_request(format!(
            "unknown entity or action `{}.{}`: {ALLOWED}",
            clip(entity),
            clip(action)
        ))),
    }
}

/// At most 64 characters of a name from the request, for a message.
fn clip(name: &str) -> String {
    name.chars().take(64).collect()
}

async fn request(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
    proxied: Proxied,
) -> Result<Answer, ApiError> {
    if status.get(state, record).await? == CredentialStatus::NeedsReauthorization {
        return Err(ApiError::needs_reauthorization(&record.id));
    }
    let (manager, definition) = state.connectors.api(record).await?;
    let session = manager
        .session(&record.id)
        .await
        .map_err(|e| auth_error(&e, &record.id))?;
    let mut call = session
        .request(&definition.id)
        .map_err(|e| auth_error(&e, &record.id))?
        .method(proxied.method.to_http())
        .path(proxied.path_and_query())
        .timeout(state.connectors.timeout());
    for (name, value) in proxied.headers {
        call = call.header(name, value);
    }
    if let Some(body) = proxied.body {
        call = call.json(body);
    }
    let response = call.send().await.map_err(|e| auth_error(&e, &record.id))?;
    Ok(answer(&response))
}

/// `{result, connector_metadata: {status, headers}}` of the provider's answer. A JSON body is
/// checked and handed on as the provider wrote it (up to [`MAX_API_RESPONSE_BYTES`]), never
/// built into a tree: a `Value` of small numbers takes many times its text's size. Another body
/// is a JSON string: its text, or its base64 (see [`result_of`]), which `body_encoding` then
/// says.
///
/// [`MAX_API_RESPONSE_BYTES`]: integrations::auth_core::MAX_API_RESPONSE_BYTES
fn answer(response: &ApiResponse) -> Answer {
    let mut metadata = Map::new();
    metadata.insert("status".into(), json!(response.status()));
    metadata.insert("headers".into(), Value::Object(response.headers_json()));
    let (result, base64) = result_of(&response.body);
    if base64 {
        metadata.insert("body_encoding".into(), json!("base64"));
    }
    (result, metadata)
}

/// A provider's body as a result, and whether it is in base64: its JSON as written; `null` when
/// empty; else its text as a JSON string when it is UTF-8 and that string is at most twice its
/// size (any text but one largely of control characters, most of which take six bytes
/// escaped: more than a fifth of it, say, other than tab, newline, carriage return, backspace
/// and form feed, which take two); else (a file, an image, such text) its base64. So a result
/// is never more than about twice the body's size.
fn result_of(body: &[u8]) -> (Box<RawValue>, bool) {
    if body.is_empty() {
        return (RawValue::NULL.to_owned(), false);
    }
    if let Ok(json) = serde_json::from_slice::<&RawValue>(body) {
        return (json.to_owned(), false);
    }
    let text = std::str::from_utf8(body)
        .ok()
        .filter(|text| escaped_len(text) <= 2 * text.len());
    let (string, base64) = match text {
        Some(text) => (serde_json::value::to_raw_value(text), false),
        None => (
            serde_json::value::to_raw_value(&BASE64_STANDARD.encode(body)),
            true,
        ),
    };
    // A string always makes JSON; `null` would only hide a broken serde_json.
    (string.unwrap_or_else(|_| RawValue::NULL.to_owned()), base64)
}

/// How many bytes `text` takes inside a JSON string, as serde_json escapes it.
fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum()
}

/// The core's errors as HTTP answers: a refused path is 400, a connector without usable
/// credentials 409, an unreachable or slow provider 502/504, the credential store's failure the
/// service's own (503, 500).
fn auth_error(e: &AuthError, connector_id: &str) -> ApiError {
    if let Some(answer) = ApiError::from_auth_store(e, connector_id) {
        return answer;
    }
    match e {
        AuthError::ApiRequest { .. } => ApiError::bad_request(e.to_string()),
        AuthError::ApiUnreachable { detail, .. } if detail.as_str() == "timed out" => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()).retryable()
        }
        _ => match e.class() {
            ErrorClass::NeedsReauthorization => ApiError::needs_reauthorization(connector_id),
            ErrorClass::Transient => {
                ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()).retryable()
            }
            _ => ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()),
        },
    }
}

async fn check(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
) -> Result<Answer, ApiError> {
    let (outcome, checked) =
        if status.get(state, record).await? == CredentialStatus::NeedsReauthorization {
            (
                Err(ApiError::needs_reauthorization(&record.id)
                    .message()
                    .to_string()),
                None,
            )
        } else {
            let (manager, definition) = state.connectors.api(record).await?;
            let checked = definition.whoami.as_ref().map(|call| {
                let method = match call.method {
                    WhoamiMethod::Post => "POST",
                    _ => "GET",
                };
                format!("{method} {}", call.path)
            });
            (probe(&manager, &definition.id, &record.id).await?, checked)
        };
    let result = json!({
        "status": if outcome.is_ok() { "healthy" } else { "unhealthy" },
        "error": outcome.err(),
        "checked_entity": PROXY_ENTITY,
        "checked_action": PROXY_ACTION,
        "checked_request": checked,
    });
    let result = serde_json::value::to_raw_value(&result).map_err(|e| {
        ApiError::misconfigured(format!(
            "the check's answer could not be written as JSON: {e}"
        ))
    })?;
    Ok((result, Map::new()))
}

/// The connector's health from [`whoami`] (`Err`: what failed, as the answer's `error`); the
/// service's own failure (its credential store) is the call's error.
async fn probe(
    manager: &AuthManager,
    provider: &str,
    connector_id: &str,
) -> Result<Result<(), String>, ApiError> {
    match whoami(manager, provider, connector_id).await {
        Ok(()) => Ok(Ok(())),
        Err(DeclarativeError::Auth(e)) => match ApiError::from_auth_store(&e, connector_id) {
            Some(answer) => Err(answer),
            None => Ok(Err(e.to_string())),
        },
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// The provider's "who am I" call on the connector's session, or (without one) a token.
async fn whoami(
    manager: &AuthManager,
    provider: &str,
    connector_id: &str,
) -> Result<(), DeclarativeError> {
    let session = manager.session(connector_id).await?;
    let configured = manager.provider(provider)?;
    let declarative = (configured.as_ref() as &dyn Any).downcast_ref::<DeclarativeProvider>();
    match declarative.filter(|p| p.definition().whoami.is_some()) {
        Some(provider) => provider.whoami(&session).await.map(drop),
        None => Ok(session.token_source(provider)?.token().await.map(drop)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_handed_on_as_the_provider_wrote_it() {
        let result = |body: &[u8]| {
            let (result, base64) = result_of(body);
            (result.get().to_string(), base64)
        };
        // JSON as written: key order, number forms and escapes kept, outer whitespace dropped.
        assert_eq!(
            result(b" {\"b\":1.0,\"a\":[1e3,\"\\u00e9\"]}\n"),
            (r#"{"b":1.0,"a":[1e3,"\u00e9"]}"#.to_string(), false)
        );
        assert_eq!(
            result(b"<html>busy</html>"),
            (r#""<html>busy</html>""#.to_string(), false)
        );
        assert_eq!(result(b"{\"a\":"), (r#""{\"a\":""#.to_string(), false));
        assert_eq!(result(b""), ("null".to_string(), false));
        // Not UTF-8: its bytes, in base64.
        assert_eq!(result(b"ok \xff"), (r#""b2sg/w==""#.to_string(), true));
    }

    /// Text is handed on as text while its escapes take at most its size again: any text but
    /// one made largely of control characters (six bytes each, escaped), which goes in base64,
    /// so no body grows past twice its size.
    #[test]
    fn a_body_s_result_is_never_much_larger_than_the_body() {
        for text in [
            "line one\n\t\"quoted\" \\ é\r\n".repeat(1000),
            "\n".repeat(30_000),
            "1\t2\n".repeat(10_000),
        ] {
            let (result, base64) = result_of(text.as_bytes());
            assert!(!base64);
            assert_eq!(result.get(), serde_json::to_string(&text).unwrap());
            assert_eq!(escaped_len(&text) + 2, result.get().len());
        }
        for body in [
            vec![0u8; 30_000],
            b"ab\x01\x02".repeat(7_500),
            vec![0xff; 29_999],
        ] {
            let (result, base64) = result_of(&body);
            assert!(base64);
            assert_eq!(result.get().len(), body.len().div_ceil(3) * 4 + 2);
            let decoded: String = serde_json::from_str(result.get()).unwrap();
            assert_eq!(BASE64_STANDARD.decode(decoded).unwrap(), body);
        }
    }

    #[test]
    fn paths_that_leave_the_base_or_carry_a_query_are_refused() {
        for path in [
            "https://evil.example/x",
            "//evil.example/x",
            "user",
            "/../x",
            "/a/./b",
            "/a/%2E%2e/b",
            "/a%2fb",
            "/user?x=1",
            "/a\\..\\b",
        ] {
            let e = Proxied::parse(&json!({ "method": "GET", "path": path })).err();
            assert_eq!(
                e.map(|e| e.status()),
                Some(StatusCode::BAD_REQUEST),
                "{path}"
            );
        }
        let ok = Proxied::parse(&json!({
            "method": "post", "path": "/repos/o/r/issues",
            "query": { "per_page": 5, "state": ["open", "closed"], "a b": "c&d" },
        }))
        .unwrap();
        assert_eq!(ok.method, ProxyMethod::Post);
        assert_eq!(
            ok.path_and_query(),
            "/repos/o/r/issues?a+b=c%26d&per_page=5&state=open&state=closed"
        );
    }

    #[test]
    fn bad_params_are_422_without_their_values() {
        for params in [
            json!(null),
            json!({ "path": "/user" }),
            json!({ "method": "TRACE", "path": "/user" }),
            json!({ "method": "GET", "path": "/user", "cookies": { "x": "canary" } }),
            json!({ "method": "GET", "path": "/user", "headers": { "x": { "canary": 1 } } }),
            json!({ "method": "GET", "path": "/user", "query": { "q": { "canary": 1 } } }),
        ] {
            let e = Proxied::parse(&params).err().unwrap();
            assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{params}");
            assert!(!e.message().contains("canary"));
        }
    }

    #[test]
    fn the_audit_keeps_the_method_and_the_path_template_only() {
        let names = audit_names(
            "proxy",
            "request",
            &json!({
                "method": "get", "path": "/repos/Octo-Cat/hello-world/issues/42",
                "query": { "state": "canary" }, "body": { "secret": "canary" },
            }),
        );
        assert_eq!(
            names,
            [
                "method GET",
                "path /repos/{}/hello-world/issues/{}",
                "query.state",
                "body"
            ]
        );
    }
}
