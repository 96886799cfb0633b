//! [`DeclarativeProvider`]: a [`Definition`] and its loaded configuration, as an [`AuthProvider`];
//! and the factory the manager's builder uses to configure and build it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use auth_core::config::{ConfigKey, ConfigLoader, ProviderConfig, is_secure_endpoint};
use auth_core::provider::{ApiSettings, ClientAuthMethod, OAuth2Settings, ProviderFactory};
use auth_core::redact::Redactor;
use auth_core::{
    AuthError, AuthProvider, ConfigError, ConfigSource, Credentials, OAuth2Token, SecretString,
    Session,
};
use reqwest::Method;
use serde_json::{Map, Value};
use url::Url;

use crate::builtin::{parse_builtin, parse_builtin_or_log};
use crate::definition::{Definition, STANDARD_FIELDS, WhoamiMethod, fill};
use crate::error::DeclarativeError;
use crate::fields::{env_key, env_prefix, fields_of};

const CLIENT_ID: ConfigKey<str> = ConfigKey::text("client_id");
const CLIENT_SECRET: ConfigKey<auth_core::SecretString> = ConfigKey::secret("client_secret");
const REDIRECT_URI: ConfigKey<Url> = ConfigKey::redirect_uri("redirect_uri");
const DEFAULT_SCOPE: ConfigKey<[String]> = ConfigKey::list("default_scope");
const TOKEN_AUTH_METHOD: ConfigKey<str> =
    ConfigKey::one_of("token_auth_method", ClientAuthMethod::NAMES);

/// The key of the per-user API base URL in the credentials' provider-specific fields.
pub const API_BASE_URL_FIELD: &str = "api_base_url";

/// The key of the user's id in the credentials' provider-specific fields.
pub const USER_ID_FIELD: &str = "user_id";

/// Who a token belongs to, as the provider's "who am I" call answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Identity {
    /// The user's id, where the definition says it is.
    pub user_id: Option<String>,
    /// The whole answer.
    pub user: Value,
}

/// A provider described by a [`Definition`], configured like any other: `{ID}_CLIENT_ID`,
/// `{ID}_CLIENT_SECRET`, `{ID}_REDIRECT_URI`, `{ID}_DEFAULT_SCOPE`, `{ID}_AUTHORIZATION_URL`,
/// `{ID}_TOKEN_URL`, `{ID}_REVOCATION_URL`, `{ID}_API_BASE_URL`, `{ID}_TOKEN_AUTH_METHOD`, and
/// `{ID}_{PLACEHOLDER}` for each placeholder; the `[id]` section of the config file; values in code.
pub struct DeclarativeProvider {
    definition: Arc<Definition>,
    oauth2: Option<OAuth2Settings>,
    api_base_url: Option<Url>,
    config: ProviderConfig,
}

impl fmt::Debug for DeclarativeProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclarativeProvider")
            .field("id", &self.definition.id)
            .field("origin", &self.definition.origin)
            .field("oauth2", &self.oauth2.is_some())
            .finish_non_exhaustive()
    }
}

impl DeclarativeProvider {
    /// Builds the provider from its definition and loaded configuration. Fails when a client id
    /// has no secret (unless `token_auth_method` is `none`), or a filled URL is not a valid
    /// https (or loopback http) URL.
    pub fn new(definition: Arc<Definition>, config: ProviderConfig) -> Result<Self, ConfigError> {
        let placeholders: Vec<(String, String)> = definition
            .placeholders
            .iter()
            .map(|(name, default)| {
                let key = placeholder_key(&config, name);
                let value = key.and_then(|k| config.get(&k)).unwrap_or(default);
                (name.clone(), value.to_string())
            })
            .collect();
        let url_with = |name: &'static str,
                        template: Option<&String>,
                        placeholders: &[(String, String)]|
         -> Result<Option<Url>, ConfigError> {
            let key = ConfigKey::url(name);
            let invalid = |origin: ConfigSource, reason: String| ConfigError::Invalid {
                provider: definition.id.clone(),
                field: name.to_string(),
                origin,
                reason,
                env_keys: vec![format!(
                    "{}_{}",
                    env_prefix(&definition.id),
                    name.to_ascii_uppercase()
                )],
            };
            // A configured URL may name the template's placeholders too (a GitHub Enterprise
            // host's `/applications/{client_id}/token`, `https://{login_host}/...`): the URL
            // parser kept their braces in the host and the query, and percent-encoded them in
            // the path.
            let (template, origin) = match config.get(&key) {
                Some(url) => {
                    let text = url.as_str().replace("%7B", "{").replace("%7D", "}");
                    if !text.contains('{') {
                        return Ok(Some(url.clone()));
                    }
                    let origin = config.origin(key.name()).cloned();
                    (text, origin.unwrap_or(ConfigSource::Default))
                }
                None => match template {
                    Some(template) => (template.clone(), ConfigSource::Default),
                    None => return Ok(None),
                },
            };
            let invalid = |reason: String| invalid(origin.clone(), reason);
            let filled = fill(&template, placeholders).map_err(invalid)?;
            let url = Url::parse(&filled).map_err(|e| invalid(format!("not a valid URL ({e})")))?;
            if !is_secure_endpoint(&url) {
                return Err(invalid(
                    "an endpoint must be https (http only on loopback hosts)".into(),
                ));
            }
            Ok(Some(url))
        };
        let url =
            |name: &'static str, template: Option<&String>| url_with(name, template, &placeholders);
        // Both have a template, so both have a value.
        let required = |name: &'static str, template: &String| {
            url(name, Some(template))?.ok_or_else(|| config.missing(&ConfigKey::url(name)))
        };
        let authorization_url = required("authorization_url", &definition.authorization_url)?;
        let token_url = required("token_url", &definition.token_url)?;
        let api_base_url = url("api_base_url", definition.api_base_url.as_ref())?;
        let method: ClientAuthMethod = config
            .get(&TOKEN_AUTH_METHOD)
            .and_then(|name| name.parse().ok())
            .unwrap_or(definition.client_auth);
        let oauth2 = match (config.get(&CLIENT_ID), config.get(&CLIENT_SECRET)) {
            (Some(_), None) if method != ClientAuthMethod::None => {
                return Err(config.missing(&CLIENT_SECRET));
            }
            (None, Some(_)) => return Err(config.missing(&CLIENT_ID)),
            (None, None) => None,
            (Some(id), secret) => {
                // The revocation URL may name the client (GitHub's
                // `/applications/{client_id}/token`).
                let mut with_client = placeholders.clone();
                with_client.push((
                    "client_id".into(),
                    url::form_urlencoded::byte_serialize(id.as_bytes()).collect(),
                ));
                let revocation_url = url_with(
                    "revocation_url",
                    definition.revocation_url.as_ref(),
                    &with_client,
                )?;
                let mut settings = OAuth2Settings::new(authorization_url, token_url, id)
                    .with_default_scopes(
                        config
                            .get(&DEFAULT_SCOPE)
                            .map(<[String]>::to_vec)
                            .unwrap_or_default(),
                    )
                    .with_scope_separator(definition.scope_separator.clone())
                    .with_scope_param(definition.scope_param.clone())
                    .with_pkce(definition.pkce)
                    .with_client_auth(method)
                    .with_revoke_token(definition.revoke_token)
                    .with_revocation_request(definition.revocation_request)
                    .with_revocation_scope(definition.revocation_scope)
                    .with_token_request_format(definition.token_request_format)
                    .with_token_response_format(definition.token_response_format);
                for (key, value) in &definition.authorize_params {
                    settings = settings.with_authorize_param(key, value);
                }
                for code in &definition.invalid_grant_codes {
                    settings = settings.with_invalid_grant_code(code);
                }
                for code in &definition.transient_codes {
                    settings = settings.with_transient_code(code);
                }
                if definition.error_pointer.is_some()
                    || definition.error_description_pointer.is_some()
                {
                    settings = settings.with_error_pointers(
                        definition.error_pointer.as_deref().unwrap_or("/error"),
                        definition
                            .error_description_pointer
                            .as_deref()
                            .unwrap_or("/error_description"),
                    );
                }
                if let Some(pointer) = &definition.token_pointer {
                    settings = settings.with_token_pointer(pointer);
                }
                if let Some(secret) = secret {
                    settings = settings.with_client_secret(secret.clone());
                }
                if let Some(uri) = config.get(&REDIRECT_URI) {
                    settings = settings.with_redirect_uri(uri.clone());
                }
                if let Some(revocation_url) = revocation_url {
                    settings = settings.with_revocation_url(revocation_url);
                }
                Some(settings)
            }
        };
        Ok(Self {
            definition,
            oauth2,
            api_base_url,
            config,
        })
    }

    /// The definition.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// Asks the provider's API who the session's subject is, with the definition's "who am I"
    /// call.
    pub async fn whoami(&self, session: &Session) -> Result<Identity, DeclarativeError> {
        let id = &self.definition.id;
        let call = self
            .definition
            .whoami
            .as_ref()
            .ok_or_else(|| DeclarativeError::NoWhoami {
                provider: id.clone(),
            })?;
        let method = match call.method {
            WhoamiMethod::Post => Method::POST,
            _ => Method::GET,
        };
        let mut request = session.request(id)?.method(method).path(call.path.clone());
        if let Some(body) = &call.body {
            request = request.json(body.clone());
        }
        // The token the request goes out with, to redact a refusal that echoes it (the token
        // after the call too, in case a 401 had it refreshed and sent again).
        let sent = session.token(id).await.ok();
        let response = request.send().await?;
        if !response.is_success() {
            return Err(DeclarativeError::Status {
                provider: id.clone(),
                status: response.status(),
            });
        }
        let user = response.json().map_err(|_| DeclarativeError::NotJson {
            provider: id.clone(),
        })?;
        if user.get("ok") == Some(&Value::Bool(false)) {
            let code = user
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("ok: false");
            let rejected = call.rejected_token_codes.iter().any(|c| c == code);
            let provider = id.clone();
            // A listed code is the definition's own text; any other is the provider's, which
            // may echo the token it was sent.
            let code = if rejected {
                code.to_string()
            } else {
                let tokens: Vec<SecretString> = sent
                    .into_iter()
                    .chain(session.token(id).await.ok())
                    .collect();
                if tokens.is_empty() {
                    // No token to judge the text by: none of it is shown.
                    auth_core::redact::REDACTED.to_string()
                } else {
                    tokens
                        .iter()
                        .fold(Redactor::new(), |r, token| r.with_secret(token))
                        .clean(code, 64)
                }
            };
            return Err(if rejected {
                DeclarativeError::TokenRejected { provider, code }
            } else {
                DeclarativeError::Refused { provider, code }
            });
        }
        let user_id = call
            .user_id
            .as_deref()
            .and_then(|p| user.pointer(p))
            .and_then(as_id);
        Ok(Identity { user_id, user })
    }
}

/// The key of placeholder `name`, from the configuration's `'static` field table.
fn placeholder_key(config: &ProviderConfig, name: &str) -> Option<ConfigKey<str>> {
    config
        .fields()
        .iter()
        .find(|f| f.name == name)
        .map(|f| ConfigKey::text(f.name))
}

/// An id as text, whether the provider sends a string or a number.
fn as_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl AuthProvider for DeclarativeProvider {
    fn id(&self) -> &str {
        &self.definition.id
    }

    fn display_name(&self) -> &str {
        &self.definition.display_name
    }

    fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
        self.oauth2.as_ref()
    }

    fn config(&self) -> Option<&ProviderConfig> {
        Some(&self.config)
    }

    fn api(&self, credentials_extra: &Map<String, Value>) -> Option<ApiSettings> {
        let per_user = self
            .definition
            .api_base_pointer
            .as_ref()
            .and_then(|_| credentials_extra.get(API_BASE_URL_FIELD))
            .and_then(Value::as_str)
            .and_then(|u| Url::parse(u).ok())
            .filter(is_secure_endpoint);
        let base = per_user.or_else(|| self.api_base_url.clone())?;
        let mut api = ApiSettings::new(base);
        for (name, value) in &self.definition.api_headers {
            api = api.with_header(name, value);
        }
        for prefix in &self.definition.bare_token_prefixes {
            api = api.with_bare_token_prefix(prefix);
        }
        Some(api)
    }

    async fn credentials_from_token(&self, token: OAuth2Token) -> Result<Credentials, AuthError> {
        let invalid = |reason: String| AuthError::InvalidTokenResponse {
            provider: self.definition.id.clone(),
            reason,
        };
        let mut extra = Map::new();
        if let Some(pointer) = &self.definition.user_id_pointer {
            let raw = Value::Object(token.raw.clone());
            if let Some(id) = raw.pointer(pointer).and_then(as_id) {
                extra.insert(USER_ID_FIELD.into(), Value::String(id));
            }
        }
        if let Some(pointer) = &self.definition.api_base_pointer {
            let raw = Value::Object(token.raw.clone());
            let base = raw
                .pointer(pointer)
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(format!("the response has no API base URL at `{pointer}`"))
                })?;
            let url = Url::parse(base)
                .ok()
                .filter(is_secure_endpoint)
                .ok_or_else(|| {
                    invalid(format!(
                        "the API base URL at `{pointer}` is not an https URL"
                    ))
                })?;
            extra.insert(API_BASE_URL_FIELD.into(), Value::String(url.to_string()));
        }
        let mut credentials = Credentials::new(token);
        credentials.extra = extra;
        Ok(credentials)
    }
}

/// Whether a definition's provider is configured: a client id, and a client secret unless the
/// provider is public (`token_auth_method = "none"`).
fn is_configured(config: &ProviderConfig) -> bool {
    let public = config.get(&TOKEN_AUTH_METHOD) == Some(ClientAuthMethod::None.as_str());
    config.is_set(&CLIENT_ID) && (config.is_set(&CLIENT_SECRET) || public)
}

/// A definition as the manager's builder sees it.
#[derive(Debug)]
pub(crate) struct DefinitionFactory(pub(crate) Arc<Definition>);

impl ProviderFactory for DefinitionFactory {
    fn id(&self) -> &str {
        &self.0.id
    }

    fn display_name(&self) -> &str {
        &self.0.display_name
    }

    fn fields(&self) -> &'static [auth_core::config::ConfigField] {
        fields_of(&self.0)
    }

    fn is_configured(&self, config: &ProviderConfig) -> bool {
        is_configured(config)
    }

    fn build(&self, config: ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError> {
        Ok(Arc::new(DeclarativeProvider::new(self.0.clone(), config)?))
    }
}

/// A built-in definition as the manager's builder sees it: its text is parsed at the first
/// question its id does not answer, so that a process using other providers never parses it.
#[derive(Debug)]
pub(crate) struct BuiltinFactory {
    id: &'static str,
    text: &'static str,
    /// `None` if the text failed to parse (logged; the crate's tests parse every built-in).
    definition: OnceLock<Option<Arc<Definition>>>,
}

impl BuiltinFactory {
    pub(crate) fn new(id: &'static str, text: &'static str) -> Self {
        Self {
            id,
            text,
            definition: OnceLock::new(),
        }
    }

    fn definition(&self) -> Option<&Arc<Definition>> {
        self.definition
            .get_or_init(|| parse_builtin_or_log(self.id, self.text).map(Arc::new))
            .as_ref()
    }
}

impl ProviderFactory for BuiltinFactory {
    fn id(&self) -> &str {
        self.id
    }

    fn display_name(&self) -> &str {
        self.definition().map_or(self.id, |d| &d.display_name)
    }

    fn fields(&self) -> &'static [auth_core::config::ConfigField] {
        self.definition().map_or(&[], |d| fields_of(d))
    }

    fn is_configured(&self, config: &ProviderConfig) -> bool {
        is_configured(config)
    }

    fn build(&self, config: ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError> {
        let definition = match self.definition() {
            Some(definition) => definition.clone(),
            None => Arc::new(parse_builtin(self.id, self.text)?),
        };
        Ok(Arc::new(DeclarativeProvider::new(definition, config)?))
    }

    /// No config file, no values in code, and none of the standard fields' env keys set: then no
    /// client id is set, and every value the configuration could load is a default of the
    /// definition or a placeholder's env value.
    fn surely_unconfigured(&self, loader: &ConfigLoader) -> bool {
        loader.file().is_none()
            && !loader.has_code_values(self.id)
            && STANDARD_FIELDS
                .iter()
                .all(|name| loader.env().get_os(&env_key(self.id, name)).is_none())
    }
}

#[cfg(test)]
mod tests {
    use auth_core::config::EnvSource;

    use super::*;
    use crate::builtin::BUILTIN;

    #[test]
    fn a_builtin_is_parsed_only_when_more_than_its_id_is_asked_for() {
        let (id, text) = BUILTIN[0];
        let factory = BuiltinFactory::new(id, text);
        let loader = |pairs: &[(&str, &str)]| {
            ConfigLoader::new().with_env(EnvSource::from_pairs(pairs.iter().copied()))
        };
        assert!(factory.surely_unconfigured(&loader(&[("GOOGLE_CLIENT_ID", "x")])));
        assert_eq!(factory.id(), "github");
        assert!(factory.definition.get().is_none(), "parsed too early");

        for name in STANDARD_FIELDS {
            let key = env_key(id, name);
            assert!(
                !factory.surely_unconfigured(&loader(&[(key.as_str(), "x")])),
                "{key}"
            );
        }
        let in_code = loader(&[]).with_value("github", "client_id", "x");
        assert!(!factory.surely_unconfigured(&in_code));
        let with_file = loader(&[]).with_file("/nonexistent/integrations.toml");
        assert!(!factory.surely_unconfigured(&with_file));
        assert!(factory.definition.get().is_none(), "parsed too early");

        assert_eq!(factory.display_name(), "GitHub");
        assert!(factory.definition.get().is_some());
    }
}
