//! The resources of the mock API: users, workspaces, teams, projects, sections, tasks, stories,
//! tags, attachments and events.

use std::collections::BTreeMap;

use asana_endpoints::{self as endpoints, Method, Op};
use serde_json::{Map, Value, json};

use super::data::{
    Action, Attachment, Data, Gid, Project, Section, Story, Tag, Task, User, now_timestamp,
};
use super::request::{ApiError, Ctx};
use super::state::Reply;

mod events;
mod records;
mod relations;

use relations::Link;

/// The fields of a compact record of most types.
const COMPACT: &[&str] = &["gid", "name", "resource_type"];
/// The fields of a compact task.
const TASK_COMPACT: &[&str] = &["gid", "name", "resource_type", "resource_subtype"];
/// The fields of a compact story.
const STORY_COMPACT: &[&str] = &[
    "gid",
    "resource_type",
    "resource_subtype",
    "type",
    "text",
    "created_at",
    "created_by",
];
/// The fields of a compact attachment.
const ATTACHMENT_COMPACT: &[&str] = &["gid", "name", "resource_type", "resource_subtype"];
/// The message of `GET /tasks` without exactly one filter.
const TASK_FILTER_MESSAGE: &str =
    "Must specify exactly one of project, tag, section, user task list, or assignee + workspace";

/// The message of a 404 for a route the mock does not serve.
const NO_ROUTE: &str = "No matching route for request";

/// Decodes the `%XX` escapes of a path segment, as any HTTP server does (`+` stays a plus).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Dispatches a request to its resource.
pub(super) fn route(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let decoded: Vec<String> = ctx
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let Some((op, params)) =
        Method::parse(ctx.method.as_str()).and_then(|method| endpoints::route(method, &segments))
    else {
        return Err(ApiError::new(404, NO_ROUTE));
    };
    let exclusive = op.endpoint().exclusive;
    if !exclusive.is_empty() {
        let body = ctx.data()?;
        for group in exclusive {
            let given: Vec<&str> = group
                .iter()
                .copied()
                .filter(|field| body.get(*field).is_some_and(|v| !v.is_null()))
                .collect();
            if let [first, second, ..] = given.as_slice() {
                return Err(ApiError::bad_request(format!(
                    "{first}: Cannot be provided together with {second}"
                )));
            }
        }
    }
    match (op, params.as_slice()) {
        (Op::GetUsers, []) => list_users(data, ctx),
        (Op::GetUser, [user]) => get_user(data, ctx, user),
        (Op::GetTeamsForUser, [user]) => user_teams(data, ctx, user),
        (Op::GetWorkspaces, []) => {
            let items = data
                .workspaces
                .iter()
                .map(|(gid, w)| ctx.shape(Data::workspace_json(*gid, w), COMPACT, false))
                .collect();
            ctx.list(items)
        }
        (Op::GetWorkspace, [workspace]) => {
            let gid = existing(&data.workspaces, "workspace", workspace)?;
            Ok(ctx.object(200, Data::workspace_json(gid, &data.workspaces[&gid])))
        }
        (Op::SearchTasksForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            search_tasks(data, ctx, workspace)
        }
        (Op::GetUsersForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            users_where(data, ctx, |_, u| u.workspaces.contains(&workspace))
        }
        (Op::AddUserForWorkspace, [workspace]) => add_user(data, ctx, workspace),
        (Op::GetTeamsForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            let items = data
                .teams
                .iter()
                .filter(|(_, t)| t.workspace == workspace)
                .map(|(gid, t)| ctx.shape(data.team_json(*gid, t), COMPACT, false))
                .collect();
            ctx.list(items)
        }
        (Op::GetProjectsForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            list_projects(data, ctx, |p| p.workspace == workspace)
        }
        (Op::GetTagsForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            list_tags(data, ctx, workspace)
        }
        (Op::CreateTagForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            create_tag(data, ctx, Some(workspace))
        }
        (Op::GetTeam, [team]) => {
            let gid = existing(&data.teams, "team", team)?;
            Ok(ctx.object(200, data.team_json(gid, &data.teams[&gid])))
        }
        (Op::GetUsersForTeam, [team]) => {
            let team = existing(&data.teams, "team", team)?;
            let members = data.teams[&team].members.clone();
            users_where(data, ctx, |gid, _| members.contains(&gid))
        }
        (Op::GetProjectsForTeam, [team]) => {
            let team = existing(&data.teams, "team", team)?;
            list_projects(data, ctx, |p| p.team == Some(team))
        }
        (Op::GetProjects, []) => {
            if let Some(team) = ctx.param("team") {
                let team = existing(&data.teams, "team", team)?;
                list_projects(data, ctx, |p| p.team == Some(team))
            } else if let Some(workspace) = ctx.param("workspace") {
                let workspace = existing(&data.workspaces, "workspace", workspace)?;
                list_projects(data, ctx, |p| p.workspace == workspace)
            } else {
                Err(ApiError::bad_request(
                    "Must specify either workspace or team",
                ))
            }
        }
        (Op::CreateProject, []) => create_project(data, ctx),
        (Op::GetProject, [project]) => {
            let gid = existing(&data.projects, "project", project)?;
            Ok(ctx.object(200, data.project_json(gid, &data.projects[&gid])))
        }
        (Op::UpdateProject, [project]) => update_project(data, ctx, project),
        (Op::DeleteProject, [project]) => {
            let gid = existing(&data.projects, "project", project)?;
            data.delete_project(gid);
            Ok(deleted())
        }
        (Op::GetSectionsForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            let items = data
                .project_sections(project)
                .into_iter()
                .map(|gid| ctx.shape(data.section_json(gid, &data.sections[&gid]), COMPACT, false))
                .collect();
            ctx.list(items)
        }
        (Op::CreateSectionForProject, [project]) => create_section(data, ctx, project),
        (Op::InsertSectionForProject, [project]) => move_section(data, ctx, project),
        (Op::GetTasksForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            list_tasks(data, ctx, |_, t| {
                t.memberships.iter().any(|(p, _)| *p == project)
            })
        }
        (Op::GetSection, [section]) => {
            let gid = existing(&data.sections, "section", section)?;
            Ok(ctx.object(200, data.section_json(gid, &data.sections[&gid])))
        }
        (Op::UpdateSection, [section]) => update_section(data, ctx, section),
        (Op::DeleteSection, [section]) => delete_section(data, section),
        (Op::AddTaskForSection, [section]) => add_task_to_section(data, ctx, section),
        (Op::GetTasksForSection, [section]) => {
            let section = existing(&data.sections, "section", section)?;
            list_tasks(data, ctx, |_, t| {
                t.memberships.iter().any(|(_, s)| *s == section)
            })
        }
        (Op::GetTasks, []) => query_tasks(data, ctx),
        (Op::CreateTask, []) => create_task(data, ctx, None),
        (Op::GetTask, [task]) => {
            let gid = existing(&data.tasks, "task", task)?;
            Ok(ctx.object(200, data.task_json(gid, &data.tasks[&gid])))
        }
        (Op::UpdateTask, [task]) => update_task(data, ctx, task),
        (Op::DeleteTask, [task]) => {
            let gid = existing(&data.tasks, "task", task)?;
            data.delete_task(gid, ctx.me);
            Ok(deleted())
        }
        (Op::GetSubtasksForTask, [task]) => {
            let parent = existing(&data.tasks, "task", task)?;
            list_tasks(data, ctx, |_, t| t.parent == Some(parent))
        }
        (Op::CreateSubtaskForTask, [task]) => {
            let parent = existing(&data.tasks, "task", task)?;
            create_task(data, ctx, Some(parent))
        }
        (Op::GetStoriesForTask, [task]) => {
            let task = existing(&data.tasks, "task", task)?;
            let items = data
                .stories
                .iter()
                .filter(|(_, s)| s.task == task)
                .map(|(gid, s)| ctx.shape(data.story_json(*gid, s), STORY_COMPACT, false))
                .collect();
            ctx.list(items)
        }
        (Op::CreateStoryForTask, [task]) => create_story(data, ctx, task),
        (Op::GetProjectsForTask, [task]) => {
            let task = existing(&data.tasks, "task", task)?;
            let mut projects: Vec<Gid> = Vec::new();
            for (project, _) in &data.tasks[&task].memberships {
                if !projects.contains(project) {
                    projects.push(*project);
                }
            }
            let items = projects
                .iter()
                .filter_map(|gid| data.projects.get(gid).map(|p| (gid, p)))
                .map(|(gid, p)| ctx.shape(data.project_json(*gid, p), COMPACT, false))
                .collect();
            ctx.list(items)
        }
        (Op::GetDependenciesForTask, [task]) => {
            let task = existing(&data.tasks, "task", task)?;
            let dependencies = data.tasks[&task].dependencies.clone();
            list_tasks(data, ctx, |gid, _| dependencies.contains(&gid))
        }
        (Op::GetDependentsForTask, [task]) => {
            let task = existing(&data.tasks, "task", task)?;
            list_tasks(data, ctx, |_, t| t.dependencies.contains(&task))
        }
        (Op::SetParentForTask, [task]) => relations::set_parent(data, ctx, task),
        (Op::AddFollowersForTask, [task]) => relations::change_followers(data, ctx, task, true),
        (Op::RemoveFollowerForTask, [task]) => relations::change_followers(data, ctx, task, false),
        (Op::AddDependenciesForTask, [task]) => {
            relations::change_links(data, ctx, task, Link::Dependencies, true)
        }
        (Op::RemoveDependenciesForTask, [task]) => {
            relations::change_links(data, ctx, task, Link::Dependencies, false)
        }
        (Op::AddDependentsForTask, [task]) => {
            relations::change_links(data, ctx, task, Link::Dependents, true)
        }
        (Op::RemoveDependentsForTask, [task]) => {
            relations::change_links(data, ctx, task, Link::Dependents, false)
        }
        (Op::AddProjectForTask, [task]) => relations::add_project(data, ctx, task),
        (Op::RemoveProjectForTask, [task]) => relations::remove_project(data, ctx, task),
        (Op::GetTagsForTask, [task]) => relations::task_tags(data, ctx, task),
        (Op::GetStory, [story]) => relations::get_story(data, ctx, story),
        (Op::UpdateStory, [story]) => relations::update_story(data, ctx, story),
        (Op::DeleteStory, [story]) => relations::delete_story(data, ctx, story),
        (Op::AddTagForTask, [task]) => change_tag(data, ctx, task, true),
        (Op::RemoveTagForTask, [task]) => change_tag(data, ctx, task, false),
        (Op::GetAttachmentsForObject, []) => {
            let parent = ctx
                .param("parent")
                .ok_or_else(|| ApiError::bad_request("parent: Missing input"))?;
            let parent = attachment_parent(data, parent, false)?;
            let items = data
                .attachments
                .iter()
                .filter(|(_, a)| a.parent == parent)
                .map(|(gid, a)| {
                    ctx.shape(
                        data.attachment_json(*gid, a, &ctx.origin),
                        ATTACHMENT_COMPACT,
                        false,
                    )
                })
                .collect();
            ctx.list(items)
        }
        (Op::CreateAttachmentForObject, []) => create_attachment(data, ctx),
        (Op::GetAttachment, [attachment]) => {
            let gid = existing(&data.attachments, "attachment", attachment)?;
            Ok(ctx.object(
                200,
                data.attachment_json(gid, &data.attachments[&gid], &ctx.origin),
            ))
        }
        (Op::DeleteAttachment, [attachment]) => {
            let gid = existing(&data.attachments, "attachment", attachment)?;
            data.attachments.remove(&gid);
            Ok(deleted())
        }
        (Op::GetTags, []) => {
            let workspace = ctx
                .param("workspace")
                .ok_or_else(|| ApiError::bad_request("workspace: Missing input"))?;
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            list_tags(data, ctx, workspace)
        }
        (Op::CreateTag, []) => create_tag(data, ctx, None),
        (Op::GetTag, [tag]) => {
            let gid = existing(&data.tags, "tag", tag)?;
            Ok(ctx.object(200, data.tag_json(gid, &data.tags[&gid])))
        }
        (Op::UpdateTag, [tag]) => update_tag(data, ctx, tag),
        (Op::DeleteTag, [tag]) => {
            let gid = existing(&data.tags, "tag", tag)?;
            data.delete_tag(gid);
            Ok(deleted())
        }
        (Op::GetEvents, []) => events::get_events(data, ctx),
        (Op::GetTasksForTag, [tag]) => {
            let tag = existing(&data.tags, "tag", tag)?;
            list_tasks(data, ctx, |_, t| t.tags.contains(&tag))
        }
        _ => records::route(data, ctx, op, &params),
    }
}

fn deleted() -> Reply {
    Reply::json(200, json!({ "data": {} }))
}

/// A gid from the path or query that must name an existing object of `map`.
fn existing<T>(map: &BTreeMap<Gid, T>, kind: &str, raw: &str) -> Result<Gid, ApiError> {
    let gid = raw
        .parse::<Gid>()
        .map_err(|_| ApiError::bad_request(format!("{kind}: Not a recognized ID: {raw}")))?;
    if map.contains_key(&gid) {
        Ok(gid)
    } else {
        Err(ApiError::unknown_object(raw))
    }
}

/// A gid from a request body that must name an existing object of `map` (400 otherwise).
fn referenced<T>(map: &BTreeMap<Gid, T>, field: &str, raw: &str) -> Result<Gid, ApiError> {
    raw.parse::<Gid>()
        .ok()
        .filter(|gid| map.contains_key(gid))
        .ok_or_else(|| ApiError::bad_request(format!("{field}: Unknown object: {raw}")))
}

/// A string field: absent is `None`; any other type is a 400.
fn string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!(
            "{field}: Value is not a string"
        ))),
    }
}

/// A nullable string field: absent is `None`, `null` is `Some(None)`.
fn nullable_string(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::bad_request(format!(
            "{field}: Value is not a string or null"
        ))),
    }
}

fn boolean(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::bad_request(format!(
            "{field}: Value is not a boolean"
        ))),
    }
}

/// A gid as sent in a body: a string, or (liberally) a number.
fn gid_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A single gid field.
fn gid_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => gid_text(value)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{field}: Not a recognized ID"))),
    }
}

/// A list of gids: a JSON array, or a comma-separated string.
fn gid_list(body: &Map<String, Value>, field: &str) -> Result<Vec<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                gid_text(item)
                    .ok_or_else(|| ApiError::bad_request(format!("{field}: Not a recognized ID")))
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(format!("{field}: Not a list of IDs"))),
    }
}

/// A `YYYY-MM-DD` date field, nullable.
fn date(body: &Map<String, Value>, field: &str) -> Result<Option<Option<String>>, ApiError> {
    let value = nullable_string(body, field)?;
    if let Some(Some(date)) = &value {
        let bytes = date.as_bytes();
        let shaped = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !shaped {
            return Err(ApiError::bad_request(format!(
                "{field}: Invalid date: expected YYYY-MM-DD, got {date}"
            )));
        }
    }
    Ok(value)
}

/// The `assignee` field: a user gid, `me`, an e-mail address, or `null`.
fn assignee(
    data: &Data,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Result<Option<Option<Gid>>, ApiError> {
    match body.get("assignee") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) => {
            let raw = gid_text(value)
                .ok_or_else(|| ApiError::bad_request("assignee: Not a recognized ID"))?;
            data.find_user(ctx.me, &raw)
                .map(|user| Some(Some(user)))
                .ok_or_else(|| ApiError::bad_request(format!("assignee: Unknown object: {raw}")))
        }
    }
}

/// Compact users matching `filter`.
fn users_where(
    data: &Data,
    ctx: &Ctx<'_>,
    filter: impl Fn(Gid, &User) -> bool,
) -> Result<Reply, ApiError> {
    let items = data
        .users
        .iter()
        .filter(|(gid, u)| filter(**gid, u))
        .map(|(gid, u)| ctx.shape(data.user_json(*gid, u), COMPACT, false))
        .collect();
    ctx.list(items)
}

/// `GET /users?workspace&team`: the members of the team and/or workspace; with neither, the
/// users sharing a workspace with the requester.
fn list_users(data: &Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let team = match ctx.param("team") {
        Some(team) => Some(existing(&data.teams, "team", team)?),
        None => None,
    };
    let members = team.map(|team| data.teams[&team].members.clone());
    let workspaces = match ctx.param("workspace") {
        Some(workspace) => vec![existing(&data.workspaces, "workspace", workspace)?],
        None if team.is_some() => Vec::new(),
        None => data
            .users
            .get(&ctx.me)
            .map(|me| me.workspaces.clone())
            .unwrap_or_default(),
    };
    users_where(data, ctx, |gid, u| {
        members.as_ref().is_none_or(|m| m.contains(&gid))
            && (workspaces.is_empty() || u.workspaces.iter().any(|w| workspaces.contains(w)))
    })
}

/// `GET /users/{gid}/teams?organization`: the user's teams in that organization.
fn user_teams(data: &Data, ctx: &Ctx<'_>, key: &str) -> Result<Reply, ApiError> {
    let user = data
        .find_user(ctx.me, key)
        .ok_or_else(|| ApiError::unknown_object(key))?;
    let organization = ctx
        .param("organization")
        .ok_or_else(|| ApiError::bad_request("organization: Missing input"))?;
    let organization = existing(&data.workspaces, "organization", organization)?;
    let items = data
        .teams
        .iter()
        .filter(|(_, t)| t.workspace == organization && t.members.contains(&user))
        .map(|(gid, t)| ctx.shape(data.team_json(*gid, t), COMPACT, false))
        .collect();
    ctx.list(items)
}

/// The user the body's `user` names (gid, e-mail or `me`): 400 if missing or unknown.
fn body_user(data: &Data, ctx: &Ctx<'_>, body: &Map<String, Value>) -> Result<Gid, ApiError> {
    let key =
        gid_field(body, "user")?.ok_or_else(|| ApiError::bad_request("user: Missing input"))?;
    data.find_user(ctx.me, &key)
        .ok_or_else(|| ApiError::bad_request(format!("user: Unknown object: {key}")))
}

/// `POST /workspaces/{gid}/addUser` with `user` (gid, e-mail or `me`): the user joins the
/// workspace; answers the user's gid, name and e-mail.
fn add_user(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let workspace = existing(&data.workspaces, "workspace", raw)?;
    let body = ctx.data()?;
    let gid = body_user(data, ctx, &body)?;
    data.join_workspace(gid, workspace);
    let mut json = data.user_json(gid, &data.users[&gid]);
    json.retain(|key, _| {
        ["gid", "resource_type", "name", "email", "photo"].contains(&key.as_str())
    });
    Ok(ctx.object(200, json))
}

/// `POST /tasks/{gid}/addTag` (`add`) and `/removeTag` with `tag`: answers `{"data": {}}`.
fn change_tag(data: &mut Data, ctx: &Ctx<'_>, raw: &str, add: bool) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    let tag =
        gid_field(&body, "tag")?.ok_or_else(|| ApiError::bad_request("tag: Missing input"))?;
    let tag = referenced(&data.tags, "tag", &tag)?;
    if let Some(task) = data.tasks.get_mut(&task) {
        task.tags.retain(|t| *t != tag);
        if add {
            task.tags.push(tag);
        }
        task.modified_at = now_timestamp();
    }
    data.log_task(ctx.me, Action::Changed, task, None);
    Ok(deleted())
}

/// `POST /sections/{gid}/addTask` with `task`: moves the task into the section (into the section's
/// project, if it was not in it). `insert_before`/`insert_after` must name tasks; the order they
/// ask for is not kept. Answers `{"data": {}}`.
fn add_task_to_section(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let section = existing(&data.sections, "section", raw)?;
    let project = data.sections[&section].project;
    let body = ctx.data()?;
    let task =
        gid_field(&body, "task")?.ok_or_else(|| ApiError::bad_request("task: Missing input"))?;
    let task = referenced(&data.tasks, "task", &task)?;
    place_in_section(data, ctx, &body, task, project, section)
}

/// Puts `task` in `section` of `project` (an `added` event with the project as parent), or moves
/// it there if it already is in the project (a `changed` event), once `insert_before`/
/// `insert_after`, when given, name tasks (the order they ask for is not kept).
/// Answers `{"data": {}}`.
fn place_in_section(
    data: &mut Data,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
    task: Gid,
    project: Gid,
    section: Gid,
) -> Result<Reply, ApiError> {
    for field in ["insert_before", "insert_after"] {
        if let Some(other) = gid_field(body, field)? {
            referenced(&data.tasks, field, &other)?;
        }
    }
    let mut joined = false;
    if let Some(task) = data.tasks.get_mut(&task) {
        match task.memberships.iter_mut().find(|(p, _)| *p == project) {
            Some(membership) => membership.1 = section,
            None => {
                task.memberships.push((project, section));
                joined = true;
            }
        }
        task.modified_at = now_timestamp();
    }
    if joined {
        data.log_task(ctx.me, Action::Added, task, Some(project));
    } else {
        data.log_task(ctx.me, Action::Changed, task, None);
    }
    Ok(deleted())
}

fn get_user(data: &Data, ctx: &Ctx<'_>, key: &str) -> Result<Reply, ApiError> {
    let gid = data
        .find_user(ctx.me, key)
        .ok_or_else(|| ApiError::unknown_object(key))?;
    Ok(ctx.object(200, data.user_json(gid, &data.users[&gid])))
}

fn list_projects(
    data: &Data,
    ctx: &Ctx<'_>,
    filter: impl Fn(&Project) -> bool,
) -> Result<Reply, ApiError> {
    let archived = match ctx.param("archived") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::bad_request("archived: Not a boolean")),
    };
    let items = data
        .projects
        .iter()
        .filter(|(_, p)| filter(p) && archived.is_none_or(|a| p.archived == a))
        .map(|(gid, p)| ctx.shape(data.project_json(*gid, p), COMPACT, false))
        .collect();
    ctx.list(items)
}

fn create_project(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = ctx.data()?;
    let team = gid_field(&body, "team")?
        .map(|raw| referenced(&data.teams, "team", &raw))
        .transpose()?;
    let workspace = gid_field(&body, "workspace")?
        .map(|raw| referenced(&data.workspaces, "workspace", &raw))
        .transpose()?;
    let team_workspace = team.and_then(|t| data.teams.get(&t)).map(|t| t.workspace);
    let workspace = match (workspace, team_workspace) {
        (Some(w), Some(t)) if w != t => {
            return Err(ApiError::bad_request(
                "team: The team is not in the given workspace",
            ));
        }
        (Some(w), _) | (None, Some(w)) => w,
        (None, None) => {
            return Err(ApiError::bad_request(
                "You should specify one of workspace, team",
            ));
        }
    };
    if team.is_none() && data.workspaces[&workspace].is_organization {
        return Err(ApiError::bad_request(
            "team: Missing input. A project in an organization must be shared with a team",
        ));
    }
    let now = now_timestamp();
    let project = Project {
        name: string(&body, "name")?.unwrap_or_default(),
        notes: string(&body, "notes")?.unwrap_or_default(),
        color: nullable_string(&body, "color")?.flatten(),
        archived: boolean(&body, "archived")?.unwrap_or(false),
        workspace,
        team,
        owner: ctx.me,
        created_at: now.clone(),
        modified_at: now,
    };
    let gid = insert_project(data, project);
    Ok(ctx.object(201, data.project_json(gid, &data.projects[&gid])))
}

/// Stores a new project with its first section, "Untitled section"; answers its gid.
fn insert_project(data: &mut Data, project: Project) -> Gid {
    let created_at = project.created_at.clone();
    let gid = data.next_gid();
    data.projects.insert(gid, project);
    let section = data.next_gid();
    data.sections.insert(
        section,
        Section {
            name: "Untitled section".into(),
            project: gid,
            created_at,
            rank: section,
        },
    );
    gid
}

fn update_project(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.projects, "project", raw)?;
    let body = ctx.data()?;
    let name = string(&body, "name")?;
    let notes = string(&body, "notes")?;
    let color = nullable_string(&body, "color")?;
    let archived = boolean(&body, "archived")?;
    if let Some(project) = data.projects.get_mut(&gid) {
        if let Some(name) = name {
            project.name = name;
        }
        if let Some(notes) = notes {
            project.notes = notes;
        }
        if let Some(color) = color {
            project.color = color;
        }
        if let Some(archived) = archived {
            project.archived = archived;
        }
        project.modified_at = now_timestamp();
    }
    Ok(ctx.object(200, data.project_json(gid, &data.projects[&gid])))
}

fn create_section(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let project = existing(&data.projects, "project", raw)?;
    let body = ctx.data()?;
    let name = string(&body, "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("name: Missing input"))?;
    let gid = data.next_gid();
    data.sections.insert(
        gid,
        Section {
            name,
            project,
            created_at: now_timestamp(),
            rank: gid,
        },
    );
    Ok(ctx.object(201, data.section_json(gid, &data.sections[&gid])))
}

fn update_section(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.sections, "section", raw)?;
    let body = ctx.data()?;
    if let Some(name) = string(&body, "name")? {
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("name: Cannot be empty"));
        }
        if let Some(section) = data.sections.get_mut(&gid) {
            section.name = name;
        }
    }
    Ok(ctx.object(200, data.section_json(gid, &data.sections[&gid])))
}

/// `POST /projects/{gid}/sections/insert`: moves `section` just before `before_section` or
/// just after `after_section` (exactly one of them), within the project.
fn move_section(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let project = existing(&data.projects, "project", raw)?;
    let body = ctx.data()?;
    let in_project = |data: &Data, field: &str| -> Result<Option<Gid>, ApiError> {
        let Some(raw) = gid_field(&body, field)? else {
            return Ok(None);
        };
        let gid = referenced(&data.sections, field, &raw)?;
        if data.sections[&gid].project != project {
            return Err(ApiError::bad_request(format!(
                "{field}: Sections cannot be moved between projects"
            )));
        }
        Ok(Some(gid))
    };
    let section = in_project(data, "section")?
        .ok_or_else(|| ApiError::bad_request("section: Missing input"))?;
    let (target, after) = match (
        in_project(data, "before_section")?,
        in_project(data, "after_section")?,
    ) {
        (Some(before), None) => (before, false),
        (None, Some(after)) => (after, true),
        _ => {
            return Err(ApiError::bad_request(
                "One of before_section or after_section is required",
            ));
        }
    };
    let mut order = data.project_sections(project);
    order.retain(|gid| *gid != section);
    let at = order
        .iter()
        .position(|gid| *gid == target)
        .ok_or_else(|| ApiError::bad_request("A section cannot be moved relative to itself"))?;
    order.insert(if after { at + 1 } else { at }, section);
    for (rank, gid) in order.into_iter().enumerate() {
        if let Some(s) = data.sections.get_mut(&gid) {
            s.rank = rank as u64;
        }
    }
    Ok(Reply::json(200, json!({"data": {}})))
}

fn delete_section(data: &mut Data, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.sections, "section", raw)?;
    let project = data.sections[&gid].project;
    if data
        .tasks
        .values()
        .any(|t| t.memberships.iter().any(|(_, s)| *s == gid))
    {
        return Err(ApiError::bad_request(
            "Sections must be empty to be deleted",
        ));
    }
    if data
        .sections
        .values()
        .filter(|s| s.project == project)
        .count()
        == 1
    {
        return Err(ApiError::bad_request(
            "The last remaining section of a project cannot be deleted",
        ));
    }
    data.sections.remove(&gid);
    Ok(deleted())
}

/// A list of tasks matching `filter`, narrowed by `completed_since` and `modified_since`.
fn list_tasks(
    data: &Data,
    ctx: &Ctx<'_>,
    filter: impl Fn(Gid, &Task) -> bool,
) -> Result<Reply, ApiError> {
    let completed_since = ctx.param("completed_since");
    let modified_since = ctx.param("modified_since");
    let items = data
        .tasks
        .iter()
        .filter(|(gid, t)| filter(**gid, t))
        .filter(|(_, t)| match completed_since {
            None => true,
            Some("now") => !t.completed,
            Some(since) => !t.completed || t.completed_at.as_deref().is_some_and(|at| at >= since),
        })
        .filter(|(_, t)| modified_since.is_none_or(|since| t.modified_at.as_str() >= since))
        .map(|(gid, t)| ctx.shape(data.task_json(*gid, t), TASK_COMPACT, false))
        .collect();
    ctx.list(items)
}

/// `GET /tasks`: exactly one of project, section, tag, or assignee + workspace.
fn query_tasks(data: &Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (project, section, tag) = (ctx.param("project"), ctx.param("section"), ctx.param("tag"));
    let (assignee, workspace) = (ctx.param("assignee"), ctx.param("workspace"));
    let by_assignee = assignee.is_some() || workspace.is_some();
    let filters = [
        project.is_some(),
        section.is_some(),
        tag.is_some(),
        by_assignee,
    ];
    if filters.iter().filter(|f| **f).count() != 1 {
        return Err(ApiError::bad_request(TASK_FILTER_MESSAGE));
    }
    if let Some(project) = project {
        let project = existing(&data.projects, "project", project)?;
        return list_tasks(data, ctx, |_, t| {
            t.memberships.iter().any(|(p, _)| *p == project)
        });
    }
    if let Some(section) = section {
        let section = existing(&data.sections, "section", section)?;
        return list_tasks(data, ctx, |_, t| {
            t.memberships.iter().any(|(_, s)| *s == section)
        });
    }
    if let Some(tag) = tag {
        let tag = existing(&data.tags, "tag", tag)?;
        return list_tasks(data, ctx, |_, t| t.tags.contains(&tag));
    }
    let (Some(assignee), Some(workspace)) = (assignee, workspace) else {
        return Err(ApiError::bad_request(TASK_FILTER_MESSAGE));
    };
    let user = data
        .find_user(ctx.me, assignee)
        .ok_or_else(|| ApiError::unknown_object(assignee))?;
    let workspace = existing(&data.workspaces, "workspace", workspace)?;
    list_tasks(data, ctx, |_, t| {
        t.assignee == Some(user) && t.workspace == workspace
    })
}

/// `GET /workspaces/{gid}/tasks/search`: `text` (in name or notes, any case), `completed`,
/// `assignee.any`, `projects.any`, `sections.any`, `tags.any` (comma-separated gids, `me` for
/// assignees), `modified_at.after`; at most `limit` (default 100) tasks in gid order, without
/// `next_page` (search does not paginate).
fn search_tasks(data: &Data, ctx: &Ctx<'_>, workspace: Gid) -> Result<Reply, ApiError> {
    let gids = |name: &str| -> Result<Option<Vec<Gid>>, ApiError> {
        let Some(raw) = ctx.param(name) else {
            return Ok(None);
        };
        raw.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                if name == "assignee.any" {
                    data.find_user(ctx.me, part)
                } else {
                    part.parse::<Gid>().ok()
                }
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{name}: Not a recognized ID: {part}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    };
    let (assignees, projects) = (gids("assignee.any")?, gids("projects.any")?);
    let (sections, tags) = (gids("sections.any")?, gids("tags.any")?);
    let completed = match ctx.param("completed") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::bad_request("completed: Not a boolean")),
    };
    let limit = match ctx.param("limit") {
        None => 100,
        Some(raw) => match raw.parse::<usize>() {
            Ok(limit @ 1..=100) => limit,
            _ => {
                return Err(ApiError::bad_request(
                    "limit: The limit must be an integer between 1 and 100",
                ));
            }
        },
    };
    let text = ctx.param("text").map(str::to_lowercase);
    let modified_after = ctx.param("modified_at.after");
    let items = data
        .tasks
        .iter()
        .filter(|(_, t)| t.workspace == workspace)
        .filter(|(_, t)| {
            text.as_ref().is_none_or(|text| {
                t.name.to_lowercase().contains(text) || t.notes.to_lowercase().contains(text)
            })
        })
        .filter(|(_, t)| completed.is_none_or(|c| t.completed == c))
        .filter(|(_, t)| modified_after.is_none_or(|after| t.modified_at.as_str() > after))
        .filter(|(_, t)| any_of(&assignees, t.assignee))
        .filter(|(_, t)| any_of(&projects, t.memberships.iter().map(|(p, _)| *p)))
        .filter(|(_, t)| any_of(&sections, t.memberships.iter().map(|(_, s)| *s)))
        .filter(|(_, t)| any_of(&tags, t.tags.iter().copied()))
        .take(limit)
        .map(|(gid, t)| ctx.shape(data.task_json(*gid, t), TASK_COMPACT, false))
        .collect::<Vec<_>>();
    Ok(Reply::json(200, json!({ "data": items })))
}

/// Whether `has` names one of `wanted` (always, when nothing is wanted).
fn any_of(wanted: &Option<Vec<Gid>>, has: impl IntoIterator<Item = Gid>) -> bool {
    wanted
        .as_ref()
        .is_none_or(|wanted| has.into_iter().any(|gid| wanted.contains(&gid)))
}

/// The section a new task of `project` goes to: its first one (created if the project has none).
fn section_for(data: &mut Data, project: Gid) -> Gid {
    if let Some(section) = data.first_section(project) {
        return section;
    }
    let gid = data.next_gid();
    data.sections.insert(
        gid,
        Section {
            name: "Untitled section".into(),
            project,
            created_at: now_timestamp(),
            rank: gid,
        },
    );
    gid
}

/// `POST /tasks` (`parent` from the body) and `POST /tasks/{gid}/subtasks` (`parent` from the path).
fn create_task(data: &mut Data, ctx: &Ctx<'_>, parent: Option<Gid>) -> Result<Reply, ApiError> {
    let body = ctx.data()?;
    let parent = match parent {
        Some(parent) => Some(parent),
        None => gid_field(&body, "parent")?
            .map(|raw| referenced(&data.tasks, "parent", &raw))
            .transpose()?,
    };
    let projects = gid_list(&body, "projects")?
        .iter()
        .map(|raw| referenced(&data.projects, "projects", raw))
        .collect::<Result<Vec<_>, _>>()?;
    let workspace_field = gid_field(&body, "workspace")?
        .map(|raw| referenced(&data.workspaces, "workspace", &raw))
        .transpose()?;
    let workspace = parent
        .and_then(|p| data.tasks.get(&p).map(|t| t.workspace))
        .or_else(|| {
            projects
                .first()
                .and_then(|p| data.projects.get(p).map(|p| p.workspace))
        })
        .or(workspace_field)
        .ok_or_else(|| {
            ApiError::bad_request("You should specify one of workspace, parent, projects")
        })?;
    let mismatched = workspace_field.is_some_and(|w| w != workspace)
        || projects.iter().any(|p| {
            data.projects
                .get(p)
                .is_some_and(|p| p.workspace != workspace)
        });
    if mismatched {
        return Err(ApiError::bad_request(
            "workspace: The task, its projects and its parent must be in the same workspace",
        ));
    }
    let tags = gid_list(&body, "tags")?
        .iter()
        .map(|raw| referenced(&data.tags, "tags", raw))
        .collect::<Result<Vec<_>, _>>()?;
    let assignee = assignee(data, ctx, &body)?.flatten();
    let name = string(&body, "name")?.unwrap_or_default();
    let notes = string(&body, "notes")?.unwrap_or_default();
    let completed = boolean(&body, "completed")?.unwrap_or(false);
    let due_on = date(&body, "due_on")?.flatten();
    let due_at = nullable_string(&body, "due_at")?.flatten();
    let now = now_timestamp();
    let mut memberships = Vec::with_capacity(projects.len());
    for project in projects {
        let section = section_for(data, project);
        memberships.push((project, section));
    }
    let task = Task {
        name,
        notes,
        completed,
        completed_at: completed.then(|| now.clone()),
        assignee,
        workspace,
        memberships,
        parent,
        tags,
        dependencies: Vec::new(),
        followers: Vec::new(),
        due_on,
        due_at,
        created_at: now.clone(),
        modified_at: now,
    };
    let gid = data.next_gid();
    data.tasks.insert(gid, task);
    data.log_task_created(ctx.me, gid);
    Ok(ctx.object(201, data.task_json(gid, &data.tasks[&gid])))
}

fn update_task(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    let name = string(&body, "name")?;
    let notes = string(&body, "notes")?;
    let completed = boolean(&body, "completed")?;
    let assignee = assignee(data, ctx, &body)?;
    let due_on = date(&body, "due_on")?;
    let due_at = nullable_string(&body, "due_at")?;
    let now = now_timestamp();
    if let Some(task) = data.tasks.get_mut(&gid) {
        if let Some(name) = name {
            task.name = name;
        }
        if let Some(notes) = notes {
            task.notes = notes;
        }
        if let Some(completed) = completed {
            if completed && !task.completed {
                task.completed_at = Some(now.clone());
            } else if !completed {
                task.completed_at = None;
            }
            task.completed = completed;
        }
        if let Some(assignee) = assignee {
            task.assignee = assignee;
        }
        if let Some(due_on) = due_on {
            task.due_on = due_on;
        }
        if let Some(due_at) = due_at {
            task.due_at = due_at;
        }
        task.modified_at = now;
    }
    data.log_task(ctx.me, Action::Changed, gid, None);
    Ok(ctx.object(200, data.task_json(gid, &data.tasks[&gid])))
}

/// Escapes text for `html_text`.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The text of an `html_text`: tags dropped, the three escapes undone.
fn strip_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn create_story(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let task = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    let (text, html_text) = match (string(&body, "text")?, string(&body, "html_text")?) {
        (_, Some(html)) => (strip_html(&html), html),
        (Some(text), None) => {
            let html = format!("<body>{}</body>", escape_html(&text));
            (text, html)
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "You should specify one of text, html_text",
            ));
        }
    };
    let gid = data.next_gid();
    data.stories.insert(
        gid,
        Story {
            task,
            text,
            html_text,
            created_by: ctx.me,
            created_at: now_timestamp(),
            is_pinned: false,
        },
    );
    Ok(ctx.object(201, data.story_json(gid, &data.stories[&gid])))
}

/// The task or project `raw` names. An unknown one is a 404 when it came as a query parameter
/// (as [`existing`] answers) and a 400 when it came in the body (as [`referenced`] answers).
fn attachment_parent(data: &Data, raw: &str, in_body: bool) -> Result<Gid, ApiError> {
    match raw.parse::<Gid>() {
        Ok(gid) if data.projects.contains_key(&gid) => Ok(gid),
        _ if in_body => referenced(&data.tasks, "parent", raw),
        _ => existing(&data.tasks, "parent", raw),
    }
}

/// `POST /attachments` (multipart): a `file` part uploads a file Asana hosts; without one,
/// `resource_subtype=external` with `url` and `name` attaches a link.
fn create_attachment(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let parts = ctx.form()?;
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match parts.iter().find(|part| part.name == name) {
            None => Ok(None),
            Some(part) => String::from_utf8(part.content.to_vec())
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("{name}: Not valid UTF-8"))),
        }
    };
    let parent = text("parent")?.ok_or_else(|| ApiError::bad_request("parent: Missing input"))?;
    let parent = attachment_parent(data, &parent, true)?;
    let attachment = match parts.iter().find(|part| part.name == "file") {
        Some(file) => Attachment {
            // Asana asks for non-ASCII file names URL-encoded, and shows them decoded.
            name: percent_decode(file.file_name.as_deref().unwrap_or_default()),
            parent,
            host: "asana".into(),
            content: Some(file.content.to_vec()),
            view_url: None,
            created_at: now_timestamp(),
        },
        None if text("resource_subtype")?.as_deref() == Some("external") => Attachment {
            name: text("name")?.ok_or_else(|| ApiError::bad_request("name: Missing input"))?,
            parent,
            host: "external".into(),
            content: None,
            view_url: Some(
                text("url")?.ok_or_else(|| ApiError::bad_request("url: Missing input"))?,
            ),
            created_at: now_timestamp(),
        },
        None => return Err(ApiError::bad_request("file: Missing input")),
    };
    let gid = data.next_gid();
    data.attachments.insert(gid, attachment);
    Ok(ctx.object(
        200,
        data.attachment_json(gid, &data.attachments[&gid], &ctx.origin),
    ))
}

fn list_tags(data: &Data, ctx: &Ctx<'_>, workspace: Gid) -> Result<Reply, ApiError> {
    let items = data
        .tags
        .iter()
        .filter(|(_, t)| t.workspace == workspace)
        .map(|(gid, t)| ctx.shape(data.tag_json(*gid, t), COMPACT, false))
        .collect();
    ctx.list(items)
}

/// `POST /workspaces/{gid}/tags` (workspace from the path) and `POST /tags` (from the body).
fn create_tag(data: &mut Data, ctx: &Ctx<'_>, workspace: Option<Gid>) -> Result<Reply, ApiError> {
    let body = ctx.data()?;
    let workspace = match workspace {
        Some(workspace) => workspace,
        None => {
            let raw = gid_field(&body, "workspace")?
                .ok_or_else(|| ApiError::bad_request("workspace: Missing input"))?;
            referenced(&data.workspaces, "workspace", &raw)?
        }
    };
    let tag = Tag {
        name: string(&body, "name")?.unwrap_or_default(),
        color: nullable_string(&body, "color")?.flatten(),
        notes: string(&body, "notes")?.unwrap_or_default(),
        workspace,
        created_at: now_timestamp(),
    };
    let gid = data.next_gid();
    data.tags.insert(gid, tag);
    Ok(ctx.object(201, data.tag_json(gid, &data.tags[&gid])))
}

fn update_tag(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.tags, "tag", raw)?;
    let body = ctx.data()?;
    let name = string(&body, "name")?;
    let color = nullable_string(&body, "color")?;
    let notes = string(&body, "notes")?;
    if let Some(tag) = data.tags.get_mut(&gid) {
        if let Some(name) = name {
            tag.name = name;
        }
        if let Some(color) = color {
            tag.color = color;
        }
        if let Some(notes) = notes {
            tag.notes = notes;
        }
    }
    Ok(ctx.object(200, data.tag_json(gid, &data.tags[&gid])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_round_trips_through_escape_and_strip() {
        let text = "a < b & c > d";
        let html = format!("<body>{}</body>", escape_html(text));
        assert_eq!(html, "<body>a &lt; b &amp; c &gt; d</body>");
        assert_eq!(strip_html(&html), text);
    }
}
