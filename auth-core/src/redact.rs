//! Provider-supplied text made safe to keep in errors and to print.
//!
//! A server we do not control may echo what we sent it (a form body with the client secret and the
//! refresh token, an `Authorization` header) into its error messages, and may put terminal escape
//! sequences in them. [`Redactor`] replaces every secret in play, in the forms a server is likely to
//! echo it in, with [`REDACTED`]; [`strip_controls`] removes control characters and escape
//! sequences. [`Redactor::clean`] does both and bounds the length: use it wherever provider text
//! becomes part of an error.
//!
//! ```
//! use auth_core::SecretString;
//! use auth_core::redact::Redactor;
//!
//! let redactor = Redactor::new().with_secret(&SecretString::from("s3cr3t/+"));
//! let echoed = "bad request: client_secret=s3cr3t%2F%2B&grant_type=refresh_token\x1b[31m";
//! assert_eq!(
//!     redactor.clean(echoed, 300),
//!     "bad request: client_secret=[REDACTED]&grant_type=refresh_token"
//! );
//! ```

use std::fmt;

use url::Url;

use crate::secret::SecretString;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The secrets in play for one request, and the forms they may come back in.
///
/// Each secret is matched as is, form-urlencoded and percent-encoded (upper- and lowercase hex), and
/// JSON-escaped (with and without `\/`). Empty secrets are ignored. `Debug` shows only how many
/// forms are held.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<SecretString>,
}

impl Redactor {
    /// A redactor without secrets: [`Redactor::clean`] then only strips and truncates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `secret` (and its encoded forms).
    #[must_use]
    pub fn with_secret(mut self, secret: &SecretString) -> Self {
        self.add(secret);
        self
    }

    /// Adds `secret` (and its encoded forms).
    pub fn add(&mut self, secret: &SecretString) {
        let raw = secret.expose_secret();
        if raw.is_empty() {
            return;
        }
        let form: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        let percent = form.replace('+', "%20");
        let json = serde_json::to_string(raw).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or(raw)
            .to_string();
        let json_slashes = json.replace('/', "\\/");
        let forms = [
            lowercase_hex(&form),
            lowercase_hex(&percent),
            form,
            percent,
            json_slashes,
            json,
            raw.to_string(),
        ];
        for form in forms {
            if !self.needles.iter().any(|n| n.expose_secret() == form) {
                self.needles.push(SecretString::from(form));
            }
        }
    }

    /// Whether no secret was added.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every occurrence of a secret (in any of its forms) replaced by [`REDACTED`].
    /// Overlapping and adjacent occurrences become one [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for needle in &self.needles {
            let needle = needle.expose_secret();
            let mut from = 0;
            while let Some(found) = text[from..].find(needle) {
                let start = from + found;
                ranges.push((start, start + needle.len()));
                // Overlapping occurrences too: step one character, not the whole match.
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if ranges.is_empty() {
            return text.to_string();
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end) in merged {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
        out.push_str(&text[copied..]);
        out
    }

    /// Provider text ready for an error: control characters and escape sequences stripped
    /// ([`strip_controls`]), secrets redacted, then cut to `max_chars` characters (with `…`).
    /// Stripping comes first so that a secret split by control characters is still found, and
    /// truncation last so that it never leaves part of a secret.
    pub fn clean(&self, text: &str, max_chars: usize) -> String {
        let redacted = self.redact(&strip_controls(text));
        if redacted.chars().count() <= max_chars {
            return redacted;
        }
        let mut cut: String = redacted.chars().take(max_chars).collect();
        cut.push('…');
        cut
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor([REDACTED; {} forms])", self.needles.len())
    }
}

/// `%2f` for `%2F`: some servers re-encode what they echo with lowercase hex digits.
fn lowercase_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut after_percent = 0;
    for c in encoded.chars() {
        if after_percent > 0 {
            out.push(c.to_ascii_lowercase());
            after_percent -= 1;
        } else {
            if c == '%' {
                after_percent = 2;
            }
            out.push(c);
        }
    }
    out
}

/// `text` without control characters (C0, DEL and C1, newlines and tabs included), without
/// terminal escape sequences (CSI such as `ESC [31m`, OSC such as window titles and hyperlinks,
/// DCS, SOS, PM, APC, and two-character `ESC` sequences, in their 7- and 8-bit forms, removed as a
/// whole), and without the Unicode bidirectional embeddings, overrides and isolates that can make
/// text display in another order than it reads.
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                Some(' '..='/') => {
                    while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
                    chars.next_if(|c| matches!(c, '0'..='~'));
                }
                Some('0'..='~') => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips a control sequence's parameters and intermediates, then its final character.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| matches!(c, ' '..='?')).is_some() {}
    chars.next_if(|c| matches!(c, '@'..='~'));
}

/// Skips a control string up to its terminator (BEL, `ESC \` or ST), or to the end of the text.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// `url` fit to print: without its user information, and with the value of each query
/// parameter and its fragment shown as `***` (a parameter without a value, or whose name is not
/// plain letters, digits, `-`, `_` and `.`, is all `***`: a bare key is often the secret itself);
/// scheme, host, port and path as they are. An endpoint's URL may carry a key (an API gateway's
/// `?subscription-key=`), and `Debug` of the settings that hold it must not print it.
///
/// ```
/// use auth_core::redact::shown_url;
///
/// let url = "https://gw:key@auth.example.com/oauth/token?subscription-key=k&v=2#f".parse().unwrap();
/// assert_eq!(
///     shown_url(&url),
///     "https://auth.example.com/oauth/token?subscription-key=***&v=***#***"
/// );
/// ```
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    // A URL that cannot have user information has none to remove.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    if let Some(query) = shown.query() {
        let plain = |name: &str| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if plain(name) && !value.is_empty() => format!("{name}=***"),
                _ => "***".to_string(),
            })
            .collect();
        shown.set_query(Some(&masked.join("&")));
    }
    if shown.fragment().is_some() {
        shown.set_fragment(Some("***"));
    }
    shown.into()
}

/// A store location (a `scheme://user:password@host/...` URL or a libpq connection string) fit to
/// print: the password of its user information and the value of every `password` parameter (any
/// case, `sslpassword` too) replaced by `***`.
///
/// It reads the location as a PostgreSQL client may, and where the two readings differ it hides
/// more than it must, never less:
/// - A location that starts with `scheme://` is a URL. Its user information runs to the last
///   `@`, so that a password with an unescaped `/`, `?`, `#`, `@` or space, which a URL parser
///   would not see as a password but a PostgreSQL client may send as one, is hidden too. In its
///   query, a parameter's name is percent-decoded (`pass%77ord`) and its value runs to the next
///   `&`.
/// - Any other location is read as a `key=value` string, pair by pair as libpq reads it: spaces
///   may surround the `=`, and a value runs to its closing quote (`'...'`, with `\'` and `\\`
///   escaped) or, unquoted, to the next whitespace that no `\` escapes. A value whose key holds
///   `password` is hidden, and so is all that follows a pair that cannot be read. A location
///   whose first word is no `key=` (a path, `app:secret@db/app`) has its user information, if it
///   has any, hidden as a URL's.
///
/// ```
/// use auth_core::redact::without_passwords;
///
/// assert_eq!(
///     without_passwords("postgres://app:/s3cret@db/app?sslmode=require"),
///     "postgres://app:***@db/app?sslmode=require"
/// );
/// assert_eq!(
///     without_passwords("host=db password = 'two words' user=app"),
///     "host=db password = *** user=app"
/// );
/// ```
pub fn without_passwords(location: &str) -> String {
    match url_parts(location) {
        Some((scheme, rest)) => {
            let rest = without_userinfo_password(rest).unwrap_or_else(|| rest.to_string());
            match rest.split_once('?') {
                Some((base, query)) => {
                    format!("{scheme}://{base}?{}", without_query_passwords(query))
                }
                None => format!("{scheme}://{rest}"),
            }
        }
        None => without_keyword_passwords(location),
    }
}

/// `location`'s scheme and what follows its `://`, when it starts with `scheme://`.
fn url_parts(location: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = location.split_once("://")?;
    let mut bytes = scheme.bytes();
    let starts = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    (starts && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)))
        .then_some((scheme, rest))
}

/// `text` (what follows a URL's `://`, or a location without one) with the password of its user
/// information, from the first `:` to the last `@`, as `***`; `None` when it has none.
fn without_userinfo_password(text: &str) -> Option<String> {
    let (userinfo, host) = text.rsplit_once('@')?;
    let (user, _) = userinfo.split_once(':')?;
    Some(format!("{user}:***@{host}"))
}

/// Whether a parameter named `name` holds a password.
fn is_password_key(name: &str) -> bool {
    name.to_ascii_lowercase().contains("password")
}

/// A URL's query with the value of each parameter whose percent-decoded name holds `password`
/// replaced by `***` (given as `***` when it has none).
fn without_query_passwords(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let decoded: String = url::form_urlencoded::parse(name.as_bytes())
                .map(|(key, _)| key.into_owned())
                .collect();
            if is_password_key(&decoded) {
                format!("{name}=***")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A location without `scheme://`, read as a `key=value` string: each value whose key holds
/// `password` as `***`, and all that follows a pair that cannot be read as `***`. One whose
/// first word is no `key=` is no such string: its user information, if any, is hidden instead.
fn without_keyword_passwords(location: &str) -> String {
    let mut shown = String::with_capacity(location.len());
    let mut rest = location;
    let mut read_one = false;
    loop {
        let pair = rest.trim_start();
        shown.push_str(&rest[..rest.len() - pair.len()]);
        if pair.is_empty() {
            return shown;
        }
        let key_len = pair
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(pair.len());
        let Some(value) = pair[key_len..].trim_start().strip_prefix('=') else {
            if !read_one {
                return without_userinfo_password(location).unwrap_or_else(|| location.to_string());
            }
            shown.push_str("***");
            return shown;
        };
        let value = value.trim_start();
        let len = value_len(value);
        shown.push_str(&pair[..pair.len() - value.len()]);
        if is_password_key(&pair[..key_len]) {
            shown.push_str("***");
        } else {
            shown.push_str(&value[..len]);
        }
        rest = &value[len..];
        read_one = true;
    }
}

/// The length of a connection parameter's value at the start of `text`: a libpq quoted value
/// (`'...'`, with `\'` and `\\` escaped) to its closing quote, or else to the next whitespace
/// that no `\` escapes.
fn value_len(text: &str) -> usize {
    let (quoted, body) = match text.strip_prefix('\'') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' if quoted => return i + 2,
            c if !quoted && c.is_whitespace() => return i,
            _ => {}
        }
    }
    text.len()
}

/// What kind of JSON value `value` is (`"a string"`, `"an array"`, ...), for an error about a
/// caller's value that must not quote it: the value may be private text, or a pasted token.
///
/// ```
/// use auth_core::redact::json_kind;
///
/// assert_eq!(json_kind(&serde_json::json!(["secret"])), "an array");
/// ```
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        secrets.iter().fold(Redactor::new(), |r, s| {
            r.with_secret(&SecretString::from(*s))
        })
    }

    #[test]
    fn urls_are_shown_without_user_information_query_values_or_fragment() {
        for (url, shown) in [
            (
                "https://gw:key@auth.example.com/t?subscription-key=k&v=2#f",
                "https://auth.example.com/t?subscription-key=***&v=***#***",
            ),
            (
                "https://auth.example.com/t?sk_live_hunter2",
                "https://auth.example.com/t?***",
            ),
            (
                "https://auth.example.com/t?sk_live_hunter2=&a=1",
                "https://auth.example.com/t?***&a=***",
            ),
            (
                "https://auth.example.com/t?token%3Dhunter2",
                "https://auth.example.com/t?***",
            ),
            (
                "https://auth.example.com/t?=hunter2&a=1",
                "https://auth.example.com/t?***&a=***",
            ),
            (
                "https://[::1]:8443/t?k=hunter2",
                "https://[::1]:8443/t?k=***",
            ),
            ("https://auth.example.com/t", "https://auth.example.com/t"),
            ("urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob"),
        ] {
            assert_eq!(shown_url(&url.parse().unwrap()), shown, "{url}");
        }
    }

    #[test]
    fn store_locations_are_shown_without_passwords() {
        for (location, shown) in [
            (
                "postgres://svc:hunter2@db.example.com:5432/x",
                "postgres://svc:***@db.example.com:5432/x",
            ),
            ("mysql://svc:pa/ss@word@db/x", "mysql://svc:***@db/x"),
            // Where a URL parser sees no password but a PostgreSQL client sends one.
            (
                "postgres://app:/hunter2@db/app",
                "postgres://app:***@db/app",
            ),
            (
                "postgres://app:123/hunter2@db/app",
                "postgres://app:***@db/app",
            ),
            (
                "postgres://app:?hunter2@db/app",
                "postgres://app:***@db/app",
            ),
            (
                "postgres://app:#hunter2@db/app",
                "postgres://app:***@db/app",
            ),
            ("postgres://:hunter2@db/app", "postgres://:***@db/app"),
            ("postgres://svc@db/x", "postgres://svc@db/x"),
            (
                "postgres://db/x?user=svc&Password=hunter2&sslmode=require",
                "postgres://db/x?user=svc&Password=***&sslmode=require",
            ),
            (
                "postgres://db/x?sslpassword=hunter2",
                "postgres://db/x?sslpassword=***",
            ),
            (
                "host=db password=hunter2 user=svc password=x",
                "host=db password=*** user=svc password=***",
            ),
            (
                r"host=db password='hunter2 it\'s \\ two' user=svc",
                "host=db password=*** user=svc",
            ),
            ("host=db password='unclosed hunter2", "host=db password=***"),
            // As tokio-postgres reads a key=value string: spaces around `=`, `\` escapes, no `&`.
            ("host=db password = hunter2", "host=db password = ***"),
            ("password= 'x hunter2' host=db", "password= *** host=db"),
            ("password=ab&hunter2 host=db", "password=*** host=db"),
            (r"password=ab\ hunter2 host=db", "password=*** host=db"),
            (
                "application_name=password host=db",
                "application_name=password host=db",
            ),
            // A URL's query: names percent-decoded, values to the next `&`.
            (
                "postgres://db/x?pass%77ord=hunter2&sslmode=require",
                "postgres://db/x?pass%77ord=***&sslmode=require",
            ),
            // User information without `//`, or without a scheme.
            ("app:hunter2@db/app", "app:***@db/app"),
            ("postgres:/app:hunter2@db", "postgres:***@db"),
            // A URL's password with a space; `://` inside a key=value string.
            ("postgres://app:two hunter2@db/x", "postgres://app:***@db/x"),
            ("postgres://app:a?b hunter2@db", "postgres://app:***@db"),
            (
                "host=db password=hunter2 application_name=a://b",
                "host=db password=*** application_name=a://b",
            ),
            // Pairs read one after another, as libpq reads them: a key's name inside another's
            // value is no key, and what cannot be read is hidden.
            (
                "application_name=password='x password='hunter2 two'",
                "application_name=password='x password=***",
            ),
            ("host=db hunter2", "host=db ***"),
            ("./credentials.db", "./credentials.db"),
            ("", ""),
        ] {
            assert_eq!(without_passwords(location), shown, "{location}");
        }
    }

    #[test]
    fn secrets_are_replaced_in_every_form() {
        let r = redactor(&["a b/c+d\"e"]);
        for echoed in [
            "a b/c+d\"e",
            "a+b%2Fc%2Bd%22e",
            "a%20b%2Fc%2Bd%22e",
            "a+b%2fc%2bd%22e",
            "a%20b%2fc%2bd%22e",
            "a b/c+d\\\"e",
            "a b\\/c+d\\\"e",
        ] {
            assert_eq!(r.redact(&format!("<{echoed}>")), "<[REDACTED]>", "{echoed}");
        }
        assert_eq!(r.redact("nothing here"), "nothing here");
    }

    #[test]
    fn overlapping_adjacent_and_repeated_occurrences() {
        let r = redactor(&["abcabc", "cab", "zz"]);
        assert_eq!(r.redact("xabcabcabcx"), "x[REDACTED]x");
        assert_eq!(r.redact("zzzz-zz"), "[REDACTED]-[REDACTED]");
        assert_eq!(r.redact("zzcabq"), "[REDACTED]q");
        assert_eq!(r.redact("é zz é"), "é [REDACTED] é");
    }

    #[test]
    fn empty_secrets_are_ignored() {
        let r = redactor(&[""]);
        assert!(r.is_empty());
        assert_eq!(r.redact("text"), "text");
        assert_eq!(
            format!("{:?}", redactor(&["x"])),
            "Redactor([REDACTED; 1 forms])"
        );
    }

    #[test]
    fn clean_truncates_and_strips_controls() {
        let r = Redactor::new();
        assert_eq!(r.clean("a\nb", 10), "ab");
        assert_eq!(r.clean("abcdef", 3), "abc…");
    }

    #[test]
    fn clean_strips_before_redacting_and_truncates_after() {
        let r = redactor(&["secret-value"]);
        assert_eq!(
            r.clean("x secret\u{7}-val\u{1b}[0mue y", 100),
            "x [REDACTED] y"
        );
        // The secret straddles the cut: nothing of it is left.
        assert_eq!(r.clean("0123 secret-value and more", 8), "0123 [RE…");
    }

    #[test]
    fn escape_sequences_are_removed_whole() {
        for (text, expected) in [
            ("\u{1b}[31mred\u{1b}[0m", "red"),
            ("a\u{1b}[1;2;3Hb", "ab"),
            ("a\u{1b}]0;evil title\u{7}b", "ab"),
            (
                "a\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\b",
                "alinkb",
            ),
            ("a\u{1b}P1$r\u{1b}\\b", "ab"),
            ("a\u{1b}(Bb\u{1b}7c", "abc"),
            ("a\u{9b}2Jb\u{9d}title\u{9c}c", "abc"),
            ("line\r\nnext\tcol\u{7f}\u{85}", "linenextcol"),
            ("unterminated\u{1b}]0;rest", "unterminated"),
            ("trailing\u{1b}", "trailing"),
            ("rtl\u{202e}txt.exe\u{2066}", "rtltxt.exe"),
            ("plain é ü 漢字 \u{200f}", "plain é ü 漢字 \u{200f}"),
        ] {
            assert_eq!(strip_controls(text), expected, "{text:?}");
        }
    }
}
