//! A plan: the steps (create / update with the changed fields / delete) an operator reads first,
//! the store writes that carry them out, in dependency order, and their audit events.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::admin::AdminError;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::configuration::Write;
use crate::domain::role::Assignment;

/// One step of a plan: a kind of object, its name, and for an update the fields that change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = PlanStep)]
pub struct Step {
    /// `scope`, `api`, `role`, `group`, `client` or `user`.
    pub kind: String,
    /// Its name, audience, id or username.
    pub id: String,
    /// The fields that change (updates only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// What applying a document does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Plan {
    /// Objects created.
    pub create: Vec<Step>,
    /// Objects changed, with their changed fields.
    pub update: Vec<Step>,
    /// Objects deleted (with `--prune`).
    pub delete: Vec<Step>,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }

    /// The plan as text: one line per step.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (verb, steps) in [
            ("create", &self.create),
            ("update", &self.update),
            ("delete", &self.delete),
        ] {
            for step in steps {
                out.push_str(&format!("{verb} {} {}", step.kind, step.id));
                if !step.changes.is_empty() {
                    out.push_str(&format!(": {}", step.changes.join(", ")));
                }
                out.push('\n');
            }
        }
        out
    }
}

pub(super) fn invalid(kind: &str, id: &str, err: AdminError) -> AdminError {
    match err {
        AdminError::Invalid(why) | AdminError::NotFound(why) => {
            AdminError::Invalid(format!("{kind} '{id}': {why}"))
        }
        other => other,
    }
}

/// Fail if `names` lists a name twice.
pub(super) fn unique<'a>(
    kind: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), AdminError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(AdminError::Invalid(format!(
                "the document lists the {kind} '{name}' twice"
            )));
        }
    }
    Ok(())
}

/// The fields whose values differ between two items of one kind (their JSON forms).
pub(super) fn changed_fields<T: Serialize>(before: &T, after: &T) -> Vec<String> {
    let (Ok(Value::Object(before)), Ok(Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// The plan's steps and writes, built kind by kind.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) plan: Plan,
    /// Creates and updates, in dependency order.
    pub(super) upserts: Vec<Write>,
    /// Link changes.
    pub(super) unlinks: Vec<Write>,
    pub(super) links: Vec<Write>,
    /// Deletes, most dependent first.
    pub(super) deletes: Vec<Write>,
    pub(super) secrets: BTreeMap<String, String>,
}

impl Builder {
    pub(super) fn create(&mut self, kind: &str, id: &str, write: Write) {
        self.plan.create.push(Step {
            kind: kind.into(),
            id: id.into(),
            changes: Vec::new(),
        });
        self.upserts.push(write);
    }

    pub(super) fn update(
        &mut self,
        kind: &str,
        id: &str,
        changes: Vec<String>,
        write: Option<Write>,
    ) {
        if changes.is_empty() {
            return;
        }
        self.plan.update.push(Step {
            kind: kind.into(),
            id: id.into(),
            changes,
        });
        self.upserts.extend(write);
    }

    pub(super) fn delete(&mut self, kind: &str, id: &str, write: Write) {
        self.plan.delete.push(Step {
            kind: kind.into(),
            id: id.into(),
            changes: Vec::new(),
        });
        self.deletes.push(write);
    }

    /// Make `owner`'s links of one kind exactly `desired` (`existing` are its links now): the
    /// changed field is named when they differ.
    pub(super) fn relink(&mut self, existing: &[Assignment], desired: Vec<Assignment>) -> bool {
        let mut changed = false;
        for link in existing {
            if !desired.contains(link) {
                self.unlinks.push(Write::Unlink(link.clone()));
                changed = true;
            }
        }
        for link in desired {
            if !existing.contains(&link) {
                self.links.push(Write::Link(link));
                changed = true;
            }
        }
        changed
    }
}

/// Add `field` to the changes of `kind` `id`'s update step (made if missing).
pub(super) fn note_change(plan: &mut Plan, kind: &str, id: &str, field: &str) {
    match plan
        .update
        .iter_mut()
        .find(|s| s.kind == kind && s.id == id)
    {
        Some(step) => step.changes.push(field.to_owned()),
        None => plan.update.push(Step {
            kind: kind.into(),
            id: id.into(),
            changes: vec![field.to_owned()],
        }),
    }
}

/// One `admin.change` event per step of `plan`, made by `actor` through `apply`.
pub(super) fn events_of(plan: &Plan, actor: &str, now: i64) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    for (action, steps) in [
        ("created", &plan.create),
        ("updated", &plan.update),
        ("deleted", &plan.delete),
    ] {
        for step in steps {
            let mut event = AuditEvent::new(EventType::AdminChange, now, actor)
                .with("object", step.kind.as_str())
                .with("action", action)
                .with("id", step.id.as_str())
                .with("via", "apply");
            if !step.changes.is_empty() {
                event = event.with("changes", step.changes.clone());
            }
            event = match step.kind.as_str() {
                "client" => event.client(step.id.clone()),
                _ => event,
            };
            events.push(event);
        }
    }
    events
}
