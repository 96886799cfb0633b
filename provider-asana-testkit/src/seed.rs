//! The gids of the objects every [`MockAsana`](super::MockAsana) starts with.
//!
//! The seed is deterministic: the same builder settings always give the same objects with the same
//! gids, so tests can name them directly.
//!
//! | object | gid constant | notes |
//! | --- | --- | --- |
//! | user "Greg Sanchez" | [`ME_GID`] | the user every token acts as (`/users/me`) |
//! | user "Ada Lovelace" | [`ADA_GID`] | a second member of [`WORKSPACE_GID`] |
//! | workspace "Acme Corp" | [`WORKSPACE_GID`] | an organization |
//! | workspace "Personal Projects" | [`PERSONAL_WORKSPACE_GID`] | not an organization |
//! | team "Engineering" | [`ENGINEERING_TEAM_GID`] | in Acme Corp; Greg and Ada |
//! | team "Marketing" | [`MARKETING_TEAM_GID`] | in Acme Corp; Greg |
//! | project "Backlog" | [`BACKLOG_PROJECT_GID`] | Engineering; holds the generated tasks |
//! | project "Launch plan" | [`LAUNCH_PROJECT_GID`] | Marketing; three named tasks |
//! | project "Home renovation" | [`HOME_PROJECT_GID`] | Personal Projects; no tasks |
//! | sections "To do", "In progress", "Done" | [`BACKLOG_TODO_SECTION_GID`], [`BACKLOG_DOING_SECTION_GID`], [`BACKLOG_DONE_SECTION_GID`] | of Backlog |
//! | section "Untitled section" | [`LAUNCH_SECTION_GID`] | of Launch plan |
//! | section "Untitled section" | [`HOME_SECTION_GID`] | of Home renovation |
//! | tag "urgent" | [`URGENT_TAG_GID`] | Acme Corp; on [`DRAFT_TASK_GID`] |
//! | tag "blocked" | [`BLOCKED_TAG_GID`] | Acme Corp; on no task |
//! | task "Draft announcement" | [`DRAFT_TASK_GID`] | Launch plan; assigned to Greg; 2 subtasks, 1 comment |
//! | task "Book venue" | [`VENUE_TASK_GID`] | Launch plan; completed |
//! | task "Send invites" | [`INVITES_TASK_GID`] | Launch plan; assigned to Ada; depends on Draft announcement |
//! | subtasks "Write draft", "Review draft" | [`DRAFT_SUBTASK_GIDS`] | of Draft announcement |
//! | comment "Looks good so far." | [`DRAFT_COMMENT_GID`] | on Draft announcement, by Greg |
//! | attachment [`ANNOUNCEMENT_ATTACHMENT_NAME`] | [`ANNOUNCEMENT_ATTACHMENT_GID`] | on Draft announcement; hosted by Asana, content [`ANNOUNCEMENT_ATTACHMENT_CONTENT`] |
//! | attachment "Design doc" | [`DESIGN_DOC_ATTACHMENT_GID`] | on Draft announcement; hosted on Google Drive (no `download_url`) |
//!
//! | custom field "Priority" (enum) | [`CUSTOM_FIELD_GID`] | Acme Corp; options "High", "Low" ([`ENUM_OPTION_GIDS`]); set on Launch plan ([`PROJECT_CUSTOM_FIELD_SETTING_GID`]) and Q3 launches ([`PORTFOLIO_CUSTOM_FIELD_SETTING_GID`]) |
//! | portfolio "Q3 launches" | [`PORTFOLIO_GID`] | Acme Corp; owned by Greg; holds Launch plan and Backlog; Greg a member ([`PORTFOLIO_MEMBERSHIP_GID`]) |
//! | project membership | [`PROJECT_MEMBERSHIP_GID`] | Greg in Launch plan |
//! | team memberships | from [`TEAM_MEMBERSHIP_GID`] | Greg and Ada in Engineering, then Greg in Marketing |
//! | workspace memberships | from [`WORKSPACE_MEMBERSHIP_GID`] | Greg in Acme Corp and Personal Projects, then Ada in Acme Corp |
//! | goals "Ship the launch", "Book the venue" | [`GOAL_GID`], [`SUPPORTING_GOAL_GID`] | Marketing, in [`TIME_PERIOD_GID`]; the first has a number metric (3 of 10), the second supports it ([`GOAL_RELATIONSHIP_GID`]) |
//! | time period "Q3 FY26" | [`TIME_PERIOD_GID`] | Acme Corp |
//! | status update "Week 1" | [`STATUS_UPDATE_GID`] | on Launch plan, on track |
//! | time tracking entry | [`TIME_TRACKING_ENTRY_GID`] | 60 minutes on Draft announcement |
//! | user task lists "My Tasks" | [`USER_TASK_LIST_GID`], [`ADA_USER_TASK_LIST_GID`] | Greg's and Ada's, in Acme Corp |
//! | project template "Launch template" | [`PROJECT_TEMPLATE_GID`] | Marketing |
//! | job | [`JOB_GID`] | a succeeded project duplication |
//! | webhook | [`WEBHOOK_GID`] | on Launch plan |
//! | custom ID `LAUNCH-1` | | Draft announcement |
//!
//! Status updates, time tracking entries, project templates, webhooks, time periods, portfolios,
//! project and portfolio memberships, custom fields and their settings, and goal relationships
//! have a second record each (gids from [`SECOND_RECORDS_FROM`], in that order), so that their
//! lists page: "Week 2" (at risk), 30 minutes by Ada, "Retro template", a second webhook on
//! Launch plan, "Q4 FY26", the portfolio "Q4 launches", Ada in Launch plan, the number field
//! "Effort" (also set on Launch plan and Q3 launches), Ada in Q3 launches, and Launch plan
//! supporting "Ship the launch".
//!
//! Greg's favorite is Launch plan.
//!
//! The Backlog project holds `tasks_per_project` generated tasks (250 by default) named
//! `Backlog task 001`, `Backlog task 002`, ... with gids counting up from
//! [`FIRST_BACKLOG_TASK_GID`]. Task `i` (1-based) is completed when `i` is a multiple of 5 and then
//! sits in "Done"; otherwise it sits in "To do" when `i` is odd and "In progress" when even. Even
//! tasks are assigned to Greg, odd ones to nobody. Objects created through the API get gids counting
//! up from [`FIRST_CREATED_GID`].

/// Greg Sanchez, the user every token acts as. Also the numeric `data.id` of token responses.
pub const ME_GID: &str = "4673218951";
/// Greg Sanchez's e-mail address (`GET /users/gsanchez@example.com` works too).
pub const ME_EMAIL: &str = "gsanchez@example.com";
/// Greg Sanchez's name.
pub const ME_NAME: &str = "Greg Sanchez";
/// Ada Lovelace, a second user.
pub const ADA_GID: &str = "1201000000000002";
/// The "Acme Corp" organization.
pub const WORKSPACE_GID: &str = "1201000000000101";
/// The "Personal Projects" workspace (not an organization).
pub const PERSONAL_WORKSPACE_GID: &str = "1201000000000102";
/// The "Engineering" team of Acme Corp.
pub const ENGINEERING_TEAM_GID: &str = "1201000000000201";
/// The "Marketing" team of Acme Corp.
pub const MARKETING_TEAM_GID: &str = "1201000000000202";
/// The "Backlog" project, holding the generated tasks.
pub const BACKLOG_PROJECT_GID: &str = "1201000000000301";
/// The "Launch plan" project.
pub const LAUNCH_PROJECT_GID: &str = "1201000000000302";
/// The "Home renovation" project in the personal workspace.
pub const HOME_PROJECT_GID: &str = "1201000000000303";
/// The "To do" section of Backlog.
pub const BACKLOG_TODO_SECTION_GID: &str = "1201000000000401";
/// The "In progress" section of Backlog.
pub const BACKLOG_DOING_SECTION_GID: &str = "1201000000000402";
/// The "Done" section of Backlog.
pub const BACKLOG_DONE_SECTION_GID: &str = "1201000000000403";
/// The only section of Launch plan.
pub const LAUNCH_SECTION_GID: &str = "1201000000000404";
/// The only section of Home renovation.
pub const HOME_SECTION_GID: &str = "1201000000000405";
/// The "urgent" tag.
pub const URGENT_TAG_GID: &str = "1201000000000501";
/// The "blocked" tag.
pub const BLOCKED_TAG_GID: &str = "1201000000000502";
/// "Draft announcement", assigned to Greg, tagged urgent.
pub const DRAFT_TASK_GID: &str = "1201000000000601";
/// "Book venue", completed.
pub const VENUE_TASK_GID: &str = "1201000000000602";
/// "Send invites", assigned to Ada.
pub const INVITES_TASK_GID: &str = "1201000000000603";
/// The subtasks of "Draft announcement": "Write draft" and "Review draft".
pub const DRAFT_SUBTASK_GIDS: [&str; 2] = ["1201000000000611", "1201000000000612"];
/// The comment on "Draft announcement".
pub const DRAFT_COMMENT_GID: &str = "1201000000000701";
/// A file on "Draft announcement", hosted by Asana: its `download_url` serves
/// [`ANNOUNCEMENT_ATTACHMENT_CONTENT`].
pub const ANNOUNCEMENT_ATTACHMENT_GID: &str = "1201000000000801";
/// The name of [`ANNOUNCEMENT_ATTACHMENT_GID`].
pub const ANNOUNCEMENT_ATTACHMENT_NAME: &str = "launch notes.txt";
/// The content of [`ANNOUNCEMENT_ATTACHMENT_GID`].
pub const ANNOUNCEMENT_ATTACHMENT_CONTENT: &[u8] = b"Launch day: June 1.\n";
/// A Google Drive file on "Draft announcement": it has a `view_url` and no `download_url`.
pub const DESIGN_DOC_ATTACHMENT_GID: &str = "1201000000000802";
/// The gid of the first generated Backlog task; the others follow one by one.
pub const FIRST_BACKLOG_TASK_GID: u64 = 1_202_000_000_000_001;
/// The gid given to the first object created through the API; the others follow one by one.
pub const FIRST_CREATED_GID: u64 = 1_203_000_000_000_001;
/// The default number of generated tasks in Backlog (three pages of 100 and more).
pub const DEFAULT_TASKS_PER_PROJECT: usize = 250;
/// The "Priority" enum custom field of Acme Corp.
pub const CUSTOM_FIELD_GID: &str = "1201000000000901";
/// The enum options of "Priority": "High" and "Low".
pub const ENUM_OPTION_GIDS: [&str; 2] = ["1201000000000911", "1201000000000912"];
/// "Priority" on Launch plan.
pub const PROJECT_CUSTOM_FIELD_SETTING_GID: &str = "1201000000000921";
/// "Priority" on the "Q3 launches" portfolio.
pub const PORTFOLIO_CUSTOM_FIELD_SETTING_GID: &str = "1201000000000922";
/// The "Q3 launches" portfolio.
pub const PORTFOLIO_GID: &str = "1201000000000931";
/// Greg's membership of "Q3 launches".
pub const PORTFOLIO_MEMBERSHIP_GID: &str = "1201000000000941";
/// Greg's membership of Launch plan.
pub const PROJECT_MEMBERSHIP_GID: &str = "1201000000000942";
/// The goal "Ship the launch".
pub const GOAL_GID: &str = "1201000000000951";
/// The goal "Book the venue", supporting [`GOAL_GID`].
pub const SUPPORTING_GOAL_GID: &str = "1201000000000952";
/// "Book the venue" supports "Ship the launch".
pub const GOAL_RELATIONSHIP_GID: &str = "1201000000000961";
/// The time period "Q3 FY26".
pub const TIME_PERIOD_GID: &str = "1201000000000971";
/// The status update "Week 1" on Launch plan.
pub const STATUS_UPDATE_GID: &str = "1201000000000981";
/// An hour logged on Draft announcement.
pub const TIME_TRACKING_ENTRY_GID: &str = "1201000000000991";
/// Greg's "My Tasks" in Acme Corp.
pub const USER_TASK_LIST_GID: &str = "1201000000001001";
/// Ada's "My Tasks" in Acme Corp.
pub const ADA_USER_TASK_LIST_GID: &str = "1201000000001002";
/// The "Launch template" project template.
pub const PROJECT_TEMPLATE_GID: &str = "1201000000001011";
/// A succeeded job.
pub const JOB_GID: &str = "1201000000001021";
/// The webhook on Launch plan.
pub const WEBHOOK_GID: &str = "1201000000001031";
/// Greg's membership of Engineering; the other team memberships follow one by one.
pub const TEAM_MEMBERSHIP_GID: &str = "1201000000001041";
/// Greg's membership of Acme Corp; the other workspace memberships follow one by one.
pub const WORKSPACE_MEMBERSHIP_GID: &str = "1201000000001051";
/// The gid of the first of the second records (see the table above); the others follow one by one.
pub const SECOND_RECORDS_FROM: &str = "1201000000001101";
