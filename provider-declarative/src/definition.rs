//! A provider definition: the TOML schema, and its validation into a [`Definition`] with every
//! error naming the file, the line and the field.

use std::collections::BTreeMap;
use std::ops::Range;

use auth_core::config::is_secure_endpoint;
use auth_core::provider::{
    BodyFormat, ClientAuthMethod, RevocationRequest, RevocationScope, RevokeToken,
};
use auth_core::{ConfigError, REFUSED_HEADERS, is_reserved_authorize_param};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

/// A definition file: `[[providers]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    providers: Vec<Raw>,
}

/// One `[[providers]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: Spanned<String>,
    display_name: String,
    authorization_url: Spanned<String>,
    token_url: Spanned<String>,
    #[serde(default)]
    revocation_url: Option<Spanned<String>>,
    #[serde(default)]
    api_base_url: Option<Spanned<String>>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default = "space")]
    scope_separator: String,
    #[serde(default = "scope")]
    scope_param: String,
    #[serde(default = "yes")]
    pkce: bool,
    #[serde(default)]
    client_auth: ClientAuth,
    #[serde(default)]
    revoke_token: Revoke,
    #[serde(default)]
    revocation_request: Revocation,
    #[serde(default)]
    revocation_scope: Scope,
    #[serde(default)]
    authorize_params: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    placeholders: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    api_headers: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    bare_token_prefixes: Vec<Spanned<String>>,
    #[serde(default)]
    read_paths: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    token_request: Format,
    #[serde(default)]
    token_response: RawTokenResponse,
    #[serde(default)]
    whoami: Option<RawWhoami>,
}

fn space() -> String {
    " ".into()
}

fn scope() -> String {
    "scope".into()
}

fn yes() -> bool {
    true
}

/// `[providers.token_response]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokenResponse {
    #[serde(default = "json")]
    format: Format,
    #[serde(default)]
    token: Option<Spanned<String>>,
    #[serde(default)]
    user_id: Option<Spanned<String>>,
    #[serde(default)]
    api_base_url: Option<Spanned<String>>,
    #[serde(default)]
    invalid_grant_codes: Vec<String>,
    #[serde(default)]
    transient_codes: Vec<String>,
    #[serde(default)]
    error: Option<Spanned<String>>,
    #[serde(default)]
    error_description: Option<Spanned<String>>,
}

fn json() -> Format {
    Format::Json
}

impl Default for RawTokenResponse {
    fn default() -> Self {
        Self {
            format: Format::Json,
            token: None,
            user_id: None,
            api_base_url: None,
            invalid_grant_codes: Vec::new(),
            transient_codes: Vec::new(),
            error: None,
            error_description: None,
        }
    }
}

/// `[providers.whoami]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhoami {
    #[serde(default)]
    method: WhoamiMethod,
    path: Spanned<String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default)]
    user_id: Option<Spanned<String>>,
    #[serde(default)]
    rejected_token_codes: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Format {
    #[default]
    Form,
    Json,
}

impl From<Format> for BodyFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Form => BodyFormat::Form,
            Format::Json => BodyFormat::Json,
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
enum ClientAuth {
    #[default]
    #[serde(rename = "client_secret_post")]
    Post,
    #[serde(rename = "client_secret_basic")]
    Basic,
    #[serde(rename = "none")]
    None,
}

impl From<ClientAuth> for ClientAuthMethod {
    fn from(method: ClientAuth) -> Self {
        match method {
            ClientAuth::Post => ClientAuthMethod::RequestBody,
            ClientAuth::Basic => ClientAuthMethod::BasicAuth,
            ClientAuth::None => ClientAuthMethod::None,
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Revoke {
    #[default]
    Refresh,
    RefreshOrAccess,
    Access,
}

impl From<Revoke> for RevokeToken {
    fn from(which: Revoke) -> Self {
        match which {
            Revoke::Refresh => RevokeToken::Refresh,
            Revoke::RefreshOrAccess => RevokeToken::RefreshOrAccess,
            Revoke::Access => RevokeToken::Access,
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Revocation {
    #[default]
    Rfc7009,
    // The name before the request learned to delete a single token; definitions written then
    // still load.
    #[serde(alias = "delete_grant_with_access_token")]
    DeleteWithAccessToken,
    DeleteRefreshTokenInPath,
}

impl From<Revocation> for RevocationRequest {
    fn from(request: Revocation) -> Self {
        match request {
            Revocation::Rfc7009 => RevocationRequest::Rfc7009,
            Revocation::DeleteWithAccessToken => RevocationRequest::DeleteWithAccessToken,
            Revocation::DeleteRefreshTokenInPath => RevocationRequest::DeleteRefreshTokenInPath,
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Scope {
    Token,
    #[default]
    Grant,
}

impl From<Scope> for RevocationScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Token => RevocationScope::Token,
            Scope::Grant => RevocationScope::Grant,
        }
    }
}

/// The method of the "who am I" call.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhoamiMethod {
    /// `GET` (the default).
    #[default]
    #[serde(rename = "GET")]
    Get,
    /// `POST` (GraphQL APIs such as Linear's, RPC APIs such as Slack's).
    #[serde(rename = "POST")]
    Post,
}

/// How to ask the provider's API who the token belongs to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Whoami {
    /// GET or POST.
    pub method: WhoamiMethod,
    /// The path below the API base URL.
    pub path: String,
    /// A JSON body to send, if any.
    pub body: Option<serde_json::Value>,
    /// A JSON pointer to the user's id in the answer.
    pub user_id: Option<String>,
    /// The `error` codes of a 2xx answer with `ok: false` (Slack's errors) that mean the token
    /// itself was rejected, as a 401 does elsewhere.
    pub rejected_token_codes: Vec<String>,
}

/// A validated provider definition. URLs are templates whose `{placeholders}` are filled from
/// configuration when the provider is built.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Definition {
    /// Provider id (lower case): the key credentials are stored under.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// Where the definition came from: a file path, or `built-in:ID`.
    pub origin: String,
    /// The consent page (a template).
    pub authorization_url: String,
    /// The token endpoint (a template).
    pub token_url: String,
    /// The revocation endpoint, if the provider has one (a template).
    pub revocation_url: Option<String>,
    /// The API base URL (a template), if the provider has a fixed one.
    pub api_base_url: Option<String>,
    /// Default scopes.
    pub scopes: Vec<String>,
    /// How scopes are joined and split.
    pub scope_separator: String,
    /// The authorize URL's scope parameter.
    pub scope_param: String,
    /// Whether a PKCE challenge is sent.
    pub pkce: bool,
    /// Client authentication at the token endpoint.
    pub client_auth: ClientAuthMethod,
    /// Which token revocation sends.
    pub revoke_token: RevokeToken,
    /// How revocation is sent.
    pub revocation_request: RevocationRequest,
    /// What a revocation ends.
    pub revocation_scope: RevocationScope,
    /// Extra authorize parameters.
    pub authorize_params: Vec<(String, String)>,
    /// Placeholders and their defaults.
    pub placeholders: Vec<(String, String)>,
    /// Headers every API request carries: valid names and values, none that the client sets
    /// itself (`Authorization`, `Cookie`, `Host`, the request's framing).
    pub api_headers: Vec<(String, String)>,
    /// Tokens that start with one of these go in `Authorization` bare, without `Bearer` (API
    /// keys of a provider that refuses them with the scheme it wants for OAuth tokens).
    pub bare_token_prefixes: Vec<String>,
    /// The paths whose GET only reads, as patterns (`*` stands for one or more characters
    /// other than `/`), for a provider whose GETs can change data (Slack's Web API takes any
    /// method's arguments in a GET's query); `None`: every GET only reads. See
    /// [`Definition::reads`].
    pub read_paths: Option<Vec<String>>,
    /// How grants are sent.
    pub token_request_format: BodyFormat,
    /// How the token endpoint answers.
    pub token_response_format: BodyFormat,
    /// Where the token sits in the token response (a JSON pointer).
    pub token_pointer: Option<String>,
    /// Where the user's id sits in the token response as kept (a JSON pointer).
    pub user_id_pointer: Option<String>,
    /// Where a per-user API base URL sits in the token response as kept (a JSON pointer).
    pub api_base_pointer: Option<String>,
    /// Error codes that mean `invalid_grant`.
    pub invalid_grant_codes: Vec<String>,
    /// Error codes that mean the provider failed for now.
    pub transient_codes: Vec<String>,
    /// Where an error answer's code sits (a JSON pointer), when not at `/error`.
    pub error_pointer: Option<String>,
    /// Where an error answer's description sits (a JSON pointer), when not at
    /// `/error_description`.
    pub error_description_pointer: Option<String>,
    /// The "who am I" call, if any.
    pub whoami: Option<Whoami>,
}

/// Field names a placeholder may not take: the configuration fields every definition has.
pub(crate) const STANDARD_FIELDS: [&str; 9] = [
    "client_id",
    "client_secret",
    "redirect_uri",
    "default_scope",
    "authorization_url",
    "token_url",
    "revocation_url",
    "api_base_url",
    "token_auth_method",
];

/// Where a definition's errors point.
struct Source<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, span: Option<Range<usize>>) -> usize {
        let bytes = self.text.as_bytes();
        let end = span.map_or(0, |s| s.start.min(bytes.len()));
        bytes[..end].iter().filter(|b| **b == b'\n').count() + 1
    }

    fn error(
        &self,
        span: Option<Range<usize>>,
        field: String,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Definition {
            path: self.origin.to_string(),
            line: self.line(span),
            field,
            reason: reason.into(),
        }
    }
}

/// Parses and validates a definition file's text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Definition>, ConfigError> {
    let source = Source { origin, text };
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|e| source.error(e.span(), "(TOML syntax)".into(), e.message()))?;
    let file: File = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let mut field = e.path().to_string();
        let message = e.inner().message().to_string();
        // serde names a missing field in its message, and the path stops at its table.
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            field = if field == "." {
                missing.to_string()
            } else {
                format!("{field}.{missing}")
            };
        }
        source.error(e.inner().span(), field, message)
    })?;
    let mut definitions: Vec<Definition> = Vec::new();
    for (index, raw) in file.providers.into_iter().enumerate() {
        let id_span = raw.id.span();
        let definition = validate(&source, index, raw)?;
        if definitions.iter().any(|d| d.id == definition.id) {
            return Err(source.error(
                Some(id_span),
                format!("providers[{index}].id"),
                "another provider of this file has the same id",
            ));
        }
        definitions.push(definition);
    }
    Ok(definitions)
}

fn validate(source: &Source<'_>, index: usize, raw: Raw) -> Result<Definition, ConfigError> {
    let at = |field: &str| format!("providers[{index}].{field}");
    let id = raw.id.get_ref().clone();
    if !is_name(&id) {
        return Err(source.error(
            Some(raw.id.span()),
            at("id"),
            "an id is lower-case ASCII letters, digits and `_`, starting with a letter",
        ));
    }
    let mut placeholders = Vec::new();
    for (name, default) in &raw.placeholders {
        let span = name.span();
        let name = name.get_ref();
        if !is_name(name) || STANDARD_FIELDS.contains(&name.as_str()) {
            return Err(source.error(
                Some(span),
                at(&format!("placeholders.{name}")),
                "a placeholder is lower-case ASCII letters, digits and `_`, and not the name of a standard field",
            ));
        }
        placeholders.push((name.clone(), default.clone()));
    }
    let template_with = |field: &str,
                         value: &Spanned<String>,
                         placeholders: &[(String, String)]|
     -> Result<String, ConfigError> {
        let filled = fill(value.get_ref(), placeholders)
            .map_err(|reason| source.error(Some(value.span()), at(field), reason))?;
        let url = Url::parse(&filled).map_err(|e| {
            source.error(
                Some(value.span()),
                at(field),
                format!("not a valid URL ({e})"),
            )
        })?;
        if !is_secure_endpoint(&url) {
            return Err(source.error(
                Some(value.span()),
                at(field),
                "an endpoint must be https (http only on 127.0.0.1, ::1 or localhost)",
            ));
        }
        Ok(value.get_ref().clone())
    };
    let template =
        |field: &str, value: &Spanned<String>| template_with(field, value, &placeholders);
    // The revocation URL may also name the client (`{client_id}`), filled when the provider is
    // built with its client id.
    let with_client: Vec<(String, String)> = placeholders
        .iter()
        .cloned()
        .chain([("client_id".to_string(), "client-id".to_string())])
        .collect();
    let revocation_template =
        |value: &Spanned<String>| template_with("revocation_url", value, &with_client);
    let pointer =
        |field: &str, value: &Option<Spanned<String>>| -> Result<Option<String>, ConfigError> {
            match value {
                Some(p) if !p.get_ref().starts_with('/') => Err(source.error(
                    Some(p.span()),
                    at(field),
                    "a JSON pointer starts with `/`, e.g. `/authed_user/id`",
                )),
                Some(p) => Ok(Some(p.get_ref().clone())),
                None => Ok(None),
            }
        };
    // A list of words none of which may be blank; `what` says what one is.
    let words = |field: &str,
                 values: &[Spanned<String>],
                 what: &str|
     -> Result<Vec<String>, ConfigError> {
        values
            .iter()
            .map(|value| match value.get_ref() {
                word if word.trim().is_empty() => {
                    Err(source.error(Some(value.span()), at(field), format!("{what}: not empty")))
                }
                word => Ok(word.clone()),
            })
            .collect()
    };
    let mut api_headers = Vec::new();
    for (name, value) in &raw.api_headers {
        let parsed = HeaderName::from_bytes(name.get_ref().as_bytes()).map_err(|_| {
            source.error(
                Some(name.span()),
                at("api_headers"),
                "a header name is ASCII letters, digits and any of !#$%&'*+-.^_`|~, e.g. `User-Agent`",
            )
        })?;
        let field = at(&format!("api_headers.{}", name.get_ref()));
        if REFUSED_HEADERS.contains(&parsed.as_str()) {
            return Err(source.error(
                Some(name.span()),
                field,
                "the client sets this header itself (the token, cookies, the request's framing); remove it",
            ));
        }
        if HeaderValue::from_str(value.get_ref()).is_err() {
            return Err(source.error(
                Some(value.span()),
                field,
                "a header value holds no control character (line breaks included) but tabs",
            ));
        }
        api_headers.push((name.get_ref().clone(), value.get_ref().clone()));
    }
    let bare_token_prefixes = words(
        "bare_token_prefixes",
        &raw.bare_token_prefixes,
        "a prefix that tokens sent bare start with, e.g. `lin_api_`",
    )?;
    if let Some(name) = raw
        .authorize_params
        .keys()
        .find(|name| is_reserved_authorize_param(name.get_ref(), &raw.scope_param))
    {
        return Err(source.error(
            Some(name.span()),
            at(&format!("authorize_params.{}", name.get_ref())),
            "the flow sets this parameter itself (response_type, client_id, redirect_uri, state, code_challenge, code_challenge_method and the scope parameter): remove it",
        ));
    }
    let read_paths = match &raw.read_paths {
        Some(patterns) => Some(
            patterns
                .iter()
                .map(|pattern| {
                    let text = pattern.get_ref();
                    let valid = text.starts_with('/')
                        && text.len() > 1
                        && text.bytes().all(|b| is_plain_path_byte(b) || b == b'*');
                    if valid {
                        Ok(text.clone())
                    } else {
                        Err(source.error(
                            Some(pattern.span()),
                            at("read_paths"),
                            "a path below the API base URL, starting with `/`, of ASCII letters, digits and `/._~-`, `*` standing for one or more characters but `/`, e.g. `/*.list`",
                        ))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let whoami = match &raw.whoami {
        Some(w) => {
            if !w.path.get_ref().starts_with('/') || w.path.get_ref().starts_with("//") {
                return Err(source.error(
                    Some(w.path.span()),
                    at("whoami.path"),
                    "a path below the API base URL, starting with a single `/`",
                ));
            }
            if raw.api_base_url.is_none() && raw.token_response.api_base_url.is_none() {
                return Err(source.error(
                    Some(w.path.span()),
                    at("whoami"),
                    "a \"who am I\" call needs `api_base_url` or `token_response.api_base_url`",
                ));
            }
            Some(Whoami {
                method: w.method,
                path: w.path.get_ref().clone(),
                body: w.body.clone(),
                user_id: pointer("whoami.user_id", &w.user_id)?,
                rejected_token_codes: words(
                    "whoami.rejected_token_codes",
                    &w.rejected_token_codes,
                    "an `error` code that means the token was rejected, e.g. `invalid_auth`",
                )?,
            })
        }
        None => None,
    };
    Ok(Definition {
        authorization_url: template("authorization_url", &raw.authorization_url)?,
        token_url: template("token_url", &raw.token_url)?,
        revocation_url: raw
            .revocation_url
            .as_ref()
            .map(revocation_template)
            .transpose()?,
        api_base_url: raw
            .api_base_url
            .as_ref()
            .map(|u| template("api_base_url", u))
            .transpose()?,
        token_pointer: pointer("token_response.token", &raw.token_response.token)?,
        user_id_pointer: pointer("token_response.user_id", &raw.token_response.user_id)?,
        api_base_pointer: pointer(
            "token_response.api_base_url",
            &raw.token_response.api_base_url,
        )?,
        error_pointer: pointer("token_response.error", &raw.token_response.error)?,
        error_description_pointer: pointer(
            "token_response.error_description",
            &raw.token_response.error_description,
        )?,
        id,
        display_name: raw.display_name,
        origin: source.origin.to_string(),
        scopes: raw.scopes,
        scope_separator: raw.scope_separator,
        scope_param: raw.scope_param,
        pkce: raw.pkce,
        client_auth: raw.client_auth.into(),
        revoke_token: raw.revoke_token.into(),
        revocation_request: raw.revocation_request.into(),
        revocation_scope: raw.revocation_scope.into(),
        authorize_params: raw
            .authorize_params
            .into_iter()
            .map(|(name, value)| (name.into_inner(), value))
            .collect(),
        placeholders,
        api_headers,
        bare_token_prefixes,
        read_paths,
        token_request_format: raw.token_request.into(),
        token_response_format: raw.token_response.format.into(),
        invalid_grant_codes: raw.token_response.invalid_grant_codes,
        transient_codes: raw.token_response.transient_codes,
        whoami,
    })
}

impl Definition {
    /// Whether a GET of `path` (below the API base URL, without its query) only reads: any
    /// path, unless the definition lists its [`read_paths`](Definition::read_paths); then only a
    /// path one of them matches, written without percent-encoding.
    ///
    /// ```
    /// let slack = provider_declarative::builtin_definitions()
    ///     .into_iter()
    ///     .find(|d| d.id == "slack")
    ///     .unwrap();
    /// assert!(slack.reads("/conversations.history"));
    /// assert!(!slack.reads("/chat.postMessage"));
    /// assert!(!slack.reads("/chat.postMessage%3F.list"));
    /// ```
    pub fn reads(&self, path: &str) -> bool {
        match &self.read_paths {
            None => true,
            Some(patterns) => {
                path.bytes().all(is_plain_path_byte)
                    && patterns
                        .iter()
                        .any(|pattern| matches(pattern.as_bytes(), path.as_bytes()))
            }
        }
    }
}

/// The bytes a read path is written with: unreserved characters and `/`.
fn is_plain_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'~' | b'-')
}

/// Whether `path` matches `pattern`, whose `*` stands for one or more bytes other than `/`.
fn matches(pattern: &[u8], path: &[u8]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((b'*', rest)) => (1..=path.len())
            .take_while(|&n| path[n - 1] != b'/')
            .any(|n| matches(rest, &path[n..])),
        Some((first, rest)) => path.first() == Some(first) && matches(rest, &path[1..]),
    }
}

/// Whether `name` can be an id or a placeholder: lower-case ASCII letters, digits and `_`,
/// starting with a letter (it becomes part of env keys).
fn is_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `template` with each `{name}` replaced by `values`' value; an unknown or unclosed
/// placeholder is an error naming it.
pub(crate) fn fill(template: &str, values: &[(String, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "a `{` without its `}`".to_string())?;
        let name = &after[..close];
        let value = values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                format!("unknown placeholder `{{{name}}}`; declare it in `placeholders` with its default")
            })?;
        out.push_str(value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
