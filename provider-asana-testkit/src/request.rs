//! One parsed API request and the shapes of its answers: the error envelope, query parameters,
//! JSON and multipart bodies, `opt_fields` and pagination.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use wiremock::Request;
use wiremock::http::Method;

use super::data::Gid;
use super::state::{Reply, State};

/// The `help` of Asana's error envelopes.
const HELP: &str = "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors";
/// The `phrase` of a 500 envelope (Asana sends a random phrase to quote to support).
const PHRASE: &str = "6 sad squid snuggle softly";

/// How many items a list answers without `limit`: Asana cuts an unpaginated list (at about
/// 1,000 items), and a client that forgets `limit` must not pass against the kit.
pub const UNPAGINATED_MAX: usize = 1000;

/// An API error: answered as `{"errors":[{"message", "help"?, "phrase"?}]}`.
pub(super) struct ApiError {
    status: u16,
    message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// A 404 for a gid named in the path or query.
    pub fn unknown_object(gid: &str) -> Self {
        Self::new(
            404,
            format!(
                "{gid}: Unknown object. The resource may have been deleted or may not be visible to the requester."
            ),
        )
    }

    pub fn into_reply(self) -> Reply {
        envelope(self.status, &self.message)
    }
}

/// An error envelope; `help` on every status but 401, `phrase` on 500.
pub(super) fn envelope(status: u16, message: &str) -> Reply {
    let mut error = Map::new();
    error.insert("message".into(), Value::String(message.into()));
    if status != 401 {
        error.insert("help".into(), Value::String(HELP.into()));
    }
    if status == 500 {
        error.insert("phrase".into(), Value::String(PHRASE.into()));
    }
    Reply::json(status, json!({ "errors": [Value::Object(error)] }))
}

/// One API request, parsed.
pub(super) struct Ctx<'a> {
    /// The user the token acts as.
    pub me: Gid,
    pub method: &'a Method,
    /// The path after `/api/1.0`, e.g. `/projects/1/tasks`.
    pub path: String,
    body: &'a [u8],
    content_type: Option<&'a str>,
    query: Vec<(String, String)>,
    /// The mock's base URI, where attachments are downloaded.
    pub origin: String,
    api_base: String,
    opt_fields: Option<Vec<String>>,
}

/// One part of a `multipart/form-data` request body.
pub(super) struct FormPart<'a> {
    /// The form field's name.
    pub name: String,
    /// The file name, for a file part.
    pub file_name: Option<String>,
    /// The part's bytes, as sent.
    pub content: &'a [u8],
}

/// Where `needle` (not empty) first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The `; name=value` parameters of a header value (what follows its first `;`), with names in
/// lower case and quoted values unquoted (`\"` and `\\` unescaped); `None` if malformed.
fn header_params(params: &str) -> Option<Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut rest = params;
    loop {
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let value = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next()? {
                        (i, '"') => break i + 1,
                        (_, '\\') => value.push(chars.next()?.1),
                        (_, c) => value.push(c),
                    }
                };
                rest = &quoted[end..];
                value
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                rest = &after[end..];
                after[..end].trim().to_string()
            }
        };
        found.push((name, value));
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(found);
        }
        rest = rest.strip_prefix(';')?;
        if rest.trim().is_empty() {
            return Some(found);
        }
    }
}

/// The top-level fields `opt_fields` names (`assignee.name` names `assignee`), if any.
fn opt_fields(query: &[(String, String)]) -> Option<Vec<String>> {
    query
        .iter()
        .find(|(name, _)| name == "opt_fields")
        .map(|(_, value)| {
            value
                .split(',')
                .filter_map(|f| f.trim().split('.').next())
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|fields| !fields.is_empty())
}

impl<'a> Ctx<'a> {
    pub fn new(state: &State, request: &'a Request) -> Self {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let opt_fields = opt_fields(&query);
        Ctx {
            me: state.app.me,
            method: &request.method,
            path: request
                .url
                .path()
                .strip_prefix("/api/1.0")
                .unwrap_or_default()
                .to_string(),
            body: &request.body,
            content_type: request
                .headers
                .get("content-type")
                .and_then(|value| value.to_str().ok()),
            query,
            origin: state.app.uri.clone(),
            api_base: format!("{}/api/1.0", state.app.uri),
            opt_fields,
        }
    }

    /// A call of a batch: `method` on `path` (under the API base) with `query` and a JSON `body`,
    /// by the same user.
    pub fn nested<'b>(
        &self,
        method: &'b Method,
        path: &str,
        query: Vec<(String, String)>,
        body: &'b [u8],
    ) -> Ctx<'b> {
        Ctx {
            me: self.me,
            method,
            path: path.to_string(),
            body,
            content_type: Some("application/json"),
            opt_fields: opt_fields(&query),
            query,
            origin: self.origin.clone(),
            api_base: self.api_base.clone(),
        }
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `data` object of a JSON request body.
    pub fn data(&self) -> Result<Map<String, Value>, ApiError> {
        let value: Value = serde_json::from_slice(self.body)
            .map_err(|_| ApiError::bad_request("Could not parse request data, invalid JSON"))?;
        match value {
            Value::Object(mut body) => match body.remove("data") {
                Some(Value::Object(data)) => Ok(data),
                _ => Err(ApiError::bad_request(
                    "data: Missing input. The request body must be {\"data\": {...}}",
                )),
            },
            _ => Err(ApiError::bad_request(
                "Request data must be a JSON object, with the fields under \"data\"",
            )),
        }
    }

    /// The parts of a `multipart/form-data` body, in order.
    pub fn form(&self) -> Result<Vec<FormPart<'a>>, ApiError> {
        let not_multipart = || ApiError::bad_request("The request must be multipart/form-data");
        let (media_type, params) = self
            .content_type
            .and_then(|value| value.split_once(';'))
            .ok_or_else(not_multipart)?;
        let boundary = header_params(params)
            .filter(|_| {
                media_type
                    .trim()
                    .eq_ignore_ascii_case("multipart/form-data")
            })
            .and_then(|params| params.into_iter().find(|(name, _)| name == "boundary"))
            .map(|(_, boundary)| boundary)
            .filter(|boundary| !boundary.is_empty())
            .ok_or_else(not_multipart)?;
        let opening = format!("--{boundary}\r\n");
        let delimiter = format!("\r\n--{boundary}");
        let mut rest = self
            .body
            .strip_prefix(opening.as_bytes())
            .ok_or_else(not_multipart)?;
        let mut parts = Vec::new();
        loop {
            let end = find(rest, delimiter.as_bytes()).ok_or_else(not_multipart)?;
            let (section, after) = (&rest[..end], &rest[end + delimiter.len()..]);
            let header_end = find(section, b"\r\n\r\n").ok_or_else(not_multipart)?;
            let headers =
                std::str::from_utf8(&section[..header_end]).map_err(|_| not_multipart())?;
            let params = headers
                .split("\r\n")
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-disposition"))
                .and_then(|(_, value)| value.trim().split_once(';'))
                .filter(|(kind, _)| kind.trim().eq_ignore_ascii_case("form-data"))
                .and_then(|(_, params)| header_params(params))
                .ok_or_else(not_multipart)?;
            let param = |key: &str| {
                params
                    .iter()
                    .find(|(name, _)| name == key)
                    .map(|(_, value)| value.clone())
            };
            parts.push(FormPart {
                name: param("name").ok_or_else(not_multipart)?,
                file_name: param("filename"),
                content: &section[header_end + 4..],
            });
            if after.starts_with(b"--") {
                return Ok(parts);
            }
            rest = after.strip_prefix(b"\r\n").ok_or_else(not_multipart)?;
        }
    }

    /// Applies `opt_fields` (top-level fields; `gid` always stays) or, without it, the compact
    /// representation for list items.
    pub fn shape(&self, mut full: Map<String, Value>, compact: &[&str], single: bool) -> Value {
        match &self.opt_fields {
            Some(fields) => full.retain(|key, _| key == "gid" || fields.iter().any(|f| f == key)),
            None if !single => full.retain(|key, _| compact.contains(&key.as_str())),
            None => {}
        }
        Value::Object(full)
    }

    /// A single object: `{"data": ...}` with the given status.
    pub fn object(&self, status: u16, full: Map<String, Value>) -> Reply {
        Reply::json(status, json!({ "data": self.shape(full, &[], true) }))
    }

    /// A list, paginated by `limit` and `offset`; `next_page` only when `limit` was sent, and
    /// without `limit` at most [`UNPAGINATED_MAX`] items, as Asana cuts an unpaginated list.
    pub fn list(&self, items: Vec<Value>) -> Result<Reply, ApiError> {
        let limit = match self.param("limit") {
            None => None,
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(limit @ 1..=100) => Some(limit),
                _ => {
                    return Err(ApiError::bad_request(
                        "limit: The limit must be an integer between 1 and 100",
                    ));
                }
            },
        };
        let start = match self.param("offset") {
            None => 0,
            Some(offset) => self.decode_offset(offset).ok_or_else(|| {
                ApiError::bad_request("offset: Your pagination token is invalid or has expired")
            })?,
        };
        let start = start.min(items.len());
        let Some(limit) = limit else {
            let end = start.saturating_add(UNPAGINATED_MAX).min(items.len());
            return Ok(Reply::json(
                200,
                json!({ "data": items.get(start..end).unwrap_or_default() }),
            ));
        };
        let end = start.saturating_add(limit).min(items.len());
        let next_page = if end < items.len() {
            self.next_page(end)
        } else {
            Value::Null
        };
        Ok(Reply::json(
            200,
            json!({ "data": items.get(start..end).unwrap_or_default(), "next_page": next_page }),
        ))
    }

    fn next_page(&self, position: usize) -> Value {
        let offset = URL_SAFE_NO_PAD.encode(format!("{position}:{}", self.path));
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.query.iter().filter(|(name, _)| name != "offset") {
            query.append_pair(name, value);
        }
        query.append_pair("offset", &offset);
        let path = format!("{}?{}", self.path, query.finish());
        json!({
            "offset": offset,
            "path": path,
            "uri": format!("{}{path}", self.api_base),
        })
    }

    /// The position an offset stands for, if it was issued for this path.
    fn decode_offset(&self, offset: &str) -> Option<usize> {
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(offset).ok()?).ok()?;
        let (position, path) = decoded.split_once(':')?;
        (path == self.path).then(|| position.parse().ok())?
    }
}
