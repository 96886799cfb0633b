//! For provider implementers: reading a response from a server we do not control.

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderValue;

use crate::secret::SecretString;

/// The `Authorization` header value that sends `token`: `Bearer <token>`, or the token alone when
/// `bare`, marked sensitive (HTTP/2 never indexes it, `Debug` hides it). `None` when the token
/// cannot be a header value (a line break, a non-ASCII character): built before a request, this
/// fails where the token is at fault, not later as a transport error.
///
/// ```
/// use auth_core::SecretString;
/// use auth_core::http::authorization;
///
/// let header = authorization(&SecretString::from("t-1"), false).unwrap();
/// assert_eq!((header.to_str().unwrap(), header.is_sensitive()), ("Bearer t-1", true));
/// assert_eq!(authorization(&SecretString::from("k-1"), true).unwrap(), "k-1");
/// assert!(authorization(&SecretString::from("t\n1"), false).is_none());
/// ```
pub fn authorization(token: &SecretString, bare: bool) -> Option<HeaderValue> {
    let value = if bare {
        HeaderValue::from_str(token.expose_secret())
    } else {
        HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
    };
    let mut value = value.ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// How much a body may reserve up front: a server may announce more than it sends.
const MAX_RESERVED: u64 = 1024 * 1024;

/// Reads `response`'s body, or `None` as soon as it is known to be longer than `limit` bytes
/// (from its `Content-Length`, or once more arrived): the rest is never read nor buffered. A body
/// that arrives in one chunk is returned without being copied.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use wiremock::matchers::any;
/// use wiremock::{Mock, MockServer, ResponseTemplate};
///
/// let server = MockServer::start().await;
/// Mock::given(any())
///     .respond_with(ResponseTemplate::new(200).set_body_string("0123456789"))
///     .mount(&server)
///     .await;
/// let get = || async { reqwest::get(server.uri()).await.unwrap() };
/// let read = auth_core::http::read_limited;
/// assert_eq!(read(get().await, 10).await.unwrap().as_deref(), Some(&b"0123456789"[..]));
/// assert_eq!(read(get().await, 9).await.unwrap(), None);
/// # });
/// ```
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Bytes>, reqwest::Error> {
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Ok(None);
    }
    // A body that arrives in one chunk, as most API answers do, is returned as it is: copying it
    // would write every byte again into memory the cache has not seen.
    let Some(first) = response.chunk().await? else {
        return Ok(Some(Bytes::new()));
    };
    if first.len() > limit {
        return Ok(None);
    }
    let Some(mut next) = response.chunk().await? else {
        return Ok(Some(first));
    };
    let mut body = BytesMut::with_capacity(announced.min(MAX_RESERVED) as usize);
    body.extend_from_slice(&first);
    loop {
        if next.len() > limit - body.len() {
            return Ok(None);
        }
        body.extend_from_slice(&next);
        match response.chunk().await? {
            Some(chunk) => next = chunk,
            None => return Ok(Some(body.freeze())),
        }
    }
}

/// The HTTP client in `cell`, built by `build` on first use, so that a program that sends no
/// request (a CLI printing a stored token, say) never pays for building it: TLS configuration,
/// root certificates, connection pool. Callers that race on the first use may each build one;
/// the first stored wins and every caller gets that one, so the client is shared from then on.
///
/// ```
/// use std::sync::OnceLock;
///
/// let cell = OnceLock::new();
/// let build = || reqwest::Client::builder().build();
/// let first = auth_core::http::client_once(&cell, build).unwrap() as *const reqwest::Client;
/// let again = auth_core::http::client_once(&cell, || -> Result<_, reqwest::Error> {
///     unreachable!("built once")
/// });
/// let again = again.unwrap();
/// assert!(std::ptr::eq(first, again));
/// ```
pub fn client_once<E>(
    cell: &OnceLock<reqwest::Client>,
    build: impl FnOnce() -> Result<reqwest::Client, E>,
) -> Result<&reqwest::Client, E> {
    if let Some(client) = cell.get() {
        return Ok(client);
    }
    let built = build()?;
    Ok(cell.get_or_init(|| built))
}
