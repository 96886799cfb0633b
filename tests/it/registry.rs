//! With the `asana` feature on, the Asana provider is found through `inventory` alone: this file
//! never names the Asana crate.
use integrations::auth_core::provider::registered_providers;
use integrations::{AuthManager, ConfigError, ConfigSource, EnvSource};

fn env(pairs: &[(&str, &str)]) -> EnvSource {
    EnvSource::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn asana_is_registered_without_an_import() {
    let ids: Vec<&str> = registered_providers().iter().map(|r| r.id).collect();
    assert!(ids.contains(&"asana"), "registered: {ids:?}");
}

#[test]
fn present_configuration_auto_configures_asana() {
    let auth = AuthManager::builder()
        .env(env(&[
            ("ASANA_CLIENT_ID", "id"),
            ("ASANA_CLIENT_SECRET", "secret"),
        ]))
        .build()
        .unwrap();
    assert_eq!(auth.provider_ids(), ["asana"]);
    let status = auth
        .provider_statuses()
        .iter()
        .find(|s| s.id == "asana")
        .unwrap();
    assert!(status.configured && status.oauth2 && !status.app_token);
    let origin = |field: &str| {
        status
            .sources
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, o)| o.clone())
    };
    assert_eq!(
        origin("client_id"),
        Some(ConfigSource::Env("ASANA_CLIENT_ID".into()))
    );
    assert_eq!(origin("token_url"), Some(ConfigSource::Default));
}

#[test]
fn absent_configuration_lists_asana_as_unconfigured() {
    let auth = AuthManager::builder()
        .env(env(&[("CLIENT_ID", "x"), ("CLIENT_SECRET", "y")]))
        .build()
        .unwrap();
    assert!(
        auth.provider_ids().is_empty(),
        "unprefixed keys must not configure anything"
    );
    let status = auth
        .provider_statuses()
        .iter()
        .find(|s| s.id == "asana")
        .unwrap();
    assert!(!status.configured);
    assert!(
        status
            .missing
            .as_deref()
            .unwrap()
            .contains("ASANA_CLIENT_ID")
    );
}

#[test]
fn a_personal_access_token_alone_configures_asana() {
    let auth = AuthManager::builder()
        .env(env(&[("ASANA_PERSONAL_ACCESS_TOKEN", "pat")]))
        .build()
        .unwrap();
    let status = auth
        .provider_statuses()
        .iter()
        .find(|s| s.id == "asana")
        .unwrap();
    assert!(status.configured && status.app_token && !status.oauth2);
    assert!(
        auth.oauth2("asana").is_err(),
        "no OAuth without a client id and secret"
    );
}

#[test]
fn code_values_beat_env_and_incomplete_code_config_fails_loudly() {
    let auth = AuthManager::builder()
        .env(env(&[
            ("ASANA_CLIENT_ID", "env-id"),
            ("ASANA_CLIENT_SECRET", "env-secret"),
        ]))
        .configure("asana", [("client_id", "code-id")])
        .build()
        .unwrap();
    let status = auth
        .provider_statuses()
        .iter()
        .find(|s| s.id == "asana")
        .unwrap();
    let origin = status
        .sources
        .iter()
        .find(|(f, _)| f == "client_id")
        .map(|(_, o)| o.clone());
    assert_eq!(origin, Some(ConfigSource::Code));

    let err = AuthManager::builder()
        .env(EnvSource::empty())
        .configure("asana", [("client_id", "x")])
        .build()
        .unwrap_err();
    assert!(
        matches!(err, integrations::AuthError::Config(ConfigError::Missing { ref field, .. }) if field == "client_secret"),
        "{err}"
    );

    let err = AuthManager::builder()
        .env(EnvSource::empty())
        .configure("asnaa", [("client_id", "x")])
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            integrations::AuthError::Config(ConfigError::UnknownProvider { .. })
        ),
        "{err}"
    );
}

#[test]
fn insecure_endpoint_from_env_fails_the_build() {
    let err = AuthManager::builder()
        .env(env(&[
            ("ASANA_ACCESS_TOKEN", "pat"),
            ("ASANA_BASE_URL", "http://api.evil.example/1.0"),
        ]))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            integrations::AuthError::Config(ConfigError::InsecureUrl { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("ASANA_BASE_URL"), "{err}");
}

#[tokio::test]
async fn an_enabled_provider_without_configuration_uses_stored_credentials_only() {
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .enable("asana")
        .build()
        .unwrap();
    assert_eq!(auth.provider_ids(), ["asana"]);
    let err = auth.oauth2("asana").unwrap_err();
    assert!(
        matches!(err, integrations::AuthError::OAuthNotConfigured { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ASANA_CLIENT_ID"), "{err}");
    auth.store_credentials(
        "asana",
        "me",
        &integrations::OAuth2Token::bearer("stored-pat"),
    )
    .await
    .unwrap();
    let session = auth.session("me").await.unwrap();
    assert_eq!(
        session.source("asana"),
        Some(integrations::CredentialSource::Stored)
    );
    assert_eq!(
        session.token("asana").await.unwrap().expose_secret(),
        "stored-pat"
    );
    let err = AuthManager::builder()
        .env(EnvSource::empty())
        .enable("nope")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            integrations::AuthError::Config(ConfigError::UnknownProvider { .. })
        ),
        "{err}"
    );
}

/// An enabled provider whose OAuth client is incomplete (a client id without its secret) is set
/// up without the client: stored tokens and the app-level token serve, and what needs the client
/// (an authorization, a refresh) fails naming the missing field. Values in code stay strict.
#[tokio::test]
async fn an_enabled_provider_with_an_incomplete_oauth_client_still_serves_stored_tokens() {
    let auth = AuthManager::builder()
        .env(env(&[
            ("ASANA_CLIENT_ID", "id-only"),
            ("ASANA_ACCESS_TOKEN", "app-pat"),
        ]))
        .enable("asana")
        .build()
        .unwrap();
    assert_eq!(auth.provider_ids(), ["asana"]);
    let status = auth
        .provider_statuses()
        .iter()
        .find(|s| s.id == "asana")
        .unwrap();
    assert!(status.configured && !status.oauth2 && status.app_token);
    let missing = "asana: missing `client_secret`; set ASANA_CLIENT_SECRET or pass `client_secret` in code or in the [asana] section of the config file";
    assert_eq!(status.missing.as_deref(), Some(missing));
    assert!(status.sources.contains(&(
        "client_id".into(),
        ConfigSource::Env("ASANA_CLIENT_ID".into())
    )));
    let err = auth.oauth2("asana").unwrap_err();
    assert!(
        matches!(&err, integrations::AuthError::Config(ConfigError::Missing { field, .. }) if field == "client_secret"),
        "{err}"
    );
    assert_eq!(err.to_string(), missing);

    let session = auth.session("nobody").await.unwrap();
    assert_eq!(
        session.token("asana").await.unwrap().expose_secret(),
        "app-pat"
    );
    let mut expired = integrations::OAuth2Token::bearer("expired-at");
    expired.refresh_token = Some("rt".into());
    expired.expires_at = Some(std::time::SystemTime::UNIX_EPOCH);
    auth.store_credentials("asana", "me", &expired)
        .await
        .unwrap();
    let err = auth
        .session("me")
        .await
        .unwrap()
        .token("asana")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), missing);

    let err = AuthManager::builder()
        .env(env(&[("ASANA_CLIENT_ID", "id-only")]))
        .enable("asana")
        .configure("asana", [("workspace_gid", "1")])
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), missing);
}
