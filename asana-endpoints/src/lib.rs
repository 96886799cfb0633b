//! Asana's REST endpoints, as data: for each operation its method, its path template, and the
//! query and body fields it takes. Written once here and read by `provider-asana` (its catalog
//! builds requests from it, its typed client its URLs and methods) and by
//! `provider-asana-testkit` (which routes by it).
//!
//! ```
//! use asana_endpoints::{Method, Op, route};
//!
//! let (op, params) = route(Method::Get, &["tasks", "42", "subtasks"]).unwrap();
//! assert_eq!(op, Op::GetSubtasksForTask);
//! assert_eq!(params, ["42"]);
//! assert_eq!(op.endpoint().path, "/tasks/{task_gid}/subtasks");
//! assert!(route(Method::Delete, &["tasks", "42", "subtasks"]).is_none());
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// An HTTP method an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method as sent on the wire: `GET`, `POST`, `PUT` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// The method named `name` (upper case, as on the wire), if an endpoint takes it.
    pub fn parse(name: &str) -> Option<Method> {
        [Method::Get, Method::Post, Method::Put, Method::Delete]
            .into_iter()
            .find(|method| method.as_str() == name)
    }
}

/// One endpoint.
#[derive(Debug)]
#[non_exhaustive]
pub struct Endpoint {
    /// The operation it serves.
    pub op: Op,
    /// Its HTTP method.
    pub method: Method,
    /// Its path under the API base, with `{name}` for each path param.
    pub path: &'static str,
    /// The query params it takes.
    pub query: &'static [&'static str],
    /// The fields it takes in the body's `data`.
    pub body: &'static [&'static str],
    /// Groups of body fields of which a request may give at most one (`insert_before` and
    /// `insert_after`: Asana refuses both).
    pub exclusive: &'static [&'static [&'static str]],
}

impl Endpoint {
    /// The names of its path params, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> + use<> {
        let path: &'static str = self.path;
        path.split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }

    /// Whether the path segments `segments` fit its template; the values of its path params if so.
    fn matches<'a>(&self, segments: &[&'a str]) -> Option<Vec<&'a str>> {
        let template: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (part, segment) in template.iter().zip(segments) {
            if part.starts_with('{') {
                params.push(*segment);
            } else if part != segment {
                return None;
            }
        }
        Some(params)
    }
}

/// The operations, named as Asana's API reference names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `GET /attachments`
    GetAttachmentsForObject,
    /// `POST /attachments`
    CreateAttachmentForObject,
    /// `GET /attachments/{attachment_gid}`
    GetAttachment,
    /// `DELETE /attachments/{attachment_gid}`
    DeleteAttachment,
    /// `POST /batch`
    CreateBatchRequest,
    /// `POST /custom_fields`
    CreateCustomField,
    /// `GET /custom_fields/{custom_field_gid}`
    GetCustomField,
    /// `PUT /custom_fields/{custom_field_gid}`
    UpdateCustomField,
    /// `DELETE /custom_fields/{custom_field_gid}`
    DeleteCustomField,
    /// `POST /custom_fields/{custom_field_gid}/enum_options`
    CreateEnumOptionForCustomField,
    /// `POST /custom_fields/{custom_field_gid}/enum_options/insert`
    InsertEnumOptionForCustomField,
    /// `PUT /enum_options/{enum_option_gid}`
    UpdateEnumOption,
    /// `GET /events`
    GetEvents,
    /// `GET /goal_relationships`
    GetGoalRelationships,
    /// `GET /goal_relationships/{goal_relationship_gid}`
    GetGoalRelationship,
    /// `PUT /goal_relationships/{goal_relationship_gid}`
    UpdateGoalRelationship,
    /// `GET /goals`
    GetGoals,
    /// `POST /goals`
    CreateGoal,
    /// `GET /goals/{goal_gid}`
    GetGoal,
    /// `PUT /goals/{goal_gid}`
    UpdateGoal,
    /// `DELETE /goals/{goal_gid}`
    DeleteGoal,
    /// `POST /goals/{goal_gid}/addFollowers`
    AddFollowers,
    /// `POST /goals/{goal_gid}/addSupportingRelationship`
    AddSupportingRelationship,
    /// `GET /goals/{goal_gid}/parentGoals`
    GetParentGoalsForGoal,
    /// `POST /goals/{goal_gid}/removeFollowers`
    RemoveFollowers,
    /// `POST /goals/{goal_gid}/removeSupportingRelationship`
    RemoveSupportingRelationship,
    /// `POST /goals/{goal_gid}/setMetric`
    CreateGoalMetric,
    /// `POST /goals/{goal_gid}/setMetricCurrentValue`
    UpdateGoalMetric,
    /// `GET /jobs/{job_gid}`
    GetJob,
    /// `GET /memberships`
    GetMemberships,
    /// `POST /memberships`
    CreateMembership,
    /// `GET /memberships/{membership_gid}`
    GetMembership,
    /// `PUT /memberships/{membership_gid}`
    UpdateMembership,
    /// `DELETE /memberships/{membership_gid}`
    DeleteMembership,
    /// `GET /portfolios`
    GetPortfolios,
    /// `POST /portfolios`
    CreatePortfolio,
    /// `GET /portfolios/{portfolio_gid}`
    GetPortfolio,
    /// `PUT /portfolios/{portfolio_gid}`
    UpdatePortfolio,
    /// `DELETE /portfolios/{portfolio_gid}`
    DeletePortfolio,
    /// `POST /portfolios/{portfolio_gid}/addCustomFieldSetting`
    AddCustomFieldSettingForPortfolio,
    /// `POST /portfolios/{portfolio_gid}/addItem`
    AddItemForPortfolio,
    /// `POST /portfolios/{portfolio_gid}/addMembers`
    AddMembersForPortfolio,
    /// `GET /portfolios/{portfolio_gid}/custom_field_settings`
    GetCustomFieldSettingsForPortfolio,
    /// `GET /portfolios/{portfolio_gid}/items`
    GetItemsForPortfolio,
    /// `GET /portfolios/{portfolio_gid}/portfolio_memberships`
    GetPortfolioMembershipsForPortfolio,
    /// `POST /portfolios/{portfolio_gid}/removeCustomFieldSetting`
    RemoveCustomFieldSettingForPortfolio,
    /// `POST /portfolios/{portfolio_gid}/removeItem`
    RemoveItemForPortfolio,
    /// `POST /portfolios/{portfolio_gid}/removeMembers`
    RemoveMembersForPortfolio,
    /// `GET /project_memberships/{project_membership_gid}`
    GetProjectMembership,
    /// `GET /project_templates`
    GetProjectTemplates,
    /// `GET /project_templates/{project_template_gid}`
    GetProjectTemplate,
    /// `DELETE /project_templates/{project_template_gid}`
    DeleteProjectTemplate,
    /// `POST /project_templates/{project_template_gid}/instantiateProject`
    InstantiateProject,
    /// `GET /projects`
    GetProjects,
    /// `POST /projects`
    CreateProject,
    /// `GET /projects/{project_gid}`
    GetProject,
    /// `PUT /projects/{project_gid}`
    UpdateProject,
    /// `DELETE /projects/{project_gid}`
    DeleteProject,
    /// `POST /projects/{project_gid}/addCustomFieldSetting`
    AddCustomFieldSettingForProject,
    /// `POST /projects/{project_gid}/addFollowers`
    AddFollowersForProject,
    /// `POST /projects/{project_gid}/addMembers`
    AddMembersForProject,
    /// `GET /projects/{project_gid}/custom_field_settings`
    GetCustomFieldSettingsForProject,
    /// `POST /projects/{project_gid}/duplicate`
    DuplicateProject,
    /// `GET /projects/{project_gid}/project_memberships`
    GetProjectMembershipsForProject,
    /// `GET /projects/{project_gid}/project_statuses`
    GetProjectStatusesForProject,
    /// `POST /projects/{project_gid}/removeCustomFieldSetting`
    RemoveCustomFieldSettingForProject,
    /// `POST /projects/{project_gid}/removeFollowers`
    RemoveFollowersForProject,
    /// `POST /projects/{project_gid}/removeMembers`
    RemoveMembersForProject,
    /// `POST /projects/{project_gid}/saveAsTemplate`
    ProjectSaveAsTemplate,
    /// `GET /projects/{project_gid}/sections`
    GetSectionsForProject,
    /// `POST /projects/{project_gid}/sections`
    CreateSectionForProject,
    /// `POST /projects/{project_gid}/sections/insert`
    InsertSectionForProject,
    /// `GET /projects/{project_gid}/task_counts`
    GetTaskCountsForProject,
    /// `GET /projects/{project_gid}/tasks`
    GetTasksForProject,
    /// `GET /sections/{section_gid}`
    GetSection,
    /// `PUT /sections/{section_gid}`
    UpdateSection,
    /// `DELETE /sections/{section_gid}`
    DeleteSection,
    /// `POST /sections/{section_gid}/addTask`
    AddTaskForSection,
    /// `GET /sections/{section_gid}/tasks`
    GetTasksForSection,
    /// `GET /status_updates`
    GetStatusesForObject,
    /// `POST /status_updates`
    CreateStatusForObject,
    /// `GET /status_updates/{status_update_gid}`
    GetStatus,
    /// `DELETE /status_updates/{status_update_gid}`
    DeleteStatus,
    /// `GET /stories/{story_gid}`
    GetStory,
    /// `PUT /stories/{story_gid}`
    UpdateStory,
    /// `DELETE /stories/{story_gid}`
    DeleteStory,
    /// `GET /tags`
    GetTags,
    /// `POST /tags`
    CreateTag,
    /// `GET /tags/{tag_gid}`
    GetTag,
    /// `PUT /tags/{tag_gid}`
    UpdateTag,
    /// `DELETE /tags/{tag_gid}`
    DeleteTag,
    /// `GET /tags/{tag_gid}/tasks`
    GetTasksForTag,
    /// `GET /tasks`
    GetTasks,
    /// `POST /tasks`
    CreateTask,
    /// `GET /tasks/{task_gid}`
    GetTask,
    /// `PUT /tasks/{task_gid}`
    UpdateTask,
    /// `DELETE /tasks/{task_gid}`
    DeleteTask,
    /// `POST /tasks/{task_gid}/addDependencies`
    AddDependenciesForTask,
    /// `POST /tasks/{task_gid}/addDependents`
    AddDependentsForTask,
    /// `POST /tasks/{task_gid}/addFollowers`
    AddFollowersForTask,
    /// `POST /tasks/{task_gid}/addProject`
    AddProjectForTask,
    /// `POST /tasks/{task_gid}/addTag`
    AddTagForTask,
    /// `GET /tasks/{task_gid}/dependencies`
    GetDependenciesForTask,
    /// `GET /tasks/{task_gid}/dependents`
    GetDependentsForTask,
    /// `POST /tasks/{task_gid}/duplicate`
    DuplicateTask,
    /// `GET /tasks/{task_gid}/projects`
    GetProjectsForTask,
    /// `POST /tasks/{task_gid}/removeDependencies`
    RemoveDependenciesForTask,
    /// `POST /tasks/{task_gid}/removeDependents`
    RemoveDependentsForTask,
    /// `POST /tasks/{task_gid}/removeFollowers`
    RemoveFollowerForTask,
    /// `POST /tasks/{task_gid}/removeProject`
    RemoveProjectForTask,
    /// `POST /tasks/{task_gid}/removeTag`
    RemoveTagForTask,
    /// `POST /tasks/{task_gid}/setParent`
    SetParentForTask,
    /// `GET /tasks/{task_gid}/stories`
    GetStoriesForTask,
    /// `POST /tasks/{task_gid}/stories`
    CreateStoryForTask,
    /// `GET /tasks/{task_gid}/subtasks`
    GetSubtasksForTask,
    /// `POST /tasks/{task_gid}/subtasks`
    CreateSubtaskForTask,
    /// `GET /tasks/{task_gid}/tags`
    GetTagsForTask,
    /// `GET /tasks/{task_gid}/time_tracking_entries`
    GetTimeTrackingEntriesForTask,
    /// `POST /tasks/{task_gid}/time_tracking_entries`
    CreateTimeTrackingEntry,
    /// `GET /team_memberships`
    GetTeamMemberships,
    /// `GET /team_memberships/{team_membership_gid}`
    GetTeamMembership,
    /// `POST /teams`
    CreateTeam,
    /// `GET /teams/{team_gid}`
    GetTeam,
    /// `PUT /teams/{team_gid}`
    UpdateTeam,
    /// `POST /teams/{team_gid}/addUser`
    AddUserForTeam,
    /// `GET /teams/{team_gid}/project_templates`
    GetProjectTemplatesForTeam,
    /// `GET /teams/{team_gid}/projects`
    GetProjectsForTeam,
    /// `POST /teams/{team_gid}/projects`
    CreateProjectForTeam,
    /// `POST /teams/{team_gid}/removeUser`
    RemoveUserForTeam,
    /// `GET /teams/{team_gid}/team_memberships`
    GetTeamMembershipsForTeam,
    /// `GET /teams/{team_gid}/users`
    GetUsersForTeam,
    /// `GET /time_periods`
    GetTimePeriods,
    /// `GET /time_periods/{time_period_gid}`
    GetTimePeriod,
    /// `GET /time_tracking_entries`
    GetTimeTrackingEntries,
    /// `GET /time_tracking_entries/{time_tracking_entry_gid}`
    GetTimeTrackingEntry,
    /// `PUT /time_tracking_entries/{time_tracking_entry_gid}`
    UpdateTimeTrackingEntry,
    /// `DELETE /time_tracking_entries/{time_tracking_entry_gid}`
    DeleteTimeTrackingEntry,
    /// `GET /user_task_lists/{user_task_list_gid}`
    GetUserTaskList,
    /// `GET /user_task_lists/{user_task_list_gid}/tasks`
    GetTasksForUserTaskList,
    /// `GET /users`
    GetUsers,
    /// `GET /users/{user_gid}`
    GetUser,
    /// `GET /users/{user_gid}/favorites`
    GetFavoritesForUser,
    /// `GET /users/{user_gid}/team_memberships`
    GetTeamMembershipsForUser,
    /// `GET /users/{user_gid}/teams`
    GetTeamsForUser,
    /// `GET /users/{user_gid}/user_task_list`
    GetUserTaskListForUser,
    /// `GET /users/{user_gid}/workspace_memberships`
    GetWorkspaceMembershipsForUser,
    /// `GET /webhooks`
    GetWebhooks,
    /// `POST /webhooks`
    CreateWebhook,
    /// `GET /webhooks/{webhook_gid}`
    GetWebhook,
    /// `PUT /webhooks/{webhook_gid}`
    UpdateWebhook,
    /// `DELETE /webhooks/{webhook_gid}`
    DeleteWebhook,
    /// `GET /workspace_memberships/{workspace_membership_gid}`
    GetWorkspaceMembership,
    /// `GET /workspaces`
    GetWorkspaces,
    /// `GET /workspaces/{workspace_gid}`
    GetWorkspace,
    /// `PUT /workspaces/{workspace_gid}`
    UpdateWorkspace,
    /// `POST /workspaces/{workspace_gid}/addUser`
    AddUserForWorkspace,
    /// `GET /workspaces/{workspace_gid}/custom_fields`
    GetCustomFieldsForWorkspace,
    /// `GET /workspaces/{workspace_gid}/projects`
    GetProjectsForWorkspace,
    /// `POST /workspaces/{workspace_gid}/projects`
    CreateProjectForWorkspace,
    /// `POST /workspaces/{workspace_gid}/removeUser`
    RemoveUserForWorkspace,
    /// `GET /workspaces/{workspace_gid}/tags`
    GetTagsForWorkspace,
    /// `POST /workspaces/{workspace_gid}/tags`
    CreateTagForWorkspace,
    /// `GET /workspaces/{workspace_gid}/tasks/custom_id/{custom_id}`
    GetTaskForCustomID,
    /// `GET /workspaces/{workspace_gid}/tasks/search`
    SearchTasksForWorkspace,
    /// `GET /workspaces/{workspace_gid}/teams`
    GetTeamsForWorkspace,
    /// `GET /workspaces/{workspace_gid}/typeahead`
    TypeaheadForWorkspace,
    /// `GET /workspaces/{workspace_gid}/users`
    GetUsersForWorkspace,
    /// `GET /workspaces/{workspace_gid}/users/{user_gid}`
    GetUserForWorkspace,
    /// `GET /workspaces/{workspace_gid}/workspace_memberships`
    GetWorkspaceMembershipsForWorkspace,
}

impl Op {
    /// Its endpoint.
    pub fn endpoint(self) -> &'static Endpoint {
        &ENDPOINTS[self as usize]
    }
}

/// The operation `method` on the path `segments` (split at `/`, empty ones left out) goes to, and
/// the values of its path params in order; where templates overlap, the one with more literal
/// segments wins (`/users/me` is a user).
pub fn route<'a>(method: Method, segments: &[&'a str]) -> Option<(Op, Vec<&'a str>)> {
    ENDPOINTS
        .iter()
        .filter(|endpoint| endpoint.method == method)
        .filter_map(|endpoint| Some((endpoint, endpoint.matches(segments)?)))
        .min_by_key(|(_, params)| params.len())
        .map(|(endpoint, params)| (endpoint.op, params))
}

/// Every endpoint, in the order of [`Op`].
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        op: Op::GetAttachmentsForObject,
        method: Method::Get,
        path: "/attachments",
        query: &["parent", "opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateAttachmentForObject,
        method: Method::Post,
        path: "/attachments",
        query: &[],
        body: &["parent", "url", "name"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetAttachment,
        method: Method::Get,
        path: "/attachments/{attachment_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteAttachment,
        method: Method::Delete,
        path: "/attachments/{attachment_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateBatchRequest,
        method: Method::Post,
        path: "/batch",
        query: &[],
        body: &["actions"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateCustomField,
        method: Method::Post,
        path: "/custom_fields",
        query: &["opt_fields"],
        body: &[
            "name",
            "enum_options",
            "id_prefix",
            "input_restrictions",
            "is_formula_field",
            "date_value",
            "enum_value",
            "multi_enum_values",
            "number_value",
            "text_value",
            "description",
            "precision",
            "format",
            "currency_code",
            "custom_label",
            "custom_label_position",
            "has_notifications_enabled",
            "workspace",
            "owned_by_app",
            "people_value",
            "reference_value",
            "resource_subtype",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetCustomField,
        method: Method::Get,
        path: "/custom_fields/{custom_field_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateCustomField,
        method: Method::Put,
        path: "/custom_fields/{custom_field_gid}",
        query: &["opt_fields"],
        body: &[
            "name",
            "enum_options",
            "id_prefix",
            "input_restrictions",
            "is_formula_field",
            "date_value",
            "enum_value",
            "multi_enum_values",
            "number_value",
            "text_value",
            "description",
            "precision",
            "format",
            "currency_code",
            "custom_label",
            "custom_label_position",
            "has_notifications_enabled",
            "workspace",
            "owned_by_app",
            "people_value",
            "reference_value",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteCustomField,
        method: Method::Delete,
        path: "/custom_fields/{custom_field_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateEnumOptionForCustomField,
        method: Method::Post,
        path: "/custom_fields/{custom_field_gid}/enum_options",
        query: &["opt_fields"],
        body: &["name", "enabled", "color", "insert_before", "insert_after"],
        exclusive: &[&["insert_before", "insert_after"]],
    },
    Endpoint {
        op: Op::InsertEnumOptionForCustomField,
        method: Method::Post,
        path: "/custom_fields/{custom_field_gid}/enum_options/insert",
        query: &["opt_fields"],
        body: &["enum_option", "before_enum_option", "after_enum_option"],
        exclusive: &[&["before_enum_option", "after_enum_option"]],
    },
    Endpoint {
        op: Op::UpdateEnumOption,
        method: Method::Put,
        path: "/enum_options/{enum_option_gid}",
        query: &["opt_fields"],
        body: &["name", "enabled", "color"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetEvents,
        method: Method::Get,
        path: "/events",
        query: &["resource", "sync", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetGoalRelationships,
        method: Method::Get,
        path: "/goal_relationships",
        query: &[
            "supported_goal",
            "resource_subtype",
            "limit",
            "offset",
            "opt_fields",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetGoalRelationship,
        method: Method::Get,
        path: "/goal_relationships/{goal_relationship_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateGoalRelationship,
        method: Method::Put,
        path: "/goal_relationships/{goal_relationship_gid}",
        query: &["opt_fields"],
        body: &["contribution_weight"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetGoals,
        method: Method::Get,
        path: "/goals",
        query: &[
            "portfolio",
            "project",
            "task",
            "is_workspace_level",
            "team",
            "workspace",
            "time_periods",
            "limit",
            "offset",
            "opt_fields",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateGoal,
        method: Method::Post,
        path: "/goals",
        query: &["opt_fields"],
        body: &[
            "name",
            "html_notes",
            "notes",
            "due_on",
            "start_on",
            "is_workspace_level",
            "liked",
            "team",
            "workspace",
            "time_period",
            "owner",
            "followers",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetGoal,
        method: Method::Get,
        path: "/goals/{goal_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateGoal,
        method: Method::Put,
        path: "/goals/{goal_gid}",
        query: &["opt_fields"],
        body: &[
            "name",
            "html_notes",
            "notes",
            "due_on",
            "start_on",
            "is_workspace_level",
            "liked",
            "team",
            "workspace",
            "time_period",
            "owner",
            "status",
            "custom_fields",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteGoal,
        method: Method::Delete,
        path: "/goals/{goal_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddFollowers,
        method: Method::Post,
        path: "/goals/{goal_gid}/addFollowers",
        query: &["opt_fields"],
        body: &["followers"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddSupportingRelationship,
        method: Method::Post,
        path: "/goals/{goal_gid}/addSupportingRelationship",
        query: &["opt_fields"],
        body: &[
            "supporting_resource",
            "insert_before",
            "insert_after",
            "contribution_weight",
        ],
        exclusive: &[&["insert_before", "insert_after"]],
    },
    Endpoint {
        op: Op::GetParentGoalsForGoal,
        method: Method::Get,
        path: "/goals/{goal_gid}/parentGoals",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveFollowers,
        method: Method::Post,
        path: "/goals/{goal_gid}/removeFollowers",
        query: &["opt_fields"],
        body: &["followers"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveSupportingRelationship,
        method: Method::Post,
        path: "/goals/{goal_gid}/removeSupportingRelationship",
        query: &[],
        body: &["supporting_resource"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateGoalMetric,
        method: Method::Post,
        path: "/goals/{goal_gid}/setMetric",
        query: &["opt_fields"],
        body: &[
            "precision",
            "unit",
            "currency_code",
            "initial_number_value",
            "target_number_value",
            "current_number_value",
            "progress_source",
            "is_custom_weight",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateGoalMetric,
        method: Method::Post,
        path: "/goals/{goal_gid}/setMetricCurrentValue",
        query: &["opt_fields"],
        body: &["current_number_value"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetJob,
        method: Method::Get,
        path: "/jobs/{job_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetMemberships,
        method: Method::Get,
        path: "/memberships",
        query: &[
            "parent",
            "member",
            "resource_subtype",
            "limit",
            "offset",
            "opt_fields",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateMembership,
        method: Method::Post,
        path: "/memberships",
        query: &[],
        body: &["access_level", "member", "parent", "role"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetMembership,
        method: Method::Get,
        path: "/memberships/{membership_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateMembership,
        method: Method::Put,
        path: "/memberships/{membership_gid}",
        query: &[],
        body: &["access_level"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteMembership,
        method: Method::Delete,
        path: "/memberships/{membership_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetPortfolios,
        method: Method::Get,
        path: "/portfolios",
        query: &["workspace", "owner", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreatePortfolio,
        method: Method::Post,
        path: "/portfolios",
        query: &["opt_fields"],
        body: &[
            "name",
            "archived",
            "color",
            "start_on",
            "due_on",
            "default_access_level",
            "workspace",
            "public",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetPortfolio,
        method: Method::Get,
        path: "/portfolios/{portfolio_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdatePortfolio,
        method: Method::Put,
        path: "/portfolios/{portfolio_gid}",
        query: &["opt_fields"],
        body: &[
            "name",
            "archived",
            "color",
            "start_on",
            "due_on",
            "default_access_level",
            "custom_fields",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeletePortfolio,
        method: Method::Delete,
        path: "/portfolios/{portfolio_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddCustomFieldSettingForPortfolio,
        method: Method::Post,
        path: "/portfolios/{portfolio_gid}/addCustomFieldSetting",
        query: &[],
        body: &[
            "custom_field",
            "is_important",
            "insert_before",
            "insert_after",
        ],
        exclusive: &[&["insert_before", "insert_after"]],
    },
    Endpoint {
        op: Op::AddItemForPortfolio,
        method: Method::Post,
        path: "/portfolios/{portfolio_gid}/addItem",
        query: &[],
        body: &["item", "insert_before", "insert_after"],
        exclusive: &[&["insert_before", "insert_after"]],
    },
    Endpoint {
        op: Op::AddMembersForPortfolio,
        method: Method::Post,
        path: "/portfolios/{portfolio_gid}/addMembers",
        query: &["opt_fields"],
        body: &["members"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetCustomFieldSettingsForPortfolio,
        method: Method::Get,
        path: "/portfolios/{portfolio_gid}/custom_field_settings",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetItemsForPortfolio,
        method: Method::Get,
        path: "/portfolios/{portfolio_gid}/items",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetPortfolioMembershipsForPortfolio,
        method: Method::Get,
        path: "/portfolios/{portfolio_gid}/portfolio_memberships",
        query: &["user", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveCustomFieldSettingForPortfolio,
        method: Method::Post,
        path: "/portfolios/{portfolio_gid}/removeCustomFieldSetting",
        query: &[],
        body: &["custom_field"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveItemForPortfolio,
        method: Method::Post,
        path: "/portfolios/{portfolio_gid}/removeItem",
        query: &[],
        body: &["item"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveMembersForPortfolio,
        method: Method::Post,
        path: "/portfolios/{portfolio_gid}/removeMembers",
        query: &["opt_fields"],
        body: &["members"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectMembership,
        method: Method::Get,
        path: "/project_memberships/{project_membership_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectTemplates,
        method: Method::Get,
        path: "/project_templates",
        query: &["workspace", "team", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectTemplate,
        method: Method::Get,
        path: "/project_templates/{project_template_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteProjectTemplate,
        method: Method::Delete,
        path: "/project_templates/{project_template_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::InstantiateProject,
        method: Method::Post,
        path: "/project_templates/{project_template_gid}/instantiateProject",
        query: &["opt_fields"],
        body: &[
            "name",
            "team",
            "public",
            "privacy_setting",
            "is_strict",
            "requested_dates",
            "requested_roles",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjects,
        method: Method::Get,
        path: "/projects",
        query: &[
            "workspace",
            "team",
            "archived",
            "opt_fields",
            "limit",
            "offset",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateProject,
        method: Method::Post,
        path: "/projects",
        query: &[],
        body: &[
            "name",
            "workspace",
            "team",
            "notes",
            "color",
            "due_on",
            "start_on",
            "default_view",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProject,
        method: Method::Get,
        path: "/projects/{project_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateProject,
        method: Method::Put,
        path: "/projects/{project_gid}",
        query: &[],
        body: &[
            "name",
            "notes",
            "color",
            "due_on",
            "start_on",
            "archived",
            "default_view",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteProject,
        method: Method::Delete,
        path: "/projects/{project_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddCustomFieldSettingForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/addCustomFieldSetting",
        query: &["opt_fields"],
        body: &[
            "custom_field",
            "is_important",
            "insert_before",
            "insert_after",
        ],
        exclusive: &[&["insert_before", "insert_after"]],
    },
    Endpoint {
        op: Op::AddFollowersForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/addFollowers",
        query: &["opt_fields"],
        body: &["followers"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddMembersForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/addMembers",
        query: &["opt_fields"],
        body: &["members"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetCustomFieldSettingsForProject,
        method: Method::Get,
        path: "/projects/{project_gid}/custom_field_settings",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DuplicateProject,
        method: Method::Post,
        path: "/projects/{project_gid}/duplicate",
        query: &["opt_fields"],
        body: &["name", "include", "schedule_dates"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectMembershipsForProject,
        method: Method::Get,
        path: "/projects/{project_gid}/project_memberships",
        query: &["user", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectStatusesForProject,
        method: Method::Get,
        path: "/projects/{project_gid}/project_statuses",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveCustomFieldSettingForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/removeCustomFieldSetting",
        query: &[],
        body: &["custom_field"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveFollowersForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/removeFollowers",
        query: &["opt_fields"],
        body: &["followers"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveMembersForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/removeMembers",
        query: &["opt_fields"],
        body: &["members"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::ProjectSaveAsTemplate,
        method: Method::Post,
        path: "/projects/{project_gid}/saveAsTemplate",
        query: &["opt_fields"],
        body: &["name", "team", "workspace", "public"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetSectionsForProject,
        method: Method::Get,
        path: "/projects/{project_gid}/sections",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateSectionForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/sections",
        query: &[],
        body: &["name", "insert_before", "insert_after"],
        exclusive: &[&["insert_before", "insert_after"]],
    },
    Endpoint {
        op: Op::InsertSectionForProject,
        method: Method::Post,
        path: "/projects/{project_gid}/sections/insert",
        query: &[],
        body: &["section", "before_section", "after_section"],
        exclusive: &[&["before_section", "after_section"]],
    },
    Endpoint {
        op: Op::GetTaskCountsForProject,
        method: Method::Get,
        path: "/projects/{project_gid}/task_counts",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTasksForProject,
        method: Method::Get,
        path: "/projects/{project_gid}/tasks",
        query: &["completed_since", "opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetSection,
        method: Method::Get,
        path: "/sections/{section_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateSection,
        method: Method::Put,
        path: "/sections/{section_gid}",
        query: &["opt_fields"],
        body: &["name"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteSection,
        method: Method::Delete,
        path: "/sections/{section_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddTaskForSection,
        method: Method::Post,
        path: "/sections/{section_gid}/addTask",
        query: &[],
        body: &["task", "insert_before", "insert_after"],
        exclusive: &[&["insert_before", "insert_after"]],
    },
    Endpoint {
        op: Op::GetTasksForSection,
        method: Method::Get,
        path: "/sections/{section_gid}/tasks",
        query: &["completed_since", "opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetStatusesForObject,
        method: Method::Get,
        path: "/status_updates",
        query: &["parent", "created_since", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateStatusForObject,
        method: Method::Post,
        path: "/status_updates",
        query: &["limit", "offset", "opt_fields"],
        body: &["title", "text", "html_text", "status_type", "parent"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetStatus,
        method: Method::Get,
        path: "/status_updates/{status_update_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteStatus,
        method: Method::Delete,
        path: "/status_updates/{status_update_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetStory,
        method: Method::Get,
        path: "/stories/{story_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateStory,
        method: Method::Put,
        path: "/stories/{story_gid}",
        query: &["opt_fields"],
        body: &["text", "html_text", "is_pinned", "sticker_name"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteStory,
        method: Method::Delete,
        path: "/stories/{story_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTags,
        method: Method::Get,
        path: "/tags",
        query: &["workspace", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateTag,
        method: Method::Post,
        path: "/tags",
        query: &["opt_fields"],
        body: &["name", "color", "notes", "followers", "workspace"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTag,
        method: Method::Get,
        path: "/tags/{tag_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateTag,
        method: Method::Put,
        path: "/tags/{tag_gid}",
        query: &[],
        body: &["name", "color", "notes"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteTag,
        method: Method::Delete,
        path: "/tags/{tag_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTasksForTag,
        method: Method::Get,
        path: "/tags/{tag_gid}/tasks",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTasks,
        method: Method::Get,
        path: "/tasks",
        query: &[
            "project",
            "section",
            "assignee",
            "workspace",
            "completed_since",
            "modified_since",
            "opt_fields",
            "limit",
            "offset",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateTask,
        method: Method::Post,
        path: "/tasks",
        query: &[],
        body: &[
            "name",
            "notes",
            "html_notes",
            "assignee",
            "due_on",
            "due_at",
            "start_on",
            "completed",
            "custom_fields",
            "start_at",
            "resource_subtype",
            "approval_status",
            "workspace",
            "projects",
            "parent",
            "tags",
            "followers",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTask,
        method: Method::Get,
        path: "/tasks/{task_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateTask,
        method: Method::Put,
        path: "/tasks/{task_gid}",
        query: &["opt_fields"],
        body: &[
            "name",
            "notes",
            "html_notes",
            "assignee",
            "due_on",
            "due_at",
            "start_on",
            "completed",
            "custom_fields",
            "start_at",
            "resource_subtype",
            "approval_status",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteTask,
        method: Method::Delete,
        path: "/tasks/{task_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddDependenciesForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/addDependencies",
        query: &[],
        body: &["dependencies"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddDependentsForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/addDependents",
        query: &[],
        body: &["dependents"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddFollowersForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/addFollowers",
        query: &["opt_fields"],
        body: &["followers"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddProjectForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/addProject",
        query: &[],
        body: &["project", "insert_after", "insert_before", "section"],
        // `section` combines with either, placing the task within the section.
        exclusive: &[&["insert_after", "insert_before"]],
    },
    Endpoint {
        op: Op::AddTagForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/addTag",
        query: &[],
        body: &["tag"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetDependenciesForTask,
        method: Method::Get,
        path: "/tasks/{task_gid}/dependencies",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetDependentsForTask,
        method: Method::Get,
        path: "/tasks/{task_gid}/dependents",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DuplicateTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/duplicate",
        query: &["opt_fields"],
        body: &["name", "include"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectsForTask,
        method: Method::Get,
        path: "/tasks/{task_gid}/projects",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveDependenciesForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/removeDependencies",
        query: &[],
        body: &["dependencies"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveDependentsForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/removeDependents",
        query: &[],
        body: &["dependents"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveFollowerForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/removeFollowers",
        query: &["opt_fields"],
        body: &["followers"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveProjectForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/removeProject",
        query: &[],
        body: &["project"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveTagForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/removeTag",
        query: &[],
        body: &["tag"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::SetParentForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/setParent",
        query: &["opt_fields"],
        body: &["parent", "insert_after", "insert_before"],
        exclusive: &[&["insert_after", "insert_before"]],
    },
    Endpoint {
        op: Op::GetStoriesForTask,
        method: Method::Get,
        path: "/tasks/{task_gid}/stories",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateStoryForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/stories",
        query: &[],
        body: &["text", "html_text", "is_pinned"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetSubtasksForTask,
        method: Method::Get,
        path: "/tasks/{task_gid}/subtasks",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateSubtaskForTask,
        method: Method::Post,
        path: "/tasks/{task_gid}/subtasks",
        query: &["opt_fields"],
        body: &[
            "name",
            "resource_subtype",
            "approval_status",
            "assignee_status",
            "completed",
            "due_at",
            "due_on",
            "external",
            "html_notes",
            "liked",
            "notes",
            "start_at",
            "start_on",
            "assignee",
            "assignee_section",
            "custom_fields",
            "parent",
            "followers",
            "projects",
            "tags",
            "workspace",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTagsForTask,
        method: Method::Get,
        path: "/tasks/{task_gid}/tags",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTimeTrackingEntriesForTask,
        method: Method::Get,
        path: "/tasks/{task_gid}/time_tracking_entries",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateTimeTrackingEntry,
        method: Method::Post,
        path: "/tasks/{task_gid}/time_tracking_entries",
        query: &["opt_fields"],
        body: &[
            "duration_minutes",
            "entered_on",
            "attributable_to",
            "billable_status",
            "description",
            "categories",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTeamMemberships,
        method: Method::Get,
        path: "/team_memberships",
        query: &["team", "user", "workspace", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTeamMembership,
        method: Method::Get,
        path: "/team_memberships/{team_membership_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateTeam,
        method: Method::Post,
        path: "/teams",
        query: &["opt_fields"],
        body: &[
            "name",
            "description",
            "html_description",
            "organization",
            "visibility",
            "edit_team_name_or_description_access_level",
            "edit_team_visibility_or_trash_team_access_level",
            "member_invite_management_access_level",
            "guest_invite_management_access_level",
            "join_request_management_access_level",
            "team_member_removal_access_level",
            "team_content_management_access_level",
            "endorsed",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTeam,
        method: Method::Get,
        path: "/teams/{team_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateTeam,
        method: Method::Put,
        path: "/teams/{team_gid}",
        query: &["opt_fields"],
        body: &[
            "name",
            "description",
            "html_description",
            "organization",
            "visibility",
            "edit_team_name_or_description_access_level",
            "edit_team_visibility_or_trash_team_access_level",
            "member_invite_management_access_level",
            "guest_invite_management_access_level",
            "join_request_management_access_level",
            "team_member_removal_access_level",
            "team_content_management_access_level",
            "endorsed",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddUserForTeam,
        method: Method::Post,
        path: "/teams/{team_gid}/addUser",
        query: &["opt_fields"],
        body: &["user"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectTemplatesForTeam,
        method: Method::Get,
        path: "/teams/{team_gid}/project_templates",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectsForTeam,
        method: Method::Get,
        path: "/teams/{team_gid}/projects",
        query: &["archived", "opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateProjectForTeam,
        method: Method::Post,
        path: "/teams/{team_gid}/projects",
        query: &["opt_fields"],
        body: &[
            "name",
            "archived",
            "color",
            "icon",
            "current_status",
            "current_status_update",
            "default_view",
            "due_date",
            "due_on",
            "html_notes",
            "notes",
            "public",
            "privacy_setting",
            "start_on",
            "default_access_level",
            "minimum_access_level_for_customization",
            "minimum_access_level_for_sharing",
            "custom_fields",
            "followers",
            "owner",
            "team",
            "workspace",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveUserForTeam,
        method: Method::Post,
        path: "/teams/{team_gid}/removeUser",
        query: &[],
        body: &["user"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTeamMembershipsForTeam,
        method: Method::Get,
        path: "/teams/{team_gid}/team_memberships",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetUsersForTeam,
        method: Method::Get,
        path: "/teams/{team_gid}/users",
        query: &["opt_fields", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTimePeriods,
        method: Method::Get,
        path: "/time_periods",
        query: &[
            "start_on",
            "end_on",
            "workspace",
            "limit",
            "offset",
            "opt_fields",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTimePeriod,
        method: Method::Get,
        path: "/time_periods/{time_period_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTimeTrackingEntries,
        method: Method::Get,
        path: "/time_tracking_entries",
        query: &[
            "task",
            "attributable_to",
            "portfolio",
            "user",
            "workspace",
            "entered_on_start_date",
            "entered_on_end_date",
            "timesheet_approval_status",
            "limit",
            "offset",
            "opt_fields",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTimeTrackingEntry,
        method: Method::Get,
        path: "/time_tracking_entries/{time_tracking_entry_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateTimeTrackingEntry,
        method: Method::Put,
        path: "/time_tracking_entries/{time_tracking_entry_gid}",
        query: &["opt_fields"],
        body: &[
            "duration_minutes",
            "entered_on",
            "attributable_to",
            "billable_status",
            "description",
            "categories",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteTimeTrackingEntry,
        method: Method::Delete,
        path: "/time_tracking_entries/{time_tracking_entry_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetUserTaskList,
        method: Method::Get,
        path: "/user_task_lists/{user_task_list_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTasksForUserTaskList,
        method: Method::Get,
        path: "/user_task_lists/{user_task_list_gid}/tasks",
        query: &["completed_since", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetUsers,
        method: Method::Get,
        path: "/users",
        query: &["workspace", "team", "opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetUser,
        method: Method::Get,
        path: "/users/{user_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetFavoritesForUser,
        method: Method::Get,
        path: "/users/{user_gid}/favorites",
        query: &[
            "resource_type",
            "workspace",
            "limit",
            "offset",
            "opt_fields",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTeamMembershipsForUser,
        method: Method::Get,
        path: "/users/{user_gid}/team_memberships",
        query: &["workspace", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTeamsForUser,
        method: Method::Get,
        path: "/users/{user_gid}/teams",
        query: &["organization", "opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetUserTaskListForUser,
        method: Method::Get,
        path: "/users/{user_gid}/user_task_list",
        query: &["workspace", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetWorkspaceMembershipsForUser,
        method: Method::Get,
        path: "/users/{user_gid}/workspace_memberships",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetWebhooks,
        method: Method::Get,
        path: "/webhooks",
        query: &["workspace", "resource", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateWebhook,
        method: Method::Post,
        path: "/webhooks",
        query: &["opt_fields"],
        body: &["resource", "target", "filters"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetWebhook,
        method: Method::Get,
        path: "/webhooks/{webhook_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateWebhook,
        method: Method::Put,
        path: "/webhooks/{webhook_gid}",
        query: &["opt_fields"],
        body: &["filters"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::DeleteWebhook,
        method: Method::Delete,
        path: "/webhooks/{webhook_gid}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetWorkspaceMembership,
        method: Method::Get,
        path: "/workspace_memberships/{workspace_membership_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetWorkspaces,
        method: Method::Get,
        path: "/workspaces",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::UpdateWorkspace,
        method: Method::Put,
        path: "/workspaces/{workspace_gid}",
        query: &["opt_fields"],
        body: &["name"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::AddUserForWorkspace,
        method: Method::Post,
        path: "/workspaces/{workspace_gid}/addUser",
        query: &[],
        body: &["user"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetCustomFieldsForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/custom_fields",
        query: &["limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetProjectsForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/projects",
        query: &["archived", "opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateProjectForWorkspace,
        method: Method::Post,
        path: "/workspaces/{workspace_gid}/projects",
        query: &["opt_fields"],
        body: &[
            "name",
            "archived",
            "color",
            "icon",
            "current_status",
            "current_status_update",
            "default_view",
            "due_date",
            "due_on",
            "html_notes",
            "notes",
            "public",
            "privacy_setting",
            "start_on",
            "default_access_level",
            "minimum_access_level_for_customization",
            "minimum_access_level_for_sharing",
            "custom_fields",
            "followers",
            "owner",
            "team",
            "workspace",
        ],
        exclusive: &[],
    },
    Endpoint {
        op: Op::RemoveUserForWorkspace,
        method: Method::Post,
        path: "/workspaces/{workspace_gid}/removeUser",
        query: &[],
        body: &["user"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTagsForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/tags",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::CreateTagForWorkspace,
        method: Method::Post,
        path: "/workspaces/{workspace_gid}/tags",
        query: &[],
        body: &["name", "color", "notes"],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTaskForCustomID,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/tasks/custom_id/{custom_id}",
        query: &[],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::SearchTasksForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/tasks/search",
        query: &[
            "text",
            "assignee.any",
            "projects.any",
            "sections.any",
            "tags.any",
            "teams.any",
            "followers.any",
            "created_at.after",
            "created_at.before",
            "modified_at.after",
            "modified_at.before",
            "due_on.after",
            "due_on.before",
            "resource_subtype",
            "completed",
            "sort_by",
            "sort_ascending",
            "opt_fields",
            "limit",
        ],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetTeamsForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/teams",
        query: &["opt_fields", "limit", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::TypeaheadForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/typeahead",
        query: &["resource_type", "type", "query", "count", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetUsersForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/users",
        query: &["opt_fields", "offset"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetUserForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/users/{user_gid}",
        query: &["opt_fields"],
        body: &[],
        exclusive: &[],
    },
    Endpoint {
        op: Op::GetWorkspaceMembershipsForWorkspace,
        method: Method::Get,
        path: "/workspaces/{workspace_gid}/workspace_memberships",
        query: &["user", "limit", "offset", "opt_fields"],
        body: &[],
        exclusive: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_op_order_and_each_endpoint_routes_to_itself() {
        for (i, endpoint) in ENDPOINTS.iter().enumerate() {
            assert_eq!(endpoint.op as usize, i, "{:?} out of order", endpoint.op);
            let segments: Vec<&str> = endpoint
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| if s.starts_with('{') { "123" } else { s })
                .collect();
            let (op, params) = route(endpoint.method, &segments).unwrap();
            assert_eq!(op, endpoint.op, "{}", endpoint.path);
            assert_eq!(params.len(), endpoint.path_params().count());
        }
    }

    #[test]
    fn exclusive_fields_are_body_fields() {
        for endpoint in ENDPOINTS {
            for name in endpoint.exclusive.iter().flat_map(|group| group.iter()) {
                assert!(endpoint.body.contains(name), "{}: {name}", endpoint.path);
            }
        }
    }

    #[test]
    fn every_endpoint_that_takes_both_insert_fields_takes_one_at_most() {
        for endpoint in ENDPOINTS {
            let takes = |name| endpoint.body.contains(&name);
            if !(takes("insert_before") && takes("insert_after")) {
                continue;
            }
            assert!(
                endpoint.exclusive.iter().any(|group| {
                    group.contains(&"insert_before") && group.contains(&"insert_after")
                }),
                "{}",
                endpoint.path
            );
        }
    }

    #[test]
    fn a_task_goes_into_a_project_by_one_anchor_at_most_and_a_section_with_it() {
        let add_project = Op::AddProjectForTask.endpoint();
        assert_eq!(
            add_project.exclusive,
            &[&["insert_after", "insert_before"][..]]
        );
    }

    #[test]
    fn methods_parse_as_sent() {
        for method in [Method::Get, Method::Post, Method::Put, Method::Delete] {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
        assert_eq!(Method::parse("get"), None);
    }

    #[test]
    fn unknown_paths_route_nowhere() {
        assert!(route(Method::Get, &["nothing"]).is_none());
        assert!(route(Method::Get, &[]).is_none());
        assert_eq!(route(Method::Get, &["users", "me"]).unwrap().0, Op::GetUser);
    }
}
