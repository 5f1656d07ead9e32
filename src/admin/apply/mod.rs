//! Declarative configuration: `latchkey apply -f FILE` makes the store match a document of scopes,
//! APIs, roles, groups, clients and users (`POST /admin/v1/apply` over HTTP), and `latchkey export`
//! writes the store as such a document (`GET /admin/v1/export`), so export → apply on an empty store
//! reproduces it.
//!
//! Each item is checked by the same rules as the CLI's `create` (the functions of `crate::admin`),
//! and its references against the configuration about to be written ([`planner`]). The plan
//! (create / update with the changed fields / delete with `--prune`, [`plan`]) is computed first;
//! then every write and its audit events go to the store in ONE transaction
//! (`Store::apply_configuration`): all or nothing. Client secrets are never in the document
//! ([`document`]): a new confidential client gets a generated secret, returned once, unless the
//! caller supplies one (read from a file or an environment variable the document names).

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Serialize;

use super::AdminError;
use crate::domain::api::Api;
use crate::domain::client::{Client, ClientId};
use crate::domain::configuration::Write;
use crate::domain::group::Group;
use crate::domain::role::{Assignment, Role};
use crate::domain::scope::Scope;
use crate::domain::user::{User, UserId};
use crate::keys::KeyEncryptionKey;
use crate::store::Store;

mod document;
mod items;
mod plan;
mod planner;

pub use document::{
    ApiItem, ClientItem, Document, GroupItem, RoleItem, ScopeItem, UserItem, export,
};
pub use plan::{Plan, Step};

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Delete what the document does not list (never the OIDC scopes).
    pub prune: bool,
    /// Compute and return the plan; change nothing.
    pub dry_run: bool,
    /// A client the plan must not delete: the admin client applying over HTTP.
    pub keep_client: Option<ClientId>,
}

/// What applying did: the plan, whether it was written, and the secrets of the confidential
/// clients it created without one (shown once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ApplyOutcome)]
pub struct Outcome {
    /// The plan.
    #[serde(flatten)]
    pub plan: Plan,
    /// Whether it was written (false for a dry run or an empty plan).
    pub applied: bool,
    /// Generated secrets by client id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

/// What the store holds now.
struct Current {
    scopes: Vec<Scope>,
    apis: Vec<Api>,
    roles: Vec<Role>,
    groups: Vec<Group>,
    clients: Vec<Client>,
    users: Vec<User>,
    links: Vec<Assignment>,
}

impl Current {
    async fn load(store: &dyn Store) -> Result<Self, AdminError> {
        Ok(Self {
            scopes: store.list_scopes().await?,
            apis: store.list_apis().await?,
            roles: store.list_roles().await?,
            groups: store.list_groups().await?,
            clients: store.list_clients().await?,
            users: store.list_users().await?,
            links: store.list_assignments().await?,
        })
    }

    fn username(&self, user_id: &UserId) -> Option<&str> {
        self.users
            .iter()
            .find(|u| &u.user_id == user_id)
            .map(|u| u.username.as_str())
    }
}

/// Plan `document` against the store and, unless it is a dry run or there is nothing to do, apply
/// it in one transaction with one `admin.change` event per step (actor `actor`). `secrets` holds
/// the secrets the caller read for clients (by client id); `kek` seals the secrets of
/// `client_secret_jwt` clients (it may be `None` when none is written).
pub async fn apply(
    store: &dyn Store,
    kek: Option<&KeyEncryptionKey>,
    document: &Document,
    secrets: &BTreeMap<String, SecretString>,
    options: &Options,
    actor: &str,
    now: i64,
) -> Result<Outcome, AdminError> {
    let current = Current::load(store).await?;
    let built = planner::Planner::new(&current, options, kek, now).plan(document, secrets)?;
    let plan::Builder {
        plan,
        upserts,
        unlinks,
        links,
        deletes,
        secrets,
    } = built;
    if options.dry_run || (plan.is_empty() && unlinks.is_empty() && links.is_empty()) {
        return Ok(Outcome {
            plan,
            applied: false,
            secrets: BTreeMap::new(),
        });
    }
    let events = plan::events_of(&plan, actor, now);
    // Things before what refers to them, links after both ends exist, deletes last.
    let writes: Vec<Write> = upserts
        .into_iter()
        .chain(unlinks)
        .chain(links)
        .chain(deletes)
        .collect();
    store.apply_configuration(&writes, &events).await?;
    for event in &events {
        crate::audit::log(event);
    }
    Ok(Outcome {
        plan,
        applied: true,
        secrets,
    })
}
