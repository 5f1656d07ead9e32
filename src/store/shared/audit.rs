//! The audit trail (`audit_events`), generated per backend by [`audit_impl!`]: the SQL is the same on
//! SQLite and PostgreSQL.

/// The `audit` module of a backend with pool `$pool`.
macro_rules! audit_impl {
    ($pool:ty, $conn:ty) => {
        mod audit {
            use crate::domain::audit::{AuditEvent, AuditFilter, EventType};
            use crate::store::StoreError;

            /// Write `event` on `conn`: inside the transaction of the change it records, when there
            /// is one. (The caller logs it once the transaction has committed.)
            pub(crate) async fn insert_in(
                conn: &mut $conn,
                event: Option<&AuditEvent>,
            ) -> Result<(), sqlx::Error> {
                let Some(event) = event else {
                    return Ok(());
                };
                sqlx::query(
                    "INSERT INTO audit_events (at, event_type, actor, user_id, client_id, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(event.at)
                .bind(event.event_type.as_str())
                .bind(&event.actor)
                .bind(event.user_id.as_deref())
                .bind(event.client_id.as_deref())
                .bind(event.detail.to_string())
                .execute(conn)
                .await?;
                Ok(())
            }

            /// [`Store::record_audit_events`](crate::store::Store::record_audit_events): all in one
            /// transaction.
            pub(crate) async fn record_audit_events(
                pool: &$pool,
                events: &[AuditEvent],
            ) -> Result<(), StoreError> {
                let mut tx = pool.begin().await?;
                for event in events {
                    insert_in(&mut tx, Some(event)).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// [`Store::list_audit_events`](crate::store::Store::list_audit_events).
            pub(crate) async fn list_audit_events(
                pool: &$pool,
                filter: &AuditFilter,
            ) -> Result<Vec<AuditEvent>, StoreError> {
                type Row = (i64, i64, String, String, Option<String>, Option<String>, String);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT id, at, event_type, actor, user_id, client_id, detail FROM audit_events \
                     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR client_id = $2) \
                     AND ($3 IS NULL OR event_type = $3) AND at >= $4 \
                     ORDER BY id DESC LIMIT $5",
                )
                .bind(filter.user_id.as_deref())
                .bind(filter.client_id.as_deref())
                .bind(filter.event_type.map(EventType::as_str))
                .bind(filter.since)
                .bind(filter.limit)
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .map(|(id, at, event_type, actor, user_id, client_id, detail)| {
                        let event_type = EventType::parse(&event_type).ok_or_else(|| {
                            StoreError::Corrupt(format!("audit event {id}: unknown type {event_type:?}"))
                        })?;
                        let detail = serde_json::from_str(&detail).map_err(|err| {
                            StoreError::Corrupt(format!("audit event {id}: detail: {err}"))
                        })?;
                        Ok(AuditEvent {
                            id,
                            at,
                            event_type,
                            actor,
                            user_id,
                            client_id,
                            detail,
                        })
                    })
                    .collect()
            }

            /// [`Store::delete_audit_events_before`](crate::store::Store::delete_audit_events_before).
            pub(crate) async fn delete_audit_events_before(
                pool: &$pool,
                before: i64,
            ) -> Result<u64, StoreError> {
                // In batches, like the rest of housekeeping: the audit trail is the largest table.
                Ok(super::batches::delete_in_batches(pool, "audit_events", "id", "at < $1", before).await?)
            }
        }
    };
}
pub(crate) use audit_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn record_audit_events(&self, events: &[crate::domain::audit::AuditEvent]) -> Result<(), StoreError> {
                    audit::record_audit_events(&self.pool, events).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_audit_events(
                    &self,
                    filter: &crate::domain::audit::AuditFilter,
                ) -> Result<Vec<crate::domain::audit::AuditEvent>, StoreError> {
                    audit::list_audit_events(&self.pool, filter).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_audit_events_before(&self, before: i64) -> Result<u64, StoreError> {
                    audit::delete_audit_events_before(&self.pool, before).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
