//! A bare HTTP/1.1 server on 127.0.0.1 for what wiremock cannot serve: bodies that trickle in,
//! come without a `Content-Length`, or announce more than they send.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers to one request.
pub struct Reply {
    /// The status line and headers, without the blank line that ends them.
    pub head: String,
    /// The body, in pieces written one after another.
    pub body: Box<dyn Iterator<Item = Vec<u8>> + Send>,
    /// The pause before each piece.
    pub pace: Duration,
}

impl Reply {
    /// `body` at once, with its `Content-Length`.
    pub fn full(status: &str, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            head: format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close",
                body.len()
            ),
            body: Box::new(std::iter::once(body)),
            pace: Duration::ZERO,
        }
    }

    /// A 200 whose body has no `Content-Length` and ends when the connection closes: `pieces`
    /// pieces of `piece` bytes (JSON whitespace).
    pub fn without_length(pieces: usize, piece: usize) -> Self {
        Self {
            head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close".into(),
            body: Box::new(std::iter::repeat_n(vec![b' '; piece], pieces)),
            pace: Duration::ZERO,
        }
    }

    /// A 200 announcing `length` bytes, then sending one byte every `pace`, for as long as the
    /// client listens.
    pub fn dribble(length: u64, pace: Duration) -> Self {
        Self {
            head: format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close"
            ),
            body: Box::new(std::iter::repeat(vec![b' '])),
            pace,
        }
    }
}

/// The server: its base URI, and what it received.
pub struct RawServer {
    /// `http://127.0.0.1:<port>`.
    pub uri: String,
    heads: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl RawServer {
    /// Starts serving; `respond` gets each request's head (request line and headers).
    pub async fn start(respond: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let respond = Arc::new(respond);
        let (recorded, counted) = (heads.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let (respond, recorded) = (respond.clone(), recorded.clone());
                tokio::spawn(async move {
                    let mut stream = stream;
                    let Some(head) = read_head(&mut stream).await else {
                        return;
                    };
                    recorded.lock().unwrap().push(head.clone());
                    serve(stream, respond(&head)).await;
                });
            }
        });
        Self {
            uri,
            heads,
            connections,
        }
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The heads of the requests received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

async fn serve(mut stream: TcpStream, reply: Reply) {
    if stream
        .write_all(format!("{}\r\n\r\n", reply.head).as_bytes())
        .await
        .is_err()
    {
        return;
    }
    for piece in reply.body {
        if !reply.pace.is_zero() {
            tokio::time::sleep(reply.pace).await;
        }
        if stream.write_all(&piece).await.is_err() {
            return;
        }
    }
    let _ = stream.shutdown().await;
    // Drain what the client still sends, so that closing does not reset the connection.
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}
