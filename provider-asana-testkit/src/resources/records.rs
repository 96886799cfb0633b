//! The routes over the objects kept as generic records (custom fields, status updates, goals,
//! portfolios, time tracking, user task lists, memberships, templates, jobs, webhooks, time
//! periods), the other actions on workspaces, teams and projects, typeahead and batch.
//!
//! A record is created from its request body (fields naming objects become references, 400 for
//! unknown ones), read back by `GET`, changed by `PUT` and gone (404) after `DELETE`.

use serde_json::{Map, Value, json};
use wiremock::http::Method;

use std::collections::BTreeMap;

use asana_endpoints::Op;

use super::{NO_ROUTE, body_user, deleted, existing, gid_field, gid_list, insert_project, string};
use crate::data::{Data, Gid, Project, Record, Task, Team, hidden, now_timestamp};
use crate::request::{ApiError, Ctx};
use crate::state::{Body, Reply};

/// The fields of a compact record.
const COMPACT: &[&str] = &[
    "gid",
    "resource_type",
    "resource_subtype",
    "name",
    "display_name",
    "title",
    "parent",
    "member",
    "user",
    "team",
    "workspace",
    "custom_field",
    "supported_goal",
    "supporting_resource",
    "duration_minutes",
    "status_type",
];

/// Body fields that name one object: stored as a reference `{gid, name, resource_type}`.
const REFERENCES: &[&str] = &[
    "workspace",
    "team",
    "owner",
    "parent",
    "task",
    "user",
    "member",
    "custom_field",
    "supported_goal",
    "supporting_resource",
    "time_period",
    "attributable_to",
    "resource",
    "organization",
    "item",
    "enum_option",
];

/// Body fields that name several objects (an array, or a comma-separated string).
const REFERENCE_LISTS: &[&str] = &["followers", "members"];

/// The most objects a batch runs.
const MAX_BATCH: usize = 10;

/// Serves the operations this module models; others are 404.
pub(super) fn route(
    data: &mut Data,
    ctx: &Ctx<'_>,
    op: Op,
    params: &[&str],
) -> Result<Reply, ApiError> {
    match (op, params) {
        (Op::UpdateWorkspace, [workspace]) => update_workspace(data, ctx, workspace),
        (Op::GetUserForWorkspace, [workspace, user]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            let user = user_gid(data, ctx, user)?;
            if !data.users[&user].workspaces.contains(&workspace) {
                return Err(ApiError::unknown_object(&user.to_string()));
            }
            Ok(ctx.object(200, data.user_json(user, &data.users[&user])))
        }
        (Op::RemoveUserForWorkspace, [workspace]) => remove_workspace_user(data, ctx, workspace),
        (Op::GetWorkspaceMembershipsForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            let wanted = wanted(data, ctx, &[("user", "user")]);
            list(data, ctx, "workspace_membership", |f| {
                refers(f, "workspace", workspace) && matches(f, &wanted)
            })
        }
        (Op::GetWorkspaceMembership, [membership]) => {
            get(data, ctx, "workspace_membership", membership)
        }
        (Op::GetWorkspaceMembershipsForUser, [user]) => {
            let user = user_gid(data, ctx, user)?;
            list(data, ctx, "workspace_membership", |f| {
                refers(f, "user", user)
            })
        }
        (Op::GetCustomFieldsForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            list(data, ctx, "custom_field", |f| {
                refers(f, "workspace", workspace)
            })
        }
        (Op::GetTaskForCustomID, [workspace, custom_id]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            let task = data
                .custom_ids
                .get(*custom_id)
                .copied()
                .filter(|task| {
                    data.tasks
                        .get(task)
                        .is_some_and(|t| t.workspace == workspace)
                })
                .ok_or_else(|| ApiError::unknown_object(custom_id))?;
            Ok(ctx.object(200, data.task_json(task, &data.tasks[&task])))
        }
        (Op::TypeaheadForWorkspace, [workspace]) => typeahead(data, ctx, workspace),
        (Op::CreateProjectForWorkspace, [workspace]) => {
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            create_project(data, ctx, workspace, None)
        }
        (Op::CreateTeam, []) => create_team(data, ctx),
        (Op::UpdateTeam, [team]) => update_team(data, ctx, team),
        (Op::AddUserForTeam, [team]) => change_team_member(data, ctx, team, true),
        (Op::RemoveUserForTeam, [team]) => change_team_member(data, ctx, team, false),
        (Op::GetTeamMembershipsForTeam, [team]) => {
            let team = existing(&data.teams, "team", team)?;
            list(data, ctx, "team_membership", |f| refers(f, "team", team))
        }
        (Op::GetTeamMemberships, []) => {
            if ctx.param("team").is_none()
                && (ctx.param("user").is_none() || ctx.param("workspace").is_none())
            {
                return Err(ApiError::bad_request(
                    "Must specify either team, or user and workspace",
                ));
            }
            let wanted = wanted(
                data,
                ctx,
                &[
                    ("team", "team"),
                    ("user", "user"),
                    ("workspace", "_workspace"),
                ],
            );
            list(data, ctx, "team_membership", |f| matches(f, &wanted))
        }
        (Op::GetTeamMembership, [membership]) => get(data, ctx, "team_membership", membership),
        (Op::GetTeamMembershipsForUser, [user]) => {
            let user = user_gid(data, ctx, user)?;
            let workspace = required_param(ctx, "workspace")?;
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            list(data, ctx, "team_membership", |f| {
                refers(f, "user", user) && refers(f, "_workspace", workspace)
            })
        }
        (Op::CreateProjectForTeam, [team]) => {
            let team = existing(&data.teams, "team", team)?;
            let workspace = data.teams[&team].workspace;
            create_project(data, ctx, workspace, Some(team))
        }
        (Op::GetProjectTemplatesForTeam, [team]) => {
            let team = existing(&data.teams, "team", team)?;
            list(data, ctx, "project_template", |f| refers(f, "team", team))
        }
        (Op::CreateCustomField, []) => create_custom_field(data, ctx),
        (Op::GetCustomField, [field]) => get(data, ctx, "custom_field", field),
        (Op::UpdateCustomField, [field]) => update(data, ctx, "custom_field", field),
        (Op::DeleteCustomField, [field]) => {
            let gid = record(data, "custom_field", field)?;
            data.records.retain(|_, r| {
                !refers(&r.fields, "_custom_field", gid) && !refers(&r.fields, "custom_field", gid)
            });
            data.records.remove(&gid);
            Ok(deleted())
        }
        (Op::CreateEnumOptionForCustomField, [field]) => create_enum_option(data, ctx, field),
        (Op::InsertEnumOptionForCustomField, [field]) => move_enum_option(data, ctx, field),
        (Op::UpdateEnumOption, [option]) => update(data, ctx, "enum_option", option),
        (Op::GetCustomFieldSettingsForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            list(data, ctx, "custom_field_setting", |f| {
                refers(f, "parent", project)
            })
        }
        (Op::GetCustomFieldSettingsForPortfolio, [portfolio]) => {
            let portfolio = record(data, "portfolio", portfolio)?;
            list(data, ctx, "custom_field_setting", |f| {
                refers(f, "parent", portfolio)
            })
        }
        (Op::AddCustomFieldSettingForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            add_custom_field_setting(data, ctx, project)
        }
        (Op::AddCustomFieldSettingForPortfolio, [portfolio]) => {
            let portfolio = record(data, "portfolio", portfolio)?;
            add_custom_field_setting(data, ctx, portfolio)
        }
        (Op::RemoveCustomFieldSettingForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            remove_where(data, ctx, "custom_field_setting", project, "custom_field")
        }
        (Op::RemoveCustomFieldSettingForPortfolio, [portfolio]) => {
            let portfolio = record(data, "portfolio", portfolio)?;
            remove_where(data, ctx, "custom_field_setting", portfolio, "custom_field")
        }
        (Op::DuplicateTask, [task]) => duplicate_task(data, ctx, task),
        (Op::GetTimeTrackingEntriesForTask, [task]) => {
            let task = existing(&data.tasks, "task", task)?;
            list(data, ctx, "time_tracking_entry", |f| {
                refers(f, "task", task)
            })
        }
        (Op::CreateTimeTrackingEntry, [task]) => {
            let task = existing(&data.tasks, "task", task)?;
            let extra = json!({"task": data.task_ref(task), "created_by": data.user_ref(ctx.me)});
            let gid = create(
                data,
                ctx,
                "time_tracking_entry",
                &["duration_minutes"],
                extra,
            )?;
            Ok(show(data, ctx, 201, gid))
        }
        (Op::GetTimeTrackingEntries, []) => {
            let wanted = wanted(
                data,
                ctx,
                &[
                    ("task", "task"),
                    ("attributable_to", "attributable_to"),
                    ("user", "created_by"),
                ],
            );
            list(data, ctx, "time_tracking_entry", |f| matches(f, &wanted))
        }
        (Op::GetTimeTrackingEntry, [entry]) => get(data, ctx, "time_tracking_entry", entry),
        (Op::UpdateTimeTrackingEntry, [entry]) => update(data, ctx, "time_tracking_entry", entry),
        (Op::DeleteTimeTrackingEntry, [entry]) => delete(data, "time_tracking_entry", entry),
        (Op::GetStatusesForObject, []) => {
            let parent = required_param(ctx, "parent")?.to_string();
            list(data, ctx, "status_update", |f| {
                refers_raw(f, "parent", &parent)
            })
        }
        (Op::CreateStatusForObject, []) => {
            let extra =
                json!({"author": data.user_ref(ctx.me), "created_by": data.user_ref(ctx.me)});
            let required = ["parent", "text", "status_type"];
            let gid = create(data, ctx, "status_update", &required, extra)?;
            Ok(show(data, ctx, 201, gid))
        }
        (Op::GetStatus, [update]) => get(data, ctx, "status_update", update),
        (Op::DeleteStatus, [update]) => delete(data, "status_update", update),
        (Op::GetProjectStatusesForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            list(data, ctx, "status_update", |f| refers(f, "parent", project))
        }
        (Op::GetGoals, []) => {
            let wanted = wanted(data, ctx, &[("workspace", "workspace"), ("team", "team")]);
            list(data, ctx, "goal", |f| matches(f, &wanted))
        }
        (Op::CreateGoal, []) => {
            let extra = json!({"followers": [data.user_ref(ctx.me)], "metric": null});
            let gid = create(data, ctx, "goal", &["name", "workspace"], extra)?;
            Ok(show(data, ctx, 201, gid))
        }
        (Op::GetGoal, [goal]) => get(data, ctx, "goal", goal),
        (Op::UpdateGoal, [goal]) => update(data, ctx, "goal", goal),
        (Op::DeleteGoal, [goal]) => {
            let gid = record(data, "goal", goal)?;
            data.records.retain(|_, r| {
                !(r.kind == "goal_relationship"
                    && (refers(&r.fields, "supported_goal", gid)
                        || refers(&r.fields, "supporting_resource", gid)))
            });
            data.records.remove(&gid);
            Ok(deleted())
        }
        (Op::CreateGoalMetric, [goal]) => set_metric(data, ctx, goal),
        (Op::UpdateGoalMetric, [goal]) => set_metric_value(data, ctx, goal),
        (Op::AddFollowers, [goal]) => change_list(data, ctx, "goal", goal, "followers", true),
        (Op::RemoveFollowers, [goal]) => change_list(data, ctx, "goal", goal, "followers", false),
        (Op::GetParentGoalsForGoal, [goal]) => {
            let goal = record(data, "goal", goal)?;
            let parents: Vec<Gid> = data
                .records
                .values()
                .filter(|r| {
                    r.kind == "goal_relationship" && refers(&r.fields, "supporting_resource", goal)
                })
                .filter_map(|r| ref_gid(r.fields.get("supported_goal")))
                .collect();
            let items = parents
                .into_iter()
                .filter_map(|gid| data.record_json(gid))
                .map(|json| ctx.shape(json, COMPACT, false))
                .collect();
            Ok(Reply::json(200, json!({ "data": Value::Array(items) })))
        }
        (Op::GetGoalRelationships, []) => {
            let goal = required_param(ctx, "supported_goal")?.to_string();
            let wanted = wanted(data, ctx, &[("resource_subtype", "resource_subtype")]);
            list(data, ctx, "goal_relationship", |f| {
                refers_raw(f, "supported_goal", &goal) && matches(f, &wanted)
            })
        }
        (Op::GetGoalRelationship, [relationship]) => {
            get(data, ctx, "goal_relationship", relationship)
        }
        (Op::UpdateGoalRelationship, [relationship]) => {
            update(data, ctx, "goal_relationship", relationship)
        }
        (Op::AddSupportingRelationship, [goal]) => {
            let goal = record(data, "goal", goal)?;
            let supported = data.reference_of(goal, &ctx.origin).unwrap_or_default();
            let extra = json!({"supported_goal": supported, "resource_subtype": "subgoal"});
            let gid = create(
                data,
                ctx,
                "goal_relationship",
                &["supporting_resource"],
                extra,
            )?;
            Ok(show(data, ctx, 201, gid))
        }
        (Op::RemoveSupportingRelationship, [goal]) => {
            let goal = record(data, "goal", goal)?;
            let body = body_with_references(data, ctx)?;
            let resource = ref_gid(body.get("supporting_resource"))
                .ok_or_else(|| ApiError::bad_request("supporting_resource: Missing input"))?;
            data.records.retain(|_, r| {
                !(r.kind == "goal_relationship"
                    && refers(&r.fields, "supported_goal", goal)
                    && refers(&r.fields, "supporting_resource", resource))
            });
            Ok(deleted())
        }
        (Op::GetPortfolios, []) => {
            required_param(ctx, "workspace")?;
            let wanted = wanted(data, ctx, &[("workspace", "workspace"), ("owner", "owner")]);
            list(data, ctx, "portfolio", |f| matches(f, &wanted))
        }
        (Op::CreatePortfolio, []) => {
            let extra = json!({"owner": data.user_ref(ctx.me), "_items": []});
            let gid = create(data, ctx, "portfolio", &["name", "workspace"], extra)?;
            Ok(show(data, ctx, 201, gid))
        }
        (Op::GetPortfolio, [portfolio]) => get(data, ctx, "portfolio", portfolio),
        (Op::UpdatePortfolio, [portfolio]) => update(data, ctx, "portfolio", portfolio),
        (Op::DeletePortfolio, [portfolio]) => delete(data, "portfolio", portfolio),
        (Op::GetItemsForPortfolio, [portfolio]) => {
            let portfolio = record(data, "portfolio", portfolio)?;
            let items = data.records[&portfolio]
                .fields
                .get("_items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|gid| gid.as_str()?.parse::<Gid>().ok())
                .filter_map(|gid| data.any_json(gid, &ctx.origin))
                .map(|json| ctx.shape(json, COMPACT, false))
                .collect();
            ctx.list(items)
        }
        (Op::AddItemForPortfolio, [portfolio]) => {
            change_list(data, ctx, "portfolio", portfolio, "item", true)
        }
        (Op::RemoveItemForPortfolio, [portfolio]) => {
            change_list(data, ctx, "portfolio", portfolio, "item", false)
        }
        (Op::AddMembersForPortfolio, [portfolio]) => {
            let portfolio = record(data, "portfolio", portfolio)?;
            change_members(data, ctx, portfolio, "portfolio_membership", true)
        }
        (Op::RemoveMembersForPortfolio, [portfolio]) => {
            let portfolio = record(data, "portfolio", portfolio)?;
            change_members(data, ctx, portfolio, "portfolio_membership", false)
        }
        (Op::GetPortfolioMembershipsForPortfolio, [portfolio]) => {
            let portfolio = record(data, "portfolio", portfolio)?;
            let wanted = wanted(data, ctx, &[("user", "member")]);
            list(data, ctx, "membership", |f| {
                refers(f, "parent", portfolio) && matches(f, &wanted)
            })
        }
        (Op::GetUserTaskList, [list_gid]) => get(data, ctx, "user_task_list", list_gid),
        (Op::GetUserTaskListForUser, [user]) => {
            let user = user_gid(data, ctx, user)?;
            let workspace = required_param(ctx, "workspace")?;
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            let found = data
                .records
                .iter()
                .find(|(_, r)| {
                    r.kind == "user_task_list"
                        && refers(&r.fields, "owner", user)
                        && refers(&r.fields, "workspace", workspace)
                })
                .map(|(gid, _)| *gid)
                .ok_or_else(|| ApiError::unknown_object(&user.to_string()))?;
            Ok(show(data, ctx, 200, found))
        }
        (Op::GetTasksForUserTaskList, [list_gid]) => {
            let gid = record(data, "user_task_list", list_gid)?;
            let fields = &data.records[&gid].fields;
            let owner = ref_gid(fields.get("owner"));
            let workspace = ref_gid(fields.get("workspace"));
            super::list_tasks(data, ctx, |_, t| {
                t.assignee.is_some() && t.assignee == owner && Some(t.workspace) == workspace
            })
        }
        (Op::GetMemberships, []) => {
            if ctx.param("parent").is_none() && ctx.param("member").is_none() {
                return Err(ApiError::bad_request(
                    "Must specify either parent or member",
                ));
            }
            let wanted = wanted(
                data,
                ctx,
                &[
                    ("parent", "parent"),
                    ("member", "member"),
                    ("resource_subtype", "resource_subtype"),
                ],
            );
            list(data, ctx, "membership", |f| matches(f, &wanted))
        }
        (Op::CreateMembership, []) => create_membership(data, ctx),
        (Op::GetMembership, [membership]) => get(data, ctx, "membership", membership),
        (Op::UpdateMembership, [membership]) => update(data, ctx, "membership", membership),
        (Op::DeleteMembership, [membership]) => delete(data, "membership", membership),
        (Op::GetProjectMembershipsForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            let wanted = wanted(data, ctx, &[("user", "member")]);
            list(data, ctx, "membership", |f| {
                refers(f, "parent", project) && matches(f, &wanted)
            })
        }
        (Op::GetProjectMembership, [membership]) => {
            let gid = record(data, "membership", membership)?;
            if !refers_raw(
                &data.records[&gid].fields,
                "resource_subtype",
                "project_membership",
            ) {
                return Err(ApiError::unknown_object(membership));
            }
            Ok(show(data, ctx, 200, gid))
        }
        (Op::AddMembersForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            change_members(data, ctx, project, "project_membership", true)
        }
        (Op::RemoveMembersForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            change_members(data, ctx, project, "project_membership", false)
        }
        (Op::AddFollowersForProject, [project]) => {
            change_project_followers(data, ctx, project, true)
        }
        (Op::RemoveFollowersForProject, [project]) => {
            change_project_followers(data, ctx, project, false)
        }
        (Op::DuplicateProject, [project]) => duplicate_project(data, ctx, project),
        (Op::GetTaskCountsForProject, [project]) => {
            let project = existing(&data.projects, "project", project)?;
            let tasks: Vec<bool> = data
                .tasks
                .values()
                .filter(|t| t.memberships.iter().any(|(p, _)| *p == project))
                .map(|t| t.completed)
                .collect();
            let completed = tasks.iter().filter(|done| **done).count();
            let counts = json!({
                "num_tasks": tasks.len(),
                "num_completed_tasks": completed,
                "num_incomplete_tasks": tasks.len() - completed,
                "num_milestones": 0,
                "num_completed_milestones": 0,
                "num_incomplete_milestones": 0,
            });
            Ok(ctx.object(200, counts.as_object().cloned().unwrap_or_default()))
        }
        (Op::ProjectSaveAsTemplate, [project]) => save_as_template(data, ctx, project),
        (Op::GetProjectTemplates, []) => {
            let wanted = wanted(data, ctx, &[("workspace", "_workspace"), ("team", "team")]);
            list(data, ctx, "project_template", |f| matches(f, &wanted))
        }
        (Op::GetProjectTemplate, [template]) => get(data, ctx, "project_template", template),
        (Op::DeleteProjectTemplate, [template]) => delete(data, "project_template", template),
        (Op::InstantiateProject, [template]) => instantiate(data, ctx, template),
        (Op::GetFavoritesForUser, [user]) => {
            let user = user_gid(data, ctx, user)?;
            let resource_type = required_param(ctx, "resource_type")?.to_string();
            let workspace = required_param(ctx, "workspace")?;
            let workspace = existing(&data.workspaces, "workspace", workspace)?;
            let items = data
                .favorites
                .iter()
                .filter(|(owner, _)| *owner == user)
                .filter_map(|(_, gid)| data.any_json(*gid, &ctx.origin))
                .filter(|json| {
                    refers_raw(json, "resource_type", &resource_type)
                        && refers(json, "workspace", workspace)
                })
                .map(|json| ctx.shape(json, COMPACT, false))
                .collect();
            ctx.list(items)
        }
        (Op::GetWebhooks, []) => {
            required_param(ctx, "workspace")?;
            let wanted = wanted(
                data,
                ctx,
                &[("workspace", "_workspace"), ("resource", "resource")],
            );
            list(data, ctx, "webhook", |f| matches(f, &wanted))
        }
        (Op::CreateWebhook, []) => create_webhook(data, ctx),
        (Op::GetWebhook, [webhook]) => get(data, ctx, "webhook", webhook),
        (Op::UpdateWebhook, [webhook]) => update(data, ctx, "webhook", webhook),
        (Op::DeleteWebhook, [webhook]) => delete(data, "webhook", webhook),
        (Op::GetTimePeriods, []) => {
            let workspace = required_param(ctx, "workspace")?.to_string();
            list(data, ctx, "time_period", |f| {
                refers_raw(f, "_workspace", &workspace)
            })
        }
        (Op::GetTimePeriod, [period]) => get(data, ctx, "time_period", period),
        (Op::GetJob, [job]) => get(data, ctx, "job", job),
        (Op::CreateBatchRequest, []) => batch(data, ctx),
        _ => Err(ApiError::new(404, NO_ROUTE)),
    }
}

/// The gid of a record of `kind` named in the path: 400 if not a gid, 404 if there is none.
fn record(data: &Data, kind: &str, raw: &str) -> Result<Gid, ApiError> {
    let gid = raw
        .parse::<Gid>()
        .map_err(|_| ApiError::bad_request(format!("{kind}: Not a recognized ID: {raw}")))?;
    match data.records.get(&gid) {
        Some(record) if record.kind == kind => Ok(gid),
        _ => Err(ApiError::unknown_object(raw)),
    }
}

/// A user named in the path by gid, `me` or e-mail.
fn user_gid(data: &Data, ctx: &Ctx<'_>, raw: &str) -> Result<Gid, ApiError> {
    data.find_user(ctx.me, raw)
        .ok_or_else(|| ApiError::unknown_object(raw))
}

fn required_param<'c>(ctx: &'c Ctx<'_>, name: &str) -> Result<&'c str, ApiError> {
    ctx.param(name)
        .ok_or_else(|| ApiError::bad_request(format!("{name}: Missing input")))
}

/// A reference to the object `raw` names (a gid; a person also by `me` or e-mail).
fn reference(data: &Data, ctx: &Ctx<'_>, field: &str, raw: &str) -> Result<Value, ApiError> {
    data.find_user(ctx.me, raw)
        .or_else(|| raw.parse::<Gid>().ok())
        .and_then(|gid| data.reference_of(gid, &ctx.origin))
        .ok_or_else(|| ApiError::bad_request(format!("{field}: Unknown object: {raw}")))
}

/// The request's `data`, with the fields naming objects turned into references (400 for an
/// unknown object) and bookkeeping names dropped.
fn body_with_references(data: &Data, ctx: &Ctx<'_>) -> Result<Map<String, Value>, ApiError> {
    let mut body = ctx.data()?;
    body.retain(|key, _| !hidden(key));
    for field in REFERENCES {
        let nested = body
            .get(*field)
            .and_then(|value| value.get("gid"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(raw) = nested.map_or_else(|| gid_field(&body, field), |gid| Ok(Some(gid)))? {
            body.insert((*field).to_string(), reference(data, ctx, field, &raw)?);
        }
    }
    for field in REFERENCE_LISTS {
        if body.get(*field).is_some_and(|v| !v.is_null()) {
            let references = gid_list(&body, field)?
                .iter()
                .map(|raw| reference(data, ctx, field, raw))
                .collect::<Result<Vec<_>, _>>()?;
            body.insert((*field).to_string(), Value::Array(references));
        }
    }
    Ok(body)
}

/// The gid a reference (or a list of them, its first) names.
fn ref_gid(value: Option<&Value>) -> Option<Gid> {
    match value? {
        Value::String(raw) => raw.parse().ok(),
        Value::Object(reference) => reference.get("gid")?.as_str()?.parse().ok(),
        _ => None,
    }
}

/// Whether `field` of a record names `gid` (or, for a list, includes it).
fn refers(fields: &Map<String, Value>, field: &str, gid: Gid) -> bool {
    refers_raw(fields, field, &gid.to_string())
}

/// Whether `field` is `raw`, refers to the object `raw` or, for a list, includes one of those.
fn refers_raw(fields: &Map<String, Value>, field: &str, raw: &str) -> bool {
    let is = |value: &Value| match value {
        Value::String(s) => s == raw,
        Value::Object(reference) => reference.get("gid").and_then(Value::as_str) == Some(raw),
        _ => false,
    };
    match fields.get(field) {
        Some(Value::Array(items)) => items.iter().any(is),
        Some(value) => is(value),
        None => false,
    }
}

/// The query filters given: (record field, wanted gid or value), `me` and e-mails resolved.
fn wanted(
    data: &Data,
    ctx: &Ctx<'_>,
    pairs: &[(&'static str, &'static str)],
) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .filter_map(|(param, field)| {
            let raw = ctx.param(param)?;
            let resolved = data
                .find_user(ctx.me, raw)
                .map_or_else(|| raw.to_string(), |gid| gid.to_string());
            Some((*field, resolved))
        })
        .collect()
}

fn matches(fields: &Map<String, Value>, wanted: &[(&str, String)]) -> bool {
    wanted
        .iter()
        .all(|(field, raw)| refers_raw(fields, field, raw))
}

fn show(data: &Data, ctx: &Ctx<'_>, status: u16, gid: Gid) -> Reply {
    ctx.object(status, data.record_json(gid).unwrap_or_default())
}

fn list(
    data: &Data,
    ctx: &Ctx<'_>,
    kind: &str,
    filter: impl Fn(&Map<String, Value>) -> bool,
) -> Result<Reply, ApiError> {
    let items = data
        .records
        .iter()
        .filter(|(_, r)| r.kind == kind && filter(&r.fields))
        .filter_map(|(gid, _)| data.record_json(*gid))
        .map(|json| ctx.shape(json, COMPACT, false))
        .collect();
    ctx.list(items)
}

fn get(data: &Data, ctx: &Ctx<'_>, kind: &str, raw: &str) -> Result<Reply, ApiError> {
    let gid = record(data, kind, raw)?;
    Ok(show(data, ctx, 200, gid))
}

/// Creates a record of `kind` from the body (which must hold `required`) and `extra`.
fn create(
    data: &mut Data,
    ctx: &Ctx<'_>,
    kind: &'static str,
    required: &[&str],
    extra: Value,
) -> Result<Gid, ApiError> {
    let mut fields = body_with_references(data, ctx)?;
    if let Some(missing) = required
        .iter()
        .find(|field| fields.get(**field).is_none_or(Value::is_null))
    {
        return Err(ApiError::bad_request(format!("{missing}: Missing input")));
    }
    if let Value::Object(extra) = extra {
        for (key, value) in extra {
            fields.entry(key).or_insert(value);
        }
    }
    fields.insert("created_at".into(), Value::String(now_timestamp()));
    let gid = data.next_gid();
    data.records.insert(gid, Record { kind, fields });
    Ok(gid)
}

/// `PUT` of a record: the body's fields replace the record's.
fn update(data: &mut Data, ctx: &Ctx<'_>, kind: &str, raw: &str) -> Result<Reply, ApiError> {
    let gid = record(data, kind, raw)?;
    let body = body_with_references(data, ctx)?;
    if let Some(record) = data.records.get_mut(&gid) {
        record.fields.extend(body);
    }
    Ok(show(data, ctx, 200, gid))
}

fn delete(data: &mut Data, kind: &str, raw: &str) -> Result<Reply, ApiError> {
    let gid = record(data, kind, raw)?;
    data.records.remove(&gid);
    Ok(deleted())
}

fn update_workspace(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.workspaces, "workspace", raw)?;
    let body = ctx.data()?;
    if let (Some(name), Some(workspace)) = (string(&body, "name")?, data.workspaces.get_mut(&gid)) {
        workspace.name = name;
    }
    Ok(ctx.object(200, Data::workspace_json(gid, &data.workspaces[&gid])))
}

/// `POST /workspaces/{gid}/removeUser` with `user`: the user leaves the workspace and its teams.
fn remove_workspace_user(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let workspace = existing(&data.workspaces, "workspace", raw)?;
    let body = ctx.data()?;
    let user = body_user(data, ctx, &body)?;
    if let Some(member) = data.users.get_mut(&user) {
        member.workspaces.retain(|w| *w != workspace);
    }
    for team in data.teams.values_mut().filter(|t| t.workspace == workspace) {
        team.members.retain(|m| *m != user);
    }
    data.records.retain(|_, r| {
        !(matches!(r.kind, "workspace_membership" | "team_membership")
            && refers(&r.fields, "user", user)
            && (refers(&r.fields, "workspace", workspace)
                || refers(&r.fields, "_workspace", workspace)))
    });
    Ok(deleted())
}

/// The gids of the objects of `map` that `keep` keeps.
fn gids_where<T>(map: &BTreeMap<Gid, T>, keep: impl Fn(&T) -> bool) -> Vec<Gid> {
    map.iter()
        .filter(|(_, object)| keep(object))
        .map(|(gid, _)| *gid)
        .collect()
}

/// `GET /workspaces/{gid}/typeahead`: up to `count` (default 20) objects of `resource_type` in
/// the workspace whose name contains `query` (any case).
fn typeahead(data: &Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let workspace = existing(&data.workspaces, "workspace", raw)?;
    let resource_type = ctx
        .param("resource_type")
        .or_else(|| ctx.param("type"))
        .ok_or_else(|| ApiError::bad_request("resource_type: Missing input"))?;
    let count = match ctx.param("count") {
        None => 20,
        Some(raw) => match raw.parse::<usize>() {
            Ok(count @ 1..=100) => count,
            _ => {
                return Err(ApiError::bad_request(
                    "count: The count must be an integer between 1 and 100",
                ));
            }
        },
    };
    let query = ctx.param("query").unwrap_or_default().to_lowercase();
    let mut candidates = gids_where(&data.users, |u| u.workspaces.contains(&workspace));
    candidates.extend(gids_where(&data.teams, |t| t.workspace == workspace));
    candidates.extend(gids_where(&data.projects, |p| p.workspace == workspace));
    candidates.extend(gids_where(&data.tasks, |t| t.workspace == workspace));
    candidates.extend(gids_where(&data.tags, |t| t.workspace == workspace));
    candidates.extend(gids_where(&data.records, |r| {
        refers(&r.fields, "workspace", workspace) || refers(&r.fields, "_workspace", workspace)
    }));
    let items: Vec<Value> = candidates
        .into_iter()
        .filter_map(|gid| data.any_json(gid, &ctx.origin))
        .filter(|json| {
            refers_raw(json, "resource_type", resource_type)
                && json
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| name.to_lowercase().contains(&query))
        })
        .take(count)
        .map(|json| ctx.shape(json, COMPACT, false))
        .collect();
    Ok(Reply::json(200, json!({ "data": items })))
}

fn create_team(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = ctx.data()?;
    let organization = gid_field(&body, "organization")?
        .ok_or_else(|| ApiError::bad_request("organization: Missing input"))?;
    let organization = super::referenced(&data.workspaces, "organization", &organization)?;
    let name = string(&body, "name")?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("name: Missing input"))?;
    let gid = data.next_gid();
    data.teams.insert(
        gid,
        Team {
            name,
            description: string(&body, "description")?.unwrap_or_default(),
            workspace: organization,
            members: vec![ctx.me],
        },
    );
    let membership = data.next_gid();
    data.insert_membership(membership, "team_membership", ctx.me, gid);
    Ok(ctx.object(201, data.team_json(gid, &data.teams[&gid])))
}

fn update_team(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let gid = existing(&data.teams, "team", raw)?;
    let body = ctx.data()?;
    let name = string(&body, "name")?;
    let description = string(&body, "description")?;
    if let Some(team) = data.teams.get_mut(&gid) {
        if let Some(name) = name {
            team.name = name;
        }
        if let Some(description) = description {
            team.description = description;
        }
    }
    Ok(ctx.object(200, data.team_json(gid, &data.teams[&gid])))
}

/// `POST /teams/{gid}/addUser` (answers the team membership) and `/removeUser`.
fn change_team_member(
    data: &mut Data,
    ctx: &Ctx<'_>,
    raw: &str,
    add: bool,
) -> Result<Reply, ApiError> {
    let team = existing(&data.teams, "team", raw)?;
    let body = ctx.data()?;
    let user = body_user(data, ctx, &body)?;
    let existing_membership = data
        .records
        .iter()
        .find(|(_, r)| {
            r.kind == "team_membership"
                && refers(&r.fields, "team", team)
                && refers(&r.fields, "user", user)
        })
        .map(|(gid, _)| *gid);
    if !add {
        if let Some(team) = data.teams.get_mut(&team) {
            team.members.retain(|m| *m != user);
        }
        if let Some(membership) = existing_membership {
            data.records.remove(&membership);
        }
        return Ok(deleted());
    }
    let membership = match existing_membership {
        Some(membership) => membership,
        None => {
            if let Some(team) = data.teams.get_mut(&team) {
                team.members.push(user);
            }
            let membership = data.next_gid();
            data.insert_membership(membership, "team_membership", user, team);
            membership
        }
    };
    Ok(show(data, ctx, 200, membership))
}

/// Creates a project in `workspace` (and `team`) from the body, as `POST /projects` does.
fn create_project(
    data: &mut Data,
    ctx: &Ctx<'_>,
    workspace: Gid,
    team: Option<Gid>,
) -> Result<Reply, ApiError> {
    let body = ctx.data()?;
    let team = match team {
        Some(team) => Some(team),
        None => gid_field(&body, "team")?
            .map(|raw| super::referenced(&data.teams, "team", &raw))
            .transpose()?,
    };
    if team.is_none() && data.workspaces[&workspace].is_organization {
        return Err(ApiError::bad_request(
            "team: Missing input. A project in an organization must be shared with a team",
        ));
    }
    let now = now_timestamp();
    let gid = insert_project(
        data,
        Project {
            name: string(&body, "name")?.unwrap_or_default(),
            notes: string(&body, "notes")?.unwrap_or_default(),
            color: body
                .get("color")
                .and_then(Value::as_str)
                .map(str::to_string),
            archived: body
                .get("archived")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            workspace,
            team,
            owner: ctx.me,
            created_at: now.clone(),
            modified_at: now,
        },
    );
    Ok(ctx.object(201, data.project_json(gid, &data.projects[&gid])))
}

fn create_custom_field(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let options = ctx.data()?.remove("enum_options");
    let extra = json!({"created_by": data.user_ref(ctx.me)});
    let gid = create(
        data,
        ctx,
        "custom_field",
        &["workspace", "resource_subtype"],
        extra,
    )?;
    if let Some(record) = data.records.get_mut(&gid) {
        record.fields.remove("enum_options");
        let subtype = record.fields.get("resource_subtype").cloned();
        record
            .fields
            .insert("type".into(), subtype.unwrap_or(Value::Null));
    }
    for (rank, option) in options
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let option_gid = data.next_gid();
        data.insert_record(
            option_gid,
            "enum_option",
            json!({
                "name": option.get("name").cloned().unwrap_or(Value::Null),
                "color": option.get("color").cloned().unwrap_or(json!("none")),
                "enabled": option.get("enabled").cloned().unwrap_or(json!(true)),
                "_custom_field": gid.to_string(),
                "_rank": rank,
            }),
        );
    }
    Ok(show(data, ctx, 201, gid))
}

/// The rank that puts an enum option of `field` before (`before`) or after `anchor`, or last.
fn rank_near(data: &Data, field: Gid, anchor: Option<(Gid, bool)>) -> f64 {
    let ranked: Vec<f64> = data
        .enum_options(field)
        .into_iter()
        .filter_map(|gid| data.records[&gid].fields.get("_rank")?.as_f64())
        .collect();
    let options = data.enum_options(field);
    match anchor.and_then(|(gid, before)| Some((options.iter().position(|o| *o == gid)?, before))) {
        Some((i, true)) => {
            let below = if i == 0 {
                ranked[i] - 2.0
            } else {
                ranked[i - 1]
            };
            (below + ranked[i]) / 2.0
        }
        Some((i, false)) => {
            let above = ranked.get(i + 1).copied().unwrap_or(ranked[i] + 2.0);
            (ranked[i] + above) / 2.0
        }
        None => ranked.last().map_or(0.0, |last| last + 1.0),
    }
}

/// The anchor `insert_before`/`insert_after` (or their `before_`/`after_` names) give, which
/// must be an enum option of `field`.
fn option_anchor(
    data: &Data,
    body: &Map<String, Value>,
    field: Gid,
    names: [&str; 2],
) -> Result<Option<(Gid, bool)>, ApiError> {
    for (name, before) in [(names[0], true), (names[1], false)] {
        if let Some(raw) = gid_field(body, name)? {
            let gid = raw
                .parse::<Gid>()
                .ok()
                .filter(|gid| data.enum_options(field).contains(gid))
                .ok_or_else(|| ApiError::bad_request(format!("{name}: Unknown object: {raw}")))?;
            return Ok(Some((gid, before)));
        }
    }
    Ok(None)
}

fn create_enum_option(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let field = record(data, "custom_field", raw)?;
    let body = ctx.data()?;
    let name =
        string(&body, "name")?.ok_or_else(|| ApiError::bad_request("name: Missing input"))?;
    let anchor = option_anchor(data, &body, field, ["insert_before", "insert_after"])?;
    let rank = rank_near(data, field, anchor);
    let gid = data.next_gid();
    data.insert_record(
        gid,
        "enum_option",
        json!({
            "name": name,
            "color": body.get("color").cloned().unwrap_or(json!("none")),
            "enabled": body.get("enabled").cloned().unwrap_or(json!(true)),
            "_custom_field": field.to_string(),
            "_rank": rank,
        }),
    );
    Ok(show(data, ctx, 201, gid))
}

fn move_enum_option(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let field = record(data, "custom_field", raw)?;
    let body = ctx.data()?;
    let option = gid_field(&body, "enum_option")?
        .ok_or_else(|| ApiError::bad_request("enum_option: Missing input"))?;
    let option = option
        .parse::<Gid>()
        .ok()
        .filter(|gid| data.enum_options(field).contains(gid))
        .ok_or_else(|| ApiError::bad_request(format!("enum_option: Unknown object: {option}")))?;
    let anchor = option_anchor(
        data,
        &body,
        field,
        ["before_enum_option", "after_enum_option"],
    )?
    .filter(|(anchor, _)| *anchor != option);
    let rank = rank_near(data, field, anchor);
    if let Some(record) = data.records.get_mut(&option) {
        record.fields.insert("_rank".into(), json!(rank));
    }
    Ok(show(data, ctx, 200, option))
}

/// `addCustomFieldSetting` on a project or portfolio: answers the setting.
fn add_custom_field_setting(
    data: &mut Data,
    ctx: &Ctx<'_>,
    parent: Gid,
) -> Result<Reply, ApiError> {
    let parent = data.reference_of(parent, &ctx.origin).unwrap_or_default();
    let extra = json!({"parent": parent, "is_important": false});
    let gid = create(data, ctx, "custom_field_setting", &["custom_field"], extra)?;
    if let Some(record) = data.records.get_mut(&gid) {
        record.fields.insert("parent".into(), parent);
        for anchor in ["insert_before", "insert_after"] {
            record.fields.remove(anchor);
        }
    }
    Ok(show(data, ctx, 200, gid))
}

/// Removes the records of `kind` under `parent` whose `field` names what the body's `field` does.
fn remove_where(
    data: &mut Data,
    ctx: &Ctx<'_>,
    kind: &str,
    parent: Gid,
    field: &str,
) -> Result<Reply, ApiError> {
    let body = body_with_references(data, ctx)?;
    let target = ref_gid(body.get(field))
        .ok_or_else(|| ApiError::bad_request(format!("{field}: Missing input")))?;
    data.records.retain(|_, r| {
        !(r.kind == kind && refers(&r.fields, "parent", parent) && refers(&r.fields, field, target))
    });
    Ok(deleted())
}

/// Adds the body's `field` (one gid or several) to a list of a record, or removes it.
fn change_list(
    data: &mut Data,
    ctx: &Ctx<'_>,
    kind: &str,
    raw: &str,
    field: &str,
    add: bool,
) -> Result<Reply, ApiError> {
    let gid = record(data, kind, raw)?;
    let body = body_with_references(data, ctx)?;
    let added: Vec<Value> = match body.get(field) {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(_)) => vec![body[field].clone()],
        _ => return Err(ApiError::bad_request(format!("{field}: Missing input"))),
    };
    let (list, as_gid) = if field == "item" {
        ("_items", true)
    } else {
        (field, false)
    };
    if let Some(record) = data.records.get_mut(&gid) {
        let entry = record
            .fields
            .entry(list.to_string())
            .or_insert_with(|| json!([]));
        if let Value::Array(items) = entry {
            for value in added {
                let target = ref_gid(Some(&value));
                items.retain(|item| ref_gid(Some(item)) != target);
                if add {
                    items.push(if as_gid {
                        Value::String(target.unwrap_or_default().to_string())
                    } else {
                        value
                    });
                }
            }
        }
    }
    if field == "item" {
        Ok(deleted())
    } else {
        Ok(show(data, ctx, 200, gid))
    }
}

/// `addMembers`/`removeMembers` on a project or portfolio: memberships of `subtype` for each of
/// `members`; answers the parent.
fn change_members(
    data: &mut Data,
    ctx: &Ctx<'_>,
    parent: Gid,
    subtype: &str,
    add: bool,
) -> Result<Reply, ApiError> {
    let body = body_with_references(data, ctx)?;
    let members: Vec<Value> = body
        .get("members")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| ApiError::bad_request("members: Missing input"))?;
    let parent_ref = data.reference_of(parent, &ctx.origin).unwrap_or_default();
    for member in members {
        let Some(user) = ref_gid(Some(&member)) else {
            continue;
        };
        data.records.retain(|_, r| {
            !(r.kind == "membership"
                && refers(&r.fields, "parent", parent)
                && refers(&r.fields, "member", user))
        });
        if add {
            let gid = data.next_gid();
            data.insert_record(
                gid,
                "membership",
                json!({"resource_subtype": subtype, "parent": parent_ref, "member": member, "user": member, "access_level": "editor"}),
            );
        }
    }
    Ok(ctx.object(200, data.any_json(parent, &ctx.origin).unwrap_or_default()))
}

fn create_membership(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = body_with_references(data, ctx)?;
    let subtype = body
        .get("parent")
        .and_then(|parent| parent.get("resource_type"))
        .and_then(Value::as_str)
        .map(|kind| format!("{kind}_membership"));
    let extra = json!({"resource_subtype": subtype, "access_level": "editor"});
    let gid = create(data, ctx, "membership", &["parent", "member"], extra)?;
    Ok(show(data, ctx, 201, gid))
}

fn change_project_followers(
    data: &mut Data,
    ctx: &Ctx<'_>,
    raw: &str,
    add: bool,
) -> Result<Reply, ApiError> {
    let project = existing(&data.projects, "project", raw)?;
    let body = ctx.data()?;
    if body.get("followers").is_none_or(Value::is_null) {
        return Err(ApiError::bad_request("followers: Missing input"));
    }
    let users = gid_list(&body, "followers")?
        .iter()
        .map(|key| {
            data.find_user(ctx.me, key)
                .ok_or_else(|| ApiError::bad_request(format!("followers: Unknown object: {key}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let followers = data.project_followers.entry(project).or_default();
    for user in users {
        followers.retain(|f| *f != user);
        if add {
            followers.push(user);
        }
    }
    let mut json = data.project_json(project, &data.projects[&project]);
    let followers = data.project_followers[&project]
        .iter()
        .map(|user| data.user_ref(*user))
        .collect();
    json.insert("followers".into(), Value::Array(followers));
    Ok(ctx.object(200, json))
}

/// A succeeded job whose result is `result` (`new_task`, `new_project` ...).
fn job(data: &mut Data, subtype: &str, result: &str, reference: Value) -> Gid {
    let gid = data.next_gid();
    let mut fields = json!({
        "resource_subtype": subtype,
        "status": "succeeded",
        "new_project": null,
        "new_task": null,
        "new_project_template": null,
    });
    fields[result] = reference;
    data.insert_record(gid, "job", fields);
    gid
}

/// `POST /tasks/{gid}/duplicate` with `name`: a copy of the task (its projects, assignee, notes
/// and tags), and a succeeded job naming it.
fn duplicate_task(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let source = existing(&data.tasks, "task", raw)?;
    let body = ctx.data()?;
    let name =
        string(&body, "name")?.ok_or_else(|| ApiError::bad_request("name: Missing input"))?;
    let original = &data.tasks[&source];
    let now = now_timestamp();
    let copy = Task {
        name,
        notes: original.notes.clone(),
        completed: false,
        completed_at: None,
        assignee: original.assignee,
        workspace: original.workspace,
        memberships: original.memberships.clone(),
        parent: original.parent,
        tags: original.tags.clone(),
        dependencies: Vec::new(),
        followers: Vec::new(),
        due_on: original.due_on.clone(),
        due_at: original.due_at.clone(),
        created_at: now.clone(),
        modified_at: now,
    };
    let gid = data.next_gid();
    data.tasks.insert(gid, copy);
    data.log_task_created(ctx.me, gid);
    let reference = data.task_ref(gid);
    let job = job(data, "duplicate_task", "new_task", reference);
    Ok(show(data, ctx, 201, job))
}

/// A copy of `source` named `name` (with its sections), in `team` or the source's team.
fn copy_project(data: &mut Data, source: &Project, name: String, team: Option<Gid>) -> Gid {
    let now = now_timestamp();
    insert_project(
        data,
        Project {
            name,
            notes: source.notes.clone(),
            color: source.color.clone(),
            archived: false,
            workspace: source.workspace,
            team: team.or(source.team),
            owner: source.owner,
            created_at: now.clone(),
            modified_at: now,
        },
    )
}

fn duplicate_project(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let source = existing(&data.projects, "project", raw)?;
    let body = ctx.data()?;
    let name =
        string(&body, "name")?.ok_or_else(|| ApiError::bad_request("name: Missing input"))?;
    let team = gid_field(&body, "team")?
        .map(|raw| super::referenced(&data.teams, "team", &raw))
        .transpose()?;
    let original = data.projects[&source].clone();
    let gid = copy_project(data, &original, name, team);
    let reference = data.project_ref(gid);
    let job = job(data, "duplicate_project", "new_project", reference);
    Ok(show(data, ctx, 201, job))
}

/// `POST /projects/{gid}/saveAsTemplate` with `name` and `public` (and `team` or `workspace`).
fn save_as_template(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let project = existing(&data.projects, "project", raw)?;
    let workspace = data.projects[&project].workspace;
    let team = data.projects[&project].team;
    let extra = json!({
        "owner": data.user_ref(ctx.me),
        "team": team.map(|team| data.team_ref(team)),
        "_workspace": workspace.to_string(),
        "requested_dates": [],
        "requested_roles": [],
    });
    let template = create(data, ctx, "project_template", &["name", "public"], extra)?;
    let reference = data.reference_of(template, &ctx.origin).unwrap_or_default();
    let job = job(
        data,
        "save_project_as_template",
        "new_project_template",
        reference,
    );
    Ok(show(data, ctx, 201, job))
}

/// `POST /project_templates/{gid}/instantiateProject` with `name`: a new project, and a job.
fn instantiate(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let template = record(data, "project_template", raw)?;
    let body = ctx.data()?;
    let name =
        string(&body, "name")?.ok_or_else(|| ApiError::bad_request("name: Missing input"))?;
    let fields = &data.records[&template].fields;
    let team = gid_field(&body, "team")?
        .map(|raw| super::referenced(&data.teams, "team", &raw))
        .transpose()?
        .or_else(|| ref_gid(fields.get("team")));
    let workspace = ref_gid(fields.get("_workspace"))
        .or_else(|| team.and_then(|t| data.teams.get(&t)).map(|t| t.workspace))
        .unwrap_or_default();
    let now = now_timestamp();
    let gid = insert_project(
        data,
        Project {
            name,
            notes: String::new(),
            color: None,
            archived: false,
            workspace,
            team,
            owner: ctx.me,
            created_at: now.clone(),
            modified_at: now,
        },
    );
    let reference = data.project_ref(gid);
    let job = job(data, "instantiate_project", "new_project", reference);
    Ok(show(data, ctx, 201, job))
}

fn create_webhook(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = body_with_references(data, ctx)?;
    let resource = ref_gid(body.get("resource"))
        .ok_or_else(|| ApiError::bad_request("resource: Missing input"))?;
    let resource_json = data.any_json(resource, &ctx.origin).unwrap_or_default();
    let workspace = if refers_raw(&resource_json, "resource_type", "workspace") {
        Some(resource)
    } else {
        ref_gid(resource_json.get("workspace"))
    };
    let extra = json!({
        "active": true,
        "filters": [],
        "_workspace": workspace.map(|w| w.to_string()),
    });
    let gid = create(data, ctx, "webhook", &["resource", "target"], extra)?;
    Ok(show(data, ctx, 201, gid))
}

/// `POST /goals/{gid}/setMetric`: the goal's metric, replaced.
fn set_metric(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let goal = record(data, "goal", raw)?;
    let mut metric = ctx.data()?;
    metric.retain(|key, _| !hidden(key));
    metric.insert("resource_type".into(), json!("goal_metric"));
    metric.entry("resource_subtype").or_insert(json!("number"));
    if let Some(record) = data.records.get_mut(&goal) {
        record.fields.insert("metric".into(), Value::Object(metric));
    }
    Ok(show(data, ctx, 200, goal))
}

/// `POST /goals/{gid}/setMetricCurrentValue`: 400 if the goal has no metric.
fn set_metric_value(data: &mut Data, ctx: &Ctx<'_>, raw: &str) -> Result<Reply, ApiError> {
    let goal = record(data, "goal", raw)?;
    let body = ctx.data()?;
    let value = body
        .get("current_number_value")
        .filter(|v| v.is_number())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("current_number_value: Missing input"))?;
    let metric = data
        .records
        .get_mut(&goal)
        .and_then(|r| r.fields.get_mut("metric"))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::bad_request("metric: The goal has no metric; set one first"))?;
    metric.insert("current_number_value".into(), value);
    Ok(show(data, ctx, 200, goal))
}

/// `POST /batch`: runs up to ten calls, each as if sent alone; answers their statuses and bodies.
fn batch(data: &mut Data, ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = ctx.data()?;
    let actions = body
        .get("actions")
        .and_then(Value::as_array)
        .filter(|a| (1..=MAX_BATCH).contains(&a.len()))
        .cloned()
        .ok_or_else(|| ApiError::bad_request("actions: Must hold 1 to 10 actions"))?;
    let mut results = Vec::with_capacity(actions.len());
    for action in actions {
        let path = action
            .get("relative_path")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("relative_path: Missing input"))?;
        let method = action
            .get("method")
            .and_then(Value::as_str)
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| ApiError::bad_request("method: Not a method"))?;
        let fields = action.get("data").cloned().unwrap_or(json!({}));
        let mut query = Vec::new();
        let mut sub_body = Vec::new();
        if method == Method::GET {
            for (name, value) in fields.as_object().into_iter().flatten() {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                query.push((name.clone(), value));
            }
        } else {
            sub_body = json!({ "data": fields }).to_string().into_bytes();
        }
        let options = action.get("options").and_then(Value::as_object);
        for (name, value) in options.into_iter().flatten() {
            let value = match value {
                Value::Array(fields) => fields
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let name = if name == "fields" { "opt_fields" } else { name };
            query.push((name.to_string(), value));
        }
        let sub = ctx.nested(&method, path, query, &sub_body);
        let reply = super::route(data, &sub).unwrap_or_else(ApiError::into_reply);
        let body = match reply.body {
            Some(Body::Json(value)) => value,
            _ => Value::Null,
        };
        results.push(json!({"status_code": reply.status, "headers": {}, "body": body}));
    }
    Ok(Reply::json(200, json!({ "data": results })))
}
