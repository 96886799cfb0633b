//! Service tokens: random 32-byte values handed to applications, stored only as SHA-256 hashes
//! with their application, optional customer scope and expiry, so that every instance sharing the
//! store verifies them the same way. [`Principal`] is the axum extractor that turns
//! `Authorization: Bearer <token>` into who is calling, or a 401; and takes the request from the
//! application's rate limit, or answers 429. [`Bearer`] does the same in two steps, so that a
//! route can read the token and the connector it names in one store call.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use integrations::SecretString;

use crate::error::ApiError;
use crate::limits::RateLimiter;
use crate::secrets;
use crate::store::{
    ConnectorRecord, Issuer, JoinedCredentials, ServiceStore, TokenInsert, TokenRecord,
};

/// Who is calling: an application, and for a scoped token the one customer it may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The application's id.
    pub application_id: String,
    /// The customer a scoped token is limited to; `None` for an application token.
    pub customer: Option<String>,
}

impl Principal {
    /// Whether this caller may see the customer's records.
    pub fn may_see(&self, customer: &str) -> bool {
        self.customer.as_deref().is_none_or(|own| own == customer)
    }
}

/// Issues a token for `application_id` (limited to `customer` when given) that expires after
/// `ttl`, and forgets the tokens that expired already. 401 when `issuer` no longer holds (the
/// secret was rotated, or the token deleted, since it was checked): no token is stored then. 429
/// when the application already holds `max_tokens` tokens, or, for a scoped token, the
/// [`scoped_share`] of them, with `Retry-After` until the first of them expires.
pub(crate) async fn issue(
    store: &dyn ServiceStore,
    application_id: &str,
    customer: Option<String>,
    ttl: Duration,
    issuer: Issuer<'_>,
    max_tokens: u32,
) -> Result<SecretString, ApiError> {
    let now = SystemTime::now();
    store.delete_expired_tokens(now).await?;
    let token = secrets::random_secret();
    let scoped = customer.is_some();
    let bound = if scoped {
        scoped_share(max_tokens)
    } else {
        max_tokens
    };
    let record = TokenRecord {
        token_hash: secrets::hash(token.expose_secret()),
        application_id: application_id.to_string(),
        customer,
        expires_at: now + ttl,
    };
    match store.insert_token(record, issuer, bound).await? {
        TokenInsert::Stored => Ok(token),
        TokenInsert::Full { next_expiry } => {
            Err(too_many_tokens(max_tokens, scoped, now, next_expiry))
        }
        TokenInsert::IssuerGone => Err(match issuer {
            Issuer::ClientSecret(_) => ApiError::unauthorized("invalid client credentials"),
            Issuer::Token(_) => unauthorized(),
        }),
    }
}

/// Below how many tokens an application holds, of its `max_tokens`, a scoped token is issued:
/// all but a tenth (rounded down, at least one), which stays for application tokens, so that an
/// application whose scoped tokens took their share can still get the token that revokes them.
fn scoped_share(max_tokens: u32) -> u32 {
    max_tokens.saturating_sub((max_tokens / 10).max(1))
}

/// 429: the application holds its bound of live tokens, `max_tokens` or, for a `scoped` token,
/// its [`scoped_share`]; a retry can succeed once the first expires (at least a second from now).
fn too_many_tokens(
    max_tokens: u32,
    scoped: bool,
    now: SystemTime,
    next_expiry: Option<SystemTime>,
) -> ApiError {
    let full = if scoped {
        format!(
            "the application holds {} service tokens or more, and scoped tokens are issued only below that (of the {max_tokens} this service keeps for one, a tenth stays for application tokens)",
            scoped_share(max_tokens)
        )
    } else {
        format!(
            "the application holds {max_tokens} service tokens, the most this service keeps for one"
        )
    };
    let wait = next_expiry
        .and_then(|at| at.duration_since(now).ok())
        .map_or(Duration::from_secs(1), |wait| {
            Duration::from_secs(wait.as_secs().saturating_add(1))
        });
    ApiError::rate_limited(
        format!(
            "{full}: reuse a token until shortly before it expires, or revoke those no longer \
             needed (POST /api/v1/account/applications/token/revoke)"
        ),
        Some(wait),
    )
}

fn unauthorized() -> ApiError {
    ApiError::unauthorized(
        "missing, invalid or expired service token: get one from POST /api/v1/account/applications/token and send it as `Authorization: Bearer <token>`",
    )
}

impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    Arc<dyn ServiceStore>: FromRef<S>,
    Arc<RateLimiter>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Bearer::from_request_parts(parts, state)
            .await?
            .verify(
                Arc::<dyn ServiceStore>::from_ref(state).as_ref(),
                &Arc::<RateLimiter>::from_ref(state),
            )
            .await
    }
}

/// A request's `Authorization: Bearer` token, read (401 when missing or malformed) but not yet
/// verified: [`Bearer::verify`] does what [`Principal`] does, and
/// [`Bearer::verify_with_connector`] reads the connector a request names in the same store
/// call.
pub(crate) struct Bearer {
    hash: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthorized)?;
        let (scheme, token) = header.split_once(' ').ok_or_else(unauthorized)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(unauthorized());
        }
        Ok(Bearer {
            hash: secrets::hash(token),
        })
    }
}

impl Bearer {
    /// Who is calling: 401 for an unknown or expired token; the request taken from the
    /// application's rate limit (429 over it).
    pub(crate) async fn verify(
        &self,
        store: &dyn ServiceStore,
        limiter: &RateLimiter,
    ) -> Result<Principal, ApiError> {
        admit(store.token(&self.hash).await?, limiter)
    }

    /// The token's hash: what the store keeps of it.
    pub(crate) fn hash(&self) -> &str {
        &self.hash
    }

    /// As [`Bearer::verify`], and the caller's application's connector `id` (if it has one)
    /// with what the store reads of its credentials, all in one store call. Whether the caller
    /// may see that connector (a scoped token) is the caller's to check.
    pub(crate) async fn verify_with_connector(
        &self,
        store: &dyn ServiceStore,
        limiter: &RateLimiter,
        id: &str,
    ) -> Result<(Principal, Option<(ConnectorRecord, JoinedCredentials)>), ApiError> {
        let (token, connector) = store.token_and_connector(&self.hash, id).await?.unzip();
        Ok((admit(token, limiter)?, connector.flatten()))
    }
}

/// The principal of a stored token that has not expired, admitted by its application's rate
/// limit.
fn admit(token: Option<TokenRecord>, limiter: &RateLimiter) -> Result<Principal, ApiError> {
    let token = token
        .filter(|token| token.expires_at > SystemTime::now())
        .ok_or_else(unauthorized)?;
    limiter.admit(&token.application_id)?;
    Ok(Principal {
        application_id: token.application_id,
        customer: token.customer,
    })
}

#[cfg(test)]
mod tests {
    use super::scoped_share;

    #[test]
    fn scoped_tokens_leave_a_tenth_and_at_least_one_to_application_tokens() {
        for (max, share) in [
            (0, 0),
            (1, 0),
            (2, 1),
            (9, 8),
            (10, 9),
            (11, 10),
            (19, 18),
            (20, 18),
            (10_000, 9_000),
            (u32::MAX, u32::MAX - u32::MAX / 10),
        ] {
            assert_eq!(scoped_share(max), share, "{max}");
        }
    }
}
