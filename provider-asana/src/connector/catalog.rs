//! The declarative catalog: every entity and action, its HTTP mapping and its parameters.

use asana_endpoints::{Endpoint, Op};
use serde_json::{Map, Value, json};

/// How an action calls Asana and shapes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A paginated GET: returns `{data: [...], meta: {next_page}}`.
    List,
    /// A list without `limit`/`offset` paging (search): `{data: [...], meta: {next_page: null}}`.
    Unpaged,
    /// A GET of one object.
    Get,
    /// A POST.
    Create,
    /// A PUT.
    Update,
    /// A DELETE.
    Delete,
    /// A POST to an action endpoint (`addTag`, `addUser` ...).
    Post,
    /// Fetch an attachment's metadata, then its bytes from `download_url` (as
    /// `Attachments::download_from` does: without the token off the API base URL).
    Download,
    /// Attach a link: a multipart `POST /attachments` with `resource_subtype=external`.
    Link,
}

/// Where a parameter goes: read from its operation's endpoint (see [`Operation::at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
    Body,
    /// Read by the connector, never sent (output control).
    Local,
}

/// A parameter's JSON type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Str,
    /// An integer within bounds.
    Int(i64, i64),
    /// An integer of any size.
    Integer,
    /// Any number.
    Num,
    Bool,
    StrList,
    /// An array of anything (objects, as in enum options).
    List,
    Enum(&'static [&'static str]),
    /// A free-form object (custom fields and the like).
    Object,
    /// The calls of a batch: 1 to [`MAX_BATCH_ACTIONS`] `{relative_path, method, data?, options?}`.
    BatchActions,
}

/// The plain-text fields that an update clears with an empty string (a task's, project's, tag's
/// or goal's `notes`, a team's, custom field's or time entry's `description`).
const CLEARED_BY_EMPTY: &[&str] = &["notes", "description"];

/// The most calls one `POST /batch` takes.
pub(crate) const MAX_BATCH_ACTIONS: usize = 10;

/// The methods a batched call may use, as Asana spells them.
const BATCH_METHODS: &[&str] = &["get", "post", "put", "delete", "patch", "head"];

/// The fields of a batched call.
const BATCH_FIELDS: &[&str] = &["relative_path", "method", "data", "options"];

/// The options of a batched call.
const BATCH_OPTIONS: &[&str] = &["limit", "offset", "fields"];

/// The JSON Schema of a batch's `actions`.
fn batch_actions_schema() -> Value {
    json!({
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_BATCH_ACTIONS,
        "items": {
            "type": "object",
            "properties": {
                "relative_path": {
                    "type": "string",
                    "pattern": "^/[^/?#\\\\\\s][^?#\\\\\\s]*$",
                    "description": "The endpoint's path under the API base, e.g. /tasks/123: no host, no query string (put query params in data)",
                },
                "method": {
                    "type": "string",
                    "enum": BATCH_METHODS,
                    "description": "The HTTP method, lowercase",
                },
                "data": {
                    "type": "object",
                    "description": "For get: the query params, e.g. {\"assignee\": \"me\", \"workspace\": \"1337\"}; for post, put and patch: what goes in the body's data",
                },
                "options": {
                    "type": "object",
                    "properties": {
                        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Page size"},
                        "offset": {"type": "string", "description": "Offset token of the next page"},
                        "fields": {"type": "array", "items": {"type": "string"}, "description": "Fields to return (opt_fields)"},
                    },
                    "additionalProperties": false,
                    "description": "Paging and the fields to return (not in data)",
                },
            },
            "required": ["relative_path", "method"],
            "additionalProperties": false,
        },
    })
}

/// Whether `path` is a path on the API: it starts with one `/`, names no host, has no query,
/// fragment, backslash, white space or dot segment (which could lead off the API).
fn is_relative_path(path: &str) -> bool {
    path.len() > 1
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path
            .chars()
            .any(|c| matches!(c, '?' | '#' | '\\') || c.is_whitespace() || c.is_control())
        && !path.split('/').any(|segment| {
            let segment = segment.to_ascii_lowercase().replace("%2e", ".");
            segment == "." || segment == ".."
        })
}

/// What is wrong with a batch's `actions`, if anything: every problem, `; `-separated.
pub(crate) fn batch_problems(actions: &[Value]) -> Option<String> {
    if actions.is_empty() || actions.len() > MAX_BATCH_ACTIONS {
        return Some(format!(
            "must hold 1 to {MAX_BATCH_ACTIONS} actions, got {}: split the calls into batches of {MAX_BATCH_ACTIONS}",
            actions.len()
        ));
    }
    let mut problems = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        let item = i + 1;
        let Some(action) = action.as_object() else {
            problems.push(format!(
                "item {item}: must be an object {{relative_path, method, data?, options?}}"
            ));
            continue;
        };
        for name in action
            .keys()
            .filter(|k| !BATCH_FIELDS.contains(&k.as_str()))
        {
            problems.push(format!(
                "item {item}: unknown field `{name}` (allowed: {})",
                BATCH_FIELDS.join(", ")
            ));
        }
        match action.get("relative_path") {
            None => problems.push(format!("item {item}: missing `relative_path`")),
            Some(Value::String(path)) if is_relative_path(path) => {}
            Some(other) => problems.push(format!(
                "item {item}: `relative_path` must be a path on the API, starting with `/`, \
                 without a host, a query, a fragment or dot segments, got {other}"
            )),
        }
        match action.get("method") {
            None => problems.push(format!("item {item}: missing `method`")),
            Some(Value::String(method)) if BATCH_METHODS.contains(&method.as_str()) => {}
            Some(other) => problems.push(format!(
                "item {item}: `method` must be one of {}, got {other}",
                BATCH_METHODS.join("|")
            )),
        }
        if action.get("data").is_some_and(|data| !data.is_object()) {
            problems.push(format!("item {item}: `data` must be an object"));
        }
        match action.get("options") {
            None => {}
            Some(Value::Object(options)) => {
                if options.get("limit").is_some_and(|limit| {
                    !(super::is_integer(limit)
                        && limit.as_f64().is_some_and(|n| (1.0..=100.0).contains(&n)))
                }) {
                    problems.push(format!(
                        "item {item}: `options.limit` must be an integer between 1 and 100"
                    ));
                }
                if options
                    .get("offset")
                    .is_some_and(|offset| !offset.is_string())
                {
                    problems.push(format!("item {item}: `options.offset` must be a string"));
                }
                if options.get("fields").is_some_and(|fields| {
                    !fields
                        .as_array()
                        .is_some_and(|fields| fields.iter().all(Value::is_string))
                }) {
                    problems.push(format!(
                        "item {item}: `options.fields` must be an array of strings"
                    ));
                }
                for name in options
                    .keys()
                    .filter(|k| !BATCH_OPTIONS.contains(&k.as_str()))
                {
                    problems.push(format!(
                        "item {item}: `options.{name}` is not an option (allowed: {})",
                        BATCH_OPTIONS.join(", ")
                    ));
                }
            }
            Some(_) => problems.push(format!("item {item}: `options` must be an object")),
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    /// The name the caller uses.
    pub(crate) name: &'static str,
    /// The name Asana reads (in the query or the body): the same, unless `name` is an alias.
    pub(crate) wire: &'static str,
    pub(crate) ty: Ty,
    pub(crate) required: bool,
    /// Whether Asana's schema marks the field nullable: an update may send `null` to clear it.
    pub(crate) nullable: bool,
    /// Read by the connector and never sent (output control); any other param goes where its
    /// operation's endpoint takes `wire`.
    pub(crate) local: bool,
    pub(crate) description: &'static str,
}

impl Param {
    /// The same param, clearable with `null` on updates (where Asana's schema says `nullable`).
    const fn nullable(self) -> Self {
        Param {
            nullable: true,
            ..self
        }
    }

    /// The same param, sent to Asana as `wire`.
    const fn wire(self, wire: &'static str) -> Self {
        Param { wire, ..self }
    }
}

/// A cross-parameter rule the JSON Schema cannot say simply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    /// At least one of these groups must be complete.
    AnyGroup(&'static [&'static [&'static str]]),
    /// At most one of these params (an alias and its original, or exclusive options).
    AtMostOne(&'static [&'static str]),
    /// When `param` is given, the call goes to `endpoint` (whose one path param `param` fills),
    /// and only `with` may accompany it: the operation there declares nothing else.
    Via {
        param: &'static str,
        endpoint: Op,
        with: &'static [&'static str],
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    pub(crate) entity: &'static str,
    pub(crate) action: &'static str,
    pub(crate) kind: Kind,
    /// The endpoint it calls, from `asana_endpoints`: method, path and where each param goes.
    pub(crate) endpoint: Op,
    pub(crate) description: &'static str,
    pub(crate) params: &'static [Param],
    pub(crate) rules: &'static [Rule],
}

const fn p(name: &'static str, ty: Ty, description: &'static str) -> Param {
    Param {
        name,
        wire: name,
        ty,
        required: false,
        nullable: false,
        local: false,
        description,
    }
}

const fn req(name: &'static str, ty: Ty, description: &'static str) -> Param {
    Param {
        required: true,
        ..p(name, ty, description)
    }
}

/// A param the connector reads and never sends.
const fn local(name: &'static str, ty: Ty, description: &'static str) -> Param {
    Param {
        local: true,
        ..p(name, ty, description)
    }
}

const OPT_FIELDS: Param = p(
    "opt_fields",
    Ty::StrList,
    "Fields Asana adds to each returned object beside its few defaults, e.g. [\"name\", \"assignee.name\"] (select_fields, on reads, also drops the others)",
);
const LIMIT: Param = p(
    "limit",
    Ty::Int(1, 100),
    "Page size, 1 to 100 (default 100)",
);
const OFFSET: Param = p(
    "offset",
    Ty::Str,
    "Offset token from a previous page's meta.next_page.offset",
);
/// The output control every read takes (see [`Operation::all_params`]).
const OUTPUT: [Param; 2] = [
    local(
        "select_fields",
        Ty::StrList,
        "Return only these fields of each record (gid is always kept), e.g. [\"name\", \"assignee.name\"]: asked of Asana as opt_fields, the rest dropped; prefer it to opt_fields to get exactly these fields",
    ),
    local(
        "exclude_fields",
        Ty::StrList,
        "Leave these fields out of each record, e.g. [\"notes\", \"memberships\"]",
    ),
];
const ARCHIVED: Param = p(
    "archived",
    Ty::Bool,
    "Only archived (true) or unarchived (false) projects",
);

/// A snake_case alias of a dotted search filter (as Airbyte names them).
macro_rules! alias {
    ($name:literal, $wire:literal) => {
        p($name, Ty::Str, concat!("Same as ", $wire)).wire($wire)
    };
}

macro_rules! gid {
    ($name:literal, $what:literal) => {
        req($name, Ty::Str, concat!("Global id of the ", $what))
    };
}

/// Asana's named colors for tags (and, with `none`, projects).
pub(crate) const TAG_COLORS: &[&str] = &[
    "dark-pink",
    "dark-green",
    "dark-blue",
    "dark-red",
    "dark-teal",
    "dark-brown",
    "dark-orange",
    "dark-purple",
    "dark-warm-gray",
    "light-pink",
    "light-green",
    "light-blue",
    "light-red",
    "light-teal",
    "light-brown",
    "light-orange",
    "light-purple",
    "light-warm-gray",
];

/// The states a status update reports.
pub(crate) const STATUS_TYPES: &[&str] = &[
    "on_track",
    "at_risk",
    "off_track",
    "on_hold",
    "complete",
    "achieved",
    "partial",
    "missed",
    "dropped",
];

/// Asana's named colors for projects: the tag colors and `none`.
pub(crate) const PROJECT_COLORS: &[&str] = &[
    "dark-pink",
    "dark-green",
    "dark-blue",
    "dark-red",
    "dark-teal",
    "dark-brown",
    "dark-orange",
    "dark-purple",
    "dark-warm-gray",
    "light-pink",
    "light-green",
    "light-blue",
    "light-red",
    "light-teal",
    "light-brown",
    "light-orange",
    "light-purple",
    "light-warm-gray",
    "none",
];

const TASK_FIELDS_WRITE: [Param; 12] = [
    p("name", Ty::Str, "Task name"),
    p("notes", Ty::Str, "Plain-text description"),
    p(
        "html_notes",
        Ty::Str,
        "Rich-text description in Asana's HTML subset",
    ),
    p("assignee", Ty::Str, "Assignee user gid, email, or \"me\"").nullable(),
    p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
    p("due_at", Ty::Str, "Due date and time, ISO 8601").nullable(),
    p("start_on", Ty::Str, "Start date, YYYY-MM-DD").nullable(),
    p("completed", Ty::Bool, "Whether the task is complete"),
    p(
        "custom_fields",
        Ty::Object,
        "Custom field values by custom field gid",
    ),
    p(
        "start_at",
        Ty::Str,
        "Start date and time, ISO 8601 (needs due_at)",
    )
    .nullable(),
    p(
        "resource_subtype",
        Ty::Enum(&["default_task", "milestone", "approval"]),
        "Task kind",
    ),
    p(
        "approval_status",
        Ty::Enum(&["pending", "approved", "rejected", "changes_requested"]),
        "Approval state (approval tasks only)",
    ),
];

const TASK_CREATE: [Param; 17] = [
    TASK_FIELDS_WRITE[0],
    TASK_FIELDS_WRITE[1],
    TASK_FIELDS_WRITE[2],
    TASK_FIELDS_WRITE[3],
    TASK_FIELDS_WRITE[4],
    TASK_FIELDS_WRITE[5],
    TASK_FIELDS_WRITE[6],
    TASK_FIELDS_WRITE[7],
    TASK_FIELDS_WRITE[8],
    TASK_FIELDS_WRITE[9],
    TASK_FIELDS_WRITE[10],
    TASK_FIELDS_WRITE[11],
    p(
        "workspace",
        Ty::Str,
        "Workspace gid (needed unless projects or parent is given)",
    ),
    p("projects", Ty::StrList, "Project gids to add the task to"),
    p("parent", Ty::Str, "Parent task gid, to create a subtask"),
    p("tags", Ty::StrList, "Tag gids"),
    p("followers", Ty::StrList, "Follower user gids or emails"),
];

const TASK_UPDATE: [Param; 14] = [
    gid!("task_gid", "task"),
    TASK_FIELDS_WRITE[0],
    TASK_FIELDS_WRITE[1],
    TASK_FIELDS_WRITE[2],
    TASK_FIELDS_WRITE[3],
    TASK_FIELDS_WRITE[4],
    TASK_FIELDS_WRITE[5],
    TASK_FIELDS_WRITE[6],
    TASK_FIELDS_WRITE[7],
    TASK_FIELDS_WRITE[8],
    TASK_FIELDS_WRITE[9],
    TASK_FIELDS_WRITE[10],
    TASK_FIELDS_WRITE[11],
    OPT_FIELDS,
];

const PROJECT_WRITE: [Param; 7] = [
    p("name", Ty::Str, "Project name"),
    p("notes", Ty::Str, "Description"),
    p(
        "color",
        Ty::Enum(PROJECT_COLORS),
        "Project color (none for no color)",
    )
    .nullable(),
    p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
    p("start_on", Ty::Str, "Start date, YYYY-MM-DD").nullable(),
    p("archived", Ty::Bool, "Whether the project is archived"),
    p(
        "default_view",
        Ty::Enum(&["list", "board", "calendar", "timeline"]),
        "Default view: list, board, calendar or timeline",
    ),
];

const TAG_COLOR: Param = p("color", Ty::Enum(TAG_COLORS), "Tag color").nullable();

/// Every operation, in catalog order.
pub(crate) const OPERATIONS: &[Operation] = &[
    // tasks
    Operation {
        entity: "tasks",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTasks,
        description: "List tasks of a project, section or tag, or those assigned to a user in a workspace",
        params: &[
            p("project", Ty::Str, "Project gid"),
            p("section", Ty::Str, "Section gid"),
            p(
                "tag",
                Ty::Str,
                "Tag gid (with only opt_fields, limit, offset, select_fields and exclude_fields)",
            ),
            p(
                "assignee",
                Ty::Str,
                "Assignee user gid or \"me\" (with workspace)",
            ),
            p("workspace", Ty::Str, "Workspace gid (with assignee)"),
            p(
                "completed_since",
                Ty::Str,
                "Only tasks incomplete or completed since this ISO 8601 time, or \"now\"",
            ),
            p(
                "modified_since",
                Ty::Str,
                "Only tasks modified since this ISO 8601 time",
            ),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[
            Rule::AnyGroup(&[
                &["project"],
                &["section"],
                &["tag"],
                &["assignee", "workspace"],
            ]),
            Rule::Via {
                param: "tag",
                endpoint: Op::GetTasksForTag,
                with: &["opt_fields", "limit", "offset"],
            },
        ],
    },
    Operation {
        entity: "tasks",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTask,
        description: "Get one task",
        params: &[gid!("task_gid", "task"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "tasks",
        action: "create",
        kind: Kind::Create,
        endpoint: Op::CreateTask,
        description: "Create a task in a workspace, in projects, or as a subtask of a parent",
        params: &TASK_CREATE,
        rules: &[Rule::AnyGroup(&[
            &["workspace"],
            &["projects"],
            &["parent"],
        ])],
    },
    Operation {
        entity: "tasks",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateTask,
        description: "Update a task's fields",
        params: &TASK_UPDATE,
        rules: &[],
    },
    Operation {
        entity: "tasks",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteTask,
        description: "Delete a task",
        params: &[gid!("task_gid", "task")],
        rules: &[],
    },
    Operation {
        entity: "project_tasks",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTasksForProject,
        description: "List the tasks of a project",
        params: &[
            gid!("project_gid", "project"),
            p(
                "completed_since",
                Ty::Str,
                "Only tasks incomplete or completed since this ISO 8601 time, or \"now\"",
            ),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_task_search",
        action: "list",
        kind: Kind::Unpaged,
        endpoint: Op::SearchTasksForWorkspace,
        description: "Search tasks in a workspace (Asana premium; returns at most `limit` results, no paging)",
        params: &[
            gid!("workspace_gid", "workspace"),
            p("text", Ty::Str, "Full-text search on name and description"),
            p(
                "assignee.any",
                Ty::Str,
                "Comma-separated assignee gids or \"me\"",
            ),
            p("projects.any", Ty::Str, "Comma-separated project gids"),
            p("sections.any", Ty::Str, "Comma-separated section gids"),
            p("tags.any", Ty::Str, "Comma-separated tag gids"),
            p("teams.any", Ty::Str, "Comma-separated team gids"),
            p(
                "followers.any",
                Ty::Str,
                "Comma-separated follower user gids or \"me\"",
            ),
            p(
                "created_at.after",
                Ty::Str,
                "Only tasks created after this ISO 8601 time",
            ),
            p(
                "created_at.before",
                Ty::Str,
                "Only tasks created before this ISO 8601 time",
            ),
            p(
                "modified_at.after",
                Ty::Str,
                "Only tasks modified after this ISO 8601 time",
            ),
            p(
                "modified_at.before",
                Ty::Str,
                "Only tasks modified before this ISO 8601 time",
            ),
            p(
                "due_on.after",
                Ty::Str,
                "Only tasks due after this date, YYYY-MM-DD",
            ),
            p(
                "due_on.before",
                Ty::Str,
                "Only tasks due before this date, YYYY-MM-DD",
            ),
            alias!("assignee_any", "assignee.any"),
            alias!("projects_any", "projects.any"),
            alias!("sections_any", "sections.any"),
            alias!("tags_any", "tags.any"),
            alias!("teams_any", "teams.any"),
            alias!("followers_any", "followers.any"),
            alias!("created_at_after", "created_at.after"),
            alias!("created_at_before", "created_at.before"),
            alias!("modified_at_after", "modified_at.after"),
            alias!("modified_at_before", "modified_at.before"),
            alias!("due_on_after", "due_on.after"),
            alias!("due_on_before", "due_on.before"),
            p(
                "resource_subtype",
                Ty::Enum(&["default_task", "milestone", "approval", "custom"]),
                "Only tasks of this kind",
            ),
            p(
                "completed",
                Ty::Bool,
                "Only complete (true) or incomplete (false) tasks",
            ),
            p(
                "sort_by",
                Ty::Enum(&[
                    "due_date",
                    "created_at",
                    "completed_at",
                    "likes",
                    "modified_at",
                    "relevance",
                ]),
                "Sort order (default modified_at)",
            ),
            p(
                "sort_ascending",
                Ty::Bool,
                "Sort in ascending order (default descending)",
            ),
            OPT_FIELDS,
            LIMIT,
        ],
        rules: &[
            Rule::AtMostOne(&["assignee.any", "assignee_any"]),
            Rule::AtMostOne(&["projects.any", "projects_any"]),
            Rule::AtMostOne(&["sections.any", "sections_any"]),
            Rule::AtMostOne(&["tags.any", "tags_any"]),
            Rule::AtMostOne(&["teams.any", "teams_any"]),
            Rule::AtMostOne(&["followers.any", "followers_any"]),
            Rule::AtMostOne(&["created_at.after", "created_at_after"]),
            Rule::AtMostOne(&["created_at.before", "created_at_before"]),
            Rule::AtMostOne(&["modified_at.after", "modified_at_after"]),
            Rule::AtMostOne(&["modified_at.before", "modified_at_before"]),
            Rule::AtMostOne(&["due_on.after", "due_on_after"]),
            Rule::AtMostOne(&["due_on.before", "due_on_before"]),
        ],
    },
    // projects
    Operation {
        entity: "projects",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjects,
        description: "List projects of a workspace or team",
        params: &[
            p("workspace", Ty::Str, "Workspace gid"),
            p(
                "team",
                Ty::Str,
                "Team gid. Deprecated by Asana on this endpoint: prefer team_projects.list",
            ),
            ARCHIVED,
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[Rule::AnyGroup(&[&["workspace"], &["team"]])],
    },
    Operation {
        entity: "projects",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetProject,
        description: "Get one project",
        params: &[gid!("project_gid", "project"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "projects",
        action: "create",
        kind: Kind::Create,
        endpoint: Op::CreateProject,
        description: "Create a project in a workspace (and team, for organizations)",
        params: &[
            req("name", Ty::Str, "Project name"),
            p("workspace", Ty::Str, "Workspace gid"),
            p("team", Ty::Str, "Team gid (required in organizations)"),
            PROJECT_WRITE[1],
            PROJECT_WRITE[2],
            PROJECT_WRITE[3],
            PROJECT_WRITE[4],
            PROJECT_WRITE[6],
        ],
        rules: &[Rule::AnyGroup(&[&["workspace"], &["team"]])],
    },
    Operation {
        entity: "projects",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateProject,
        description: "Update a project's fields",
        params: &[
            gid!("project_gid", "project"),
            PROJECT_WRITE[0],
            PROJECT_WRITE[1],
            PROJECT_WRITE[2],
            PROJECT_WRITE[3],
            PROJECT_WRITE[4],
            PROJECT_WRITE[5],
            PROJECT_WRITE[6],
        ],
        rules: &[],
    },
    Operation {
        entity: "projects",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteProject,
        description: "Delete a project",
        params: &[gid!("project_gid", "project")],
        rules: &[],
    },
    Operation {
        entity: "task_projects",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjectsForTask,
        description: "List the projects a task is in",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "team_projects",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjectsForTeam,
        description: "List a team's projects",
        params: &[
            gid!("team_gid", "team"),
            ARCHIVED,
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_projects",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjectsForWorkspace,
        description: "List a workspace's projects",
        params: &[
            gid!("workspace_gid", "workspace"),
            ARCHIVED,
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    // workspaces, users, teams
    Operation {
        entity: "workspaces",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetWorkspaces,
        description: "List the workspaces the user belongs to",
        params: &[OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "workspaces",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetWorkspace,
        description: "Get one workspace",
        params: &[gid!("workspace_gid", "workspace"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "users",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetUsers,
        description: "List users, of a workspace or team if given, else of every workspace the user can see",
        params: &[
            p("workspace", Ty::Str, "Workspace gid"),
            p("team", Ty::Str, "Team gid"),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "users",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetUser,
        description: "Get one user by gid, email, or \"me\"",
        params: &[
            req("user_gid", Ty::Str, "User gid, email, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_users",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetUsers,
        description: "List a workspace's users, page by page (GET /users?workspace=, which pages with limit)",
        params: &[
            req("workspace_gid", Ty::Str, "Global id of the workspace").wire("workspace"),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "team_users",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetUsers,
        description: "List a team's users, page by page (GET /users?team=, which pages with limit)",
        params: &[
            req("team_gid", Ty::Str, "Global id of the team").wire("team"),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "teams",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTeam,
        description: "Get one team",
        params: &[gid!("team_gid", "team"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "workspace_teams",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTeamsForWorkspace,
        description: "List the teams of an organization",
        params: &[
            gid!("workspace_gid", "workspace (organization)"),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "user_teams",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTeamsForUser,
        description: "List the teams a user belongs to in an organization",
        params: &[
            req("user_gid", Ty::Str, "User gid, email, or \"me\""),
            req("organization", Ty::Str, "Organization (workspace) gid"),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    // attachments
    Operation {
        entity: "attachments",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetAttachmentsForObject,
        description: "List the attachments of a task or project",
        params: &[
            req("parent", Ty::Str, "Task or project gid"),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "attachments",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetAttachment,
        description: "Get an attachment's metadata",
        params: &[gid!("attachment_gid", "attachment"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "attachments",
        action: "create",
        kind: Kind::Link,
        endpoint: Op::CreateAttachmentForObject,
        description: "Attach a link to a task or project: Asana stores the URL and a name, not the file",
        params: &[
            req("parent", Ty::Str, "Task or project gid"),
            req("url", Ty::Str, "An absolute http or https URL"),
            req("name", Ty::Str, "The name Asana shows for the link"),
        ],
        rules: &[],
    },
    Operation {
        entity: "attachments",
        action: "download",
        kind: Kind::Download,
        endpoint: Op::GetAttachment,
        description: "Download an attachment: returns its name, host, size and base64 content (at most 10 MiB)",
        params: &[gid!("attachment_gid", "attachment")],
        rules: &[],
    },
    // tags
    Operation {
        entity: "workspace_tags",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTagsForWorkspace,
        description: "List a workspace's tags",
        params: &[
            gid!("workspace_gid", "workspace"),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_tags",
        action: "create",
        kind: Kind::Create,
        endpoint: Op::CreateTagForWorkspace,
        description: "Create a tag in a workspace",
        params: &[
            gid!("workspace_gid", "workspace"),
            req("name", Ty::Str, "Tag name"),
            TAG_COLOR,
            p("notes", Ty::Str, "Description"),
        ],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTag,
        description: "Get one tag",
        params: &[gid!("tag_gid", "tag"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateTag,
        description: "Update a tag",
        params: &[
            gid!("tag_gid", "tag"),
            p("name", Ty::Str, "Tag name"),
            TAG_COLOR,
            p("notes", Ty::Str, "Description"),
        ],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteTag,
        description: "Delete a tag",
        params: &[gid!("tag_gid", "tag")],
        rules: &[],
    },
    Operation {
        entity: "tag_tasks",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTasksForTag,
        description: "List the tasks with a tag",
        params: &[gid!("tag_gid", "tag"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    // sections
    Operation {
        entity: "project_sections",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetSectionsForProject,
        description: "List a project's sections",
        params: &[gid!("project_gid", "project"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "project_sections",
        action: "create",
        kind: Kind::Create,
        endpoint: Op::CreateSectionForProject,
        description: "Create a section in a project",
        params: &[
            gid!("project_gid", "project"),
            req("name", Ty::Str, "Section name"),
            p("insert_before", Ty::Str, "Section gid to insert before"),
            p("insert_after", Ty::Str, "Section gid to insert after"),
        ],
        rules: &[],
    },
    Operation {
        entity: "sections",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetSection,
        description: "Get one section",
        params: &[gid!("section_gid", "section"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "sections",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateSection,
        description: "Rename a section (to move one, use sections.move)",
        params: &[
            gid!("section_gid", "section"),
            req("name", Ty::Str, "New section name"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "sections",
        action: "move",
        kind: Kind::Post,
        endpoint: Op::InsertSectionForProject,
        description: "Move a section before or after another section of the same project",
        params: &[
            gid!("project_gid", "project the sections belong to"),
            req("section", Ty::Str, "Gid of the section to move"),
            p(
                "before_section",
                Ty::Str,
                "Gid of the section to put it before",
            ),
            p(
                "after_section",
                Ty::Str,
                "Gid of the section to put it after",
            ),
        ],
        rules: &[Rule::AnyGroup(&[&["before_section"], &["after_section"]])],
    },
    Operation {
        entity: "sections",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteSection,
        description: "Delete an empty section",
        params: &[gid!("section_gid", "section")],
        rules: &[],
    },
    Operation {
        entity: "section_tasks",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTasksForSection,
        description: "List the tasks in a section",
        params: &[
            gid!("section_gid", "section"),
            p(
                "completed_since",
                Ty::Str,
                "Only tasks incomplete or completed since this ISO 8601 time, or \"now\"",
            ),
            OPT_FIELDS,
            LIMIT,
            OFFSET,
        ],
        rules: &[],
    },
    Operation {
        entity: "section_tasks",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddTaskForSection,
        description: "Move a task into a section",
        params: &[
            gid!("section_gid", "section"),
            req("task", Ty::Str, "Task gid"),
            p("insert_before", Ty::Str, "Task gid to insert before"),
            p("insert_after", Ty::Str, "Task gid to insert after"),
        ],
        rules: &[],
    },
    // task relations
    Operation {
        entity: "task_subtasks",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetSubtasksForTask,
        description: "List a task's subtasks",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_dependencies",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetDependenciesForTask,
        description: "List the tasks this task depends on",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_dependents",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetDependentsForTask,
        description: "List the tasks that depend on this task",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_stories",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetStoriesForTask,
        description: "List a task's stories (comments and activity)",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_stories",
        action: "create",
        kind: Kind::Create,
        endpoint: Op::CreateStoryForTask,
        description: "Comment on a task",
        params: &[
            gid!("task_gid", "task"),
            p("text", Ty::Str, "Plain-text comment"),
            p(
                "html_text",
                Ty::Str,
                "Rich-text comment in Asana's HTML subset",
            ),
            p("is_pinned", Ty::Bool, "Pin the comment"),
        ],
        rules: &[Rule::AnyGroup(&[&["text"], &["html_text"]])],
    },
    Operation {
        entity: "task_tags",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddTagForTask,
        description: "Add a tag to a task",
        params: &[gid!("task_gid", "task"), req("tag", Ty::Str, "Tag gid")],
        rules: &[],
    },
    Operation {
        entity: "task_tags",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveTagForTask,
        description: "Remove a tag from a task",
        params: &[gid!("task_gid", "task"), req("tag", Ty::Str, "Tag gid")],
        rules: &[],
    },
    Operation {
        entity: "workspace_memberships",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddUserForWorkspace,
        description: "Add a user to a workspace or organization",
        params: &[
            gid!("workspace_gid", "workspace"),
            req("user", Ty::Str, "User gid, email, or \"me\""),
        ],
        rules: &[],
    },
    // Generated from Asana's spec (names, types, enums, required, nullable).
    Operation {
        entity: "workspace_custom_fields",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetCustomFieldsForWorkspace,
        description: "List a workspace's custom fields, to find a field's gid before setting it on a task",
        params: &[
            gid!("workspace_gid", "workspace"),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "custom_fields",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetCustomField,
        description: "Get one custom field with its enum options",
        params: &[gid!("custom_field_gid", "custom field"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "custom_fields",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateCustomField,
        description: "Create a custom field in a workspace",
        params: &[
            p("name", Ty::Str, "Field name, unique in the workspace"),
            p(
                "enum_options",
                Ty::List,
                "The options of an enum or multi_enum field: [{name, color?, enabled?}]",
            ),
            p(
                "id_prefix",
                Ty::Str,
                "Prefix of the custom IDs this field gives tasks, e.g. ENG",
            )
            .nullable(),
            p(
                "input_restrictions",
                Ty::StrList,
                "Resource types a reference field may point to, e.g. [\"task\"]",
            ),
            p(
                "is_formula_field",
                Ty::Bool,
                "Whether the value is computed by a formula",
            ),
            p(
                "date_value",
                Ty::Object,
                "Date value of a date field: {date} or {date_time}",
            )
            .nullable(),
            p(
                "enum_value",
                Ty::Object,
                "The chosen option of an enum field, {gid}",
            ),
            p(
                "multi_enum_values",
                Ty::List,
                "Chosen options of a multi_enum field: [{gid}]",
            ),
            p("number_value", Ty::Num, "Value of a number field").nullable(),
            p("text_value", Ty::Str, "Value of a text field").nullable(),
            p("description", Ty::Str, "What the field is for"),
            p("precision", Ty::Integer, "Decimal places shown, 0 to 6"),
            p(
                "format",
                Ty::Enum(&[
                    "currency",
                    "identifier",
                    "percentage",
                    "custom",
                    "duration",
                    "none",
                ]),
                "How number values are shown: currency, identifier, percentage, custom, duration or none",
            ),
            p(
                "currency_code",
                Ty::Str,
                "ISO 4217 currency code (for the currency format), e.g. EUR",
            )
            .nullable(),
            p(
                "custom_label",
                Ty::Str,
                "Label shown with values (custom format only), e.g. km",
            )
            .nullable(),
            p(
                "custom_label_position",
                Ty::Enum(&["prefix", "suffix"]),
                "Whether custom_label goes before (prefix) or after (suffix) values",
            )
            .nullable(),
            p(
                "has_notifications_enabled",
                Ty::Bool,
                "Whether followers are notified when the value changes",
            ),
            req(
                "workspace",
                Ty::Str,
                "Gid of the workspace the field belongs to",
            ),
            p(
                "owned_by_app",
                Ty::Bool,
                "Whether the field is managed by the app that created it",
            ),
            p(
                "people_value",
                Ty::StrList,
                "Gids of the users, for a people field",
            ),
            p(
                "reference_value",
                Ty::StrList,
                "Gids of the referenced objects, for a reference field",
            ),
            req(
                "resource_subtype",
                Ty::Enum(&[
                    "text",
                    "enum",
                    "multi_enum",
                    "number",
                    "date",
                    "people",
                    "reference",
                ]),
                "Field type: text, enum, multi_enum, number, date, people or reference",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "custom_fields",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateCustomField,
        description: "Update a custom field",
        params: &[
            gid!("custom_field_gid", "custom field"),
            p("name", Ty::Str, "Field name, unique in the workspace"),
            p(
                "enum_options",
                Ty::List,
                "The options of an enum or multi_enum field: [{name, color?, enabled?}]",
            ),
            p(
                "id_prefix",
                Ty::Str,
                "Prefix of the custom IDs this field gives tasks, e.g. ENG",
            )
            .nullable(),
            p(
                "input_restrictions",
                Ty::StrList,
                "Resource types a reference field may point to, e.g. [\"task\"]",
            ),
            p(
                "is_formula_field",
                Ty::Bool,
                "Whether the value is computed by a formula",
            ),
            p(
                "date_value",
                Ty::Object,
                "Date value of a date field: {date} or {date_time}",
            )
            .nullable(),
            p(
                "enum_value",
                Ty::Object,
                "The chosen option of an enum field, {gid}",
            ),
            p(
                "multi_enum_values",
                Ty::List,
                "Chosen options of a multi_enum field: [{gid}]",
            ),
            p("number_value", Ty::Num, "Value of a number field").nullable(),
            p("text_value", Ty::Str, "Value of a text field").nullable(),
            p("description", Ty::Str, "What the field is for"),
            p("precision", Ty::Integer, "Decimal places shown, 0 to 6"),
            p(
                "format",
                Ty::Enum(&[
                    "currency",
                    "identifier",
                    "percentage",
                    "custom",
                    "duration",
                    "none",
                ]),
                "How number values are shown: currency, identifier, percentage, custom, duration or none",
            ),
            p(
                "currency_code",
                Ty::Str,
                "ISO 4217 currency code (for the currency format), e.g. EUR",
            )
            .nullable(),
            p(
                "custom_label",
                Ty::Str,
                "Label shown with values (custom format only), e.g. km",
            )
            .nullable(),
            p(
                "custom_label_position",
                Ty::Enum(&["prefix", "suffix"]),
                "Whether custom_label goes before (prefix) or after (suffix) values",
            )
            .nullable(),
            p(
                "has_notifications_enabled",
                Ty::Bool,
                "Whether followers are notified when the value changes",
            ),
            req(
                "workspace",
                Ty::Str,
                "Gid of the workspace the field belongs to",
            ),
            p(
                "owned_by_app",
                Ty::Bool,
                "Whether the field is managed by the app that created it",
            ),
            p(
                "people_value",
                Ty::StrList,
                "Gids of the users, for a people field",
            ),
            p(
                "reference_value",
                Ty::StrList,
                "Gids of the referenced objects, for a reference field",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "custom_fields",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteCustomField,
        description: "Delete a custom field",
        params: &[gid!("custom_field_gid", "custom field")],
        rules: &[],
    },
    Operation {
        entity: "custom_field_enum_options",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateEnumOptionForCustomField,
        description: "Add an enum option to a custom field",
        params: &[
            gid!("custom_field_gid", "custom field"),
            p("name", Ty::Str, "Option name"),
            p(
                "enabled",
                Ty::Bool,
                "Whether the option can be chosen (false hides it without deleting)",
            ),
            p("color", Ty::Str, "Option color, e.g. blue or none"),
            p(
                "insert_before",
                Ty::Str,
                "Gid of the option to place it before",
            ),
            p(
                "insert_after",
                Ty::Str,
                "Gid of the option to place it after",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "custom_field_enum_options",
        action: "move",
        kind: Kind::Post,
        endpoint: Op::InsertEnumOptionForCustomField,
        description: "Move an enum option before or after another option of its custom field",
        params: &[
            gid!("custom_field_gid", "custom field"),
            req("enum_option", Ty::Str, "Gid of the enum option to move"),
            p(
                "before_enum_option",
                Ty::Str,
                "Gid of the option to place it before",
            ),
            p(
                "after_enum_option",
                Ty::Str,
                "Gid of the option to place it after",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "enum_options",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateEnumOption,
        description: "Rename, recolor or disable an enum option",
        params: &[
            gid!("enum_option_gid", "enum option"),
            p("name", Ty::Str, "New option name"),
            p(
                "enabled",
                Ty::Bool,
                "Whether the option can be chosen (false hides it without deleting)",
            ),
            p("color", Ty::Str, "Option color, e.g. blue or none"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_custom_field_settings",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetCustomFieldSettingsForProject,
        description: "List the custom fields set up on a project",
        params: &[gid!("project_gid", "project"), LIMIT, OFFSET, OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "project_custom_field_settings",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddCustomFieldSettingForProject,
        description: "Add a custom field to a project",
        params: &[
            gid!("project_gid", "project"),
            req("custom_field", Ty::Str, "Gid of the custom field"),
            p(
                "is_important",
                Ty::Bool,
                "Show the field on tasks and in the list view",
            ),
            p(
                "insert_before",
                Ty::Str,
                "Gid of a field setting to place it before",
            ),
            p(
                "insert_after",
                Ty::Str,
                "Gid of a field setting to place it after",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_custom_field_settings",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveCustomFieldSettingForProject,
        description: "Remove a custom field from a project",
        params: &[
            gid!("project_gid", "project"),
            req("custom_field", Ty::Str, "Gid of the custom field"),
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_custom_field_settings",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetCustomFieldSettingsForPortfolio,
        description: "List the custom fields set up on a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_custom_field_settings",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddCustomFieldSettingForPortfolio,
        description: "Add a custom field to a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            req("custom_field", Ty::Str, "Gid of the custom field"),
            p(
                "is_important",
                Ty::Bool,
                "Show the field on tasks and in the list view",
            ),
            p(
                "insert_before",
                Ty::Str,
                "Gid of a field setting to place it before",
            ),
            p(
                "insert_after",
                Ty::Str,
                "Gid of a field setting to place it after",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_custom_field_settings",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveCustomFieldSettingForPortfolio,
        description: "Remove a custom field from a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            req("custom_field", Ty::Str, "Gid of the custom field"),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_parent",
        action: "update",
        kind: Kind::Post,
        endpoint: Op::SetParentForTask,
        description: "Make a task a subtask of another task, or a top-level task with parent null",
        params: &[
            gid!("task_gid", "task"),
            req(
                "parent",
                Ty::Str,
                "Gid of the new parent task, or null to make it a top-level task",
            )
            .nullable(),
            p(
                "insert_after",
                Ty::Str,
                "Gid of a sibling subtask to place it after",
            ),
            p(
                "insert_before",
                Ty::Str,
                "Gid of a sibling subtask to place it before",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "task_followers",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddFollowersForTask,
        description: "Add followers to a task",
        params: &[
            gid!("task_gid", "task"),
            req(
                "followers",
                Ty::StrList,
                "Gids or emails of the users, or \"me\"",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "task_followers",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveFollowerForTask,
        description: "Remove followers from a task",
        params: &[
            gid!("task_gid", "task"),
            req(
                "followers",
                Ty::StrList,
                "Gids or emails of the users, or \"me\"",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "task_dependencies",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddDependenciesForTask,
        description: "Mark a task as depending on other tasks",
        params: &[
            gid!("task_gid", "task"),
            p(
                "dependencies",
                Ty::StrList,
                "Gids of the tasks it depends on (blocked until they are done)",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_dependencies",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveDependenciesForTask,
        description: "Remove dependencies from a task",
        params: &[
            gid!("task_gid", "task"),
            p(
                "dependencies",
                Ty::StrList,
                "Gids of the tasks it depends on (blocked until they are done)",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_dependents",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddDependentsForTask,
        description: "Mark other tasks as depending on a task",
        params: &[
            gid!("task_gid", "task"),
            p(
                "dependents",
                Ty::StrList,
                "Gids of the tasks that depend on it",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_dependents",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveDependentsForTask,
        description: "Remove dependents from a task",
        params: &[
            gid!("task_gid", "task"),
            p(
                "dependents",
                Ty::StrList,
                "Gids of the tasks that depend on it",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_projects",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddProjectForTask,
        description: "Add a task to a project, optionally in a section or next to a task",
        params: &[
            gid!("task_gid", "task"),
            req("project", Ty::Str, "Gid of the project to add the task to"),
            p(
                "insert_after",
                Ty::Str,
                "Gid of a task of the project to place it after",
            )
            .nullable(),
            p(
                "insert_before",
                Ty::Str,
                "Gid of a task of the project to place it before",
            )
            .nullable(),
            p(
                "section",
                Ty::Str,
                "Gid of a section of that project to put the task in",
            )
            .nullable(),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_projects",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveProjectForTask,
        description: "Remove a task from a project",
        params: &[
            gid!("task_gid", "task"),
            req(
                "project",
                Ty::Str,
                "Gid of the project to remove the task from",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_subtasks",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateSubtaskForTask,
        description: "Create a subtask of a task",
        params: &[
            gid!("task_gid", "task"),
            p("name", Ty::Str, "Subtask name"),
            p(
                "resource_subtype",
                Ty::Enum(&["default_task", "milestone", "approval", "custom"]),
                "Task kind: default_task, milestone, approval or custom",
            ),
            p(
                "approval_status",
                Ty::Enum(&["pending", "approved", "rejected", "changes_requested"]),
                "Approval state (approval subtasks only)",
            ),
            p(
                "assignee_status",
                Ty::Enum(&["today", "upcoming", "later", "new", "inbox"]),
                "Deprecated by Asana: the assignee's My Tasks bucket",
            ),
            p("completed", Ty::Bool, "Whether the subtask is complete"),
            p(
                "due_at",
                Ty::Str,
                "Due date and time, ISO 8601 (instead of due_on)",
            )
            .nullable(),
            p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
            p(
                "external",
                Ty::Object,
                "App data stored on the task: {gid, data} (OAuth apps only)",
            ),
            p(
                "html_notes",
                Ty::Str,
                "Description in Asana's rich-text HTML",
            ),
            p("liked", Ty::Bool, "Whether the current user likes it"),
            p("notes", Ty::Str, "Plain-text description"),
            p(
                "start_at",
                Ty::Str,
                "Start date and time, ISO 8601 (needs due_at)",
            )
            .nullable(),
            p(
                "start_on",
                Ty::Str,
                "Start date, YYYY-MM-DD (needs a due date)",
            )
            .nullable(),
            p("assignee", Ty::Str, "Assignee user gid, email, or \"me\"").nullable(),
            p(
                "assignee_section",
                Ty::Str,
                "Gid of the section of the assignee's My Tasks to put it in",
            )
            .nullable(),
            p(
                "custom_fields",
                Ty::Object,
                "Custom field values by custom field gid, e.g. {\"123\": \"text\", \"456\": 42}",
            ),
            p(
                "parent",
                Ty::Str,
                "Gid of the parent task (deprecated here: the path names it)",
            )
            .nullable(),
            p("followers", Ty::StrList, "Gids or emails of the followers"),
            p(
                "projects",
                Ty::StrList,
                "Gids of projects to add the subtask to as well",
            ),
            p("tags", Ty::StrList, "Gids of the tags"),
            p(
                "workspace",
                Ty::Str,
                "Gid of the workspace (taken from the parent when left out)",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "task_duplicates",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::DuplicateTask,
        description: "Duplicate a task (returns a job to follow with jobs.get)",
        params: &[
            gid!("task_gid", "task"),
            p("name", Ty::Str, "Name of the new task"),
            p(
                "include",
                Ty::Str,
                "Comma-separated parts to copy: assignee, attachments, dates, dependencies, followers, notes, parent, projects, subtasks, tags",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "task_tags",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTagsForTask,
        description: "List a task's tags",
        params: &[gid!("task_gid", "task"), LIMIT, OFFSET, OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "workspace_task_custom_ids",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTaskForCustomID,
        description: "Get a task by its custom id (e.g. ENG-123)",
        params: &[
            gid!("workspace_gid", "workspace"),
            req("custom_id", Ty::Str, "The task's custom ID, e.g. ENG-123"),
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_typeahead",
        action: "list",
        kind: Kind::Unpaged,
        endpoint: Op::TypeaheadForWorkspace,
        description: "Find objects by name prefix (the name-to-gid lookup that works on free workspaces)",
        params: &[
            gid!("workspace_gid", "workspace"),
            req(
                "resource_type",
                Ty::Enum(&[
                    "actor",
                    "agent",
                    "custom_field",
                    "goal",
                    "project",
                    "project_template",
                    "portfolio",
                    "tag",
                    "task",
                    "team",
                    "user",
                ]),
                "Type of objects to find, e.g. task, project, user or custom_field",
            ),
            p(
                "type",
                Ty::Enum(&[
                    "custom_field",
                    "portfolio",
                    "project",
                    "tag",
                    "task",
                    "user",
                ]),
                "Deprecated by Asana: use resource_type",
            ),
            p(
                "query",
                Ty::Str,
                "Text to match, from the start of words; empty gives recent or favorite objects",
            ),
            p(
                "count",
                Ty::Integer,
                "Most results to return, 1 to 100 (default 20)",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "status_updates",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetStatusesForObject,
        description: "List the status updates of a project, portfolio or goal",
        params: &[
            req("parent", Ty::Str, "Gid of the project, portfolio or goal"),
            p(
                "created_since",
                Ty::Str,
                "Only status updates created since this ISO 8601 time",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "status_updates",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetStatus,
        description: "Get one status update",
        params: &[gid!("status_update_gid", "status update"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "status_updates",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateStatusForObject,
        description: "Post a status update on a project, portfolio or goal",
        params: &[
            p("title", Ty::Str, "Headline of the update"),
            req("text", Ty::Str, "Body of the update in plain text"),
            p(
                "html_text",
                Ty::Str,
                "Body of the update in Asana's rich-text HTML (instead of text)",
            ),
            req(
                "status_type",
                Ty::Enum(STATUS_TYPES),
                "Status: on_track, at_risk, off_track, on_hold, complete, achieved, partial, missed or dropped",
            ),
            req(
                "parent",
                Ty::Str,
                "Gid of the project, portfolio or goal the update is about",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "status_updates",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteStatus,
        description: "Delete a status update",
        params: &[gid!("status_update_gid", "status update")],
        rules: &[],
    },
    Operation {
        entity: "goals",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetGoals,
        description: "List goals of a workspace, team, portfolio, project or time period",
        params: &[
            p(
                "portfolio",
                Ty::Str,
                "Gid of a portfolio: only goals it supports",
            ),
            p(
                "project",
                Ty::Str,
                "Gid of a project: only goals it supports",
            ),
            p("task", Ty::Str, "Gid of a task: only goals it supports"),
            p(
                "is_workspace_level",
                Ty::Bool,
                "Only workspace-level goals (with workspace)",
            ),
            p("team", Ty::Str, "Gid of a team: only its goals"),
            p("workspace", Ty::Str, "Gid of a workspace: only its goals"),
            p(
                "time_periods",
                Ty::StrList,
                "Gids of time periods: only goals in them",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goals",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetGoal,
        description: "Get one goal",
        params: &[gid!("goal_gid", "goal"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "goals",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateGoal,
        description: "Create a goal",
        params: &[
            p("name", Ty::Str, "Goal name"),
            p(
                "html_notes",
                Ty::Str,
                "Description of the goal in Asana's rich-text HTML",
            ),
            p("notes", Ty::Str, "Plain-text description of the goal"),
            p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
            p("start_on", Ty::Str, "Start date, YYYY-MM-DD").nullable(),
            p(
                "is_workspace_level",
                Ty::Bool,
                "Whether the goal belongs to the workspace rather than a team",
            ),
            p("liked", Ty::Bool, "Whether the current user likes the goal"),
            p(
                "team",
                Ty::Str,
                "Gid of the team the goal belongs to (leave out for a workspace goal)",
            )
            .nullable(),
            p("workspace", Ty::Str, "Gid of the workspace"),
            p(
                "time_period",
                Ty::Str,
                "Gid of the time period (from time_periods.list)",
            )
            .nullable(),
            p(
                "owner",
                Ty::Str,
                "Gid of the user who owns the goal, or null",
            )
            .nullable(),
            p("followers", Ty::StrList, "Gids or emails of the followers"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goals",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateGoal,
        description: "Update a goal",
        params: &[
            gid!("goal_gid", "goal"),
            p("name", Ty::Str, "Goal name"),
            p(
                "html_notes",
                Ty::Str,
                "Description of the goal in Asana's rich-text HTML",
            ),
            p("notes", Ty::Str, "Plain-text description of the goal"),
            p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
            p("start_on", Ty::Str, "Start date, YYYY-MM-DD").nullable(),
            p(
                "is_workspace_level",
                Ty::Bool,
                "Whether the goal belongs to the workspace rather than a team",
            ),
            p("liked", Ty::Bool, "Whether the current user likes the goal"),
            p(
                "team",
                Ty::Str,
                "Gid of the team the goal belongs to (leave out for a workspace goal)",
            )
            .nullable(),
            p("workspace", Ty::Str, "Gid of the workspace"),
            p(
                "time_period",
                Ty::Str,
                "Gid of the time period (from time_periods.list)",
            )
            .nullable(),
            p(
                "owner",
                Ty::Str,
                "Gid of the user who owns the goal, or null",
            )
            .nullable(),
            p(
                "status",
                Ty::Str,
                "Status: green, yellow, red, missed, achieved, partial or dropped",
            )
            .nullable(),
            p(
                "custom_fields",
                Ty::Object,
                "Custom field values by custom field gid, e.g. {\"123\": \"text\", \"456\": 42}",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goals",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteGoal,
        description: "Delete a goal",
        params: &[gid!("goal_gid", "goal")],
        rules: &[],
    },
    Operation {
        entity: "goal_metrics",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateGoalMetric,
        description: "Set how a goal is measured",
        params: &[
            gid!("goal_gid", "goal"),
            p("precision", Ty::Integer, "Decimal places shown, 0 to 6"),
            p(
                "unit",
                Ty::Enum(&["none", "currency", "percentage"]),
                "Unit of the metric: none, currency or percentage",
            ),
            p(
                "currency_code",
                Ty::Str,
                "ISO 4217 currency code for the currency unit, e.g. EUR",
            )
            .nullable(),
            p(
                "initial_number_value",
                Ty::Num,
                "The metric's starting value",
            ),
            p(
                "target_number_value",
                Ty::Num,
                "The value that achieves the goal",
            ),
            p(
                "current_number_value",
                Ty::Num,
                "The metric's current value",
            ),
            p(
                "progress_source",
                Ty::Enum(&[
                    "manual",
                    "subgoal_progress",
                    "project_task_completion",
                    "project_milestone_completion",
                    "task_completion",
                    "external",
                ]),
                "Where progress comes from: manual, subgoals, project tasks or milestones, tasks, or external",
            ),
            p(
                "is_custom_weight",
                Ty::Bool,
                "Weigh supporting items by their contribution_weight (for computed progress)",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_metrics",
        action: "update",
        kind: Kind::Post,
        endpoint: Op::UpdateGoalMetric,
        description: "Update a goal's current metric value",
        params: &[
            gid!("goal_gid", "goal"),
            p(
                "current_number_value",
                Ty::Num,
                "The metric's current value",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_followers",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddFollowers,
        description: "Add followers to a goal",
        params: &[
            gid!("goal_gid", "goal"),
            req(
                "followers",
                Ty::StrList,
                "Gids or emails of the users, or \"me\"",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_followers",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveFollowers,
        description: "Remove followers from a goal",
        params: &[
            gid!("goal_gid", "goal"),
            req(
                "followers",
                Ty::StrList,
                "Gids or emails of the users, or \"me\"",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_parent_goals",
        action: "list",
        kind: Kind::Unpaged,
        endpoint: Op::GetParentGoalsForGoal,
        description: "List the goals a goal supports",
        params: &[gid!("goal_gid", "goal"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "goal_relationships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetGoalRelationships,
        description: "List the relationships of a supported goal",
        params: &[
            req(
                "supported_goal",
                Ty::Str,
                "Gid of the goal whose relationships to list",
            ),
            p(
                "resource_subtype",
                Ty::Str,
                "Only subgoal or supporting_work relationships",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_relationships",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetGoalRelationship,
        description: "Get one goal relationship",
        params: &[
            gid!("goal_relationship_gid", "goal relationship"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_relationships",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateGoalRelationship,
        description: "Change how much a supporting resource contributes to a goal",
        params: &[
            gid!("goal_relationship_gid", "goal relationship"),
            p(
                "contribution_weight",
                Ty::Num,
                "How much the supporting item's progress counts towards the goal, 0 to 1",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_relationships",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddSupportingRelationship,
        description: "Add a goal, project, task or portfolio that supports a goal",
        params: &[
            gid!("goal_gid", "goal"),
            req(
                "supporting_resource",
                Ty::Str,
                "Gid of the goal, project, task or portfolio that supports the goal",
            ),
            p(
                "insert_before",
                Ty::Str,
                "Gid of a subgoal to place it before (subgoals only)",
            ),
            p(
                "insert_after",
                Ty::Str,
                "Gid of a subgoal to place it after (subgoals only)",
            ),
            p(
                "contribution_weight",
                Ty::Num,
                "How much the supporting item's progress counts towards the goal, 0 to 1",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "goal_relationships",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveSupportingRelationship,
        description: "Remove a supporting resource from a goal",
        params: &[
            gid!("goal_gid", "goal"),
            req(
                "supporting_resource",
                Ty::Str,
                "Gid of the goal, project, task or portfolio that supports the goal",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolios",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetPortfolios,
        description: "List the portfolios a user owns in a workspace",
        params: &[
            req("workspace", Ty::Str, "Gid of the workspace"),
            p(
                "owner",
                Ty::Str,
                "Gid of the owner: only their portfolios (required by Asana unless an app token)",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolios",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetPortfolio,
        description: "Get one portfolio",
        params: &[gid!("portfolio_gid", "portfolio"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "portfolios",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreatePortfolio,
        description: "Create a portfolio",
        params: &[
            p("name", Ty::Str, "Portfolio name"),
            p("archived", Ty::Bool, "Whether the portfolio is archived"),
            p(
                "color",
                Ty::Enum(&[
                    "dark-pink",
                    "dark-green",
                    "dark-blue",
                    "dark-red",
                    "dark-teal",
                    "dark-brown",
                    "dark-orange",
                    "dark-purple",
                    "dark-warm-gray",
                    "light-pink",
                    "light-green",
                    "light-blue",
                    "light-red",
                    "light-teal",
                    "light-brown",
                    "light-orange",
                    "light-purple",
                    "light-warm-gray",
                ]),
                "Portfolio color",
            ),
            p(
                "start_on",
                Ty::Str,
                "Start date, YYYY-MM-DD (needs a due date)",
            )
            .nullable(),
            p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
            p(
                "default_access_level",
                Ty::Enum(&["admin", "editor", "viewer"]),
                "Access level given to people invited without one",
            ),
            p("workspace", Ty::Str, "Gid of the workspace"),
            p(
                "public",
                Ty::Bool,
                "Deprecated by Asana: use privacy_setting",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolios",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdatePortfolio,
        description: "Update a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            p("name", Ty::Str, "Portfolio name"),
            p("archived", Ty::Bool, "Whether the portfolio is archived"),
            p(
                "color",
                Ty::Enum(&[
                    "dark-pink",
                    "dark-green",
                    "dark-blue",
                    "dark-red",
                    "dark-teal",
                    "dark-brown",
                    "dark-orange",
                    "dark-purple",
                    "dark-warm-gray",
                    "light-pink",
                    "light-green",
                    "light-blue",
                    "light-red",
                    "light-teal",
                    "light-brown",
                    "light-orange",
                    "light-purple",
                    "light-warm-gray",
                ]),
                "Portfolio color",
            ),
            p(
                "start_on",
                Ty::Str,
                "Start date, YYYY-MM-DD (needs a due date)",
            )
            .nullable(),
            p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
            p(
                "default_access_level",
                Ty::Enum(&["admin", "editor", "viewer"]),
                "Access level given to people invited without one",
            ),
            p(
                "custom_fields",
                Ty::Object,
                "Custom field values by custom field gid, e.g. {\"123\": \"text\", \"456\": 42}",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolios",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeletePortfolio,
        description: "Delete a portfolio",
        params: &[gid!("portfolio_gid", "portfolio")],
        rules: &[],
    },
    Operation {
        entity: "portfolio_items",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetItemsForPortfolio,
        description: "List the projects and portfolios in a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_items",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddItemForPortfolio,
        description: "Add a project or portfolio to a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            req("item", Ty::Str, "Gid of the project or portfolio"),
            p(
                "insert_before",
                Ty::Str,
                "Gid of an item to place it before",
            ),
            p("insert_after", Ty::Str, "Gid of an item to place it after"),
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_items",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveItemForPortfolio,
        description: "Remove an item from a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            req("item", Ty::Str, "Gid of the project or portfolio"),
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_members",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddMembersForPortfolio,
        description: "Add members to a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            req("members", Ty::Str, "Gids or emails of the users, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_members",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveMembersForPortfolio,
        description: "Remove members from a portfolio",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            req("members", Ty::Str, "Gids or emails of the users, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "portfolio_memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetPortfolioMembershipsForPortfolio,
        description: "List a portfolio's memberships",
        params: &[
            gid!("portfolio_gid", "portfolio"),
            p(
                "user",
                Ty::Str,
                "Gid or email of a user, or \"me\": only their membership",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "task_time_tracking_entries",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTimeTrackingEntriesForTask,
        description: "List the time tracked on a task",
        params: &[gid!("task_gid", "task"), LIMIT, OFFSET, OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "task_time_tracking_entries",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateTimeTrackingEntry,
        description: "Track time on a task",
        params: &[
            gid!("task_gid", "task"),
            p("duration_minutes", Ty::Integer, "Time spent, in minutes"),
            p(
                "entered_on",
                Ty::Str,
                "Day the time was spent, YYYY-MM-DD (default today)",
            ),
            p(
                "attributable_to",
                Ty::Str,
                "Gid of the project the time counts towards",
            ),
            p(
                "billable_status",
                Ty::Enum(&["billable", "nonBillable", "notApplicable"]),
                "Whether the time is billable, nonBillable or notApplicable",
            ),
            p("description", Ty::Str, "What the time was spent on"),
            p(
                "categories",
                Ty::StrList,
                "Gids of the time tracking categories",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "time_tracking_entries",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTimeTrackingEntries,
        description: "List time tracking entries by task, portfolio, user, workspace or date range",
        params: &[
            p("task", Ty::Str, "Gid of a task: only its entries"),
            p(
                "attributable_to",
                Ty::Str,
                "Gid of a project: only entries counted towards it",
            ),
            p(
                "portfolio",
                Ty::Str,
                "Gid of a portfolio: only entries on its projects",
            ),
            p("user", Ty::Str, "Gid of a user: only their entries"),
            p("workspace", Ty::Str, "Gid of the workspace"),
            p(
                "entered_on_start_date",
                Ty::Str,
                "Only entries entered on or after this date, YYYY-MM-DD",
            ),
            p(
                "entered_on_end_date",
                Ty::Str,
                "Only entries entered on or before this date, YYYY-MM-DD",
            ),
            p(
                "timesheet_approval_status",
                Ty::Str,
                "Only entries with this approval status",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "time_tracking_entries",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTimeTrackingEntry,
        description: "Get one time tracking entry",
        params: &[
            gid!("time_tracking_entry_gid", "time tracking entry"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "time_tracking_entries",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateTimeTrackingEntry,
        description: "Update a time tracking entry",
        params: &[
            gid!("time_tracking_entry_gid", "time tracking entry"),
            p("duration_minutes", Ty::Integer, "Time spent, in minutes"),
            p(
                "entered_on",
                Ty::Str,
                "Day the time was spent, YYYY-MM-DD (default today)",
            ),
            p(
                "attributable_to",
                Ty::Str,
                "Gid of the project the time counts towards",
            ),
            p(
                "billable_status",
                Ty::Enum(&["billable", "nonBillable", "notApplicable"]),
                "Whether the time is billable, nonBillable or notApplicable",
            ),
            p("description", Ty::Str, "What the time was spent on"),
            p(
                "categories",
                Ty::StrList,
                "Gids of the time tracking categories",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "time_tracking_entries",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteTimeTrackingEntry,
        description: "Delete a time tracking entry",
        params: &[gid!("time_tracking_entry_gid", "time tracking entry")],
        rules: &[],
    },
    Operation {
        entity: "user_task_lists",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetUserTaskList,
        description: "Get one user task list (\"My tasks\")",
        params: &[gid!("user_task_list_gid", "user task list"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "user_user_task_lists",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetUserTaskListForUser,
        description: "Get a user's task list (\"My tasks\") in a workspace",
        params: &[
            req("user_gid", Ty::Str, "User gid, email, or \"me\""),
            req(
                "workspace",
                Ty::Str,
                "Gid of the workspace of the My Tasks list",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "user_task_list_tasks",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTasksForUserTaskList,
        description: "List the tasks in a user's \"My tasks\"",
        params: &[
            gid!("user_task_list_gid", "user task list"),
            p(
                "completed_since",
                Ty::Str,
                "Only tasks incomplete or completed since this ISO 8601 time, or \"now\"",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetMemberships,
        description: "List the memberships of a project, portfolio or goal, or of a member",
        params: &[
            p(
                "parent",
                Ty::Str,
                "Gid of the project, goal or portfolio whose memberships to list",
            ),
            p(
                "member",
                Ty::Str,
                "Gid of a user or team: only its membership",
            ),
            p(
                "resource_subtype",
                Ty::Enum(&["project_membership"]),
                "Kind of membership to list",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "memberships",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetMembership,
        description: "Get one membership",
        params: &[gid!("membership_gid", "membership")],
        rules: &[],
    },
    Operation {
        entity: "memberships",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateMembership,
        description: "Share a project, portfolio or goal with a user or team",
        params: &[
            p(
                "access_level",
                Ty::Str,
                "Access the member gets: admin, editor, commenter or viewer",
            ),
            p("member", Ty::Str, "Gid of the user or team to give access"),
            p(
                "parent",
                Ty::Str,
                "Gid of the project, goal or portfolio to give access to",
            ),
            p("role", Ty::Str, "Role on a goal: editor or commenter"),
        ],
        rules: &[],
    },
    Operation {
        entity: "memberships",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateMembership,
        description: "Change a membership's access level",
        params: &[
            gid!("membership_gid", "membership"),
            p(
                "access_level",
                Ty::Str,
                "Access the member gets: admin, editor, commenter or viewer",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "memberships",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteMembership,
        description: "Remove a membership",
        params: &[gid!("membership_gid", "membership")],
        rules: &[],
    },
    Operation {
        entity: "project_memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjectMembershipsForProject,
        description: "List a project's memberships",
        params: &[
            gid!("project_gid", "project"),
            p(
                "user",
                Ty::Str,
                "Gid or email of a user, or \"me\": only their membership",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_memberships",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetProjectMembership,
        description: "Get one project membership",
        params: &[
            gid!("project_membership_gid", "project membership"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_members",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddMembersForProject,
        description: "Add members to a project",
        params: &[
            gid!("project_gid", "project"),
            req("members", Ty::Str, "Gids or emails of the users, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_members",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveMembersForProject,
        description: "Remove members from a project",
        params: &[
            gid!("project_gid", "project"),
            req("members", Ty::Str, "Gids or emails of the users, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_followers",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddFollowersForProject,
        description: "Add followers to a project",
        params: &[
            gid!("project_gid", "project"),
            req(
                "followers",
                Ty::Str,
                "Gids or emails of the users, or \"me\"",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_followers",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveFollowersForProject,
        description: "Remove followers from a project",
        params: &[
            gid!("project_gid", "project"),
            req(
                "followers",
                Ty::Str,
                "Gids or emails of the users, or \"me\"",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "team_memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTeamMemberships,
        description: "List team memberships by team, user or workspace",
        params: &[
            p("team", Ty::Str, "Gid of a team: only its memberships"),
            p(
                "user",
                Ty::Str,
                "Gid or email of a user, or \"me\": only their memberships (with workspace)",
            ),
            p("workspace", Ty::Str, "Gid of the workspace (with user)"),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "team_memberships",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTeamMembership,
        description: "Get one team membership",
        params: &[gid!("team_membership_gid", "team membership"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "team_team_memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTeamMembershipsForTeam,
        description: "List a team's memberships",
        params: &[gid!("team_gid", "team"), LIMIT, OFFSET, OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "user_team_memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTeamMembershipsForUser,
        description: "List a user's team memberships in a workspace",
        params: &[
            req("user_gid", Ty::Str, "User gid, email, or \"me\""),
            req(
                "workspace",
                Ty::Str,
                "Gid of the workspace whose teams to include",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "team_members",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::AddUserForTeam,
        description: "Add a user to a team",
        params: &[
            gid!("team_gid", "team"),
            p("user", Ty::Str, "Gid or email of the user, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "team_members",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveUserForTeam,
        description: "Remove a user from a team",
        params: &[
            gid!("team_gid", "team"),
            p("user", Ty::Str, "Gid or email of the user, or \"me\""),
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_memberships",
        action: "delete",
        kind: Kind::Post,
        endpoint: Op::RemoveUserForWorkspace,
        description: "Remove a user from a workspace or organization",
        params: &[
            gid!("workspace_gid", "workspace"),
            p(
                "user",
                Ty::Str,
                "Gid or email of the user to remove, or \"me\"",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetWorkspaceMembershipsForWorkspace,
        description: "List a workspace's memberships",
        params: &[
            gid!("workspace_gid", "workspace"),
            p(
                "user",
                Ty::Str,
                "Gid or email of a user, or \"me\": only their membership",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_memberships",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetWorkspaceMembership,
        description: "Get one workspace membership",
        params: &[
            gid!("workspace_membership_gid", "workspace membership"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "user_workspace_memberships",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetWorkspaceMembershipsForUser,
        description: "List a user's workspace memberships",
        params: &[
            req("user_gid", Ty::Str, "User gid, email, or \"me\""),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_duplicates",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::DuplicateProject,
        description: "Duplicate a project (returns a job to follow with jobs.get)",
        params: &[
            gid!("project_gid", "project"),
            req("name", Ty::Str, "Name of the new project"),
            p(
                "include",
                Ty::Str,
                "Comma-separated optional parts to copy, e.g. members,notes,task_notes,task_assignee,task_subtasks,task_attachments,task_dates,task_dependencies,task_followers,task_tags,task_projects",
            ),
            p(
                "schedule_dates",
                Ty::Object,
                "Shift task dates: {should_skip_weekends, start_on or due_on} (needs task_dates in include)",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_task_counts",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTaskCountsForProject,
        description: "Count a project's tasks (pick counts with opt_fields)",
        params: &[gid!("project_gid", "project"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "team_projects",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateProjectForTeam,
        description: "Create a project in a team",
        params: &[
            gid!("team_gid", "team"),
            p("name", Ty::Str, "Project name"),
            p("archived", Ty::Bool, "Whether the project is archived"),
            p(
                "color",
                Ty::Enum(&[
                    "dark-pink",
                    "dark-green",
                    "dark-blue",
                    "dark-red",
                    "dark-teal",
                    "dark-brown",
                    "dark-orange",
                    "dark-purple",
                    "dark-warm-gray",
                    "light-pink",
                    "light-green",
                    "light-blue",
                    "light-red",
                    "light-teal",
                    "light-brown",
                    "light-orange",
                    "light-purple",
                    "light-warm-gray",
                    "none",
                ]),
                "Project color",
            )
            .nullable(),
            p(
                "icon",
                Ty::Enum(&[
                    "list",
                    "board",
                    "timeline",
                    "calendar",
                    "rocket",
                    "people",
                    "graph",
                    "star",
                    "bug",
                    "light_bulb",
                    "globe",
                    "gear",
                    "notebook",
                    "computer",
                    "check",
                    "target",
                    "html",
                    "megaphone",
                    "chat_bubbles",
                    "briefcase",
                    "page_layout",
                    "mountain_flag",
                    "puzzle",
                    "presentation",
                    "line_and_symbols",
                    "speed_dial",
                    "ribbon",
                    "shoe",
                    "shopping_basket",
                    "map",
                    "ticket",
                    "coins",
                ]),
                "Project icon",
            )
            .nullable(),
            p(
                "current_status",
                Ty::Object,
                "Deprecated by Asana: use status_updates instead",
            ),
            p(
                "current_status_update",
                Ty::Object,
                "Deprecated by Asana: use status_updates instead",
            ),
            p(
                "default_view",
                Ty::Enum(&["list", "board", "calendar", "timeline"]),
                "Default view: list, board, calendar or timeline",
            ),
            p("due_date", Ty::Str, "Deprecated by Asana: use due_on").nullable(),
            p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
            p(
                "html_notes",
                Ty::Str,
                "Description in Asana's rich-text HTML",
            ),
            p("notes", Ty::Str, "Plain-text description of the project"),
            p(
                "public",
                Ty::Bool,
                "Deprecated by Asana: use privacy_setting",
            ),
            p(
                "privacy_setting",
                Ty::Enum(&["public_to_workspace", "private_to_team", "private"]),
                "Who can see the project: public_to_workspace, private_to_team or private",
            ),
            p(
                "start_on",
                Ty::Str,
                "Start date, YYYY-MM-DD (needs a due date)",
            )
            .nullable(),
            p(
                "default_access_level",
                Ty::Enum(&["admin", "editor", "commenter", "viewer"]),
                "Access level given to people invited without one",
            ),
            p(
                "minimum_access_level_for_customization",
                Ty::Enum(&["admin", "editor"]),
                "Lowest access level that may change the project's workflow and appearance",
            ),
            p(
                "minimum_access_level_for_sharing",
                Ty::Enum(&["admin", "editor"]),
                "Lowest access level that may share the project",
            ),
            p(
                "custom_fields",
                Ty::Object,
                "Custom field values by custom field gid, e.g. {\"123\": \"text\", \"456\": 42}",
            ),
            p(
                "followers",
                Ty::Str,
                "Comma-separated gids or emails of followers",
            ),
            p("owner", Ty::Str, "Gid of the owner, or \"me\"").nullable(),
            p(
                "team",
                Ty::Str,
                "Gid of the team (deprecated here: the path names it)",
            ),
            p(
                "workspace",
                Ty::Str,
                "Gid of the workspace (taken from the team when left out)",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_projects",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateProjectForWorkspace,
        description: "Create a project in a workspace",
        params: &[
            gid!("workspace_gid", "workspace"),
            p("name", Ty::Str, "Project name"),
            p("archived", Ty::Bool, "Whether the project is archived"),
            p(
                "color",
                Ty::Enum(&[
                    "dark-pink",
                    "dark-green",
                    "dark-blue",
                    "dark-red",
                    "dark-teal",
                    "dark-brown",
                    "dark-orange",
                    "dark-purple",
                    "dark-warm-gray",
                    "light-pink",
                    "light-green",
                    "light-blue",
                    "light-red",
                    "light-teal",
                    "light-brown",
                    "light-orange",
                    "light-purple",
                    "light-warm-gray",
                    "none",
                ]),
                "Project color",
            )
            .nullable(),
            p(
                "icon",
                Ty::Enum(&[
                    "list",
                    "board",
                    "timeline",
                    "calendar",
                    "rocket",
                    "people",
                    "graph",
                    "star",
                    "bug",
                    "light_bulb",
                    "globe",
                    "gear",
                    "notebook",
                    "computer",
                    "check",
                    "target",
                    "html",
                    "megaphone",
                    "chat_bubbles",
                    "briefcase",
                    "page_layout",
                    "mountain_flag",
                    "puzzle",
                    "presentation",
                    "line_and_symbols",
                    "speed_dial",
                    "ribbon",
                    "shoe",
                    "shopping_basket",
                    "map",
                    "ticket",
                    "coins",
                ]),
                "Project icon",
            )
            .nullable(),
            p(
                "current_status",
                Ty::Object,
                "Deprecated by Asana: use status_updates instead",
            ),
            p(
                "current_status_update",
                Ty::Object,
                "Deprecated by Asana: use status_updates instead",
            ),
            p(
                "default_view",
                Ty::Enum(&["list", "board", "calendar", "timeline"]),
                "Default view: list, board, calendar or timeline",
            ),
            p("due_date", Ty::Str, "Deprecated by Asana: use due_on").nullable(),
            p("due_on", Ty::Str, "Due date, YYYY-MM-DD").nullable(),
            p(
                "html_notes",
                Ty::Str,
                "Description in Asana's rich-text HTML",
            ),
            p("notes", Ty::Str, "Plain-text description of the project"),
            p(
                "public",
                Ty::Bool,
                "Deprecated by Asana: use privacy_setting",
            ),
            p(
                "privacy_setting",
                Ty::Enum(&["public_to_workspace", "private_to_team", "private"]),
                "Who can see the project: public_to_workspace, private_to_team or private",
            ),
            p(
                "start_on",
                Ty::Str,
                "Start date, YYYY-MM-DD (needs a due date)",
            )
            .nullable(),
            p(
                "default_access_level",
                Ty::Enum(&["admin", "editor", "commenter", "viewer"]),
                "Access level given to people invited without one",
            ),
            p(
                "minimum_access_level_for_customization",
                Ty::Enum(&["admin", "editor"]),
                "Lowest access level that may change the project's workflow and appearance",
            ),
            p(
                "minimum_access_level_for_sharing",
                Ty::Enum(&["admin", "editor"]),
                "Lowest access level that may share the project",
            ),
            p(
                "custom_fields",
                Ty::Object,
                "Custom field values by custom field gid, e.g. {\"123\": \"text\", \"456\": 42}",
            ),
            p(
                "followers",
                Ty::Str,
                "Comma-separated gids or emails of followers",
            ),
            p("owner", Ty::Str, "Gid of the owner, or \"me\"").nullable(),
            p(
                "team",
                Ty::Str,
                "Gid of the team to share it with (required in an organization)",
            ),
            p(
                "workspace",
                Ty::Str,
                "Gid of the workspace (deprecated here: the path names it)",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_templates",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjectTemplates,
        description: "List project templates of a workspace or team",
        params: &[
            p(
                "workspace",
                Ty::Str,
                "Gid of a workspace: only its templates",
            ),
            p("team", Ty::Str, "Gid of a team: only its templates"),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_templates",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetProjectTemplate,
        description: "Get one project template",
        params: &[gid!("project_template_gid", "project template"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "project_templates",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteProjectTemplate,
        description: "Delete a project template",
        params: &[gid!("project_template_gid", "project template")],
        rules: &[],
    },
    Operation {
        entity: "project_templates",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::ProjectSaveAsTemplate,
        description: "Save a project as a template (returns a job)",
        params: &[
            gid!("project_gid", "project"),
            req("name", Ty::Str, "Name of the new template"),
            p(
                "team",
                Ty::Str,
                "Gid of the team of the template (or give workspace)",
            ),
            p(
                "workspace",
                Ty::Str,
                "Gid of the workspace of the template (or give team)",
            ),
            req(
                "public",
                Ty::Bool,
                "Whether the template is visible to the whole team",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "team_project_templates",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjectTemplatesForTeam,
        description: "List a team's project templates",
        params: &[gid!("team_gid", "team"), LIMIT, OFFSET, OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "project_template_instances",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::InstantiateProject,
        description: "Create a project from a template (returns a job)",
        params: &[
            gid!("project_template_gid", "project template"),
            req("name", Ty::Str, "Name of the new project"),
            p("team", Ty::Str, "Gid of the team of the new project"),
            p(
                "public",
                Ty::Bool,
                "Deprecated by Asana: use privacy_setting",
            ),
            p(
                "privacy_setting",
                Ty::Enum(&["public_to_workspace", "private_to_team", "private"]),
                "Who can see the new project: public_to_workspace, private_to_team or private",
            ),
            p(
                "is_strict",
                Ty::Bool,
                "Fail (422) if a date variable has no date, instead of using a default",
            ),
            p(
                "requested_dates",
                Ty::List,
                "Dates for the template's date variables: [{gid, value: YYYY-MM-DD}]",
            ),
            p(
                "requested_roles",
                Ty::List,
                "Users for the template's roles: [{gid, value: user gid}]",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "project_statuses",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetProjectStatusesForProject,
        description: "List a project's legacy status updates (prefer status_updates)",
        params: &[gid!("project_gid", "project"), LIMIT, OFFSET, OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "stories",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetStory,
        description: "Get one story (comment or activity)",
        params: &[gid!("story_gid", "story"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "stories",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateStory,
        description: "Edit a comment, or pin or unpin it",
        params: &[
            gid!("story_gid", "story"),
            p("text", Ty::Str, "New comment text"),
            p(
                "html_text",
                Ty::Str,
                "New comment text in Asana's rich-text HTML (instead of text)",
            ),
            p(
                "is_pinned",
                Ty::Bool,
                "Whether the comment is pinned to the top of the task",
            ),
            p(
                "sticker_name",
                Ty::Enum(&[
                    "green_checkmark",
                    "people_dancing",
                    "dancing_unicorn",
                    "heart",
                    "party_popper",
                    "people_waving_flags",
                    "splashing_narwhal",
                    "trophy",
                    "yeti_riding_unicorn",
                    "celebrating_people",
                    "determined_climbers",
                    "phoenix_spreading_love",
                ]),
                "Sticker shown with the comment",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "stories",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteStory,
        description: "Delete a comment",
        params: &[gid!("story_gid", "story")],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTags,
        description: "List the tags of a workspace",
        params: &[
            p(
                "workspace",
                Ty::Str,
                "Gid of the workspace whose tags to list",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateTag,
        description: "Create a tag",
        params: &[
            p("name", Ty::Str, "Tag name"),
            p(
                "color",
                Ty::Enum(&[
                    "dark-pink",
                    "dark-green",
                    "dark-blue",
                    "dark-red",
                    "dark-teal",
                    "dark-brown",
                    "dark-orange",
                    "dark-purple",
                    "dark-warm-gray",
                    "light-pink",
                    "light-green",
                    "light-blue",
                    "light-red",
                    "light-teal",
                    "light-brown",
                    "light-orange",
                    "light-purple",
                    "light-warm-gray",
                ]),
                "Tag color",
            )
            .nullable(),
            p("notes", Ty::Str, "Plain-text notes about the tag"),
            p("followers", Ty::StrList, "Gids or emails of followers"),
            p("workspace", Ty::Str, "Gid of the workspace of the tag"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "attachments",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteAttachment,
        description: "Delete an attachment",
        params: &[gid!("attachment_gid", "attachment")],
        rules: &[],
    },
    Operation {
        entity: "teams",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateTeam,
        description: "Create a team in an organization",
        params: &[
            p("name", Ty::Str, "Team name"),
            p("description", Ty::Str, "Plain-text description of the team"),
            p(
                "html_description",
                Ty::Str,
                "Description of the team in Asana's rich-text HTML",
            ),
            p(
                "organization",
                Ty::Str,
                "Gid of the organization the team belongs to",
            ),
            p(
                "visibility",
                Ty::Enum(&["secret", "request_to_join", "public"]),
                "Who can find and join the team: secret, request_to_join or public",
            ),
            p(
                "edit_team_name_or_description_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may rename the team or edit its description",
            ),
            p(
                "edit_team_visibility_or_trash_team_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may change the team's visibility or delete it",
            ),
            p(
                "member_invite_management_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may invite members to the team",
            ),
            p(
                "guest_invite_management_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may invite guests to the team",
            ),
            p(
                "join_request_management_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may approve requests to join the team",
            ),
            p(
                "team_member_removal_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may remove members from the team",
            ),
            p(
                "team_content_management_access_level",
                Ty::Enum(&["no_restriction", "only_team_admins"]),
                "Who may manage the team's projects and content",
            ),
            p(
                "endorsed",
                Ty::Bool,
                "Whether the team is endorsed by an admin",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "teams",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateTeam,
        description: "Update a team",
        params: &[
            gid!("team_gid", "team"),
            p("name", Ty::Str, "Team name"),
            p("description", Ty::Str, "Plain-text description of the team"),
            p(
                "html_description",
                Ty::Str,
                "Description of the team in Asana's rich-text HTML",
            ),
            p(
                "organization",
                Ty::Str,
                "Gid of the organization the team belongs to",
            ),
            p(
                "visibility",
                Ty::Enum(&["secret", "request_to_join", "public"]),
                "Who can find and join the team: secret, request_to_join or public",
            ),
            p(
                "edit_team_name_or_description_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may rename the team or edit its description",
            ),
            p(
                "edit_team_visibility_or_trash_team_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may change the team's visibility or delete it",
            ),
            p(
                "member_invite_management_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may invite members to the team",
            ),
            p(
                "guest_invite_management_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may invite guests to the team",
            ),
            p(
                "join_request_management_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may approve requests to join the team",
            ),
            p(
                "team_member_removal_access_level",
                Ty::Enum(&["all_team_members", "only_team_admins"]),
                "Who may remove members from the team",
            ),
            p(
                "team_content_management_access_level",
                Ty::Enum(&["no_restriction", "only_team_admins"]),
                "Who may manage the team's projects and content",
            ),
            p(
                "endorsed",
                Ty::Bool,
                "Whether the team is endorsed by an admin",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "user_favorites",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetFavoritesForUser,
        description: "List a user's favorite projects, tags, portfolios or users",
        params: &[
            req("user_gid", Ty::Str, "User gid, email, or \"me\""),
            req(
                "resource_type",
                Ty::Enum(&[
                    "portfolio",
                    "project",
                    "tag",
                    "task",
                    "user",
                    "project_template",
                ]),
                "Type of favorites to list: portfolio, project, tag, task, user or project_template",
            ),
            req(
                "workspace",
                Ty::Str,
                "Gid of the workspace of the favorites",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_users",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetUserForWorkspace,
        description: "Get a user of a workspace",
        params: &[
            gid!("workspace_gid", "workspace"),
            req("user_gid", Ty::Str, "User gid, email, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspaces",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateWorkspace,
        description: "Rename a workspace",
        params: &[
            gid!("workspace_gid", "workspace"),
            p("name", Ty::Str, "New workspace name"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "webhooks",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetWebhooks,
        description: "List the webhooks of a workspace",
        params: &[
            req(
                "workspace",
                Ty::Str,
                "Gid of the workspace whose webhooks to list",
            ),
            p(
                "resource",
                Ty::Str,
                "Gid of a watched object: only its webhooks",
            ),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "webhooks",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetWebhook,
        description: "Get one webhook",
        params: &[gid!("webhook_gid", "webhook"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "webhooks",
        action: "create",
        kind: Kind::Post,
        endpoint: Op::CreateWebhook,
        description: "Create a webhook for a resource (Asana calls the target to confirm)",
        params: &[
            req(
                "resource",
                Ty::Str,
                "Gid of the object to watch (task, project, portfolio, goal, team, workspace...)",
            ),
            req("target", Ty::Str, "HTTPS URL that receives the events"),
            p(
                "filters",
                Ty::List,
                "Send only matching events: [{resource_type, resource_subtype?, action?, fields?}]",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "webhooks",
        action: "update",
        kind: Kind::Update,
        endpoint: Op::UpdateWebhook,
        description: "Change a webhook's filters",
        params: &[
            gid!("webhook_gid", "webhook"),
            p(
                "filters",
                Ty::List,
                "Send only matching events: [{resource_type, resource_subtype?, action?, fields?}]",
            ),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "webhooks",
        action: "delete",
        kind: Kind::Delete,
        endpoint: Op::DeleteWebhook,
        description: "Delete a webhook",
        params: &[gid!("webhook_gid", "webhook")],
        rules: &[],
    },
    Operation {
        entity: "time_periods",
        action: "list",
        kind: Kind::List,
        endpoint: Op::GetTimePeriods,
        description: "List the time periods of a workspace (for goals)",
        params: &[
            p(
                "start_on",
                Ty::Str,
                "Only periods starting on or after this date, YYYY-MM-DD",
            ),
            p(
                "end_on",
                Ty::Str,
                "Only periods ending on or before this date, YYYY-MM-DD",
            ),
            req("workspace", Ty::Str, "Gid of the workspace"),
            LIMIT,
            OFFSET,
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "time_periods",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetTimePeriod,
        description: "Get one time period",
        params: &[gid!("time_period_gid", "time period"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "jobs",
        action: "get",
        kind: Kind::Get,
        endpoint: Op::GetJob,
        description: "Follow an asynchronous job (duplicate, instantiate) until it succeeds",
        params: &[gid!("job_gid", "job"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "batch",
        action: "submit",
        kind: Kind::Post,
        endpoint: Op::CreateBatchRequest,
        description: "Run up to 10 API calls in one request (Asana's Batch API): each result has its own status_code, headers and body, in order",
        params: &[req(
            "actions",
            Ty::BatchActions,
            "The calls, 1 to 10, run in parallel: each {relative_path, method, data?, options?}",
        )],
        rules: &[],
    },
];

/// The operation for (entity, action).
pub(crate) fn find(entity: &str, action: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|op| op.entity == entity && op.action == action)
}

/// The catalog's name for `entity`, if it has one.
pub(crate) fn find_entity(entity: &str) -> Option<&'static str> {
    OPERATIONS
        .iter()
        .find(|op| op.entity == entity)
        .map(|op| op.entity)
}

/// Entity names in catalog order, without repeats.
pub(crate) fn entities() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for op in OPERATIONS {
        if !out.contains(&op.entity) {
            out.push(op.entity);
        }
    }
    out
}

/// The actions of an entity.
pub(crate) fn actions(entity: &str) -> Vec<&'static str> {
    OPERATIONS
        .iter()
        .filter(|op| op.entity == entity)
        .map(|op| op.action)
        .collect()
}

impl Operation {
    /// Its endpoint: method, path template, and the query and body fields it takes.
    pub(crate) fn endpoint(&self) -> &'static Endpoint {
        self.endpoint.endpoint()
    }

    /// Its path template, e.g. `/tasks/{task_gid}`.
    pub(crate) fn path(&self) -> &'static str {
        self.endpoint().path
    }

    /// The endpoint a [`Rule::Via`] sends `param` to, if there is one.
    pub(crate) fn via(&self, param: &str) -> Option<&'static Endpoint> {
        self.rules.iter().find_map(|rule| match rule {
            Rule::Via {
                param: via,
                endpoint,
                ..
            } if *via == param => Some(endpoint.endpoint()),
            _ => None,
        })
    }

    /// Where `param` goes, as its endpoint takes `param.wire`: a path segment (also the param of
    /// a [`Rule::Via`]), a query pair or a body field; `Local` for output control, and for a
    /// param the endpoint does not take (a catalog test makes sure there is none).
    pub(crate) fn at(&self, param: &Param) -> In {
        let endpoint = self.endpoint();
        if param.local {
            In::Local
        } else if self.via(param.name).is_some()
            || endpoint.path_params().any(|name| name == param.wire)
        {
            In::Path
        } else if endpoint.query.contains(&param.wire) {
            In::Query
        } else if endpoint.body.contains(&param.wire) {
            In::Body
        } else {
            In::Local
        }
    }

    /// Whether `param` ends up as a path segment: a path param, or the param of a
    /// [`Rule::Via`].
    pub(crate) fn in_path(&self, param: &Param) -> bool {
        self.at(param) == In::Path
    }

    /// Whether `param` may be `null`: body fields that Asana's schema marks nullable. In an
    /// update, an optional one, where `null` clears the field (unassign a task, remove a due
    /// date); in an action, any, where `null` means "none" (`setParent` with `parent: null`
    /// makes a top-level task, `addProject` with `section: null` uses the first section).
    pub(crate) fn clearable(&self, param: &Param) -> bool {
        param.nullable
            && self.at(param) == In::Body
            && match self.kind {
                Kind::Update => !param.required,
                Kind::Post => true,
                _ => false,
            }
    }

    /// Whether `param` may be the empty string: a plain-text body field of an update (`notes`,
    /// `description`), which `""` clears. Every other string, gids and path params first, must
    /// not be empty.
    pub(crate) fn cleared_by_empty(&self, param: &Param) -> bool {
        self.kind == Kind::Update
            && param.ty == Ty::Str
            && self.at(param) == In::Body
            && CLEARED_BY_EMPTY.contains(&param.wire)
    }

    /// `METHOD /path` of the endpoints it may call: its own, then those of its [`Rule::Via`]s.
    pub(crate) fn endpoints(&self) -> Vec<String> {
        let vias = self.rules.iter().filter_map(|rule| match rule {
            Rule::Via { endpoint, .. } => Some(endpoint.endpoint()),
            _ => None,
        });
        std::iter::once(self.endpoint())
            .chain(vias)
            .map(|endpoint| format!("{} {}", endpoint.method.as_str(), endpoint.path))
            .collect()
    }

    /// Whether the action reads records (and so takes `select_fields` / `exclude_fields`).
    pub(crate) fn is_read(&self) -> bool {
        matches!(self.kind, Kind::List | Kind::Unpaged | Kind::Get)
    }

    /// Its params, with the output control of reads after them.
    pub(crate) fn all_params(&self) -> impl Iterator<Item = &'static Param> + use<> {
        let output: &'static [Param] = if self.is_read() { &OUTPUT } else { &[] };
        self.params.iter().chain(output)
    }

    /// The JSON Schema of the params object.
    pub(crate) fn schema(&self) -> Value {
        let mut properties = Map::new();
        for param in self.all_params() {
            let mut prop = match param.ty {
                Ty::Str => json!({"type": "string", "minLength": 1}),
                Ty::Int(min, max) => json!({"type": "integer", "minimum": min, "maximum": max}),
                Ty::Integer => json!({"type": "integer"}),
                Ty::Num => json!({"type": "number"}),
                Ty::Bool => json!({"type": "boolean"}),
                Ty::StrList => json!({"type": "array", "items": {"type": "string"}}),
                Ty::List => json!({"type": "array"}),
                Ty::Enum(values) => json!({"type": "string", "enum": values}),
                Ty::Object => json!({"type": "object"}),
                Ty::BatchActions => batch_actions_schema(),
            };
            prop["description"] = Value::from(param.description);
            if self.cleared_by_empty(param) {
                if let Some(prop) = prop.as_object_mut() {
                    prop.remove("minLength");
                }
                prop["description"] =
                    Value::from(format!("{} (\"\" clears it)", param.description));
            }
            if self.clearable(param) {
                let ty = prop["type"].clone();
                prop["type"] = json!([ty, "null"]);
                if let Some(values) = prop.get_mut("enum").and_then(Value::as_array_mut) {
                    values.push(Value::Null);
                }
                prop["description"] =
                    Value::from(format!("{} (null clears it)", param.description));
            }
            properties.insert(param.name.to_string(), prop);
        }
        let required: Vec<&str> = self
            .all_params()
            .filter(|p| p.required)
            .map(|p| p.name)
            .collect();
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        });
        let groups: Vec<Value> = self
            .rules
            .iter()
            .filter_map(|rule| match rule {
                Rule::AnyGroup(groups) => Some(groups),
                _ => None,
            })
            .flat_map(|groups| groups.iter().map(|g| json!({"required": g})))
            .collect();
        if !groups.is_empty() {
            schema["anyOf"] = Value::Array(groups);
        }
        schema
    }
}
