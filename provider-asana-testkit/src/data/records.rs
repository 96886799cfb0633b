//! The objects kept as generic records: custom fields and their enum options and settings,
//! status updates, goals and their relationships, portfolios, time tracking entries, user task
//! lists, memberships, project templates, jobs, webhooks and time periods; and their seed.

use serde_json::{Map, Value, json};

use super::{Data, Gid, SEED_CREATED_AT, g, into_map};
use crate::seed;

/// An object the mock stores as JSON: its `resource_type` and its fields. Fields whose names
/// start with `_` are the mock's own bookkeeping and never shown.
pub(crate) struct Record {
    pub kind: &'static str,
    pub fields: Map<String, Value>,
}

/// Whether a record field is bookkeeping, hidden from answers.
pub(crate) fn hidden(field: &str) -> bool {
    field.starts_with('_')
}

impl Data {
    /// A reference to any object: `{gid, name?, resource_type}`, as Asana nests them.
    pub fn reference_of(&self, gid: Gid, origin: &str) -> Option<Value> {
        let full = self.any_json(gid, origin)?;
        let mut reference = Map::new();
        for key in ["gid", "name", "resource_type", "resource_subtype"] {
            if let Some(value) = full.get(key) {
                reference.insert(key.into(), value.clone());
            }
        }
        Some(Value::Object(reference))
    }

    /// The full representation of a record, without its bookkeeping; a custom field lists its
    /// enum options in their order.
    pub fn record_json(&self, gid: Gid) -> Option<Map<String, Value>> {
        let record = self.records.get(&gid)?;
        let mut json = Map::new();
        json.insert("gid".into(), Value::String(gid.to_string()));
        json.insert("resource_type".into(), Value::String(record.kind.into()));
        for (key, value) in &record.fields {
            if !hidden(key) {
                json.insert(key.clone(), value.clone());
            }
        }
        if record.kind == "custom_field" {
            let options: Vec<Value> = self
                .enum_options(gid)
                .into_iter()
                .filter_map(|option| self.record_json(option).map(Value::Object))
                .collect();
            json.insert("enum_options".into(), Value::Array(options));
        }
        Some(json)
    }

    /// The enum options of a custom field, in their order.
    pub fn enum_options(&self, custom_field: Gid) -> Vec<Gid> {
        let field = custom_field.to_string();
        let mut options: Vec<(f64, Gid)> = self
            .records
            .iter()
            .filter(|(_, r)| {
                r.kind == "enum_option"
                    && r.fields.get("_custom_field").and_then(Value::as_str) == Some(field.as_str())
            })
            .map(|(gid, r)| {
                let rank = r.fields.get("_rank").and_then(Value::as_f64);
                (rank.unwrap_or_default(), *gid)
            })
            .collect();
        options.sort_by(|a, b| a.0.total_cmp(&b.0));
        options.into_iter().map(|(_, gid)| gid).collect()
    }

    /// Stores a record under `gid`.
    pub fn insert_record(&mut self, gid: Gid, kind: &'static str, fields: Value) {
        self.records.insert(
            gid,
            Record {
                kind,
                fields: into_map(fields),
            },
        );
    }

    /// The user joins the workspace, with a workspace membership.
    pub fn join_workspace(&mut self, user: Gid, workspace: Gid) {
        let Some(member) = self.users.get_mut(&user) else {
            return;
        };
        if member.workspaces.contains(&workspace) {
            return;
        }
        member.workspaces.push(workspace);
        let gid = self.next_gid();
        self.insert_membership(gid, "workspace_membership", user, workspace);
    }

    /// A team or workspace membership record of `user` in `group`.
    pub fn insert_membership(&mut self, gid: Gid, kind: &'static str, user: Gid, group: Gid) {
        let mut fields = json!({
            "user": self.user_ref(user),
            "is_guest": false,
            "is_admin": false,
            "is_active": true,
            "created_at": SEED_CREATED_AT,
        });
        if kind == "team_membership" {
            fields["team"] = self.team_ref(group);
            let workspace = self.teams.get(&group).map(|t| t.workspace.to_string());
            fields["_workspace"] = workspace.map_or(Value::Null, Value::String);
        } else {
            fields["workspace"] = self.workspace_ref(group);
        }
        self.insert_record(gid, kind, fields);
    }

    /// A copy of the seeded record `source` under `gid`, with `changes`.
    fn seed_copy(&mut self, source: &str, gid: Gid, changes: Value) {
        let Some(record) = self.records.get(&g(source)) else {
            return;
        };
        let kind = record.kind;
        let mut fields = record.fields.clone();
        fields.extend(into_map(changes));
        self.records.insert(gid, Record { kind, fields });
    }

    /// The second record of the kinds the seed has one of, so that their lists page: gids from
    /// [`seed::SECOND_RECORDS_FROM`].
    fn seed_seconds(&mut self) {
        let first = g(seed::SECOND_RECORDS_FROM);
        let ada = self.user_ref(g(seed::ADA_GID));
        let effort = first + 7;
        let effort_ref = json!({"gid": effort.to_string(), "name": "Effort", "resource_type": "custom_field", "resource_subtype": "number"});
        let copies = [
            (
                seed::STATUS_UPDATE_GID,
                json!({"title": "Week 2", "status_type": "at_risk"}),
            ),
            (
                seed::TIME_TRACKING_ENTRY_GID,
                json!({"duration_minutes": 30, "created_by": ada}),
            ),
            (
                seed::PROJECT_TEMPLATE_GID,
                json!({"name": "Retro template"}),
            ),
            (
                seed::WEBHOOK_GID,
                json!({"target": "https://example.com/second-hook"}),
            ),
            (
                seed::TIME_PERIOD_GID,
                json!({"display_name": "Q4 FY26", "period": "Q4", "start_on": "2026-10-01", "end_on": "2026-12-31"}),
            ),
            (
                seed::PORTFOLIO_GID,
                json!({"name": "Q4 launches", "_items": []}),
            ),
            (
                seed::PROJECT_MEMBERSHIP_GID,
                json!({"member": ada, "user": ada, "access_level": "editor"}),
            ),
            (
                seed::CUSTOM_FIELD_GID,
                json!({"name": "Effort", "resource_subtype": "number", "type": "number", "precision": 0}),
            ),
            (
                seed::PROJECT_CUSTOM_FIELD_SETTING_GID,
                json!({"custom_field": effort_ref}),
            ),
            (
                seed::PORTFOLIO_CUSTOM_FIELD_SETTING_GID,
                json!({"custom_field": effort_ref}),
            ),
            (
                seed::PORTFOLIO_MEMBERSHIP_GID,
                json!({"member": ada, "user": ada, "access_level": "editor"}),
            ),
            (
                seed::GOAL_RELATIONSHIP_GID,
                json!({"resource_subtype": "project", "supporting_resource": self.project_ref(g(seed::LAUNCH_PROJECT_GID))}),
            ),
        ];
        for (gid, (source, changes)) in (first..).zip(copies) {
            self.seed_copy(source, gid, changes);
        }
    }

    /// The records of the seed (see [`seed`]).
    pub(super) fn seed_records(&mut self) {
        let me = g(seed::ME_GID);
        let acme = self.workspace_ref(g(seed::WORKSPACE_GID));
        let marketing = self.team_ref(g(seed::MARKETING_TEAM_GID));
        let launch = self.project_ref(g(seed::LAUNCH_PROJECT_GID));
        let greg = self.user_ref(me);
        let mut team_membership = g(seed::TEAM_MEMBERSHIP_GID);
        let teams: Vec<(Gid, Vec<Gid>)> = self
            .teams
            .iter()
            .map(|(gid, t)| (*gid, t.members.clone()))
            .collect();
        for (team, members) in teams {
            for user in members {
                self.insert_membership(team_membership, "team_membership", user, team);
                team_membership += 1;
            }
        }
        let mut workspace_membership = g(seed::WORKSPACE_MEMBERSHIP_GID);
        let users: Vec<(Gid, Vec<Gid>)> = self
            .users
            .iter()
            .map(|(gid, u)| (*gid, u.workspaces.clone()))
            .collect();
        for (user, workspaces) in users {
            for workspace in workspaces {
                self.insert_membership(
                    workspace_membership,
                    "workspace_membership",
                    user,
                    workspace,
                );
                workspace_membership += 1;
            }
        }
        let priority = g(seed::CUSTOM_FIELD_GID);
        self.insert_record(
            priority,
            "custom_field",
            json!({
                "name": "Priority",
                "resource_subtype": "enum",
                "type": "enum",
                "description": "How urgent the work is",
                "workspace": acme,
                "created_by": greg,
                "created_at": SEED_CREATED_AT,
            }),
        );
        for (i, (gid, name, color)) in [
            (seed::ENUM_OPTION_GIDS[0], "High", "red"),
            (seed::ENUM_OPTION_GIDS[1], "Low", "green"),
        ]
        .into_iter()
        .enumerate()
        {
            self.insert_record(
                g(gid),
                "enum_option",
                json!({
                    "name": name,
                    "color": color,
                    "enabled": true,
                    "_custom_field": seed::CUSTOM_FIELD_GID,
                    "_rank": i,
                }),
            );
        }
        let priority_ref = json!({"gid": seed::CUSTOM_FIELD_GID, "name": "Priority", "resource_type": "custom_field", "resource_subtype": "enum"});
        let portfolio = json!({"gid": seed::PORTFOLIO_GID, "name": "Q3 launches", "resource_type": "portfolio"});
        for (gid, parent) in [
            (seed::PROJECT_CUSTOM_FIELD_SETTING_GID, &launch),
            (seed::PORTFOLIO_CUSTOM_FIELD_SETTING_GID, &portfolio),
        ] {
            self.insert_record(
                g(gid),
                "custom_field_setting",
                json!({"custom_field": priority_ref, "parent": parent, "is_important": true}),
            );
        }
        self.insert_record(
            g(seed::PORTFOLIO_GID),
            "portfolio",
            json!({
                "name": "Q3 launches",
                "color": "light-green",
                "workspace": acme,
                "owner": greg,
                "public": false,
                "archived": false,
                "created_at": SEED_CREATED_AT,
                "_items": [seed::LAUNCH_PROJECT_GID, seed::BACKLOG_PROJECT_GID],
            }),
        );
        for (gid, parent, subtype) in [
            (
                seed::PORTFOLIO_MEMBERSHIP_GID,
                &portfolio,
                "portfolio_membership",
            ),
            (seed::PROJECT_MEMBERSHIP_GID, &launch, "project_membership"),
        ] {
            self.insert_record(
                g(gid),
                "membership",
                json!({"resource_subtype": subtype, "parent": parent, "member": greg, "access_level": "admin", "user": greg}),
            );
        }
        let period = json!({"gid": seed::TIME_PERIOD_GID, "display_name": "Q3 FY26", "resource_type": "time_period"});
        self.insert_record(
            g(seed::TIME_PERIOD_GID),
            "time_period",
            json!({"display_name": "Q3 FY26", "period": "Q3", "start_on": "2026-07-01", "end_on": "2026-09-30", "_workspace": seed::WORKSPACE_GID}),
        );
        let metric = json!({
            "resource_type": "goal_metric",
            "resource_subtype": "number",
            "unit": "none",
            "precision": 0,
            "initial_number_value": 0,
            "target_number_value": 10,
            "current_number_value": 3,
            "progress_source": "manual",
        });
        for (gid, name, metric) in [
            (seed::GOAL_GID, "Ship the launch", metric),
            (seed::SUPPORTING_GOAL_GID, "Book the venue", Value::Null),
        ] {
            self.insert_record(
                g(gid),
                "goal",
                json!({
                    "name": name,
                    "notes": "",
                    "workspace": acme,
                    "team": marketing,
                    "owner": greg,
                    "time_period": period,
                    "is_workspace_level": false,
                    "followers": [greg],
                    "metric": metric,
                    "created_at": SEED_CREATED_AT,
                }),
            );
        }
        self.insert_record(
            g(seed::GOAL_RELATIONSHIP_GID),
            "goal_relationship",
            json!({
                "resource_subtype": "subgoal",
                "supported_goal": {"gid": seed::GOAL_GID, "name": "Ship the launch", "resource_type": "goal"},
                "supporting_resource": {"gid": seed::SUPPORTING_GOAL_GID, "name": "Book the venue", "resource_type": "goal"},
                "contribution_weight": 1,
            }),
        );
        self.insert_record(
            g(seed::STATUS_UPDATE_GID),
            "status_update",
            json!({
                "title": "Week 1",
                "text": "On track for June 1.",
                "html_text": "<body>On track for June 1.</body>",
                "status_type": "on_track",
                "resource_subtype": "project_status_update",
                "parent": launch,
                "author": greg,
                "created_by": greg,
                "created_at": SEED_CREATED_AT,
            }),
        );
        self.insert_record(
            g(seed::TIME_TRACKING_ENTRY_GID),
            "time_tracking_entry",
            json!({
                "duration_minutes": 60,
                "entered_on": "2024-01-15",
                "description": "Drafting",
                "billable_status": "billable",
                "task": self.task_ref(g(seed::DRAFT_TASK_GID)),
                "attributable_to": launch,
                "created_by": greg,
                "created_at": SEED_CREATED_AT,
            }),
        );
        for (gid, user) in [
            (seed::USER_TASK_LIST_GID, seed::ME_GID),
            (seed::ADA_USER_TASK_LIST_GID, seed::ADA_GID),
        ] {
            self.insert_record(
                g(gid),
                "user_task_list",
                json!({"name": "My Tasks", "owner": self.user_ref(g(user)), "workspace": acme}),
            );
        }
        self.insert_record(
            g(seed::PROJECT_TEMPLATE_GID),
            "project_template",
            json!({
                "name": "Launch template",
                "description": "A launch, step by step",
                "public": false,
                "owner": greg,
                "team": marketing,
                "_workspace": seed::WORKSPACE_GID,
                "requested_dates": [],
                "requested_roles": [],
            }),
        );
        self.insert_record(
            g(seed::JOB_GID),
            "job",
            json!({"resource_subtype": "duplicate_project", "status": "succeeded", "new_project": launch, "new_task": null, "new_project_template": null}),
        );
        self.insert_record(
            g(seed::WEBHOOK_GID),
            "webhook",
            json!({
                "active": true,
                "resource": launch,
                "target": "https://example.com/asana-hook",
                "filters": [],
                "created_at": SEED_CREATED_AT,
                "_workspace": seed::WORKSPACE_GID,
            }),
        );
        self.seed_seconds();
        self.custom_ids
            .insert("LAUNCH-1".into(), g(seed::DRAFT_TASK_GID));
        self.favorites.push((me, g(seed::LAUNCH_PROJECT_GID)));
    }
}
