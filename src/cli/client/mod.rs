//! `latchkey client …`: register, inspect, change and remove OAuth clients.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::view::{self, shown};
use super::{CliError, Context, Local, Via, remote};
use crate::admin::Change;
use crate::admin::client::{self as admin_client, ClientView, registration};
use crate::admin::role as admin_role;
use crate::clock::format_rfc3339;
use crate::domain::client::{AuthMethod, Client, ClientSpec};
use crate::domain::role::RoleName;
use crate::paths::{
    ADMIN_CLIENT_PATH, ADMIN_CLIENT_ROLE_PATH, ADMIN_CLIENT_SECRET_PATH, ADMIN_CLIENTS_PATH,
};

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and, for confidential clients, its secret (shown once).
    Create(CreateArgs),
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// The client id.
        client_id: String,
    },
    /// Change a client; a list flag given replaces that whole list.
    Update(UpdateArgs),
    /// Delete a client and every grant and token issued to it.
    Delete {
        /// The client id.
        client_id: String,
    },
    /// Replace a confidential client's secret; prints the new secret (shown once).
    RotateSecret {
        /// The client id.
        client_id: String,
    },
    /// Give a (service) client a role, carried by its client-credentials tokens.
    AddRole {
        /// The client id.
        client_id: String,
        /// The role name.
        role: String,
    },
    /// Take a role from a client.
    RemoveRole {
        /// The client id.
        client_id: String,
        /// The role name.
        role: String,
    },
}

/// `client create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Display name, shown on the consent page.
    #[arg(long)]
    name: String,
    /// Choose the client id (default: 128 random bits).
    #[arg(long)]
    client_id: Option<String>,
    /// A redirect URI (repeatable; exact match, RFC 6749 §3.1.2).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A grant type: authorization_code, client_credentials, refresh_token, token_exchange (RFC 8693)
    /// (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Space-delimited scopes the client may request (each must exist).
    #[arg(long, default_value = "")]
    scope: String,
    /// client_secret_basic, client_secret_post, client_secret_jwt (HS256 assertions MACed with the
    /// secret, which is then also kept sealed under the key-encryption secret), private_key_jwt, or
    /// none (a public client).
    #[arg(long, default_value = "client_secret_basic")]
    auth_method: String,
    /// First-party client: users are not asked for consent.
    #[arg(long)]
    skip_consent: bool,
    /// A resource server that may introspect any token.
    #[arg(long)]
    introspect_any: bool,
    /// Start sign-ins only with pushed authorization requests (RFC 9126 §6, `/par`).
    #[arg(long)]
    require_par: bool,
    /// Every token request must carry a DPoP proof, so every token is bound to the client's key
    /// (RFC 9449 §5.2 `dpop_bound_access_tokens`).
    #[arg(long)]
    require_dpop: bool,
    /// Bind the client's access tokens to the certificate it connects with (RFC 8705 §3): they
    /// carry `cnf.x5t#S256` and are useless without that certificate.
    #[arg(long)]
    tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected subject DN of the client's certificate (RFC 4514, e.g. "CN=service-a,O=Example"). Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN DNs of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN uri of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN ip of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN email of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_email: Option<String>,
    /// A file holding the client's public keys as a JWK set (RFC 7517 §5), for
    /// `--auth-method private_key_jwt` (RFC 7523 §2.2).
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// Where the client publishes its public keys instead of `--jwks` (https; fetched and cached).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Where the client receives logout tokens when a user's session ends (OIDC Back-Channel
    /// Logout §2.2): https, or http for a confidential client.
    #[arg(long, value_name = "URL")]
    backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens (OIDC Back-Channel Logout §2.2).
    #[arg(long)]
    backchannel_logout_session_required: bool,
    /// Let a confidential client skip PKCE (public clients always use it).
    #[arg(long)]
    allow_no_pkce: bool,
    /// Sign this client's ID tokens with RS256, ES256 or EdDSA (default: the server's --id-token-alg).
    #[arg(long = "id-token-signed-response-alg")]
    id_token_signed_response_alg: Option<String>,
    /// `web` (exact redirect URI matching) or `native` (RFC 8252: any loopback port, private-use
    /// schemes, always asked for consent when public). OIDC Dynamic Registration §2.
    #[arg(long, default_value = "web")]
    application_type: String,
    /// An API (its audience) the client may ask tokens for with `resource` (RFC 8707); repeatable.
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// The API its tokens are for when a request names none and its scopes do not tell.
    #[arg(long)]
    default_resource: Option<String>,
    /// The API (audience) this client is the resource server of: it may introspect that API's
    /// tokens (RFC 7662 §2.1). A confidential client.
    #[arg(long)]
    api: Option<String>,
    /// An API (audience) it may exchange a user's access token for (RFC 8693, with
    /// `--grant-type token_exchange`); repeatable.
    #[arg(long = "may-exchange-for")]
    may_exchange_for: Vec<String>,
}

/// `client update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The client id.
    client_id: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    /// Replace the redirect URIs (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Replace the post-logout redirect URIs (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Replace the grant types (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Replace the allowed scopes.
    #[arg(long)]
    scope: Option<String>,
    /// Switch between client_secret_basic and client_secret_post.
    #[arg(long)]
    auth_method: Option<String>,
    /// First-party client (true/false).
    #[arg(long)]
    skip_consent: Option<bool>,
    /// Resource server (true/false).
    #[arg(long)]
    introspect_any: Option<bool>,
    /// Only pushed authorization requests (true/false).
    #[arg(long)]
    require_par: Option<bool>,
    /// Only DPoP-bound tokens (true/false).
    #[arg(long)]
    require_dpop: Option<bool>,
    /// Certificate-bound access tokens (true/false).
    #[arg(long)]
    tls_client_certificate_bound_access_tokens: Option<bool>,
    /// Replace what names the client in its certificate with this subject DN (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_subject_dn: Option<String>,
    /// Replace what names the client in its certificate with this SAN DNs (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_dns: Option<String>,
    /// Replace what names the client in its certificate with this SAN uri (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_uri: Option<String>,
    /// Replace what names the client in its certificate with this SAN ip (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_ip: Option<String>,
    /// Replace what names the client in its certificate with this SAN email (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_email: Option<String>,
    /// Replace the client's public keys with the JWK set in this file (`private_key_jwt`).
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// Replace where the client publishes its keys (instead of `--jwks`).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Where the client receives logout tokens (an empty value removes it).
    #[arg(long, value_name = "URL")]
    backchannel_logout_uri: Option<String>,
    /// It needs `sid` in logout tokens (true/false).
    #[arg(long)]
    backchannel_logout_session_required: Option<bool>,
    /// Let a confidential client skip PKCE (true/false).
    #[arg(long)]
    allow_no_pkce: Option<bool>,
    /// ID token signing algorithm (RS256, ES256, EdDSA; an empty value returns to the server default).
    #[arg(long = "id-token-signed-response-alg")]
    id_token_signed_response_alg: Option<String>,
    /// `web` or `native`.
    #[arg(long)]
    application_type: Option<String>,
    /// Replace the APIs the client may ask for (repeatable).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// The default API (an empty value removes it).
    #[arg(long)]
    default_resource: Option<String>,
    /// The API this client is the resource server of (an empty value removes it).
    #[arg(long)]
    api: Option<String>,
    /// Replace the APIs it may exchange tokens for (repeatable).
    #[arg(long = "may-exchange-for")]
    may_exchange_for: Vec<String>,
}

/// The text of `client show` and the other commands that print one client.
fn describe(c: &view::Client) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(" ")
        }
    };
    format!(
        "client_id:                 {}\nname:                      {}\napplication_type:          {}\n\
         auth_method:               {}\n\
         redirect_uris:             {}\npost_logout_redirect_uris: {}\ngrant_types:               {}\n\
         scope:                     {}\nrequire_pkce:              {}\nskip_consent:              {}\n\
         introspect_any:            {}\nrequire_par:               {}\nrequire_dpop:              {}\n\
         created:                   {}\n\
         updated:                   {}\n",
        c.client_id,
        c.client_name,
        c.application_type,
        c.auth_method,
        list(&c.redirect_uris),
        list(&c.post_logout_redirect_uris),
        list(&c.grant_types),
        if c.scope.is_empty() { "-" } else { &c.scope },
        c.require_pkce,
        c.skip_consent,
        c.introspect_any,
        c.require_par,
        c.require_dpop,
        format_rfc3339(c.created_at),
        format_rfc3339(c.updated_at),
    )
}

/// The text of `client list`.
fn table(clients: &[view::Client]) -> String {
    let mut text = format!(
        "{:<24} {:<20} {:<20} {}\n",
        "CLIENT_ID", "AUTH_METHOD", "GRANT_TYPES", "NAME"
    );
    for c in clients {
        text.push_str(&format!(
            "{:<24} {:<20} {:<20} {}\n",
            c.client_id,
            c.auth_method,
            c.grant_types.join(","),
            c.client_name
        ));
    }
    text
}

/// The JWK set in the file at `path` (checked by the registration rules, not here).
fn read_jwks(path: &std::path::Path) -> Result<String, CliError> {
    super::read_text(path, 64 * 1024, "--jwks")
}

/// A registration as the admin API takes it (`POST`, `PUT /admin/v1/clients…`): the CLI's options.
fn body(client_id: Option<&str>, spec: &ClientSpec) -> serde_json::Value {
    let mut body = serde_json::json!({
        "name": spec.client_name,
        "redirect_uris": spec.redirect_uris,
        "post_logout_redirect_uris": spec.post_logout_redirect_uris,
        "grant_types": spec.grant_types,
        "scope": spec.scope,
        "auth_method": spec.auth_method,
        "skip_consent": spec.skip_consent,
        "introspect_any": spec.introspect_any,
        "require_par": spec.require_par,
        "require_dpop": spec.require_dpop,
        "tls_client_certificate_bound_access_tokens": spec.tls_bound_tokens,
        "tls_client_auth_subject_dn": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "subject_dn").map(|(_, value)| value),
        "tls_client_auth_san_dns": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_dns").map(|(_, value)| value),
        "tls_client_auth_san_uri": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_uri").map(|(_, value)| value),
        "tls_client_auth_san_ip": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_ip").map(|(_, value)| value),
        "tls_client_auth_san_email": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_email").map(|(_, value)| value),
        "jwks": spec
            .jwks
            .as_deref()
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok()),
        "jwks_uri": spec.jwks_uri,
        "backchannel_logout_uri": spec.backchannel_logout_uri,
        "backchannel_logout_session_required": spec.backchannel_logout_session_required,
        "allow_no_pkce": spec.allow_no_pkce,
        "id_token_signed_response_alg": spec.id_token_alg,
        "application_type": spec.application_type,
        "resources": spec.resources,
        "default_resource": spec.default_resource,
        "api": spec.api,
        "may_exchange_for": spec.may_exchange_for,
    });
    if let Some(id) = client_id {
        body["client_id"] = id.into();
    }
    body
}

/// The registration `c` shows, to change (as `Client::to_spec`).
fn spec_of(c: &view::Client) -> ClientSpec {
    ClientSpec {
        client_name: c.client_name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        grant_types: c.grant_types.clone(),
        scope: c.scope.clone(),
        auth_method: c.auth_method.clone(),
        allow_no_pkce: !c.require_pkce,
        skip_consent: c.skip_consent,
        introspect_any: c.introspect_any,
        require_par: c.require_par,
        require_dpop: c.require_dpop,
        tls_bound_tokens: c.tls_client_certificate_bound_access_tokens,
        tls_subject: crate::domain::client::TLS_SUBJECT_FIELDS
            .iter()
            .zip([
                &c.tls_client_auth_subject_dn,
                &c.tls_client_auth_san_dns,
                &c.tls_client_auth_san_uri,
                &c.tls_client_auth_san_ip,
                &c.tls_client_auth_san_email,
            ])
            .find_map(|(kind, value)| value.clone().map(|v| ((*kind).to_owned(), v))),
        jwks: c.jwks.as_ref().map(serde_json::Value::to_string),
        jwks_uri: c.jwks_uri.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: c.backchannel_logout_session_required,
        id_token_alg: c.id_token_signed_response_alg.clone(),
        application_type: Some(c.application_type.clone()),
        resources: c.resources.clone(),
        default_resource: c.default_resource.clone(),
        api: c.api.clone(),
        may_exchange_for: c.may_exchange_for.clone(),
    }
}

impl UpdateArgs {
    /// `spec` with the options given applied; a list option given replaces its whole list.
    fn apply(self, spec: &mut ClientSpec) -> Result<(), CliError> {
        if let Some(path) = &self.jwks {
            spec.jwks = Some(read_jwks(path)?);
            spec.jwks_uri = None;
        }
        if let Some(uri) = self.jwks_uri.clone() {
            spec.jwks_uri = Some(uri);
            spec.jwks = None;
        }
        if let Some(uri) = self.backchannel_logout_uri {
            spec.backchannel_logout_uri = Some(uri).filter(|u| !u.is_empty());
        }
        if let Some(required) = self.backchannel_logout_session_required {
            spec.backchannel_logout_session_required = required;
        }
        if let Some(name) = self.name {
            spec.client_name = name;
        }
        if !self.redirect_uris.is_empty() {
            spec.redirect_uris = self.redirect_uris;
        }
        if !self.post_logout_redirect_uris.is_empty() {
            spec.post_logout_redirect_uris = self.post_logout_redirect_uris;
        }
        if !self.grant_types.is_empty() {
            spec.grant_types = self.grant_types;
        }
        if let Some(scope) = self.scope {
            spec.scope = scope;
        }
        if let Some(method) = self.auth_method {
            spec.auth_method = method;
        }
        if let Some(flag) = self.skip_consent {
            spec.skip_consent = flag;
        }
        if let Some(flag) = self.introspect_any {
            spec.introspect_any = flag;
        }
        if let Some(flag) = self.require_par {
            spec.require_par = flag;
        }
        if let Some(flag) = self.require_dpop {
            spec.require_dpop = flag;
        }
        if let Some(flag) = self.tls_client_certificate_bound_access_tokens {
            spec.tls_bound_tokens = flag;
        }
        let tls_subject = crate::domain::client::tls_subject_of([
            self.tls_client_auth_subject_dn.as_deref(),
            self.tls_client_auth_san_dns.as_deref(),
            self.tls_client_auth_san_uri.as_deref(),
            self.tls_client_auth_san_ip.as_deref(),
            self.tls_client_auth_san_email.as_deref(),
        ])
        .map_err(|e| CliError::Invalid(e.0))?;
        if tls_subject.is_some() {
            spec.tls_subject = tls_subject;
        }
        if let Some(flag) = self.allow_no_pkce {
            spec.allow_no_pkce = flag;
        }
        if let Some(alg) = self.id_token_signed_response_alg {
            spec.id_token_alg = Some(alg);
        }
        if let Some(kind) = self.application_type {
            spec.application_type = Some(kind);
        }
        if !self.resources.is_empty() {
            spec.resources = self.resources;
        }
        if let Some(default) = self.default_resource {
            spec.default_resource = Some(default);
        }
        if let Some(api) = self.api {
            spec.api = Some(api);
        }
        if !self.may_exchange_for.is_empty() {
            spec.may_exchange_for = self.may_exchange_for;
        }
        Ok(())
    }
}

impl CreateArgs {
    /// The registration these options describe.
    fn spec(self) -> Result<(Option<String>, ClientSpec), CliError> {
        let jwks = self.jwks.as_deref().map(read_jwks).transpose()?;
        let spec = ClientSpec {
            client_name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scope: self.scope,
            auth_method: self.auth_method,
            allow_no_pkce: self.allow_no_pkce,
            skip_consent: self.skip_consent,
            introspect_any: self.introspect_any,
            require_par: self.require_par,
            require_dpop: self.require_dpop,
            tls_bound_tokens: self.tls_client_certificate_bound_access_tokens,
            tls_subject: crate::domain::client::tls_subject_of([
                self.tls_client_auth_subject_dn.as_deref(),
                self.tls_client_auth_san_dns.as_deref(),
                self.tls_client_auth_san_uri.as_deref(),
                self.tls_client_auth_san_ip.as_deref(),
                self.tls_client_auth_san_email.as_deref(),
            ])
            .map_err(|e| CliError::Invalid(e.0))?,
            jwks,
            jwks_uri: self.jwks_uri,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            id_token_alg: self.id_token_signed_response_alg,
            application_type: Some(self.application_type),
            resources: self.resources,
            default_resource: self.default_resource,
            api: self.api,
            may_exchange_for: self.may_exchange_for,
        };
        Ok((self.client_id, spec))
    }
}

/// Record a client's creation in the audit trail.
pub(super) async fn record_created(local: &Local, client: &Client) -> Result<(), CliError> {
    let id = client.client_id.to_string();
    local
        .record(
            local
                .change("client", "created", &id)
                .client(id.clone())
                .with("client", registration(client)),
        )
        .await
}

/// `/admin/v1/clients/{client_id}`.
fn client_path(client_id: &str) -> Result<String, CliError> {
    remote::path(ADMIN_CLIENT_PATH, &[client_id])
}

/// Run a client command.
pub async fn run(ctx: &Context, command: ClientCommand) -> Result<(), CliError> {
    match command {
        ClientCommand::Create(args) => {
            let (client_id, spec) = args.spec()?;
            let created: view::NewClient = match &ctx.via {
                Via::Local(local) => {
                    let sealing = spec.auth_method == AuthMethod::ClientSecretJwt.as_str();
                    let kek = local.key_encryption_key(sealing).await?;
                    let (client, secret) = admin_client::create(
                        local.store.as_ref(),
                        kek.as_ref(),
                        client_id.as_deref(),
                        &spec,
                        local.clock.now(),
                    )
                    .await?;
                    record_created(local, &client).await?;
                    view::NewClient {
                        client_secret: secret.as_ref().map(|s| s.expose().to_owned()),
                        client: shown(&ClientView::from(&client))?,
                    }
                }
                Via::Server(server) => {
                    let body = body(client_id.as_deref(), &spec);
                    server
                        .call(Method::POST, ADMIN_CLIENTS_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&created, || {
                let mut text = describe(&created.client);
                if let Some(secret) = &created.client_secret {
                    text.push_str(&format!(
                        "client_secret:             {secret}\n\nStore the secret now: it is shown only once.\n"
                    ));
                }
                text
            });
            Ok(())
        }
        ClientCommand::List => {
            let clients: Vec<view::Client> = match &ctx.via {
                Via::Local(local) => {
                    let clients = local.store.list_clients().await?;
                    shown(&clients.iter().map(ClientView::from).collect::<Vec<_>>())?
                }
                Via::Server(server) => server.get(ADMIN_CLIENTS_PATH).await?,
            };
            ctx.print(&clients, || table(&clients));
            Ok(())
        }
        ClientCommand::Show { client_id } => {
            let detail: view::ClientWithRoles = match &ctx.via {
                Via::Local(local) => {
                    let client = find(local, &client_id).await?;
                    let roles = local.store.find_client_roles(&client.client_id).await?;
                    view::ClientWithRoles {
                        client: shown(&ClientView::from(&client))?,
                        roles: roles.iter().map(|r| r.to_string()).collect(),
                    }
                }
                Via::Server(server) => server.get(&client_path(&client_id)?).await?,
            };
            ctx.print(&detail, || {
                let shown = if detail.roles.is_empty() {
                    "-".to_owned()
                } else {
                    detail.roles.join(", ")
                };
                format!(
                    "{}roles:                     {shown}\n",
                    describe(&detail.client)
                )
            });
            Ok(())
        }
        ClientCommand::AddRole { client_id, role } => {
            let (id, role) = change_role(ctx, &client_id, &role, Change::Add).await?;
            ctx.print(
                &serde_json::json!({ "client_id": id, "added_role": role.as_str() }),
                || format!("client {id} now has role {role}"),
            );
            Ok(())
        }
        ClientCommand::RemoveRole { client_id, role } => {
            let (id, role) = change_role(ctx, &client_id, &role, Change::Remove).await?;
            ctx.print(
                &serde_json::json!({ "client_id": id, "removed_role": role.as_str() }),
                || format!("client {id} no longer has role {role}"),
            );
            Ok(())
        }
        ClientCommand::Update(args) => {
            let client_id = args.client_id.clone();
            let jwt = AuthMethod::ClientSecretJwt.as_str();
            let moved_to_secret_jwt: bool;
            let updated: view::Client = match &ctx.via {
                Via::Local(local) => {
                    let existing = find(local, &client_id).await?;
                    let mut spec = existing.to_spec();
                    args.apply(&mut spec)?;
                    let updated = admin_client::update(
                        local.store.as_ref(),
                        &existing,
                        &spec,
                        local.clock.now(),
                    )
                    .await?;
                    moved_to_secret_jwt = admin_client::lacks_sealed_secret(&updated);
                    let id = updated.client_id.to_string();
                    local
                        .record(
                            local
                                .change("client", "updated", &id)
                                .client(id.clone())
                                .with("before", registration(&existing))
                                .with("after", registration(&updated)),
                        )
                        .await?;
                    shown(&ClientView::from(&updated))?
                }
                Via::Server(server) => {
                    let path = client_path(&client_id)?;
                    let existing: view::Client = server.get(&path).await?;
                    let mut spec = spec_of(&existing);
                    args.apply(&mut spec)?;
                    moved_to_secret_jwt = existing.auth_method != jwt && spec.auth_method == jwt;
                    server
                        .call(Method::PUT, &path, Some(&body(None, &spec)))
                        .await?
                }
            };
            ctx.print(&updated, || {
                let mut text = describe(&updated);
                if moved_to_secret_jwt {
                    text.push_str(
                        "\nIt keeps only its secret's digest, which cannot check a client_secret_jwt assertion: \
                         run `latchkey client rotate-secret` to give it a secret it can use.\n",
                    );
                }
                text
            });
            Ok(())
        }
        ClientCommand::Delete { client_id } => {
            match &ctx.via {
                Via::Local(local) => {
                    let id = admin_client::delete(local.store.as_ref(), &client_id).await?;
                    local
                        .record(
                            local
                                .change("client", "deleted", id.as_str())
                                .client(id.to_string()),
                        )
                        .await?;
                }
                Via::Server(server) => {
                    server
                        .call_done(Method::DELETE, &client_path(&client_id)?)
                        .await?;
                }
            }
            ctx.print(&serde_json::json!({ "deleted": client_id }), || {
                format!("deleted client {client_id}")
            });
            Ok(())
        }
        ClientCommand::RotateSecret { client_id } => {
            let rotated: RotatedSecret = match &ctx.via {
                Via::Local(local) => {
                    let sealing = find(local, &client_id)
                        .await?
                        .auth_method
                        .needs_sealed_secret();
                    let kek = local.key_encryption_key(sealing).await?;
                    let (_, secret) = admin_client::rotate_secret(
                        local.store.as_ref(),
                        kek.as_ref(),
                        &client_id,
                        local.clock.now(),
                    )
                    .await?;
                    // That the secret changed, never the secret.
                    local
                        .record(
                            local
                                .change("client", "secret_rotated", &client_id)
                                .client(client_id.clone()),
                        )
                        .await?;
                    RotatedSecret {
                        client_id: client_id.clone(),
                        client_secret: secret.expose().to_owned(),
                    }
                }
                Via::Server(server) => {
                    let path = remote::path(ADMIN_CLIENT_SECRET_PATH, &[&client_id])?;
                    server.call(Method::POST, &path, None).await?
                }
            };
            ctx.print(&rotated, || {
                format!(
                    "client_id:     {}\nclient_secret: {}\n\nThe old secret no longer works. Store the new one now: it is shown only once.",
                    rotated.client_id, rotated.client_secret
                )
            });
            Ok(())
        }
    }
}

/// `client rotate-secret`: the client and its new secret (shown once).
#[derive(Serialize, Deserialize)]
struct RotatedSecret {
    client_id: String,
    client_secret: String,
}

async fn find(local: &Local, client_id: &str) -> Result<Client, CliError> {
    Ok(crate::admin::find_client(local.store.as_ref(), client_id).await?)
}

/// Give the client `client_id` the role `role`, or take it; the client's id and the role.
async fn change_role(
    ctx: &Context,
    client_id: &str,
    role: &str,
    change: Change,
) -> Result<(String, RoleName), CliError> {
    let role = admin_role::parse_name(role)?;
    match &ctx.via {
        Via::Local(local) => {
            let client =
                admin_role::client_role(local.store.as_ref(), client_id, &role, change).await?;
            let id = client.client_id.to_string();
            local
                .record(
                    local
                        .change("client", &change.action("role"), &id)
                        .client(id.clone())
                        .with("role", role.as_str()),
                )
                .await?;
            Ok((id, role))
        }
        Via::Server(server) => {
            let path = remote::path(ADMIN_CLIENT_ROLE_PATH, &[client_id, role.as_str()])?;
            let linked: Linked = server.call(remote::link(change), &path, None).await?;
            Ok((linked.client_id, role))
        }
    }
}

/// The admin API's answer to a client's role change.
#[derive(Deserialize)]
struct Linked {
    client_id: String,
}
