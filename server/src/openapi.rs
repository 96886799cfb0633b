//! The OpenAPI 3.1 document of the API, served at `GET /api/v1/openapi.json`: each operation
//! comes from its handler's `#[utoipa::path]` and its request and response types. What the
//! router adds to every route is added here, from the same facts: 504 past the request timeout
//! (every route), 500 and 503 when the store fails (every route that uses it), 401 and 429 with
//! `Retry-After` (every route that takes a service token), 400, 413 and 422 (every route that
//! reads a JSON body); and the aliases the router serves for Airbyte's SDKs.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::routes::{applications, audit, connectors, execute, oauth, ops};

/// The path the document is served at.
pub(crate) const PATH: &str = "/api/v1/openapi.json";

/// Paths the router also serves, each with the operation of another path: (alias, path, the
/// suffix of the alias's operation id).
const POST_ALIASES: [(&str, &str, &str); 4] = [
    // Airbyte's SDK 0.19 creates connectors here.
    (
        "/v1/integrations/connectors",
        "/api/v1/integrations/connectors",
        "v1",
    ),
    // The execute path in Airbyte's docs.
    (
        "/api/v1/connectors/sources/{id}/execute",
        "/api/v1/integrations/connectors/{id}/execute",
        "sources",
    ),
    // Airbyte's SDK 0.19.34 and before (what pip installs on Python below 3.13) takes its token
    // and executes here.
    (
        "/api/v1/applications/token",
        "/api/v1/account/applications/token",
        "older_sdk",
    ),
    (
        "/api/v1/connectors/instances/{id}/execute",
        "/api/v1/integrations/connectors/{id}/execute",
        "older_sdk",
    ),
];

/// Operations (path, then POST) whose body is read twice: as a [`connectors::NewConnector`] and as
/// the type their handler documents.
const NEW_CONNECTOR_BODIES: [&str; 2] = [
    "/api/v1/integrations/connectors",
    "/api/v1/integrations/connectors/oauth/initiate",
];

/// Routes that never touch the store (so never answer 500).
const STORELESS: [&str; 3] = ["/healthz", "/metrics", PATH];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "integrations-server",
        description = "Hosted execution for `integrations`: applications register their customers' connectors and execute catalog actions on them, with the paths and shapes of Airbyte's hosted agent API. Errors are `{message, errors: [{message}], retryable}`."
    ),
    paths(
        applications::token,
        applications::scoped_token,
        applications::revoke,
        connectors::create,
        connectors::list,
        connectors::instances_for_user,
        connectors::read,
        connectors::update,
        connectors::remove,
        execute::execute,
        oauth::initiate,
        oauth::callback,
        oauth::set_app,
        oauth::read_app,
        oauth::delete_app,
        audit::list,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        document,
    ),
    components(schemas(connectors::NewConnector)),
    modifiers(&Shared)
)]
struct ApiDoc;

/// The document as served.
pub(crate) fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default())
}

/// The route serving the document.
pub(crate) fn routes() -> Router {
    Router::new().route(PATH, get(document))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)),
)]
async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
}

/// Adds the bearer scheme, the aliases and the answers every route shares.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A service token from POST /api/v1/account/applications/token (or a scoped token)",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in operations(item) {
                shared_answers(path, operation);
            }
        }
        link_created_connector(openapi);
        for path in NEW_CONNECTOR_BODIES {
            compose_new_connector(openapi, path);
        }
        for (alias, path, suffix) in POST_ALIASES {
            let Some(mut operation) = openapi
                .paths
                .paths
                .get(path)
                .and_then(|item| item.post.clone())
            else {
                continue;
            };
            operation.operation_id = operation.operation_id.map(|id| format!("{id}_{suffix}"));
            let mut item = PathItem::default();
            item.post = Some(operation);
            openapi.paths.paths.insert(alias.to_string(), item);
        }
    }
}

/// The body of `POST path` holds a new connector's fields beside its own.
fn compose_new_connector(openapi: &mut utoipa::openapi::OpenApi, path: &str) {
    let Some(RefOr::T(body)) = openapi
        .paths
        .paths
        .get_mut(path)
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.request_body.as_mut())
    else {
        return;
    };
    let Some(schema) = body
        .content
        .get_mut("application/json")
        .and_then(|content| match content {
            RefOr::T(content) => content.schema.as_mut(),
            RefOr::Ref(_) => None,
        })
    else {
        return;
    };
    let own = schema.clone();
    *schema = RefOr::T(Schema::AllOf(
        AllOfBuilder::new()
            .item(Ref::from_schema_name("NewConnector"))
            .item(own)
            .build(),
    ));
}

/// The id of a created connector is what reading, changing, deleting and executing take (so
/// that clients, and schemathesis' stateful phase, can follow it).
fn link_created_connector(openapi: &mut utoipa::openapi::OpenApi) {
    let Some(RefOr::T(created)) = openapi
        .paths
        .paths
        .get_mut("/api/v1/integrations/connectors")
        .and_then(|item| item.post.as_mut())
        .and_then(|create| create.responses.responses.get_mut("201"))
    else {
        return;
    };
    for operation_id in ["read", "update", "remove", "execute"] {
        created.links.insert(
            operation_id.to_string(),
            RefOr::T(
                LinkBuilder::new()
                    .operation_id(operation_id)
                    .parameter("id", "$response.body#/id")
                    .build(),
            ),
        );
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn shared_answers(path: &str, operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let reads_body = operation.request_body.is_some();
    let mut answers = vec![(
        "504",
        "The service did not answer within its request timeout (or Asana timed out); retryable",
    )];
    if !STORELESS.contains(&path) {
        answers.push((
            "500",
            "The service's store failed: `retryable` says whether the same request may succeed later (another request's write raced this one) or an operator must act (data the service cannot read, a refused operation)",
        ));
        answers.push((
            "503",
            "The service's database or credential store cannot be reached; retryable",
        ));
    }
    if secured {
        answers.push((
            "401",
            "Missing, invalid or expired service token (or one that may not do this)",
        ));
        answers.push((
            "429",
            "Over the application's rate limit or its calls to providers in flight, or Asana's rate limit; retry after Retry-After seconds",
        ));
    }
    if reads_body {
        answers.push((
            "400",
            "The body is not JSON, or names an unknown entity or action",
        ));
        answers.push(("413", "The body is larger than the service accepts"));
        answers.push((
            "422",
            "A field is missing, of the wrong type, or not acceptable; the message names it",
        ));
    }
    for (status, description) in answers {
        if operation.responses.responses.contains_key(status) {
            continue;
        }
        let mut response = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        );
        if status == "429" {
            response = response.header(
                "Retry-After",
                Header::new(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                ),
            );
        }
        operation
            .responses
            .responses
            .insert(status.to_string(), RefOr::T(response.build()));
    }
}
