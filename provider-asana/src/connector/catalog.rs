//! The declarative catalog: every entity and action, its HTTP mapping and its parameters.

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
    /// Fetch an attachment's metadata, then its bytes from `download_url` (without the token).
    Download,
    /// Attach a link: a multipart `POST /attachments` with `resource_subtype=external`.
    Link,
}

/// Where a parameter goes.
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
    Bool,
    StrList,
    Enum(&'static [&'static str]),
    /// A free-form object (custom fields and the like).
    Object,
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
    pub(crate) at: In,
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
    /// When `param` is given, the call goes to `path` (which names `param`), and only `with`
    /// may accompany it: the operation there declares nothing else.
    Via {
        param: &'static str,
        path: &'static str,
        with: &'static [&'static str],
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    pub(crate) entity: &'static str,
    pub(crate) action: &'static str,
    pub(crate) kind: Kind,
    pub(crate) path: &'static str,
    pub(crate) description: &'static str,
    pub(crate) params: &'static [Param],
    pub(crate) rules: &'static [Rule],
}

const fn p(name: &'static str, ty: Ty, at: In, description: &'static str) -> Param {
    Param {
        name,
        wire: name,
        ty,
        required: false,
        nullable: false,
        at,
        description,
    }
}

const fn req(name: &'static str, ty: Ty, at: In, description: &'static str) -> Param {
    Param {
        required: true,
        ..p(name, ty, at, description)
    }
}

const OPT_FIELDS: Param = p(
    "opt_fields",
    Ty::StrList,
    In::Query,
    "Fields to include in each returned object, e.g. [\"name\", \"assignee.name\"]",
);
const LIMIT: Param = p(
    "limit",
    Ty::Int(1, 100),
    In::Query,
    "Page size, 1 to 100 (default 100)",
);
const OFFSET: Param = p(
    "offset",
    Ty::Str,
    In::Query,
    "Offset token from a previous page's meta.next_page.offset",
);
/// The output control every read takes (see [`Operation::all_params`]).
const OUTPUT: [Param; 2] = [
    p(
        "select_fields",
        Ty::StrList,
        In::Local,
        "Return only these fields of each record (gid is always kept), e.g. [\"name\", \"assignee.name\"]",
    ),
    p(
        "exclude_fields",
        Ty::StrList,
        In::Local,
        "Leave these fields out of each record, e.g. [\"notes\", \"memberships\"]",
    ),
];
const ARCHIVED: Param = p(
    "archived",
    Ty::Bool,
    In::Query,
    "Only archived (true) or unarchived (false) projects",
);

/// A snake_case alias of a dotted search filter (as Airbyte names them).
macro_rules! alias {
    ($name:literal, $wire:literal) => {
        p($name, Ty::Str, In::Query, concat!("Same as ", $wire)).wire($wire)
    };
}

macro_rules! gid {
    ($name:literal, $what:literal) => {
        req(
            $name,
            Ty::Str,
            In::Path,
            concat!("Global id of the ", $what),
        )
    };
}

/// Asana's named colors for tags (and, with `none`, projects).
const TAG_COLORS: &[&str] = &[
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
const PROJECT_COLORS: &[&str] = &[
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
    p("name", Ty::Str, In::Body, "Task name"),
    p("notes", Ty::Str, In::Body, "Plain-text description"),
    p(
        "html_notes",
        Ty::Str,
        In::Body,
        "Rich-text description in Asana's HTML subset",
    ),
    p(
        "assignee",
        Ty::Str,
        In::Body,
        "Assignee user gid, email, or \"me\"",
    )
    .nullable(),
    p("due_on", Ty::Str, In::Body, "Due date, YYYY-MM-DD").nullable(),
    p("due_at", Ty::Str, In::Body, "Due date and time, ISO 8601").nullable(),
    p("start_on", Ty::Str, In::Body, "Start date, YYYY-MM-DD").nullable(),
    p(
        "completed",
        Ty::Bool,
        In::Body,
        "Whether the task is complete",
    ),
    p(
        "custom_fields",
        Ty::Object,
        In::Body,
        "Custom field values by custom field gid",
    ),
    p(
        "start_at",
        Ty::Str,
        In::Body,
        "Start date and time, ISO 8601 (needs due_at)",
    )
    .nullable(),
    p(
        "resource_subtype",
        Ty::Enum(&["default_task", "milestone", "approval"]),
        In::Body,
        "Task kind",
    ),
    p(
        "approval_status",
        Ty::Enum(&["pending", "approved", "rejected", "changes_requested"]),
        In::Body,
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
        In::Body,
        "Workspace gid (needed unless projects or parent is given)",
    ),
    p(
        "projects",
        Ty::StrList,
        In::Body,
        "Project gids to add the task to",
    ),
    p(
        "parent",
        Ty::Str,
        In::Body,
        "Parent task gid, to create a subtask",
    ),
    p("tags", Ty::StrList, In::Body, "Tag gids"),
    p(
        "followers",
        Ty::StrList,
        In::Body,
        "Follower user gids or emails",
    ),
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
    p("name", Ty::Str, In::Body, "Project name"),
    p("notes", Ty::Str, In::Body, "Description"),
    p("color", Ty::Enum(PROJECT_COLORS), In::Body, "Color").nullable(),
    p("due_on", Ty::Str, In::Body, "Due date, YYYY-MM-DD").nullable(),
    p("start_on", Ty::Str, In::Body, "Start date, YYYY-MM-DD").nullable(),
    p(
        "archived",
        Ty::Bool,
        In::Body,
        "Whether the project is archived",
    ),
    p(
        "default_view",
        Ty::Enum(&["list", "board", "calendar", "timeline"]),
        In::Body,
        "Default view",
    ),
];

const TAG_COLOR: Param = p("color", Ty::Enum(TAG_COLORS), In::Body, "Color").nullable();

/// Every operation, in catalog order.
pub(crate) const OPERATIONS: &[Operation] = &[
    // tasks
    Operation {
        entity: "tasks",
        action: "list",
        kind: Kind::List,
        path: "/tasks",
        description: "List tasks of a project, section or tag, or those assigned to a user in a workspace",
        params: &[
            p("project", Ty::Str, In::Query, "Project gid"),
            p("section", Ty::Str, In::Query, "Section gid"),
            p(
                "tag",
                Ty::Str,
                In::Query,
                "Tag gid (alone, with opt_fields, limit and offset only)",
            ),
            p(
                "assignee",
                Ty::Str,
                In::Query,
                "Assignee user gid or \"me\" (with workspace)",
            ),
            p(
                "workspace",
                Ty::Str,
                In::Query,
                "Workspace gid (with assignee)",
            ),
            p(
                "completed_since",
                Ty::Str,
                In::Query,
                "Only tasks incomplete or completed since this ISO 8601 time, or \"now\"",
            ),
            p(
                "modified_since",
                Ty::Str,
                In::Query,
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
                path: "/tags/{tag}/tasks",
                with: &["opt_fields", "limit", "offset"],
            },
        ],
    },
    Operation {
        entity: "tasks",
        action: "get",
        kind: Kind::Get,
        path: "/tasks/{task_gid}",
        description: "Get one task",
        params: &[gid!("task_gid", "task"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "tasks",
        action: "create",
        kind: Kind::Create,
        path: "/tasks",
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
        path: "/tasks/{task_gid}",
        description: "Update a task's fields",
        params: &TASK_UPDATE,
        rules: &[],
    },
    Operation {
        entity: "tasks",
        action: "delete",
        kind: Kind::Delete,
        path: "/tasks/{task_gid}",
        description: "Delete a task",
        params: &[gid!("task_gid", "task")],
        rules: &[],
    },
    Operation {
        entity: "project_tasks",
        action: "list",
        kind: Kind::List,
        path: "/projects/{project_gid}/tasks",
        description: "List the tasks of a project",
        params: &[
            gid!("project_gid", "project"),
            p(
                "completed_since",
                Ty::Str,
                In::Query,
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
        path: "/workspaces/{workspace_gid}/tasks/search",
        description: "Search tasks in a workspace (Asana premium; returns at most `limit` results, no paging)",
        params: &[
            gid!("workspace_gid", "workspace"),
            p(
                "text",
                Ty::Str,
                In::Query,
                "Full-text search on name and description",
            ),
            p(
                "assignee.any",
                Ty::Str,
                In::Query,
                "Comma-separated assignee gids or \"me\"",
            ),
            p(
                "projects.any",
                Ty::Str,
                In::Query,
                "Comma-separated project gids",
            ),
            p(
                "sections.any",
                Ty::Str,
                In::Query,
                "Comma-separated section gids",
            ),
            p("tags.any", Ty::Str, In::Query, "Comma-separated tag gids"),
            p("teams.any", Ty::Str, In::Query, "Comma-separated team gids"),
            p(
                "followers.any",
                Ty::Str,
                In::Query,
                "Comma-separated follower user gids or \"me\"",
            ),
            p(
                "created_at.after",
                Ty::Str,
                In::Query,
                "Only tasks created after this ISO 8601 time",
            ),
            p(
                "created_at.before",
                Ty::Str,
                In::Query,
                "Only tasks created before this ISO 8601 time",
            ),
            p(
                "modified_at.after",
                Ty::Str,
                In::Query,
                "Only tasks modified after this ISO 8601 time",
            ),
            p(
                "modified_at.before",
                Ty::Str,
                In::Query,
                "Only tasks modified before this ISO 8601 time",
            ),
            p(
                "due_on.after",
                Ty::Str,
                In::Query,
                "Only tasks due after this date, YYYY-MM-DD",
            ),
            p(
                "due_on.before",
                Ty::Str,
                In::Query,
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
                In::Query,
                "Only tasks of this kind",
            ),
            p(
                "completed",
                Ty::Bool,
                In::Query,
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
                In::Query,
                "Sort order (default modified_at)",
            ),
            p("sort_ascending", Ty::Bool, In::Query, "Sort ascending"),
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
        path: "/projects",
        description: "List projects of a workspace or team",
        params: &[
            p("workspace", Ty::Str, In::Query, "Workspace gid"),
            p(
                "team",
                Ty::Str,
                In::Query,
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
        path: "/projects/{project_gid}",
        description: "Get one project",
        params: &[gid!("project_gid", "project"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "projects",
        action: "create",
        kind: Kind::Create,
        path: "/projects",
        description: "Create a project in a workspace (and team, for organizations)",
        params: &[
            req("name", Ty::Str, In::Body, "Project name"),
            p("workspace", Ty::Str, In::Body, "Workspace gid"),
            p(
                "team",
                Ty::Str,
                In::Body,
                "Team gid (required in organizations)",
            ),
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
        path: "/projects/{project_gid}",
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
        path: "/projects/{project_gid}",
        description: "Delete a project",
        params: &[gid!("project_gid", "project")],
        rules: &[],
    },
    Operation {
        entity: "task_projects",
        action: "list",
        kind: Kind::List,
        path: "/tasks/{task_gid}/projects",
        description: "List the projects a task is in",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "team_projects",
        action: "list",
        kind: Kind::List,
        path: "/teams/{team_gid}/projects",
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
        path: "/workspaces/{workspace_gid}/projects",
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
        path: "/workspaces",
        description: "List the workspaces the user belongs to",
        params: &[OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "workspaces",
        action: "get",
        kind: Kind::Get,
        path: "/workspaces/{workspace_gid}",
        description: "Get one workspace",
        params: &[gid!("workspace_gid", "workspace"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "users",
        action: "list",
        kind: Kind::List,
        path: "/users",
        description: "List users, of a workspace or team if given, else of every workspace the user can see",
        params: &[
            p("workspace", Ty::Str, In::Query, "Workspace gid"),
            p("team", Ty::Str, In::Query, "Team gid"),
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
        path: "/users/{user_gid}",
        description: "Get one user by gid, email, or \"me\"",
        params: &[
            req("user_gid", Ty::Str, In::Path, "User gid, email, or \"me\""),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_users",
        action: "list",
        kind: Kind::List,
        path: "/users",
        description: "List a workspace's users, page by page (GET /users?workspace=, which pages with limit)",
        params: &[
            req(
                "workspace_gid",
                Ty::Str,
                In::Query,
                "Global id of the workspace",
            )
            .wire("workspace"),
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
        path: "/users",
        description: "List a team's users, page by page (GET /users?team=, which pages with limit)",
        params: &[
            req("team_gid", Ty::Str, In::Query, "Global id of the team").wire("team"),
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
        path: "/teams/{team_gid}",
        description: "Get one team",
        params: &[gid!("team_gid", "team"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "workspace_teams",
        action: "list",
        kind: Kind::List,
        path: "/workspaces/{workspace_gid}/teams",
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
        path: "/users/{user_gid}/teams",
        description: "List the teams a user belongs to in an organization",
        params: &[
            req("user_gid", Ty::Str, In::Path, "User gid, email, or \"me\""),
            req(
                "organization",
                Ty::Str,
                In::Query,
                "Organization (workspace) gid",
            ),
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
        path: "/attachments",
        description: "List the attachments of a task or project",
        params: &[
            req("parent", Ty::Str, In::Query, "Task or project gid"),
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
        path: "/attachments/{attachment_gid}",
        description: "Get an attachment's metadata",
        params: &[gid!("attachment_gid", "attachment"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "attachments",
        action: "create",
        kind: Kind::Link,
        path: "/attachments",
        description: "Attach a link to a task or project: Asana stores the URL and a name, not the file",
        params: &[
            req("parent", Ty::Str, In::Body, "Task or project gid"),
            req("url", Ty::Str, In::Body, "An absolute http or https URL"),
            req(
                "name",
                Ty::Str,
                In::Body,
                "The name Asana shows for the link",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "attachments",
        action: "download",
        kind: Kind::Download,
        path: "/attachments/{attachment_gid}",
        description: "Download an attachment: returns its name, host, size and base64 content (at most 10 MiB)",
        params: &[gid!("attachment_gid", "attachment")],
        rules: &[],
    },
    // tags
    Operation {
        entity: "workspace_tags",
        action: "list",
        kind: Kind::List,
        path: "/workspaces/{workspace_gid}/tags",
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
        path: "/workspaces/{workspace_gid}/tags",
        description: "Create a tag in a workspace",
        params: &[
            gid!("workspace_gid", "workspace"),
            req("name", Ty::Str, In::Body, "Tag name"),
            TAG_COLOR,
            p("notes", Ty::Str, In::Body, "Description"),
        ],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "get",
        kind: Kind::Get,
        path: "/tags/{tag_gid}",
        description: "Get one tag",
        params: &[gid!("tag_gid", "tag"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "update",
        kind: Kind::Update,
        path: "/tags/{tag_gid}",
        description: "Update a tag",
        params: &[
            gid!("tag_gid", "tag"),
            p("name", Ty::Str, In::Body, "Tag name"),
            TAG_COLOR,
            p("notes", Ty::Str, In::Body, "Description"),
        ],
        rules: &[],
    },
    Operation {
        entity: "tags",
        action: "delete",
        kind: Kind::Delete,
        path: "/tags/{tag_gid}",
        description: "Delete a tag",
        params: &[gid!("tag_gid", "tag")],
        rules: &[],
    },
    Operation {
        entity: "tag_tasks",
        action: "list",
        kind: Kind::List,
        path: "/tags/{tag_gid}/tasks",
        description: "List the tasks with a tag",
        params: &[gid!("tag_gid", "tag"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    // sections
    Operation {
        entity: "project_sections",
        action: "list",
        kind: Kind::List,
        path: "/projects/{project_gid}/sections",
        description: "List a project's sections",
        params: &[gid!("project_gid", "project"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "project_sections",
        action: "create",
        kind: Kind::Create,
        path: "/projects/{project_gid}/sections",
        description: "Create a section in a project",
        params: &[
            gid!("project_gid", "project"),
            req("name", Ty::Str, In::Body, "Section name"),
            p(
                "insert_before",
                Ty::Str,
                In::Body,
                "Section gid to insert before",
            ),
            p(
                "insert_after",
                Ty::Str,
                In::Body,
                "Section gid to insert after",
            ),
        ],
        rules: &[],
    },
    Operation {
        entity: "sections",
        action: "get",
        kind: Kind::Get,
        path: "/sections/{section_gid}",
        description: "Get one section",
        params: &[gid!("section_gid", "section"), OPT_FIELDS],
        rules: &[],
    },
    Operation {
        entity: "sections",
        action: "update",
        kind: Kind::Update,
        path: "/sections/{section_gid}",
        description: "Rename a section (to move one, use sections.move)",
        params: &[
            gid!("section_gid", "section"),
            req("name", Ty::Str, In::Body, "New section name"),
            OPT_FIELDS,
        ],
        rules: &[],
    },
    Operation {
        entity: "sections",
        action: "move",
        kind: Kind::Post,
        path: "/projects/{project_gid}/sections/insert",
        description: "Move a section before or after another section of the same project",
        params: &[
            gid!("project_gid", "project the sections belong to"),
            req("section", Ty::Str, In::Body, "Gid of the section to move"),
            p(
                "before_section",
                Ty::Str,
                In::Body,
                "Gid of the section to put it before",
            ),
            p(
                "after_section",
                Ty::Str,
                In::Body,
                "Gid of the section to put it after",
            ),
        ],
        rules: &[
            Rule::AnyGroup(&[&["before_section"], &["after_section"]]),
            Rule::AtMostOne(&["before_section", "after_section"]),
        ],
    },
    Operation {
        entity: "sections",
        action: "delete",
        kind: Kind::Delete,
        path: "/sections/{section_gid}",
        description: "Delete an empty section",
        params: &[gid!("section_gid", "section")],
        rules: &[],
    },
    Operation {
        entity: "section_tasks",
        action: "list",
        kind: Kind::List,
        path: "/sections/{section_gid}/tasks",
        description: "List the tasks in a section",
        params: &[
            gid!("section_gid", "section"),
            p(
                "completed_since",
                Ty::Str,
                In::Query,
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
        path: "/sections/{section_gid}/addTask",
        description: "Move a task into a section",
        params: &[
            gid!("section_gid", "section"),
            req("task", Ty::Str, In::Body, "Task gid"),
            p(
                "insert_before",
                Ty::Str,
                In::Body,
                "Task gid to insert before",
            ),
            p(
                "insert_after",
                Ty::Str,
                In::Body,
                "Task gid to insert after",
            ),
        ],
        rules: &[],
    },
    // task relations
    Operation {
        entity: "task_subtasks",
        action: "list",
        kind: Kind::List,
        path: "/tasks/{task_gid}/subtasks",
        description: "List a task's subtasks",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_dependencies",
        action: "list",
        kind: Kind::List,
        path: "/tasks/{task_gid}/dependencies",
        description: "List the tasks this task depends on",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_dependents",
        action: "list",
        kind: Kind::List,
        path: "/tasks/{task_gid}/dependents",
        description: "List the tasks that depend on this task",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_stories",
        action: "list",
        kind: Kind::List,
        path: "/tasks/{task_gid}/stories",
        description: "List a task's stories (comments and activity)",
        params: &[gid!("task_gid", "task"), OPT_FIELDS, LIMIT, OFFSET],
        rules: &[],
    },
    Operation {
        entity: "task_stories",
        action: "create",
        kind: Kind::Create,
        path: "/tasks/{task_gid}/stories",
        description: "Comment on a task",
        params: &[
            gid!("task_gid", "task"),
            p("text", Ty::Str, In::Body, "Plain-text comment"),
            p(
                "html_text",
                Ty::Str,
                In::Body,
                "Rich-text comment in Asana's HTML subset",
            ),
            p("is_pinned", Ty::Bool, In::Body, "Pin the comment"),
        ],
        rules: &[Rule::AnyGroup(&[&["text"], &["html_text"]])],
    },
    Operation {
        entity: "task_tags",
        action: "create",
        kind: Kind::Post,
        path: "/tasks/{task_gid}/addTag",
        description: "Add a tag to a task",
        params: &[
            gid!("task_gid", "task"),
            req("tag", Ty::Str, In::Body, "Tag gid"),
        ],
        rules: &[],
    },
    Operation {
        entity: "task_tags",
        action: "delete",
        kind: Kind::Post,
        path: "/tasks/{task_gid}/removeTag",
        description: "Remove a tag from a task",
        params: &[
            gid!("task_gid", "task"),
            req("tag", Ty::Str, In::Body, "Tag gid"),
        ],
        rules: &[],
    },
    Operation {
        entity: "workspace_memberships",
        action: "create",
        kind: Kind::Post,
        path: "/workspaces/{workspace_gid}/addUser",
        description: "Add a user to a workspace or organization",
        params: &[
            gid!("workspace_gid", "workspace"),
            req("user", Ty::Str, In::Body, "User gid, email, or \"me\""),
        ],
        rules: &[],
    },
];

/// The operation for (entity, action).
pub(crate) fn find(entity: &str, action: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|op| op.entity == entity && op.action == action)
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
    /// Whether `param` ends up as a path segment: a path param, or the param of a
    /// [`Rule::Via`].
    pub(crate) fn in_path(&self, param: &Param) -> bool {
        param.at == In::Path
            || self
                .rules
                .iter()
                .any(|rule| matches!(rule, Rule::Via { param: via, .. } if *via == param.name))
    }

    /// Whether `param` may be `null`: optional fields of an update that Asana's schema marks
    /// nullable, where `null` clears the field (unassign a task, remove a due date).
    pub(crate) fn clearable(&self, param: &Param) -> bool {
        self.kind == Kind::Update && param.nullable && !param.required && param.at == In::Body
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
                Ty::Bool => json!({"type": "boolean"}),
                Ty::StrList => json!({"type": "array", "items": {"type": "string"}}),
                Ty::Enum(values) => json!({"type": "string", "enum": values}),
                Ty::Object => json!({"type": "object"}),
            };
            prop["description"] = Value::from(param.description);
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
