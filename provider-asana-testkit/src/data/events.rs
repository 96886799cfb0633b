//! The event log behind `GET /events`: every change to a task, in order, with the resources it
//! concerns, and the sync tokens that mark a place in it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{Data, Gid, now_timestamp};

/// What happened to a task, as an event's `action` says.
#[derive(Clone, Copy)]
pub(crate) enum Action {
    /// Created, or added to a project.
    Added,
    /// One of its fields or relations changed.
    Changed,
    /// Taken out of a project.
    Removed,
    /// Deleted.
    Deleted,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Added => "added",
            Action::Changed => "changed",
            Action::Removed => "removed",
            Action::Deleted => "deleted",
        }
    }
}

/// One logged change: its JSON as `GET /events` answers it, rendered when it happened, and the
/// gids of the resources whose events include it.
struct Event {
    json: Value,
    concerns: Vec<Gid>,
}

/// Every change so far, oldest first, and the epoch of the sync tokens still valid.
#[derive(Default)]
pub(crate) struct EventLog {
    events: Vec<Event>,
    epoch: u64,
}

/// A page of events: their JSON, the log position after them and whether more are waiting.
pub(crate) struct EventPage {
    pub events: Vec<Value>,
    pub next: usize,
    pub has_more: bool,
}

impl EventLog {
    /// Makes every sync token issued so far too old.
    pub fn expire(&mut self) {
        self.epoch += 1;
    }

    /// The position after the last event logged.
    pub fn end(&self) -> usize {
        self.events.len()
    }

    /// The sync token for `resource` at `position`: `sync:{epoch}:{position}:{resource}`, in
    /// URL-safe base64 (opaque to clients).
    pub fn token(&self, resource: Gid, position: usize) -> String {
        URL_SAFE_NO_PAD.encode(format!("sync:{}:{position}:{resource}", self.epoch))
    }

    /// The position a sync token marks, if this log issued it for `resource` in the current
    /// epoch.
    pub fn position(&self, token: &str, resource: Gid) -> Option<usize> {
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let mut parts = decoded.strip_prefix("sync:")?.split(':');
        let epoch = parts.next()?.parse::<u64>().ok()?;
        let position = parts.next()?.parse::<usize>().ok()?;
        let issued_for = parts.next()?.parse::<Gid>().ok()?;
        let valid = parts.next().is_none()
            && epoch == self.epoch
            && issued_for == resource
            && position <= self.events.len();
        valid.then_some(position)
    }

    /// The events from `position` on that concern `resource`, oldest first, at most `max`.
    /// `next` is the position after the last one returned, or the end of the log when none
    /// remain.
    pub fn since(&self, position: usize, resource: Gid, max: usize) -> EventPage {
        let mut found = self
            .events
            .iter()
            .enumerate()
            .skip(position)
            .filter(|(_, event)| event.concerns.contains(&resource));
        let page: Vec<(usize, &Event)> = found.by_ref().take(max).collect();
        let has_more = found.next().is_some();
        let next = match page.last() {
            Some((at, _)) if has_more => at + 1,
            _ => self.events.len(),
        };
        EventPage {
            events: page
                .into_iter()
                .map(|(_, event)| event.json.clone())
                .collect(),
            next,
            has_more,
        }
    }
}

impl Data {
    /// Logs `action` on `task` by `user`. `parent` is what the task was added to or removed from
    /// (a project or a task); the event concerns the task, that parent and the task's projects.
    pub fn log_task(&mut self, user: Gid, action: Action, task: Gid, parent: Option<Gid>) {
        let parent_ref = match parent {
            Some(gid) if self.projects.contains_key(&gid) => self.project_ref(gid),
            Some(gid) => self.task_ref(gid),
            None => Value::Null,
        };
        let mut concerns = vec![task];
        concerns.extend(parent);
        if let Some(memberships) = self.tasks.get(&task).map(|t| &t.memberships) {
            concerns.extend(memberships.iter().map(|(project, _)| *project));
        }
        let json = json!({
            "user": self.user_ref(user),
            "created_at": now_timestamp(),
            "type": "task",
            "action": action.as_str(),
            "resource": self.task_ref(task),
            "parent": parent_ref,
        });
        self.events.events.push(Event { json, concerns });
    }

    /// Logs the creation of `task` by `user`: `added` to its parent task, or else to its first
    /// project (no parent when it has neither).
    pub fn log_task_created(&mut self, user: Gid, task: Gid) {
        let parent = self.tasks.get(&task).and_then(|t| {
            t.parent
                .or_else(|| t.memberships.first().map(|(project, _)| *project))
        });
        self.log_task(user, Action::Added, task, parent);
    }
}
