//! Configuration: built-in defaults < TOML file < the provider's own env keys (in priority order) <
//! values passed in code.
//!
//! A provider declares its fields as [`ConfigField`]s. Each provider reads only its own prefixed env
//! keys: an unprefixed `CLIENT_ID` is never read, unlike the Python framework. An empty env value counts
//! as unset, so the next key in the priority order is tried; a value that is not UTF-8 is an
//! error, not an unset key.
//!
//! ```
//! use auth_core::config::{ConfigField, ConfigKey, ConfigLoader, EnvSource};
//! use auth_core::ConfigSource;
//! use url::Url;
//!
//! const CLIENT_ID: ConfigKey<str> = ConfigKey::text("client_id");
//! const TOKEN_URL: ConfigKey<Url> = ConfigKey::url("token_url");
//! const FIELDS: &[ConfigField] = &[
//!     CLIENT_ID.field(&["ACME_CLIENT_ID"]),
//!     TOKEN_URL.field(&["ACME_TOKEN_URL", "ACME_ACCESS_TOKEN_URL"])
//!         .with_default("https://acme.example/oauth/token"),
//! ];
//! let loader = ConfigLoader::new()
//!     .with_env(EnvSource::from_pairs([("ACME_ACCESS_TOKEN_URL", "https://login.acme.example/token")]))
//!     .with_value("acme", "client_id", "id-from-code");
//! let config = loader.load("acme", FIELDS).unwrap();
//! assert_eq!(config.get(&CLIENT_ID), Some("id-from-code"));
//! assert_eq!(config.origin("client_id"), Some(&ConfigSource::Code));
//! assert_eq!(config.get(&TOKEN_URL).unwrap().as_str(), "https://login.acme.example/token");
//! assert_eq!(config.origin("token_url"), Some(&ConfigSource::Env("ACME_ACCESS_TOKEN_URL".into())));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use url::Url;

use crate::error::{ConfigError, ConfigSource};
use crate::secret::SecretString;
use crate::token::split_scopes;
use sealed::ConfigValue;

/// The env key naming a TOML configuration file when none is given in code.
pub const CONFIG_FILE_ENV: &str = "INTEGRATIONS_CONFIG";

/// The configuration file's one top-level key that is not a provider's section: the list of
/// provider definition files (`providers = ["./my-providers.toml"]`), read by provider sources.
pub const PROVIDERS_KEY: &str = "providers";

/// What kind of value a field holds; decides parsing, validation and redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// Plain text.
    Text,
    /// A secret: stored as [`SecretString`], never echoed in errors.
    Secret,
    /// An endpoint URL: https, or http on a loopback host only.
    Url,
    /// Where a provider sends the user back after consent (RFC 8252's kinds too): https, http on a
    /// loopback host, an app's private-use scheme (a reversed domain with a `.`, such as
    /// `com.example.app:/callback`), or `urn:ietf:wg:oauth:2.0:oob`.
    RedirectUri,
    /// A list: a TOML array, or a comma- or space-separated string.
    List,
    /// One of these names (read as text through a [`ConfigKey::one_of`] key).
    OneOf(&'static [&'static str]),
}

/// One configuration field a provider declares.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ConfigField {
    /// Field name (also its key in the TOML section and in code).
    pub name: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Env keys in priority order; the first one set wins.
    pub env_keys: &'static [&'static str],
    /// Built-in default, if any.
    pub default: Option<&'static str>,
}

impl ConfigField {
    /// A field with no default.
    pub const fn new(
        name: &'static str,
        kind: FieldKind,
        env_keys: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            kind,
            env_keys,
            default: None,
        }
    }

    /// The same field with a built-in default.
    pub const fn with_default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
}

/// A typed handle on one configuration field: its name, its kind and the type its value reads
/// as. A provider declares each field once as a key, builds its [`ConfigField`] from the key
/// ([`ConfigKey::field`]) and reads the loaded value back with [`ProviderConfig::get`], so the
/// name, the kind and the reading cannot drift apart.
///
/// ```
/// use auth_core::config::{ConfigField, ConfigKey, ConfigLoader, EnvSource};
/// use auth_core::SecretString;
///
/// const CLIENT_ID: ConfigKey<str> = ConfigKey::text("client_id");
/// const CLIENT_SECRET: ConfigKey<SecretString> = ConfigKey::secret("client_secret");
/// const FIELDS: &[ConfigField] = &[
///     CLIENT_ID.field(&["ACME_CLIENT_ID"]),
///     CLIENT_SECRET.field(&["ACME_CLIENT_SECRET"]),
/// ];
///
/// let env = EnvSource::from_pairs([("ACME_CLIENT_ID", "id-1")]);
/// let config = ConfigLoader::new().with_env(env).load("acme", FIELDS).unwrap();
/// assert_eq!(config.get(&CLIENT_ID), Some("id-1"));
/// let err = config.require(&CLIENT_SECRET).unwrap_err();
/// assert!(err.to_string().contains("ACME_CLIENT_SECRET"), "{err}");
/// ```
pub struct ConfigKey<T: ?Sized> {
    name: &'static str,
    kind: FieldKind,
    value: PhantomData<fn() -> *const T>,
}

impl<T: ?Sized> ConfigKey<T> {
    const fn of(name: &'static str, kind: FieldKind) -> Self {
        Self {
            name,
            kind,
            value: PhantomData,
        }
    }

    /// The field's name (its key in the TOML section and in code).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The field declaration for this key, read from `env_keys` in priority order.
    pub const fn field(&self, env_keys: &'static [&'static str]) -> ConfigField {
        ConfigField::new(self.name, self.kind, env_keys)
    }
}

impl ConfigKey<str> {
    /// A plain text field ([`FieldKind::Text`]).
    pub const fn text(name: &'static str) -> Self {
        Self::of(name, FieldKind::Text)
    }

    /// A field holding one of `names` ([`FieldKind::OneOf`]), read as text.
    pub const fn one_of(name: &'static str, names: &'static [&'static str]) -> Self {
        Self::of(name, FieldKind::OneOf(names))
    }
}

impl ConfigKey<SecretString> {
    /// A secret field ([`FieldKind::Secret`]).
    pub const fn secret(name: &'static str) -> Self {
        Self::of(name, FieldKind::Secret)
    }
}

impl ConfigKey<Url> {
    /// An endpoint URL field ([`FieldKind::Url`]).
    pub const fn url(name: &'static str) -> Self {
        Self::of(name, FieldKind::Url)
    }

    /// A redirect URI field ([`FieldKind::RedirectUri`]).
    pub const fn redirect_uri(name: &'static str) -> Self {
        Self::of(name, FieldKind::RedirectUri)
    }
}

impl ConfigKey<[String]> {
    /// A list field ([`FieldKind::List`]).
    pub const fn list(name: &'static str) -> Self {
        Self::of(name, FieldKind::List)
    }
}

impl<T: ?Sized> Clone for ConfigKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for ConfigKey<T> {}

impl<T: ?Sized> fmt::Debug for ConfigKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigKey")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

/// The types a [`ConfigKey`] reads as: `str`, [`SecretString`], [`Url`] and `[String]`.
pub trait ConfigType: sealed::Sealed {}

impl ConfigType for str {}
impl ConfigType for SecretString {}
impl ConfigType for Url {}
impl ConfigType for [String] {}

/// Loaded values and how each key type reads them; public items in a private module, so that
/// nothing outside this one can name them.
mod sealed {
    use std::fmt;

    use super::{SecretString, Url};
    use crate::redact::shown_url;

    /// A loaded value.
    #[derive(Clone)]
    pub enum ConfigValue {
        /// Plain text.
        Text(String),
        /// A secret.
        Secret(SecretString),
        /// A validated URL.
        Url(Url),
        /// A list.
        List(Vec<String>),
    }

    impl fmt::Debug for ConfigValue {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                ConfigValue::Text(t) => f.debug_tuple("Text").field(t).finish(),
                ConfigValue::Secret(s) => f.debug_tuple("Secret").field(s).finish(),
                ConfigValue::Url(u) => f.debug_tuple("Url").field(&shown_url(u)).finish(),
                ConfigValue::List(l) => f.debug_tuple("List").field(l).finish(),
            }
        }
    }

    /// How a loaded value is read as the key's type; sealed, so the kinds stay this module's.
    pub trait Sealed {
        fn read(value: &ConfigValue) -> Option<&Self>;
    }

    impl Sealed for str {
        fn read(value: &ConfigValue) -> Option<&Self> {
            match value {
                ConfigValue::Text(t) => Some(t),
                _ => None,
            }
        }
    }

    impl Sealed for SecretString {
        fn read(value: &ConfigValue) -> Option<&Self> {
            match value {
                ConfigValue::Secret(s) => Some(s),
                _ => None,
            }
        }
    }

    impl Sealed for Url {
        fn read(value: &ConfigValue) -> Option<&Self> {
            match value {
                ConfigValue::Url(u) => Some(u),
                _ => None,
            }
        }
    }

    impl Sealed for [String] {
        fn read(value: &ConfigValue) -> Option<&Self> {
            match value {
                ConfigValue::List(l) => Some(l),
                _ => None,
            }
        }
    }
}

/// One provider's loaded configuration, with where each value came from.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    provider: String,
    fields: &'static [ConfigField],
    values: BTreeMap<&'static str, (ConfigValue, ConfigSource)>,
}

impl ProviderConfig {
    /// The provider id.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The declared fields.
    pub fn fields(&self) -> &'static [ConfigField] {
        self.fields
    }

    /// Whether `key` has a value (from any source).
    pub fn is_set<T: ?Sized>(&self, key: &ConfigKey<T>) -> bool {
        self.values.contains_key(key.name)
    }

    /// Where a field's value came from.
    pub fn origin(&self, field: &str) -> Option<&ConfigSource> {
        self.values.get(field).map(|(_, origin)| origin)
    }

    /// The value of `key`, if it has one.
    pub fn get<T: ConfigType + ?Sized>(&self, key: &ConfigKey<T>) -> Option<&T> {
        self.values
            .get(key.name)
            .and_then(|(value, _)| T::read(value))
    }

    /// The same configuration without the values of the fields `names`.
    pub(crate) fn without(&self, names: &[&str]) -> Self {
        let mut config = self.clone();
        config.values.retain(|name, _| !names.contains(name));
        config
    }

    /// The value of a required `key`, or the error [`ProviderConfig::missing`] describes.
    pub fn require<T: ConfigType + ?Sized>(&self, key: &ConfigKey<T>) -> Result<&T, ConfigError> {
        self.get(key).ok_or_else(|| self.missing(key))
    }

    /// The error for a required field that has no value: names the field and every env key tried.
    pub fn missing<T: ?Sized>(&self, key: &ConfigKey<T>) -> ConfigError {
        ConfigError::Missing {
            provider: self.provider.clone(),
            field: key.name.to_string(),
            env_keys: self.env_keys_of(key.name),
        }
    }

    fn env_keys_of(&self, field: &str) -> Vec<String> {
        self.fields
            .iter()
            .find(|f| f.name == field)
            .map(|f| f.env_keys.iter().map(|k| k.to_string()).collect())
            .unwrap_or_default()
    }
}

/// Where env values come from: the process environment, or a fixed set (for tests and embedding).
#[derive(Clone)]
pub struct EnvSource(Arc<EnvLookup>);

/// A function from env key to value, as the OS gives it.
type EnvLookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

impl EnvSource {
    /// The process environment.
    pub fn process() -> Self {
        Self(Arc::new(|key| std::env::var_os(key)))
    }

    /// A fixed set of variables; nothing else is visible.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self::from_os_pairs(pairs.into_iter().map(|(k, v)| (k, v.into())))
    }

    /// A fixed set of variables whose values need not be UTF-8, as the process environment's
    /// may not be; nothing else is visible.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::ffi::OsString;
    /// use std::os::unix::ffi::OsStringExt;
    /// use auth_core::config::EnvSource;
    /// use auth_core::ConfigError;
    ///
    /// let env = EnvSource::from_os_pairs([
    ///     ("ACME_CLIENT_ID", OsString::from("id-1")),
    ///     ("ACME_CLIENT_SECRET", OsString::from_vec(vec![0xff, 0xfe])),
    /// ]);
    /// assert_eq!(env.get("ACME_CLIENT_ID").unwrap().as_deref(), Some("id-1"));
    /// assert!(matches!(
    ///     env.get("ACME_CLIENT_SECRET"),
    ///     Err(ConfigError::EnvNotUnicode { key }) if key == "ACME_CLIENT_SECRET"
    /// ));
    /// assert_eq!(env.get_os("ACME_CLIENT_SECRET"), Some(OsString::from_vec(vec![0xff, 0xfe])));
    /// # }
    /// ```
    pub fn from_os_pairs<K: Into<String>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: HashMap<String, OsString> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self(Arc::new(move |key| map.get(key).cloned()))
    }

    /// No variables at all.
    pub fn empty() -> Self {
        Self(Arc::new(|_| None))
    }

    /// A variable's value as text; empty values count as unset. A value that is not UTF-8 fails
    /// with [`ConfigError::EnvNotUnicode`], which does not repeat it.
    pub fn get(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.get_os(key)
            .map(|value| {
                value.into_string().map_err(|_| ConfigError::EnvNotUnicode {
                    key: key.to_string(),
                })
            })
            .transpose()
    }

    /// A variable's value as the OS gives it (a path, say, need not be UTF-8); empty values
    /// count as unset.
    pub fn get_os(&self, key: &str) -> Option<OsString> {
        (self.0)(key).filter(|v| !v.is_empty())
    }
}

impl Default for EnvSource {
    fn default() -> Self {
        Self::process()
    }
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvSource")
    }
}

/// A raw value before validation.
enum RawValue {
    Text(String),
    List(Vec<String>),
}

/// Loads provider configuration from the layered sources.
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    file: Option<PathBuf>,
    env: EnvSource,
    code: HashMap<String, BTreeMap<String, CodeValue>>,
}

/// A value passed in code.
#[derive(Clone)]
pub struct CodeValue(RawCode);

#[derive(Clone)]
enum RawCode {
    Text(String),
    List(Vec<String>),
}

impl fmt::Debug for CodeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeValue([REDACTED])")
    }
}

impl From<&str> for CodeValue {
    fn from(v: &str) -> Self {
        CodeValue(RawCode::Text(v.to_string()))
    }
}

impl From<String> for CodeValue {
    fn from(v: String) -> Self {
        CodeValue(RawCode::Text(v))
    }
}

impl From<&String> for CodeValue {
    fn from(v: &String) -> Self {
        CodeValue(RawCode::Text(v.clone()))
    }
}

impl From<&SecretString> for CodeValue {
    fn from(v: &SecretString) -> Self {
        CodeValue(RawCode::Text(v.expose_secret().to_string()))
    }
}

impl From<Vec<String>> for CodeValue {
    fn from(v: Vec<String>) -> Self {
        CodeValue(RawCode::List(v))
    }
}

impl From<&[&str]> for CodeValue {
    fn from(v: &[&str]) -> Self {
        CodeValue(RawCode::List(v.iter().map(|s| s.to_string()).collect()))
    }
}

impl ConfigLoader {
    /// Defaults and the process environment; the file named by `INTEGRATIONS_CONFIG`, if set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads this TOML file (instead of `INTEGRATIONS_CONFIG`). Each provider has a section:
    /// `[asana]` with `client_id = "..."` and so on. A missing file is an error.
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Reads env values from `env` instead of the process environment.
    pub fn with_env(mut self, env: EnvSource) -> Self {
        self.env = env;
        self
    }

    /// Sets a value in code; it beats every other source.
    pub fn with_value(
        mut self,
        provider: impl Into<String>,
        field: impl Into<String>,
        value: impl Into<CodeValue>,
    ) -> Self {
        self.set_value(provider, field, value);
        self
    }

    /// Sets a value in code (by reference).
    pub fn set_value(
        &mut self,
        provider: impl Into<String>,
        field: impl Into<String>,
        value: impl Into<CodeValue>,
    ) {
        self.code
            .entry(provider.into())
            .or_default()
            .insert(field.into(), value.into());
    }

    /// Whether code values were given for this provider.
    pub fn has_code_values(&self, provider: &str) -> bool {
        self.code.get(provider).is_some_and(|m| !m.is_empty())
    }

    /// Providers that have values set in code.
    pub fn code_providers(&self) -> Vec<String> {
        self.code
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The env source in use.
    pub fn env(&self) -> &EnvSource {
        &self.env
    }

    /// The configuration file in use, if any.
    pub fn file(&self) -> Option<PathBuf> {
        self.file
            .clone()
            .or_else(|| self.env.get_os(CONFIG_FILE_ENV).map(PathBuf::from))
    }

    /// The top-level keys of the configuration file (its sections and its `providers` list),
    /// sorted; none without a file.
    pub fn file_keys(&self) -> Result<Vec<String>, ConfigError> {
        let Some(path) = self.file() else {
            return Ok(Vec::new());
        };
        let table = read_file(&path)?
            .try_deserialize::<BTreeMap<String, config::Value>>()
            .map_err(|_| ConfigError::File {
                path: path.display().to_string(),
                reason: "not a TOML table; check its syntax".into(),
            })?;
        Ok(table.into_keys().collect())
    }

    /// Loads one provider's fields.
    pub fn load(
        &self,
        provider: &str,
        fields: &'static [ConfigField],
    ) -> Result<ProviderConfig, ConfigError> {
        let file = self.file();
        let file_values = match &file {
            Some(path) => read_section(path, provider)?,
            None => BTreeMap::new(),
        };
        let known = || fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
        let code = self.code.get(provider);
        for name in file_values
            .keys()
            .chain(code.into_iter().flat_map(|c| c.keys()))
        {
            if !fields.iter().any(|f| f.name == name) {
                return Err(ConfigError::UnknownField {
                    provider: provider.to_string(),
                    field: name.clone(),
                    known: known(),
                });
            }
        }
        let mut values = BTreeMap::new();
        for field in fields {
            let from_code = code.and_then(|c| c.get(field.name)).map(|v| {
                let raw = match &v.0 {
                    RawCode::Text(t) => RawValue::Text(t.clone()),
                    RawCode::List(l) => RawValue::List(l.clone()),
                };
                (raw, ConfigSource::Code)
            });
            let from_env = || -> Result<_, ConfigError> {
                for key in field.env_keys {
                    let origin = ConfigSource::Env(key.to_string());
                    match self.env.get(key) {
                        Ok(Some(v)) => return Ok(Some((RawValue::Text(v), origin))),
                        Ok(None) => {}
                        Err(_) => {
                            return Err(ConfigError::Invalid {
                                provider: provider.to_string(),
                                field: field.name.to_string(),
                                origin,
                                reason: "the value is not valid UTF-8 (not shown); set it as UTF-8 text or unset it".into(),
                                env_keys: field.env_keys.iter().map(|k| k.to_string()).collect(),
                            });
                        }
                    }
                }
                Ok(None)
            };
            let from_file = || {
                file_values.get(field.name).map(|v| {
                    let raw = match v {
                        FileValue::Text(t) => RawValue::Text(t.clone()),
                        FileValue::List(l) => RawValue::List(l.clone()),
                    };
                    let path = file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    (raw, ConfigSource::File(path))
                })
            };
            let from_default = || {
                field
                    .default
                    .map(|d| (RawValue::Text(d.to_string()), ConfigSource::Default))
            };
            let found = match from_code {
                Some(found) => Some(found),
                None => from_env()?,
            };
            let Some((raw, origin)) = found.or_else(from_file).or_else(from_default) else {
                continue;
            };
            let value = validate(provider, field, raw, &origin)?;
            values.insert(field.name, (value, origin));
        }
        Ok(ProviderConfig {
            provider: provider.to_string(),
            fields,
            values,
        })
    }
}

enum FileValue {
    Text(String),
    List(Vec<String>),
}

/// The configuration file, parsed.
fn read_file(path: &Path) -> Result<config::Config, ConfigError> {
    let file_error = |reason: &str| ConfigError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(&read_failure(&e)))?;
    if let Err(e) = toml::from_str::<toml::Table>(&text) {
        return Err(file_error(&toml_failure(&text, e.span())));
    }
    config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Toml))
        .build()
        // The parser's message can quote the offending line, which may hold a secret: not repeated.
        .map_err(|_| file_error("not valid TOML; check its syntax"))
}

/// Why a configuration or provider definition file could not be read, in plain words and with
/// what to check: `no such file; check the path`, and so on.
pub fn read_failure(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file; check the path".into(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; check the file's permissions".into()
        }
        std::io::ErrorKind::IsADirectory => "it is a directory; name a file".into(),
        _ => format!("{error}; check the path and its permissions"),
    }
}

/// Why `text`, a configuration or provider definition file, is not valid TOML: where the
/// parser's error at `span` (byte offsets into `text`) points, as a line and a column counted
/// from 1 (the column in characters), never what the line holds, which may be a secret.
pub fn toml_failure(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return "not valid TOML; check its syntax".into();
    };
    let mut at = span.start.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit_once('\n')
        .map_or(before, |(_, last)| last)
        .chars()
        .count()
        + 1;
    format!("not valid TOML at line {line}, column {column}; check its syntax")
}

fn read_section(path: &Path, provider: &str) -> Result<BTreeMap<String, FileValue>, ConfigError> {
    let file_error = |reason: &str| ConfigError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    let config = read_file(path)?;
    let table = match config.get_table(provider) {
        Ok(table) => table,
        Err(config::ConfigError::NotFound(_)) => return Ok(BTreeMap::new()),
        Err(_) => return Err(file_error(&format!("[{provider}] is not a table"))),
    };
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let parsed = match value.kind {
            config::ValueKind::Array(items) => FileValue::List(
                items
                    .into_iter()
                    .map(|v| v.into_string())
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        file_error(&format!("[{provider}] {key}: list items must be strings"))
                    })?,
            ),
            config::ValueKind::Table(_) | config::ValueKind::Nil => {
                return Err(file_error(&format!(
                    "[{provider}] {key}: expected a string or a list"
                )));
            }
            other => FileValue::Text(
                config::Value::new(None, other)
                    .into_string()
                    .map_err(|_| file_error(&format!("[{provider}] {key}: expected a string")))?,
            ),
        };
        out.insert(key, parsed);
    }
    Ok(out)
}

fn validate(
    provider: &str,
    field: &ConfigField,
    raw: RawValue,
    origin: &ConfigSource,
) -> Result<ConfigValue, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        provider: provider.to_string(),
        field: field.name.to_string(),
        origin: origin.clone(),
        reason: reason.to_string(),
        env_keys: field.env_keys.iter().map(|k| k.to_string()).collect(),
    };
    let text = |raw: RawValue| match raw {
        RawValue::Text(t) => Ok(t.trim().to_string()),
        RawValue::List(_) => Err(invalid("expected a single value, got a list")),
    };
    Ok(match field.kind {
        FieldKind::Text => {
            let t = text(raw)?;
            if t.is_empty() {
                return Err(invalid("empty value"));
            }
            ConfigValue::Text(t)
        }
        FieldKind::Secret => {
            let t = text(raw)?;
            if t.is_empty() {
                return Err(invalid("empty value"));
            }
            ConfigValue::Secret(SecretString::from(t))
        }
        FieldKind::List => ConfigValue::List(match raw {
            RawValue::Text(t) => split_scopes(&t, ""),
            RawValue::List(l) => l
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }),
        FieldKind::OneOf(names) => {
            let t = text(raw)?;
            if !names.contains(&t.as_str()) {
                return Err(invalid(&format!("expected one of: {}", names.join(", "))));
            }
            ConfigValue::Text(t)
        }
        FieldKind::Url => {
            let t = text(raw)?;
            let url = Url::parse(&t).map_err(|e| invalid(&format!("not a valid URL ({e})")))?;
            refuse_user_info(&url, &invalid)?;
            if !is_secure_endpoint(&url) {
                return Err(insecure(provider, field.name, &url, origin.clone()));
            }
            ConfigValue::Url(url)
        }
        FieldKind::RedirectUri => {
            let t = text(raw)?;
            let url = Url::parse(&t).map_err(|e| invalid(&format!("not a valid URL ({e})")))?;
            refuse_user_info(&url, &invalid)?;
            if !is_redirect_uri(&url) {
                return Err(invalid(&format!(
                    "a redirect URI is https, http on 127.0.0.1, ::1 or localhost, an app's private-use scheme (a reversed domain, such as com.example.app:/callback) or urn:ietf:wg:oauth:2.0:oob; got {}",
                    redact_url(&url)
                )));
            }
            ConfigValue::Url(url)
        }
    })
}

/// Refuses `uri` as `provider`'s redirect URI given in code unless configuration would take it
/// ([`FieldKind::RedirectUri`]: https, http on a loopback host, an app's private-use scheme or
/// `urn:ietf:wg:oauth:2.0:oob`), with [`ConfigError::InsecureUrl`] from [`ConfigSource::Code`]:
/// the authorization code travels to it.
///
/// ```
/// use auth_core::config::check_redirect_uri_from_code;
///
/// let app = "com.example.app:/callback".parse().unwrap();
/// assert!(check_redirect_uri_from_code("acme", &app).is_ok());
/// let plain = "http://app.example.com/callback".parse().unwrap();
/// assert!(check_redirect_uri_from_code("acme", &plain).is_err());
/// ```
pub fn check_redirect_uri_from_code(provider: &str, uri: &Url) -> Result<(), ConfigError> {
    if is_redirect_uri(uri) {
        return Ok(());
    }
    Err(insecure(provider, "redirect_uri", uri, ConfigSource::Code))
}

/// Whether `url` can be a redirect URI ([`FieldKind::RedirectUri`]).
fn is_redirect_uri(url: &Url) -> bool {
    is_secure_endpoint(url)
        || url.as_str() == "urn:ietf:wg:oauth:2.0:oob"
        || url.scheme().contains('.')
}

/// Refuses `url` as `provider`'s `field` unless it may carry credentials
/// ([`is_secure_endpoint`]), with [`ConfigError::InsecureUrl`] from [`ConfigSource::Code`]:
/// for URLs given in code, which configuration did not check as it read them.
///
/// ```
/// use auth_core::config::check_endpoint_from_code;
///
/// let plain = "http://auth.example.com/token".parse().unwrap();
/// let err = check_endpoint_from_code("acme", "token_url", &plain).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "acme: `token_url` must be an https URL (http is only allowed for 127.0.0.1, ::1 and localhost); got http://auth.example.com from code"
/// );
/// let local = "http://127.0.0.1:8080/token".parse().unwrap();
/// assert!(check_endpoint_from_code("acme", "token_url", &local).is_ok());
/// ```
pub fn check_endpoint_from_code(provider: &str, field: &str, url: &Url) -> Result<(), ConfigError> {
    if is_secure_endpoint(url) {
        return Ok(());
    }
    Err(insecure(provider, field, url, ConfigSource::Code))
}

/// `url`, from `origin`, refused as `provider`'s `field`: it would carry credentials in clear.
fn insecure(provider: &str, field: &str, url: &Url, origin: ConfigSource) -> ConfigError {
    ConfigError::InsecureUrl {
        provider: provider.to_string(),
        field: field.to_string(),
        url: redact_url(url),
        origin,
    }
}

/// Whether `url` may carry credentials: https anywhere, or http on a loopback host
/// (127.0.0.1, ::1, localhost).
pub fn is_secure_endpoint(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Refuses a URL with a user name or password: a credential written into a URL is printed
/// wherever the URL is, and every credential here has a setting of its own.
fn refuse_user_info(url: &Url, invalid: &impl Fn(&str) -> ConfigError) -> Result<(), ConfigError> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(());
    }
    Err(invalid(&format!(
        "a URL with a user name or password is refused (got {}): give credentials in their own settings",
        redact_url(url)
    )))
}

/// Only the scheme, host and port of a URL (the scheme alone when it has no host): paths,
/// queries and user info can hold secrets.
fn redact_url(url: &Url) -> String {
    match url.origin() {
        origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
        url::Origin::Opaque(_) => format!("{}:…", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_ID: ConfigKey<str> = ConfigKey::text("client_id");
    const CLIENT_SECRET: ConfigKey<SecretString> = ConfigKey::secret("client_secret");
    const TOKEN: ConfigKey<SecretString> = ConfigKey::secret("token");
    const TOKEN_URL: ConfigKey<Url> = ConfigKey::url("token_url");
    const DEFAULT_SCOPE: ConfigKey<[String]> = ConfigKey::list("default_scope");

    const FIELDS: &[ConfigField] = &[
        CLIENT_ID.field(&["P_CLIENT_ID"]),
        CLIENT_SECRET.field(&["P_CLIENT_SECRET"]),
        TOKEN.field(&["P_ACCESS_TOKEN", "P_PERSONAL_ACCESS_TOKEN", "P_TOKEN"]),
        TOKEN_URL
            .field(&["P_TOKEN_URL", "P_ACCESS_TOKEN_URL"])
            .with_default("https://p.example/token"),
        DEFAULT_SCOPE.field(&["P_DEFAULT_SCOPE"]),
    ];

    fn env(pairs: &[(&str, &str)]) -> EnvSource {
        EnvSource::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn env_aliases_in_priority_order() {
        let all = env(&[
            ("P_TOKEN", "c"),
            ("P_PERSONAL_ACCESS_TOKEN", "b"),
            ("P_ACCESS_TOKEN", "a"),
        ]);
        let c = ConfigLoader::new().with_env(all).load("p", FIELDS).unwrap();
        assert_eq!(c.get(&TOKEN).unwrap().expose_secret(), "a");
        assert_eq!(
            c.origin("token"),
            Some(&ConfigSource::Env("P_ACCESS_TOKEN".into()))
        );
        let two = env(&[("P_TOKEN", "c"), ("P_PERSONAL_ACCESS_TOKEN", "b")]);
        let c = ConfigLoader::new().with_env(two).load("p", FIELDS).unwrap();
        assert_eq!(c.get(&TOKEN).unwrap().expose_secret(), "b");
        let empty_first = env(&[("P_ACCESS_TOKEN", ""), ("P_TOKEN", "c")]);
        let c = ConfigLoader::new()
            .with_env(empty_first)
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(c.get(&TOKEN).unwrap().expose_secret(), "c");
    }

    /// A set value that is not UTF-8 is not taken for an unset one (the next key would then be
    /// read instead): it fails, naming the field and the key, not the value.
    #[cfg(unix)]
    #[test]
    fn an_env_value_that_is_not_utf8_fails_without_showing_it() {
        use std::os::unix::ffi::OsStringExt;
        let env = || {
            EnvSource::from_os_pairs([
                (
                    "P_ACCESS_TOKEN",
                    OsString::from_vec(b"zq-canary-\xff".to_vec()),
                ),
                ("P_TOKEN", OsString::from("fallback")),
            ])
        };
        let err = ConfigLoader::new()
            .with_env(env())
            .load("p", FIELDS)
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { provider, field, origin: ConfigSource::Env(key), .. }
                if provider == "p" && field == "token" && key == "P_ACCESS_TOKEN"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "p: invalid `token` from env P_ACCESS_TOKEN: the value is not valid UTF-8 (not shown); set it as UTF-8 text or unset it (env keys tried: P_ACCESS_TOKEN or P_PERSONAL_ACCESS_TOKEN or P_TOKEN)"
        );
        assert!(!format!("{err:?}").contains("canary"));
        let c = ConfigLoader::new()
            .with_env(env())
            .with_value("p", "token", "from-code")
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(c.get(&TOKEN).unwrap().expose_secret(), "from-code");
    }

    /// The configuration file's path is a path: it need not be UTF-8.
    #[cfg(unix)]
    #[test]
    fn the_config_file_env_key_may_name_a_path_that_is_not_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let path = OsString::from_vec(b"/nonexistent/\xff.toml".to_vec());
        let loader = ConfigLoader::new()
            .with_env(EnvSource::from_os_pairs([(CONFIG_FILE_ENV, path.clone())]));
        assert_eq!(loader.file(), Some(PathBuf::from(path)));
    }

    #[test]
    fn code_beats_env_and_env_beats_default() {
        let e = env(&[
            ("P_CLIENT_ID", "from-env"),
            ("P_ACCESS_TOKEN_URL", "https://alias.example/t"),
        ]);
        let c = ConfigLoader::new()
            .with_env(e)
            .with_value("p", "client_id", "from-code")
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(c.get(&CLIENT_ID), Some("from-code"));
        assert_eq!(c.origin("client_id"), Some(&ConfigSource::Code));
        assert_eq!(
            c.get(&TOKEN_URL).unwrap().as_str(),
            "https://alias.example/t"
        );
        let c = ConfigLoader::new()
            .with_env(EnvSource::empty())
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(
            c.get(&TOKEN_URL).unwrap().as_str(),
            "https://p.example/token"
        );
        assert_eq!(c.origin("token_url"), Some(&ConfigSource::Default));
    }

    #[test]
    fn unprefixed_keys_are_ignored() {
        let e = env(&[
            ("CLIENT_ID", "x"),
            ("CLIENT_SECRET", "y"),
            ("ACCESS_TOKEN", "z"),
            ("TOKEN", "t"),
        ]);
        let c = ConfigLoader::new().with_env(e).load("p", FIELDS).unwrap();
        assert!(!c.is_set(&CLIENT_ID) && !c.is_set(&CLIENT_SECRET) && !c.is_set(&TOKEN));
        let err = c.missing(&CLIENT_ID);
        assert_eq!(
            err.to_string(),
            "p: missing `client_id`; set P_CLIENT_ID or pass `client_id` in code or in the [p] section of the config file"
        );
    }

    #[test]
    fn file_sits_between_defaults_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[p]\nclient_id = \"file-id\"\ntoken_url = \"https://file.example/t\"\ndefault_scope = [\"a\", \"b\"]\n[other]\nx = 1\n",
        )
        .unwrap();
        let e = env(&[("P_TOKEN_URL", "https://env.example/t")]);
        let c = ConfigLoader::new()
            .with_env(e)
            .with_file(&path)
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(c.get(&CLIENT_ID), Some("file-id"));
        assert_eq!(
            c.origin("client_id"),
            Some(&ConfigSource::File(path.display().to_string()))
        );
        assert_eq!(c.get(&TOKEN_URL).unwrap().as_str(), "https://env.example/t");
        assert_eq!(c.get(&DEFAULT_SCOPE).unwrap(), ["a", "b"]);
        let via_env = env(&[("INTEGRATIONS_CONFIG", path.to_str().unwrap())]);
        let c = ConfigLoader::new()
            .with_env(via_env)
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(c.get(&CLIENT_ID), Some("file-id"));
    }

    #[test]
    fn bad_files_and_unknown_fields_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[p]\nclient_secret = \"canary-secret\" oops\n").unwrap();
        let err = ConfigLoader::new()
            .with_env(EnvSource::empty())
            .with_file(&path)
            .load("p", FIELDS)
            .unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }));
        assert!(!err.to_string().contains("canary-secret"), "{err}");
        std::fs::write(&path, "[p]\nclient_idd = \"x\"\n").unwrap();
        let err = ConfigLoader::new()
            .with_env(EnvSource::empty())
            .with_file(&path)
            .load("p", FIELDS)
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::UnknownField { ref field, .. } if field == "client_idd"),
            "{err}"
        );
        let missing = dir.path().join("nope.toml");
        let err = ConfigLoader::new()
            .with_env(EnvSource::empty())
            .with_file(&missing)
            .load("p", FIELDS)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read config file {}: no such file; check the path",
                missing.display()
            )
        );
    }

    /// A TOML error says where it is, never what the line holds.
    #[test]
    fn invalid_toml_is_located_by_line_and_column_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[p]\nclient_id = \"é\"\nclient_secret = \"canary-secret\" oops\n",
        )
        .unwrap();
        let err = ConfigLoader::new()
            .with_env(EnvSource::empty())
            .with_file(&path)
            .load("p", FIELDS)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read config file {}: not valid TOML at line 3, column 33; check its syntax",
                path.display()
            )
        );
        assert_eq!(
            toml_failure("a = 1\nb = \"é\" x", Some(11..12)),
            "not valid TOML at line 2, column 6; check its syntax"
        );
        assert_eq!(
            toml_failure("é", Some(1..2)),
            "not valid TOML at line 1, column 1; check its syntax"
        );
        assert_eq!(toml_failure("x", None), "not valid TOML; check its syntax");
        assert_eq!(
            read_failure(&std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
            "permission denied; check the file's permissions"
        );
    }

    #[test]
    fn urls_must_be_https_unless_loopback() {
        for ok in [
            "https://x.example/t",
            "http://127.0.0.1:9/t",
            "http://localhost/t",
            "http://[::1]:8/t",
        ] {
            let c = ConfigLoader::new()
                .with_env(EnvSource::empty())
                .with_value("p", "token_url", ok)
                .load("p", FIELDS);
            assert!(c.is_ok(), "{ok} must be accepted");
        }
        for bad in [
            "http://evil.example/t",
            "http://10.0.0.1/t",
            "ftp://x.example/t",
            "http://localhost.evil.example/",
        ] {
            let err = ConfigLoader::new()
                .with_env(env(&[("P_TOKEN_URL", bad)]))
                .load("p", FIELDS)
                .unwrap_err();
            assert!(
                matches!(err, ConfigError::InsecureUrl { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("env P_TOKEN_URL"), "{err}");
        }
        let err = ConfigLoader::new()
            .with_env(env(&[("P_TOKEN_URL", "not a url")]))
            .load("p", FIELDS)
            .unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }));
        assert!(
            err.to_string()
                .contains("P_TOKEN_URL or P_ACCESS_TOKEN_URL"),
            "{err}"
        );
    }

    #[test]
    fn redirect_uris_take_rfc_8252_s_kinds_and_nothing_else() {
        const REDIRECT: ConfigKey<Url> = ConfigKey::redirect_uri("redirect_uri");
        const FIELDS: &[ConfigField] = &[REDIRECT.field(&["P_REDIRECT_URI"])];
        let load = |value: &str| {
            ConfigLoader::new()
                .with_env(env(&[("P_REDIRECT_URI", value)]))
                .load("p", FIELDS)
        };
        for ok in [
            "https://app.example/callback",
            "http://127.0.0.1:8765/callback",
            "http://localhost/cb",
            "com.example.app:/oauth2redirect",
            "urn:ietf:wg:oauth:2.0:oob",
        ] {
            let config = load(ok).unwrap();
            assert_eq!(config.get(&REDIRECT).map(Url::as_str), Some(ok));
        }
        for (bad, shown) in [
            ("http://app.example/callback", "http://app.example"),
            ("javascript:alert(1)", "javascript:…"),
            ("urn:other:oob", "urn:…"),
            ("ftp://app.example/cb", "ftp://app.example"),
        ] {
            let err = load(bad).unwrap_err();
            match &err {
                ConfigError::Invalid { field, reason, .. } => {
                    assert_eq!(field, "redirect_uri");
                    assert!(
                        reason.ends_with(&format!("; got {shown}")),
                        "{bad}: {reason}"
                    );
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn lists_split_on_commas_and_spaces() {
        let c = ConfigLoader::new()
            .with_env(env(&[(
                "P_DEFAULT_SCOPE",
                "tasks:read, users:read projects:read",
            )]))
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(
            c.get(&DEFAULT_SCOPE).unwrap(),
            ["tasks:read", "users:read", "projects:read"]
        );
    }

    #[test]
    fn a_key_reads_only_the_kind_it_declares() {
        let c = ConfigLoader::new()
            .with_env(env(&[("P_CLIENT_ID", "https://p.example/id")]))
            .load("p", FIELDS)
            .unwrap();
        assert_eq!(c.get(&CLIENT_ID), Some("https://p.example/id"));
        assert_eq!(c.get(&ConfigKey::url("client_id")), None);
        assert!(c.get(&ConfigKey::secret("client_id")).is_none());
        assert_eq!(c.get(&ConfigKey::list("client_id")), None);
        assert_eq!(c.get(&ConfigKey::text("no_such_field")), None);
        let err = c.require(&CLIENT_SECRET).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Missing { provider, field, env_keys }
                if provider == "p" && field == "client_secret" && env_keys == &["P_CLIENT_SECRET"]),
            "{err:?}"
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = ConfigLoader::new()
            .with_env(env(&[("P_CLIENT_SECRET", "canary-secret")]))
            .with_value("p", "token", "canary-token")
            .load("p", FIELDS)
            .unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("canary"), "{printed}");
    }
}
