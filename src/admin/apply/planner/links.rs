//! The links of the document's users, clients and groups, and `--prune`'s deletions.

use super::Planner;
use crate::admin::AdminError;
use crate::admin::apply::document::user_item;
use crate::admin::apply::plan::{changed_fields, note_change};
use crate::domain::configuration::Write;
use crate::domain::role::Assignment;

impl Planner<'_> {
    /// The links of the document's users, clients and groups: exactly those it lists. An owner that
    /// exists already is updated (its changed fields named); users' profiles are compared here too.
    pub(super) fn links(&mut self) {
        let current = self.current;
        let links_of = |matches: &dyn Fn(&Assignment) -> bool| -> Vec<Assignment> {
            current
                .links
                .iter()
                .filter(|l| matches(l))
                .cloned()
                .collect()
        };
        for (user, roles) in &self.users {
            let desired = roles
                .iter()
                .map(|r| Assignment::UserRole(user.user_id.clone(), r.clone()))
                .collect();
            let now_links =
                links_of(&|l| matches!(l, Assignment::UserRole(u, _) if *u == user.user_id));
            let relinked = self.b.relink(&now_links, desired);
            if let Some(existing) = current.users.iter().find(|u| u.user_id == user.user_id) {
                let mut changes = changed_fields(
                    &user_item(existing, Vec::new()),
                    &user_item(user, Vec::new()),
                );
                let profile = (!changes.is_empty()).then(|| Write::UpdateUser(user.clone()));
                if relinked {
                    changes.push("roles".into());
                }
                self.b.update("user", &user.username, changes, profile);
            }
        }
        for (client, roles) in &self.clients {
            let desired = roles
                .iter()
                .map(|r| Assignment::ClientRole(client.client_id.clone(), r.clone()))
                .collect();
            let now_links =
                links_of(&|l| matches!(l, Assignment::ClientRole(c, _) if *c == client.client_id));
            if self.b.relink(&now_links, desired)
                && current
                    .clients
                    .iter()
                    .any(|c| c.client_id == client.client_id)
            {
                note_change(
                    &mut self.b.plan,
                    "client",
                    client.client_id.as_str(),
                    "roles",
                );
            }
        }
        for (group, members, roles) in &self.groups {
            let desired = members
                .iter()
                .map(|u| Assignment::GroupMember(group.name.clone(), u.clone()))
                .collect();
            let now_links =
                links_of(&|l| matches!(l, Assignment::GroupMember(g, _) if *g == group.name));
            let mut changes = Vec::new();
            if self.b.relink(&now_links, desired) {
                changes.push("members".to_owned());
            }
            let desired = roles
                .iter()
                .map(|r| Assignment::GroupRole(group.name.clone(), r.clone()))
                .collect();
            let now_links =
                links_of(&|l| matches!(l, Assignment::GroupRole(g, _) if *g == group.name));
            if self.b.relink(&now_links, desired) {
                changes.push("roles".to_owned());
            }
            if current.groups.iter().any(|g| g.name == group.name) {
                self.b.update("group", group.name.as_str(), changes, None);
            }
        }
    }

    /// `--prune`: delete what the document does not list, most dependent first (never the OIDC
    /// scopes, nor the admin client making the request).
    pub(super) fn prune(&mut self) -> Result<(), AdminError> {
        let current = self.current;
        for user in &current.users {
            if !self.users.iter().any(|(u, _)| u.user_id == user.user_id) {
                self.b.delete(
                    "user",
                    &user.username,
                    Write::DeleteUser(user.user_id.clone(), self.now),
                );
            }
        }
        for client in &current.clients {
            if !self
                .clients
                .iter()
                .any(|(c, _)| c.client_id == client.client_id)
            {
                if self.options.keep_client.as_ref() == Some(&client.client_id) {
                    return Err(AdminError::Invalid(format!(
                        "--prune would delete the admin client '{}' making this request; add it to the document",
                        client.client_id
                    )));
                }
                self.b.delete(
                    "client",
                    client.client_id.as_str(),
                    Write::DeleteClient(client.client_id.clone()),
                );
            }
        }
        for group in &current.groups {
            if !self.groups.iter().any(|(g, ..)| g.name == group.name) {
                self.b.delete(
                    "group",
                    group.name.as_str(),
                    Write::DeleteGroup(group.name.clone()),
                );
            }
        }
        for role in &current.roles {
            if !self.roles.iter().any(|r| r.name == role.name) {
                self.b.delete(
                    "role",
                    role.name.as_str(),
                    Write::DeleteRole(role.name.clone()),
                );
            }
        }
        for scope in &current.scopes {
            if !scope.builtin && !self.scopes.iter().any(|s| s.name == scope.name) {
                self.b
                    .delete("scope", &scope.name, Write::DeleteScope(scope.name.clone()));
            }
        }
        for api in &current.apis {
            if !self.apis.iter().any(|a| a.audience == api.audience) {
                self.b.delete(
                    "api",
                    api.audience.as_str(),
                    Write::DeleteApi(api.audience.clone()),
                );
            }
        }
        Ok(())
    }
}
