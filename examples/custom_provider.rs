//! A new provider in one file: declare its config fields, implement `AuthProvider`, register it
//! with `inventory`. Nothing in the framework changes, and nothing is Asana-shaped.
//!
//! Runs offline: a local fake "Acme" token endpoint stands in for the real one.
//!
//! ```sh
//! cargo run --example custom_provider
//! ```

use std::sync::Arc;

use integrations::auth_core::AuthProvider;
use integrations::auth_core::config::{ConfigField, ConfigKey, EnvSource, ProviderConfig};
use integrations::auth_core::provider::{ClientAuthMethod, OAuth2Settings, ProviderRegistration};
use integrations::{AuthManager, AuthorizeOptions, ConfigError, SecretString};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Acme's configuration keys: each field's name and the type it reads as.
const AUTHORIZATION_URL: ConfigKey<Url> = ConfigKey::url("authorization_url");
const TOKEN_URL: ConfigKey<Url> = ConfigKey::url("token_url");
const CLIENT_ID: ConfigKey<str> = ConfigKey::text("client_id");
const CLIENT_SECRET: ConfigKey<SecretString> = ConfigKey::secret("client_secret");
const REDIRECT_URI: ConfigKey<Url> = ConfigKey::redirect_uri("redirect_uri");

/// Acme's configuration: its own prefixed env keys, defaults for the endpoints.
const FIELDS: &[ConfigField] = &[
    AUTHORIZATION_URL
        .field(&["ACME_AUTHORIZATION_URL"])
        .with_default("https://login.acme.example/oauth/authorize"),
    TOKEN_URL
        .field(&["ACME_TOKEN_URL"])
        .with_default("https://login.acme.example/oauth/token"),
    CLIENT_ID.field(&["ACME_CLIENT_ID"]),
    CLIENT_SECRET.field(&["ACME_CLIENT_SECRET"]),
    REDIRECT_URI.field(&["ACME_REDIRECT_URI"]),
];

#[derive(Debug)]
struct AcmeProvider {
    oauth2: OAuth2Settings,
}

#[async_trait::async_trait]
impl AuthProvider for AcmeProvider {
    fn id(&self) -> &str {
        "acme"
    }

    fn display_name(&self) -> &str {
        "Acme CRM"
    }

    fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
        Some(&self.oauth2)
    }
}

fn build(config: ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError> {
    let client_id = config.require(&CLIENT_ID)?;
    let secret = config.require(&CLIENT_SECRET)?.clone();
    let mut oauth2 = OAuth2Settings::new(
        config.require(&AUTHORIZATION_URL)?.clone(),
        config.require(&TOKEN_URL)?.clone(),
        client_id,
    )
    .with_client_secret(secret)
    // Acme differs from Asana: comma-separated scopes and HTTP Basic client authentication.
    .with_scope_separator(",")
    .with_client_auth(ClientAuthMethod::BasicAuth);
    if let Some(uri) = config.get(&REDIRECT_URI) {
        oauth2 = oauth2.with_redirect_uri(uri.clone());
    }
    Ok(Arc::new(AcmeProvider { oauth2 }))
}

integrations::auth_core::inventory::submit! {
    ProviderRegistration {
        id: "acme",
        display_name: "Acme CRM",
        fields: FIELDS,
        is_configured: |config| config.is_set(&CLIENT_ID) && config.is_set(&CLIENT_SECRET),
        build,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let acme = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "acme-access", "token_type": "Bearer", "expires_in": "7200",
            "refresh_token": "acme-refresh", "scope": "contacts.read,deals.write"
        })))
        .mount(&acme)
        .await;

    // Configured from (fake) env keys, exactly as a deployment would.
    let env = EnvSource::from_pairs([
        ("ACME_CLIENT_ID", "acme-client".to_string()),
        ("ACME_CLIENT_SECRET", "acme-secret".to_string()),
        ("ACME_TOKEN_URL", format!("{}/oauth/token", acme.uri())),
        (
            "ACME_REDIRECT_URI",
            "http://127.0.0.1:8080/callback".to_string(),
        ),
    ]);
    let auth = AuthManager::builder().env(env).build()?;
    for status in auth.provider_statuses() {
        println!(
            "provider {:<6} configured: {}",
            status.id, status.configured
        );
    }

    let flow = auth.oauth2("acme")?;
    let step = flow
        .authorize(AuthorizeOptions::for_subject("dana").scopes(["contacts.read", "deals.write"]))
        .await?;
    println!("authorize: {}", step.url);
    let credentials = flow
        .exchange("code-from-callback", &step.state, "dana")
        .await?;
    println!(
        "scopes parsed with Acme's separator: {:?}",
        credentials.token.scope
    );
    auth.store_credentials("acme", "dana", &credentials).await?;
    let token = auth.session("dana").await?.token("acme").await?;
    println!(
        "token for dana: {} characters (never printed)",
        token.expose_secret().len()
    );

    let sent = &acme.received_requests().await.unwrap_or_default()[0];
    let basic = sent
        .headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !basic.starts_with("Basic ") || credentials.token.scope != ["contacts.read", "deals.write"] {
        return Err("the Acme provider did not behave as configured".into());
    }
    println!("client authenticated with HTTP Basic, as Acme wants");
    Ok(())
}
