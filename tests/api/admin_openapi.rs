//! The admin API's OpenAPI document (`GET /admin/v1/openapi.json`), read with an independent OpenAPI
//! 3.1 parser (`oas3`) as a client generator would read it: every admin route is in it with its
//! methods, path parameters, refusals and the bearer token it needs; every operation it documents is
//! routed; and each answer of the admin API is one it documents, shaped as its schema says.

use std::collections::{BTreeMap, BTreeSet};

use latchkey::admin::audit::{DEFAULT_LIMIT, MAX_LIMIT};
use latchkey::domain::audit::EventType;
use oas3::Spec;
use oas3::spec::{
    ObjectOrReference, ObjectSchema, ParameterIn, Schema, SchemaType as Type, SecurityScheme,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{bootstrap, call, token};
use crate::helpers::{Backend, TestApp, text};

crate::backend_tests!(
    the_openapi_document_describes_every_admin_route_and_needs_no_token,
    every_documented_operation_is_routed_and_refuses_a_call_without_a_token,
    every_documented_not_found_is_what_a_missing_name_gets,
    every_admin_answer_is_documented_and_shaped_as_its_schema_says,
    an_issuer_with_a_path_serves_the_document_under_it_as_its_server,
);

/// Every admin route the server serves: method and path template.
const ADMIN_ROUTES: [(&str, &str); 48] = [
    ("GET", "/admin/v1/clients"),
    ("POST", "/admin/v1/clients"),
    ("GET", "/admin/v1/clients/{client_id}"),
    ("PUT", "/admin/v1/clients/{client_id}"),
    ("DELETE", "/admin/v1/clients/{client_id}"),
    ("POST", "/admin/v1/clients/{client_id}/secret"),
    ("PUT", "/admin/v1/clients/{client_id}/roles/{role}"),
    ("DELETE", "/admin/v1/clients/{client_id}/roles/{role}"),
    ("GET", "/admin/v1/users"),
    ("POST", "/admin/v1/users"),
    ("GET", "/admin/v1/users/{username}"),
    ("DELETE", "/admin/v1/users/{username}"),
    ("PUT", "/admin/v1/users/{username}/password"),
    ("POST", "/admin/v1/users/{username}/disable"),
    ("POST", "/admin/v1/users/{username}/enable"),
    ("POST", "/admin/v1/users/{username}/revoke-sessions"),
    ("POST", "/admin/v1/users/{username}/mfa/reset"),
    ("PUT", "/admin/v1/users/{username}/roles/{role}"),
    ("DELETE", "/admin/v1/users/{username}/roles/{role}"),
    ("GET", "/admin/v1/apis"),
    ("POST", "/admin/v1/apis"),
    ("GET", "/admin/v1/apis/{audience}"),
    ("PATCH", "/admin/v1/apis/{audience}"),
    ("DELETE", "/admin/v1/apis/{audience}"),
    ("GET", "/admin/v1/scopes"),
    ("POST", "/admin/v1/scopes"),
    ("DELETE", "/admin/v1/scopes/{name}"),
    ("GET", "/admin/v1/roles"),
    ("POST", "/admin/v1/roles"),
    ("GET", "/admin/v1/roles/{name}"),
    ("PATCH", "/admin/v1/roles/{name}"),
    ("DELETE", "/admin/v1/roles/{name}"),
    ("GET", "/admin/v1/groups"),
    ("POST", "/admin/v1/groups"),
    ("GET", "/admin/v1/groups/{name}"),
    ("DELETE", "/admin/v1/groups/{name}"),
    ("PUT", "/admin/v1/groups/{name}/members/{username}"),
    ("DELETE", "/admin/v1/groups/{name}/members/{username}"),
    ("PUT", "/admin/v1/groups/{name}/roles/{role}"),
    ("DELETE", "/admin/v1/groups/{name}/roles/{role}"),
    ("GET", "/admin/v1/keys"),
    ("POST", "/admin/v1/keys/rotate"),
    ("GET", "/admin/v1/registration-tokens"),
    ("POST", "/admin/v1/registration-tokens"),
    ("DELETE", "/admin/v1/registration-tokens/{token_id}"),
    ("GET", "/admin/v1/audit-events"),
    ("POST", "/admin/v1/apply"),
    ("GET", "/admin/v1/export"),
];

/// `GET /admin/v1/openapi.json` without a token, parsed by `oas3`.
async fn document(app: &TestApp) -> Spec {
    let response = app.get("/admin/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    oas3::from_json(&body).unwrap_or_else(|err| panic!("not an OpenAPI 3.1 document: {err}"))
}

/// The parameter names of a path template (`/a/{b}/c/{d}`: `b`, `d`).
fn template_names(template: &str) -> BTreeSet<String> {
    template
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// `template` with each parameter replaced by `value(name)`, percent-encoded.
fn fill(template: &str, value: impl Fn(&str) -> String) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => percent_encoding::utf8_percent_encode(
                    &value(name),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string(),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// The object schema `schema` is, its references resolved.
fn object(spec: &Spec, schema: &Schema) -> ObjectSchema {
    match schema.resolve(spec).unwrap() {
        Schema::Object(resolved) => match *resolved {
            ObjectOrReference::Object(object) => object,
            ObjectOrReference::Ref { ref_path, .. } => panic!("unresolved {ref_path}"),
        },
        Schema::Boolean(_) => panic!("a boolean schema"),
    }
}

/// The properties an object schema documents (its own and its `allOf` parts'), and those it
/// requires.
fn properties(spec: &Spec, schema: &Schema) -> (BTreeMap<String, Schema>, BTreeSet<String>) {
    let object = object(spec, schema);
    let mut properties: BTreeMap<String, Schema> = object.properties.into_iter().collect();
    let mut required: BTreeSet<String> = object.required.into_iter().collect();
    for part in &object.all_of {
        let (more, also) = self::properties(spec, part);
        properties.extend(more);
        required.extend(also);
    }
    (properties, required)
}

/// The field names of a JSON object.
fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// `value` is what `schema` describes: its JSON type, its enum, and for an object the properties
/// the schema documents (every required one, none undocumented), each as documented.
fn assert_conforms(spec: &Spec, schema: &Schema, value: &Value, at: &str) {
    let object = object(spec, schema);
    let nullable = object
        .schema_type
        .as_ref()
        .is_some_and(|t| t.contains(Type::Null));
    if value.is_null() && nullable {
        return;
    }
    let is_object = object
        .schema_type
        .as_ref()
        .is_some_and(|t| t.contains(Type::Object))
        || !object.properties.is_empty()
        || !object.all_of.is_empty();
    if is_object {
        let (properties, required) = properties(spec, schema);
        let documented: BTreeSet<String> = properties.keys().cloned().collect();
        // A property that is not required may be left out (`latchkey export` leaves out empty
        // lists and absent values); every field sent must be documented.
        assert!(
            keys(value).is_subset(&documented),
            "{at}: undocumented fields {:?}",
            keys(value).difference(&documented).collect::<Vec<_>>()
        );
        assert!(
            required.is_subset(&keys(value)),
            "{at}: a required field is missing"
        );
        for (name, property) in &properties {
            if let Some(field) = value.get(name) {
                assert_conforms(spec, property, field, &format!("{at}.{name}"));
            }
        }
        return;
    }
    if !object.enum_values.is_empty() {
        assert!(
            object.enum_values.contains(value),
            "{at}: {value} is not in the enum"
        );
    }
    let Some(types) = &object.schema_type else {
        return; // any value (an audit event's `detail`)
    };
    let kind = match value {
        Value::Null => Type::Null,
        Value::Bool(_) => Type::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => Type::Integer,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::Array(_) => Type::Array,
        Value::Object(_) => Type::Object,
    };
    assert!(
        types.contains(kind),
        "{at}: {value} is not of type {types:?}"
    );
    if let (Value::Array(items), Some(item)) = (value, &object.items) {
        for (index, element) in items.iter().enumerate() {
            assert_conforms(spec, item, element, &format!("{at}[{index}]"));
        }
    }
}

/// The audience of the API the calls name.
const ORDERS: &str = "https://orders.example.com";

/// The admin API as one admin client calls it, checking each answer against the document.
struct Documented<'a> {
    app: &'a TestApp,
    spec: Spec,
    token: String,
    /// The client the calls name.
    client_id: String,
    /// The initial access token the calls name.
    token_id: String,
    /// The operations called so far.
    called: BTreeSet<(String, String)>,
}

impl Documented<'_> {
    /// What a call names by the parameter `name` of `template`: the one API, scope, role, group,
    /// user and client of the test.
    fn value(&self, template: &str, name: &str) -> String {
        let value = match name {
            "audience" => ORDERS,
            "client_id" => &self.client_id,
            "token_id" => &self.token_id,
            "username" => "alice",
            "role" => "clerk",
            "name" if template.starts_with("/admin/v1/roles") => "clerk",
            "name" if template.starts_with("/admin/v1/groups") => "staff",
            "name" => "reports",
            _ => panic!("{template}: what is {name}?"),
        };
        value.to_owned()
    }

    /// Call `operation` ("METHOD /template") with the admin's token and `body`: the answer must be
    /// `expected`, a status the operation documents, with a body shaped as that response's schema
    /// says (none where it documents none). The body.
    async fn call(&mut self, operation: &str, body: Option<Value>, expected: u16) -> Value {
        let (method, template) = operation.split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        let path = fill(template, |name| self.value(template, name));
        let (status, _, answer) =
            call(self.app, method.clone(), &path, Some(&self.token), body).await;
        assert_eq!(status, expected, "{operation}: {answer}");
        let documented = self.spec.operation(&method, template);
        let responses = documented.unwrap_or_else(|| panic!("{operation} is not documented"));
        let responses = responses.responses(&self.spec);
        let response = responses.get(&status.to_string());
        let response =
            response.unwrap_or_else(|| panic!("{operation}: {status} is not documented"));
        match response.content.get("application/json") {
            Some(content) => {
                let schema = content.schema(&self.spec).unwrap().unwrap();
                assert_conforms(
                    &self.spec,
                    &schema,
                    &answer,
                    &format!("{operation} {status}"),
                );
            }
            None => assert_eq!(
                answer,
                Value::Null,
                "{operation} {status}: an undocumented body"
            ),
        }
        self.called
            .insert((method.to_string(), template.to_owned()));
        answer
    }

    /// The properties documented for the `200` answer of `GET template`.
    fn shown(&self, template: &str) -> BTreeSet<String> {
        let operation = self.spec.operation(&Method::GET, template).unwrap();
        let responses = operation.responses(&self.spec);
        let content = responses
            .get("200")
            .unwrap()
            .content
            .get("application/json")
            .unwrap();
        let schema = content.schema(&self.spec).unwrap().unwrap();
        properties(&self.spec, &schema).0.into_keys().collect()
    }
}

async fn the_openapi_document_describes_every_admin_route_and_needs_no_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    // No token: the document describes the API and holds no secret. Cacheable for a few minutes.
    let response = app.get("/admin/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("cache-control"), "public, max-age=300");
    let spec = document(&app).await;
    let version = spec.validate_version().unwrap();
    assert_eq!((version.major, version.minor), (3, 1));
    assert_eq!(spec.servers[0].url, app.state.settings.issuer.as_str());

    // Every admin route with its methods, and nothing else.
    let documented: BTreeSet<(String, String)> = spec
        .operations()
        .map(|(path, method, _)| (method.to_string(), path))
        .collect();
    let expected: BTreeSet<(String, String)> = ADMIN_ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    // The admin token: an HTTP bearer scheme, required with `latchkey:admin` by the whole document,
    // and no operation sets it aside.
    let components = spec.components.as_ref().unwrap();
    match components
        .security_schemes
        .get("admin_token")
        .unwrap()
        .resolve(&spec)
        .unwrap()
    {
        SecurityScheme::Http {
            scheme,
            bearer_format,
            ..
        } => {
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{scheme}");
            assert_eq!(bearer_format.as_deref(), Some("JWT"));
        }
        other => panic!("not a bearer scheme: {other:?}"),
    }
    assert_eq!(spec.security.len(), 1);
    assert_eq!(
        spec.security[0].0.get("admin_token"),
        Some(&vec!["latchkey:admin".to_owned()])
    );

    let tags: BTreeSet<&str> = spec.tags.iter().map(|tag| tag.name.as_str()).collect();
    let mut operation_ids = BTreeSet::new();
    for (path, method, operation) in spec.operations() {
        let at = format!("{method} {path}");
        assert!(
            operation.security.is_empty(),
            "{at} sets the admin token aside"
        );
        let id = operation.operation_id.clone().unwrap();
        assert!(operation_ids.insert(id), "{at}: its operationId is taken");
        assert!(!operation.tags.is_empty(), "{at} has no tag");
        assert!(
            operation.tags.iter().all(|tag| tags.contains(tag.as_str())),
            "{at}"
        );
        assert!(operation.summary.is_some(), "{at} has no summary");
        // Its path parameters are the template's, each required.
        let parameters = operation.parameters(&spec).unwrap();
        let in_path: BTreeSet<String> = parameters
            .iter()
            .filter(|parameter| parameter.location == ParameterIn::Path)
            .inspect(|parameter| assert_eq!(parameter.required, Some(true), "{at}"))
            .map(|parameter| parameter.name.clone())
            .collect();
        assert_eq!(in_path, template_names(&path), "{at}");
        // A success, and the refusals with their `{"error", "error_description"}` body; `404`
        // exactly where the path names something.
        let responses = operation.responses(&spec);
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{at}"
        );
        let mut refusals = vec!["400", "401", "403", "500", "503"];
        if in_path.is_empty() {
            assert!(!responses.contains_key("404"), "{at} names nothing to find");
        } else {
            refusals.push("404");
        }
        for status in refusals {
            let response = responses
                .get(status)
                .unwrap_or_else(|| panic!("{at} does not document {status}"));
            let schema = response
                .content
                .get("application/json")
                .unwrap()
                .schema(&spec)
                .unwrap()
                .unwrap();
            let (fields, required) = properties(&spec, &schema);
            assert_eq!(
                fields.keys().map(String::as_str).collect::<Vec<_>>(),
                ["error", "error_description"],
                "{at} {status}"
            );
            assert_eq!(
                required,
                BTreeSet::from(["error".to_owned()]),
                "{at} {status}"
            );
        }
        for status in ["401", "403"] {
            assert!(
                responses
                    .get(status)
                    .unwrap()
                    .headers
                    .contains_key("WWW-Authenticate"),
                "{at}"
            );
        }
        assert!(
            responses
                .get("503")
                .unwrap()
                .headers
                .contains_key("Retry-After"),
            "{at}"
        );
    }

    // The audit trail's filters, as `latchkey audit list` takes them.
    let audit = spec
        .operation(&Method::GET, "/admin/v1/audit-events")
        .unwrap();
    let parameters = audit.parameters(&spec).unwrap();
    let names: Vec<&str> = parameters
        .iter()
        .filter(|parameter| parameter.location == ParameterIn::Query)
        .map(|parameter| parameter.name.as_str())
        .collect();
    assert_eq!(names, ["user", "client", "type", "since", "limit"]);
    let schema_of = |name: &str| {
        let parameter = parameters.iter().find(|p| p.name == name).unwrap();
        object(&spec, parameter.schema.as_ref().unwrap())
    };
    let limit = schema_of("limit");
    assert_eq!(limit.minimum, Some(1.into()));
    assert_eq!(limit.maximum, Some(MAX_LIMIT.into()));
    assert_eq!(limit.default, Some(json!(DEFAULT_LIMIT)));
    let types: Vec<Value> = EventType::ALL.iter().map(|t| json!(t.as_str())).collect();
    assert_eq!(schema_of("type").enum_values, types);
}

async fn every_documented_operation_is_routed_and_refuses_a_call_without_a_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let spec = document(&app).await;
    // An operation missing from the router would answer 404 or 405, not the RFC 6750 challenge.
    for (path, method, _) in spec.operations() {
        let at = format!("{method} {path}");
        let path = fill(&path, |_| "anything".to_owned());
        let (status, challenge, refusal) = call(&app, method, &path, None, None).await;
        assert_eq!(status, 401, "{at}: {refusal}");
        assert!(challenge.starts_with("Bearer"), "{at}: {challenge}");
        assert_eq!(refusal, json!({ "error": "invalid_token" }), "{at}");
    }
}

async fn every_documented_not_found_is_what_a_missing_name_gets(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (id, secret) = bootstrap(&app);
    app.clock.advance(10); // past the client cache
    let admin = token(&app, &id, &secret, "latchkey:admin").await;
    let spec = document(&app).await;
    let mut checked = 0;
    for (path, method, operation) in spec.operations() {
        let responses = operation.responses(&spec);
        if !responses.contains_key("404") {
            continue;
        }
        let at = format!("{method} {path}");
        // Names that exist nowhere (an audience must be an absolute URI to be looked up at all).
        let missing = fill(&path, |name| match name {
            "audience" => "https://missing.example.com".to_owned(),
            _ => "missing".to_owned(),
        });
        // A body with what the documented request body requires (every such field is a string),
        // so the name is looked up rather than the body refused.
        let body = operation.request_body(&spec).unwrap().map(|request| {
            let schema = request
                .content
                .get("application/json")
                .unwrap()
                .schema(&spec)
                .unwrap()
                .unwrap();
            let (_, required) = properties(&spec, &schema);
            Value::Object(
                required
                    .into_iter()
                    .map(|field| (field, json!("x")))
                    .collect(),
            )
        });
        let (status, _, refusal) = call(&app, method, &missing, Some(&admin), body).await;
        assert_eq!(status, 404, "{at}: {refusal}");
        assert_eq!(refusal["error"], "not_found", "{at}");
        checked += 1;
    }
    assert_eq!(checked, 29, "every operation whose path names something");
}

async fn every_admin_answer_is_documented_and_shaped_as_its_schema_says(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (id, secret) = bootstrap(&app);
    app.clock.advance(10); // past the client cache
    let mut api = Documented {
        app: &app,
        spec: document(&app).await,
        token: token(&app, &id, &secret, "latchkey:admin").await,
        client_id: String::new(),
        token_id: String::new(),
        called: BTreeSet::new(),
    };
    let registration = json!({
        "name": "Orders web",
        "redirect_uris": ["https://orders.example.com/cb"],
        "scope": "openid",
    });
    let created = api
        .call("POST /admin/v1/clients", Some(registration.clone()), 201)
        .await;
    assert!(
        created["client_secret"].is_string(),
        "a confidential client's secret, once"
    );
    api.client_id = text(&created, "client_id");
    let password = "a long and unusual passphrase 77";
    let user = json!({ "username": "alice", "email": "alice@example.com", "password": password });
    api.call("POST /admin/v1/users", Some(user), 201).await;

    // A client and a user as shown: exactly the properties their schemas document.
    let client = api
        .call("GET /admin/v1/clients/{client_id}", None, 200)
        .await;
    let documented = api.shown("/admin/v1/clients/{client_id}");
    assert_eq!(keys(&client), documented);
    assert!(documented.contains("client_id") && !documented.contains("client_secret"));
    let alice = api.call("GET /admin/v1/users/{username}", None, 200).await;
    let documented = api.shown("/admin/v1/users/{username}");
    assert_eq!(keys(&alice), documented);
    assert!(documented.contains("username") && !documented.contains("password_hash"));

    // An initial access token (RFC 7591 §3): its value once, never in the list.
    let created = api
        .call(
            "POST /admin/v1/registration-tokens",
            Some(json!({ "expires_in": 3600, "max_uses": 2 })),
            201,
        )
        .await;
    assert!(text(&created, "registration_token").starts_with("lk_iat_"));
    api.token_id = text(&created, "token_id");
    let listed = api
        .call("GET /admin/v1/registration-tokens", None, 200)
        .await;
    assert_eq!(listed[0]["max_uses"], 2);
    assert!(listed[0].get("registration_token").is_none());
    api.call("DELETE /admin/v1/registration-tokens/{token_id}", None, 204)
        .await;

    // Every other operation, each answer checked against the document.
    let steps = [
        (
            "POST /admin/v1/apis",
            Some(json!({ "audience": ORDERS, "name": "Orders" })),
            201,
        ),
        (
            "POST /admin/v1/scopes",
            Some(json!({ "name": "reports", "description": "Read reports", "api": ORDERS })),
            201,
        ),
        (
            "POST /admin/v1/roles",
            Some(json!({ "name": "clerk", "api": ORDERS, "scopes": ["reports"] })),
            201,
        ),
        (
            "POST /admin/v1/groups",
            Some(json!({ "name": "staff" })),
            201,
        ),
        ("PUT /admin/v1/groups/{name}/members/{username}", None, 200),
        ("PUT /admin/v1/groups/{name}/roles/{role}", None, 200),
        ("PUT /admin/v1/users/{username}/roles/{role}", None, 200),
        ("PUT /admin/v1/clients/{client_id}/roles/{role}", None, 200),
        ("GET /admin/v1/roles/{name}", None, 200),
        ("GET /admin/v1/groups/{name}", None, 200),
        (
            "DELETE /admin/v1/groups/{name}/members/{username}",
            None,
            200,
        ),
        (
            "DELETE /admin/v1/groups/{name}/members/{username}",
            None,
            400,
        ),
        ("DELETE /admin/v1/groups/{name}/roles/{role}", None, 200),
        ("DELETE /admin/v1/users/{username}/roles/{role}", None, 200),
        (
            "DELETE /admin/v1/clients/{client_id}/roles/{role}",
            None,
            200,
        ),
        (
            "PATCH /admin/v1/apis/{audience}",
            Some(json!({ "rbac": true })),
            200,
        ),
        (
            "PATCH /admin/v1/roles/{name}",
            Some(json!({ "require_mfa": true })),
            200,
        ),
        ("GET /admin/v1/apis/{audience}", None, 200),
        ("PUT /admin/v1/clients/{client_id}", Some(registration), 200),
        ("POST /admin/v1/clients/{client_id}/secret", None, 200),
        (
            "PUT /admin/v1/users/{username}/password",
            Some(json!({ "password": "another unusual passphrase 78" })),
            200,
        ),
        ("POST /admin/v1/users/{username}/disable", None, 200),
        ("POST /admin/v1/users/{username}/enable", None, 200),
        ("POST /admin/v1/users/{username}/revoke-sessions", None, 200),
        ("POST /admin/v1/users/{username}/mfa/reset", None, 200),
        (
            "POST /admin/v1/keys/rotate",
            Some(json!({ "alg": "ES256" })),
            200,
        ),
        ("GET /admin/v1/clients", None, 200),
        ("GET /admin/v1/users", None, 200),
        ("GET /admin/v1/apis", None, 200),
        ("GET /admin/v1/scopes", None, 200),
        ("GET /admin/v1/roles", None, 200),
        ("GET /admin/v1/groups", None, 200),
        ("GET /admin/v1/keys", None, 200),
        ("GET /admin/v1/audit-events", None, 200),
        ("GET /admin/v1/export", None, 200),
        (
            "POST /admin/v1/apply",
            Some(json!({
                "document": { "scopes": [{ "name": "extra", "description": "Extra" }] },
                "dry_run": true,
            })),
            200,
        ),
        // The API keeps its scope and role: the documented 400.
        ("DELETE /admin/v1/apis/{audience}", None, 400),
        ("DELETE /admin/v1/roles/{name}", None, 204),
        ("DELETE /admin/v1/groups/{name}", None, 204),
        ("DELETE /admin/v1/clients/{client_id}", None, 204),
        ("DELETE /admin/v1/scopes/{name}", None, 204),
        ("DELETE /admin/v1/users/{username}", None, 204),
        ("DELETE /admin/v1/apis/{audience}", None, 204),
    ];
    for (operation, body, expected) in steps {
        let answer = api.call(operation, body, expected).await;
        if operation.starts_with("GET") && !operation.contains('{') {
            // A list, or the exported document: something to check either way.
            let empty = match &answer {
                Value::Array(items) => items.is_empty(),
                other => keys(other).is_empty(),
            };
            assert!(!empty, "{operation}: nothing to check");
        }
    }
    // Every admin route was called.
    let every: BTreeSet<(String, String)> = ADMIN_ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(api.called, every);
}

async fn an_issuer_with_a_path_serves_the_document_under_it_as_its_server(backend: Backend) {
    let app = TestApp::spawn_with_issuer_path(&backend, "/tenant").await;
    let spec = document(&app).await;
    // The documented paths resolve against the server: the issuer, with its path.
    let server = &spec.servers[0].url;
    assert_eq!(server, &app.address);
    assert!(server.ends_with("/tenant"), "{server}");
    let response = app
        .http
        .get(format!("{server}/admin/v1/clients"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "served under the issuer's path");
    let root = app.address.trim_end_matches("/tenant");
    let response = app
        .http
        .get(format!("{root}/admin/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "nothing at the host's root");
}
