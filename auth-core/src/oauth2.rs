//! The OAuth2 authorization-code flow with PKCE ([`OAuth2Flow`]): the consent URL, then the
//! code exchange after its state was checked; refresh and revoke as the endpoint does them.
//!
//! Unlike the Python framework, every authorization's `state` is remembered (single use, with a time
//! to live) together with its PKCE verifier and the subject that started it, in a
//! [`PendingStateStore`], and `exchange` refuses a state that is unknown, expired, reused, issued
//! for another provider or bound to another subject. PKCE is twenty lines on `sha2` and `rand`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use url::Url;

use crate::config::check_redirect_uri_from_code;
use crate::endpoint::TokenEndpoint;
use crate::error::{AuthError, TokenOperation};
use crate::pending::{PendingState, PendingStateStore};
use crate::provider::OAuth2Settings;
use crate::secret::SecretString;
use crate::token::{Credentials, join_scopes};

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The verifier (43 characters of base64url): secret until the exchange.
    pub verifier: SecretString,
    /// `BASE64URL-no-pad(SHA256(verifier))`.
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier from 32 random bytes.
    pub fn generate() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes());
        let challenge = Self::challenge_for(&verifier);
        Self {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }

    /// The S256 challenge of `verifier`.
    pub fn challenge_for(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// The authorization request parameters the flow sets itself (RFC 6749 §4.1.1, RFC 7636 §4.3),
/// beside the provider's scope parameter: no extra parameter may repeat them.
#[derive(Debug, Clone, Copy)]
enum FlowParam {
    ResponseType,
    ClientId,
    RedirectUri,
    State,
    CodeChallenge,
    CodeChallengeMethod,
}

impl FlowParam {
    const ALL: [FlowParam; 6] = [
        FlowParam::ResponseType,
        FlowParam::ClientId,
        FlowParam::RedirectUri,
        FlowParam::State,
        FlowParam::CodeChallenge,
        FlowParam::CodeChallengeMethod,
    ];

    fn as_str(self) -> &'static str {
        match self {
            FlowParam::ResponseType => "response_type",
            FlowParam::ClientId => "client_id",
            FlowParam::RedirectUri => "redirect_uri",
            FlowParam::State => "state",
            FlowParam::CodeChallenge => "code_challenge",
            FlowParam::CodeChallengeMethod => "code_challenge_method",
        }
    }
}

/// Whether an extra authorize parameter named `name` would repeat one the flow sets itself:
/// `response_type`, `client_id`, `redirect_uri`, `state`, `code_challenge`,
/// `code_challenge_method`, or the provider's scope parameter `scope_param`.
/// [`OAuth2Flow::authorize`] refuses such a parameter with [`AuthError::ReservedAuthorizeParam`];
/// a provider's settings can be checked with it where they are written.
///
/// ```
/// use auth_core::is_reserved_authorize_param;
///
/// assert!(is_reserved_authorize_param("state", "scope"));
/// assert!(is_reserved_authorize_param("user_scope", "user_scope"));
/// assert!(!is_reserved_authorize_param("prompt", "scope"));
/// ```
pub fn is_reserved_authorize_param(name: &str, scope_param: &str) -> bool {
    name == scope_param || FlowParam::ALL.iter().any(|p| p.as_str() == name)
}

/// Options for [`OAuth2Flow::authorize`]: start from [`AuthorizeOptions::for_subject`] (the
/// usual case) or [`AuthorizeOptions::unbound`], then set what differs from the provider's
/// configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizeOptions {
    /// Use this state instead of a random one (it must not be pending already:
    /// [`AuthError::StateAlreadyPending`]).
    pub state: Option<String>,
    /// Request these scopes instead of the provider's default scopes.
    pub scopes: Option<Vec<String>>,
    /// Use this redirect URI instead of the configured one.
    pub redirect_uri: Option<Url>,
    /// Extra query parameters.
    pub extra_params: Vec<(String, String)>,
    /// The subject the authorization is for: only an exchange for this subject may redeem the
    /// state. `None` for an [`unbound`](AuthorizeOptions::unbound) authorization.
    pub subject: Option<String>,
}

impl AuthorizeOptions {
    /// Options for an authorization started by `subject`, the user who will consent: an
    /// [`OAuth2Flow::exchange`] for any other subject is refused with
    /// [`AuthError::StateSubjectMismatch`]. Use it whenever the subject is known at this point
    /// (a web app's logged-in user): otherwise a logged-in victim who opens an attacker's
    /// callback link connects the attacker's account to the victim (login CSRF).
    ///
    /// ```
    /// use auth_core::AuthorizeOptions;
    ///
    /// let options = AuthorizeOptions::for_subject("user-123").scopes(["read"]);
    /// assert_eq!(options.subject.as_deref(), Some("user-123"));
    /// ```
    pub fn for_subject(subject: impl Into<String>) -> Self {
        AuthorizeOptions {
            subject: Some(subject.into()),
            ..AuthorizeOptions::unbound()
        }
    }

    /// Options whose state is bound to no subject: any subject's exchange may redeem it. This
    /// suits only flows whose callback nobody else can open (a CLI's loopback redirect, a
    /// service that keeps its own record of who started each consent); a web app's callback
    /// wants [`AuthorizeOptions::for_subject`].
    ///
    /// ```
    /// use auth_core::AuthorizeOptions;
    ///
    /// let options = AuthorizeOptions::unbound().state("from-my-session-store");
    /// assert_eq!(options.subject, None);
    /// ```
    pub fn unbound() -> Self {
        AuthorizeOptions {
            state: None,
            scopes: None,
            redirect_uri: None,
            extra_params: Vec::new(),
            subject: None,
        }
    }

    /// Sets the state.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Sets the scopes.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the redirect URI, instead of the provider's. It must be one configuration would take
    /// (https, http on a loopback host, an app's private-use scheme): `authorize` refuses others
    /// with [`ConfigError::InsecureUrl`](crate::ConfigError::InsecureUrl).
    pub fn redirect_uri(mut self, uri: Url) -> Self {
        self.redirect_uri = Some(uri);
        self
    }

    /// Adds a query parameter. The parameters the flow sets itself (`response_type`,
    /// `client_id`, `redirect_uri`, `state`, `code_challenge`, `code_challenge_method` and the
    /// provider's scope parameter) are refused by [`OAuth2Flow::authorize`] with
    /// [`AuthError::ReservedAuthorizeParam`].
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((key.into(), value.into()));
        self
    }
}

/// Where to send the user, and the state that will come back.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// The consent page URL with every parameter.
    pub url: Url,
    /// The state to expect on the redirect.
    pub state: String,
}

/// One provider's OAuth2 flow: its token endpoint and where pending authorizations are kept.
/// [`AuthManager::oauth2`](crate::AuthManager::oauth2) gives one with the manager's pending states.
///
/// See the crate docs for the whole flow: authorize → exchange → store → session.
#[derive(Debug, Clone)]
pub struct OAuth2Flow {
    endpoint: Arc<TokenEndpoint>,
    states: Arc<dyn PendingStateStore>,
}

impl OAuth2Flow {
    /// The flow of `endpoint`'s provider, remembering authorizations in `states`. Fails when the
    /// provider has no OAuth2 settings.
    pub fn new(
        endpoint: Arc<TokenEndpoint>,
        states: Arc<dyn PendingStateStore>,
    ) -> Result<Self, AuthError> {
        endpoint.settings()?;
        Ok(Self { endpoint, states })
    }

    fn settings(&self) -> Result<&OAuth2Settings, AuthError> {
        self.endpoint.settings()
    }

    /// The provider id.
    pub fn provider(&self) -> &str {
        self.endpoint.id()
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &Arc<TokenEndpoint> {
        &self.endpoint
    }

    /// Builds the consent URL and remembers its state, PKCE verifier, redirect URI, scopes and
    /// subject (single use, with the pending states' time to live, 10 minutes by default). Bind
    /// the subject ([`AuthorizeOptions::for_subject`]) whenever it is known.
    pub async fn authorize(
        &self,
        options: AuthorizeOptions,
    ) -> Result<AuthorizationRequest, AuthError> {
        let span = tracing::info_span!("oauth2.authorize", provider = self.provider());
        async {
            let settings = self.settings()?;
            if let Some((param, _)) = settings
                .extra_authorize_params
                .iter()
                .chain(&options.extra_params)
                .find(|(name, _)| is_reserved_authorize_param(name, &settings.scope_param))
            {
                return Err(AuthError::ReservedAuthorizeParam {
                    provider: self.provider().to_string(),
                    param: param.clone(),
                });
            }
            let state = options
                .state
                .clone()
                .unwrap_or_else(|| URL_SAFE_NO_PAD.encode(random_bytes()));
            if let Some(uri) = &options.redirect_uri {
                check_redirect_uri_from_code(self.provider(), uri)?;
            }
            let redirect_uri = options
                .redirect_uri
                .clone()
                .or_else(|| settings.redirect_uri.clone());
            let pkce = settings.pkce.then(Pkce::generate);
            let scopes = options
                .scopes
                .clone()
                .unwrap_or_else(|| settings.default_scopes.clone());
            let mut url = settings.authorization_url.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair(FlowParam::ResponseType.as_str(), "code");
                q.append_pair(FlowParam::ClientId.as_str(), &settings.client_id);
                if let Some(uri) = &redirect_uri {
                    q.append_pair(FlowParam::RedirectUri.as_str(), uri.as_str());
                }
                if !scopes.is_empty() {
                    q.append_pair(
                        &settings.scope_param,
                        &join_scopes(&scopes, &settings.scope_separator),
                    );
                }
                q.append_pair(FlowParam::State.as_str(), &state);
                if let Some(pkce) = &pkce {
                    q.append_pair(FlowParam::CodeChallenge.as_str(), &pkce.challenge);
                    q.append_pair(FlowParam::CodeChallengeMethod.as_str(), "S256");
                }
                for (k, v) in settings
                    .extra_authorize_params
                    .iter()
                    .chain(&options.extra_params)
                {
                    q.append_pair(k, v);
                }
            }
            let mut pending = PendingState::new(
                self.provider(),
                pkce.map(|p| p.verifier),
                redirect_uri,
                scopes,
            );
            if let Some(subject) = &options.subject {
                pending = pending.with_subject(subject.clone());
            }
            self.states.insert(&state, pending).await?;
            tracing::debug!("authorization URL issued");
            Ok(AuthorizationRequest { url, state })
        }
        .instrument(span)
        .await
    }

    /// Exchanges an authorization code for `subject`. Checks `state` first (unknown, expired,
    /// reused and other-provider states are distinct errors, and a state bound to another subject
    /// is [`AuthError::StateSubjectMismatch`]; each is consumed and nothing is sent), sends the
    /// PKCE verifier, and returns the provider's credentials. Store them under the same subject
    /// with [`AuthManager::store_credentials`](crate::AuthManager::store_credentials).
    ///
    /// `subject` must come from who is at the callback (the app's login session), never from
    /// the callback's query. A state bound to no subject is accepted for any subject.
    ///
    /// The state is spent by the exchange, except when the token endpoint gave no answer or a
    /// transient one (a timeout, a connection failure, a 5xx, 408 or 429, or an error code that
    /// says the provider failed for now): then no tokens were received, the code may not have
    /// been spent, and the state is put back ([`PendingStateStore::restore`]) with its original
    /// time to live, so [`AuthError::Transient`] means what it says: retrying the same callback
    /// later may succeed. Whether the provider spent the code anyway (a 5xx after it did, or a
    /// 2xx answer cut off while read) cannot be known here; if it did, the retry fails with the
    /// provider's `invalid_grant` ([`AuthError::OAuth`]), which spends the state. When the state
    /// cannot be put back, the exchange fails with [`AuthError::ExchangeNotRetryable`] instead:
    /// start the authorization again.
    pub async fn exchange(
        &self,
        code: &str,
        state: &str,
        subject: &str,
    ) -> Result<Credentials, AuthError> {
        let span = tracing::info_span!("oauth2.exchange", provider = self.provider(), subject);
        async {
            let pending = self.states.take(self.provider(), state).await?;
            if pending
                .subject
                .as_deref()
                .is_some_and(|bound| bound != subject)
            {
                tracing::warn!("OAuth state bound to another subject refused");
                return Err(AuthError::StateSubjectMismatch {
                    provider: self.provider().to_string(),
                    subject: subject.to_string(),
                });
            }
            let exchanged = self
                .endpoint
                .exchange(
                    code,
                    pending.redirect_uri.as_ref(),
                    pending.verifier.as_ref(),
                    &pending.scopes,
                )
                .await;
            match exchanged {
                Ok(credentials) => {
                    tracing::info!("authorization code exchanged");
                    Ok(credentials)
                }
                Err(AuthError::Transient {
                    provider,
                    operation: TokenOperation::Exchange,
                    detail,
                    retry_after,
                }) => {
                    let reason = match self.states.restore(state, pending).await {
                        Ok(true) => {
                            tracing::info!(
                                detail,
                                "exchange failed for now; the state is pending again"
                            );
                            return Err(AuthError::Transient {
                                provider,
                                operation: TokenOperation::Exchange,
                                detail,
                                retry_after,
                            });
                        }
                        Ok(false) => "the pending-state store does not put states back".into(),
                        Err(e) => e.to_string(),
                    };
                    tracing::warn!(
                        detail,
                        reason,
                        "exchange failed for now; the state is spent"
                    );
                    Err(AuthError::ExchangeNotRetryable {
                        provider,
                        detail,
                        reason,
                    })
                }
                Err(e) => Err(e),
            }
        }
        .instrument(span)
        .await
    }

    /// Refreshes `credentials` with their refresh token, keeping the old refresh token when the
    /// response omits it. This does not touch the store; sessions refresh stored credentials
    /// themselves.
    pub async fn refresh(&self, credentials: &Credentials) -> Result<Credentials, AuthError> {
        self.endpoint.refresh(credentials).await
    }

    /// Revokes the grant at the provider, with the token
    /// [`OAuth2Settings::revoke_token`](crate::provider::OAuth2Settings::revoke_token) names (by
    /// default the refresh token; credentials without one have no grant to revoke, and nothing is
    /// sent).
    pub async fn revoke(&self, credentials: &Credentials) -> Result<(), AuthError> {
        self.endpoint.revoke(credentials).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256_of_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            Pkce::challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::generate();
        assert_eq!(p.verifier.expose_secret().len(), 43);
        assert_eq!(p.challenge, Pkce::challenge_for(p.verifier.expose_secret()));
        assert_ne!(
            Pkce::generate().verifier.expose_secret(),
            p.verifier.expose_secret()
        );
    }
}
