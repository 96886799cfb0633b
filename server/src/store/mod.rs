//! The service's own records behind one object-safe async trait, [`ServiceStore`]: applications,
//! service tokens, connectors, applications' own OAuth apps, pending OAuth states, the
//! single-use secret ids of completed consent flows and the audit log. Connector credentials are not here: they live in the core's credential store.
//!
//! The trait names no database type, so that a PostgreSQL implementation can follow the SQLite
//! one ([`SqliteServiceStore`]). Secrets never reach it in clear: client secrets, service
//! tokens and consent flows' secret ids arrive as SHA-256 hashes, OAuth client secrets and PKCE verifiers sealed
//! ([`Sealed`]).

#[cfg(feature = "postgres")]
mod batches;
mod connection_thread;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use integrations::CredentialStatus;
use integrations::auth_core::StoredCredential;

use crate::error::ServiceStoreError;

#[cfg(feature = "postgres")]
pub use postgres::PostgresServiceStore;
pub use sqlite::SqliteServiceStore;

/// The longest customer or connector name the service keeps, in bytes (UTF-8): a name is an
/// identifier, and every store indexes it.
pub(crate) const MAX_NAME_BYTES: usize = 256;

/// Whether `name` (already trimmed) can be a customer's or a connector's name in every store:
/// not empty, no control character (PostgreSQL's text cannot hold NUL), at most
/// [`MAX_NAME_BYTES`]. The error is the rule it breaks, to follow the name of what was given.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("must not be empty".into())
    } else if name.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else if name.len() > MAX_NAME_BYTES {
        Err(format!("must be at most {MAX_NAME_BYTES} bytes"))
    } else {
        Ok(())
    }
}

/// What [`ServiceStore::token_and_connector`] reads: a service token and, when its application
/// has it, the connector asked for, with what the store read of its credentials.
pub type TokenAndConnector = (TokenRecord, Option<(ConnectorRecord, JoinedCredentials)>);

/// What [`ServiceStore::token_and_connector`] read of a connector's credentials in the same round
/// trip as the connector: as much as the store can, as it shares the credential store's database
/// or not.
#[derive(Debug, Clone, Default)]
pub struct JoinedCredentials {
    /// Their status (a connector without credentials needs re-authorization); `None` when the
    /// store does not read it (the caller then asks the credential store).
    pub status: Option<CredentialStatus>,
    /// The record, as the credential store holds it underneath its encryption layer (sealed),
    /// when the store reads it too: the connector's token source then starts from it instead of
    /// reading it again ([`RecordOpener`](integrations::auth_core::RecordOpener) opens it).
    pub record: Option<StoredCredential>,
}

/// Two reads are alike when they agree on the status and on the record's provider, subject and
/// version (`StoredCredential` has no equality of its own; for the reads of one record, the
/// version tells a write apart).
impl PartialEq for JoinedCredentials {
    fn eq(&self, other: &Self) -> bool {
        let key = |joined: &Self| {
            joined.record.as_ref().map(|stored| {
                (
                    stored.record.provider.clone(),
                    stored.record.subject.clone(),
                    stored.version,
                )
            })
        };
        self.status == other.status && key(self) == key(other)
    }
}

/// A connector's credential status as read by a join with the credential store's table: no row
/// there (no credentials) needs re-authorization, as [`record_status`] says; an error names a
/// stored status this release does not know.
pub(super) fn joined_status(stored: Option<&str>) -> Result<CredentialStatus, String> {
    match stored {
        None => Ok(record_status(None)),
        Some(stored) => CredentialStatus::parse(stored)
            .ok_or_else(|| format!("unknown stored credential status `{stored}`")),
    }
}

/// A connector's credential status from its record as the credential store holds it: no record
/// (no credentials) needs re-authorization.
pub(crate) fn record_status(stored: Option<&StoredCredential>) -> CredentialStatus {
    stored.map_or(CredentialStatus::NeedsReauthorization, |stored| {
        stored.record.status
    })
}

/// A registered application (a tenant of the service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRecord {
    /// Its id (uuid).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// The organization it belongs to (answered with its service tokens).
    pub organization_id: String,
    /// The public half of its credentials.
    pub client_id: String,
    /// Lowercase hex SHA-256 of its client secret.
    pub client_secret_hash: String,
    /// The origins (`scheme://host[:port]`) its consent flows may redirect to.
    pub redirect_origins: Vec<String>,
    /// When it was created.
    pub created_at: SystemTime,
}

/// A service token: what `Authorization: Bearer` carries, stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    /// The application it authenticates.
    pub application_id: String,
    /// For a scoped token, the one customer whose connectors it reaches.
    pub customer: Option<String>,
    /// When it stops working.
    pub expires_at: SystemTime,
}

/// What a new service token is issued on. The store keeps the token only while that still
/// holds, checked in the insert's transaction: a token is not stored once the rotation of the
/// client secret, or the deletion of the token, that it was issued on has committed, however the
/// requests interleave. (A token stored before stays until it expires, is revoked, or the secret
/// is rotated.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Issuer<'a> {
    /// The application's client secret, by its hash: it must still be the application's.
    ClientSecret(&'a str),
    /// A token of the same application, by its hash: it must still be stored.
    Token(&'a str),
}

/// What [`ServiceStore::insert_token`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenInsert {
    /// The token is stored.
    Stored,
    /// Its [`Issuer`] no longer holds: nothing is stored.
    IssuerGone,
    /// The application already holds the most tokens it may: nothing is stored.
    Full {
        /// When the first of the application's tokens expires (and one more can be stored).
        next_expiry: Option<SystemTime>,
    },
}

/// How a connector authenticates to its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthKind {
    /// A personal access token.
    Token,
    /// OAuth credentials with a refresh token.
    OAuth,
}

impl AuthKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Token => "token",
            AuthKind::OAuth => "oauth",
        }
    }

    /// Parses [`AuthKind::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "token" => Some(AuthKind::Token),
            "oauth" => Some(AuthKind::OAuth),
            _ => None,
        }
    }
}

/// Whose OAuth app refreshes an OAuth connector's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthAppSource {
    /// The client id and secret given with the connector's credentials (kept with them in the
    /// credential store).
    Own,
    /// The application's own OAuth app for the provider ([`OAuthAppRecord`]).
    Application,
    /// The service's configured app.
    Service,
}

impl OAuthAppSource {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthAppSource::Own => "own",
            OAuthAppSource::Application => "application",
            OAuthAppSource::Service => "service",
        }
    }

    /// Parses [`OAuthAppSource::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "own" => Some(OAuthAppSource::Own),
            "application" => Some(OAuthAppSource::Application),
            "service" => Some(OAuthAppSource::Service),
            _ => None,
        }
    }
}

/// A connector: one customer's account at one provider, for one application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorRecord {
    /// Its id (uuid); also the subject of its credentials in the credential store.
    pub id: String,
    /// The application that owns it.
    pub application_id: String,
    /// The customer (`customer_name`, `workspace_name` or `external_user_id` in requests).
    pub customer_name: String,
    /// The provider, e.g. `asana`.
    pub connector_type: String,
    /// The provider's definition id.
    pub definition_id: String,
    /// A name for people.
    pub name: String,
    /// Token or OAuth.
    pub auth_kind: AuthKind,
    /// For OAuth connectors, whose app refreshes them.
    pub oauth_app: Option<OAuthAppSource>,
    /// Whether only its reads are offered and run over MCP (writes hidden and refused).
    pub read_only: bool,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last changed.
    pub updated_at: SystemTime,
}

/// Which connectors [`ServiceStore::list_connectors`] returns (of one application; every given
/// field must match), in the listing's order: creation time, then id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectorFilter {
    /// Only this customer's.
    pub customer_name: Option<String>,
    /// Only this provider's.
    pub connector_type: Option<String>,
    /// Only those after this one in the listing's order (a page's last connector).
    pub after: Option<ConnectorPosition>,
    /// At most this many (`None`: all).
    pub limit: Option<u32>,
}

/// Where a connector stands in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorPosition {
    /// Its creation time (to the millisecond, as stores keep it).
    pub created_at: SystemTime,
    /// Its id.
    pub id: String,
}

/// A value sealed by the service before it is stored (with the core's key ring, or marked as
/// plaintext when the service runs without encryption). Opaque to stores.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(pub Vec<u8>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed([REDACTED; {} bytes])", self.0.len())
    }
}

/// Where the service keeps a value it sealed: what [`ServiceStore::sealed_values`] lists and
/// [`ServiceStore::reseal`] rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealedAt {
    /// An application's own OAuth app's client secret.
    OAuthApp {
        /// The application.
        application_id: String,
        /// The provider, e.g. `asana`.
        connector_type: String,
    },
    /// A pending consent flow's PKCE verifier.
    OAuthState {
        /// Lowercase hex SHA-256 of its `state`.
        state_hash: String,
    },
}

/// A value the service sealed, and where it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// Where it is kept.
    pub at: SealedAt,
    /// The value as stored.
    pub sealed: Sealed,
}

/// An application's own OAuth app for one provider ("bring your own app").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAppRecord {
    /// The application.
    pub application_id: String,
    /// The provider, e.g. `asana`.
    pub connector_type: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret, sealed.
    pub client_secret: Sealed,
    /// When it was last set.
    pub updated_at: SystemTime,
}

/// A pending consent flow: everything its callback needs, on whichever instance it lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthStateRecord {
    /// Lowercase hex SHA-256 of the `state` sent to the provider.
    pub state_hash: String,
    /// The application that started it.
    pub application_id: String,
    /// The customer the connector is for.
    pub customer_name: String,
    /// The provider.
    pub connector_type: String,
    /// The connector's name, if one was given.
    pub name: Option<String>,
    /// The PKCE verifier, sealed.
    pub pkce_verifier: Sealed,
    /// The `redirect_uri` sent to the provider (the code exchange repeats it).
    pub redirect_uri: String,
    /// The scopes requested.
    pub scopes: Vec<String>,
    /// Where the user goes after the callback.
    pub redirect_url: String,
    /// Whose OAuth app the flow uses.
    pub oauth_app: OAuthAppSource,
    /// When the state stops being accepted.
    pub expires_at: SystemTime,
}

/// The single-use handle a completed consent flow hands to the application with its connector
/// (`secret_id`, Airbyte's `server_side_oauth_secret_id`): creating a connector with it answers
/// the connector the flow created. Only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSecretRecord {
    /// Lowercase hex SHA-256 of the secret id.
    pub secret_hash: String,
    /// The connector the consent flow created.
    pub connector_id: String,
    /// The application that started the flow.
    pub application_id: String,
    /// The customer the connector is for.
    pub customer_name: String,
    /// The provider, e.g. `asana`.
    pub connector_type: String,
    /// When the secret id stops being accepted.
    pub expires_at: SystemTime,
}

/// Whose secret id [`ServiceStore::claim_oauth_secret`] may claim: every field must match the
/// stored [`OAuthSecretRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSecretClaim {
    /// Lowercase hex SHA-256 of the secret id presented.
    pub secret_hash: String,
    /// The caller's application.
    pub application_id: String,
    /// The customer the caller names.
    pub customer_name: String,
    /// The provider the caller names.
    pub connector_type: String,
}

/// One audit log entry: a connector change or an execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its id (uuid).
    pub id: String,
    /// When it happened.
    pub at: SystemTime,
    /// The application that acted.
    pub application_id: String,
    /// The customer concerned, when known.
    pub customer_name: Option<String>,
    /// The connector concerned, when known.
    pub connector_id: Option<String>,
    /// What was done: `connector.create`, `connector.update`, `connector.delete`, `execute`,
    /// or an MCP tool call: `mcp.execute`, `mcp.describe`.
    pub operation: String,
    /// The entity executed.
    pub entity: Option<String>,
    /// The action executed.
    pub action: Option<String>,
    /// The names of the params sent (never their values).
    pub param_names: Vec<String>,
    /// `ok`, or `error`.
    pub outcome: String,
    /// The HTTP status answered.
    pub status: u16,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// The service's records. Object safe: the service holds an `Arc<dyn ServiceStore>`.
///
/// Methods that take an `application_id` never reach another application's records.
#[async_trait]
pub trait ServiceStore: Send + Sync + fmt::Debug {
    /// Whether the store answers (for `/readyz`).
    async fn ping(&self) -> Result<(), ServiceStoreError>;
    /// The provider and subject of the first record (in their order) of the credential store
    /// whose table this store reads, so that `/readyz` can check that the configured keys open
    /// what is stored; `None` when it holds none, or when this store reads no credential store's
    /// table (a [`SqliteServiceStore`] opened without one).
    async fn first_credential(&self) -> Result<Option<(String, String)>, ServiceStoreError>;

    /// Adds an application; [`ServiceStoreError::AlreadyExists`] if its id or client id is taken.
    async fn create_application(&self, app: ApplicationRecord) -> Result<(), ServiceStoreError>;
    /// The application with this id.
    async fn application(&self, id: &str) -> Result<Option<ApplicationRecord>, ServiceStoreError>;
    /// The application with this client id.
    async fn application_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<ApplicationRecord>, ServiceStoreError>;
    /// Every application, oldest first.
    async fn list_applications(&self) -> Result<Vec<ApplicationRecord>, ServiceStoreError>;
    /// Replaces the application's client secret hash and deletes its service tokens, in one
    /// transaction; `false` if there is no such application.
    async fn replace_client_secret(
        &self,
        id: &str,
        client_secret_hash: &str,
    ) -> Result<bool, ServiceStoreError>;
    /// Deletes the application with its tokens, connectors, OAuth apps and OAuth states, in one
    /// transaction, and returns the ids of the connectors deleted (whose credentials the caller
    /// deletes); `None` if there is no such application. Its audit entries stay.
    async fn delete_application(&self, id: &str) -> Result<Option<Vec<String>>, ServiceStoreError>;

    /// Stores a service token if its `issuer` still holds and its application holds fewer than
    /// `max_tokens` tokens (expired ones not yet deleted count), checked in the same transaction
    /// as the insert, so that concurrent inserts cannot pass the bound; otherwise stores nothing
    /// and says which did not hold.
    async fn insert_token(
        &self,
        token: TokenRecord,
        issuer: Issuer<'_>,
        max_tokens: u32,
    ) -> Result<TokenInsert, ServiceStoreError>;
    /// Deletes the application's token with this hash (with `customer`, only if the token is
    /// scoped to that customer); whether one was deleted.
    async fn delete_token(
        &self,
        token_hash: &str,
        application_id: &str,
        customer: Option<&str>,
    ) -> Result<bool, ServiceStoreError>;
    /// Deletes every token of the application scoped to `customer`; how many were deleted.
    async fn delete_customer_tokens(
        &self,
        application_id: &str,
        customer: &str,
    ) -> Result<u64, ServiceStoreError>;
    /// The token with this hash, expired or not.
    async fn token(&self, token_hash: &str) -> Result<Option<TokenRecord>, ServiceStoreError>;
    /// The token with this hash (expired or not) and, when its application has one, that
    /// application's connector with id `connector_id`: what an execute reads, in one round trip.
    /// The connector comes with what this store reads of its credentials in the same round trip
    /// ([`JoinedCredentials`]): their status when it can see the credential store's table (a
    /// connector without credentials needs re-authorization), and their record when it shares
    /// that store's database.
    async fn token_and_connector(
        &self,
        token_hash: &str,
        connector_id: &str,
    ) -> Result<Option<TokenAndConnector>, ServiceStoreError>;
    /// Deletes the tokens that expired before `now`; returns how many.
    async fn delete_expired_tokens(&self, now: SystemTime) -> Result<u64, ServiceStoreError>;

    /// Adds a connector.
    async fn insert_connector(&self, connector: ConnectorRecord) -> Result<(), ServiceStoreError>;
    /// The application's connector with this id.
    async fn connector(
        &self,
        application_id: &str,
        id: &str,
    ) -> Result<Option<ConnectorRecord>, ServiceStoreError>;
    /// The application's connectors matching `filter`, oldest first.
    async fn list_connectors(
        &self,
        application_id: &str,
        filter: &ConnectorFilter,
    ) -> Result<Vec<ConnectorRecord>, ServiceStoreError>;
    /// Writes a connector's name, auth kind, OAuth app, read-only flag and `updated_at` if its
    /// stored `updated_at` is still `read_at` (the row it was changed from; in the same
    /// statement); `false` if the application has no such connector or it changed since.
    async fn update_connector(
        &self,
        connector: &ConnectorRecord,
        read_at: SystemTime,
    ) -> Result<bool, ServiceStoreError>;
    /// Deletes the application's connector; `false` if there was none.
    async fn delete_connector(
        &self,
        application_id: &str,
        id: &str,
    ) -> Result<bool, ServiceStoreError>;

    /// Sets (adds or replaces) an application's OAuth app for a provider, and marks the
    /// application's connectors of that provider that refresh with its own app as changed (their
    /// `updated_at` at least a millisecond later), so that every instance rebuilds them.
    async fn put_oauth_app(&self, app: OAuthAppRecord) -> Result<(), ServiceStoreError>;
    /// The application's OAuth app for a provider.
    async fn oauth_app(
        &self,
        application_id: &str,
        connector_type: &str,
    ) -> Result<Option<OAuthAppRecord>, ServiceStoreError>;
    /// Deletes the application's OAuth app for a provider; `false` if there was none. Marks the
    /// connectors that refreshed with it as changed, as [`ServiceStore::put_oauth_app`] does.
    async fn delete_oauth_app(
        &self,
        application_id: &str,
        connector_type: &str,
    ) -> Result<bool, ServiceStoreError>;

    /// Every value the service sealed that is still in use: applications' OAuth client secrets
    /// and the PKCE verifiers of pending consent flows that have not expired at `now`.
    async fn sealed_values(&self, now: SystemTime) -> Result<Vec<SealedValue>, ServiceStoreError>;
    /// Replaces the value kept at `at` with `replacement` if it is still `expected`, and changes
    /// nothing else: for the same secret sealed again (under a new key), so an OAuth app keeps
    /// its `updated_at` and its connectors are not marked as changed. `false` when the value was
    /// changed or deleted meanwhile (its writer sealed it then).
    async fn reseal(
        &self,
        at: &SealedAt,
        expected: &Sealed,
        replacement: Sealed,
    ) -> Result<bool, ServiceStoreError>;

    /// Stores a pending OAuth state, and forgets the states and the consent flows' secret ids
    /// that expired already.
    async fn put_oauth_state(&self, state: OAuthStateRecord) -> Result<(), ServiceStoreError>;
    /// Takes (reads and deletes, atomically: once only) the state with this hash, if it has not
    /// expired at `now`. An expired state is deleted and `None` returned.
    async fn take_oauth_state(
        &self,
        state_hash: &str,
        now: SystemTime,
    ) -> Result<Option<OAuthStateRecord>, ServiceStoreError>;

    /// Stores the secret id of a completed consent flow, for the connector it created.
    async fn put_oauth_secret(&self, secret: OAuthSecretRecord) -> Result<(), ServiceStoreError>;
    /// Claims (deletes, atomically: once only, across instances) the secret id `claim` names if
    /// its application, customer and provider match and it has not expired at `now`, and
    /// returns it. Anything else returns `None` and changes nothing. A connector's secret id
    /// goes with the connector (or its application) when that is deleted.
    async fn claim_oauth_secret(
        &self,
        claim: &OAuthSecretClaim,
        now: SystemTime,
    ) -> Result<Option<OAuthSecretRecord>, ServiceStoreError>;

    /// Records when a connector's access token expires, for the background refresher, and
    /// releases a claim on it; `None` (an expiry unknown: refreshed on a 401 only) forgets it.
    /// Nothing is recorded for a connector that does not exist.
    async fn set_token_expiry(
        &self,
        connector_id: &str,
        expires_at: Option<SystemTime>,
    ) -> Result<(), ServiceStoreError>;
    /// Claims at most `limit` connectors whose recorded token expiry is before `before` and that
    /// no unexpired claim holds, for `claim_for` (a claim left by a dead instance lapses then),
    /// soonest expiry first. Concurrent callers (other instances) never get the same connector
    /// while its claim lasts. [`ServiceStore::set_token_expiry`] releases a claim.
    async fn claim_expiring(
        &self,
        before: SystemTime,
        claim_for: Duration,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, ServiceStoreError>;

    /// Appends an audit entry.
    async fn append_audit(&self, entry: AuditEntry) -> Result<(), ServiceStoreError>;
    /// Deletes entries written before `before`, at most `limit` of the oldest (of every
    /// application) in one call; returns how many. It reads no further than the `limit` oldest
    /// entries, so a call costs the same however large the log is.
    async fn delete_audit_before(
        &self,
        before: SystemTime,
        limit: u32,
    ) -> Result<u64, ServiceStoreError>;
    /// The application's newest `limit` entries (of one customer, when given), newest first.
    async fn list_audit(
        &self,
        application_id: &str,
        customer_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, ServiceStoreError>;
}
