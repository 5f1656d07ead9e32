//! The admin API's OpenAPI 3.1 document, served at `GET /admin/v1/openapi.json`. Each operation is
//! its handler's `#[utoipa::path]`, the attribute that also routes it (`app.rs`, through
//! `utoipa_axum::routes!`), and each schema is derived from the type the handler reads or answers
//! with. This file adds what every operation shares: the bearer token it needs (RFC 6750) and the
//! refusals it may answer.

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Server,
    Type,
};
use utoipa::{OpenApi as _, ToSchema};

use crate::config::Issuer;
use crate::error::ErrorBody;
use crate::oauth::admin::ADMIN_SCOPE;
use crate::paths::TOKEN_PATH;

/// The name of the security scheme every operation requires.
pub const ADMIN_TOKEN: &str = "admin_token";

/// The document's frame: its description and tags. `routes!` adds the operations and their schemas.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Latchkey admin API",
        description = "Manage a running Latchkey server over HTTP, with the CLI's rules and \
            messages. Every operation needs an admin client's access token; every change is an \
            `admin.change` audit event whose actor is that client.",
    ),
    tags(
        (name = "clients", description = "Client registrations (`latchkey client`)."),
        (name = "users", description = "Users (`latchkey user`)."),
        (name = "apis", description = "APIs, the resource servers tokens are for (`latchkey api`)."),
        (name = "scopes", description = "Scopes (`latchkey scope`)."),
        (name = "roles", description = "Roles, and the roles users and clients hold (`latchkey role`)."),
        (name = "groups", description = "Groups, their members and roles (`latchkey group`)."),
        (name = "keys", description = "Signing keys (`latchkey keys`)."),
        (name = "registration", description = "Initial access tokens of dynamic client registration, RFC 7591 §3 (`latchkey registration-token`)."),
        (name = "audit", description = "The audit trail (`latchkey audit list`)."),
        (name = "configuration", description = "Declarative configuration (`latchkey apply`, `latchkey export`)."),
    ),
    components(schemas(ErrorBody)),
)]
struct Frame;

/// The frame the admin routes are registered on (`app.rs`).
pub fn frame() -> OpenApi {
    Frame::openapi()
}

/// A refusal every admin operation may answer, as a reusable response (`components.responses`).
struct Refusal {
    /// Its name among the components.
    name: &'static str,
    status: StatusCode,
    description: &'static str,
    /// The header it carries, and what that header says.
    header: Option<(&'static str, Type, &'static str)>,
}

/// The refusals: the same for every operation (the bearer token, a malformed request, the store),
/// but `404`, which only an operation whose path names something can answer.
const REFUSALS: [Refusal; 6] = [
    Refusal {
        name: "BadRequest",
        status: StatusCode::BAD_REQUEST,
        description: "`invalid_request`: a malformed body, parameter or `Authorization` header, or \
            input the CLI's rules refuse (with the CLI's message).",
        header: None,
    },
    Refusal {
        name: "Unauthorized",
        status: StatusCode::UNAUTHORIZED,
        description: "No token (a bare `Bearer` challenge), or `invalid_token`: not a live access \
            token of this server issued to an admin client by client credentials (RFC 6750 §3.1).",
        header: Some((
            "WWW-Authenticate",
            Type::String,
            "The RFC 6750 §3 challenge.",
        )),
    },
    Refusal {
        name: "Forbidden",
        status: StatusCode::FORBIDDEN,
        description: "`insufficient_scope`: a live token without `latchkey:admin` (RFC 6750 §3.1).",
        header: Some((
            "WWW-Authenticate",
            Type::String,
            "The RFC 6750 §3 challenge.",
        )),
    },
    Refusal {
        name: "NotFound",
        status: StatusCode::NOT_FOUND,
        description: "`not_found`: what the path names does not exist.",
        header: None,
    },
    Refusal {
        name: "ServerError",
        status: StatusCode::INTERNAL_SERVER_ERROR,
        description: "`server_error`: an internal failure, logged with the request id.",
        header: None,
    },
    Refusal {
        name: "Unavailable",
        status: StatusCode::SERVICE_UNAVAILABLE,
        description: "`temporarily_unavailable`: the store is unreachable, or every password \
            checker is busy.",
        header: Some((
            "Retry-After",
            Type::Integer,
            "Seconds to wait before trying again.",
        )),
    },
];

/// The whole document for the server at `issuer`, from what the routes gave: its server, the
/// bearer-token scheme applied to every operation, and each operation's refusals.
pub fn complete(mut document: OpenApi, issuer: &Issuer) -> OpenApi {
    document.servers = Some(vec![Server::new(issuer.as_str())]);
    let scheme = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(format!(
            "An access token of this server (RFC 9068) issued by the client credentials grant \
             (RFC 6749 §4.4) at {} to an admin client holding the `{ADMIN_SCOPE}` scope \
             (`latchkey admin bootstrap` creates one), sent as `Authorization: Bearer` \
             (RFC 6750 §2.1).",
            issuer.endpoint(TOKEN_PATH)
        )))
        .build();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(ADMIN_TOKEN, SecurityScheme::Http(scheme));
    for refusal in &REFUSALS {
        components
            .responses
            .insert(refusal.name.to_owned(), RefOr::T(response(refusal)));
    }
    // The root requirement applies to every operation that does not override it, and none does
    // (OpenAPI 3.1, OpenAPI Object `security`); since 3.1 a requirement of a scheme other than
    // OAuth 2.0 may list the roles it needs, here the scope (Security Requirement Object).
    document.security = Some(vec![SecurityRequirement::new(ADMIN_TOKEN, [ADMIN_SCOPE])]);
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            let names_something = operation.parameters.iter().flatten().any(
                |parameter| matches!(parameter, RefOr::T(p) if p.parameter_in == ParameterIn::Path),
            );
            for refusal in &REFUSALS {
                if refusal.status == StatusCode::NOT_FOUND && !names_something {
                    continue;
                }
                operation.responses.responses.insert(
                    refusal.status.as_str().to_owned(),
                    RefOr::Ref(Ref::from_response_name(refusal.name)),
                );
            }
        }
    }
    document
}

/// The operations of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// A refusal as an OpenAPI response: the error body, and its header.
fn response(refusal: &Refusal) -> utoipa::openapi::Response {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    let mut response = ResponseBuilder::new()
        .description(refusal.description)
        .content("application/json", body);
    if let Some((name, kind, description)) = &refusal.header {
        let header = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(kind.clone())))
            .description(Some(*description))
            .build();
        response = response.header(*name, header);
    }
    response.build()
}

/// The document as served: rendered once, when the router is built.
#[derive(Clone)]
pub struct Document(Option<Bytes>);

impl Document {
    /// Render `document` (a failure is logged, and the document answered as a `500`).
    pub fn render(document: &OpenApi) -> Self {
        match serde_json::to_vec(document) {
            Ok(json) => Self(Some(Bytes::from(json))),
            Err(err) => {
                tracing::error!(error = %err, "the admin API's OpenAPI document cannot be rendered");
                Self(None)
            }
        }
    }

    /// `GET /admin/v1/openapi.json`: without a token, since it describes the API and holds no
    /// secret; cacheable for a few minutes (it changes only with the server's version or issuer),
    /// and readable cross-origin by browser-based API tools.
    pub fn response(&self) -> Response {
        let Some(json) = &self.0 else {
            return crate::error::OAuthError::server_error().into_response();
        };
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ),
            ],
            json.clone(),
        )
            .into_response()
    }
}
