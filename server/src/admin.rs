//! [`Admin`]: the operator's operations on applications (the tenants of the service), called by
//! the command line without HTTP: create, list, rotate the client secret, delete, set an
//! application's own OAuth app and revoke one customer's service tokens; and re-encrypt what the
//! service keeps under a new key.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use integrations::auth_core::config::is_secure_endpoint;
use integrations::{CredentialStore, EncryptedStore, SecretString, StoreError};
use url::Url;

use crate::error::ServerError;
use crate::providers::{ConnectorTypes, OAuthClient, OWN_CLIENT_PROVIDER, oauth_app_record};
use crate::secrets::{self, Sealer};
use crate::store::{
    ApplicationRecord, ConnectorFilter, Sealed, SealedAt, SealedValue, ServiceStore, check_name,
};

/// The credential store's re-encryption under its primary key, whatever store is underneath.
#[async_trait]
pub(crate) trait Rotate: Send + Sync + fmt::Debug {
    /// As [`EncryptedStore::rotate`]: how many records it rewrote.
    async fn rotate(&self) -> Result<usize, StoreError>;
}

#[async_trait]
impl<S: CredentialStore> Rotate for EncryptedStore<S> {
    async fn rotate(&self) -> Result<usize, StoreError> {
        EncryptedStore::rotate(self).await
    }
}

/// How often [`Admin::reencrypt`] lists the service's sealed values again because some changed
/// while it ran.
const RESEAL_ROUNDS: usize = 8;

/// What [`Admin::reencrypt`] rewrote under the primary key: how many of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reencrypted {
    /// Credential records: connectors' tokens, and the OAuth clients connectors were created
    /// with.
    pub credentials: usize,
    /// Applications' own OAuth apps' client secrets.
    pub oauth_apps: usize,
    /// Pending consent flows' PKCE verifiers.
    pub consent_flows: usize,
}

/// An application as the operator sees it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Application {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its organization id (answered with its service tokens).
    pub organization_id: String,
    /// Its client id.
    pub client_id: String,
    /// The origins its consent flows may redirect to.
    pub redirect_origins: Vec<String>,
    /// When it was created.
    pub created_at: SystemTime,
}

impl From<ApplicationRecord> for Application {
    fn from(record: ApplicationRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            organization_id: record.organization_id,
            client_id: record.client_id,
            redirect_origins: record.redirect_origins,
            created_at: record.created_at,
        }
    }
}

/// An application with its client secret, shown once: at creation and after a rotation. The
/// service keeps only its hash.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApplicationCredentials {
    /// The application.
    pub application: Application,
    /// Its client secret (`Debug` prints `[REDACTED]`).
    pub client_secret: SecretString,
}

/// The operator's operations on applications.
#[derive(Debug, Clone)]
pub struct Admin {
    store: Arc<dyn ServiceStore>,
    credentials: Arc<dyn CredentialStore>,
    rotation: Arc<dyn Rotate>,
    sealer: Sealer,
    types: ConnectorTypes,
}

impl Admin {
    pub(crate) fn new(
        store: Arc<dyn ServiceStore>,
        credentials: Arc<dyn CredentialStore>,
        rotation: Arc<dyn Rotate>,
        sealer: Sealer,
        types: ConnectorTypes,
    ) -> Self {
        Self {
            store,
            credentials,
            rotation,
            sealer,
            types,
        }
    }

    /// Registers an application named `name` whose consent flows may redirect to
    /// `redirect_origins` (`https://app.example.com`, plain http only on a loopback host such as
    /// `http://localhost:3000`; a URL is reduced to its origin). Returns its client id and
    /// secret: the secret cannot be read again.
    pub async fn create_application(
        &self,
        name: &str,
        redirect_origins: &[String],
    ) -> Result<ApplicationCredentials, ServerError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ServerError::InvalidArgument {
                name: "name",
                reason: "must not be empty".into(),
            });
        }
        let origins = redirect_origins
            .iter()
            .map(|origin| normalize_origin(origin))
            .collect::<Result<Vec<_>, _>>()?;
        let client_secret = secrets::random_secret();
        let record = ApplicationRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            organization_id: uuid::Uuid::new_v4().to_string(),
            client_id: uuid::Uuid::new_v4().to_string(),
            client_secret_hash: secrets::hash(client_secret.expose_secret()),
            redirect_origins: origins,
            created_at: SystemTime::now(),
        };
        self.store.create_application(record.clone()).await?;
        Ok(ApplicationCredentials {
            application: record.into(),
            client_secret,
        })
    }

    /// Every application, oldest first.
    pub async fn list_applications(&self) -> Result<Vec<Application>, ServerError> {
        Ok(self
            .store
            .list_applications()
            .await?
            .into_iter()
            .map(Application::from)
            .collect())
    }

    /// Gives the application a new client secret. The old secret and every service token issued
    /// with it stop working at once.
    pub async fn rotate_secret(&self, id: &str) -> Result<ApplicationCredentials, ServerError> {
        let record = self.application(id).await?;
        let client_secret = secrets::random_secret();
        let hash = secrets::hash(client_secret.expose_secret());
        if !self.store.replace_client_secret(id, &hash).await? {
            return Err(ServerError::UnknownApplication { id: id.to_string() });
        }
        Ok(ApplicationCredentials {
            application: record.into(),
            client_secret,
        })
    }

    /// Ends every service token of the application scoped to `customer` (a customer signed out
    /// everywhere, or a customer's token leaked); answers how many ended. The application's own
    /// tokens and other customers' keep working.
    ///
    /// The name is read as the HTTP API reads it (surrounding spaces left out), so that it names
    /// the customer the tokens were issued for; a name the API would refuse (empty, with a
    /// control character, over 256 bytes) is refused.
    pub async fn revoke_customer_tokens(
        &self,
        id: &str,
        customer: &str,
    ) -> Result<u64, ServerError> {
        let customer = customer.trim();
        check_name(customer).map_err(|reason| ServerError::InvalidArgument {
            name: "customer",
            reason,
        })?;
        self.application(id).await?;
        Ok(self.store.delete_customer_tokens(id, customer).await?)
    }

    /// Deletes the application with its tokens, connectors (and their credentials), OAuth apps and
    /// pending consent flows. Its audit entries stay.
    ///
    /// The connectors' credentials go first: when the credential store fails, the application is
    /// still there and deleting it again finishes the job, rather than leaving refresh tokens that
    /// nothing names. They go again after the application, for the connectors created, or given
    /// new credentials, meanwhile.
    pub async fn delete_application(&self, id: &str) -> Result<(), ServerError> {
        self.application(id).await?;
        let before = self
            .store
            .list_connectors(id, &ConnectorFilter::default())
            .await?;
        // The providers the connectors' credentials are kept under: those configured now, and
        // those of connectors whose provider was configured when they were created.
        let mut providers: BTreeSet<&str> = self.types.ids().chain([OWN_CLIENT_PROVIDER]).collect();
        providers.extend(before.iter().map(|c| c.connector_type.as_str()));
        let ids: Vec<String> = before.iter().map(|c| c.id.clone()).collect();
        self.delete_credentials(&ids, &providers).await?;
        let connectors = self
            .store
            .delete_application(id)
            .await?
            .ok_or_else(|| ServerError::UnknownApplication { id: id.to_string() })?;
        self.delete_credentials(&connectors, &providers).await
    }

    /// Deletes the credentials these connectors have under any of `providers`.
    async fn delete_credentials(
        &self,
        connectors: &[String],
        providers: &BTreeSet<&str>,
    ) -> Result<(), ServerError> {
        for connector in connectors {
            for provider in providers {
                self.credentials.delete(provider, connector).await?;
            }
        }
        Ok(())
    }

    /// Sets the application's own OAuth app for `connector_type` (`asana`, `github`, ...): OAuth connectors
    /// created without a client id and secret refresh with it. The secret is sealed with the
    /// service's key.
    pub async fn set_oauth_app(
        &self,
        application_id: &str,
        connector_type: &str,
        client_id: &str,
        client_secret: SecretString,
    ) -> Result<(), ServerError> {
        self.application(application_id).await?;
        let kind =
            self.types
                .by_name(connector_type)
                .ok_or_else(|| ServerError::InvalidArgument {
                    name: "connector_type",
                    reason: format!("unknown; supported: {}", self.types.supported()),
                })?;
        if client_id.trim().is_empty() || client_secret.expose_secret().trim().is_empty() {
            return Err(ServerError::InvalidArgument {
                name: "client_id",
                reason: "client id and secret must not be empty".into(),
            });
        }
        let client = OAuthClient {
            client_id: client_id.trim().to_string(),
            client_secret,
        };
        self.store
            .put_oauth_app(oauth_app_record(
                &self.sealer,
                application_id,
                &kind,
                &client,
            )?)
            .await?;
        Ok(())
    }

    /// Re-encrypts under the primary key of the service's key ring everything it keeps sealed
    /// under another key, or in clear from before it had a key: the connectors' credentials (as
    /// [`EncryptedStore::rotate`] does), the applications' own OAuth apps' client secrets and the
    /// PKCE verifiers of pending consent flows. Returns how many of each it rewrote; a second run
    /// rewrites none.
    ///
    /// Run it when every instance seals with the new key (its primary key, the old one kept as an
    /// old key); after it, no instance needs the old key. It can run while the service serves: a
    /// value written meanwhile was sealed by its writer and is left as it is.
    ///
    /// Fails with [`ServerError::NoEncryptionKey`] when the service has no key; changing nothing,
    /// when a value it finds at the start does not open with the ring's keys (sealed under a key
    /// it lacks, or damaged); and with [`ServerError::StillSealedWithOldKey`] when values sealed
    /// under an old key keep appearing while it runs (an instance still seals with that key).
    pub async fn reencrypt(&self) -> Result<Reencrypted, ServerError> {
        if !self.sealer.is_encrypted() {
            return Err(ServerError::NoEncryptionKey);
        }
        // Every value opens before anything is written, the credentials' included (rotate reads
        // them all first).
        let mut first = Some(self.not_current().await?);
        let mut done = Reencrypted {
            credentials: self.rotation.rotate().await?,
            ..Reencrypted::default()
        };
        // Values written meanwhile by an instance still sealing with the old key are left to
        // the next round, as rotate does with records: each round lists them again.
        for _ in 0..RESEAL_ROUNDS {
            let pending = match first.take() {
                Some(listed) => listed,
                None => self.not_current().await?,
            };
            if pending.is_empty() {
                return Ok(done);
            }
            for (value, replacement) in pending {
                if self
                    .store
                    .reseal(&value.at, &value.sealed, replacement)
                    .await?
                {
                    match value.at {
                        SealedAt::OAuthApp { .. } => done.oauth_apps += 1,
                        SealedAt::OAuthState { .. } => done.consent_flows += 1,
                    }
                }
            }
        }
        Err(ServerError::StillSealedWithOldKey {
            done: format!(
                "{} credential record(s), {} OAuth client secret(s), {} consent flow(s) re-encrypted",
                done.credentials, done.oauth_apps, done.consent_flows
            ),
        })
    }

    /// The service's sealed values that are not under the primary key, each sealed again.
    async fn not_current(&self) -> Result<Vec<(SealedValue, Sealed)>, ServerError> {
        let mut resealed = Vec::new();
        for value in self.store.sealed_values(SystemTime::now()).await? {
            if let Some(replacement) = self.sealer.resealed(&value)? {
                resealed.push((value, replacement));
            }
        }
        Ok(resealed)
    }

    async fn application(&self, id: &str) -> Result<ApplicationRecord, ServerError> {
        self.store
            .application(id)
            .await?
            .ok_or_else(|| ServerError::UnknownApplication { id: id.to_string() })
    }
}

/// `https://app.example.com/path` → `https://app.example.com`; only https origins, or plain http
/// on a loopback host (`localhost`, `127.0.0.1`, `::1`): a consent flow's redirect carries the
/// new connector's id and secret id, which plain http would expose on the way, as for every other
/// URL that carries credentials.
fn normalize_origin(origin: &str) -> Result<String, ServerError> {
    let invalid = |reason: &str| ServerError::InvalidArgument {
        name: "redirect_origin",
        reason: format!("`{origin}` {reason}"),
    };
    let url = Url::parse(origin.trim()).map_err(|_| invalid("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            "must be an http(s) origin such as https://app.example.com",
        ));
    }
    if !is_secure_endpoint(&url) {
        return Err(invalid(
            "must be https: plain http is accepted only on localhost, 127.0.0.1 or [::1] (for development)",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_reduced_to_scheme_host_and_port() {
        assert_eq!(
            normalize_origin("https://app.example.com/callback?x=1").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_origin("http://localhost:3000/app").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(
            normalize_origin("http://[::1]:8080").unwrap(),
            "http://[::1]:8080"
        );
        assert!(normalize_origin("ftp://example.com").is_err());
        assert!(normalize_origin("not a url").is_err());
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        for origin in [
            "http://evil.example",
            "http://app.example.com:8080/callback",
            "http://10.0.0.5",
        ] {
            match normalize_origin(origin) {
                Err(ServerError::InvalidArgument { name, reason }) => {
                    assert_eq!(name, "redirect_origin");
                    assert_eq!(
                        reason,
                        format!(
                            "`{origin}` must be https: plain http is accepted only on localhost, 127.0.0.1 or [::1] (for development)"
                        )
                    );
                }
                other => panic!("{origin}: {other:?}"),
            }
        }
    }
}
