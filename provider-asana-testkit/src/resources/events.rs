//! `GET /events`: the changes to a task or project since a sync token.

use serde_json::json;

use super::existing;
use crate::data::{Data, Gid};
use crate::request::{ApiError, Ctx};
use crate::state::Reply;

/// The most events one answer holds; `has_more` says when more are waiting.
const EVENTS_PER_PAGE: usize = 100;
/// The message of a 412: no sync token, or one too old (or not issued for this resource).
const SYNC_INVALID: &str = "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync.";

/// `GET /events?resource=&sync=`: `resource` (a task or project) is required. Without a valid
/// `sync`, 412 with a fresh token (at the end of the log) in `sync`; with one, the events since it
/// that concern the resource, oldest first, at most [`EVENTS_PER_PAGE`], the token after the last
/// of them and `has_more`.
pub(super) fn get_events(data: &Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let raw = ctx
        .param("resource")
        .ok_or_else(|| ApiError::bad_request("resource: Missing input"))?;
    let resource = match raw.parse::<Gid>() {
        Ok(gid) if data.projects.contains_key(&gid) => gid,
        _ => existing(&data.tasks, "resource", raw)?,
    };
    let log = &data.events;
    let Some(position) = ctx
        .param("sync")
        .and_then(|token| log.position(token, resource))
    else {
        return Ok(Reply::json(
            412,
            json!({
                "errors": [{ "message": SYNC_INVALID }],
                "sync": log.token(resource, log.end()),
            }),
        ));
    };
    let page = log.since(position, resource, EVENTS_PER_PAGE);
    Ok(Reply::json(
        200,
        json!({
            "data": page.events,
            "sync": log.token(resource, page.next),
            "has_more": page.has_more,
        }),
    ))
}
