//! The admin operations: one implementation of each admin rule, called by the CLI (and by the admin
//! HTTP API and `apply` when they come), so no front end enforces a rule the others skip.

use crate::domain::client::{Client, ClientId};
use crate::domain::role::Assignment;
use crate::domain::user::{User, normalize_username};
use crate::store::{Store, StoreError};

pub mod api;
pub mod apply;
pub mod audit;
pub mod client;
pub mod group;
pub mod key;
pub mod registration_token;
pub mod role;
pub mod scope;
pub mod user;

/// Why an admin operation refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input (an unknown name, a bad name, a duplicate): nothing was changed. One line.
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (the admin API answers 404). One line.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A `client_secret_jwt` client's secret could not be sealed for storage: nothing was stored.
    #[error(transparent)]
    Seal(#[from] crate::keys::encryption::SealError),
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            // A uniqueness rule broken is the operator's input, worded by the store.
            StoreError::Conflict(what) => Self::Invalid(what),
            other => Self::Store(other),
        }
    }
}

/// The user signing in as `username` (case-insensitive).
pub async fn find_user(store: &dyn Store, username: &str) -> Result<User, AdminError> {
    let normalized = normalize_username(username).map_err(|e| AdminError::Invalid(e.0))?;
    store
        .find_user_by_username(&normalized)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no user named '{normalized}'")))
}

/// The client registered as `client_id`.
pub async fn find_client(store: &dyn Store, client_id: &str) -> Result<Client, AdminError> {
    let shown: String = client_id
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect();
    let unknown = || AdminError::NotFound(format!("no client with id '{shown}'"));
    let parsed = ClientId::parse(client_id).map_err(|_| unknown())?;
    store.find_client(&parsed).await?.ok_or_else(unknown)
}

/// Whether a link between an admin object and another (a role, a membership) is added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add the link.
    Add,
    /// Remove it.
    Remove,
}

impl Change {
    /// The audit trail's action for this change of `what` (`role_added`, `member_removed`, …).
    pub fn action(self, what: &str) -> String {
        match self {
            Self::Add => format!("{what}_added"),
            Self::Remove => format!("{what}_removed"),
        }
    }
}

/// Add or remove `link`, between things the caller has found. When the store changes nothing (the
/// link is already there, or missing), the error says `refusal`.
pub(crate) async fn change_link(
    store: &dyn Store,
    link: &Assignment,
    change: Change,
    refusal: impl FnOnce() -> String,
) -> Result<(), AdminError> {
    let changed = match change {
        Change::Add => store.add_assignment(link).await?,
        Change::Remove => store.remove_assignment(link).await?,
    };
    if changed {
        Ok(())
    } else {
        Err(AdminError::Invalid(refusal()))
    }
}
