//! The objects a mock Asana holds: users, workspaces, teams, projects, sections, tasks, stories,
//! tags and attachments, their seed, and their JSON representations; and the log of changes to
//! tasks.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::seed;

mod events;
mod records;

pub(super) use events::{Action, EventLog};
pub(super) use records::{Record, hidden};

/// A gid as the mock stores it; rendered as a decimal string.
pub(super) type Gid = u64;

/// When every seeded object was created.
const SEED_CREATED_AT: &str = "2024-01-15T09:00:00.000Z";
/// When every seeded completed task was completed.
const SEED_COMPLETED_AT: &str = "2024-02-01T12:00:00.000Z";

pub(super) struct User {
    pub name: String,
    pub email: String,
    pub workspaces: Vec<Gid>,
}

pub(super) struct Workspace {
    pub name: String,
    pub is_organization: bool,
    pub email_domains: Vec<String>,
}

pub(super) struct Team {
    pub name: String,
    pub description: String,
    pub workspace: Gid,
    pub members: Vec<Gid>,
}

#[derive(Clone)]
pub(super) struct Project {
    pub name: String,
    pub notes: String,
    pub color: Option<String>,
    pub archived: bool,
    pub workspace: Gid,
    pub team: Option<Gid>,
    pub owner: Gid,
    pub created_at: String,
    pub modified_at: String,
}

pub(super) struct Section {
    pub name: String,
    pub project: Gid,
    pub created_at: String,
    /// Its place among the project's sections (lowest first); starts as its gid.
    pub rank: u64,
}

pub(super) struct Task {
    pub name: String,
    pub notes: String,
    pub completed: bool,
    pub completed_at: Option<String>,
    pub assignee: Option<Gid>,
    pub workspace: Gid,
    /// (project, section) pairs, in the order the task joined them.
    pub memberships: Vec<(Gid, Gid)>,
    pub parent: Option<Gid>,
    pub tags: Vec<Gid>,
    /// The tasks this task depends on (it is blocked until they are done).
    pub dependencies: Vec<Gid>,
    /// The users who follow the task, in the order they started.
    pub followers: Vec<Gid>,
    pub due_on: Option<String>,
    pub due_at: Option<String>,
    pub created_at: String,
    pub modified_at: String,
}

pub(super) struct Story {
    pub task: Gid,
    pub text: String,
    pub html_text: String,
    pub created_by: Gid,
    pub created_at: String,
    pub is_pinned: bool,
}

pub(super) struct Tag {
    pub name: String,
    pub color: Option<String>,
    pub notes: String,
    pub workspace: Gid,
    pub created_at: String,
}

/// A file attached to a task or project. Files hosted by Asana have `content`, served at their
/// `download_url`; files hosted elsewhere (`host` `gdrive`, ...) have none and only a `view_url`.
pub(super) struct Attachment {
    pub name: String,
    pub parent: Gid,
    pub host: String,
    pub content: Option<Vec<u8>>,
    pub view_url: Option<String>,
    pub created_at: String,
}

/// Every object of the mock, keyed by gid. Gids grow with creation, so map order is creation order.
pub(super) struct Data {
    next_gid: Gid,
    pub users: BTreeMap<Gid, User>,
    pub workspaces: BTreeMap<Gid, Workspace>,
    pub teams: BTreeMap<Gid, Team>,
    pub projects: BTreeMap<Gid, Project>,
    pub sections: BTreeMap<Gid, Section>,
    pub tasks: BTreeMap<Gid, Task>,
    pub stories: BTreeMap<Gid, Story>,
    pub tags: BTreeMap<Gid, Tag>,
    pub attachments: BTreeMap<Gid, Attachment>,
    /// The objects kept as JSON (custom fields, goals, portfolios ...).
    pub records: BTreeMap<Gid, Record>,
    /// Tasks by custom ID (`LAUNCH-1`).
    pub custom_ids: BTreeMap<String, Gid>,
    /// (user, object) pairs: what each user marked as a favorite.
    pub favorites: Vec<(Gid, Gid)>,
    /// The followers of each project, in the order they started.
    pub project_followers: BTreeMap<Gid, Vec<Gid>>,
    /// The changes to tasks made through the API, for `GET /events`.
    pub events: EventLog,
}

/// A seed gid constant as a number. The constants are decimal literals, so this cannot fail.
fn g(gid: &str) -> Gid {
    gid.parse().unwrap_or_default()
}

/// The current time as Asana writes it: `2024-01-15T09:00:00.000Z`.
pub(super) fn now_timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

fn gid_str(gid: Gid) -> Value {
    Value::String(gid.to_string())
}

fn opt_string(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::String)
}

impl Data {
    /// The seed described in [`seed`](super::seed), with `tasks_per_project` tasks in Backlog.
    pub fn seeded(tasks_per_project: usize) -> Self {
        let mut data = Data {
            next_gid: seed::FIRST_CREATED_GID,
            users: BTreeMap::new(),
            workspaces: BTreeMap::new(),
            teams: BTreeMap::new(),
            projects: BTreeMap::new(),
            sections: BTreeMap::new(),
            tasks: BTreeMap::new(),
            stories: BTreeMap::new(),
            tags: BTreeMap::new(),
            attachments: BTreeMap::new(),
            records: BTreeMap::new(),
            custom_ids: BTreeMap::new(),
            favorites: Vec::new(),
            project_followers: BTreeMap::new(),
            events: EventLog::default(),
        };
        let (acme, personal) = (g(seed::WORKSPACE_GID), g(seed::PERSONAL_WORKSPACE_GID));
        let me = g(seed::ME_GID);
        let ada = g(seed::ADA_GID);
        data.users.insert(
            me,
            User {
                name: seed::ME_NAME.into(),
                email: seed::ME_EMAIL.into(),
                workspaces: vec![acme, personal],
            },
        );
        data.users.insert(
            ada,
            User {
                name: "Ada Lovelace".into(),
                email: "ada@example.com".into(),
                workspaces: vec![acme],
            },
        );
        data.workspaces.insert(
            acme,
            Workspace {
                name: "Acme Corp".into(),
                is_organization: true,
                email_domains: vec!["example.com".into()],
            },
        );
        data.workspaces.insert(
            personal,
            Workspace {
                name: "Personal Projects".into(),
                is_organization: false,
                email_domains: Vec::new(),
            },
        );
        for (gid, name, description, members) in [
            (
                seed::ENGINEERING_TEAM_GID,
                "Engineering",
                "Builds the product.",
                vec![me, ada],
            ),
            (
                seed::MARKETING_TEAM_GID,
                "Marketing",
                "Tells the world.",
                vec![me],
            ),
        ] {
            data.teams.insert(
                g(gid),
                Team {
                    name: name.into(),
                    description: description.into(),
                    workspace: acme,
                    members,
                },
            );
        }
        for (gid, name, workspace, team) in [
            (
                seed::BACKLOG_PROJECT_GID,
                "Backlog",
                acme,
                Some(g(seed::ENGINEERING_TEAM_GID)),
            ),
            (
                seed::LAUNCH_PROJECT_GID,
                "Launch plan",
                acme,
                Some(g(seed::MARKETING_TEAM_GID)),
            ),
            (seed::HOME_PROJECT_GID, "Home renovation", personal, None),
        ] {
            data.projects.insert(
                g(gid),
                Project {
                    name: name.into(),
                    notes: String::new(),
                    color: None,
                    archived: false,
                    workspace,
                    team,
                    owner: me,
                    created_at: SEED_CREATED_AT.into(),
                    modified_at: SEED_CREATED_AT.into(),
                },
            );
        }
        for (gid, name, project) in [
            (
                seed::BACKLOG_TODO_SECTION_GID,
                "To do",
                seed::BACKLOG_PROJECT_GID,
            ),
            (
                seed::BACKLOG_DOING_SECTION_GID,
                "In progress",
                seed::BACKLOG_PROJECT_GID,
            ),
            (
                seed::BACKLOG_DONE_SECTION_GID,
                "Done",
                seed::BACKLOG_PROJECT_GID,
            ),
            (
                seed::LAUNCH_SECTION_GID,
                "Untitled section",
                seed::LAUNCH_PROJECT_GID,
            ),
            (
                seed::HOME_SECTION_GID,
                "Untitled section",
                seed::HOME_PROJECT_GID,
            ),
        ] {
            data.sections.insert(
                g(gid),
                Section {
                    name: name.into(),
                    project: g(project),
                    created_at: SEED_CREATED_AT.into(),
                    rank: g(gid),
                },
            );
        }
        for (gid, name, color) in [
            (seed::URGENT_TAG_GID, "urgent", "dark-red"),
            (seed::BLOCKED_TAG_GID, "blocked", "dark-orange"),
        ] {
            data.tags.insert(
                g(gid),
                Tag {
                    name: name.into(),
                    color: Some(color.into()),
                    notes: String::new(),
                    workspace: acme,
                    created_at: SEED_CREATED_AT.into(),
                },
            );
        }
        let launch = (g(seed::LAUNCH_PROJECT_GID), g(seed::LAUNCH_SECTION_GID));
        let seeded_task = |name: &str, assignee: Option<Gid>, completed: bool| Task {
            name: name.into(),
            notes: String::new(),
            completed,
            completed_at: completed.then(|| SEED_COMPLETED_AT.to_string()),
            assignee,
            workspace: acme,
            memberships: vec![launch],
            parent: None,
            tags: Vec::new(),
            dependencies: Vec::new(),
            followers: Vec::new(),
            due_on: None,
            due_at: None,
            created_at: SEED_CREATED_AT.into(),
            modified_at: SEED_CREATED_AT.into(),
        };
        let draft = g(seed::DRAFT_TASK_GID);
        let mut draft_task = seeded_task("Draft announcement", Some(me), false);
        draft_task.notes = "Announce the launch on the blog.".into();
        draft_task.tags = vec![g(seed::URGENT_TAG_GID)];
        draft_task.due_on = Some("2024-03-01".into());
        data.tasks.insert(draft, draft_task);
        data.tasks.insert(
            g(seed::VENUE_TASK_GID),
            seeded_task("Book venue", None, true),
        );
        let mut invites = seeded_task("Send invites", Some(ada), false);
        invites.dependencies = vec![draft];
        data.tasks.insert(g(seed::INVITES_TASK_GID), invites);
        for (gid, name) in seed::DRAFT_SUBTASK_GIDS
            .into_iter()
            .zip(["Write draft", "Review draft"])
        {
            let mut subtask = seeded_task(name, Some(me), false);
            subtask.memberships.clear();
            subtask.parent = Some(draft);
            data.tasks.insert(g(gid), subtask);
        }
        data.stories.insert(
            g(seed::DRAFT_COMMENT_GID),
            Story {
                task: draft,
                text: "Looks good so far.".into(),
                html_text: "<body>Looks good so far.</body>".into(),
                created_by: me,
                created_at: SEED_CREATED_AT.into(),
                is_pinned: false,
            },
        );
        data.attachments.insert(
            g(seed::ANNOUNCEMENT_ATTACHMENT_GID),
            Attachment {
                name: seed::ANNOUNCEMENT_ATTACHMENT_NAME.into(),
                parent: draft,
                host: "asana".into(),
                content: Some(seed::ANNOUNCEMENT_ATTACHMENT_CONTENT.to_vec()),
                view_url: None,
                created_at: SEED_CREATED_AT.into(),
            },
        );
        data.attachments.insert(
            g(seed::DESIGN_DOC_ATTACHMENT_GID),
            Attachment {
                name: "Design doc".into(),
                parent: draft,
                host: "gdrive".into(),
                content: None,
                view_url: Some("https://docs.google.com/document/d/mock-design-doc".into()),
                created_at: SEED_CREATED_AT.into(),
            },
        );
        let backlog = g(seed::BACKLOG_PROJECT_GID);
        for (gid, i) in (seed::FIRST_BACKLOG_TASK_GID..).zip(1..=tasks_per_project) {
            let completed = i % 5 == 0;
            let section = if completed {
                seed::BACKLOG_DONE_SECTION_GID
            } else if i % 2 == 1 {
                seed::BACKLOG_TODO_SECTION_GID
            } else {
                seed::BACKLOG_DOING_SECTION_GID
            };
            data.tasks.insert(
                gid,
                Task {
                    name: format!("Backlog task {i:03}"),
                    notes: String::new(),
                    completed,
                    completed_at: completed.then(|| SEED_COMPLETED_AT.to_string()),
                    assignee: (i % 2 == 0).then_some(me),
                    workspace: acme,
                    memberships: vec![(backlog, g(section))],
                    parent: None,
                    tags: Vec::new(),
                    dependencies: Vec::new(),
                    followers: Vec::new(),
                    due_on: None,
                    due_at: None,
                    created_at: SEED_CREATED_AT.into(),
                    modified_at: SEED_CREATED_AT.into(),
                },
            );
        }
        data.seed_records();
        data
    }

    /// A fresh gid for an object created through the API.
    pub fn next_gid(&mut self) -> Gid {
        let gid = self.next_gid;
        self.next_gid += 1;
        gid
    }

    /// Looks a user up by gid, `me` or e-mail address.
    pub fn find_user(&self, me: Gid, key: &str) -> Option<Gid> {
        if key == "me" {
            return Some(me);
        }
        if let Ok(gid) = key.parse::<Gid>() {
            return self.users.contains_key(&gid).then_some(gid);
        }
        self.users
            .iter()
            .find(|(_, user)| user.email.eq_ignore_ascii_case(key))
            .map(|(gid, _)| *gid)
    }

    fn reference(gid: Gid, name: Option<&str>, resource_type: &str) -> Value {
        let mut map = Map::new();
        map.insert("gid".into(), gid_str(gid));
        if let Some(name) = name {
            map.insert("name".into(), Value::String(name.to_string()));
        }
        map.insert("resource_type".into(), Value::String(resource_type.into()));
        Value::Object(map)
    }

    pub fn user_ref(&self, gid: Gid) -> Value {
        Self::reference(gid, self.users.get(&gid).map(|u| u.name.as_str()), "user")
    }

    pub fn workspace_ref(&self, gid: Gid) -> Value {
        Self::reference(
            gid,
            self.workspaces.get(&gid).map(|w| w.name.as_str()),
            "workspace",
        )
    }

    pub fn team_ref(&self, gid: Gid) -> Value {
        Self::reference(gid, self.teams.get(&gid).map(|t| t.name.as_str()), "team")
    }

    pub fn project_ref(&self, gid: Gid) -> Value {
        Self::reference(
            gid,
            self.projects.get(&gid).map(|p| p.name.as_str()),
            "project",
        )
    }

    pub fn section_ref(&self, gid: Gid) -> Value {
        Self::reference(
            gid,
            self.sections.get(&gid).map(|s| s.name.as_str()),
            "section",
        )
    }

    pub fn task_ref(&self, gid: Gid) -> Value {
        Self::reference(gid, self.tasks.get(&gid).map(|t| t.name.as_str()), "task")
    }

    pub fn tag_ref(&self, gid: Gid) -> Value {
        Self::reference(gid, self.tags.get(&gid).map(|t| t.name.as_str()), "tag")
    }

    pub fn user_json(&self, gid: Gid, user: &User) -> Map<String, Value> {
        let value = json!({
            "gid": gid.to_string(),
            "resource_type": "user",
            "name": user.name,
            "email": user.email,
            "photo": null,
            "workspaces": user.workspaces.iter().map(|w| self.workspace_ref(*w)).collect::<Vec<_>>(),
        });
        into_map(value)
    }

    pub fn workspace_json(gid: Gid, workspace: &Workspace) -> Map<String, Value> {
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "workspace",
            "name": workspace.name,
            "is_organization": workspace.is_organization,
            "email_domains": workspace.email_domains,
        }))
    }

    pub fn team_json(&self, gid: Gid, team: &Team) -> Map<String, Value> {
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "team",
            "name": team.name,
            "description": team.description,
            "organization": self.workspace_ref(team.workspace),
            "permalink_url": format!("https://app.asana.com/0/{gid}/overview"),
        }))
    }

    pub fn project_json(&self, gid: Gid, project: &Project) -> Map<String, Value> {
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "project",
            "name": project.name,
            "notes": project.notes,
            "color": opt_string(&project.color),
            "archived": project.archived,
            "completed": false,
            "public": project.team.is_some(),
            "workspace": self.workspace_ref(project.workspace),
            "team": project.team.map_or(Value::Null, |t| self.team_ref(t)),
            "owner": self.user_ref(project.owner),
            "created_at": project.created_at,
            "modified_at": project.modified_at,
            "permalink_url": format!("https://app.asana.com/0/{gid}/list"),
        }))
    }

    pub fn section_json(&self, gid: Gid, section: &Section) -> Map<String, Value> {
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "section",
            "name": section.name,
            "created_at": section.created_at,
            "project": self.project_ref(section.project),
        }))
    }

    pub fn task_json(&self, gid: Gid, task: &Task) -> Map<String, Value> {
        let num_subtasks = self
            .tasks
            .values()
            .filter(|t| t.parent == Some(gid))
            .count();
        let mut projects: Vec<Gid> = Vec::new();
        for (project, _) in &task.memberships {
            if !projects.contains(project) {
                projects.push(*project);
            }
        }
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "task",
            "resource_subtype": "default_task",
            "name": task.name,
            "notes": task.notes,
            "completed": task.completed,
            "completed_at": opt_string(&task.completed_at),
            "assignee": task.assignee.map_or(Value::Null, |a| self.user_ref(a)),
            "workspace": self.workspace_ref(task.workspace),
            "projects": projects.iter().map(|p| self.project_ref(*p)).collect::<Vec<_>>(),
            "memberships": task.memberships.iter().map(|(p, s)| json!({
                "project": self.project_ref(*p),
                "section": self.section_ref(*s),
            })).collect::<Vec<_>>(),
            "parent": task.parent.map_or(Value::Null, |p| self.task_ref(p)),
            "tags": task.tags.iter().map(|t| self.tag_ref(*t)).collect::<Vec<_>>(),
            "followers": task.followers.iter().map(|u| self.user_ref(*u)).collect::<Vec<_>>(),
            "due_on": opt_string(&task.due_on),
            "due_at": opt_string(&task.due_at),
            "num_subtasks": num_subtasks,
            "created_at": task.created_at,
            "modified_at": task.modified_at,
            "permalink_url": format!("https://app.asana.com/0/0/{gid}/f"),
        }))
    }

    pub fn story_json(&self, gid: Gid, story: &Story) -> Map<String, Value> {
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "story",
            "resource_subtype": "comment_added",
            "type": "comment",
            "text": story.text,
            "html_text": story.html_text,
            "is_pinned": story.is_pinned,
            "created_at": story.created_at,
            "created_by": self.user_ref(story.created_by),
            "target": self.task_ref(story.task),
        }))
    }

    pub fn tag_json(&self, gid: Gid, tag: &Tag) -> Map<String, Value> {
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "tag",
            "name": tag.name,
            "color": opt_string(&tag.color),
            "notes": tag.notes,
            "created_at": tag.created_at,
            "followers": [],
            "workspace": self.workspace_ref(tag.workspace),
            "permalink_url": format!("https://app.asana.com/0/{gid}/list"),
        }))
    }

    /// The signature in an attachment's `download_url` (the mock's stand-in for a presigned URL).
    pub fn download_signature(gid: Gid) -> String {
        format!("mock-signature-{gid}")
    }

    /// An attachment; `origin` is the mock's base URI, where Asana-hosted files are served.
    pub fn attachment_json(
        &self,
        gid: Gid,
        attachment: &Attachment,
        origin: &str,
    ) -> Map<String, Value> {
        let download_url = attachment.content.as_ref().map_or(Value::Null, |_| {
            let mut url = format!("{origin}/-/attachments/{gid}/");
            url.extend(url::form_urlencoded::byte_serialize(
                attachment.name.as_bytes(),
            ));
            Value::String(format!(
                "{}?signature={}",
                url.replace('+', "%20"),
                Self::download_signature(gid)
            ))
        });
        let hosted = attachment.host == "asana";
        into_map(json!({
            "gid": gid.to_string(),
            "resource_type": "attachment",
            "resource_subtype": attachment.host,
            "name": attachment.name,
            "host": attachment.host,
            "created_at": attachment.created_at,
            "download_url": download_url,
            "permanent_url": hosted.then(|| format!("https://app.asana.com/app/asana/-/get_asset?asset_id={gid}")),
            "view_url": attachment.view_url,
            "size": attachment.content.as_ref().map(Vec::len),
            "parent": if self.projects.contains_key(&attachment.parent) {
                self.project_ref(attachment.parent)
            } else {
                self.task_ref(attachment.parent)
            },
            "connected_to_app": false,
        }))
    }

    /// The full representation of any object, whatever its type (`origin` as for attachments).
    pub fn any_json(&self, gid: Gid, origin: &str) -> Option<Map<String, Value>> {
        if let Some(attachment) = self.attachments.get(&gid) {
            return Some(self.attachment_json(gid, attachment, origin));
        }
        if let Some(user) = self.users.get(&gid) {
            return Some(self.user_json(gid, user));
        }
        if let Some(workspace) = self.workspaces.get(&gid) {
            return Some(Self::workspace_json(gid, workspace));
        }
        if let Some(team) = self.teams.get(&gid) {
            return Some(self.team_json(gid, team));
        }
        if let Some(project) = self.projects.get(&gid) {
            return Some(self.project_json(gid, project));
        }
        if let Some(section) = self.sections.get(&gid) {
            return Some(self.section_json(gid, section));
        }
        if let Some(task) = self.tasks.get(&gid) {
            return Some(self.task_json(gid, task));
        }
        if let Some(story) = self.stories.get(&gid) {
            return Some(self.story_json(gid, story));
        }
        if let Some(tag) = self.tags.get(&gid) {
            return Some(self.tag_json(gid, tag));
        }
        self.record_json(gid)
    }

    /// Deletes a task, its subtasks (recursively) and their stories; other tasks stop depending
    /// on them. Logs a `deleted` event by `user` for each task.
    pub fn delete_task(&mut self, gid: Gid, user: Gid) {
        let mut pending = vec![gid];
        while let Some(current) = pending.pop() {
            self.log_task(user, Action::Deleted, current, None);
            self.tasks.remove(&current);
            self.stories.retain(|_, story| story.task != current);
            self.attachments.retain(|_, a| a.parent != current);
            for task in self.tasks.values_mut() {
                task.dependencies.retain(|d| *d != current);
            }
            pending.extend(
                self.tasks
                    .iter()
                    .filter(|(_, t)| t.parent == Some(current))
                    .map(|(g, _)| *g),
            );
        }
    }

    /// Deletes a project and its sections; its tasks leave it but survive.
    pub fn delete_project(&mut self, gid: Gid) {
        self.projects.remove(&gid);
        self.sections.retain(|_, section| section.project != gid);
        for task in self.tasks.values_mut() {
            task.memberships.retain(|(project, _)| *project != gid);
        }
    }

    /// Deletes a tag and removes it from every task.
    pub fn delete_tag(&mut self, gid: Gid) {
        self.tags.remove(&gid);
        for task in self.tasks.values_mut() {
            task.tags.retain(|tag| *tag != gid);
        }
    }

    /// The first section of a project, where new tasks of that project go.
    pub fn first_section(&self, project: Gid) -> Option<Gid> {
        self.project_sections(project).first().copied()
    }

    /// A project's sections in their order.
    pub fn project_sections(&self, project: Gid) -> Vec<Gid> {
        let mut sections: Vec<(u64, Gid)> = self
            .sections
            .iter()
            .filter(|(_, s)| s.project == project)
            .map(|(gid, s)| (s.rank, *gid))
            .collect();
        sections.sort_unstable();
        sections.into_iter().map(|(_, gid)| gid).collect()
    }
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_asana_shape() {
        let now = now_timestamp();
        assert_eq!(now.len(), "2024-01-15T09:00:00.000Z".len(), "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }

    #[test]
    fn seed_is_deterministic_and_sized() {
        let data = Data::seeded(7);
        let backlog = g(seed::BACKLOG_PROJECT_GID);
        let in_backlog: Vec<Gid> = data
            .tasks
            .iter()
            .filter(|(_, t)| t.memberships.iter().any(|(p, _)| *p == backlog))
            .map(|(gid, _)| *gid)
            .collect();
        assert_eq!(
            in_backlog,
            (0..7)
                .map(|i| seed::FIRST_BACKLOG_TASK_GID + i)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            data.tasks[&seed::FIRST_BACKLOG_TASK_GID].name,
            "Backlog task 001"
        );
        assert!(data.tasks[&(seed::FIRST_BACKLOG_TASK_GID + 4)].completed);
    }
}
