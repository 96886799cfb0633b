//! The JSON Schemas of the records each entity returns, written by hand from the response schemas
//! of Asana's OpenAPI specification: the common fields with their types, enums and nullability.
//! Asana adds fields over time and returns only some by default, so every schema requires just
//! `gid` and allows other properties.

use serde_json::{Map, Value, json};

use super::catalog::{PROJECT_COLORS, STATUS_TYPES, TAG_COLORS};

/// A field's JSON type.
#[derive(Debug, Clone, Copy)]
enum F {
    Str,
    Bool,
    Int,
    Num,
    /// `YYYY-MM-DD`.
    Date,
    /// ISO 8601 date and time.
    DateTime,
    /// A compact reference to another object: `{gid, resource_type, name}`.
    Ref,
    /// An array of compact references.
    Refs,
    Strs,
    Enum(&'static [&'static str]),
    Object,
    /// An array of objects.
    Objects,
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    ty: F,
    nullable: bool,
}

const fn f(name: &'static str, ty: F) -> Field {
    Field {
        name,
        ty,
        nullable: false,
    }
}

/// A field Asana's schema marks nullable.
const fn n(name: &'static str, ty: F) -> Field {
    Field {
        name,
        ty,
        nullable: true,
    }
}

/// One kind of record.
#[derive(Debug)]
struct Record {
    /// Asana's `resource_type`, when every record of the kind has the same one.
    resource_type: Option<&'static str>,
    description: &'static str,
    /// Whether records carry a `gid` (all but task counts and batch results).
    has_gid: bool,
    fields: &'static [Field],
}

const ACCESS_LEVELS: &[&str] = &["admin", "editor", "commenter", "viewer"];

const TASK: Record = Record {
    resource_type: Some("task"),
    description: "An Asana task",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f(
            "resource_subtype",
            F::Enum(&["default_task", "milestone", "approval", "custom"]),
        ),
        f("notes", F::Str),
        f("html_notes", F::Str),
        f("completed", F::Bool),
        n("completed_at", F::DateTime),
        n("completed_by", F::Ref),
        n("assignee", F::Ref),
        n("assignee_section", F::Ref),
        f(
            "approval_status",
            F::Enum(&["pending", "approved", "rejected", "changes_requested"]),
        ),
        n("due_on", F::Date),
        n("due_at", F::DateTime),
        n("start_on", F::Date),
        n("start_at", F::DateTime),
        f("created_at", F::DateTime),
        f("modified_at", F::DateTime),
        n("workspace", F::Ref),
        f("projects", F::Refs),
        f("memberships", F::Objects),
        n("parent", F::Ref),
        f("tags", F::Refs),
        f("followers", F::Refs),
        f("dependencies", F::Refs),
        f("dependents", F::Refs),
        f("custom_fields", F::Objects),
        f("num_subtasks", F::Int),
        f("num_likes", F::Int),
        f("liked", F::Bool),
        n("actual_time_minutes", F::Num),
        f("permalink_url", F::Str),
    ],
};

const PROJECT: Record = Record {
    resource_type: Some("project"),
    description: "An Asana project",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("notes", F::Str),
        f("html_notes", F::Str),
        n("color", F::Enum(PROJECT_COLORS)),
        f("archived", F::Bool),
        f("completed", F::Bool),
        n("completed_at", F::DateTime),
        f("public", F::Bool),
        f(
            "privacy_setting",
            F::Enum(&["public_to_workspace", "private_to_team", "private"]),
        ),
        f(
            "default_view",
            F::Enum(&["list", "board", "calendar", "timeline"]),
        ),
        f("default_access_level", F::Enum(ACCESS_LEVELS)),
        n("due_on", F::Date),
        n("start_on", F::Date),
        f("created_at", F::DateTime),
        f("modified_at", F::DateTime),
        n("workspace", F::Ref),
        n("team", F::Ref),
        n("owner", F::Ref),
        f("members", F::Refs),
        f("followers", F::Refs),
        n("current_status_update", F::Ref),
        f("custom_fields", F::Objects),
        f("custom_field_settings", F::Objects),
        f("permalink_url", F::Str),
    ],
};

const USER: Record = Record {
    resource_type: Some("user"),
    description: "An Asana user",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("email", F::Str),
        n("photo", F::Object),
        f("workspaces", F::Refs),
    ],
};

const SECTION: Record = Record {
    resource_type: Some("section"),
    description: "A section of a project",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("created_at", F::DateTime),
        f("project", F::Ref),
        f("projects", F::Refs),
    ],
};

const TAG: Record = Record {
    resource_type: Some("tag"),
    description: "A tag",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        n("color", F::Enum(TAG_COLORS)),
        f("notes", F::Str),
        f("created_at", F::DateTime),
        f("followers", F::Refs),
        f("workspace", F::Ref),
        f("permalink_url", F::Str),
    ],
};

const WORKSPACE: Record = Record {
    resource_type: Some("workspace"),
    description: "A workspace or organization",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("is_organization", F::Bool),
        f("email_domains", F::Strs),
    ],
};

const TEAM: Record = Record {
    resource_type: Some("team"),
    description: "A team of an organization",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("description", F::Str),
        f("html_description", F::Str),
        n("organization", F::Ref),
        f(
            "visibility",
            F::Enum(&["secret", "request_to_join", "public"]),
        ),
        f("permalink_url", F::Str),
    ],
};

const STORY: Record = Record {
    resource_type: Some("story"),
    description: "A comment or a system story on a task",
    has_gid: true,
    fields: &[
        f("resource_subtype", F::Str),
        f("type", F::Enum(&["comment", "system"])),
        f("text", F::Str),
        f("html_text", F::Str),
        f("is_pinned", F::Bool),
        f("is_edited", F::Bool),
        f("created_at", F::DateTime),
        f("created_by", F::Ref),
        n("target", F::Ref),
        f(
            "source",
            F::Enum(&["web", "email", "mobile", "api", "unknown"]),
        ),
    ],
};

const ATTACHMENT: Record = Record {
    resource_type: Some("attachment"),
    description: "A file attached to a task or project",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("resource_subtype", F::Str),
        f("host", F::Str),
        f("size", F::Int),
        f("created_at", F::DateTime),
        n("download_url", F::Str),
        n("permanent_url", F::Str),
        n("view_url", F::Str),
        n("parent", F::Ref),
        f("connected_to_app", F::Bool),
    ],
};

const CUSTOM_FIELD: Record = Record {
    resource_type: Some("custom_field"),
    description: "A custom field's definition (and, on a task, its value)",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f(
            "resource_subtype",
            F::Enum(&[
                "text",
                "enum",
                "multi_enum",
                "number",
                "date",
                "people",
                "reference",
            ]),
        ),
        f("description", F::Str),
        f("enabled", F::Bool),
        f("enum_options", F::Objects),
        n("enum_value", F::Object),
        f("multi_enum_values", F::Objects),
        n("number_value", F::Num),
        n("text_value", F::Str),
        n("date_value", F::Object),
        n("display_value", F::Str),
        f("precision", F::Int),
        f(
            "format",
            F::Enum(&[
                "currency",
                "identifier",
                "percentage",
                "custom",
                "duration",
                "none",
            ]),
        ),
        n("currency_code", F::Str),
        f("is_global_to_workspace", F::Bool),
        f("has_notifications_enabled", F::Bool),
    ],
};

const ENUM_OPTION: Record = Record {
    resource_type: Some("enum_option"),
    description: "An option of an enum or multi-enum custom field",
    has_gid: true,
    fields: &[f("name", F::Str), f("enabled", F::Bool), f("color", F::Str)],
};

const CUSTOM_FIELD_SETTING: Record = Record {
    resource_type: Some("custom_field_setting"),
    description: "A custom field set up on a project or portfolio",
    has_gid: true,
    fields: &[
        n("custom_field", F::Object),
        f("is_important", F::Bool),
        n("parent", F::Ref),
        n("project", F::Ref),
    ],
};

const JOB: Record = Record {
    resource_type: Some("job"),
    description: "An asynchronous job (duplication, instantiation) and what it created",
    has_gid: true,
    fields: &[
        f("resource_subtype", F::Str),
        f(
            "status",
            F::Enum(&["not_started", "in_progress", "succeeded", "failed"]),
        ),
        n("new_task", F::Ref),
        f("new_project", F::Ref),
        f("new_portfolio", F::Ref),
        f("new_project_template", F::Ref),
    ],
};

const NAMED: Record = Record {
    resource_type: None,
    description: "A named object of any type; its resource_type says which",
    has_gid: true,
    fields: &[f("resource_type", F::Str), f("name", F::Str)],
};

const STATUS_UPDATE: Record = Record {
    resource_type: Some("status_update"),
    description: "A status update on a project, portfolio or goal",
    has_gid: true,
    fields: &[
        f("title", F::Str),
        f(
            "resource_subtype",
            F::Enum(&[
                "project_status_update",
                "portfolio_status_update",
                "goal_status_update",
            ]),
        ),
        f("text", F::Str),
        f("html_text", F::Str),
        f("status_type", F::Enum(STATUS_TYPES)),
        f("author", F::Ref),
        f("created_by", F::Ref),
        f("created_at", F::DateTime),
        f("modified_at", F::DateTime),
        n("parent", F::Ref),
    ],
};

const GOAL: Record = Record {
    resource_type: Some("goal"),
    description: "A goal",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("notes", F::Str),
        f("html_notes", F::Str),
        n("due_on", F::Str),
        n("start_on", F::Str),
        f("is_workspace_level", F::Bool),
        n("status", F::Str),
        n("team", F::Ref),
        n("workspace", F::Ref),
        n("owner", F::Ref),
        n("time_period", F::Ref),
        n("metric", F::Object),
        n("current_status_update", F::Ref),
        f("followers", F::Refs),
        f(
            "privacy_setting",
            F::Enum(&["public_to_workspace", "members_only"]),
        ),
        f("num_likes", F::Int),
    ],
};

const GOAL_RELATIONSHIP: Record = Record {
    resource_type: Some("goal_relationship"),
    description: "A link between a goal and the goal, project, task or portfolio supporting it",
    has_gid: true,
    fields: &[
        f("resource_subtype", F::Enum(&["subgoal", "supporting_work"])),
        n("supporting_resource", F::Ref),
        n("supported_goal", F::Ref),
        f("contribution_weight", F::Num),
    ],
};

const PORTFOLIO: Record = Record {
    resource_type: Some("portfolio"),
    description: "A portfolio of projects and portfolios",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("color", F::Enum(TAG_COLORS)),
        f("archived", F::Bool),
        f("public", F::Bool),
        f(
            "privacy_setting",
            F::Enum(&["public_to_domain", "members_only"]),
        ),
        n("start_on", F::Date),
        n("due_on", F::Date),
        f("created_at", F::DateTime),
        f("created_by", F::Ref),
        f("owner", F::Ref),
        n("workspace", F::Ref),
        f("members", F::Refs),
        n("current_status_update", F::Ref),
        f("custom_field_settings", F::Objects),
        f("permalink_url", F::Str),
    ],
};

const PORTFOLIO_MEMBERSHIP: Record = Record {
    resource_type: Some("portfolio_membership"),
    description: "A user's access to a portfolio",
    has_gid: true,
    fields: &[
        f("parent", F::Ref),
        f("member", F::Ref),
        f("access_level", F::Enum(&["admin", "editor", "viewer"])),
    ],
};

const TIME_TRACKING_ENTRY: Record = Record {
    resource_type: Some("time_tracking_entry"),
    description: "Time logged on a task",
    has_gid: true,
    fields: &[
        f("duration_minutes", F::Int),
        f("entered_on", F::Date),
        f("description", F::Str),
        n("attributable_to", F::Ref),
        f("created_by", F::Ref),
        f("task", F::Ref),
        f("created_at", F::DateTime),
        f(
            "approval_status",
            F::Enum(&["DRAFT", "SUBMITTED", "APPROVED", "REJECTED"]),
        ),
        f(
            "billable_status",
            F::Enum(&["billable", "nonBillable", "notApplicable"]),
        ),
    ],
};

const USER_TASK_LIST: Record = Record {
    resource_type: Some("user_task_list"),
    description: "A user's My Tasks list in a workspace",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("owner", F::Ref),
        f("workspace", F::Ref),
    ],
};

const MEMBERSHIP: Record = Record {
    resource_type: None,
    description: "A member's access to a project or goal (resource_type project_membership or membership)",
    has_gid: true,
    fields: &[
        f("resource_type", F::Str),
        f("resource_subtype", F::Str),
        f("parent", F::Ref),
        f("member", F::Ref),
        f("access_level", F::Enum(ACCESS_LEVELS)),
    ],
};

const PROJECT_MEMBERSHIP: Record = Record {
    resource_type: Some("project_membership"),
    description: "A user's or team's access to a project",
    has_gid: true,
    fields: &[
        f("parent", F::Ref),
        f("member", F::Ref),
        f("access_level", F::Enum(ACCESS_LEVELS)),
        f("user", F::Ref),
        f("project", F::Ref),
        f("write_access", F::Enum(&["full_write", "comment_only"])),
    ],
};

const TEAM_MEMBERSHIP: Record = Record {
    resource_type: Some("team_membership"),
    description: "A user's membership of a team",
    has_gid: true,
    fields: &[
        f("user", F::Ref),
        f("team", F::Ref),
        f("is_guest", F::Bool),
        f("is_limited_access", F::Bool),
        f("is_admin", F::Bool),
    ],
};

const WORKSPACE_MEMBERSHIP: Record = Record {
    resource_type: Some("workspace_membership"),
    description: "A user's membership of a workspace",
    has_gid: true,
    fields: &[
        f("user", F::Ref),
        f("workspace", F::Ref),
        f("user_task_list", F::Object),
        f("is_active", F::Bool),
        f("is_admin", F::Bool),
        f("is_guest", F::Bool),
        f("is_view_only", F::Bool),
        n("vacation_dates", F::Object),
        f("created_at", F::DateTime),
    ],
};

const TASK_COUNT: Record = Record {
    resource_type: None,
    description: "The task and milestone counts of a project (no gid)",
    has_gid: false,
    fields: &[
        f("num_tasks", F::Int),
        f("num_incomplete_tasks", F::Int),
        f("num_completed_tasks", F::Int),
        f("num_milestones", F::Int),
        f("num_incomplete_milestones", F::Int),
        f("num_completed_milestones", F::Int),
    ],
};

const PROJECT_TEMPLATE: Record = Record {
    resource_type: Some("project_template"),
    description: "A project template",
    has_gid: true,
    fields: &[
        f("name", F::Str),
        f("description", F::Str),
        f("html_description", F::Str),
        f("public", F::Bool),
        n("owner", F::Ref),
        f("team", F::Ref),
        n("color", F::Enum(TAG_COLORS)),
        f("requested_dates", F::Objects),
        f("requested_roles", F::Objects),
    ],
};

const PROJECT_STATUS: Record = Record {
    resource_type: Some("project_status"),
    description: "A project status (deprecated by Asana in favour of status updates)",
    has_gid: true,
    fields: &[
        f("title", F::Str),
        f("text", F::Str),
        f("html_text", F::Str),
        f(
            "color",
            F::Enum(&["green", "yellow", "red", "blue", "complete"]),
        ),
        f("author", F::Ref),
        f("created_by", F::Ref),
        f("created_at", F::DateTime),
        f("modified_at", F::DateTime),
    ],
};

const WEBHOOK: Record = Record {
    resource_type: Some("webhook"),
    description: "A webhook subscription",
    has_gid: true,
    fields: &[
        f("active", F::Bool),
        f("resource", F::Ref),
        f("target", F::Str),
        f("created_at", F::DateTime),
        f("last_failure_at", F::DateTime),
        f("last_failure_content", F::Str),
        f("last_success_at", F::DateTime),
        f("delivery_retry_count", F::Int),
        f("filters", F::Objects),
    ],
};

const TIME_PERIOD: Record = Record {
    resource_type: Some("time_period"),
    description: "A fiscal time period goals are set for",
    has_gid: true,
    fields: &[
        f("start_on", F::Str),
        f("end_on", F::Str),
        f(
            "period",
            F::Enum(&["FY", "H1", "H2", "Q1", "Q2", "Q3", "Q4"]),
        ),
        f("display_name", F::Str),
        n("parent", F::Ref),
    ],
};

const BATCH_RESULT: Record = Record {
    resource_type: None,
    description: "The result of one call of a batch, in the order of the calls (no gid)",
    has_gid: false,
    fields: &[
        f("status_code", F::Int),
        f("headers", F::Object),
        f("body", F::Object),
    ],
};

/// The kind of record an entity's actions return (for entities whose writes answer with an
/// empty object, the kind its reads return).
fn record(entity: &str) -> Option<&'static Record> {
    Some(match entity {
        "tasks"
        | "project_tasks"
        | "workspace_task_search"
        | "tag_tasks"
        | "section_tasks"
        | "task_subtasks"
        | "task_dependencies"
        | "task_dependents"
        | "task_parent"
        | "task_followers"
        | "workspace_task_custom_ids"
        | "user_task_list_tasks" => &TASK,
        "projects" | "task_projects" | "team_projects" | "workspace_projects"
        | "project_members" | "project_followers" => &PROJECT,
        "workspaces" => &WORKSPACE,
        "users" | "workspace_users" | "team_users" => &USER,
        "teams" | "workspace_teams" | "user_teams" => &TEAM,
        "attachments" => &ATTACHMENT,
        "workspace_tags" | "tags" | "task_tags" => &TAG,
        "project_sections" | "sections" => &SECTION,
        "task_stories" | "stories" => &STORY,
        "workspace_custom_fields" | "custom_fields" => &CUSTOM_FIELD,
        "custom_field_enum_options" | "enum_options" => &ENUM_OPTION,
        "project_custom_field_settings" | "portfolio_custom_field_settings" => {
            &CUSTOM_FIELD_SETTING
        }
        "task_duplicates" | "project_duplicates" | "project_template_instances" | "jobs" => &JOB,
        "workspace_typeahead" | "user_favorites" | "portfolio_items" => &NAMED,
        "status_updates" => &STATUS_UPDATE,
        "goals" | "goal_metrics" | "goal_followers" | "goal_parent_goals" => &GOAL,
        "goal_relationships" => &GOAL_RELATIONSHIP,
        "portfolios" | "portfolio_members" => &PORTFOLIO,
        "portfolio_memberships" => &PORTFOLIO_MEMBERSHIP,
        "task_time_tracking_entries" | "time_tracking_entries" => &TIME_TRACKING_ENTRY,
        "user_task_lists" | "user_user_task_lists" => &USER_TASK_LIST,
        "memberships" => &MEMBERSHIP,
        "project_memberships" => &PROJECT_MEMBERSHIP,
        "team_memberships" | "team_team_memberships" | "user_team_memberships" | "team_members" => {
            &TEAM_MEMBERSHIP
        }
        "workspace_memberships" | "user_workspace_memberships" => &WORKSPACE_MEMBERSHIP,
        "project_task_counts" => &TASK_COUNT,
        "project_templates" | "team_project_templates" => &PROJECT_TEMPLATE,
        "project_statuses" => &PROJECT_STATUS,
        "webhooks" => &WEBHOOK,
        "time_periods" => &TIME_PERIOD,
        "batch" => &BATCH_RESULT,
        _ => return None,
    })
}

/// The JSON Schema of a compact reference (`{gid, resource_type, name}` and whatever else was
/// asked for).
fn reference() -> Value {
    json!({
        "type": "object",
        "properties": {
            "gid": {"type": "string"},
            "resource_type": {"type": "string"},
            "name": {"type": "string"},
        },
        "required": ["gid"],
        "additionalProperties": true,
    })
}

fn field_schema(field: &Field) -> Value {
    let mut schema = match field.ty {
        F::Str => json!({"type": "string"}),
        F::Bool => json!({"type": "boolean"}),
        F::Int => json!({"type": "integer"}),
        F::Num => json!({"type": "number"}),
        F::Date => json!({"type": "string", "format": "date"}),
        F::DateTime => json!({"type": "string", "format": "date-time"}),
        F::Ref => reference(),
        F::Refs => json!({"type": "array", "items": reference()}),
        F::Strs => json!({"type": "array", "items": {"type": "string"}}),
        F::Enum(values) => json!({"type": "string", "enum": values}),
        F::Object => json!({"type": "object"}),
        F::Objects => json!({"type": "array", "items": {"type": "object"}}),
    };
    if field.nullable {
        let ty = schema["type"].clone();
        schema["type"] = json!([ty, "null"]);
        if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
            values.push(Value::Null);
        }
    }
    schema
}

/// The JSON Schema (draft 2020-12) of the records `entity` returns, or `None` for an unknown
/// entity.
pub(crate) fn schema(entity: &str) -> Option<Value> {
    let record = record(entity)?;
    let mut properties = Map::new();
    if record.has_gid {
        properties.insert("gid".into(), json!({"type": "string"}));
    }
    if let Some(resource_type) = record.resource_type {
        properties.insert(
            "resource_type".into(),
            json!({"type": "string", "const": resource_type}),
        );
    }
    for field in record.fields {
        properties.insert(field.name.into(), field_schema(field));
    }
    let required: Vec<&str> = if record.has_gid { vec!["gid"] } else { vec![] };
    Some(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": entity,
        "description": record.description,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::catalog;

    const TYPES: &[&str] = &[
        "string", "integer", "number", "boolean", "object", "array", "null",
    ];

    /// Whether `value` is an instance of the JSON type `ty`.
    fn is_type(value: &Value, ty: &str) -> bool {
        match ty {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            _ => false,
        }
    }

    /// Checks that `schema` is a well-formed JSON Schema in the subset the records use: known
    /// keywords only, known types, `required` naming declared properties, `enum` and `const`
    /// values of the declared type. Returns each problem with its location.
    fn problems(schema: &Value, at: &str, out: &mut Vec<String>) {
        let Some(object) = schema.as_object() else {
            out.push(format!("{at}: not an object"));
            return;
        };
        let types: Vec<&str> = match &object.get("type") {
            Some(Value::String(ty)) => vec![ty.as_str()],
            Some(Value::Array(tys)) => tys.iter().filter_map(Value::as_str).collect(),
            _ => {
                out.push(format!("{at}: no type"));
                vec![]
            }
        };
        for ty in &types {
            if !TYPES.contains(ty) {
                out.push(format!("{at}: unknown type {ty}"));
            }
        }
        for (keyword, value) in object {
            match keyword.as_str() {
                "$schema" | "title" | "description" | "type" => {}
                "format" if matches!(value.as_str(), Some("date" | "date-time")) => {}
                "additionalProperties" if value.is_boolean() => {}
                "properties" => match value.as_object() {
                    Some(properties) => {
                        for (name, property) in properties {
                            problems(property, &format!("{at}.{name}"), out);
                        }
                    }
                    None => out.push(format!("{at}: properties is not an object")),
                },
                "required" => {
                    for name in value.as_array().into_iter().flatten() {
                        let declared = name
                            .as_str()
                            .is_some_and(|name| schema["properties"].get(name).is_some());
                        if !declared {
                            out.push(format!("{at}: required {name} is not a property"));
                        }
                    }
                }
                "items" => problems(value, &format!("{at}[]"), out),
                "enum" | "const" => {
                    let values = match value {
                        Value::Array(values) if keyword == "enum" => values.clone(),
                        other => vec![other.clone()],
                    };
                    for value in values {
                        if !types.iter().any(|ty| is_type(&value, ty)) {
                            out.push(format!("{at}: {keyword} value {value} is not {types:?}"));
                        }
                    }
                }
                other => out.push(format!("{at}: unexpected keyword {other}: {value}")),
            }
        }
    }

    #[test]
    fn every_entity_has_a_well_formed_record_schema() {
        for entity in catalog::entities() {
            let schema = schema(entity).unwrap_or_else(|| panic!("{entity} has no schema"));
            let mut found = Vec::new();
            problems(&schema, entity, &mut found);
            assert!(found.is_empty(), "{found:#?}");
            assert_eq!(schema["type"], "object", "{entity}");
            assert_eq!(schema["additionalProperties"], true, "{entity}");
            assert_eq!(schema["title"], entity);
        }
        let task = schema("tasks").unwrap();
        assert_eq!(task["required"], json!(["gid"]));
        assert_eq!(task["properties"]["resource_type"]["const"], "task");
        assert_eq!(
            task["properties"]["assignee"]["type"],
            json!(["object", "null"])
        );
        assert_eq!(task["properties"]["due_on"]["format"], "date");
        let counts = schema("project_task_counts").unwrap();
        assert_eq!(counts["required"], json!([]));
        assert!(counts["properties"].get("gid").is_none());
        assert_eq!(
            schema("tags").unwrap()["properties"]["color"]["enum"]
                .as_array()
                .unwrap()
                .last(),
            Some(&Value::Null)
        );
        assert!(schema("taskz").is_none());
    }

    #[test]
    fn the_well_formedness_check_finds_what_is_wrong() {
        let mut found = Vec::new();
        problems(
            &json!({"type": "object", "properties": {"a": {"type": "strin"},
                    "b": {"type": "string", "enum": [1]}}, "required": ["c"], "minimum": 1}),
            "x",
            &mut found,
        );
        assert_eq!(
            found,
            [
                "x: unexpected keyword minimum: 1",
                "x.a: unknown type strin",
                "x.b: enum value 1 is not [\"string\"]",
                "x: required \"c\" is not a property",
            ]
        );
    }
}
