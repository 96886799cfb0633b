//! User credentials: the generic [`OAuth2Token`], the [`UserCredentials`] trait that provider-specific
//! credential types implement, and [`Credentials`], the provider-agnostic form the manager stores.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::{SecretString, expose};

/// The fields of a token response that are secrets; they are lifted out of [`OAuth2Token::raw`].
const SECRET_FIELDS: [&str; 3] = ["access_token", "refresh_token", "id_token"];

/// An OAuth2 token as a provider returned it, parsed leniently.
///
/// Real token endpoints disagree on details; parsing accepts `expires_in` as a number or a string,
/// `scope` as a separated string or an array, and `token_type` in any case (a bearer type is
/// normalised to `"Bearer"`). `raw` keeps every field of the response **except** the secrets
/// (`access_token`, `refresh_token`, `id_token`), which live only in their redacted fields: unlike
/// the Python framework, printing or logging `raw` can never leak a token.
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
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "TokenRepr")]
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
            raw: Map::new(),
        }
    }

    /// Parses a token endpoint's JSON response. `scope_separator` splits a string `scope`; `now` is
    /// the time the response was received, from which `expires_at` is computed.
    ///
    /// The error names what is wrong, never a value from the response.
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
        let repr: TokenRepr =
            serde_json::from_value(Value::Object(map)).map_err(|e| describe_serde_error(&e))?;
        let mut token = OAuth2Token::from(repr);
        if token.access_token.is_empty() {
            return Err("`access_token` is empty".into());
        }
        token.scope = scope.unwrap_or_default();
        token.expires_at = token.expires_in.map(|secs| now + Duration::from_secs(secs));
        token.raw = raw;
        Ok(token)
    }

    /// Whether the token expires within `margin` of `now` (false when the expiry is unknown).
    pub fn expires_within(&self, margin: Duration, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now + margin)
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

/// Splits a scope string on `separator`, dropping empty parts. An empty separator splits on
/// whitespace and commas.
pub fn split_scopes(s: &str, separator: &str) -> Vec<String> {
    let parts: Vec<&str> = if separator.trim().is_empty() || separator.is_empty() {
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

/// Turns a serde error into a message that names the field but never echoes a value.
fn describe_serde_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("missing field `access_token`") {
        "`access_token` is missing".into()
    } else if let Some(field) = text.split('`').nth(1) {
        format!("field `{field}` has an unexpected type")
    } else {
        "the response does not have the shape of a token response".into()
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

    pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or_else(|| de::Error::custom("`expires_in` is not a non-negative number")),
            Some(Value::String(s)) => s
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| de::Error::custom("`expires_in` is not a number")),
            Some(_) => Err(de::Error::custom("`expires_in` is not a number")),
        }
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

    /// Deserializes from a number or numeric string of seconds since the Unix epoch.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let secs = match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match secs {
            Some(secs) if secs.is_finite() && secs >= 0.0 => {
                Ok(Some(UNIX_EPOCH + Duration::from_secs_f64(secs)))
            }
            _ => Err(de::Error::custom("`expires_at` is not a Unix timestamp")),
        }
    }
}

/// What every provider's user credentials offer: the OAuth2 token at their heart, and serde.
///
/// Provider crates define their own type (for example `AsanaUserCredentials`, which adds the user and
/// workspace) that embeds an [`OAuth2Token`] with `#[serde(flatten)]`, so that the stored form is a
/// flat JSON object any provider-agnostic code can read as [`Credentials`].
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
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The OAuth2 token.
    #[serde(flatten)]
    pub token: OAuth2Token,
    /// Provider-specific fields (for Asana: `workspace_gid`, `user`). Never secrets.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Credentials {
    /// Credentials that are only a token.
    pub fn new(token: OAuth2Token) -> Self {
        Self {
            token,
            extra: Map::new(),
        }
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

    /// Parses the stored form. The error never echoes the payload.
    pub fn from_payload(payload: &crate::store::Payload) -> Result<Self, String> {
        serde_json::from_slice(payload.expose_bytes()).map_err(|e| describe_serde_error(&e))
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
    fn other_token_types_are_kept() {
        let t =
            OAuth2Token::from_response(json!({"access_token":"a","token_type":"MAC"}), " ", at(0))
                .unwrap();
        assert_eq!(t.token_type, "MAC");
        let t = OAuth2Token::from_response(
            json!({"access_token":"a","token_type":"BEARER"}),
            " ",
            at(0),
        )
        .unwrap();
        assert_eq!(t.token_type, "Bearer");
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
