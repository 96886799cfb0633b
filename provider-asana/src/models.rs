//! Typed Asana resources, pages and request bodies.
//!
//! Every response model keeps the fields this crate does not name in `extra`, so nothing Asana sends
//! is lost (ask for more with `opt_fields`). Fields Asana may omit (compact records, `opt_fields`
//! selections) are `Option`. Request bodies skip `None` fields; put anything else in their `extra`.
//! Dates and times are kept as the strings Asana sends (`2024-05-01`, RFC 3339 date-times).
//! Single nested objects (a task's `assignee`, a custom field's `enum_value`, ...) are boxed
//! (`Option<Box<Compact>>`): they are often absent, and inline they made a `Task` 792 bytes instead of
//! 528. They serialize as before; read one with `task.assignee.as_deref()`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Declares a response model: `gid`, `resource_type`, the given optional fields and `extra`.
macro_rules! resource {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
pub struct $name {
            /// Globally unique identifier (a string of digits).
            #[serde(default)]
            pub gid: String,
            /// The resource's base type, e.g. `task`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub resource_type: Option<String>,
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Every other field Asana sent, unchanged.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    };
}

/// Declares a request body whose fields are all optional, plus `extra`.
macro_rules! request {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Any other field to send (for example `"assignee": null` to unassign).
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    };
}

/// One page of a list: the items and, when there are more, where the next page starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// The next page, or `None` on the last page (Asana sends it only when `limit` was given).
    #[serde(default)]
    pub next_page: Option<NextPage>,
}

/// Asana's pointer to the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextPage {
    /// The opaque offset token to send as `offset` (it expires after a while).
    pub offset: String,
    /// The path of the next page, relative to the API base.
    #[serde(default)]
    pub path: Option<String>,
    /// The absolute URL of the next page.
    #[serde(default)]
    pub uri: Option<String>,
}

resource! {
    /// A compact reference to another resource (`{gid, resource_type, name}`).
    Compact {
        /// Display name.
        name: String,
    }
}

resource! {
    /// A user (`GET /users/{gid|me|email}`).
    User {
        /// Full name.
        name: String,
        /// Email address (needs the `email` scope for OAuth apps).
        email: String,
        /// Photo URLs by size.
        photo: Box<Value>,
        /// The workspaces the user belongs to.
        workspaces: Vec<Compact>,
    }
}

resource! {
    /// A workspace or organization.
    Workspace {
        /// Name.
        name: String,
        /// Whether this workspace is an organization.
        is_organization: bool,
        /// Email domains of an organization.
        email_domains: Vec<String>,
    }
}

resource! {
    /// A team of an organization.
    Team {
        /// Name.
        name: String,
        /// Plain-text description.
        description: String,
        /// Rich-text description.
        html_description: String,
        /// The organization the team belongs to.
        organization: Box<Compact>,
        /// Link to the team in Asana.
        permalink_url: String,
        /// Who can see and join the team.
        visibility: String,
    }
}

resource! {
    /// A project.
    Project {
        /// Name.
        name: String,
        /// Whether the project is archived.
        archived: bool,
        /// Color, e.g. `light-green`.
        color: String,
        /// Plain-text notes.
        notes: String,
        /// Rich-text notes.
        html_notes: String,
        /// Creation time.
        created_at: String,
        /// Last modification time.
        modified_at: String,
        /// Due date.
        due_on: String,
        /// Start date.
        start_on: String,
        /// Default view: `list`, `board`, `calendar`, `timeline`.
        default_view: String,
        /// The owner.
        owner: Box<Compact>,
        /// The team (organizations only).
        team: Box<Compact>,
        /// The workspace.
        workspace: Box<Compact>,
        /// Members.
        members: Vec<Compact>,
        /// Followers.
        followers: Vec<Compact>,
        /// Link to the project in Asana.
        permalink_url: String,
        /// Custom field settings of the project.
        custom_field_settings: Vec<CustomFieldSetting>,
    }
}

resource! {
    /// A section of a project.
    Section {
        /// Name (the section header).
        name: String,
        /// The project.
        project: Box<Compact>,
        /// Creation time.
        created_at: String,
    }
}

resource! {
    /// A task (or subtask, milestone, approval).
    Task {
        /// Name.
        name: String,
        /// `default_task`, `milestone`, `section` or `approval`.
        resource_subtype: String,
        /// Plain-text notes.
        notes: String,
        /// Rich-text notes.
        html_notes: String,
        /// Whether the task is completed.
        completed: bool,
        /// Completion time.
        completed_at: String,
        /// Creation time.
        created_at: String,
        /// Last modification time.
        modified_at: String,
        /// Due date.
        due_on: String,
        /// Due date and time.
        due_at: String,
        /// Start date.
        start_on: String,
        /// Start date and time.
        start_at: String,
        /// The assignee.
        assignee: Box<Compact>,
        /// The workspace.
        workspace: Box<Compact>,
        /// The parent task of a subtask.
        parent: Box<Compact>,
        /// The projects the task is in.
        projects: Vec<Compact>,
        /// Project and section memberships.
        memberships: Vec<Value>,
        /// Tags.
        tags: Vec<Compact>,
        /// Followers.
        followers: Vec<Compact>,
        /// Number of subtasks.
        num_subtasks: u64,
        /// Link to the task in Asana.
        permalink_url: String,
        /// Custom field values.
        custom_fields: Vec<CustomField>,
    }
}

resource! {
    /// A task as a big listing wants it: Asana's compact task (`gid`, `resource_type`, `name`,
    /// `resource_subtype`, `created_by`) plus `completed`, `due_on` and `assignee`, in under a third
    /// of a [`Task`]'s size. [`List::compact`](crate::List::compact) streams these, asking for
    /// exactly [`TaskCompact::OPT_FIELDS`].
    TaskCompact {
        /// Name.
        name: String,
        /// `default_task`, `milestone`, `section` or `approval`.
        resource_subtype: String,
        /// Who created the task (`{gid, resource_type}`).
        created_by: Box<Compact>,
        /// Whether the task is completed.
        completed: bool,
        /// Due date.
        due_on: String,
        /// The assignee (`{gid, resource_type, name}`).
        assignee: Box<Compact>,
    }
}

impl TaskCompact {
    /// The `opt_fields` that fill every field of a `TaskCompact` (`gid` always comes).
    pub const OPT_FIELDS: &'static [&'static str] = &[
        "resource_type",
        "name",
        "resource_subtype",
        "created_by",
        "completed",
        "due_on",
        "assignee",
        "assignee.name",
    ];
}

resource! {
    /// A story: a comment or a change recorded on a task.
    Story {
        /// E.g. `comment_added`, `assigned`, `marked_complete`.
        resource_subtype: String,
        /// `comment` or `system`.
        #[serde(rename = "type")]
        story_type: String,
        /// Plain text.
        text: String,
        /// Rich text.
        html_text: String,
        /// Creation time.
        created_at: String,
        /// Author.
        created_by: Box<Compact>,
        /// The task the story is on.
        target: Box<Compact>,
        /// Whether the comment is pinned.
        is_pinned: bool,
        /// Whether the comment was edited.
        is_edited: bool,
    }
}

resource! {
    /// A tag.
    Tag {
        /// Name.
        name: String,
        /// Color.
        color: String,
        /// Notes.
        notes: String,
        /// Creation time.
        created_at: String,
        /// The workspace.
        workspace: Box<Compact>,
        /// Followers.
        followers: Vec<Compact>,
        /// Link to the tag in Asana.
        permalink_url: String,
    }
}

resource! {
    /// A file attached to a task or project.
    Attachment {
        /// File name.
        name: String,
        /// `asana`, `dropbox`, `gdrive`, `box`, `onedrive`, `vimeo`, `external`.
        resource_subtype: String,
        /// Where the file lives (`asana` for uploads).
        host: String,
        /// Creation time.
        created_at: String,
        /// A short-lived URL to download the file (fetched without the Asana token).
        download_url: String,
        /// A permanent link to the attachment in Asana.
        permanent_url: String,
        /// A URL to view the file.
        view_url: String,
        /// Size in bytes.
        size: u64,
        /// The task or project the file is attached to.
        parent: Box<Compact>,
    }
}

resource! {
    /// An option of an enum or multi-enum custom field.
    EnumOption {
        /// Name.
        name: String,
        /// Color.
        color: String,
        /// Whether the option can be chosen.
        enabled: bool,
    }
}

resource! {
    /// A custom field definition, or its value on a task.
    CustomField {
        /// Name.
        name: String,
        /// `text`, `enum`, `multi_enum`, `number`, `date`, `people`.
        resource_subtype: String,
        /// Same as `resource_subtype` (older field).
        #[serde(rename = "type")]
        field_type: String,
        /// Description.
        description: String,
        /// The options of an enum field.
        enum_options: Vec<EnumOption>,
        /// The value formatted for display.
        display_value: String,
        /// The value of a text field.
        text_value: String,
        /// The value of a number field.
        number_value: f64,
        /// The value of an enum field.
        enum_value: Box<EnumOption>,
        /// The values of a multi-enum field.
        multi_enum_values: Vec<EnumOption>,
        /// The value of a date field (`{date, date_time}`).
        date_value: Box<Value>,
        /// Decimal places of a number field.
        precision: u32,
        /// Whether the field is available in every project of the workspace.
        is_global_to_workspace: bool,
    }
}

resource! {
    /// A custom field attached to a project.
    CustomFieldSetting {
        /// The custom field.
        custom_field: Box<CustomField>,
        /// The project.
        project: Box<Compact>,
        /// The parent (project or portfolio).
        parent: Box<Compact>,
        /// Whether the field is shown in list views.
        is_important: bool,
    }
}

resource! {
    /// A webhook subscription.
    Webhook {
        /// Whether Asana still delivers to it.
        active: bool,
        /// The watched resource.
        resource: Box<Compact>,
        /// The URL deliveries are posted to.
        target: String,
        /// Creation time.
        created_at: String,
        /// Time of the last failed delivery.
        last_failure_at: String,
        /// Content of the last failed delivery's response.
        last_failure_content: String,
        /// Time of the last successful delivery.
        last_success_at: String,
        /// Which events are delivered.
        filters: Vec<WebhookFilter>,
    }
}

/// A change to a resource, from `GET /events` or a webhook delivery.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Who made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Box<Compact>>,
    /// The changed resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Box<Compact>>,
    /// `changed`, `added`, `removed`, `deleted`, `undeleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The parent the resource was added to or removed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Box<Compact>>,
    /// When the change happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// What changed (`{field, action, new_value, ...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Box<Value>>,
    /// Every other field Asana sent, unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The result of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventsResponse {
    /// The events since the given sync token (empty when `sync_reset`).
    pub events: Vec<Event>,
    /// The sync token to pass next time.
    pub sync: String,
    /// Whether more events are waiting (call again right away with `sync`).
    pub has_more: bool,
    /// True when Asana answered 412: this was a first call or the old token expired, events may
    /// have been missed, and `sync` is a fresh token to start from.
    pub sync_reset: bool,
}

request! {
    /// Body of `POST /projects`. Without `workspace` and `team`, the client's default workspace is used.
    CreateProject {
        /// Name.
        name: String,
        /// Workspace gid.
        workspace: String,
        /// Team gid (required in organizations).
        team: String,
        /// Plain-text notes.
        notes: String,
        /// Rich-text notes.
        html_notes: String,
        /// Color.
        color: String,
        /// Default view.
        default_view: String,
        /// Due date.
        due_on: String,
        /// Start date.
        start_on: String,
        /// Owner gid.
        owner: String,
    }
}

request! {
    /// Body of `PUT /projects/{gid}`.
    UpdateProject {
        /// Name.
        name: String,
        /// Plain-text notes.
        notes: String,
        /// Rich-text notes.
        html_notes: String,
        /// Color.
        color: String,
        /// Archive or unarchive.
        archived: bool,
        /// Default view.
        default_view: String,
        /// Due date.
        due_on: String,
        /// Start date.
        start_on: String,
        /// Owner gid.
        owner: String,
    }
}

request! {
    /// Body of `POST /projects/{gid}/sections` and `PUT /sections/{gid}`.
    SectionBody {
        /// Name.
        name: String,
        /// Put the section before this section gid.
        insert_before: String,
        /// Put the section after this section gid.
        insert_after: String,
    }
}

request! {
    /// Body of `POST /tasks` and `POST /tasks/{gid}/subtasks`. Without `workspace`, `projects` and
    /// `parent`, `POST /tasks` uses the client's default workspace.
    CreateTask {
        /// Name.
        name: String,
        /// Workspace gid.
        workspace: String,
        /// Project gids.
        projects: Vec<String>,
        /// Parent task gid.
        parent: String,
        /// Assignee: a user gid, `me` or an email.
        assignee: String,
        /// Plain-text notes.
        notes: String,
        /// Rich-text notes.
        html_notes: String,
        /// Whether the task is completed.
        completed: bool,
        /// Due date.
        due_on: String,
        /// Due date and time.
        due_at: String,
        /// Start date.
        start_on: String,
        /// Tag gids.
        tags: Vec<String>,
        /// Follower gids.
        followers: Vec<String>,
        /// Custom field values by field gid.
        custom_fields: Map<String, Value>,
        /// `default_task`, `milestone` or `approval`.
        resource_subtype: String,
    }
}

request! {
    /// Body of `PUT /tasks/{gid}`.
    UpdateTask {
        /// Name.
        name: String,
        /// Assignee: a user gid, `me` or an email (use `extra` with `null` to unassign).
        assignee: String,
        /// Plain-text notes.
        notes: String,
        /// Rich-text notes.
        html_notes: String,
        /// Whether the task is completed.
        completed: bool,
        /// Due date.
        due_on: String,
        /// Due date and time.
        due_at: String,
        /// Start date.
        start_on: String,
        /// Custom field values by field gid.
        custom_fields: Map<String, Value>,
        /// `default_task`, `milestone` or `approval`.
        resource_subtype: String,
    }
}

request! {
    /// Body of `POST /tasks/{gid}/addProject`: where to put the task in the project.
    ProjectPlacement {
        /// Insert after this task gid.
        insert_after: String,
        /// Insert before this task gid.
        insert_before: String,
        /// Put the task in this section of the project.
        section: String,
    }
}

request! {
    /// Body of `POST /tasks/{gid}/stories` (a comment).
    CreateComment {
        /// Plain text.
        text: String,
        /// Rich text (`<body>...</body>`).
        html_text: String,
        /// Pin the comment.
        is_pinned: bool,
    }
}

request! {
    /// Body of `POST /tags`. Without `workspace`, the client's default workspace is used.
    CreateTag {
        /// Name.
        name: String,
        /// Workspace gid.
        workspace: String,
        /// Color.
        color: String,
        /// Notes.
        notes: String,
        /// Follower gids.
        followers: Vec<String>,
    }
}

request! {
    /// Body of `PUT /tags/{gid}`.
    UpdateTag {
        /// Name.
        name: String,
        /// Color.
        color: String,
        /// Notes.
        notes: String,
    }
}

request! {
    /// Which webhook events to deliver.
    WebhookFilter {
        /// E.g. `task`.
        resource_type: String,
        /// E.g. `milestone`.
        resource_subtype: String,
        /// E.g. `changed`.
        action: String,
        /// Changed fields to deliver, e.g. `["due_at"]`.
        fields: Vec<String>,
    }
}

/// Body of `POST /webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateWebhook {
    /// The gid of the resource to watch.
    pub resource: String,
    /// The https URL Asana posts deliveries to (it must answer the handshake).
    pub target: String,
    /// Which events to deliver (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<WebhookFilter>>,
    /// Any other field to send.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A file to upload with `POST /attachments`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttachmentUpload {
    /// The task or project gid to attach the file to.
    pub parent: String,
    /// The file name Asana shows.
    pub file_name: String,
    /// The MIME type, e.g. `text/plain`.
    pub content_type: String,
    /// The file's content.
    pub content: bytes::Bytes,
}

impl AttachmentUpload {
    /// A file for `parent` with this name, MIME type and content.
    pub fn new(
        parent: impl Into<String>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
        content: impl Into<bytes::Bytes>,
    ) -> Self {
        Self {
            parent: parent.into(),
            file_name: file_name.into(),
            content_type: content_type.into(),
            content: content.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_kept_and_missing_ones_are_none() {
        let task: Task = serde_json::from_value(json!({
            "gid": "1", "resource_type": "task", "name": "Buy milk",
            "assignee": null, "liked": true, "custom_fields": [{"gid": "9", "number_value": 2.5}]
        }))
        .unwrap();
        assert_eq!(task.gid, "1");
        assert_eq!(task.name.as_deref(), Some("Buy milk"));
        assert_eq!(task.assignee, None);
        assert_eq!(task.notes, None);
        assert_eq!(task.extra.get("liked"), Some(&json!(true)));
        assert_eq!(task.custom_fields.unwrap()[0].number_value, Some(2.5));
    }

    #[test]
    fn request_bodies_skip_none_and_flatten_extra() {
        let mut body = CreateTask {
            name: Some("Buy milk".into()),
            projects: Some(vec!["2".into()]),
            ..Default::default()
        };
        body.extra.insert("assignee".into(), Value::Null);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"name": "Buy milk", "projects": ["2"], "assignee": null})
        );
    }

    #[test]
    fn boxed_references_keep_the_json_unchanged() {
        let task = json!({
            "gid": "1", "resource_type": "task", "name": "Buy milk",
            "assignee": {"gid": "2", "resource_type": "user", "name": "Ada"},
            "workspace": {"gid": "3", "resource_type": "workspace", "name": "Home", "x": 1},
            "custom_fields": [{"gid": "9", "enum_value": {"gid": "10", "name": "High"},
                "date_value": {"date": "2024-05-01", "date_time": null}}]
        });
        let typed: Task = serde_json::from_value(task.clone()).unwrap();
        let assignee = typed.assignee.as_deref().unwrap();
        assert_eq!(
            (assignee.gid.as_str(), assignee.name.as_deref()),
            ("2", Some("Ada"))
        );
        assert_eq!(
            typed.workspace.as_ref().unwrap().extra.get("x"),
            Some(&json!(1))
        );
        let field = &typed.custom_fields.as_ref().unwrap()[0];
        assert_eq!(
            field.enum_value.as_ref().unwrap().name.as_deref(),
            Some("High")
        );
        assert_eq!(serde_json::to_value(&typed).unwrap(), task);

        let event = json!({"user": {"gid": "2"}, "resource": {"gid": "1", "resource_type": "task"},
            "action": "changed", "change": {"field": "name", "action": "changed"}});
        let typed: Event = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(
            typed.change.as_deref().cloned(),
            Some(json!({"field": "name", "action": "changed"}))
        );
        assert_eq!(serde_json::to_value(&typed).unwrap(), event);
    }

    #[test]
    fn a_compact_task_stays_small() {
        assert!(std::mem::size_of::<TaskCompact>() <= 256);
        assert!(std::mem::size_of::<Task>() <= 528);
    }
}
