//! Errors: every failure as a typed value saying what failed, for which provider and subject, and
//! what to do next; never a secret or a raw token response.
//!
//! The bottom layer: it names no other module of this crate. The OAuth vocabulary the errors carry
//! (the [`TokenOperation`], the [`OAuthErrorCode`] of RFC 6749 §5.2) lives here for that reason.

use std::fmt;
use std::time::Duration;

/// A record version in a credential store (a number that grows with every write).
type Version = u64;

/// A request to a provider's OAuth endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenOperation {
    /// Trading an authorization code for tokens, at the token endpoint.
    Exchange,
    /// Trading a refresh token for new tokens, at the token endpoint.
    Refresh,
    /// Revoking a grant, at the revocation endpoint (RFC 7009).
    Revoke,
}

impl TokenOperation {
    /// `exchange`, `refresh` or `revoke`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenOperation::Exchange => "exchange",
            TokenOperation::Refresh => "refresh",
            TokenOperation::Revoke => "revoke",
        }
    }

    /// The endpoint the operation is sent to: `token endpoint` or `revocation endpoint`.
    pub fn endpoint(self) -> &'static str {
        match self {
            TokenOperation::Exchange | TokenOperation::Refresh => "token endpoint",
            TokenOperation::Revoke => "revocation endpoint",
        }
    }
}

impl fmt::Display for TokenOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` code of an OAuth error response (RFC 6749 §5.2; RFC 7009 adds
/// `unsupported_token_type`, kept as [`OAuthErrorCode::Other`]).
///
/// ```
/// use auth_core::OAuthErrorCode;
///
/// assert_eq!(OAuthErrorCode::from("invalid_grant"), OAuthErrorCode::InvalidGrant);
/// assert_eq!(OAuthErrorCode::from("slow_down").as_str(), "slow_down");
/// assert!(OAuthErrorCode::InvalidClient == *"invalid_client");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`: the client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the server does not support the grant type.
    UnsupportedGrantType,
    /// `invalid_scope`: the requested scope is invalid or exceeds the grant.
    InvalidScope,
    /// Any other code, or `http_<status>` when the body carried none (cleaned of secrets).
    Other(String),
}

impl OAuthErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::Other(code) => code,
        }
    }
}

impl From<&str> for OAuthErrorCode {
    fn from(code: &str) -> Self {
        match code {
            "invalid_request" => OAuthErrorCode::InvalidRequest,
            "invalid_client" => OAuthErrorCode::InvalidClient,
            "invalid_grant" => OAuthErrorCode::InvalidGrant,
            "unauthorized_client" => OAuthErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => OAuthErrorCode::UnsupportedGrantType,
            "invalid_scope" => OAuthErrorCode::InvalidScope,
            other => OAuthErrorCode::Other(other.to_string()),
        }
    }
}

impl From<String> for OAuthErrorCode {
    fn from(code: String) -> Self {
        match OAuthErrorCode::from(code.as_str()) {
            OAuthErrorCode::Other(_) => OAuthErrorCode::Other(code),
            known => known,
        }
    }
}

impl PartialEq<str> for OAuthErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for OAuthErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// The provider's built-in default.
    Default,
    /// The TOML configuration file at this path.
    File(String),
    /// This environment variable.
    Env(String),
    /// A value passed in code.
    Code,
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Default => f.write_str("the built-in default"),
            ConfigSource::File(path) => write!(f, "config file {path}"),
            ConfigSource::Env(key) => write!(f, "env {key}"),
            ConfigSource::Code => f.write_str("code"),
        }
    }
}

/// A configuration value is missing or invalid.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required field has no value anywhere.
    #[error("{provider}: missing `{field}`; set {} or pass `{field}` in code or in the [{provider}] section of the config file", join_keys(.env_keys))]
    Missing {
        /// Provider id.
        provider: String,
        /// Field name.
        field: String,
        /// Every environment key that was tried, in priority order.
        env_keys: Vec<String>,
    },
    /// A value is present but unusable. The value itself is not repeated when the field is secret.
    #[error("{provider}: invalid `{field}` from {origin}: {reason} (env keys tried: {})", join_keys(.env_keys))]
    Invalid {
        /// Provider id.
        provider: String,
        /// Field name.
        field: String,
        /// Where the bad value came from.
        origin: ConfigSource,
        /// What is wrong with it.
        reason: String,
        /// Every environment key that was tried, in priority order.
        env_keys: Vec<String>,
    },
    /// An endpoint URL is plain http on a non-loopback host.
    #[error(
        "{provider}: `{field}` must be an https URL (http is only allowed for 127.0.0.1, ::1 and localhost); got {url} from {origin}"
    )]
    InsecureUrl {
        /// Provider id.
        provider: String,
        /// Field name.
        field: String,
        /// The rejected URL.
        url: String,
        /// Where it came from.
        origin: ConfigSource,
    },
    /// A field name that the provider does not know.
    #[error("{provider}: unknown config field `{field}`; known fields: {known}")]
    UnknownField {
        /// Provider id.
        provider: String,
        /// The unknown name.
        field: String,
        /// The provider's fields, comma-separated.
        known: String,
    },
    /// The configuration file has a top-level key that is neither a provider's section nor
    /// `providers` (a misspelled section, such as `[asna]`, would otherwise be ignored).
    #[error(
        "config file {path}: unknown top-level key `{key}`; sections name providers ({known}), and `providers` lists provider definition files"
    )]
    UnknownSection {
        /// The file.
        path: String,
        /// The unknown key.
        key: String,
        /// The providers' ids, comma-separated.
        known: String,
    },
    /// An environment variable is set to a value that is not UTF-8 (read through
    /// [`EnvSource::get`](crate::config::EnvSource::get)); the value is not repeated.
    #[error(
        "environment variable {key} is set but its value is not valid UTF-8 (not shown); set it as UTF-8 text or unset it"
    )]
    EnvNotUnicode {
        /// The variable.
        key: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("cannot read config file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A provider definition file (named by `INTEGRATIONS_PROVIDERS` or the configuration file's
    /// `providers` list) could not be read.
    #[error("cannot read provider definition file {path}: {reason}")]
    DefinitionFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A provider definition (a TOML file describing a provider) is refused.
    #[error("provider definition {path}, line {line}: `{field}`: {reason}")]
    Definition {
        /// The definition file (or `built-in:ID` for an embedded one).
        path: String,
        /// The line, counted from 1.
        line: usize,
        /// The field at fault, as a path (`providers[0].token_url`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No provider with this id is registered.
    #[error("unknown provider `{provider}`; registered providers: {registered}")]
    UnknownProvider {
        /// The id asked for.
        provider: String,
        /// The registered ids, comma-separated.
        registered: String,
    },
    /// A registration built a provider whose [`AuthProvider::id`](crate::AuthProvider::id) is
    /// not the id it was registered under.
    #[error(
        "the provider registered as `{registered}` built a provider whose id() is `{built}`: they must be the same, since credentials are stored under the provider's id and configuration is read under the registration's"
    )]
    ProviderIdMismatch {
        /// The id of the registration ([`ProviderRegistration`](crate::ProviderRegistration) or
        /// [`ProviderFactory`](crate::ProviderFactory)).
        registered: String,
        /// The id of the provider it built.
        built: String,
    },
}

/// What to do after an [`AuthError::Transient`] of `operation`.
fn transient_advice(operation: TokenOperation) -> &'static str {
    match operation {
        TokenOperation::Exchange => "no tokens were received; retry the exchange later",
        TokenOperation::Refresh | TokenOperation::Revoke => {
            "the credentials were kept, retry later"
        }
    }
}

fn join_keys(keys: &[String]) -> String {
    match keys {
        [] => "no environment key (this field is only read from code or the config file)".into(),
        [one] => one.clone(),
        many => many.join(" or "),
    }
}

/// A credential store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A create-only put found an existing record.
    #[error("credentials for {provider}/{subject} already exist")]
    AlreadyExists {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
    },
    /// A conditional update found another version (or no record): someone else wrote first.
    #[error("credentials for {provider}/{subject} changed concurrently (expected version {expected}, found {})", found.map_or_else(|| "none".to_string(), |v| v.to_string()))]
    VersionMismatch {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// The version the writer expected.
        expected: Version,
        /// The version actually stored, if any.
        found: Option<Version>,
    },
    /// An I/O error on the store's file or database.
    #[error("{store} store at {location}: {source}")]
    Io {
        /// Store kind ("sqlite", "file").
        store: &'static str,
        /// Path or other location.
        location: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The store's data cannot be parsed. It is never overwritten.
    #[error(
        "{store} store at {location} is corrupt: {reason}; it was left untouched, restore it from a backup or move it away"
    )]
    Corrupt {
        /// Store kind.
        store: &'static str,
        /// Path or other location.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The store was written by a newer (or unknown) format version.
    #[error(
        "{store} store at {location} has format version {found}; this build supports up to {supported}: upgrade integrations"
    )]
    UnsupportedVersion {
        /// Store kind.
        store: &'static str,
        /// Path or other location.
        location: String,
        /// Version found.
        found: u64,
        /// Newest version this build reads.
        supported: u64,
    },
    /// The store's location cannot be written.
    #[error("{store} store at {location} is read-only: {reason}")]
    ReadOnly {
        /// Store kind.
        store: &'static str,
        /// Path or other location.
        location: String,
        /// Why it cannot be written.
        reason: String,
    },
    /// A payload could not be decrypted (wrong key or tampered data).
    #[error(
        "cannot decrypt credentials for {provider}/{subject} with key `{key_id}`: wrong key or tampered data; nothing was changed"
    )]
    Decrypt {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// The key id the record names.
        key_id: String,
    },
    /// A record names a key id that is not configured.
    #[error(
        "credentials for {provider}/{subject} are encrypted with key `{key_id}`, which is not configured; add it to the key ring (INTEGRATIONS_ENCRYPTION_OLD_KEYS, or KeyRing::with_old_key in code)"
    )]
    UnknownKey {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// The key id the record names.
        key_id: String,
    },
    /// A record is encrypted but no key is configured.
    #[error(
        "credentials for {provider}/{subject} are encrypted but no encryption key is configured; set INTEGRATIONS_ENCRYPTION_KEY"
    )]
    MissingKey {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
    },
    /// A record is stored unencrypted although an encryption key is configured. It is not used:
    /// anyone able to write the store, key or not, could have put it there.
    #[error(
        "credentials for {provider}/{subject} are stored unencrypted although an encryption key is configured, so they were not used; if they were stored before encryption was turned on, encrypt them with the store's `rotate`, otherwise someone else put them there: delete them and log in again"
    )]
    Unencrypted {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
    },
    /// An encryption key could not be used.
    #[error("invalid encryption key: {reason}")]
    InvalidKey {
        /// Why (never the key itself).
        reason: String,
    },
    /// Any other backend failure.
    #[error("{store} store: {message}")]
    Backend {
        /// Store kind.
        store: &'static str,
        /// What failed.
        message: String,
    },
}

/// What a caller can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Retrying later may succeed (5xx, timeouts, connection failures, rate limits, store conflicts).
    Transient,
    /// The user must connect their account again.
    NeedsReauthorization,
    /// Retrying will not help: fix the configuration, input or code.
    Permanent,
}

/// An authentication or credential-lifecycle failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Configuration is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The credential store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider id is not known to this manager.
    #[error(
        "provider `{provider}` is not configured in this AuthManager; configured: {configured}"
    )]
    UnknownProvider {
        /// The id asked for.
        provider: String,
        /// Configured ids, comma-separated.
        configured: String,
    },
    /// The provider has no OAuth2 client (only an app token, or nothing).
    #[error("{provider}: OAuth2 is not configured; {hint}")]
    OAuthNotConfigured {
        /// Provider id.
        provider: String,
        /// What to set.
        hint: String,
    },
    /// The state was never issued here (or was already purged).
    #[error(
        "{provider}: unknown OAuth state; it was not issued by this AuthManager; start the authorization again"
    )]
    UnknownState {
        /// Provider id.
        provider: String,
    },
    /// The state outlived its time to live.
    #[error("{provider}: the OAuth state expired (older than {}s); start the authorization again", ttl.as_secs())]
    StateExpired {
        /// Provider id.
        provider: String,
        /// The configured time to live.
        ttl: Duration,
    },
    /// The state was already exchanged once.
    #[error(
        "{provider}: the OAuth state was already used; each authorization can be exchanged only once"
    )]
    StateReused {
        /// Provider id.
        provider: String,
    },
    /// A state asked for ([`AuthorizeOptions::state`](crate::AuthorizeOptions::state)) is
    /// pending already: states must be fresh and unpredictable. Nothing was issued.
    #[error(
        "{provider}: this OAuth state is already pending; use a fresh, unpredictable state (leave AuthorizeOptions::state unset to get a random one)"
    )]
    StateAlreadyPending {
        /// Provider id.
        provider: String,
    },
    /// The in-memory pending states hold as many authorizations as they may, all still pending:
    /// no new one is issued until some expire or are exchanged.
    #[error(
        "{provider}: {limit} authorizations are pending in this process, none expired or exchanged, so no new one was issued; retry later, or keep pending states in a shared store sized for this load (StoredPendingStates)"
    )]
    TooManyPendingStates {
        /// Provider id.
        provider: String,
        /// The most pending authorizations kept.
        limit: usize,
    },
    /// The state was issued for another provider.
    #[error(
        "{provider}: the OAuth state was issued for provider `{issued_for}`; exchange it with that provider"
    )]
    StateProviderMismatch {
        /// The provider that was asked to exchange.
        provider: String,
        /// The provider the state belongs to.
        issued_for: String,
    },
    /// The state was bound to another subject when the authorization started
    /// ([`AuthorizeOptions::for_subject`](crate::AuthorizeOptions::for_subject)): the callback was
    /// opened by someone other than who started it, as in a login CSRF, where a victim opens an
    /// attacker's callback link. The state was consumed and nothing was sent to the provider. The
    /// subject it was bound to is not named: it belongs to someone else.
    #[error(
        "{provider}: the OAuth state was issued to another subject than `{subject}`, so it was refused and consumed; nothing was exchanged; `{subject}` must start the authorization again, and callback links from others must not be followed"
    )]
    StateSubjectMismatch {
        /// Provider id.
        provider: String,
        /// The subject that asked to exchange the state.
        subject: String,
    },
    /// An extra authorization request parameter, from
    /// [`AuthorizeOptions::param`](crate::AuthorizeOptions::param) or the provider's
    /// [`OAuth2Settings::extra_authorize_params`](crate::OAuth2Settings::extra_authorize_params),
    /// names one the flow sets itself: `response_type`, `client_id`, `redirect_uri`, `state`,
    /// `code_challenge`, `code_challenge_method` or the provider's scope parameter. Nothing was
    /// issued.
    #[error(
        "{provider}: the extra authorize parameter `{param}` is one the flow sets itself; remove it from AuthorizeOptions::param or the provider's authorize parameters (set the state, scopes and redirect URI through AuthorizeOptions)"
    )]
    ReservedAuthorizeParam {
        /// Provider id.
        provider: String,
        /// The parameter's name.
        param: String,
    },
    /// The token or revocation endpoint answered with an OAuth error (other than a transient
    /// failure).
    #[error("{provider}: the {} refused the {operation} request (HTTP {status}, {code}){}", operation.endpoint(), description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// Provider id.
        provider: String,
        /// The request that was refused; it names the endpoint.
        operation: TokenOperation,
        /// HTTP status.
        status: u16,
        /// The OAuth `error` code, e.g. [`OAuthErrorCode::InvalidGrant`].
        code: OAuthErrorCode,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
    /// The stored grant is no longer valid; the credentials are kept but marked.
    #[error(
        "{provider}: the credentials of `{subject}` need re-authorization ({reason}); ask the user to connect their account again"
    )]
    NeedsReauthorization {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// Why, e.g. `invalid_grant` and the provider's description.
        reason: String,
    },
    /// No credentials are stored for this subject and no fallback was allowed.
    #[error("{provider}: no credentials for `{subject}`; run the OAuth flow and store_credentials{}", if *.fallback_available { "" } else { ", or configure an app-level token" })]
    NoCredentials {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// Whether an app token exists but was not allowed by the session options.
        fallback_available: bool,
    },
    /// The access token was rejected and cannot be refreshed (no refresh token, or an app token).
    #[error(
        "{provider}: the access token of `{subject}` was rejected and cannot be refreshed ({reason})"
    )]
    Unauthorized {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// Why no refresh is possible.
        reason: String,
    },
    /// A failure that may pass: 5xx, timeout, connection error. Credentials were not changed.
    ///
    /// During a code exchange no tokens were received;
    /// [`OAuth2Flow::exchange`](crate::OAuth2Flow::exchange) has put the state back, so the same
    /// callback may be retried.
    #[error(
        "{provider}: transient failure during {operation} at the {} ({detail}); {}", operation.endpoint(), transient_advice(*operation)
    )]
    Transient {
        /// Provider id.
        provider: String,
        /// What was being done; it names the endpoint.
        operation: TokenOperation,
        /// What happened (status or error kind; never a response body).
        detail: String,
        /// How long the server asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// A code exchange failed for now ([`AuthError::Transient`]), and the state could not be put
    /// back for a retry: the authorization must start again.
    #[error(
        "{provider}: transient failure during exchange at the token endpoint ({detail}), and the OAuth state could not be kept for a retry ({reason}); start the authorization again"
    )]
    ExchangeNotRetryable {
        /// Provider id.
        provider: String,
        /// What happened at the token endpoint (status or error kind; never a response body).
        detail: String,
        /// Why the state could not be put back.
        reason: String,
    },
    /// The token endpoint answered 2xx with something that is not a token response, or the
    /// token or revocation endpoint answered with a body over 1 MiB (not read).
    #[error("{provider}: invalid token response: {reason}")]
    InvalidTokenResponse {
        /// Provider id.
        provider: String,
        /// What is wrong (never the body).
        reason: String,
    },
    /// Credentials without a refresh token were given to be refreshed
    /// ([`TokenEndpoint::refresh`](crate::TokenEndpoint::refresh)): nothing was sent. Use them
    /// until they expire; then only a new authorization gives new ones.
    #[error(
        "{provider}: the credentials have no refresh token, so they cannot be refreshed; nothing was sent; use them until they expire, then connect the account again"
    )]
    NoRefreshToken {
        /// Provider id.
        provider: String,
    },
    /// Stored or passed credentials cannot be decoded as this provider's credentials.
    #[error("{provider}: invalid credentials for `{subject}`: {reason}")]
    InvalidCredentials {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// What is wrong (never a value).
        reason: String,
    },
    /// The stored record of (provider, subject) cannot be decoded (damaged, or written by
    /// something else). It is never used nor changed; deleting it, or storing new credentials over
    /// it, always works.
    #[error(
        "{provider}: the stored credentials of `{subject}` are damaged ({reason}); they cannot be used: connect the account again (the new credentials replace them) or delete them"
    )]
    CorruptCredentials {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// What cannot be decoded (a field path, never a value).
        reason: String,
    },
    /// The token was refreshed but the new credentials could not be written to the store, even
    /// after retrying for the store write budget.
    #[error(
        "{provider}: the token of `{subject}` was refreshed but the new credentials could not be saved to the store ({reason}); this process keeps them and keeps trying to save them; if it exits first, the stored grant may be spent and the user may have to connect again"
    )]
    RefreshNotSaved {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// The store's last error.
        reason: String,
    },
    /// A refresh lease held by another process did not clear in time.
    #[error(
        "{provider}: another process has been refreshing the token of `{subject}` for too long; retry later"
    )]
    RefreshContended {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
    },
    /// A raw API request cannot be sent as asked: a path that leaves the provider's API, or a
    /// provider without an API base URL.
    #[error("{provider}: cannot send the request: {reason}")]
    ApiRequest {
        /// Provider id.
        provider: String,
        /// What is wrong.
        reason: String,
    },
    /// A raw API request failed on the way: a timeout, a connection error, or a response larger
    /// than the limit.
    #[error("{provider}: the API request failed: {detail}; retry later")]
    ApiUnreachable {
        /// Provider id.
        provider: String,
        /// What failed (never a token or a body).
        detail: String,
    },
    /// An HTTP client could not be built.
    #[error("{provider}: cannot build the HTTP client: {source}")]
    HttpClient {
        /// Provider id.
        provider: String,
        /// The underlying error.
        source: reqwest::Error,
    },
}

impl AuthError {
    /// What the caller can do about this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            AuthError::Transient { .. }
            | AuthError::TooManyPendingStates { .. }
            | AuthError::ApiUnreachable { .. }
            | AuthError::RefreshContended { .. }
            | AuthError::RefreshNotSaved { .. } => ErrorClass::Transient,
            AuthError::Store(StoreError::VersionMismatch { .. }) => ErrorClass::Transient,
            AuthError::Store(StoreError::Io { .. }) => ErrorClass::Transient,
            AuthError::NeedsReauthorization { .. }
            | AuthError::Unauthorized { .. }
            | AuthError::NoRefreshToken { .. } => ErrorClass::NeedsReauthorization,
            AuthError::NoCredentials { .. } | AuthError::CorruptCredentials { .. } => {
                ErrorClass::NeedsReauthorization
            }
            _ => ErrorClass::Permanent,
        }
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// Whether the user has to connect their account again.
    pub fn needs_reauthorization(&self) -> bool {
        self.class() == ErrorClass::NeedsReauthorization
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_field_and_every_env_key() {
        let e = ConfigError::Missing {
            provider: "asana".into(),
            field: "client_id".into(),
            env_keys: vec!["ASANA_CLIENT_ID".into()],
        };
        assert_eq!(
            e.to_string(),
            "asana: missing `client_id`; set ASANA_CLIENT_ID or pass `client_id` in code or in the [asana] section of the config file"
        );
        let e = ConfigError::Missing {
            provider: "asana".into(),
            field: "token".into(),
            env_keys: vec!["A".into(), "B".into()],
        };
        assert!(e.to_string().contains("set A or B or pass"));
    }

    #[test]
    fn classes() {
        let t = AuthError::Transient {
            provider: "p".into(),
            operation: TokenOperation::Refresh,
            detail: "HTTP 503".into(),
            retry_after: None,
        };
        assert!(t.is_transient());
        let r = AuthError::NeedsReauthorization {
            provider: "p".into(),
            subject: "s".into(),
            reason: "invalid_grant".into(),
        };
        assert!(r.needs_reauthorization());
        assert_eq!(
            AuthError::UnknownState {
                provider: "p".into()
            }
            .class(),
            ErrorClass::Permanent
        );
    }
}
