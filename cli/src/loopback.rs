//! The loopback redirect listener of `login`: an HTTP server on the redirect URI's host and port
//! that waits for the provider to send the browser back with `code` and `state` (or `error`).
//!
//! Requests to other paths get 404. A request to the redirect path whose `state` is not the one
//! of the login in progress gets 400 and is reported as [`Event::Ignored`]: a stray tab or another
//! page cannot end the login. A matching request becomes [`Event::Code`] or [`Event::Denied`], and
//! its browser tab waits for the [`Page`] the login answers with (success, or what went wrong).
//!
//! Other local users can connect too, so idle sockets must not stall the redirect: a connection
//! has [`HEAD_TIMEOUT`] to send its request head, at most [`MAX_PENDING`] connections may be
//! sending theirs at once (a new one closes the oldest), and every response closes its
//! connection.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{Html, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Sleep;
use url::{Host, Url};

use crate::error::{CliError, ExitKind};

/// How long [`Server::shutdown`] lets the last response finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How long a connection may take to send its request head (a browser sends it at once).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections may be sending their request head at once.
const MAX_PENDING: usize = 32;

/// How long to wait before accepting again after `accept` failed.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// A bound, not yet serving, listener.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    path: String,
}

/// What arrived at the redirect URI.
#[derive(Debug)]
pub enum Event {
    /// The provider granted access: exchange `code`, then answer the tab with a page.
    Code {
        /// The authorization code.
        code: String,
        /// Where to send the page for the browser tab.
        reply: oneshot::Sender<Page>,
    },
    /// The provider (or the user) refused.
    Denied {
        /// The OAuth `error`, e.g. `access_denied`.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
        /// Where to send the page for the browser tab.
        reply: oneshot::Sender<Page>,
    },
    /// A request that was not this login's redirect (it was answered with 400).
    Ignored {
        /// Why.
        reason: &'static str,
    },
}

/// The page a browser tab gets.
#[derive(Debug, Clone)]
pub struct Page {
    status: StatusCode,
    title: String,
    text: String,
}

impl Page {
    /// 200 with a title and a sentence.
    pub fn success(title: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            title: title.into(),
            text: text.into(),
        }
    }

    /// An error page with `status`.
    pub fn failure(status: StatusCode, title: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            status,
            title: title.into(),
            text: text.into(),
        }
    }

    fn render(&self) -> (StatusCode, Html<String>) {
        let title = escape_html(&self.title);
        let text = escape_html(&self.text);
        (
            self.status,
            Html(format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
                 <body style=\"font-family: sans-serif; margin: 3em\"><h1>{title}</h1><p>{text}</p></body></html>\n"
            )),
        )
    }
}

impl Listener {
    /// Binds the host and port of `redirect` (`localhost` binds 127.0.0.1), the redirect URI of
    /// `provider`'s login; an error names `provider`'s redirect URI key.
    pub async fn bind(provider: &str, redirect: &Url) -> Result<Self, CliError> {
        let ip = match redirect.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let port = redirect.port_or_known_default().unwrap_or(80);
        let addr = SocketAddr::new(ip, port);
        let tcp = TcpListener::bind(addr).await.map_err(|e| {
            CliError::new(
                ExitKind::Other,
                format!(
                    "cannot listen on {addr} for the redirect to {redirect}: {e}; stop whatever uses that port, or set {}_REDIRECT_URI to another loopback URI registered with your app",
                    provider.to_ascii_uppercase()
                ),
            )
        })?;
        Ok(Self {
            tcp,
            path: redirect.path().to_string(),
        })
    }

    /// Starts answering requests; only redirects carrying `state` become events.
    pub fn serve(self, state: String) -> Server {
        let (events, receiver) = mpsc::channel(8);
        let context = Arc::new(Context {
            path: self.path,
            state,
            events,
        });
        let router = Router::new()
            .fallback(callback)
            .with_state(context)
            .layer(axum::middleware::map_response(close_connection));
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = GuardedListener {
            tcp: self.tcp,
            pending: VecDeque::new(),
        };
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serving.await {
                tracing::warn!(error = %e, "the redirect listener failed");
            }
        });
        Server {
            events: Some(receiver),
            stop: Some(stop),
            task,
        }
    }
}

/// A serving listener.
#[derive(Debug)]
pub struct Server {
    events: Option<mpsc::Receiver<Event>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    /// The next event; `None` if the server stopped.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.as_mut()?.recv().await
    }

    /// Refuses further redirects, lets the last response finish (up to 2 s), and stops.
    pub async fn shutdown(mut self) {
        self.events = None;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

struct Context {
    path: String,
    state: String,
    events: mpsc::Sender<Event>,
}

/// Every response closes its connection: a kept-alive idle connection would hold a descriptor.
async fn close_connection(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The listening socket, with a cap on the connections still sending their request head: at
/// [`MAX_PENDING`], accepting a new one closes the oldest, so idle sockets can neither use up the
/// process's descriptors nor keep the redirect from being accepted.
struct GuardedListener {
    tcp: TcpListener,
    /// One sender per connection still sending its head; sending (or dropping) closes it.
    pending: VecDeque<oneshot::Sender<()>>,
}

impl axum::serve::Listener for GuardedListener {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        let (stream, addr) = loop {
            match self.tcp.accept().await {
                Ok(accepted) => break accepted,
                Err(e) => {
                    tracing::debug!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        };
        self.pending.retain(|evict| !evict.is_closed());
        while self.pending.len() >= MAX_PENDING {
            if let Some(oldest) = self.pending.pop_front() {
                let _ = oldest.send(());
            }
        }
        let (evict, evicted) = oneshot::channel();
        self.pending.push_back(evict);
        let head = Head {
            evicted,
            deadline: Box::pin(tokio::time::sleep(HEAD_TIMEOUT)),
            last: [0; 4],
        };
        (
            Guarded {
                stream,
                head: Some(head),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A connection that is closed if its request head takes longer than [`HEAD_TIMEOUT`] or a newer
/// connection needs its place.
struct Guarded {
    stream: TcpStream,
    /// Until the request head (up to its blank line) has been read.
    head: Option<Head>,
}

struct Head {
    evicted: oneshot::Receiver<()>,
    deadline: Pin<Box<Sleep>>,
    /// The last four bytes read, to find the blank line that ends the head.
    last: [u8; 4],
}

impl Head {
    /// Reads `bytes`; whether the head ended in them.
    fn ends_in(&mut self, bytes: &[u8]) -> bool {
        bytes.iter().any(|&byte| {
            self.last = [self.last[1], self.last[2], self.last[3], byte];
            self.last == *b"\r\n\r\n" || self.last[2..] == *b"\n\n"
        })
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(head) = &mut this.head {
            if Pin::new(&mut head.evicted).poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::other(
                    "closed to make room for newer connections",
                )));
            }
            if head.deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request head in time",
                )));
            }
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if let Some(head) = &mut this.head
            && head.ends_in(&buf.filled()[before..])
        {
            this.head = None;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

async fn callback(State(context): State<Arc<Context>>, uri: Uri) -> (StatusCode, Html<String>) {
    if uri.path() != context.path {
        return Page::failure(
            StatusCode::NOT_FOUND,
            "Not found",
            "This address only receives the login redirect.",
        )
        .render();
    }
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let ignore = |reason: &'static str, text: &str| {
        let page = Page::failure(StatusCode::BAD_REQUEST, "Not the login in progress", text);
        (Event::Ignored { reason }, page)
    };
    let (reply, answer) = oneshot::channel();
    let event = match (params.get("state"), params.get("code"), params.get("error")) {
        (Some(state), _, _) if *state != context.state => Err(ignore(
            "its state does not match this login",
            "This redirect does not belong to the login waiting in the terminal (its state does not match). Start the login again if you need to.",
        )),
        (None, _, _) => Err(ignore(
            "it has no state",
            "This redirect carries no state, so it cannot be checked. Start the login again from the terminal.",
        )),
        (Some(_), _, Some(error)) => Ok(Event::Denied {
            error: error.clone(),
            description: params.get("error_description").cloned(),
            reply,
        }),
        (Some(_), Some(code), None) => Ok(Event::Code {
            code: code.clone(),
            reply,
        }),
        (Some(_), None, None) => Err(ignore(
            "it has neither a code nor an error",
            "This redirect carries neither a code nor an error. Start the login again from the terminal.",
        )),
    };
    let event = match event {
        Ok(event) => event,
        Err((event, page)) => {
            let _ = context.events.send(event).await;
            return page.render();
        }
    };
    if context.events.send(event).await.is_err() {
        return Page::failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "No login is waiting",
            "The login in the terminal has already finished. Start it again if you need to.",
        )
        .render();
    }
    match answer.await {
        Ok(page) => page.render(),
        Err(_) => Page::failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Login failed",
            "The login stopped before it finished; see the terminal.",
        )
        .render(),
    }
}

/// Escapes text for an HTML element.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        let (status, Html(body)) = Page::failure(
            StatusCode::BAD_REQUEST,
            "Denied",
            "<script>alert('x')</script> & more",
        )
        .render();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"),
            "{body}"
        );
        assert!(!body.contains("<script>"));
    }
}
