//! The planner: each item of a document checked by the CLI's rules (`crate::admin`) and against
//! the configuration about to be written, compared with what the store holds, and turned into
//! steps and writes (`plan::Builder`).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use super::document::{
    ApiItem, ClientItem, Document, GroupItem, RoleItem, ScopeItem, UserItem, api_item, client_item,
    role_item, scope_item,
};
use super::items::{api_of, role_of, scope_of, spec_of, supplied_secret};
use super::plan::{Builder, changed_fields, invalid, unique};
use super::{Current, Options};
use crate::admin::AdminError;
use crate::admin::client::{
    check_kind_kept, check_references_among, lacks_sealed_secret, seal_secret,
};
use crate::admin::user::NewUser;
use crate::domain::api::{Api, Audience};
use crate::domain::client::{Client, ClientId, ClientSecret, SealedSecret};
use crate::domain::configuration::Write;
use crate::domain::group::{Group, GroupName};
use crate::domain::role::{Role, RoleName};
use crate::domain::scope::{Scope, ScopeSet};
use crate::domain::user::{User, UserId, normalize_username};
use crate::keys::KeyEncryptionKey;

mod links;

/// A plan in the making: the document's objects so far, and what the configuration will hold
/// once applied (the document's objects, the OIDC scopes, and without `--prune` everything else
/// the store holds), against which references are checked.
pub(super) struct Planner<'a> {
    current: &'a Current,
    options: &'a Options,
    /// Seals `client_secret_jwt` clients' secrets; a dry run may go without.
    kek: Option<&'a KeyEncryptionKey>,
    now: i64,
    b: Builder,
    apis: Vec<Api>,
    final_apis: Vec<Audience>,
    scopes: Vec<Scope>,
    final_scopes: Vec<Scope>,
    roles: Vec<Role>,
    final_roles: Vec<RoleName>,
    users: Vec<(User, Vec<RoleName>)>,
    final_users: Vec<(String, UserId)>,
    clients: Vec<(Client, Vec<RoleName>)>,
    groups: Vec<(Group, Vec<UserId>, Vec<RoleName>)>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(
        current: &'a Current,
        options: &'a Options,
        kek: Option<&'a KeyEncryptionKey>,
        now: i64,
    ) -> Self {
        Self {
            current,
            options,
            kek,
            now,
            b: Builder::default(),
            apis: Vec::new(),
            final_apis: Vec::new(),
            scopes: Vec::new(),
            final_scopes: Vec::new(),
            roles: Vec::new(),
            final_roles: Vec::new(),
            users: Vec::new(),
            final_users: Vec::new(),
            clients: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// The plan of `document`, kind by kind (each kind refers only to those before it).
    pub(super) fn plan(
        mut self,
        document: &Document,
        secrets: &BTreeMap<String, SecretString>,
    ) -> Result<Builder, AdminError> {
        self.apis(&document.apis)?;
        self.scopes(document)?;
        self.roles(&document.roles)?;
        self.users(&document.users)?;
        self.clients(&document.clients, secrets)?;
        self.groups(&document.groups)?;
        self.links();
        if self.options.prune {
            self.prune()?;
        }
        Ok(self.b)
    }

    /// Keep what the store holds of a kind, besides the document's, unless pruning.
    fn keeps(&self) -> bool {
        !self.options.prune
    }

    fn apis(&mut self, items: &[ApiItem]) -> Result<(), AdminError> {
        unique("API", items.iter().map(|a| a.audience.as_str()))?;
        for item in items {
            let api = api_of(item, self.now).map_err(|e| invalid("API", &item.audience, e))?;
            match self
                .current
                .apis
                .iter()
                .find(|a| a.audience == api.audience)
            {
                None => self
                    .b
                    .create("api", api.audience.as_str(), Write::CreateApi(api.clone())),
                Some(existing) => {
                    let changes = changed_fields(&api_item(existing), &api_item(&api));
                    let updated = Api {
                        created_at: existing.created_at,
                        ..api.clone()
                    };
                    self.b.update(
                        "api",
                        api.audience.as_str(),
                        changes,
                        Some(Write::UpdateApi(updated)),
                    );
                }
            }
            self.apis.push(api);
        }
        self.final_apis = self.apis.iter().map(|a| a.audience.clone()).collect();
        if self.keeps() {
            let kept: Vec<Audience> = self
                .current
                .apis
                .iter()
                .filter(|a| !self.final_apis.contains(&a.audience))
                .map(|a| a.audience.clone())
                .collect();
            self.final_apis.extend(kept);
        }
        Ok(())
    }

    /// The scopes listed, and those an API lists (created with their name as description).
    fn scopes(&mut self, document: &Document) -> Result<(), AdminError> {
        let mut items: Vec<ScopeItem> = document.scopes.clone();
        unique("scope", items.iter().map(|s| s.name.as_str()))?;
        for (api, item) in self.apis.iter().zip(&document.apis) {
            for name in &item.scopes {
                let audience = api.audience.as_str().to_owned();
                match items.iter_mut().find(|s| &s.name == name) {
                    Some(listed) => match &listed.api {
                        None => listed.api = Some(audience),
                        Some(other) if *other == audience => {}
                        Some(other) => {
                            return Err(AdminError::Invalid(format!(
                                "scope '{name}' is listed for the API '{other}' and under the API '{audience}'"
                            )));
                        }
                    },
                    None => {
                        let existing = self.current.scopes.iter().find(|s| &s.name == name);
                        items.push(ScopeItem {
                            name: name.clone(),
                            description: existing
                                .map_or_else(|| name.clone(), |s| s.description.clone()),
                            api: Some(audience),
                            hidden: existing.is_some_and(|s| s.hidden),
                        });
                    }
                }
            }
        }
        for item in &items {
            let scope = scope_of(item, &self.final_apis, self.now)
                .map_err(|e| invalid("scope", &item.name, e))?;
            match self.current.scopes.iter().find(|s| s.name == scope.name) {
                Some(existing) if existing.builtin => {
                    return Err(AdminError::Invalid(format!(
                        "scope '{}': an OIDC scope is built in and cannot be configured",
                        scope.name
                    )));
                }
                None => self
                    .b
                    .create("scope", &scope.name, Write::CreateScope(scope.clone())),
                Some(existing) => {
                    let changes = changed_fields(&scope_item(existing), &scope_item(&scope));
                    self.b.update(
                        "scope",
                        &scope.name,
                        changes,
                        Some(Write::UpdateScope(scope.clone())),
                    );
                }
            }
            self.scopes.push(scope);
        }
        let keeps = self.keeps();
        self.final_scopes = self.scopes.clone();
        let kept: Vec<Scope> = self
            .current
            .scopes
            .iter()
            .filter(|s| s.builtin || keeps)
            .filter(|s| !self.scopes.iter().any(|d| d.name == s.name))
            .cloned()
            .collect();
        self.final_scopes.extend(kept);
        Ok(())
    }

    fn roles(&mut self, items: &[RoleItem]) -> Result<(), AdminError> {
        unique("role", items.iter().map(|r| r.name.as_str()))?;
        for item in items {
            let role = role_of(item, &self.final_apis, &self.final_scopes, self.now)
                .map_err(|e| invalid("role", &item.name, e))?;
            match self.current.roles.iter().find(|r| r.name == role.name) {
                None => self
                    .b
                    .create("role", role.name.as_str(), Write::CreateRole(role.clone())),
                Some(existing) => {
                    let changes = changed_fields(&role_item(existing), &role_item(&role));
                    let updated = Role {
                        created_at: existing.created_at,
                        ..role.clone()
                    };
                    self.b.update(
                        "role",
                        role.name.as_str(),
                        changes,
                        Some(Write::UpdateRole(updated)),
                    );
                }
            }
            self.roles.push(role);
        }
        self.final_roles = self.roles.iter().map(|r| r.name.clone()).collect();
        if self.keeps() {
            self.final_roles
                .extend(self.current.roles.iter().map(|r| r.name.clone()));
        }
        Ok(())
    }

    /// The roles `raw` names, each once: every one in the configuration.
    fn role_names(
        &self,
        kind: &str,
        id: &str,
        raw: &[String],
    ) -> Result<Vec<RoleName>, AdminError> {
        let mut names = Vec::with_capacity(raw.len());
        for name in raw {
            let role = RoleName::parse(name)
                .map_err(|e| AdminError::Invalid(format!("{kind} '{id}': {}", e.0)))?;
            if !self.final_roles.contains(&role) {
                return Err(AdminError::Invalid(format!(
                    "{kind} '{id}': no role named '{role}'"
                )));
            }
            if !names.contains(&role) {
                names.push(role);
            }
        }
        Ok(names)
    }

    fn users(&mut self, items: &[UserItem]) -> Result<(), AdminError> {
        for item in items {
            let new = NewUser {
                username: item.username.clone(),
                email: item.email.clone(),
                name: item.name.clone(),
            };
            let checked =
                crate::admin::user::parse(&new).map_err(|e| invalid("user", &item.username, e))?;
            let user = match self
                .current
                .users
                .iter()
                .find(|u| u.username == checked.username)
            {
                None => {
                    // No password: the user cannot sign in until `user set-password` gives one.
                    let user = checked.into_user(String::new(), self.now);
                    self.b
                        .create("user", &user.username, Write::CreateUser(user.clone()));
                    user
                }
                Some(existing) => User {
                    email_verified: checked.email.is_some(),
                    email: checked.email,
                    name: checked.name,
                    updated_at: self.now,
                    ..existing.clone()
                },
            };
            let roles = self.role_names("user", &user.username, &item.roles)?;
            self.users.push((user, roles));
        }
        unique("user", self.users.iter().map(|(u, _)| u.username.as_str()))?;
        self.final_users = self
            .users
            .iter()
            .map(|(u, _)| (u.username.clone(), u.user_id.clone()))
            .collect();
        if self.keeps() {
            let kept: Vec<(String, UserId)> = self
                .current
                .users
                .iter()
                .filter(|u| !self.users.iter().any(|(d, _)| d.username == u.username))
                .map(|u| (u.username.clone(), u.user_id.clone()))
                .collect();
            self.final_users.extend(kept);
        }
        Ok(())
    }

    /// The sealed copy of a client's secret (`client_secret_jwt` only); a dry run, which writes
    /// nothing, needs no key-encryption key for it.
    fn seal(&self, client: &Client, secret: &str) -> Result<Option<SealedSecret>, AdminError> {
        if self.options.dry_run && self.kek.is_none() {
            return Ok(None);
        }
        seal_secret(client, secret, self.kek)
    }

    fn clients(
        &mut self,
        items: &[ClientItem],
        secrets: &BTreeMap<String, SecretString>,
    ) -> Result<(), AdminError> {
        unique("client", items.iter().map(|c| c.client_id.as_str()))?;
        let scope_names: ScopeSet = self.final_scopes.iter().map(|s| s.name.clone()).collect();
        let apis: Vec<&Audience> = self.final_apis.iter().collect();
        let mut planned = Vec::with_capacity(items.len());
        for item in items {
            let id = item.client_id.as_str();
            let client_id =
                ClientId::parse(id).map_err(|e| invalid("client", id, AdminError::Invalid(e.0)))?;
            let existing = self
                .current
                .clients
                .iter()
                .find(|c| c.client_id == client_id);
            let created_at = existing.map_or(self.now, |c| c.created_at);
            let mut client = spec_of(item)
                .and_then(|spec| Client::from_spec(client_id, &spec, created_at))
                .map_err(|e| invalid("client", id, AdminError::Invalid(e.0)))?;
            check_references_among(&client, &scope_names, &apis)
                .map_err(|e| invalid("client", id, e))?;
            let roles = self.role_names("client", id, &item.roles)?;
            let supplied = secrets
                .get(id)
                .map(|raw| supplied_secret(id, raw))
                .transpose()?;
            let raw_supplied = secrets.get(id).map(|raw| raw.expose_secret());
            if supplied.is_some() && !client.auth_method.has_secret() {
                return Err(AdminError::Invalid(format!(
                    "client '{id}' authenticates with {} and takes no secret",
                    client.auth_method.as_str()
                )));
            }
            match existing {
                None => {
                    if client.auth_method.has_secret() {
                        let (hash, sealed) = match (supplied, raw_supplied) {
                            (Some(hash), Some(raw)) => (hash, self.seal(&client, raw)?),
                            _ => {
                                let secret = ClientSecret::generate();
                                let sealed = self.seal(&client, secret.expose())?;
                                if !self.options.dry_run {
                                    self.b
                                        .secrets
                                        .insert(id.to_owned(), secret.expose().to_owned());
                                }
                                (secret.hash(), sealed)
                            }
                        };
                        client.secret_hash = Some(hash);
                        client.sealed_secret = sealed;
                    }
                    self.b
                        .create("client", id, Write::CreateClient(client.clone()));
                }
                Some(existing) => {
                    check_kind_kept(existing, &client).map_err(|e| invalid("client", id, e))?;
                    client.secret_hash = existing.secret_hash.clone();
                    client.sealed_secret = existing
                        .sealed_secret
                        .clone()
                        .filter(|_| client.auth_method.needs_sealed_secret());
                    client.updated_at = self.now;
                    let mut changes = changed_fields(
                        &client_item(existing, Vec::new()),
                        &client_item(&client, Vec::new()),
                    );
                    let registration =
                        (!changes.is_empty()).then(|| Write::UpdateClient(client.clone()));
                    // A client moving to client_secret_jwt with its secret supplied gets it sealed,
                    // even when the secret itself is unchanged.
                    if let Some(hash) = supplied
                        && (existing.secret_hash.as_ref() != Some(&hash)
                            || lacks_sealed_secret(&client))
                    {
                        let sealed = self.seal(&client, raw_supplied.unwrap_or_default())?;
                        client.sealed_secret.clone_from(&sealed);
                        self.b.upserts.extend(registration);
                        self.b.upserts.push(Write::SetClientSecret(
                            client.client_id.clone(),
                            hash,
                            sealed,
                            self.now,
                        ));
                        changes.push("secret".into());
                        self.b.update("client", id, changes, None);
                    } else {
                        self.b.update("client", id, changes, registration);
                    }
                }
            }
            planned.push((client, roles));
        }
        self.clients = planned;
        Ok(())
    }

    fn groups(&mut self, items: &[GroupItem]) -> Result<(), AdminError> {
        unique("group", items.iter().map(|g| g.name.as_str()))?;
        for item in items {
            let name = GroupName::parse(&item.name)
                .map_err(|e| AdminError::Invalid(format!("group '{}': {}", item.name, e.0)))?;
            let mut members = Vec::new();
            for raw in &item.members {
                let username = normalize_username(raw)
                    .map_err(|e| AdminError::Invalid(format!("group '{name}': {}", e.0)))?;
                let Some((_, user_id)) = self.final_users.iter().find(|(u, _)| *u == username)
                else {
                    return Err(AdminError::Invalid(format!(
                        "group '{name}': no user named '{username}'"
                    )));
                };
                if !members.contains(user_id) {
                    members.push(user_id.clone());
                }
            }
            let roles = self.role_names("group", name.as_str(), &item.roles)?;
            let group = match self.current.groups.iter().find(|g| g.name == name) {
                Some(existing) => existing.clone(),
                None => {
                    let group = Group {
                        name,
                        created_at: self.now,
                    };
                    self.b.create(
                        "group",
                        group.name.as_str(),
                        Write::CreateGroup(group.clone()),
                    );
                    group
                }
            };
            self.groups.push((group, members, roles));
        }
        Ok(())
    }
}
