//! A task's relations (parent, followers, dependencies and dependents, projects, tags) and edits
//! of its comments.

use serde_json::{Map, Value};

use super::{
    COMPACT, boolean, deleted, existing, gid_field, gid_list, place_in_section, referenced,
    section_for, string,
};
use crate::data::{Action, Data, Gid, now_timestamp};
use crate::request::{ApiError, Ctx};
use crate::state::Reply;

/// Which list of a task `addDependencies`, `addDependents` and their removals change.
#[derive(Clone, Copy)]
pub(super) enum Link {
    /// The tasks this task waits for (`dependencies`).
    Dependencies,
    /// The tasks waiting for this task (`dependents`).
    Dependents,
}

/// `POST /tasks/{gid}/setParent` with `parent` (a task gid, or null for a top-level task): answers
/// the task. `insert_before`/`insert_after` must name subtasks of the new parent; the order they
/// ask for is not kept.
pub(super) fn set_parent(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    if !body.contains_key("parent") {
        return Err(ApiError::bad_request("parent: Missing input"));
    }
    let parent = match gid_field(&body, "parent")? {
        Some(parent) => Some(referenced(&data.tasks, "parent", &parent)?),
        None => None,
    };
    if parent == Some(task) || parent.is_some_and(|parent| ancestors(data, parent).contains(&task))
    {
        return Err(ApiError::bad_request(
            "parent: A task cannot be its own ancestor",
        ));
    }
    for field in ["insert_before", "insert_after"] {
        if let Some(sibling) = gid_field(&body, field)? {
            let sibling = referenced(&data.tasks, field, &sibling)?;
            if parent.is_none() || data.tasks[&sibling].parent != parent {
                return Err(ApiError::bad_request(format!(
                    "{field}: Not a subtask of the new parent"
                )));
            }
        }
    }
    if let Some(task) = data.tasks.get_mut(&task) {
        task.parent = parent;
        task.modified_at = now_timestamp();
    }
    data.log_task(ctx.me, Action::Changed, task, None);
    Ok(ctx.object(200, data.task_json(task, &data.tasks[&task])))
}

/// The parent, grandparent ... of `task`.
fn ancestors(data: &Data, task: Gid) -> Vec<Gid> {
    let mut found = Vec::new();
    let mut next = data.tasks.get(&task).and_then(|t| t.parent);
    while let Some(parent) = next {
        if found.contains(&parent) {
            break;
        }
        found.push(parent);
        next = data.tasks.get(&parent).and_then(|t| t.parent);
    }
    found
}

/// `POST /tasks/{gid}/addFollowers` (`add`) and `/removeFollowers` with `followers` (gids, emails
/// or `me`): answers the task.
pub(super) fn change_followers(
    data: &mut Data,
    ctx: &Ctx<'_>,
    raw: &str,
    add: bool,
) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    let named = gid_list(&body, "followers")?;
    if named.is_empty() {
        return Err(ApiError::bad_request("followers: Missing input"));
    }
    let users = named
        .iter()
        .map(|key| {
            data.find_user(ctx.me, key)
                .ok_or_else(|| ApiError::bad_request(format!("followers: Unknown object: {key}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(task) = data.tasks.get_mut(&task) {
        for user in users {
            task.followers.retain(|follower| *follower != user);
            if add {
                task.followers.push(user);
            }
        }
        task.modified_at = now_timestamp();
    }
    data.log_task(ctx.me, Action::Changed, task, None);
    Ok(ctx.object(200, data.task_json(task, &data.tasks[&task])))
}

/// `POST /tasks/{gid}/addDependencies`, `/addDependents` (`add`) and their removals: answers
/// `{"data": {}}`. A task cannot depend on itself, nor on a task that depends on it.
pub(super) fn change_links(
    data: &mut Data,
    ctx: &Ctx<'_>,
    raw: &str,
    link: Link,
    add: bool,
) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let field = match link {
        Link::Dependencies => "dependencies",
        Link::Dependents => "dependents",
    };
    let body = ctx.data()?;
    let named = gid_list(&body, field)?;
    if named.is_empty() {
        return Err(ApiError::bad_request(format!("{field}: Missing input")));
    }
    let others = named
        .iter()
        .map(|other| referenced(&data.tasks, field, other))
        .collect::<Result<Vec<_>, _>>()?;
    // Each pair as (the waiting task, the task it waits for).
    let pairs: Vec<(Gid, Gid)> = others
        .iter()
        .map(|other| match link {
            Link::Dependencies => (task, *other),
            Link::Dependents => (*other, task),
        })
        .collect();
    if add
        && pairs.iter().any(|(waiting, awaited)| {
            waiting == awaited || data.tasks[awaited].dependencies.contains(waiting)
        })
    {
        return Err(ApiError::bad_request(format!(
            "{field}: A task cannot depend on itself or on a task that depends on it"
        )));
    }
    let now = now_timestamp();
    for (waiting, awaited) in pairs {
        if let Some(waiting) = data.tasks.get_mut(&waiting) {
            waiting.dependencies.retain(|gid| *gid != awaited);
            if add {
                waiting.dependencies.push(awaited);
            }
            waiting.modified_at = now.clone();
        }
    }
    data.log_task(ctx.me, Action::Changed, task, None);
    Ok(deleted())
}

/// `POST /tasks/{gid}/addProject` with `project` and optionally `section`: puts the task in the
/// project (in `section`, or the project's first section), or moves it to `section` if it already
/// is. `insert_before`/`insert_after` must name tasks; the order they ask for is not kept.
/// Answers `{"data": {}}`.
pub(super) fn add_project(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    let project = gid_field(&body, "project")?
        .ok_or_else(|| ApiError::bad_request("project: Missing input"))?;
    let project = referenced(&data.projects, "project", &project)?;
    let section = match gid_field(&body, "section")? {
        Some(section) => {
            let section = referenced(&data.sections, "section", &section)?;
            if data.sections[&section].project != project {
                return Err(ApiError::bad_request(
                    "section: The section is not in the project",
                ));
            }
            section
        }
        None => section_for(data, project),
    };
    place_in_section(data, ctx, &body, task, project, section)
}

/// `POST /tasks/{gid}/removeProject` with `project`: answers `{"data": {}}`.
pub(super) fn remove_project(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    let project = gid_field(&body, "project")?
        .ok_or_else(|| ApiError::bad_request("project: Missing input"))?;
    let project = referenced(&data.projects, "project", &project)?;
    if let Some(task) = data.tasks.get_mut(&task) {
        task.memberships.retain(|(p, _)| *p != project);
        task.modified_at = now_timestamp();
    }
    data.log_task(ctx.me, Action::Removed, task, Some(project));
    Ok(deleted())
}

/// `GET /tasks/{gid}/tags`: the task's tags, in the order they were added.
pub(super) fn task_tags(data: &Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let items = data.tasks[&task]
        .tags
        .iter()
        .filter_map(|gid| data.tags.get(gid).map(|tag| (*gid, tag)))
        .map(|(gid, tag)| ctx.shape(data.tag_json(gid, tag), COMPACT, false))
        .collect();
    ctx.list(items)
}

/// `GET /stories/{gid}`.
pub(super) fn get_story(data: &Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.stories, "story", raw)?;
    Ok(ctx.object(200, data.story_json(gid, &data.stories[&gid])))
}

/// `PUT /stories/{gid}`: edits a comment's `text` or `html_text` (not both), pins or unpins it.
/// Only the comment's author may edit its text.
pub(super) fn update_story(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.stories, "story", raw)?;
    let body: Map<String, Value> = ctx.data()?;
    let text = match (string(&body, "text")?, string(&body, "html_text")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "You should specify only one of text, html_text",
            ));
        }
        (Some(text), None) => Some((
            text.clone(),
            format!("<body>{}</body>", super::escape_html(&text)),
        )),
        (None, Some(html)) => Some((super::strip_html(&html), html)),
        (None, None) => None,
    };
    let is_pinned = boolean(&body, "is_pinned")?;
    if text.is_some() && data.stories[&gid].created_by != ctx.me {
        return Err(ApiError::new(
            403,
            "You can only edit the text of your own comments",
        ));
    }
    if let Some(story) = data.stories.get_mut(&gid) {
        if let Some((text, html_text)) = text {
            story.text = text;
            story.html_text = html_text;
        }
        if let Some(is_pinned) = is_pinned {
            story.is_pinned = is_pinned;
        }
    }
    Ok(ctx.object(200, data.story_json(gid, &data.stories[&gid])))
}

/// `DELETE /stories/{gid}`: only the comment's author may delete it.
pub(super) fn delete_story(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.stories, "story", raw)?;
    if data.stories[&gid].created_by != ctx.me {
        return Err(ApiError::new(403, "You can only delete your own comments"));
    }
    data.stories.remove(&gid);
    Ok(deleted())
}
