//! Connectors: create (`POST /api/v1/integrations/connectors`, and `/v1/...` as SDK 0.19 sends
//! it), list with filters, and get, reconnect (`PATCH`) or delete one. An application sees only
//! its connectors, a scoped token only its customer's; anything else is 404.
//!
//! Create takes `credentials`, or the `server_side_oauth_secret_id` of a completed consent flow
//! (the `secret_id` its callback sent to the `redirect_url`, beside `connector_id`): that answers
//! the connector the flow created, claimed once, by the flow's application, customer and
//! provider only; anything else is the same 422, and changes nothing.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use integrations::{CredentialStatus, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiJson, ApiPath, ApiQuery, AppState, Audit, customer_of, cut_to, from_json, rfc3339,
    to_completion, writes_lost,
};
use crate::error::{ApiError, ErrorBody};
use crate::providers::{ConnectorType, CredentialsInput};
use crate::secrets;
use crate::store::{
    AuthKind, ConnectorFilter, ConnectorPosition, ConnectorRecord, MAX_NAME_BYTES, OAuthAppSource,
    OAuthSecretClaim, check_name, record_status,
};
use crate::tokens::Principal;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/integrations/connectors", post(create).get(list))
        .route(
            "/api/v1/connectors/instances_for_user",
            get(instances_for_user),
        )
        .route("/v1/integrations/connectors", post(create))
        .route(
            "/api/v1/integrations/connectors/{id}",
            get(read).patch(update).delete(remove),
        )
}

/// A connector as answered: never a secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct Connector {
    /// The connector's id (a UUID).
    id: String,
    name: String,
    /// The customer it belongs to.
    customer_name: String,
    /// The connector type's display name: `Asana`, or a declarative provider's (`GitHub`,
    /// `Google`, ...).
    connector_type: String,
    /// Airbyte's definition id of the connector type.
    definition_id: String,
    /// `token` or `oauth`.
    auth_type: &'static str,
    status: ConnectorStatus,
    /// Whether only reads are allowed (over MCP, writes are hidden and refused).
    read_only: bool,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created_at: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    updated_at: String,
}

/// Whether a connector's credentials work, as the core's credential status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ConnectorStatus {
    /// Usable.
    Active,
    /// Its grant was rejected: reconnect it with PATCH and new credentials, or through the
    /// consent flow.
    NeedsReauthorization,
}

impl ConnectorStatus {
    fn of(status: CredentialStatus) -> ConnectorStatus {
        match status {
            CredentialStatus::NeedsReauthorization => ConnectorStatus::NeedsReauthorization,
            _ => ConnectorStatus::Active,
        }
    }
}

/// A page of connectors.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectorList {
    data: Vec<Connector>,
    /// Where the next page starts: pass it as `cursor`; `null` on the last page.
    next_cursor: Option<String>,
}

/// How many connectors a page holds when the request does not say.
const DEFAULT_PAGE: u32 = 100;

/// The most connectors a page holds.
const MAX_PAGE: u32 = 1_000;

/// A page's cursor: where its last connector stands (creation time in milliseconds, then id).
fn cursor_of(record: &ConnectorRecord) -> String {
    let ms = record
        .created_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{ms}.{}", record.id)
}

/// The position a cursor names; 422 for one this service did not give.
fn position_of(cursor: &str) -> Result<ConnectorPosition, ApiError> {
    cursor
        .split_once('.')
        .and_then(|(ms, id)| {
            let ms = ms.parse::<u64>().ok()?;
            let created_at = UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
            (!id.is_empty()).then(|| ConnectorPosition {
                created_at,
                id: id.to_string(),
            })
        })
        .ok_or_else(|| {
            ApiError::unprocessable(
                "cursor is not one this service gave: pass a page's next_cursor as it was answered",
            )
        })
}

/// The connector as answered: never a secret.
pub(super) async fn view(
    state: &AppState,
    record: &ConnectorRecord,
) -> Result<Connector, ApiError> {
    let status = state.connectors.status(record).await?;
    Ok(view_as(state, record, ConnectorStatus::of(status)))
}

/// [`view`] of a connector whose credentials' status the caller knows.
fn view_as(state: &AppState, record: &ConnectorRecord, status: ConnectorStatus) -> Connector {
    let kind = state.connectors.types().by_name(&record.connector_type);
    let connector_type = kind
        .as_ref()
        .map_or(record.connector_type.as_str(), |kind| kind.display_name());
    Connector {
        id: record.id.clone(),
        name: record.name.clone(),
        customer_name: record.customer_name.clone(),
        connector_type: connector_type.to_string(),
        definition_id: record.definition_id.clone(),
        auth_type: record.auth_kind.as_str(),
        status,
        read_only: record.read_only,
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
    }
}

/// The principal's connector with this id, or 404 (unknown, another application's, or another
/// customer's for a scoped token). An id with a control character, as a query parameter may
/// carry, names none (and PostgreSQL's text cannot hold a NUL): it is not looked up.
pub(super) async fn owned(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<ConnectorRecord, ApiError> {
    if id.chars().any(char::is_control) {
        return Err(ApiError::connector_not_found());
    }
    visible(
        principal,
        state.store.connector(&principal.application_id, id).await?,
    )
}

/// The principal's application's connector, if the principal may see it; else 404.
pub(super) fn visible(
    principal: &Principal,
    record: Option<ConnectorRecord>,
) -> Result<ConnectorRecord, ApiError> {
    record
        .filter(|record| principal.may_see(&record.customer_name))
        .ok_or_else(ApiError::connector_not_found)
}

/// What a request for a new connector names: the customer (one of `customer_name`,
/// `workspace_name`, `external_user_id`; a scoped token's own by default), the provider
/// (`definition_id` or `connector_type`) and, optionally, a name. Read from the same body as the
/// rest of the request; other fields are ignored. Names (the customer's and the connector's) are
/// at most 256 bytes of UTF-8 without control characters.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewConnector {
    /// Defaults to the provider's and the customer's.
    name: Option<String>,
    /// Asana's Airbyte definition id (`d0243522-dccf-4978-8ba0-37ed47a0bdbf`) or a provider's id
    /// (`asana`, `github`, `google`, ...).
    definition_id: Option<String>,
    /// A provider's display name or id (`Asana`, `GitHub`, `google`, ...).
    connector_type: Option<String>,
    customer_name: Option<String>,
    workspace_name: Option<String>,
    external_user_id: Option<String>,
}

impl NewConnector {
    /// The customer, the provider and the name of the new connector. A scoped token creates
    /// only for its own customer (another is 404); an application token must name one (422).
    /// Without a name, the provider's and the customer's.
    pub(super) fn resolve(
        &self,
        state: &AppState,
        principal: &Principal,
    ) -> Result<(String, ConnectorType, String), ApiError> {
        let named = customer_of(
            self.customer_name.as_deref(),
            self.workspace_name.as_deref(),
            self.external_user_id.as_deref(),
        )?;
        let customer = match (named, &principal.customer) {
            (Some(named), Some(own)) if &named != own => {
                return Err(ApiError::new(StatusCode::NOT_FOUND, "customer not found"));
            }
            (Some(named), _) => named,
            (None, Some(own)) => own.clone(),
            (None, None) => {
                return Err(ApiError::unprocessable(
                    "name the customer with customer_name, workspace_name or external_user_id",
                ));
            }
        };
        let kind = state.connectors.types().resolve(
            self.definition_id.as_deref(),
            self.connector_type.as_deref(),
        )?;
        let name = default_name(self.name.as_deref(), &kind, &customer)?;
        Ok((customer, kind, name))
    }
}

/// A new connector's credentials, beside [`NewConnector`]'s fields.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "external_user_id": "customer-1",
    "connector_type": "Asana",
    "credentials": { "token": "a personal access token" },
}))]
pub(crate) struct CreateRequest {
    /// `{token}` (a personal access token) or `{access_token?, refresh_token, client_id?,
    /// client_secret?}`.
    #[schema(value_type = Option<Object>)]
    credentials: Option<Value>,
    /// Instead of `credentials`: the `secret_id` a consent flow's callback sent to the
    /// `redirect_url`. Answers the connector that flow created (its `connector_id`), with
    /// `name` and `read_only` applied when given; single use, within 15 minutes of the
    /// callback, for the flow's customer and connector type only (anything else is 422: start a
    /// new consent flow).
    #[schema(value_type = Option<String>)]
    server_side_oauth_secret_id: Option<SecretString>,
    /// Offers only reads over MCP; default false.
    read_only: Option<bool>,
}

/// Creates a connector for a customer. The body is a [`NewConnector`] and a [`CreateRequest`].
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors",
    tag = "connectors",
    request_body = CreateRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The connector (for a `server_side_oauth_secret_id`, the one its consent flow created)", body = Connector),
        (status = 404, description = "A scoped token named another customer", body = ErrorBody),
        (status = 422, description = "A field is missing, of the wrong type, or not acceptable (the message names it); both `credentials` and `server_side_oauth_secret_id`; or a `server_side_oauth_secret_id` that is unknown, used, expired, or of another customer or connector type (start a new consent flow)", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Connector>), ApiError> {
    let started = Instant::now();
    let new: NewConnector = from_json(body.clone())?;
    let (customer, kind, name) = new.resolve(&state, &principal)?;
    let request: CreateRequest = from_json(body)?;
    let credentials = match (&request.credentials, &request.server_side_oauth_secret_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "send either credentials or server_side_oauth_secret_id, not both",
            ));
        }
        (Some(credentials), None) => CredentialsInput::parse(credentials)?,
        (None, Some(secret_id)) => {
            let claim = OAuthSecretClaim {
                secret_hash: secrets::hash(secret_id.expose_secret()),
                application_id: principal.application_id.clone(),
                customer_name: customer,
                connector_type: kind.id().to_string(),
            };
            let name = new.name.is_some().then_some(name);
            let read_only = request.read_only;
            // The claim uses the secret id up: what follows it runs to its end.
            return to_completion(
                state.writes.clone(),
                async move {
                    claim_created(&state, &principal, &claim, name, read_only, started).await
                },
                writes_lost,
            )
            .await;
        }
        (None, None) => {
            return Err(ApiError::unprocessable(
                "credentials are required: {\"token\"} or {\"access_token\"?, \"refresh_token\", \"client_id\"?, \"client_secret\"?}",
            ));
        }
    };
    let oauth_app = state
        .connectors
        .oauth_app_for(&principal.application_id, &kind, &credentials)
        .await?;
    let now = SystemTime::now();
    let record = ConnectorRecord {
        id: uuid::Uuid::new_v4().to_string(),
        application_id: principal.application_id.clone(),
        customer_name: customer,
        connector_type: kind.id().to_string(),
        definition_id: kind.definition_id().to_string(),
        name,
        auth_kind: credentials.auth_kind(),
        oauth_app,
        read_only: request.read_only.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    let written = {
        let (state, record) = (state.clone(), record.clone());
        to_completion(
            state.writes.clone(),
            async move {
                let stored = state
                    .connectors
                    .store_credentials(&record, &credentials)
                    .await;
                save_new(&state, &principal, &record, stored, started).await
            },
            writes_lost,
        )
    };
    written.await?;
    // Its credentials were just written: no store read that could fail after the connector
    // exists, and invite a retry that would create a second one.
    let created = view_as(&state, &record, ConnectorStatus::Active);
    Ok((StatusCode::CREATED, Json(created)))
}

/// Answers the connector a consent flow created, for the secret id its callback issued
/// (`claim`), which is used up; with `name` and `read_only` applied when given, and audited as
/// a creation. A secret id that is unknown, used, expired, of another application, customer or
/// provider, or whose connector is gone, is 422 and changes nothing.
async fn claim_created(
    state: &AppState,
    principal: &Principal,
    claim: &OAuthSecretClaim,
    name: Option<String>,
    read_only: Option<bool>,
    started: Instant,
) -> Result<(StatusCode, Json<Connector>), ApiError> {
    let unclaimable = || {
        ApiError::unprocessable(
            "unknown, expired or already used server_side_oauth_secret_id, or one of another customer or connector type: start a new consent flow (POST /api/v1/integrations/connectors/oauth/initiate)",
        )
    };
    let claimed = state
        .store
        .claim_oauth_secret(claim, SystemTime::now())
        .await?
        .ok_or_else(unclaimable)?;
    // From here on the secret id is used up, so the same request would be refused: a failure
    // says where the connector is rather than invite that retry.
    let id = &claimed.connector_id;
    let spent = |e: ApiError| {
        ApiError::new(
            e.status(),
            format!(
                "{}; the consent flow's connector {id} exists and its server_side_oauth_secret_id is used up: read it with GET /api/v1/integrations/connectors/{id}",
                e.message()
            ),
        )
    };
    let mut record = state
        .store
        .connector(&principal.application_id, id)
        .await
        .map_err(|e| spent(e.into()))?
        .filter(|record| {
            record.customer_name == claim.customer_name && principal.may_see(&record.customer_name)
        })
        .ok_or_else(unclaimable)?;
    // The consent flow's connector, new and writable: whoever claims it may set the flag.
    let change = RowChange {
        name,
        read_only,
        may_make_writable: true,
        reconnect: None,
    };
    let given = std::iter::once("server_side_oauth_secret_id")
        .chain(change.fields())
        .map(str::to_string)
        .collect();
    if change.fields().next().is_some() {
        record = write_change(state, record, &change)
            .await
            .map_err(spent)?
            .ok_or_else(unclaimable)?;
    }
    connector_audit(principal, &record, "connector.create", given, started)
        .record(state.store.as_ref(), StatusCode::CREATED)
        .await;
    Ok((
        StatusCode::CREATED,
        Json(view(state, &record).await.map_err(spent)?),
    ))
}

/// The audit entry of a change to `record`: the names of the fields given, never their values.
fn connector_audit<'a>(
    principal: &'a Principal,
    record: &'a ConnectorRecord,
    operation: &'static str,
    param_names: Vec<String>,
    started: Instant,
) -> Audit<'a> {
    Audit {
        principal,
        customer_name: Some(&record.customer_name),
        connector_id: Some(&record.id),
        operation,
        entity: None,
        action: None,
        param_names,
        started,
    }
}

/// Records the connector's token expiry for the background refresher; a failure is logged (the
/// token is then refreshed when it is used).
async fn track_expiry(state: &AppState, record: &ConnectorRecord) {
    if let Err(e) = state.connectors.track_expiry(record).await {
        tracing::warn!(
            connector = record.id,
            error = e.message(),
            "could not record the token's expiry"
        );
    }
}

/// A connector's name: the one given ([`given_name`]), else the provider's and the customer's.
pub(super) fn default_name(
    name: Option<&str>,
    kind: &ConnectorType,
    customer: &str,
) -> Result<String, ApiError> {
    match name {
        Some(name) => given_name(name),
        None => {
            // Within the names' limit, so that it can be given back as it was answered.
            let mut name = format!("{} {}", kind.display_name(), customer);
            cut_to(&mut name, MAX_NAME_BYTES);
            Ok(name)
        }
    }
}

/// A connector's name as a request gives it: trimmed; 422 when that leaves nothing, it holds a
/// control character or it is longer than [`MAX_NAME_BYTES`].
fn given_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    check_name(name).map_err(|reason| ApiError::unprocessable(format!("name {reason}")))?;
    Ok(name.to_string())
}

/// When a connector read from the store (`previous`, to the millisecond the stores keep) changes
/// now: at least a millisecond later, so that every instance reading the row sees that it
/// changed (a warm connector built from an older row is built again).
fn changed_at(previous: SystemTime) -> SystemTime {
    SystemTime::now().max(previous + Duration::from_millis(1))
}

/// Saves a new connector whose credentials were just written (`stored` says whether that
/// worked), and audits its creation. On any failure no credentials stay behind without their
/// connector.
pub(super) async fn save_new(
    state: &AppState,
    principal: &Principal,
    record: &ConnectorRecord,
    stored: Result<(), ApiError>,
    started: Instant,
) -> Result<(), ApiError> {
    let saved = match stored {
        Ok(()) => state
            .store
            .insert_connector(record.clone())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    if let Err(e) = saved {
        state.connectors.delete_credentials(record).await?;
        return Err(e);
    }
    track_expiry(state, record).await;
    connector_audit(principal, record, "connector.create", Vec::new(), started)
        .record(state.store.as_ref(), StatusCode::CREATED)
        .await;
    Ok(())
}

/// Which connectors to list: a customer (by any of its three names) and a type, a page at a time
/// in the order they were created.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    customer_name: Option<String>,
    workspace_name: Option<String>,
    external_user_id: Option<String>,
    definition_id: Option<String>,
    connector_type: Option<String>,
    /// How many connectors a page holds: 1 to 1,000, 100 when not given.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, for the page after it.
    cursor: Option<String>,
}

/// Lists the caller's connectors (a scoped token: its customer's), filtered.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors",
    operation_id = "list_connectors",
    tag = "connectors",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the connectors, oldest first; none match: an empty list", body = ConnectorList),
        (status = 400, description = "The query cannot be read", body = ErrorBody),
        (status = 422, description = "The customer's names disagree or are empty, the limit is out of range, or the cursor is not one the service gave", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ConnectorList>, ApiError> {
    let empty = || {
        Json(ConnectorList {
            data: Vec::new(),
            next_cursor: None,
        })
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::unprocessable(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let after = query.cursor.as_deref().map(position_of).transpose()?;
    let named = customer_of(
        query.customer_name.as_deref(),
        query.workspace_name.as_deref(),
        query.external_user_id.as_deref(),
    )?;
    let customer_name = match (named, &principal.customer) {
        (Some(named), Some(own)) if &named != own => return Ok(empty()),
        (named, own) => named.or_else(|| own.clone()),
    };
    // One more than the page holds: whether there is a next page.
    let mut filter = ConnectorFilter {
        customer_name,
        connector_type: None,
        after,
        limit: Some(limit + 1),
    };
    if query.definition_id.is_some() || query.connector_type.is_some() {
        match state.connectors.types().resolve(
            query.definition_id.as_deref(),
            query.connector_type.as_deref(),
        ) {
            Ok(kind) => filter.connector_type = Some(kind.id().to_string()),
            Err(_) => return Ok(empty()),
        }
    }
    let mut records = state
        .store
        .list_connectors(&principal.application_id, &filter)
        .await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_cursor = records.last().filter(|_| more).map(cursor_of);
    let mut data = Vec::with_capacity(records.len());
    for record in &records {
        data.push(view(&state, record).await?);
    }
    Ok(Json(ConnectorList { data, next_cursor }))
}

/// The customer of the older SDK's lookup, and the connector type.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InstancesQuery {
    /// The customer (its `customer_name`).
    external_user_id: Option<String>,
    /// The connector type's definition id (or its id or name, as `definition_id` takes them).
    definition_id: Option<String>,
}

/// The customer's connectors, as the older SDK reads them.
#[derive(Serialize, ToSchema)]
pub(crate) struct InstanceList {
    /// The connectors, oldest first (at most 1,000).
    instances: Vec<Connector>,
}

/// The lookup of Airbyte's SDK 0.19.34 and before (what pip installs on Python below 3.13): the
/// caller's connectors of a customer and type, as `GET /api/v1/integrations/connectors` lists
/// them, under `instances`.
#[utoipa::path(
    get,
    path = "/api/v1/connectors/instances_for_user",
    tag = "connectors",
    params(InstancesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connectors, oldest first; none match: an empty list", body = InstanceList),
        (status = 400, description = "The query cannot be read", body = ErrorBody),
        (status = 422, description = "The customer's name is empty or has a control character", body = ErrorBody),
    )
)]
pub(crate) async fn instances_for_user(
    state: State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<InstancesQuery>,
) -> Result<Json<InstanceList>, ApiError> {
    let query = ListQuery {
        customer_name: None,
        workspace_name: None,
        external_user_id: query.external_user_id,
        definition_id: query.definition_id,
        connector_type: None,
        limit: Some(MAX_PAGE),
        cursor: None,
    };
    let Json(page) = list(state, principal, ApiQuery(query)).await?;
    Ok(Json(InstanceList {
        instances: page.data,
    }))
}

/// One connector.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connector", body = Connector),
        (status = 404, description = "No such connector of the caller's", body = ErrorBody),
    )
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Connector>, ApiError> {
    let record = owned(&state, &principal, &id).await?;
    Ok(Json(view(&state, &record).await?))
}

/// A new name, new credentials (reconnect), or both.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "name": "Asana of customer 1" }))]
pub(crate) struct UpdateRequest {
    name: Option<String>,
    /// As for a new connector.
    #[schema(value_type = Option<Object>)]
    credentials: Option<Value>,
    read_only: Option<bool>,
}

/// Renames a connector or reconnects it with new credentials.
#[utoipa::path(
    patch,
    path = "/api/v1/integrations/connectors/{id}",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id")),
    request_body = UpdateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connector", body = Connector),
        (status = 403, description = "A customer's scoped token asked to make a read-only connector writable", body = ErrorBody),
        (status = 404, description = "No such connector of the caller's", body = ErrorBody),
        (status = 409, description = "Other requests kept changing the connector meanwhile; send it again", body = ErrorBody),
        (status = 422, description = "An empty name or one with a control character, invalid credentials, or OAuth credentials with no OAuth app to refresh them", body = ErrorBody),
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> Result<Json<Connector>, ApiError> {
    let started = Instant::now();
    let read = owned(&state, &principal, &id).await?;
    // A customer's scoped token, the one its MCP clients hold, may make its connector read-only
    // but not lift that: only the application's token can.
    if request.read_only == Some(false) && read.read_only && principal.customer.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a customer's scoped token cannot make a read-only connector writable: use the application's token",
        ));
    }
    let name = request.name.as_deref().map(given_name).transpose()?;
    let credentials = request
        .credentials
        .as_ref()
        .map(CredentialsInput::parse)
        .transpose()?;
    // Resolved once: they depend on the request and the application, not on the row.
    let reconnect = match credentials {
        Some(credentials) => {
            let kind = state.connectors.kind_of(&read)?;
            let oauth_app = state
                .connectors
                .oauth_app_for(&principal.application_id, &kind, &credentials)
                .await?;
            Some(Reconnect {
                auth_kind: credentials.auth_kind(),
                oauth_app,
                credentials,
            })
        }
        None => None,
    };
    let change = RowChange {
        name,
        read_only: request.read_only,
        may_make_writable: principal.customer.is_none(),
        reconnect,
    };
    let changed = change.fields().map(str::to_string).collect();
    let written = {
        let state = state.clone();
        to_completion(
            state.writes.clone(),
            async move { write_change(&state, read, &change).await },
            writes_lost,
        )
    };
    let record = written.await?.ok_or_else(ApiError::connector_not_found)?;
    track_expiry(&state, &record).await;
    connector_audit(&principal, &record, "connector.update", changed, started)
        .record(state.store.as_ref(), StatusCode::OK)
        .await;
    Ok(Json(view(&state, &record).await?))
}

/// How many times a change is applied to a connector that other requests keep changing before
/// it answers 409 (retryable), and how many when it replaces the credentials (already written by
/// then: the row must come to describe them).
const UPDATE_ATTEMPTS: u32 = 3;
const RECONNECT_ATTEMPTS: u32 = 10;

/// What a request changes in a connector's row.
struct RowChange {
    name: Option<String>,
    read_only: Option<bool>,
    /// Whether `read_only: false` may lift the flag from a row that has it (an application
    /// token); otherwise such a row keeps it, also when another request set it meanwhile.
    may_make_writable: bool,
    reconnect: Option<Reconnect>,
}

/// New credentials, and the kind and OAuth app the row then says they are.
struct Reconnect {
    credentials: CredentialsInput,
    auth_kind: AuthKind,
    oauth_app: Option<OAuthAppSource>,
}

impl RowChange {
    /// The names of the fields it changes, for the audit.
    fn fields(&self) -> impl Iterator<Item = &'static str> {
        [
            self.name.as_ref().map(|_| "name"),
            self.read_only.map(|_| "read_only"),
            self.reconnect.as_ref().map(|_| "credentials"),
        ]
        .into_iter()
        .flatten()
    }

    fn apply(&self, record: &mut ConnectorRecord) {
        if let Some(name) = &self.name {
            record.name = name.clone();
        }
        if let Some(read_only) = self.read_only
            && (read_only || self.may_make_writable || !record.read_only)
        {
            record.read_only = read_only;
        }
        if let Some(reconnect) = &self.reconnect {
            record.auth_kind = reconnect.auth_kind;
            record.oauth_app = reconnect.oauth_app;
        }
    }
}

/// Writes `change` over the connector's row as it was `read`, only if it is still that row; when
/// another request changed the row meanwhile, applies `change` again to the row as it is now, so
/// that neither change is lost. New credentials are written first, each time, so that the row
/// ends up describing the credentials written last (requests replacing one connector's
/// credentials on this instance take turns). `None` when the connector was deleted meanwhile
/// (the credentials just written are deleted too, rather than stay with no connector naming
/// them); 409, retryable, when it kept changing.
async fn write_change(
    state: &AppState,
    mut read: ConnectorRecord,
    change: &RowChange,
) -> Result<Option<ConnectorRecord>, ApiError> {
    let credentials = change
        .reconnect
        .as_ref()
        .map(|reconnect| &reconnect.credentials);
    let _turn = match credentials {
        Some(_) => Some(state.connectors.replacing_credentials(&read.id).await),
        None => None,
    };
    let attempts = if credentials.is_some() {
        RECONNECT_ATTEMPTS
    } else {
        UPDATE_ATTEMPTS
    };
    // Once new tokens are written, a failure leaves the row describing the old ones (an OAuth
    // connector with a token's credentials, say): the answer says so.
    let mut wrote = false;
    let written = |e: ApiError, wrote: bool| {
        if wrote {
            e.after_writing("the new credentials were stored, the connector not updated")
        } else {
            e
        }
    };
    for _ in 0..attempts {
        let mut record = read.clone();
        change.apply(&mut record);
        record.updated_at = changed_at(read.updated_at);
        if let Some(credentials) = credentials {
            state
                .connectors
                .store_granted(&record, &credentials.credentials())
                .await
                .map_err(|e| written(e, wrote))?;
            wrote = true;
            state
                .connectors
                .store_client(&record, credentials)
                .await
                .map_err(|e| written(e, wrote))?;
        }
        if state
            .store
            .update_connector(&record, read.updated_at)
            .await
            .map_err(|e| written(e.into(), wrote))?
        {
            return Ok(Some(record));
        }
        match state
            .store
            .connector(&record.application_id, &record.id)
            .await
            .map_err(|e| written(e.into(), wrote))?
        {
            Some(now) => read = now,
            None => {
                // The connector is gone whatever this answers (404), so a failure to delete the
                // credentials just written is logged, as DELETE does.
                if credentials.is_some()
                    && let Err(e) = state.connectors.delete_credentials(&record).await
                {
                    tracing::error!(connector = %record.id, error = %e.message(), "the credentials written for a connector deleted meanwhile may be left in the credential store");
                }
                return Ok(None);
            }
        }
    }
    Err(written(
        ApiError::new(
            StatusCode::CONFLICT,
            "the connector kept changing while this request changed it; send it again",
        )
        .retryable(),
        wrote,
    ))
}

/// Revokes a connector's grant at the provider, then deletes its credentials and it. The grant
/// is left at the provider where revoking it could end other connectors' access (a provider
/// whose revocation ends the account's whole grant, Google's say, through an OAuth app that
/// other connectors share).
#[utoipa::path(
    delete,
    path = "/api/v1/integrations/connectors/{id}",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The deleted connector", body = Connector),
        (status = 404, description = "No such connector of the caller's", body = ErrorBody),
        (status = 502, description = "The provider did not answer the revocation; nothing was deleted", body = ErrorBody),
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Connector>, ApiError> {
    let started = Instant::now();
    let record = owned(&state, &principal, &id).await?;
    // A client that leaves (or the request's deadline) must not stop it between the revocation
    // and the deletes: the connector would be listed as active with a grant already revoked.
    to_completion(
        state.writes.clone(),
        revoke_and_delete(state, principal, record, started),
        writes_lost,
    )
    .await
    .map(Json)
}

/// [`remove`]'s writes, from reading the credentials to the audit entry.
async fn revoke_and_delete(
    state: AppState,
    principal: Principal,
    record: ConnectorRecord,
    started: Instant,
) -> Result<Connector, ApiError> {
    let stored = state.connectors.credentials_of_deleted(&record).await?;
    let status = record_status(stored.as_ref());
    let answer = view_as(&state, &record, ConnectorStatus::of(status));
    state.connectors.revoke(&record, stored.as_ref()).await?;
    // The credentials first: a failure leaves the row, so that the same DELETE can be sent again.
    state.connectors.delete_credentials(&record).await?;
    if !state
        .store
        .delete_connector(&principal.application_id, &record.id)
        .await?
    {
        return Err(ApiError::connector_not_found());
    }
    // And again: an update that wrote credentials in between (to the row it still found) left
    // them. The connector is gone whatever this answers, so a failure is logged, not answered.
    if let Err(e) = state.connectors.delete_credentials(&record).await {
        tracing::error!(connector = %record.id, error = %e.message(), "the credentials of a deleted connector may be left in the credential store");
    }
    connector_audit(&principal, &record, "connector.delete", Vec::new(), started)
        .record(state.store.as_ref(), StatusCode::OK)
        .await;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_id_is_held_redacted_and_a_wrong_one_is_not_echoed() {
        let Ok(request) = from_json::<CreateRequest>(
            json!({ "server_side_oauth_secret_id": "CANARY-secret-id" }),
        ) else {
            panic!("a string secret id is read");
        };
        let held = request.server_side_oauth_secret_id.expect("held");
        assert_eq!(held.expose_secret(), "CANARY-secret-id");
        assert!(!format!("{held:?}").contains("CANARY"));
        for wrong in [json!(["CANARY"]), json!({ "CANARY": 1 }), json!(7)] {
            let Err(refused) =
                from_json::<CreateRequest>(json!({ "server_side_oauth_secret_id": wrong }))
            else {
                panic!("{wrong} is not a secret id");
            };
            assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(refused.message().contains("server_side_oauth_secret_id"));
            assert!(!refused.message().contains("CANARY"));
        }
    }

    /// `read_only: false` lifts the flag from a read-only row only for a change that may make a
    /// connector writable (an application's token); a customer's change leaves the row
    /// read-only. Setting the flag, or clearing it on a writable row, needs no such right.
    #[test]
    fn only_a_change_that_may_make_writable_lifts_read_only() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let row = |read_only| ConnectorRecord {
            id: "c1".into(),
            application_id: "app".into(),
            customer_name: "c".into(),
            connector_type: "asana".into(),
            definition_id: "asana".into(),
            name: "n".into(),
            auth_kind: AuthKind::Token,
            oauth_app: None,
            read_only,
            created_at: at,
            updated_at: at,
        };
        for (was, asked, may_make_writable, now) in [
            (true, Some(false), false, true),
            (true, Some(false), true, false),
            (false, Some(true), false, true),
            (false, Some(false), false, false),
            (true, Some(true), false, true),
            (true, None, true, true),
        ] {
            let change = RowChange {
                name: None,
                read_only: asked,
                may_make_writable,
                reconnect: None,
            };
            let mut record = row(was);
            change.apply(&mut record);
            assert_eq!(
                record.read_only, now,
                "read_only {was}, asked {asked:?}, may make writable {may_make_writable}"
            );
            assert_eq!(record.name, "n");
        }
    }
}
