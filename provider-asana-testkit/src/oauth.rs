//! The OAuth endpoints: `GET /-/oauth_authorize`, `POST /-/oauth_token`, `POST /-/oauth_revoke`.

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::Request;
use wiremock::http::{HeaderValue, Method};

use super::state::{App, AuthCode, FaultKind, Reply, State, random_token, take_fault};

const ERROR_URI: &str = "https://developers.asana.com/docs/oauth";

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({ "error": error, "error_description": description, "error_uri": ERROR_URI }),
    )
    .header("cache-control", "no-store")
}

fn invalid_request(description: &str) -> Reply {
    oauth_error(400, "invalid_request", description)
}

fn invalid_grant(description: &str) -> Reply {
    oauth_error(400, "invalid_grant", description)
}

/// The pairs of a form body or query string, in order, percent-decoded.
fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// The pairs as a map; a parameter sent twice is an `invalid_request`.
fn unique(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, Reply> {
    let mut map = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if map.contains_key(&name) {
            return Err(invalid_request(&format!(
                "the parameter `{name}` was sent more than once"
            )));
        }
        map.insert(name, value);
    }
    Ok(map)
}

/// Checks that a token or revocation request is a form POST; returns its parameters.
fn form(request: &Request, pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, Reply> {
    if request.method != Method::POST {
        return Err(oauth_error(
            405,
            "invalid_request",
            "this endpoint only accepts POST",
        ));
    }
    if let Some(content_type) = request.headers.get("content-type") {
        let form_type = content_type
            .to_str()
            .map(|v| {
                v.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
            .unwrap_or(false);
        if !form_type {
            return Err(invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
    }
    unique(pairs)
}

/// Authenticates the client from the body (`client_secret_post`) or HTTP Basic.
fn authenticate_client(
    app: &App,
    request: &Request,
    form: &HashMap<String, String>,
) -> Result<(), Reply> {
    let basic = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
    let rejected = |description: &str, basic: bool| {
        let reply = oauth_error(401, "invalid_client", description);
        if basic {
            reply.header("www-authenticate", "Basic realm=\"asana\"")
        } else {
            reply
        }
    };
    let (client_id, client_secret, via_basic) = match basic {
        Some(encoded) => {
            let decoded = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(rejected("malformed HTTP Basic credentials", true));
            };
            let decode = |part: &str| {
                url::form_urlencoded::parse(format!("v={part}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let (id, secret) = (decode(id), decode(secret));
            if form.get("client_id").is_some_and(|body_id| *body_id != id) {
                return Err(rejected(
                    "client_id in the body differs from HTTP Basic",
                    true,
                ));
            }
            (id, secret, true)
        }
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone(), false),
            _ => {
                return Err(rejected(
                    "client authentication is required: send client_id and client_secret",
                    false,
                ));
            }
        },
    };
    if client_id != app.client_id || client_secret != app.client_secret {
        return Err(rejected("unknown client or wrong client secret", via_basic));
    }
    Ok(())
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `GET /-/oauth_authorize`: consent is granted at once (unless a denial was queued).
pub(super) fn authorize(state: &mut State, request: &Request) -> Reply {
    state.counters.authorizations += 1;
    if request.method != Method::GET {
        return oauth_error(
            405,
            "invalid_request",
            "the authorization endpoint only accepts GET",
        );
    }
    let query = match unique(pairs(request.url.query().unwrap_or("").as_bytes())) {
        Ok(query) => query,
        Err(reply) => return reply,
    };
    let get = |name: &str| query.get(name).map(String::as_str);
    if get("client_id") != Some(state.app.client_id.as_str()) {
        return invalid_request("client_id is missing or unknown");
    }
    if get("redirect_uri") != Some(state.app.redirect_uri.as_str()) {
        return invalid_request("redirect_uri does not match the app's registered redirect URI");
    }
    let redirect_uri = state.app.redirect_uri.clone();
    let client_state = get("state").filter(|s| !s.is_empty());
    let error = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        params.extend(client_state.map(|s| ("state", s)));
        redirect(&redirect_uri, &params)
    };
    let Some(client_state) = client_state else {
        return error("invalid_request", "state is required");
    };
    if state.denials > 0 {
        state.denials -= 1;
        return error("access_denied", "the user denied the request");
    }
    if get("response_type") != Some("code") {
        return error("unsupported_response_type", "response_type must be `code`");
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) if !challenge.is_empty() => Some(challenge.to_string()),
        (Some(_), _) | (None, Some(_)) => {
            return error(
                "invalid_request",
                "code_challenge_method must be S256, with a non-empty code_challenge",
            );
        }
        (None, None) if state.app.require_pkce => {
            return error(
                "invalid_request",
                "code_challenge is required (PKCE with S256)",
            );
        }
        (None, None) => None,
    };
    let scope = get("scope")
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("default")
        .to_string();
    let code = random_token("mock_code_");
    state.codes.insert(
        code.clone(),
        AuthCode {
            redirect_uri: redirect_uri.clone(),
            challenge,
            scope,
            expires_at: Instant::now() + state.code_lifetime,
            used: false,
        },
    );
    redirect(&redirect_uri, &[("code", &code), ("state", client_state)])
}

/// A 302 to `redirect_uri` with `params` appended to its query.
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Reply {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{}", query.finish());
    if HeaderValue::from_str(&location).is_err() {
        return invalid_request("the registered redirect URI cannot be sent in a Location header");
    }
    Reply::empty(302).header("location", location)
}

/// The user fields of a token response: numeric `id`, string `gid`.
fn token_user(state: &State) -> Value {
    let me = state.app.me;
    let (name, email) = state
        .data
        .users
        .get(&me)
        .map(|u| (u.name.clone(), u.email.clone()))
        .unwrap_or_default();
    json!({ "id": me, "gid": me.to_string(), "name": name, "email": email })
}

/// `POST /-/oauth_token`.
pub(super) fn token(state: &mut State, request: &Request) -> Reply {
    state.counters.token_requests += 1;
    let pairs = pairs(&request.body);
    if let Some((_, grant_type)) = pairs.iter().find(|(name, _)| name == "grant_type") {
        *state
            .counters
            .token_requests_by_grant
            .entry(grant_type.clone())
            .or_default() += 1;
    }
    if let Some(kind) = take_fault(&mut state.token_faults) {
        let status = match kind {
            FaultKind::Status(status) => status,
            FaultKind::RateLimit(_) => 429,
        };
        let error = match status {
            400 => "invalid_request",
            401 => "invalid_client",
            429 => "rate_limit_exceeded",
            503 => "temporarily_unavailable",
            _ => "server_error",
        };
        return oauth_error(status, error, "injected failure");
    }
    let form = match form(request, pairs) {
        Ok(form) => form,
        Err(reply) => return reply,
    };
    let Some(grant_type) = form.get("grant_type") else {
        return invalid_request("grant_type is required");
    };
    if let Err(reply) = authenticate_client(&state.app, request, &form) {
        return reply;
    }
    match grant_type.as_str() {
        "authorization_code" => exchange_code(state, &form),
        "refresh_token" => refresh(state, &form),
        _ => oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// An unsigned OpenID Connect ID token (`alg` `none`) for the user, as Asana adds with `openid`.
fn id_token(state: &State) -> String {
    let me = state.app.me;
    let email = state.data.users.get(&me).map(|u| u.email.clone());
    let header = json!({ "alg": "none", "typ": "JWT" });
    let claims = json!({
        "iss": "https://app.asana.com",
        "sub": me.to_string(),
        "aud": state.app.client_id,
        "email": email,
    });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A token response. `refresh_token` only for a code exchange; `id_token` when the grant's scope
/// includes `openid`.
fn token_response(state: &State, access_token: &str, grant: &str, code_exchange: bool) -> Reply {
    let mut body = json!({
        "access_token": access_token,
        "expires_in": state.token_lifetime_secs,
        "token_type": "bearer",
        "data": token_user(state),
    });
    let openid = state
        .grants
        .get(grant)
        .is_some_and(|g| g.scope.split_whitespace().any(|s| s == "openid"));
    if let Some(map) = body.as_object_mut() {
        if code_exchange {
            map.insert("refresh_token".into(), Value::String(grant.into()));
        }
        if openid {
            map.insert("id_token".into(), Value::String(id_token(state)));
        }
    }
    Reply::json(200, body)
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
}

fn exchange_code(state: &mut State, form: &HashMap<String, String>) -> Reply {
    let Some(code) = form.get("code") else {
        return invalid_request("code is required");
    };
    let Some(redirect_uri) = form.get("redirect_uri") else {
        return invalid_request("redirect_uri is required");
    };
    let verifier = form.get("code_verifier");
    let Some(entry) = state.codes.get_mut(code) else {
        return invalid_grant("the authorization code is unknown");
    };
    if entry.used {
        return invalid_grant("the authorization code was already used");
    }
    if entry.challenge.is_some() && verifier.is_none() {
        return invalid_request("code_verifier is required");
    }
    entry.used = true;
    if Instant::now() >= entry.expires_at {
        return invalid_grant("the authorization code has expired");
    }
    if *redirect_uri != entry.redirect_uri {
        return invalid_grant("redirect_uri does not match the authorization request");
    }
    match (&entry.challenge, verifier) {
        (Some(challenge), Some(verifier)) if s256(verifier) != *challenge => {
            return invalid_grant("code_verifier does not match the code_challenge");
        }
        (None, Some(_)) => {
            return invalid_grant("code_verifier sent but no code_challenge was authorized");
        }
        _ => {}
    }
    let scope = entry.scope.clone();
    let (access_token, refresh_token) = state.issue_grant(&scope);
    token_response(state, &access_token, &refresh_token, true)
}

fn refresh(state: &mut State, form: &HashMap<String, String>) -> Reply {
    let Some(refresh_token) = form.get("refresh_token") else {
        return invalid_request("refresh_token is required");
    };
    match state.grants.get(refresh_token) {
        None => return invalid_grant("the refresh token is unknown"),
        Some(grant) if grant.revoked => {
            return invalid_grant("the refresh token has been revoked");
        }
        Some(_) => {}
    }
    let access_token = state.issue_access_token(refresh_token);
    token_response(state, &access_token, refresh_token, false)
}

/// `POST /-/oauth_revoke`: revokes a grant given its refresh token.
pub(super) fn revoke(state: &mut State, request: &Request) -> Reply {
    state.counters.revocations += 1;
    let form = match form(request, pairs(&request.body)) {
        Ok(form) => form,
        Err(reply) => return reply,
    };
    if let Err(reply) = authenticate_client(&state.app, request, &form) {
        return reply;
    }
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return invalid_request("token is required");
    };
    if state.access_tokens.contains_key(token) || *token == state.app.personal_access_token {
        return oauth_error(
            400,
            "unsupported_token_type",
            "only refresh tokens can be revoked",
        );
    }
    if state.grants.contains_key(token) {
        state.revoke_grant(token);
    }
    Reply::empty(200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirect_appends_to_an_existing_query() {
        let reply = redirect("http://h/cb?x=1", &[("code", "a b"), ("state", "s&t")]);
        assert_eq!(reply.status, 302);
        assert_eq!(
            reply.headers,
            vec![(
                "location",
                "http://h/cb?x=1&code=a+b&state=s%26t".to_string()
            )]
        );
    }
}
