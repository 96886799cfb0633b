//! User credentials: the generic [`OAuth2Token`], the [`UserCredentials`] trait that provider-specific
//! credential types implement, and [`Credentials`], the provider-agnostic form the manager stores.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::{SecretString, expose};

/// The longest access-token lifetime taken from a token response: one year.
///
/// Some servers send absurd `expires_in` values (`1e30`, `u64::MAX`) to mean "never"; added to a
/// clock they overflow. Parsing clamps `expires_in` to this, so every expiry computed from a
/// response stays far inside what the clocks can hold. A token that really lives longer is
/// refreshed (or, without a refresh token, treated as expired) after a year.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The fields of a token response that are secrets; they are lifted out of [`OAuth2Token::raw`].
const SECRET_FIELDS: [&str; 3] = ["access_token", "refresh_token", "id_token"];

/// An OAuth2 token as a provider returned it, parsed leniently.
///
/// Real token endpoints disagree on details; parsing accepts `expires_in` as a number or a string
/// (clamped to [`MAX_TOKEN_LIFETIME`]), `scope` as a separated string or an array, and `token_type`
/// `bearer` in any case (normalised to `"Bearer"`, and assumed when absent). Any other token type
/// is refused: this client can only send bearer tokens. `raw` keeps every field of the response
/// **except** the secrets (`access_token`, `refresh_token`, `id_token`), which live only in their
/// redacted fields: unlike the Python framework, printing or logging `raw` can never leak a token.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use auth_core::OAuth2Token;
///
/// let response = serde_json::json!({
///     "access_token": "at", "token_type": "bearer", "expires_in": "3600",
///     "refresh_token": "rt", "scope": "tasks:read users:read", "data": {"gid": "1"}
/// });
/// let now = UNIX_EPOCH + Duration::from_secs(1_000);
/// let token = OAuth2Token::from_response(response, " ", now).unwrap();
/// assert_eq!(token.token_type, "Bearer");
/// assert_eq!(token.scope, ["tasks:read", "users:read"]);
/// assert_eq!(token.expires_at, Some(UNIX_EPOCH + Duration::from_secs(4_600)));
/// assert!(token.raw.get("access_token").is_none());
/// assert!(!format!("{token:?}").contains("\"at\""));
/// ```
///
/// # `Serialize` writes the tokens in clear
///
/// Unlike [`SecretString`], this type implements `Serialize`, and it writes `access_token`,
/// `refresh_token` and `id_token` in clear: that is how credential stores persist them
/// (encrypted at rest when the store is an `EncryptedStore` with a key configured, feature
/// `encryption`). Serialize it into a credential store only, never into logs, HTTP responses,
/// error messages or anything else; to show a token, use its `Debug`, which redacts them.
///
/// ```
/// use auth_core::OAuth2Token;
///
/// let token = OAuth2Token::bearer("at-secret");
/// assert!(serde_json::to_string(&token).unwrap().contains("at-secret"), "in clear");
/// assert!(!format!("{token:?}").contains("at-secret"), "redacted");
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "TokenRepr")]
#[non_exhaustive]
pub struct OAuth2Token {
    /// The access token sent as `Authorization: Bearer ...`.
    #[serde(serialize_with = "expose::serialize")]
    pub access_token: SecretString,
    /// The token type, `"Bearer"` unless the provider says otherwise.
    pub token_type: String,
    /// The refresh token, if the grant has one.
    #[serde(
        serialize_with = "expose::serialize_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token: Option<SecretString>,
    /// Granted scopes (empty when the provider did not say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    /// Lifetime in seconds as the provider reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// When the access token expires (serialized as fractional Unix seconds, as Python does).
    #[serde(with = "unix_seconds", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<SystemTime>,
    /// The OpenID Connect ID token, if any.
    #[serde(
        serialize_with = "expose::serialize_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_token: Option<SecretString>,
    /// When the refresh token expires, for providers that say so with `refresh_token_expires_in`
    /// (GitHub's and Microsoft's rotating refresh tokens); `None` when unknown.
    #[serde(with = "unix_seconds", skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<SystemTime>,
    /// The other fields of the token response (never the secret ones).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub raw: Map<String, Value>,
}

impl OAuth2Token {
    /// A bearer token with no expiry, refresh token or scopes (for example a personal access token).
    pub fn bearer(access_token: impl Into<SecretString>) -> Self {
        Self {
            access_token: access_token.into(),
            token_type: "Bearer".into(),
            refresh_token: None,
            scope: Vec::new(),
            expires_in: None,
            expires_at: None,
            id_token: None,
            refresh_token_expires_at: None,
            raw: Map::new(),
        }
    }

    /// Parses a token endpoint's JSON response. `scope_separator` splits a string `scope`; `now` is
    /// the time the response was received, from which `expires_at` is computed.
    ///
    /// `expires_in` beyond [`MAX_TOKEN_LIFETIME`] is clamped to it; a negative or non-numeric one is
    /// an error, and so is a `token_type` other than `bearer`. The error names what is wrong (the
    /// field path), never a value from the response.
    pub fn from_response(
        response: Value,
        scope_separator: &str,
        now: SystemTime,
    ) -> Result<Self, String> {
        let Value::Object(mut map) = response else {
            return Err("the response is not a JSON object".into());
        };
        let scope = map
            .remove("scope")
            .map(|s| parse_scope(s, scope_separator))
            .transpose()?;
        let raw: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !SECRET_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        map.remove("raw");
        map.remove("expires_at");
        map.remove("refresh_token_expires_at");
        let refresh_lifetime = match map.remove("refresh_token_expires_in") {
            Some(value) => lenient::seconds(value).map_err(|_| {
                "`refresh_token_expires_in` is not a non-negative number of seconds".to_string()
            })?,
            None => None,
        };
        let repr: TokenRepr = serde_path_to_error::deserialize(Value::Object(map))
            .map_err(|e| describe_serde_error(&e))?;
        if repr
            .token_type
            .as_deref()
            .is_some_and(|t| !t.is_empty() && !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(
                "`token_type` is not `Bearer`, the only type of token this client can send".into(),
            );
        }
        let mut token = OAuth2Token::from(repr);
        if token.access_token.is_empty() {
            return Err("`access_token` is empty".into());
        }
        token.scope = scope.unwrap_or_default();
        token.expires_at = match token.expires_in {
            Some(secs) => Some(
                now.checked_add(Duration::from_secs(secs))
                    .ok_or("`expires_in` reaches beyond what the clock can hold")?,
            ),
            None => None,
        };
        token.refresh_token_expires_at = match refresh_lifetime {
            Some(secs) => Some(
                now.checked_add(Duration::from_secs(secs))
                    .ok_or("`refresh_token_expires_in` reaches beyond what the clock can hold")?,
            ),
            None => None,
        };
        token.raw = raw;
        Ok(token)
    }

    /// Whether the token expires within `margin` of `now` (false when the expiry is unknown).
    pub fn expires_within(&self, margin: Duration, now: SystemTime) -> bool {
        self.expires_at
            .is_some_and(|at| now.checked_add(margin).is_none_or(|limit| at <= limit))
    }
}

impl fmt::Debug for OAuth2Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .field("expires_at", &self.expires_at)
            .field("id_token", &self.id_token)
            .field("refresh_token_expires_at", &self.refresh_token_expires_at)
            .field("raw", &RawKeys(&self.raw))
            .finish()
    }
}

/// Debug-prints only the keys of a JSON map, so provider-specific values never reach logs.
pub(crate) struct RawKeys<'a>(pub(crate) &'a Map<String, Value>);

impl fmt::Debug for RawKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The serde shape of a token, lenient about the types real providers send.
#[derive(Deserialize)]
struct TokenRepr {
    access_token: SecretString,
    #[serde(default, deserialize_with = "lenient::string")]
    token_type: Option<String>,
    #[serde(default)]
    refresh_token: Option<SecretString>,
    #[serde(default, deserialize_with = "lenient::scope")]
    scope: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::seconds")]
    expires_in: Option<u64>,
    #[serde(default, with = "unix_seconds")]
    expires_at: Option<SystemTime>,
    #[serde(default)]
    id_token: Option<SecretString>,
    #[serde(default, with = "unix_seconds")]
    refresh_token_expires_at: Option<SystemTime>,
    #[serde(default)]
    raw: Map<String, Value>,
}

impl From<TokenRepr> for OAuth2Token {
    fn from(r: TokenRepr) -> Self {
        let token_type = match r.token_type {
            Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_string(),
            Some(t) if !t.is_empty() => t,
            _ => "Bearer".to_string(),
        };
        OAuth2Token {
            access_token: r.access_token,
            token_type,
            refresh_token: r.refresh_token.filter(|t| !t.is_empty()),
            scope: r.scope.unwrap_or_default(),
            expires_in: r.expires_in,
            expires_at: r.expires_at,
            id_token: r.id_token,
            refresh_token_expires_at: r.refresh_token_expires_at,
            raw: r.raw,
        }
    }
}

fn parse_scope(value: Value, separator: &str) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(split_scopes(&s, separator)),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err("`scope` array holds a non-string".to_string()),
            })
            .collect(),
        _ => Err("`scope` is neither a string nor an array".into()),
    }
}

/// Joins scopes with `separator`, the inverse of [`split_scopes`]: a blank separator (empty or
/// whitespace only), which [`split_scopes`] reads as whitespace and commas, joins with a space.
///
/// ```
/// use auth_core::token::{join_scopes, split_scopes};
///
/// let scopes = ["read".to_string(), "write".to_string()];
/// assert_eq!(join_scopes(&scopes, ","), "read,write");
/// assert_eq!(join_scopes(&scopes, ""), "read write");
/// assert_eq!(split_scopes(&join_scopes(&scopes, ""), ""), scopes);
/// ```
pub fn join_scopes(scopes: &[String], separator: &str) -> String {
    if separator.trim().is_empty() {
        scopes.join(" ")
    } else {
        scopes.join(separator)
    }
}

/// Splits a scope string on `separator`, dropping empty parts. A blank separator (empty or
/// whitespace only) splits on whitespace and commas.
pub fn split_scopes(s: &str, separator: &str) -> Vec<String> {
    let parts: Vec<&str> = if separator.trim().is_empty() {
        s.split(|c: char| c.is_whitespace() || c == ',').collect()
    } else {
        s.split(separator).collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

/// Turns a serde error into a message that names the field path but never echoes a value.
///
/// serde's own messages quote the offending value (`invalid type: integer \`123\``), so only the
/// path is kept from them. The messages of this module's deserializers name their field and hold
/// no value; they start with the field name in backticks and are kept as they are.
fn describe_serde_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let message = e.inner().to_string();
    if message.starts_with('`') {
        return message;
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return format!("`{field}` is missing");
    }
    match e.path().to_string() {
        path if path.is_empty() || path == "." => {
            "the token does not have the expected shape".into()
        }
        path => format!("field `{path}` has an unexpected type or value"),
    }
}

mod lenient {
    use super::*;

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) | None => None,
            Some(_) => return Err(de::Error::custom("`token_type` is not a string")),
        })
    }

    pub fn scope<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None => Ok(None),
            Some(v) => parse_scope(v, "").map(Some).map_err(de::Error::custom),
        }
    }

    /// A lifetime in seconds, as a number or a numeric string, clamped to [`MAX_TOKEN_LIFETIME`].
    pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let max = MAX_TOKEN_LIFETIME.as_secs();
        let secs = match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().and_then(whole_seconds)),
            Some(Value::String(s)) => {
                let s = s.trim();
                s.parse::<u64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().and_then(whole_seconds))
            }
            Some(_) => None,
        };
        secs.map(|secs| Some(secs.min(max))).ok_or_else(|| {
            de::Error::custom("`expires_in` is not a non-negative number of seconds")
        })
    }

    /// Whole seconds of a finite, non-negative float (saturating far beyond any lifetime kept).
    fn whole_seconds(f: f64) -> Option<u64> {
        (f.is_finite() && f >= 0.0).then_some(f as u64)
    }
}

/// Serde for `Option<SystemTime>` as fractional Unix seconds (numbers or numeric strings accepted).
pub mod unix_seconds {
    use super::*;
    use serde::Serializer;

    /// Serializes as fractional seconds since the Unix epoch.
    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => {
                let secs = t
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                s.serialize_some(&secs)
            }
            None => s.serialize_none(),
        }
    }

    /// Deserializes from a number or numeric string of seconds since the Unix epoch. A value
    /// that is negative, not finite, or beyond what [`SystemTime`] can hold is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let secs = match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        secs.filter(|secs| *secs >= 0.0)
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .and_then(|since| UNIX_EPOCH.checked_add(since))
            .map(Some)
            .ok_or_else(|| de::Error::custom("`expires_at` is not a Unix timestamp"))
    }
}

/// What every provider's user credentials offer: the OAuth2 token at their heart, and serde.
///
/// Provider crates define their own type (for example `AsanaUserCredentials`, which adds the user and
/// workspace) that embeds an [`OAuth2Token`] with `#[serde(flatten)]`, so that the stored form is a
/// flat JSON object any provider-agnostic code can read as [`Credentials`].
///
/// The `Serialize` this trait requires is the form the store keeps, so it writes the embedded
/// token's secrets in clear (see [`OAuth2Token`]): an implementing type must be serialized into
/// a credential store only, never into logs, responses or anything else.
pub trait UserCredentials:
    Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static
{
    /// The OAuth2 token part.
    fn oauth2_token(&self) -> &OAuth2Token;

    /// The OAuth2 token part, mutably (the manager updates it after a refresh).
    fn oauth2_token_mut(&mut self) -> &mut OAuth2Token;

    /// The access token.
    fn access_token(&self) -> &SecretString {
        &self.oauth2_token().access_token
    }

    /// The token type, usually `"Bearer"`.
    fn token_type(&self) -> &str {
        &self.oauth2_token().token_type
    }

    /// The refresh token, if any.
    fn refresh_token(&self) -> Option<&SecretString> {
        self.oauth2_token().refresh_token.as_ref()
    }

    /// Granted scopes.
    fn scopes(&self) -> &[String] {
        &self.oauth2_token().scope
    }

    /// When the access token expires, if known.
    fn expires_at(&self) -> Option<SystemTime> {
        self.oauth2_token().expires_at
    }

    /// The non-secret fields of the token response.
    fn raw(&self) -> &Map<String, Value> {
        &self.oauth2_token().raw
    }
}

impl UserCredentials for OAuth2Token {
    fn oauth2_token(&self) -> &OAuth2Token {
        self
    }

    fn oauth2_token_mut(&mut self) -> &mut OAuth2Token {
        self
    }
}

/// Provider-agnostic user credentials: the [`OAuth2Token`] plus whatever fields the provider's own
/// credential type adds (kept as JSON in `extra`).
///
/// This is what the manager stores, refreshes and hands around; convert to and from a provider's
/// typed credentials with [`Credentials::from_typed`] and [`Credentials::to_typed`].
///
/// Its `Serialize` writes the token's secrets in clear, as [`OAuth2Token`]'s does, because that
/// is how credential stores persist them (encrypted at rest when the store is an
/// `EncryptedStore` with a key configured): serialize it into a credential store only, never
/// into logs, responses or anything else. Its `Debug` redacts them.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The OAuth2 token.
    #[serde(flatten)]
    pub token: OAuth2Token,
    /// Provider-specific fields (for Asana: `workspace_gid`, `user`). Never secrets.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The extra field that marks a pasted token ([`Credentials::pasted`]), under the name the CLI's
/// `login --with-token` first stored it with.
const PASTED: &str = "from_login_with_token";

impl Credentials {
    /// Credentials that are only a token.
    pub fn new(token: OAuth2Token) -> Self {
        Self {
            token,
            extra: Map::new(),
        }
    }

    /// Credentials made of a token the user pasted (a personal access token, an API key),
    /// marked as such in `extra` and stored with the mark: they are no grant of an OAuth app,
    /// so [`AuthManager::revoke_credentials`](crate::AuthManager::revoke_credentials) deletes
    /// them without asking the provider to revoke anything, even when the provider has a
    /// revocation endpoint that takes access tokens.
    ///
    /// ```
    /// use auth_core::{Credentials, OAuth2Token};
    ///
    /// let pasted = Credentials::pasted(OAuth2Token::bearer("ghp_example"));
    /// assert!(pasted.is_pasted());
    /// assert!(!Credentials::new(OAuth2Token::bearer("ghp_example")).is_pasted());
    /// ```
    pub fn pasted(token: OAuth2Token) -> Self {
        let mut credentials = Self::new(token);
        credentials.extra.insert(PASTED.into(), Value::Bool(true));
        credentials
    }

    /// Whether these are a pasted token ([`Credentials::pasted`]).
    pub fn is_pasted(&self) -> bool {
        self.extra.get(PASTED) == Some(&Value::Bool(true))
    }

    /// Converts a provider's typed credentials into the generic form.
    pub fn from_typed<C: UserCredentials>(credentials: &C) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(credentials)?)
    }

    /// Converts into a provider's typed credentials.
    pub fn to_typed<C: UserCredentials>(&self) -> Result<C, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(self)?)
    }

    /// The stored form: JSON bytes (with the secrets in clear: encrypt at rest).
    pub fn to_payload(&self) -> crate::store::Payload {
        crate::store::Payload::new(serde_json::to_vec(self).expect("credentials always serialize"))
    }

    /// Parses the stored form. The error names the field path at fault, never a value.
    pub fn from_payload(payload: &crate::store::Payload) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(payload.expose_bytes())
            .map_err(|_| "the credentials are not valid JSON".to_string())?;
        if !value.is_object() {
            return Err("the credentials are not a JSON object".into());
        }
        // Only the token part can fail (the provider's fields are kept as any JSON). Flattening
        // hides the field path, so a failure is diagnosed again on the token alone.
        Credentials::deserialize(&value).map_err(|_| {
            match serde_path_to_error::deserialize::<_, TokenRepr>(&value) {
                Err(e) => describe_serde_error(&e),
                Ok(_) => "the credentials do not have the expected shape".into(),
            }
        })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token)
            .field("extra", &RawKeys(&self.extra))
            .finish()
    }
}

impl UserCredentials for Credentials {
    fn oauth2_token(&self) -> &OAuth2Token {
        &self.token
    }

    fn oauth2_token_mut(&mut self) -> &mut OAuth2Token {
        &mut self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Payload;
    use serde_json::json;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn parses_real_asana_shape() {
        let t = OAuth2Token::from_response(
            json!({"access_token":"a","expires_in":3600,"token_type":"bearer","refresh_token":"r",
                   "data":{"id":4673218951u64,"gid":"4673218951","name":"Greg"}}),
            " ",
            at(10),
        )
        .unwrap();
        assert_eq!(t.access_token.expose_secret(), "a");
        assert_eq!(t.refresh_token.as_ref().unwrap().expose_secret(), "r");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.expires_at, Some(at(3610)));
        assert_eq!(
            t.raw.keys().collect::<Vec<_>>(),
            ["data", "expires_in", "token_type"]
        );
    }

    #[test]
    fn scope_as_array_or_separated_string() {
        let t =
            OAuth2Token::from_response(json!({"access_token":"a","scope":["x","y"]}), " ", at(0))
                .unwrap();
        assert_eq!(t.scope, ["x", "y"]);
        let t = OAuth2Token::from_response(json!({"access_token":"a","scope":"x,y"}), ",", at(0))
            .unwrap();
        assert_eq!(t.scope, ["x", "y"]);
        let t = OAuth2Token::from_response(json!({"access_token":"a","scope":"x y"}), " ", at(0))
            .unwrap();
        assert_eq!(t.scope, ["x", "y"]);
    }

    #[test]
    fn token_types_other_than_bearer_are_refused() {
        for other in ["MAC", "mac", "DPoP", "Basic"] {
            let e = OAuth2Token::from_response(
                json!({"access_token":"a","token_type":other}),
                " ",
                at(0),
            )
            .unwrap_err();
            assert_eq!(
                e,
                "`token_type` is not `Bearer`, the only type of token this client can send"
            );
        }
        for bearer in [json!("BEARER"), json!("bearer"), json!(""), json!(null)] {
            let t = OAuth2Token::from_response(
                json!({"access_token":"a","token_type":bearer}),
                " ",
                at(0),
            )
            .unwrap();
            assert_eq!(t.token_type, "Bearer");
        }
        let t = OAuth2Token::from_response(json!({"access_token":"a"}), " ", at(0)).unwrap();
        assert_eq!(t.token_type, "Bearer", "a missing token_type means bearer");
    }

    #[test]
    fn huge_expires_in_is_clamped_to_the_longest_lifetime() {
        let year = MAX_TOKEN_LIFETIME.as_secs();
        assert_eq!(year, 365 * 24 * 60 * 60);
        for huge in [
            json!(1e30),
            json!(18_446_744_073_709_551_615u64),
            json!("9223372036854775807"),
            json!("1e30"),
            json!(year + 1),
        ] {
            let t = OAuth2Token::from_response(
                json!({"access_token":"a","expires_in":huge}),
                " ",
                at(10),
            )
            .unwrap();
            assert_eq!(t.expires_in, Some(year), "{huge}");
            assert_eq!(t.expires_at, Some(at(10) + MAX_TOKEN_LIFETIME), "{huge}");
            let margin = Duration::from_secs(60);
            assert!(!t.expires_within(margin, at(10)));
        }
        let t =
            OAuth2Token::from_response(json!({"access_token":"a","expires_in":year}), " ", at(0))
                .unwrap();
        assert_eq!(t.expires_in, Some(year), "a year itself is kept");
    }

    #[test]
    fn unusable_expires_in_is_an_invalid_response_without_the_value() {
        for bad in [
            json!(-1),
            json!(-1e30),
            json!("-5"),
            json!("NaN"),
            json!("inf"),
            json!("soon-4321"),
            json!(true),
            json!([1]),
        ] {
            let e = OAuth2Token::from_response(
                json!({"access_token":"a","expires_in":bad}),
                " ",
                at(0),
            )
            .unwrap_err();
            assert_eq!(
                e, "`expires_in` is not a non-negative number of seconds",
                "{bad}"
            );
        }
    }

    #[test]
    fn stored_expiry_out_of_range_is_an_error_not_a_panic() {
        for bad in [
            json!(1e30),
            json!("1e30"),
            json!(1e19),
            json!(-1),
            json!(f64::MAX),
        ] {
            let payload = Payload::new(
                serde_json::to_vec(&json!({"access_token":"a","expires_at":bad})).unwrap(),
            );
            let e = Credentials::from_payload(&payload).unwrap_err();
            assert_eq!(e, "`expires_at` is not a Unix timestamp", "{bad}");
            let e =
                serde_json::from_value::<Credentials>(json!({"access_token":"a","expires_at":bad}))
                    .unwrap_err();
            assert!(e.to_string().contains("`expires_at`"), "{e}");
        }
        let far = UNIX_EPOCH + Duration::from_secs(1_000_000_000_000);
        let payload = Payload::new(
            serde_json::to_vec(&json!({"access_token":"a","expires_at":1_000_000_000_000u64}))
                .unwrap(),
        );
        let far_future = Credentials::from_payload(&payload).unwrap();
        assert_eq!(
            far_future.token.expires_at,
            Some(far),
            "far but representable"
        );
    }

    #[test]
    fn serde_errors_name_the_field_path_never_the_value() {
        let decode = |value: Value| {
            Credentials::from_payload(&Payload::new(serde_json::to_vec(&value).unwrap()))
                .unwrap_err()
        };
        assert_eq!(
            decode(json!({"access_token": 123_456})),
            "field `access_token` has an unexpected type or value"
        );
        assert_eq!(
            decode(json!({"access_token": "a", "refresh_token": 98_765})),
            "field `refresh_token` has an unexpected type or value"
        );
        assert_eq!(
            decode(json!({"access_token": "a", "raw": "secret-raw"})),
            "field `raw` has an unexpected type or value"
        );
        assert_eq!(
            decode(json!({"token_type": "x"})),
            "`access_token` is missing"
        );
        assert_eq!(
            decode(json!(["secret-array"])),
            "the credentials are not a JSON object"
        );
        assert_eq!(
            Credentials::from_payload(&Payload::new(b"{\"access_token\": secret".to_vec()))
                .unwrap_err(),
            "the credentials are not valid JSON"
        );
        let e = OAuth2Token::from_response(
            json!({"access_token": "a", "id_token": 55_555}),
            " ",
            at(0),
        )
        .unwrap_err();
        assert_eq!(e, "field `id_token` has an unexpected type or value");
        let e = OAuth2Token::from_response(
            json!({"access_token": "a", "scope": ["x", 77_777]}),
            " ",
            at(0),
        )
        .unwrap_err();
        assert_eq!(e, "`scope` array holds a non-string");
    }

    #[test]
    fn bad_responses_name_the_problem_without_values() {
        let e = OAuth2Token::from_response(json!({"token_type":"bearer"}), " ", at(0)).unwrap_err();
        assert_eq!(e, "`access_token` is missing");
        let e = OAuth2Token::from_response(
            json!({"access_token":"secret-x","expires_in":"soon"}),
            " ",
            at(0),
        )
        .unwrap_err();
        assert!(!e.contains("secret-x") && !e.contains("soon"), "{e}");
        let e = OAuth2Token::from_response(json!({"access_token":""}), " ", at(0)).unwrap_err();
        assert_eq!(e, "`access_token` is empty");
        assert!(OAuth2Token::from_response(json!([1]), " ", at(0)).is_err());
    }

    #[test]
    fn storage_round_trip_keeps_everything() {
        let mut t = OAuth2Token::from_response(
            json!({"access_token":"a","refresh_token":"r","id_token":"i","expires_in":60,"scope":"s t","x":1}),
            " ",
            at(100),
        )
        .unwrap();
        t.expires_at = Some(UNIX_EPOCH + Duration::from_millis(160_500));
        let creds = Credentials {
            token: t,
            extra: Map::from_iter([("workspace_gid".into(), json!("w"))]),
        };
        let bytes = serde_json::to_vec(&creds).unwrap();
        let back: Credentials = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.token.access_token.expose_secret(), "a");
        assert_eq!(back.token.refresh_token.unwrap().expose_secret(), "r");
        assert_eq!(back.token.id_token.unwrap().expose_secret(), "i");
        assert_eq!(back.token.scope, ["s", "t"]);
        assert_eq!(back.token.expires_in, Some(60));
        assert_eq!(
            back.token.expires_at,
            Some(UNIX_EPOCH + Duration::from_millis(160_500))
        );
        assert_eq!(back.token.raw.get("x"), Some(&json!(1)));
        assert_eq!(back.extra.get("workspace_gid"), Some(&json!("w")));
        assert_eq!(back.extra.len(), 1);
    }

    #[test]
    fn expiry_margin() {
        let mut t = OAuth2Token::bearer("a");
        assert!(!t.expires_within(Duration::from_secs(60), at(0)));
        t.expires_at = Some(at(100));
        assert!(t.expires_within(Duration::from_secs(60), at(50)));
        assert!(!t.expires_within(Duration::from_secs(60), at(39)));
    }
}
