//! Streamed attachment downloads: the body goes to an [`AsyncWrite`] (or a file) chunk by chunk,
//! never whole in memory, optionally only a byte range of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::Instrument;
use url::Url;

use super::{AsanaClient, DownloadAccess, off_origin};
use crate::error::AsanaError;

/// A byte range of a file, both ends included, sent as `Range: bytes=first-last` (or
/// `bytes=first-` when open-ended).
///
/// ```
/// use provider_asana::client::ByteRange;
///
/// let head = ByteRange::new(0, 1023).unwrap();
/// assert_eq!(head.to_string(), "bytes=0-1023");
/// assert_eq!(ByteRange::starting_at(4096).to_string(), "bytes=4096-");
/// assert!(ByteRange::new(10, 9).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    first: u64,
    last: Option<u64>,
}

impl ByteRange {
    /// Bytes `first` to `last`, both included. Fails with [`AsanaError::InvalidArgument`] when
    /// `last` is before `first`.
    pub fn new(first: u64, last: u64) -> Result<Self, AsanaError> {
        if last < first {
            return Err(AsanaError::InvalidArgument {
                name: "range",
                reason: format!("ends at byte {last}, before its first byte {first}"),
            });
        }
        Ok(Self {
            first,
            last: Some(last),
        })
    }

    /// From byte `first` to the end of the file.
    pub fn starting_at(first: u64) -> Self {
        Self { first, last: None }
    }

    /// The first byte.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The last byte, included (`None`: the end of the file).
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// How many bytes the range spans, when it is bounded. `None` too for a range of more bytes
    /// than a `u64` counts (`0` to `u64::MAX`), which no file has: it runs to the end of the file.
    fn len(&self) -> Option<u64> {
        self.last
            .and_then(|last| last.saturating_sub(self.first).checked_add(1))
    }
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.last {
            Some(last) => write!(f, "bytes={}-{last}", self.first),
            None => write!(f, "bytes={}-", self.first),
        }
    }
}

/// How a streamed download runs: which bytes, and how many at most.
///
/// By default the whole file, with no size cap: a streamed download holds one chunk in memory at
/// a time, so [`AsanaClientSettings::max_download_bytes`](crate::AsanaClientSettings::max_download_bytes)
/// (which bounds the in-memory [`Attachments::download`](crate::client::Attachments::download))
/// does not apply. Set [`DownloadOptions::with_max_bytes`] to bound what is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Only these bytes of the file (default: all of it).
    pub range: Option<ByteRange>,
    /// Fail with [`AsanaError::DownloadTooLarge`] rather than write more than this many bytes
    /// (default: no cap).
    pub max_bytes: Option<u64>,
}

impl DownloadOptions {
    /// Downloads only `range`.
    pub fn with_range(mut self, range: ByteRange) -> Self {
        self.range = Some(range);
        self
    }

    /// Writes at most `max_bytes`; a larger download fails as soon as that is known.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }
}

/// What was answered to a range request, and so what to write of the body.
struct Plan {
    /// Bytes at the start of the body that are before the range (a server that ignored `Range`).
    skip: u64,
    /// The most bytes to write (a bounded range), after `skip`.
    take: Option<u64>,
}

impl AsanaClient {
    /// GETs a `download_url` that [`AsanaClient::download_access`] allowed and writes its body to
    /// `writer` as it arrives; returns the number of bytes written.
    ///
    /// Headers and each chunk must arrive within the attempt timeout, and the whole download
    /// within the call deadline. Sent once: a partial download is never resumed or retried.
    pub(crate) async fn stream_download<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        url: Url,
        access: DownloadAccess,
        options: &DownloadOptions,
        writer: &mut W,
    ) -> Result<u64, AsanaError> {
        let path = url.path().to_string();
        let span = tracing::debug_span!(
            "asana_download",
            host = url.host_str().unwrap_or_default(),
            range = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let deadline = self.inner.settings.deadline;
        let work = self
            .stream_download_in_span(url, access, options, writer)
            .instrument(span);
        match tokio::time::timeout(deadline, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AsanaError::DeadlineExceeded {
                method: "GET".into(),
                path,
                deadline,
                attempts: 1,
            }),
        }
    }

    async fn stream_download_in_span<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        url: Url,
        access: DownloadAccess,
        options: &DownloadOptions,
        writer: &mut W,
    ) -> Result<u64, AsanaError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let path = url.path().to_string();
        let timeout = self.inner.settings.timeout;
        let timed_out = || AsanaError::Timeout {
            method: "GET".into(),
            path: path.clone(),
            timeout,
            attempts: 1,
        };
        let network = |e: reqwest::Error| AsanaError::Network {
            method: "GET".into(),
            path: path.clone(),
            attempts: 1,
            source: e.without_url(),
        };
        let mut request = self.download_request(url, access).await?;
        if let Some(range) = options.range {
            tracing::Span::current().record("range", tracing::field::display(range));
            request = request.header(RANGE, range.to_string());
        }
        let mut response = within(timeout, request.send())
            .await
            .ok_or_else(timed_out)?
            .map_err(|e| off_origin::refusal(&e).unwrap_or_else(|| network(e)))?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        let plan = plan(&host, status, options.range, response.headers())?;
        let capped = |limit: u64| AsanaError::DownloadTooLarge {
            host: host.clone(),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        };
        if let (Some(max), Some(length)) = (options.max_bytes, response.content_length()) {
            let to_write = length.saturating_sub(plan.skip);
            if plan.take.map_or(to_write, |take| take.min(to_write)) > max {
                return Err(capped(max));
            }
        }
        let (mut skip, mut written) = (plan.skip, 0u64);
        while let Some(chunk) = within(timeout, response.chunk())
            .await
            .ok_or_else(timed_out)?
            .map_err(network)?
        {
            let mut piece = &chunk[..];
            let skipped = usize::try_from(skip).map_or(piece.len(), |skip| skip.min(piece.len()));
            piece = &piece[skipped..];
            skip -= skipped as u64;
            if let Some(take) = plan.take {
                let left = usize::try_from(take - written).unwrap_or(usize::MAX);
                piece = &piece[..piece.len().min(left)];
            }
            if let Some(max) = options.max_bytes
                && written + piece.len() as u64 > max
            {
                return Err(capped(max));
            }
            writer
                .write_all(piece)
                .await
                .map_err(|source| AsanaError::DownloadWrite {
                    host: host.clone(),
                    source,
                })?;
            written += piece.len() as u64;
            if plan.take == Some(written) {
                break;
            }
        }
        // A range that starts at or past the end of the file: what a 416 says.
        if plan.skip > 0 && written == 0 {
            return Err(AsanaError::DownloadRange {
                host,
                reason: "the file ends before the range starts".into(),
            });
        }
        writer
            .flush()
            .await
            .map_err(|source| AsanaError::DownloadWrite { host, source })?;
        Ok(written)
    }
}

/// `future`'s output, or `None` after `timeout`.
async fn within<F: Future>(timeout: Duration, future: F) -> Option<F::Output> {
    tokio::time::timeout(timeout, future).await.ok()
}

/// What to write of a response to a request for `range`. A 206 must answer the range asked for;
/// a 200 (a server that ignores `Range`) sends the whole file, and the bytes around the range are
/// dropped here, so the caller gets the same bytes either way.
fn plan(
    host: &str,
    status: StatusCode,
    range: Option<ByteRange>,
    headers: &reqwest::header::HeaderMap,
) -> Result<Plan, AsanaError> {
    let range_error = |reason: String| AsanaError::DownloadRange {
        host: host.to_string(),
        reason,
    };
    match (status, range) {
        (StatusCode::OK, None) => Ok(Plan {
            skip: 0,
            take: None,
        }),
        (StatusCode::OK, Some(range)) => Ok(Plan {
            skip: range.first,
            take: range.len(),
        }),
        (StatusCode::PARTIAL_CONTENT, Some(range)) => {
            let answered = headers
                .get(CONTENT_RANGE)
                .and_then(|value| value.to_str().ok())
                .and_then(content_range_start);
            match answered {
                Some(first) if first == range.first => Ok(Plan {
                    skip: 0,
                    take: range.len(),
                }),
                Some(first) => Err(range_error(format!(
                    "asked for {range}, the server answered bytes from {first}"
                ))),
                None => Err(range_error(format!(
                    "asked for {range}, the server answered 206 without a usable Content-Range"
                ))),
            }
        }
        (StatusCode::PARTIAL_CONTENT, None) => Err(range_error(
            "the server answered 206 (part of the file) to a request for all of it".into(),
        )),
        (StatusCode::RANGE_NOT_SATISFIABLE, Some(range)) => {
            Err(range_error(format!("{range} is past the end of the file")))
        }
        (status, _) => Err(AsanaError::Download {
            host: host.to_string(),
            status: status.as_u16(),
        }),
    }
}

/// The first byte of a `Content-Range: bytes first-last/total` header.
fn content_range_start(value: &str) -> Option<u64> {
    let spec = value.trim().strip_prefix("bytes ")?;
    let (first, _) = spec.split_once('-')?;
    first.trim().parse().ok()
}

/// A temporary file next to `destination` (same directory, so renaming it over the destination
/// does not cross file systems), removed on drop unless kept.
pub(crate) struct PartFile {
    path: PathBuf,
    kept: bool,
}

impl PartFile {
    /// Creates a new, empty file `.<name>.<random>.part` beside `destination`.
    pub(crate) async fn create(destination: &Path) -> Result<(Self, tokio::fs::File), AsanaError> {
        let invalid = |reason: &str| AsanaError::InvalidArgument {
            name: "path",
            reason: reason.into(),
        };
        let name = destination
            .file_name()
            .ok_or_else(|| invalid("must name a file"))?
            .to_string_lossy()
            .into_owned();
        let directory = destination
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let path = directory.join(format!(".{name}.{:016x}.part", rand::random::<u64>()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|source| AsanaError::DownloadFile {
                path: path.clone(),
                source,
            })?;
        Ok((Self { path, kept: false }, file))
    }

    /// Syncs `file` to disk and renames it to `destination` (replacing any file there).
    pub(crate) async fn persist(
        mut self,
        file: tokio::fs::File,
        destination: &Path,
    ) -> Result<(), AsanaError> {
        let failed = |source| AsanaError::DownloadFile {
            path: destination.to_path_buf(),
            source,
        };
        file.sync_all().await.map_err(failed)?;
        drop(file);
        tokio::fs::rename(&self.path, destination)
            .await
            .map_err(failed)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.kept {
            // Best effort: the file was ours and is incomplete; nothing else can be done if the
            // directory no longer lets us remove it.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_gives_the_first_byte() {
        assert_eq!(content_range_start("bytes 10-19/100"), Some(10));
        assert_eq!(content_range_start("bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("bytes */100"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }
}
