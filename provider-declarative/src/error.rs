//! [`DeclarativeError`]: what can fail when a declarative provider's API is asked who the user is.

use auth_core::AuthError;

/// A "who am I" call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeclarativeError {
    /// Credentials, refresh or the request itself failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The definition has no `[whoami]` call.
    #[error(
        "{provider}: the provider's definition has no \"who am I\" call; add a [providers.whoami] table to it"
    )]
    NoWhoami {
        /// Provider id.
        provider: String,
    },
    /// The API answered with a status other than 2xx.
    #[error("{provider}: the API answered HTTP {status} to the \"who am I\" call")]
    Status {
        /// Provider id.
        provider: String,
        /// The HTTP status.
        status: u16,
    },
    /// The API answered 2xx with `ok: false` and an `error` code that the definition lists as
    /// the token's rejection (`whoami.rejected_token_codes`, e.g. Slack's `invalid_auth`).
    #[error("{provider}: the API rejected the token in the \"who am I\" call ({code})")]
    TokenRejected {
        /// Provider id.
        provider: String,
        /// The `error` code it gave.
        code: String,
    },
    /// The API answered 2xx with `ok: false` (Slack's errors).
    #[error("{provider}: the API refused the \"who am I\" call ({code})")]
    Refused {
        /// Provider id.
        provider: String,
        /// The `error` code it gave.
        code: String,
    },
    /// The answer is not JSON.
    #[error("{provider}: the \"who am I\" answer is not JSON")]
    NotJson {
        /// Provider id.
        provider: String,
    },
}

impl DeclarativeError {
    /// Whether the provider rejected the token itself: a 401 to the "who am I" call (also after
    /// the refresh it triggers), or an `ok: false` answer whose code the definition lists as a
    /// rejection. Another token may work; retrying this one will not.
    pub fn rejects_token(&self) -> bool {
        matches!(
            self,
            DeclarativeError::Status { status: 401, .. }
                | DeclarativeError::TokenRejected { .. }
                | DeclarativeError::Auth(AuthError::Unauthorized { .. })
        )
    }
}
