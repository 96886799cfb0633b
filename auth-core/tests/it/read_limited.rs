//! `http::read_limited` against a server that sends its body in chunks, with pauses between
//! them, so that the client receives each one on its own.

use std::time::Duration;

use auth_core::http::read_limited;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers one request with `chunks` in chunked transfer encoding (no `Content-Length`), 20 ms
/// apart; returns the URL to GET.
async fn chunked_server(chunks: &'static [&'static str]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let _ = socket.read(&mut request).await.unwrap();
        socket
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        for chunk in chunks {
            let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
            if socket.write_all(framed.as_bytes()).await.is_err() {
                return;
            }
            socket.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    url
}

async fn read(chunks: &'static [&'static str], limit: usize) -> Option<Vec<u8>> {
    let response = reqwest::get(chunked_server(chunks).await).await.unwrap();
    read_limited(response, limit)
        .await
        .unwrap()
        .map(|body| body.to_vec())
}

#[tokio::test]
async fn a_body_in_several_chunks_is_read_whole_and_in_order() {
    assert_eq!(
        read(&["{\"data\":", "[1,2,", "3]}"], 1024).await.as_deref(),
        Some(&b"{\"data\":[1,2,3]}"[..])
    );
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read() {
    assert_eq!(
        read(&["0123", "4567", "89"], 10).await.as_deref(),
        Some(&b"0123456789"[..])
    );
}

#[tokio::test]
async fn a_body_that_passes_the_limit_in_a_later_chunk_is_refused() {
    assert_eq!(read(&["0123", "4567", "89"], 9).await, None);
}

#[tokio::test]
async fn a_first_chunk_longer_than_the_limit_is_refused() {
    assert_eq!(read(&["0123456789", "0"], 9).await, None);
}

#[tokio::test]
async fn an_empty_body_is_read_as_empty() {
    assert_eq!(read(&[], 10).await.as_deref(), Some(&b""[..]));
}
