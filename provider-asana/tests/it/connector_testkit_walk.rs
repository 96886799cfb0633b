//! Every catalog action against the testkit, from one table: each action runs on a fresh
//! `MockAsana` with every optional param set (params that exclude each other in further cases),
//! and once with a param of the wrong type, which must be refused before anything is sent.
//! An action the testkit does not model answers 404 and fails here, so a new catalog action needs
//! a testkit route (and, when the generated params do not fit it, a case below).

use std::collections::{BTreeMap, BTreeSet};

use asana_endpoints::{Method, route};
use provider_asana::AsanaClientSettings;
use provider_asana::connector::{AsanaConnector, ExecuteError};
use provider_asana_testkit::{MockAsana, seed};
use serde_json::{Map, Value, json};
use url::Url;

fn connector(mock: &MockAsana) -> AsanaConnector {
    let settings = AsanaClientSettings::new(Url::parse(&mock.api_base_url()).unwrap());
    AsanaConnector::with_token_and_settings(mock.personal_access_token().into(), settings).unwrap()
}

/// The value every action gets for a param of this name, unless its cases say otherwise.
fn by_name(name: &str) -> Option<Value> {
    let value = match name {
        "task_gid" => json!(seed::DRAFT_TASK_GID),
        "project_gid" | "project" | "attributable_to" | "resource" => {
            json!(seed::LAUNCH_PROJECT_GID)
        }
        "workspace_gid" | "workspace" | "organization" => json!(seed::WORKSPACE_GID),
        "team_gid" | "team" => json!(seed::MARKETING_TEAM_GID),
        "user_gid" => json!(seed::ME_GID),
        "tag_gid" | "tag" => json!(seed::URGENT_TAG_GID),
        "section_gid" | "section" => json!(seed::LAUNCH_SECTION_GID),
        "attachment_gid" => json!(seed::ANNOUNCEMENT_ATTACHMENT_GID),
        "story_gid" => json!(seed::DRAFT_COMMENT_GID),
        "custom_field_gid" | "custom_field" => json!(seed::CUSTOM_FIELD_GID),
        "enum_option_gid" | "before_enum_option" => json!(seed::ENUM_OPTION_GIDS[0]),
        "enum_option" => json!(seed::ENUM_OPTION_GIDS[1]),
        "portfolio_gid" | "portfolio" => json!(seed::PORTFOLIO_GID),
        "goal_gid" | "supported_goal" => json!(seed::GOAL_GID),
        "supporting_resource" => json!(seed::SUPPORTING_GOAL_GID),
        "goal_relationship_gid" => json!(seed::GOAL_RELATIONSHIP_GID),
        "status_update_gid" => json!(seed::STATUS_UPDATE_GID),
        "time_tracking_entry_gid" => json!(seed::TIME_TRACKING_ENTRY_GID),
        "user_task_list_gid" => json!(seed::USER_TASK_LIST_GID),
        "membership_gid" | "project_membership_gid" => json!(seed::PROJECT_MEMBERSHIP_GID),
        "team_membership_gid" => json!(seed::TEAM_MEMBERSHIP_GID),
        "workspace_membership_gid" => json!(seed::WORKSPACE_MEMBERSHIP_GID),
        "project_template_gid" => json!(seed::PROJECT_TEMPLATE_GID),
        "webhook_gid" => json!(seed::WEBHOOK_GID),
        "time_period_gid" | "time_period" => json!(seed::TIME_PERIOD_GID),
        "time_periods" => json!([seed::TIME_PERIOD_GID]),
        "job_gid" => json!(seed::JOB_GID),
        "parent" | "task" => json!(seed::DRAFT_TASK_GID),
        "insert_before" | "insert_after" => json!(seed::INVITES_TASK_GID),
        "url" => json!("https://example.com/walked.pdf"),
        "assignee.any" | "assignee_any" | "followers.any" | "followers_any" => json!("me"),
        "projects.any" | "projects_any" => json!(seed::LAUNCH_PROJECT_GID),
        "sections.any" | "sections_any" => json!(seed::LAUNCH_SECTION_GID),
        "tags.any" | "tags_any" => json!(seed::URGENT_TAG_GID),
        "teams.any" | "teams_any" => json!(seed::MARKETING_TEAM_GID),
        "actions" => json!([
            {"relative_path": format!("/tasks/{}", seed::DRAFT_TASK_GID), "method": "get", "data": {}, "options": {"fields": ["name"], "limit": 1, "offset": "none"}},
            {"relative_path": format!("/tasks/{}", seed::DRAFT_TASK_GID), "method": "put", "data": {"name": "Batched"}},
        ]),
        "custom_id" => json!("LAUNCH-1"),
        "assignee" | "owner" => json!("me"),
        "user" | "member" => json!(seed::ADA_GID),
        "followers" | "members" => json!([seed::ADA_GID]),
        "projects" => json!([seed::LAUNCH_PROJECT_GID]),
        "tags" => json!([seed::URGENT_TAG_GID]),
        "dependencies" => json!([seed::VENUE_TASK_GID]),
        "dependents" => json!([seed::INVITES_TASK_GID]),
        "item" => json!(seed::BACKLOG_PROJECT_GID),
        "custom_fields" => json!({ seed::CUSTOM_FIELD_GID: seed::ENUM_OPTION_GIDS[0] }),
        "target" => json!("https://example.com/walk-hook"),
        "name" => json!("Walked"),
        "text" | "query" => json!("a"),
        "limit" | "count" => json!(1),
        "html_notes" | "html_text" | "html_description" => json!("<body>Walked</body>"),
        "select_fields" => json!(["name"]),
        "exclude_fields" => json!(["notes"]),
        "opt_fields" => json!(["name", "resource_type"]),
        "resource_type" | "type" => json!("project"),
        _ if name.ends_with("_on") || name.contains("_on.") || name.contains("_on_") => {
            json!("2026-06-01")
        }
        _ if name.contains("_at") || name.ends_with("_since") || name == "due_date" => {
            json!("2026-06-01T12:00:00.000Z")
        }
        _ => return None,
    };
    Some(value)
}

/// A value of the param's type, for params no name above covers.
fn by_type(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types.first().cloned().unwrap_or_default(),
        other => other.clone(),
    };
    match ty.as_str().unwrap_or_default() {
        "integer" => schema["minimum"].as_i64().map_or(json!(30), Value::from),
        "number" => json!(2.5),
        "boolean" => json!(true),
        "array" => json!(["walked"]),
        "object" => json!({"walked": true}),
        _ => json!("walked"),
    }
}

/// The cases of an action: patches over the generated params (`null` leaves a param out). One
/// empty patch (every param as generated) unless the action needs others.
fn cases(entity: &str, action: &str) -> Vec<Value> {
    match (entity, action) {
        ("tasks", "list") => vec![
            json!({"project": null, "tag": null, "assignee": null, "workspace": null}),
            json!({"project": null, "section": null, "assignee": null, "workspace": null, "completed_since": null, "modified_since": null, "select_fields": null, "exclude_fields": null}),
            json!({"project": null, "section": null, "tag": null}),
            json!({"section": null, "tag": null, "assignee": null, "workspace": null}),
        ],
        ("workspace_task_search", "list") => vec![
            json!({"assignee_any": null, "projects_any": null, "sections_any": null, "tags_any": null, "teams_any": null, "followers_any": null, "created_at_after": null, "created_at_before": null, "modified_at_after": null, "modified_at_before": null, "due_on_after": null, "due_on_before": null}),
            json!({"assignee.any": null, "projects.any": null, "sections.any": null, "tags.any": null, "teams.any": null, "followers.any": null, "created_at.after": null, "created_at.before": null, "modified_at.after": null, "modified_at.before": null, "due_on.after": null, "due_on.before": null}),
        ],
        ("sections", "move") => vec![
            json!({"project_gid": seed::BACKLOG_PROJECT_GID, "section": seed::BACKLOG_DONE_SECTION_GID, "before_section": seed::BACKLOG_TODO_SECTION_GID, "after_section": null}),
            json!({"project_gid": seed::BACKLOG_PROJECT_GID, "section": seed::BACKLOG_TODO_SECTION_GID, "after_section": seed::BACKLOG_DONE_SECTION_GID, "before_section": null}),
        ],
        ("task_parent", "update") => vec![json!({
            "task_gid": seed::DRAFT_SUBTASK_GIDS[0],
            "insert_before": seed::DRAFT_SUBTASK_GIDS[1],
            "insert_after": seed::DRAFT_SUBTASK_GIDS[1],
        })],
        ("project_sections", "create") => vec![json!({
            "insert_before": seed::LAUNCH_SECTION_GID,
            "insert_after": seed::LAUNCH_SECTION_GID,
        })],
        ("portfolio_items", "create") => vec![json!({
            "insert_before": seed::LAUNCH_PROJECT_GID,
            "insert_after": seed::LAUNCH_PROJECT_GID,
        })],
        ("custom_field_enum_options", "create") => vec![json!({
            "insert_before": seed::ENUM_OPTION_GIDS[0],
            "insert_after": seed::ENUM_OPTION_GIDS[1],
        })],
        ("custom_field_enum_options", "move") => vec![json!({
            "after_enum_option": seed::ENUM_OPTION_GIDS[0],
        })],
        ("status_updates", "create" | "list") | ("memberships", "create" | "list") => {
            vec![json!({"parent": seed::LAUNCH_PROJECT_GID})]
        }
        ("sections", "delete") => vec![json!({"section_gid": seed::BACKLOG_DONE_SECTION_GID})],
        ("stories", "update") => vec![json!({"html_text": null}), json!({"text": null})],
        ("project_task_counts", "get") => vec![json!({
            "opt_fields": ["num_tasks", "num_completed_tasks"],
            "select_fields": ["num_tasks"],
        })],
        _ => vec![json!({})],
    }
}

/// The cases of an action, each patch split into one per member of a group of fields its
/// endpoint takes at most one of (`insert_before`, `insert_after`), unless the patch already
/// leaves one of them out.
fn cases_one_of_each(entity: &str, action: &str, endpoint: &str) -> Vec<Value> {
    let (method, path) = endpoint.split_once(' ').unwrap();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (op, _) = route(Method::parse(method).unwrap(), &segments).unwrap();
    let mut cases = cases(entity, action);
    for group in op.endpoint().exclusive {
        cases = cases
            .into_iter()
            .flat_map(|patch| {
                if group
                    .iter()
                    .any(|name| patch.get(*name) == Some(&Value::Null))
                {
                    return vec![patch];
                }
                group
                    .iter()
                    .map(|kept| {
                        let mut patch = patch.clone();
                        for other in group.iter().filter(|name| *name != kept) {
                            patch[*other] = Value::Null;
                        }
                        patch
                    })
                    .collect()
            })
            .collect();
    }
    cases
}

/// The params of one case: every property of the action's schema, generated, then patched.
fn params(schema: &Value, patch: &Value) -> Map<String, Value> {
    let mut params = Map::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        if name == "offset" {
            continue;
        }
        let value = match (by_name(name), property["type"].as_str()) {
            (Some(Value::Array(items)), Some("string")) => json!(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            (Some(value), _) => value,
            (None, _) => by_type(property),
        };
        params.insert(name.clone(), value);
    }
    for (name, value) in patch.as_object().into_iter().flatten() {
        if value.is_null() {
            params.remove(name);
        } else {
            params.insert(name.clone(), value.clone());
        }
    }
    params
}

/// The next-page offset of the same call with only its required params (and `limit` 1), if
/// that has a next page: offsets belong to a path, not to its filters.
async fn fewer_filters_offset(
    agent: &AsanaConnector,
    entity: &str,
    action: &str,
    schema: &Value,
    params: &Map<String, Value>,
) -> Option<String> {
    let required: Vec<&str> = schema["required"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut fewer: Map<String, Value> = params
        .iter()
        .filter(|(name, _)| required.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    fewer.insert("limit".into(), json!(1));
    let page = agent
        .execute(entity, action, Value::Object(fewer))
        .await
        .ok()?;
    page["meta"]["next_page"]["offset"]
        .as_str()
        .map(str::to_string)
}

/// A value of another JSON type than the param's.
fn wrong_type(property: &Value) -> Value {
    let ty = match &property["type"] {
        Value::Array(types) => types.first().cloned().unwrap_or_default(),
        other => other.clone(),
    };
    match ty.as_str().unwrap_or_default() {
        "string" => json!(12345),
        _ => json!("not-the-right-type"),
    }
}

/// What a happy call must have done, beyond succeeding: a created object can be read back, an
/// updated one holds the new name, a deleted one is gone, a get answers an object.
fn check(
    mock: &MockAsana,
    method: &str,
    action: &str,
    params: &Map<String, Value>,
    result: &Value,
) -> Result<(), String> {
    let path_gid = params
        .iter()
        .find(|(name, _)| name.ends_with("_gid"))
        .and_then(|(_, v)| v.as_str());
    let data = &result["data"];
    match (method, action) {
        ("DELETE", _) => {
            let gid = path_gid.unwrap_or_default();
            if mock.object(gid).is_some() {
                return Err(format!("{gid} is still there after the delete"));
            }
        }
        ("PUT", _) => {
            let gid = path_gid.unwrap_or_default();
            let object = mock
                .object(gid)
                .ok_or(format!("{gid} is gone after the update"))?;
            if params.get("name").is_some() && object.get("name") != params.get("name") {
                return Err(format!("the update did not rename {gid}: {object}"));
            }
        }
        ("POST", "create") => {
            if let Some(gid) = data["gid"].as_str()
                && mock.object(gid).is_none()
            {
                return Err(format!("the created {gid} cannot be read back"));
            }
        }
        ("GET", "get") if data.as_object().is_none_or(Map::is_empty) => {
            return Err(format!("not an object: {result}"));
        }
        ("GET", "list") if !data.is_array() => return Err(format!("not a list: {result}")),
        _ => {}
    }
    Ok(())
}

#[tokio::test]
async fn every_catalog_action_runs_against_the_testkit_with_every_param_and_refuses_a_wrong_one() {
    let mut failures = Vec::new();
    let mut uncovered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut actions = 0;
    let mut paged = 0;
    for entity in AsanaConnector::catalog() {
        for info in &entity.actions {
            actions += 1;
            let name = format!("{}.{}", entity.entity, info.action);
            let schema = &info.params_schema;
            let method = info.endpoints[0]
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string();
            let mut sent: BTreeSet<String> = BTreeSet::new();
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for patch in cases_one_of_each(entity.entity, info.action, &info.endpoints[0]) {
                let mock = MockAsana::builder().tasks_per_project(3).start().await;
                let agent = connector(&mock);
                let params = params(schema, &patch);
                sent.extend(params.keys().cloned());
                match agent
                    .execute(entity.entity, info.action, Value::Object(params.clone()))
                    .await
                {
                    Ok(result) => {
                        if let Err(problem) = check(&mock, &method, info.action, &params, &result) {
                            failures.push(format!("{name} {patch}: {problem}"));
                        }
                        let mut offset = result["meta"]["next_page"]["offset"]
                            .as_str()
                            .map(str::to_string);
                        if offset.is_none() && properties.contains_key("offset") {
                            // Every filter set leaves one page: page the same endpoint with its
                            // required params only, and take the offset it gives.
                            offset = fewer_filters_offset(
                                &agent,
                                entity.entity,
                                info.action,
                                schema,
                                &params,
                            )
                            .await;
                        }
                        if let Some(offset) = offset {
                            let mut next = params.clone();
                            next.insert("offset".into(), json!(offset));
                            sent.insert("offset".into());
                            if let Err(e) = agent
                                .execute(entity.entity, info.action, Value::Object(next))
                                .await
                            {
                                failures.push(format!("{name} next page: {e}"));
                            }
                        }
                    }
                    Err(e) => failures.push(format!("{name} {patch}: {e}")),
                }
            }
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            if sent.contains("offset") {
                paged += 1;
            }
            let missing: BTreeSet<String> = properties
                .keys()
                .filter(|p| *p != "offset" && !sent.contains(*p))
                .cloned()
                .collect();
            if !missing.is_empty() {
                uncovered.insert(name.clone(), missing);
            }
            // One validation failure: the first param with a value of the wrong type.
            let mock = MockAsana::builder().tasks_per_project(3).start().await;
            let (bad, property) = properties
                .iter()
                .next()
                .expect("every action takes a param");
            let first = cases_one_of_each(entity.entity, info.action, &info.endpoints[0]);
            let mut params = self::params(schema, &first[0]);
            params.insert(bad.clone(), wrong_type(property));
            match connector(&mock)
                .execute(entity.entity, info.action, Value::Object(params))
                .await
            {
                Err(ExecuteError::InvalidParams { problems, .. })
                    if problems.iter().any(|p| p.contains(bad.as_str())) => {}
                other => failures.push(format!(
                    "{name}: a wrong `{bad}` was not refused: {other:?}"
                )),
            }
            if mock.api_requests() != 0 {
                failures.push(format!("{name}: invalid params reached the API"));
            }
        }
    }
    assert_eq!(actions, 169, "the catalog's size");
    assert_eq!(paged, 33, "lists whose next page ran with its offset");
    assert!(
        failures.is_empty() && uncovered.is_empty(),
        "{} failures:\n{}\nparams no case sets: {uncovered:?}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn fields_an_endpoint_takes_one_of_are_refused_together_before_anything_is_sent() {
    let mut refused = Vec::new();
    for entity in AsanaConnector::catalog() {
        for info in &entity.actions {
            let (method, path) = info.endpoints[0].split_once(' ').unwrap();
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let (op, _) = route(Method::parse(method).unwrap(), &segments).unwrap();
            for group in op.endpoint().exclusive {
                let mock = MockAsana::builder().tasks_per_project(3).start().await;
                let first = cases_one_of_each(entity.entity, info.action, &info.endpoints[0]);
                let mut params = params(&info.params_schema, &first[0]);
                for name in group.iter() {
                    params.insert((*name).to_string(), json!(seed::LAUNCH_SECTION_GID));
                }
                let err = connector(&mock)
                    .execute(entity.entity, info.action, Value::Object(params))
                    .await
                    .unwrap_err();
                let ExecuteError::InvalidParams { problems, .. } = &err else {
                    panic!("{}.{}: {err:?}", entity.entity, info.action);
                };
                assert_eq!(
                    problems,
                    &[format!("give only one of: {}", group.join(", "))]
                );
                assert_eq!(mock.api_requests(), 0);
                refused.push(format!("{}.{}", entity.entity, info.action));
            }
        }
    }
    assert_eq!(
        refused,
        [
            "task_projects.create",
            "project_sections.create",
            "sections.move",
            "section_tasks.create",
            "custom_field_enum_options.create",
            "custom_field_enum_options.move",
            "project_custom_field_settings.create",
            "portfolio_custom_field_settings.create",
            "task_parent.update",
            "goal_relationships.create",
            "portfolio_items.create",
        ]
    );
}

/// The data of a successful call.
async fn ok(agent: &AsanaConnector, entity: &str, action: &str, params: Value) -> Value {
    match agent.execute(entity, action, params.clone()).await {
        Ok(result) => result["data"].clone(),
        Err(e) => panic!("{entity}.{action} {params}: {e}"),
    }
}

/// The gids of a list's items.
fn gids(list: &Value) -> Vec<String> {
    picked(list, "/gid")
}

/// What `pointer` finds in each item of a list.
fn picked(list: &Value, pointer: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item.pointer(pointer).unwrap().as_str().unwrap().to_string())
        .collect()
}

/// What `pointer` finds in each item of the list `entity.list` answers.
async fn listed(agent: &AsanaConnector, entity: &str, params: Value, pointer: &str) -> Vec<String> {
    picked(&ok(agent, entity, "list", params).await, pointer)
}

/// `entity.create` with `params` makes `added` the only item the `listing` (entity, params, pointer
/// to each item's gid) shows, and `entity.delete` with the same params empties it again.
async fn added_then_removed(
    agent: &AsanaConnector,
    entity: &str,
    params: Value,
    listing: (&str, Value, &str),
    added: &str,
) {
    let (list, list_params, pointer) = listing;
    assert!(
        listed(agent, list, list_params.clone(), pointer)
            .await
            .is_empty()
    );
    ok(agent, entity, "create", params.clone()).await;
    assert_eq!(
        listed(agent, list, list_params.clone(), pointer).await,
        [added]
    );
    ok(agent, entity, "delete", params).await;
    assert!(listed(agent, list, list_params, pointer).await.is_empty());
}

#[tokio::test]
async fn relations_added_through_the_catalog_show_in_the_testkits_lists_and_go_when_removed() {
    let mock = MockAsana::start().await;
    let agent = connector(&mock);
    let goal = json!({"goal_gid": seed::GOAL_GID});

    // Goal followers.
    let followed = ok(
        &agent,
        "goal_followers",
        "create",
        json!({"goal_gid": seed::GOAL_GID, "followers": [seed::ADA_GID]}),
    )
    .await;
    assert_eq!(gids(&followed["followers"]), [seed::ME_GID, seed::ADA_GID]);
    let unfollowed = ok(
        &agent,
        "goal_followers",
        "delete",
        json!({"goal_gid": seed::GOAL_GID, "followers": [seed::ME_GID]}),
    )
    .await;
    assert_eq!(gids(&unfollowed["followers"]), [seed::ADA_GID]);

    // A supporting goal, seen from the supported side and from the supporting side.
    let supporting = json!({"goal_gid": seed::SUPPORTING_GOAL_GID});
    let parents = || listed(&agent, "goal_parent_goals", supporting.clone(), "/gid");
    assert_eq!(parents().await, [seed::GOAL_GID]);
    ok(
        &agent,
        "goal_relationships",
        "delete",
        json!({"goal_gid": seed::GOAL_GID, "supporting_resource": seed::SUPPORTING_GOAL_GID}),
    )
    .await;
    assert!(parents().await.is_empty());
    ok(&agent, "goal_relationships", "create", json!({"goal_gid": seed::GOAL_GID, "supporting_resource": seed::SUPPORTING_GOAL_GID, "contribution_weight": 0.5})).await;
    assert_eq!(parents().await, [seed::GOAL_GID]);

    // A metric, then its current value.
    ok(&agent, "goal_metrics", "create", json!({"goal_gid": seed::GOAL_GID, "target_number_value": 20.0, "current_number_value": 1.0})).await;
    let updated = ok(
        &agent,
        "goal_metrics",
        "update",
        json!({"goal_gid": seed::GOAL_GID, "current_number_value": 7.0}),
    )
    .await;
    assert_eq!(updated["metric"]["current_number_value"], 7.0);
    assert_eq!(updated["metric"]["target_number_value"], 20.0);
    assert_eq!(
        ok(&agent, "goals", "get", goal).await["metric"]["current_number_value"],
        7.0
    );

    // Portfolio items.
    let portfolio = json!({"portfolio_gid": seed::PORTFOLIO_GID});
    assert_eq!(
        listed(&agent, "portfolio_items", portfolio.clone(), "/gid").await,
        [seed::LAUNCH_PROJECT_GID, seed::BACKLOG_PROJECT_GID]
    );
    ok(
        &agent,
        "portfolio_items",
        "delete",
        json!({"portfolio_gid": seed::PORTFOLIO_GID, "item": seed::LAUNCH_PROJECT_GID}),
    )
    .await;
    ok(
        &agent,
        "portfolio_items",
        "create",
        json!({"portfolio_gid": seed::PORTFOLIO_GID, "item": seed::HOME_PROJECT_GID}),
    )
    .await;
    assert_eq!(
        listed(&agent, "portfolio_items", portfolio.clone(), "/gid").await,
        [seed::BACKLOG_PROJECT_GID, seed::HOME_PROJECT_GID]
    );
    assert_eq!(
        ok(&agent, "portfolios", "get", portfolio).await["name"],
        "Q3 launches"
    );

    // Project members, as project memberships; a project's custom field settings.
    let home = json!({"project_gid": seed::HOME_PROJECT_GID});
    let ada = json!({"project_gid": seed::HOME_PROJECT_GID, "members": seed::ADA_GID});
    let listing = ("project_memberships", home.clone(), "/member/gid");
    added_then_removed(&agent, "project_members", ada, listing, seed::ADA_GID).await;
    let priority =
        json!({"project_gid": seed::HOME_PROJECT_GID, "custom_field": seed::CUSTOM_FIELD_GID});
    let listing = ("project_custom_field_settings", home, "/custom_field/gid");
    added_then_removed(
        &agent,
        "project_custom_field_settings",
        priority,
        listing,
        seed::CUSTOM_FIELD_GID,
    )
    .await;

    // Time tracking: created on a task, changed, gone.
    let entry = ok(
        &agent,
        "task_time_tracking_entries",
        "create",
        json!({"task_gid": seed::VENUE_TASK_GID, "duration_minutes": 45}),
    )
    .await;
    let entry = json!({"time_tracking_entry_gid": entry["gid"]});
    ok(&agent, "time_tracking_entries", "update", json!({"time_tracking_entry_gid": entry["time_tracking_entry_gid"], "duration_minutes": 50})).await;
    assert_eq!(
        ok(&agent, "time_tracking_entries", "get", entry.clone()).await["duration_minutes"],
        50
    );
    ok(&agent, "time_tracking_entries", "delete", entry.clone()).await;
    let gone = agent
        .execute("time_tracking_entries", "get", entry)
        .await
        .unwrap_err();
    assert!(
        matches!(
            gone,
            ExecuteError::Api(provider_asana::AsanaError::NotFound { .. })
        ),
        "{gone:?}"
    );

    // A duplicated task and an instantiated template come back as jobs naming what they made.
    let job = ok(
        &agent,
        "task_duplicates",
        "create",
        json!({"task_gid": seed::DRAFT_TASK_GID, "name": "Draft, again"}),
    )
    .await;
    assert_eq!(job["status"], "succeeded");
    let job = ok(&agent, "jobs", "get", json!({"job_gid": job["gid"]})).await;
    let copy = ok(
        &agent,
        "tasks",
        "get",
        json!({"task_gid": job["new_task"]["gid"]}),
    )
    .await;
    assert_eq!(copy["name"], "Draft, again");
    let job = ok(
        &agent,
        "project_template_instances",
        "create",
        json!({"project_template_gid": seed::PROJECT_TEMPLATE_GID, "name": "Launch 2"}),
    )
    .await;
    let project = ok(
        &agent,
        "projects",
        "get",
        json!({"project_gid": job["new_project"]["gid"]}),
    )
    .await;
    assert_eq!(
        (project["name"].as_str(), project["team"]["gid"].as_str()),
        (Some("Launch 2"), Some(seed::MARKETING_TEAM_GID))
    );

    // Typeahead finds by part of a name.
    let found = ok(
        &agent,
        "workspace_typeahead",
        "list",
        json!({"workspace_gid": seed::WORKSPACE_GID, "resource_type": "goal", "query": "launch"}),
    )
    .await;
    assert_eq!(gids(&found), [seed::GOAL_GID]);
}
