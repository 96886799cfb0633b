//! Lists: one [`Page`] at a time with [`List::page`], or every item lazily with [`List::stream`].

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::AsanaClient;
use super::transport::{ApiRequest, RequestBody, decode};
use crate::error::AsanaError;
use crate::models::{Page, Task, TaskCompact};

/// The largest page Asana serves.
pub const MAX_PAGE_SIZE: u32 = 100;

type PageFuture<T> = Pin<Box<dyn Future<Output = Result<Page<T>, AsanaError>> + Send>>;

/// A list endpoint with its parameters, ready to fetch one page or stream every item.
///
/// Built by the resource methods (e.g. `client.tasks().list_for_project(gid)`) or by
/// [`AsanaClient::list`]. Nothing is sent until [`List::page`] or the stream is polled.
#[must_use = "a List does nothing until `.page()` is awaited or `.stream()` is polled"]
pub struct List<T> {
    client: AsanaClient,
    target: Result<Url, AsanaError>,
    query: Vec<(String, String)>,
    page_size: Option<u32>,
    offset: Option<String>,
    _item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List")
            .field("path", &self.target.as_ref().map(Url::path).ok())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> List<T> {
    /// A list at `target` (its query string becomes parameters; `limit` and `offset` in it set the
    /// page size and the starting offset). `page_size` `None` sends no `limit` by default.
    pub(crate) fn new(
        client: AsanaClient,
        target: Result<Url, AsanaError>,
        page_size: Option<u32>,
    ) -> Self {
        let mut list = Self {
            client,
            target,
            query: Vec::new(),
            page_size,
            offset: None,
            _item: PhantomData,
        };
        if let Ok(url) = &mut list.target {
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            url.set_query(None);
            for (key, value) in pairs {
                list = list.param(key, value);
            }
        }
        list
    }

    /// Asks for these fields (sent as `opt_fields=a,b.c`). Replaces earlier `opt_fields`.
    pub fn opt_fields(self, fields: &[&str]) -> Self {
        if fields.is_empty() {
            return self;
        }
        self.param("opt_fields", fields.join(","))
    }

    /// Adds a query parameter (`limit` and `offset` set the page size and starting offset; any
    /// other key replaces an earlier value of the same key).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match key.as_str() {
            "limit" => match value.parse::<u32>() {
                Ok(limit) => return self.limit(limit),
                Err(_) => {
                    self.target = Err(AsanaError::InvalidArgument {
                        name: "limit",
                        reason: "must be a number from 1 to 100".into(),
                    });
                }
            },
            "offset" => self.offset = Some(value),
            _ => {
                self.query.retain(|(k, _)| *k != key);
                self.query.push((key, value));
            }
        }
        self
    }

    /// Sets the page size (clamped to 1..=100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.page_size = Some(limit.clamp(1, MAX_PAGE_SIZE));
        self
    }

    /// Starts at this offset (from an earlier page's `next_page.offset`).
    pub fn offset(mut self, offset: impl Into<String>) -> Self {
        self.offset = Some(offset.into());
        self
    }

    /// Fetches one page: its items and `next_page` (pass `next_page.offset` to [`List::offset`]).
    pub async fn page(self) -> Result<Page<T>, AsanaError> {
        let url = self.target?;
        fetch_page(self.client, url, self.query, self.page_size, self.offset).await
    }

    /// Streams every item, fetching the next page (by `next_page.offset`) only when the current
    /// one is used up. Only the current page is held in memory.
    pub fn stream(self) -> PageStream<T> {
        let (target, error) = match self.target {
            Ok(url) => (Some(url), None),
            Err(e) => (None, Some(e)),
        };
        PageStream {
            client: self.client,
            target,
            error,
            query: self.query,
            page_size: self.page_size,
            next_offset: self.offset,
            sent_offset: None,
            started: false,
            remaining: None,
            buffer: Vec::new().into_iter(),
            pending: None,
            done: false,
        }
    }
}

impl List<Task> {
    /// The same list as [`TaskCompact`]s: asks for exactly [`TaskCompact::OPT_FIELDS`] (replacing
    /// earlier `opt_fields`; other parameters, the page size and the offset stay). For big listings:
    /// less to transfer and decode, and each item a third of a [`Task`]'s size.
    ///
    /// ```no_run
    /// # async fn run(client: provider_asana::AsanaClient) -> Result<(), provider_asana::AsanaError> {
    /// use futures::TryStreamExt;
    ///
    /// let mut open = client
    ///     .tasks()
    ///     .list_for_project("1200")
    ///     .param("completed_since", "now")
    ///     .compact()
    ///     .stream();
    /// while let Some(task) = open.try_next().await? {
    ///     let assignee = task.assignee.as_deref().and_then(|a| a.name.as_deref());
    ///     println!("{} {:?} due {:?} for {assignee:?}", task.gid, task.name, task.due_on);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn compact(self) -> List<TaskCompact> {
        List {
            client: self.client,
            target: self.target,
            query: self.query,
            page_size: self.page_size,
            offset: self.offset,
            _item: PhantomData,
        }
        .opt_fields(TaskCompact::OPT_FIELDS)
    }
}

async fn fetch_page<T: DeserializeOwned>(
    client: AsanaClient,
    mut url: Url,
    query: Vec<(String, String)>,
    page_size: Option<u32>,
    offset: Option<String>,
) -> Result<Page<T>, AsanaError> {
    {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in &query {
            pairs.append_pair(key, value);
        }
        if let Some(limit) = page_size {
            pairs.append_pair("limit", &limit.to_string());
        }
        if let Some(offset) = &offset {
            pairs.append_pair("offset", offset);
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    let req = ApiRequest::new(Method::GET, url, RequestBody::Empty);
    let response = client.execute(&req).await?;
    decode(&req, &response)
}

/// Every item of a list, fetched page by page as it is consumed.
///
/// Yields `Err` once (and then ends) if a page cannot be fetched, or after the items of a page
/// whose `next_page.offset` is the offset it was fetched with ([`AsanaError::PagingLoop`]).
///
/// ```no_run
/// # async fn run(client: provider_asana::AsanaClient) -> Result<(), provider_asana::AsanaError> {
/// use futures::TryStreamExt;
///
/// let first_250: Vec<_> = client
///     .tasks()
///     .list_for_project("1200")
///     .opt_fields(&["name", "completed"])
///     .stream()
///     .take_items(250)
///     .try_collect()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct PageStream<T> {
    client: AsanaClient,
    target: Option<Url>,
    error: Option<AsanaError>,
    query: Vec<(String, String)>,
    page_size: Option<u32>,
    next_offset: Option<String>,
    /// The offset the page in flight (or the last one) was fetched with.
    sent_offset: Option<String>,
    started: bool,
    remaining: Option<usize>,
    buffer: std::vec::IntoIter<T>,
    pending: Option<PageFuture<T>>,
    done: bool,
}

// No field is structurally pinned: the in-flight page future is boxed.
impl<T> Unpin for PageStream<T> {}

impl<T> fmt::Debug for PageStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageStream")
            .field("path", &self.target.as_ref().map(Url::path))
            .field("remaining", &self.remaining)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T> PageStream<T> {
    /// Yields at most `n` more items. Before the first page is fetched, a cap below the page
    /// size also shrinks the page (`limit`), so no more items are transferred than needed.
    pub fn take_items(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        if !self.started
            && let Some(size) = self.page_size
        {
            let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
            self.page_size = Some(size.min(n));
        }
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for PageStream<T> {
    type Item = Result<T, AsanaError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done || this.remaining == Some(0) {
                this.done = true;
                this.pending = None;
                return Poll::Ready(None);
            }
            if let Some(item) = this.buffer.next() {
                if let Some(remaining) = &mut this.remaining {
                    *remaining -= 1;
                }
                return Poll::Ready(Some(Ok(item)));
            }
            // Free the spent page before the next one arrives: one page in memory, not two.
            this.buffer = Vec::new().into_iter();
            if let Some(pending) = &mut this.pending {
                let result = match pending.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result,
                };
                this.pending = None;
                match result {
                    Ok(page) => {
                        let next = page.next_page.map(|next| next.offset);
                        if next.is_some() && next == this.sent_offset {
                            // The page's items are new; the error follows them.
                            this.error = Some(AsanaError::PagingLoop {
                                path: this
                                    .target
                                    .as_ref()
                                    .map(|url| url.path().to_string())
                                    .unwrap_or_default(),
                            });
                        } else {
                            this.next_offset = next;
                        }
                        this.buffer = page.data.into_iter();
                        continue;
                    }
                    Err(e) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            if let Some(e) = this.error.take() {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            let (Some(url), true) = (&this.target, !this.started || this.next_offset.is_some())
            else {
                this.done = true;
                return Poll::Ready(None);
            };
            this.started = true;
            this.sent_offset = this.next_offset.take();
            this.pending = Some(Box::pin(fetch_page(
                this.client.clone(),
                url.clone(),
                this.query.clone(),
                this.page_size,
                this.sent_offset.clone(),
            )));
        }
    }
}
