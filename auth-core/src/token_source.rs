//! [`TokenSource`]: what provider clients take instead of a raw token string, so that refresh is
//! invisible to them.

use std::fmt;

use async_trait::async_trait;

use crate::error::AuthError;
use crate::secret::SecretString;

/// Where a session's token for a provider comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The subject's credentials from the credential store (refreshed and written back).
    Stored,
    /// Credentials passed to the session in code (refreshed in memory only).
    Override,
    /// The provider's app-level token (for example a personal access token); never refreshed.
    AppToken,
}

impl CredentialSource {
    /// A short lower-case name: `stored`, `override`, `app_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialSource::Stored => "stored",
            CredentialSource::Override => "override",
            CredentialSource::AppToken => "app_token",
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Yields a valid access token for one (provider, subject), refreshing as needed.
///
/// Clients call [`current_token`](#method.current_token) (on `dyn TokenSource`) before every
/// request: [`TokenSource::cached_token`], and [`TokenSource::token`] when it returns `None`. When
/// the API answers 401 with a token, they call [`TokenSource::invalidate`] with that token and, if it
/// returns `true`, retry once with a fresh token: concurrent callers that saw the same rejected token
/// cause a single refresh.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A valid access token (sent as `Authorization: Bearer ...`).
    async fn token(&self) -> Result<SecretString, AuthError>;

    /// The token when it can be handed out at once, without waiting: a valid cached token.
    ///
    /// `None` means "await [`TokenSource::token`]" (which may refresh, or explain why there is no
    /// token), never "there is no token". Callers try this first because an `async_trait` method
    /// allocates a boxed future on every call, and a client asks for a token before every request.
    /// The default returns `None`; an implementation must not return a token again once it was
    /// passed to [`TokenSource::invalidate`], nor a token it would refresh.
    fn cached_token(&self) -> Option<SecretString> {
        None
    }

    /// Marks `rejected` as unusable so that the next [`TokenSource::token`] refreshes. Returns
    /// whether a different token can be obtained (false for app tokens and credentials without a
    /// refresh token). Does nothing if the source already moved past `rejected`.
    fn invalidate(&self, rejected: &SecretString) -> bool;

    /// The provider id.
    fn provider(&self) -> &str;

    /// The subject the token belongs to.
    fn subject(&self) -> &str;

    /// Where the token comes from.
    fn source(&self) -> CredentialSource;
}

impl dyn TokenSource {
    /// What a client calls before each request: the cached token when one can be handed out at
    /// once ([`TokenSource::cached_token`]), else [`TokenSource::token`], which may refresh. The
    /// cached path allocates nothing, where every `token()` call boxes a future.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use auth_core::{StaticTokenSource, TokenSource};
    ///
    /// let source: Arc<dyn TokenSource> =
    ///     Arc::new(StaticTokenSource::new("asana", "default", "pat-123".into()));
    /// assert_eq!(source.current_token().await.unwrap().expose_secret(), "pat-123");
    /// # });
    /// ```
    pub async fn current_token(&self) -> Result<SecretString, AuthError> {
        match self.cached_token() {
            Some(token) => Ok(token),
            None => self.token().await,
        }
    }
}

/// A token that never changes: an app-level token or a personal access token.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use auth_core::{StaticTokenSource, TokenSource};
///
/// let source = StaticTokenSource::new("asana", "default", "pat-123".into());
/// assert_eq!(source.token().await.unwrap().expose_secret(), "pat-123");
/// assert_eq!(source.cached_token().unwrap().expose_secret(), "pat-123");
/// assert!(!source.invalidate(&"pat-123".into()));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct StaticTokenSource {
    provider: String,
    subject: String,
    token: SecretString,
}

impl StaticTokenSource {
    /// A source that always yields `token`.
    pub fn new(
        provider: impl Into<String>,
        subject: impl Into<String>,
        token: SecretString,
    ) -> Self {
        Self {
            provider: provider.into(),
            subject: subject.into(),
            token,
        }
    }
}

#[async_trait]
impl TokenSource for StaticTokenSource {
    async fn token(&self) -> Result<SecretString, AuthError> {
        Ok(self.token.clone())
    }

    fn cached_token(&self) -> Option<SecretString> {
        Some(self.token.clone())
    }

    fn invalidate(&self, _rejected: &SecretString) -> bool {
        false
    }

    fn provider(&self) -> &str {
        &self.provider
    }

    fn subject(&self) -> &str {
        &self.subject
    }

    fn source(&self) -> CredentialSource {
        CredentialSource::AppToken
    }
}
