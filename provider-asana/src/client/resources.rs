//! Typed methods per resource. Each handle borrows the client: `client.tasks().get("1", &[])`.
//!
//! Reads take `opt_fields` (sent comma-separated; `&[]` for Asana's default fields); lists return a
//! [`List`] (`.opt_fields(..)`, `.param(..)`, then `.page()` or `.stream()`). Creates and updates take
//! any `Serialize` body that is a JSON object (a typed request from [`crate::models`] or a
//! `serde_json::Value`) and send it as `{"data": {...}}`.

use std::path::Path;

use asana_endpoints::Op;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::io::AsyncWrite;
use url::Url;

use super::download::{DownloadOptions, PartFile};
use super::transport::{ApiRequest, RequestBody, decode, error_info};
use super::{AsanaClient, DataEnvelope, DownloadAccess, List, MAX_PAGE_SIZE, method_of, to_object};
use crate::error::AsanaError;
use crate::models::{
    Attachment, AttachmentUpload, CustomField, CustomFieldSetting, Event, EventsResponse, Project,
    ProjectPlacement, Section, Story, Tag, Task, Team, User, Webhook, Workspace,
};

const PAGED: Option<u32> = Some(MAX_PAGE_SIZE);

/// Declares a resource handle.
macro_rules! handle {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            client: &'a AsanaClient,
        }

        impl<'a> $name<'a> {
            pub(super) fn new(client: &'a AsanaClient) -> Self {
                Self { client }
            }
        }
    };
}

fn fields_query(opt_fields: &[&str]) -> Option<String> {
    (!opt_fields.is_empty()).then(|| opt_fields.join(","))
}

impl AsanaClient {
    async fn get_with_fields<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        params: &[&str],
        opt_fields: &[&str],
    ) -> Result<T, AsanaError> {
        match fields_query(opt_fields) {
            Some(fields) => self.get_data(op, params, &[("opt_fields", &fields)]).await,
            None => self.get_data(op, params, &[]).await,
        }
    }

    async fn send_body<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        params: &[&str],
        body: Map<String, Value>,
    ) -> Result<T, AsanaError> {
        let url = self.endpoint(op, params)?;
        self.data_call(method_of(op), url, Some(body)).await
    }

    /// The body as an object, with the default workspace added when none of `targets` is set.
    fn with_default_workspace<B: Serialize + ?Sized>(
        &self,
        body: &B,
        targets: &[&str],
        operation: &'static str,
    ) -> Result<Map<String, Value>, AsanaError> {
        let mut fields = to_object(body)?;
        if !targets.iter().any(|key| fields.contains_key(*key)) {
            let workspace = self.workspace_or_default(None, operation)?;
            fields.insert("workspace".into(), Value::String(workspace));
        }
        Ok(fields)
    }

    fn workspace_endpoint(
        &self,
        op: Op,
        workspace: Option<&str>,
        operation: &'static str,
    ) -> Result<Url, AsanaError> {
        let workspace = self.workspace_or_default(workspace, operation)?;
        self.endpoint(op, &[&workspace])
    }
}

fn object(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect()
}

handle! {
    /// Users: `client.users()`.
    Users
}

impl Users<'_> {
    /// `GET /users/{gid|me|email}`.
    pub async fn get(&self, user: &str, opt_fields: &[&str]) -> Result<User, AsanaError> {
        self.client
            .get_with_fields(Op::GetUser, &[user], opt_fields)
            .await
    }

    /// `GET /users?workspace=` (the default workspace when `None`).
    pub fn list_for_workspace(&self, workspace: Option<&str>) -> List<User> {
        let target = self
            .client
            .workspace_or_default(workspace, "listing users")
            .and_then(|workspace| {
                let mut url = self.client.endpoint(Op::GetUsers, &[])?;
                url.query_pairs_mut().append_pair("workspace", &workspace);
                Ok(url)
            });
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /users?team=`, page by page. (`GET /teams/{gid}/users` takes no `limit`, so Asana
    /// answers it with one page, cut short on a big team.)
    pub fn list_for_team(&self, team: &str) -> List<User> {
        let target = if team.is_empty() {
            Err(AsanaError::InvalidArgument {
                name: "team",
                reason: "must be a team's gid, not empty".into(),
            })
        } else {
            self.client.endpoint(Op::GetUsers, &[]).map(|mut url| {
                url.query_pairs_mut().append_pair("team", team);
                url
            })
        };
        self.client.list_at(target, &[], PAGED)
    }
}

handle! {
    /// Workspaces: `client.workspaces()`.
    Workspaces
}

impl Workspaces<'_> {
    /// `GET /workspaces`.
    pub fn list(&self) -> List<Workspace> {
        let target = self.client.endpoint(Op::GetWorkspaces, &[]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /workspaces/{gid}`.
    pub async fn get(&self, workspace: &str, opt_fields: &[&str]) -> Result<Workspace, AsanaError> {
        self.client
            .get_with_fields(Op::GetWorkspace, &[workspace], opt_fields)
            .await
    }
}

handle! {
    /// Teams: `client.teams()`.
    Teams
}

impl Teams<'_> {
    /// `GET /teams/{gid}`.
    pub async fn get(&self, team: &str, opt_fields: &[&str]) -> Result<Team, AsanaError> {
        self.client
            .get_with_fields(Op::GetTeam, &[team], opt_fields)
            .await
    }

    /// `GET /workspaces/{gid}/teams` (the default workspace when `None`).
    pub fn list_for_workspace(&self, workspace: Option<&str>) -> List<Team> {
        let target =
            self.client
                .workspace_endpoint(Op::GetTeamsForWorkspace, workspace, "listing teams");
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /users/{gid}/teams?organization=` (the default workspace when `None`).
    pub fn list_for_user(&self, user: &str, organization: Option<&str>) -> List<Team> {
        let target = self
            .client
            .workspace_or_default(organization, "listing a user's teams")
            .and_then(|organization| {
                let mut url = self.client.endpoint(Op::GetTeamsForUser, &[user])?;
                url.query_pairs_mut()
                    .append_pair("organization", &organization);
                Ok(url)
            });
        self.client.list_at(target, &[], PAGED)
    }
}

handle! {
    /// Projects: `client.projects()`.
    Projects
}

impl Projects<'_> {
    /// `GET /workspaces/{gid}/projects` (the default workspace when `None`). Filter with
    /// `.param("archived", "false")`.
    pub fn list_for_workspace(&self, workspace: Option<&str>) -> List<Project> {
        let target = self.client.workspace_endpoint(
            Op::GetProjectsForWorkspace,
            workspace,
            "listing projects",
        );
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /teams/{gid}/projects`.
    pub fn list_for_team(&self, team: &str) -> List<Project> {
        let target = self.client.endpoint(Op::GetProjectsForTeam, &[team]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /tasks/{gid}/projects`: the projects a task is in.
    pub fn list_for_task(&self, task: &str) -> List<Project> {
        let target = self.client.endpoint(Op::GetProjectsForTask, &[task]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /projects/{gid}`.
    pub async fn get(&self, project: &str, opt_fields: &[&str]) -> Result<Project, AsanaError> {
        self.client
            .get_with_fields(Op::GetProject, &[project], opt_fields)
            .await
    }

    /// `POST /projects`. Without `workspace` and `team` in the body, the default workspace is used.
    pub async fn create<B: Serialize + ?Sized>(&self, body: &B) -> Result<Project, AsanaError> {
        let fields = self.client.with_default_workspace(
            body,
            &["workspace", "team"],
            "creating a project",
        )?;
        self.client.send_body(Op::CreateProject, &[], fields).await
    }

    /// `PUT /projects/{gid}`.
    pub async fn update<B: Serialize + ?Sized>(
        &self,
        project: &str,
        body: &B,
    ) -> Result<Project, AsanaError> {
        self.client
            .send_body(Op::UpdateProject, &[project], to_object(body)?)
            .await
    }

    /// `DELETE /projects/{gid}`.
    pub async fn delete(&self, project: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(Op::DeleteProject, &[project], None)
            .await
    }
}

handle! {
    /// Sections: `client.sections()`.
    Sections
}

impl Sections<'_> {
    /// `GET /projects/{gid}/sections`.
    pub fn list_for_project(&self, project: &str) -> List<Section> {
        let target = self.client.endpoint(Op::GetSectionsForProject, &[project]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /sections/{gid}`.
    pub async fn get(&self, section: &str, opt_fields: &[&str]) -> Result<Section, AsanaError> {
        self.client
            .get_with_fields(Op::GetSection, &[section], opt_fields)
            .await
    }

    /// `POST /projects/{gid}/sections` (see [`crate::models::SectionBody`]).
    pub async fn create<B: Serialize + ?Sized>(
        &self,
        project: &str,
        body: &B,
    ) -> Result<Section, AsanaError> {
        self.client
            .send_body(Op::CreateSectionForProject, &[project], to_object(body)?)
            .await
    }

    /// `PUT /sections/{gid}`.
    pub async fn update<B: Serialize + ?Sized>(
        &self,
        section: &str,
        body: &B,
    ) -> Result<Section, AsanaError> {
        self.client
            .send_body(Op::UpdateSection, &[section], to_object(body)?)
            .await
    }

    /// `DELETE /sections/{gid}` (only empty sections can be deleted).
    pub async fn delete(&self, section: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(Op::DeleteSection, &[section], None)
            .await
    }

    /// `POST /sections/{gid}/addTask`: moves a task into the section (at its top).
    pub async fn add_task(&self, section: &str, task: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(
                Op::AddTaskForSection,
                &[section],
                Some(object(&[("task", task)])),
            )
            .await
    }
}

handle! {
    /// Tasks: `client.tasks()`.
    Tasks
}

impl Tasks<'_> {
    /// `GET /projects/{gid}/tasks`. Filter with `.param("completed_since", "now")`.
    pub fn list_for_project(&self, project: &str) -> List<Task> {
        let target = self.client.endpoint(Op::GetTasksForProject, &[project]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /sections/{gid}/tasks`.
    pub fn list_for_section(&self, section: &str) -> List<Task> {
        let target = self.client.endpoint(Op::GetTasksForSection, &[section]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /tags/{gid}/tasks`.
    pub fn list_for_tag(&self, tag: &str) -> List<Task> {
        let target = self.client.endpoint(Op::GetTasksForTag, &[tag]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /tasks?assignee=&workspace=` (the default workspace when `None`); `assignee` is a user
    /// gid, an email or `me`.
    pub fn list_for_assignee(&self, assignee: &str, workspace: Option<&str>) -> List<Task> {
        let target = self
            .client
            .workspace_or_default(workspace, "listing a user's tasks")
            .and_then(|workspace| {
                let mut url = self.client.endpoint(Op::GetTasks, &[])?;
                url.query_pairs_mut()
                    .append_pair("assignee", assignee)
                    .append_pair("workspace", &workspace);
                Ok(url)
            });
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /workspaces/{gid}/tasks/search` (premium: 402 otherwise; the default workspace when
    /// `None`). Add criteria with `.param("text", "...")`, `.param("projects.any", "1,2")`...
    /// Search has no offset pagination: a stream ends after one page of at most 100 tasks.
    pub fn search(&self, workspace: Option<&str>) -> List<Task> {
        let target = self
            .client
            .workspace_or_default(workspace, "searching tasks")
            .and_then(|workspace| {
                self.client
                    .endpoint(Op::SearchTasksForWorkspace, &[&workspace])
            });
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /tasks/{gid}`.
    pub async fn get(&self, task: &str, opt_fields: &[&str]) -> Result<Task, AsanaError> {
        self.client
            .get_with_fields(Op::GetTask, &[task], opt_fields)
            .await
    }

    /// `POST /tasks`. Without `workspace`, `projects`, `parent` or `memberships` in the body, the
    /// default workspace is used.
    pub async fn create<B: Serialize + ?Sized>(&self, body: &B) -> Result<Task, AsanaError> {
        let fields = self.client.with_default_workspace(
            body,
            &["workspace", "projects", "parent", "memberships"],
            "creating a task",
        )?;
        self.client.send_body(Op::CreateTask, &[], fields).await
    }

    /// `PUT /tasks/{gid}`.
    pub async fn update<B: Serialize + ?Sized>(
        &self,
        task: &str,
        body: &B,
    ) -> Result<Task, AsanaError> {
        self.client
            .send_body(Op::UpdateTask, &[task], to_object(body)?)
            .await
    }

    /// `DELETE /tasks/{gid}`.
    pub async fn delete(&self, task: &str) -> Result<(), AsanaError> {
        self.client.write_call(Op::DeleteTask, &[task], None).await
    }

    /// `GET /tasks/{gid}/subtasks`.
    pub fn subtasks(&self, task: &str) -> List<Task> {
        let target = self.client.endpoint(Op::GetSubtasksForTask, &[task]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `POST /tasks/{gid}/subtasks`.
    pub async fn create_subtask<B: Serialize + ?Sized>(
        &self,
        parent: &str,
        body: &B,
    ) -> Result<Task, AsanaError> {
        self.client
            .send_body(Op::CreateSubtaskForTask, &[parent], to_object(body)?)
            .await
    }

    /// `GET /tasks/{gid}/dependencies`: the tasks this task waits for.
    pub fn dependencies(&self, task: &str) -> List<Task> {
        let target = self.client.endpoint(Op::GetDependenciesForTask, &[task]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /tasks/{gid}/dependents`: the tasks waiting for this task.
    pub fn dependents(&self, task: &str) -> List<Task> {
        let target = self.client.endpoint(Op::GetDependentsForTask, &[task]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `POST /tasks/{gid}/addTag`.
    pub async fn add_tag(&self, task: &str, tag: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(Op::AddTagForTask, &[task], Some(object(&[("tag", tag)])))
            .await
    }

    /// `POST /tasks/{gid}/removeTag`.
    pub async fn remove_tag(&self, task: &str, tag: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(Op::RemoveTagForTask, &[task], Some(object(&[("tag", tag)])))
            .await
    }

    /// `POST /tasks/{gid}/addProject`, optionally placing the task (section, before/after).
    pub async fn add_project(
        &self,
        task: &str,
        project: &str,
        placement: Option<&ProjectPlacement>,
    ) -> Result<(), AsanaError> {
        let mut fields = match placement {
            Some(placement) => to_object(placement)?,
            None => Map::new(),
        };
        fields.insert("project".into(), Value::String(project.to_string()));
        self.client
            .write_call(Op::AddProjectForTask, &[task], Some(fields))
            .await
    }

    /// `POST /tasks/{gid}/removeProject`.
    pub async fn remove_project(&self, task: &str, project: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(
                Op::RemoveProjectForTask,
                &[task],
                Some(object(&[("project", project)])),
            )
            .await
    }
}

handle! {
    /// Stories and comments: `client.stories()`.
    Stories
}

impl Stories<'_> {
    /// `GET /tasks/{gid}/stories`: comments and activity, oldest first.
    pub fn list_for_task(&self, task: &str) -> List<Story> {
        let target = self.client.endpoint(Op::GetStoriesForTask, &[task]);
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /stories/{gid}`.
    pub async fn get(&self, story: &str, opt_fields: &[&str]) -> Result<Story, AsanaError> {
        self.client
            .get_with_fields(Op::GetStory, &[story], opt_fields)
            .await
    }

    /// `POST /tasks/{gid}/stories`: adds a comment (`text` or `html_text`, see
    /// [`crate::models::CreateComment`]).
    pub async fn create_comment<B: Serialize + ?Sized>(
        &self,
        task: &str,
        body: &B,
    ) -> Result<Story, AsanaError> {
        self.client
            .send_body(Op::CreateStoryForTask, &[task], to_object(body)?)
            .await
    }
}

handle! {
    /// Tags: `client.tags()`.
    Tags
}

impl Tags<'_> {
    /// `GET /workspaces/{gid}/tags` (the default workspace when `None`).
    pub fn list_for_workspace(&self, workspace: Option<&str>) -> List<Tag> {
        let target =
            self.client
                .workspace_endpoint(Op::GetTagsForWorkspace, workspace, "listing tags");
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /tags/{gid}`.
    pub async fn get(&self, tag: &str, opt_fields: &[&str]) -> Result<Tag, AsanaError> {
        self.client
            .get_with_fields(Op::GetTag, &[tag], opt_fields)
            .await
    }

    /// `POST /tags`. Without `workspace` in the body, the default workspace is used.
    pub async fn create<B: Serialize + ?Sized>(&self, body: &B) -> Result<Tag, AsanaError> {
        let fields = self
            .client
            .with_default_workspace(body, &["workspace"], "creating a tag")?;
        self.client.send_body(Op::CreateTag, &[], fields).await
    }

    /// `PUT /tags/{gid}`.
    pub async fn update<B: Serialize + ?Sized>(
        &self,
        tag: &str,
        body: &B,
    ) -> Result<Tag, AsanaError> {
        self.client
            .send_body(Op::UpdateTag, &[tag], to_object(body)?)
            .await
    }

    /// `DELETE /tags/{gid}`.
    pub async fn delete(&self, tag: &str) -> Result<(), AsanaError> {
        self.client.write_call(Op::DeleteTag, &[tag], None).await
    }

    /// `GET /tags/{gid}/tasks`: the tasks with this tag.
    pub fn tasks(&self, tag: &str) -> List<Task> {
        Tasks::new(self.client).list_for_tag(tag)
    }
}

handle! {
    /// Attachments: `client.attachments()`.
    Attachments
}

impl Attachments<'_> {
    /// `GET /attachments?parent=`: the files attached to a task or project.
    pub fn list_for_parent(&self, parent: &str) -> List<Attachment> {
        let target = self.client.endpoint(Op::GetAttachmentsForObject, &[]);
        self.client.list_at(target, &[("parent", parent)], PAGED)
    }

    /// `GET /attachments/{gid}`.
    pub async fn get(
        &self,
        attachment: &str,
        opt_fields: &[&str],
    ) -> Result<Attachment, AsanaError> {
        self.client
            .get_with_fields(Op::GetAttachment, &[attachment], opt_fields)
            .await
    }

    /// `POST /attachments` (multipart `parent` and `file`); to attach a link instead, see
    /// [`Attachments::attach_url`]. The upload is never retried after a
    /// 5xx or a lost connection (it is a POST); it is after a 429 or a refreshed 401.
    ///
    /// A file name that is not ASCII is sent URL-encoded (`résumé.pdf` as
    /// `r%C3%A9sum%C3%A9.pdf`), as Asana asks; Asana shows it decoded.
    pub async fn upload(&self, mut upload: AttachmentUpload) -> Result<Attachment, AsanaError> {
        if !upload.file_name.is_ascii() {
            upload.file_name = url::form_urlencoded::byte_serialize(upload.file_name.as_bytes())
                .collect::<String>()
                .replace('+', "%20");
        }
        if reqwest::multipart::Part::bytes(Vec::new())
            .mime_str(&upload.content_type)
            .is_err()
        {
            return Err(AsanaError::InvalidArgument {
                name: "content_type",
                reason: "is not a valid MIME type".into(),
            });
        }
        let url = self.client.endpoint(Op::CreateAttachmentForObject, &[])?;
        let req = ApiRequest::new(Method::POST, url, RequestBody::File(Box::new(upload)));
        let response = self.client.execute(&req).await?;
        decode::<DataEnvelope<Attachment>>(&req, &response).map(|envelope| envelope.data)
    }

    /// `POST /attachments` with `resource_subtype=external`: attaches a link (a shared drive file,
    /// a web page ...) to a task or project. Asana stores the URL and the name, not the content.
    ///
    /// `url` must be an absolute http or https URL without whitespace or control characters, and
    /// `name` must not be blank; otherwise this is [`AsanaError::InvalidArgument`] and nothing is
    /// sent. The URL is sent in its normalized form (`https://Docs.Example` becomes
    /// `https://docs.example/`). Retried like [`Attachments::upload`].
    pub async fn attach_url(
        &self,
        parent: &str,
        url: &str,
        name: &str,
    ) -> Result<Attachment, AsanaError> {
        self.post_link::<DataEnvelope<Attachment>>(parent, url, name)
            .await
            .map(|envelope| envelope.data)
    }

    /// [`Attachments::attach_url`], with the response decoded as `D` (the connector keeps the
    /// raw JSON).
    pub(crate) async fn post_link<D: serde::de::DeserializeOwned>(
        &self,
        parent: &str,
        url: &str,
        name: &str,
    ) -> Result<D, AsanaError> {
        let invalid = |arg: &'static str, reason: &str| AsanaError::InvalidArgument {
            name: arg,
            reason: reason.into(),
        };
        if parent.trim().is_empty() {
            return Err(invalid("parent", "must be a task or project gid"));
        }
        // The URL parser would quietly drop whitespace and control characters; refuse them instead.
        let link = match Url::parse(url) {
            Ok(link)
                if matches!(link.scheme(), "http" | "https")
                    && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                link
            }
            _ => return Err(invalid("url", "must be an absolute http or https URL")),
        };
        if name.trim().is_empty() {
            return Err(invalid("name", "must not be blank"));
        }
        let fields = [
            ("parent", parent.to_string()),
            ("resource_subtype", "external".to_string()),
            ("url", link.to_string()),
            ("name", name.to_string()),
        ];
        let endpoint = self.client.endpoint(Op::CreateAttachmentForObject, &[])?;
        let req = ApiRequest::new(
            Method::POST,
            endpoint,
            RequestBody::Fields(Box::new(fields)),
        );
        let response = self.client.execute(&req).await?;
        decode(&req, &response)
    }

    /// `DELETE /attachments/{gid}`.
    pub async fn delete(&self, attachment: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(Op::DeleteAttachment, &[attachment], None)
            .await
    }

    /// Downloads an attachment's content into memory: reads its fresh `download_url`, then
    /// fetches it as [`Attachments::download_from`] does. For large files, stream them with
    /// [`Attachments::download_to`] or [`Attachments::download_to_file`].
    pub async fn download(&self, attachment: &str) -> Result<Bytes, AsanaError> {
        let url = self.fresh_download_url(attachment).await?;
        self.download_from(&url).await
    }

    /// Streams an attachment's content (all of it, or `options.range`) into `writer`, chunk by
    /// chunk, and returns how many bytes were written. It reads the attachment's fresh
    /// `download_url`, then fetches it as [`Attachments::stream_from`] does.
    pub async fn download_to<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        attachment: &str,
        writer: &mut W,
        options: &DownloadOptions,
    ) -> Result<u64, AsanaError> {
        let url = self.fresh_download_url(attachment).await?;
        self.stream_from(&url, writer, options).await
    }

    /// Streams an attachment's content into the file at `path` and returns its size. The bytes
    /// go to a new temporary file beside `path`, which is synced and then renamed to `path`
    /// (replacing any file there) only once the download is complete: a failed download leaves
    /// no file and an existing `path` untouched.
    pub async fn download_to_file(
        &self,
        attachment: &str,
        path: impl AsRef<Path>,
        options: &DownloadOptions,
    ) -> Result<u64, AsanaError> {
        let path = path.as_ref();
        let url = self.fresh_download_url(attachment).await?;
        let (url, access) = self.allowed_download(&url)?;
        let (part, mut file) = PartFile::create(path).await?;
        let written = self
            .client
            .stream_download(url, access, options, &mut file)
            .await?;
        part.persist(file, path).await?;
        Ok(written)
    }

    /// Streams a `download_url` into `writer`, as [`Attachments::download_from`] fetches it (the
    /// same hosts allowed, the token only under the API base URL, nothing sent to a refused URL),
    /// and returns how many bytes were written.
    ///
    /// With `options.range`, it sends `Range: bytes=first-last`; a 206 must answer from the first
    /// byte asked for ([`AsanaError::DownloadRange`] otherwise, and for a 416). A server that
    /// ignores `Range` answers 200 with the whole file: the bytes before and after the range are
    /// then read and dropped, so `writer` gets the same bytes either way.
    ///
    /// No size cap unless `options.max_bytes` is set (`max_download_bytes` bounds only the
    /// in-memory downloads). The response headers and each chunk must come within the
    /// [`timeout`](crate::AsanaClientSettings::timeout), the whole download within the
    /// [`deadline`](crate::AsanaClientSettings::deadline): raise it for very large files. It is
    /// sent once; after a failure `writer` holds an incomplete prefix.
    pub async fn stream_from<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        download_url: &str,
        writer: &mut W,
        options: &DownloadOptions,
    ) -> Result<u64, AsanaError> {
        let (url, access) = self.allowed_download(download_url)?;
        self.client
            .stream_download(url, access, options, writer)
            .await
    }

    /// The attachment's current `download_url`.
    async fn fresh_download_url(&self, attachment: &str) -> Result<String, AsanaError> {
        self.get(attachment, &["download_url"])
            .await?
            .download_url
            .ok_or_else(|| AsanaError::InvalidArgument {
                name: "attachment",
                reason: "has no download_url (externally hosted files cannot be downloaded)".into(),
            })
    }

    /// `download_url` parsed, if it may be fetched, and how.
    fn allowed_download(&self, download_url: &str) -> Result<(Url, DownloadAccess), AsanaError> {
        let url = Url::parse(download_url).map_err(|e| AsanaError::InvalidUrl {
            what: "attachment download",
            reason: e.to_string(),
        })?;
        let access = self.client.download_access(&url)?;
        Ok((url, access))
    }

    /// Fetches a `download_url`, once, reading at most
    /// [`AsanaClientSettings::max_download_bytes`](crate::AsanaClientSettings::max_download_bytes)
    /// (beyond that, [`AsanaError::DownloadTooLarge`] without reading the rest).
    ///
    /// Asana's are pre-signed https URLs on storage hosts: they are fetched WITHOUT the token. A
    /// URL on the API origin is fetched too, with the token only under the API base URL. Anything
    /// else, plain http elsewhere, a loopback, private, link-local or otherwise non-public host or
    /// the host of a proxy set in the environment, fails with
    /// [`AsanaError::InvalidUrl`] before anything is sent; so does a host whose name resolves
    /// only to such addresses, judged on the addresses it connects to (when a proxy is set in
    /// the environment, the proxy resolves the name, and this check is left to it). Downloads
    /// from hosts other than the API origin go through this crate's own HTTP client, even when
    /// [`AsanaClientSettings::http_client`](crate::AsanaClientSettings::http_client) is set.
    pub async fn download_from(&self, download_url: &str) -> Result<Bytes, AsanaError> {
        self.download_within(download_url, self.client.settings().max_download_bytes)
            .await
    }

    /// [`Attachments::download_from`] reading at most `limit` bytes.
    pub(crate) async fn download_within(
        &self,
        download_url: &str,
        limit: usize,
    ) -> Result<Bytes, AsanaError> {
        let (url, access) = self.allowed_download(download_url)?;
        self.client.fetch_download(url, access, limit).await
    }
}

handle! {
    /// Custom fields: `client.custom_fields()`.
    CustomFields
}

impl CustomFields<'_> {
    /// `GET /workspaces/{gid}/custom_fields` (the default workspace when `None`).
    pub fn list_for_workspace(&self, workspace: Option<&str>) -> List<CustomField> {
        let target = self.client.workspace_endpoint(
            Op::GetCustomFieldsForWorkspace,
            workspace,
            "listing custom fields",
        );
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /custom_fields/{gid}`.
    pub async fn get(
        &self,
        custom_field: &str,
        opt_fields: &[&str],
    ) -> Result<CustomField, AsanaError> {
        self.client
            .get_with_fields(Op::GetCustomField, &[custom_field], opt_fields)
            .await
    }

    /// `GET /projects/{gid}/custom_field_settings`.
    pub fn settings_for_project(&self, project: &str) -> List<CustomFieldSetting> {
        let target = self
            .client
            .endpoint(Op::GetCustomFieldSettingsForProject, &[project]);
        self.client.list_at(target, &[], PAGED)
    }
}

handle! {
    /// Webhooks: `client.webhooks()`. See [`crate::webhooks`] for receiving them.
    Webhooks
}

impl Webhooks<'_> {
    /// `POST /webhooks` (see [`crate::models::CreateWebhook`]). Asana performs the handshake with
    /// the target before answering.
    pub async fn create<B: Serialize + ?Sized>(&self, body: &B) -> Result<Webhook, AsanaError> {
        self.client
            .send_body(Op::CreateWebhook, &[], to_object(body)?)
            .await
    }

    /// `GET /webhooks?workspace=&resource=` (the default workspace when `None`).
    pub fn list(&self, workspace: Option<&str>, resource: Option<&str>) -> List<Webhook> {
        let target = self
            .client
            .workspace_or_default(workspace, "listing webhooks")
            .and_then(|workspace| {
                let mut url = self.client.endpoint(Op::GetWebhooks, &[])?;
                url.query_pairs_mut().append_pair("workspace", &workspace);
                if let Some(resource) = resource {
                    url.query_pairs_mut().append_pair("resource", resource);
                }
                Ok(url)
            });
        self.client.list_at(target, &[], PAGED)
    }

    /// `GET /webhooks/{gid}`.
    pub async fn get(&self, webhook: &str, opt_fields: &[&str]) -> Result<Webhook, AsanaError> {
        self.client
            .get_with_fields(Op::GetWebhook, &[webhook], opt_fields)
            .await
    }

    /// `DELETE /webhooks/{gid}`.
    pub async fn delete(&self, webhook: &str) -> Result<(), AsanaError> {
        self.client
            .write_call(Op::DeleteWebhook, &[webhook], None)
            .await
    }
}

handle! {
    /// Events: `client.events()`.
    Events
}

#[derive(Deserialize)]
struct EventsBody {
    #[serde(default)]
    data: Vec<Event>,
    sync: String,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
struct SyncResetBody {
    sync: Option<String>,
}

impl Events<'_> {
    /// `GET /events?resource=&sync=`: the changes to `resource` since `sync`.
    ///
    /// Pass `None` the first time. When Asana answers 412 (first call, or the token expired) the
    /// result has `sync_reset: true`, no events and a fresh `sync` to use next time; this is not
    /// an error.
    pub async fn get(
        &self,
        resource: &str,
        sync: Option<&str>,
    ) -> Result<EventsResponse, AsanaError> {
        let mut url = self.client.endpoint(Op::GetEvents, &[])?;
        url.query_pairs_mut().append_pair("resource", resource);
        if let Some(sync) = sync {
            url.query_pairs_mut().append_pair("sync", sync);
        }
        let mut req = ApiRequest::new(Method::GET, url, RequestBody::Empty);
        req.also_ok = Some(StatusCode::PRECONDITION_FAILED);
        let response = self.client.execute(&req).await?;
        if response.status == StatusCode::PRECONDITION_FAILED {
            return match decode::<SyncResetBody>(&req, &response)
                .ok()
                .and_then(|b| b.sync)
            {
                Some(sync) => Ok(EventsResponse {
                    events: Vec::new(),
                    sync,
                    has_more: false,
                    sync_reset: true,
                }),
                None => Err(AsanaError::UnexpectedStatus(error_info(
                    &req,
                    response.status,
                    &response.body,
                    &response.token,
                ))),
            };
        }
        let body: EventsBody = decode(&req, &response)?;
        Ok(EventsResponse {
            events: body.data,
            sync: body.sync,
            has_more: body.has_more,
            sync_reset: false,
        })
    }
}
