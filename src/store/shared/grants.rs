//! The grant operations both backends share (generated per backend by [`grants_impl!`]):
//! consent, authorization codes, grants, refresh tokens, revocations, reference tokens and
//! housekeeping. Refresh-token rotation itself is per backend; it uses `grants::revoke` and
//! `grants::store_successor` from here.

/// The `grants` module of a backend with pool `$pool` and connection `$conn`.
macro_rules! grants_impl {
    ($pool:ty, $conn:ty) => {
        mod grants {
            //! Grants and the tokens they produce (RFC 6749 §4.1, §6; RFC 7009; RFC 9700 §4.14).

            use crate::domain::authn::Authentication;
            use crate::domain::claims_request::ClaimsRequest;
            use crate::domain::client::ClientId;
            use crate::domain::grant::{
                AuthorizationCode, Grant, GrantId, Housekeeping, ReferenceToken,
                NewRefreshToken, Redemption, RefreshTokenState,
            };
            use crate::domain::secret::TokenHash;
            use crate::domain::user::UserId;
            use crate::store::rows::{CodeRow, RefreshRow, audiences_json, code_columns};
            use crate::store::StoreError;

            /// Revoke a grant and record the revocation until `keep_until` (a longer record stays).
            pub(crate) async fn revoke(
                tx: &mut $conn,
                grant_id: &str,
                now: i64,
                keep_until: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE grants SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO revocations (id, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (id) DO UPDATE SET expires_at = CASE \
                     WHEN revocations.expires_at > excluded.expires_at THEN revocations.expires_at \
                     ELSE excluded.expires_at END",
                )
                .bind(grant_id)
                .bind(keep_until)
                .execute(&mut *tx)
                .await?;
                Ok(())
            }

            /// Store a rotated refresh token's successor and extend its grant to cover it.
            pub(crate) async fn store_successor(
                tx: &mut $conn,
                next: &NewRefreshToken,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, \
                     rotated_at, successor_hash) VALUES ($1, $2, $3, $4, $5, NULL, NULL)",
                )
                .bind(next.token_hash.0.as_slice())
                .bind(next.grant_id.as_str())
                .bind(next.scope.to_string())
                .bind(next.created_at)
                .bind(next.expires_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE grants SET expires_at = $1 WHERE grant_id = $2 AND expires_at < $1")
                    .bind(next.expires_at)
                    .bind(next.grant_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            }

            /// Unredeemed codes go when they expire; a consumed code stays while
            /// its grant lives, so a replay
            /// still finds it and revokes what it produced (RFC 6749 §4.1.2, RFC 9700 §4.2.1).
            const CODES_PAST_REPLAY_DETECTION: &str = "expires_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = authorization_codes.grant_id)";

            /// [`Store::find_consent`](crate::store::Store::find_consent).
            pub(crate) async fn find_consent(
                pool: &$pool,
                user_id: &UserId,
                client_id: &ClientId,
            ) -> Result<Option<String>, StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2")
                        .bind(user_id.as_str())
                        .bind(client_id.as_str())
                        .fetch_optional(pool)
                        .await?;
                Ok(row.map(|(scope,)| scope))
            }

            /// [`Store::save_consent`](crate::store::Store::save_consent).
            pub(crate) async fn save_consent(
                pool: &$pool,
                user_id: &UserId,
                client_id: &ClientId,
                scope: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
                )
                .bind(user_id.as_str())
                .bind(client_id.as_str())
                .bind(scope)
                .bind(now)
                .execute(pool)
                .await?;
                Ok(())
            }

            /// [`Store::create_authorization_code`](crate::store::Store::create_aut
            /// horization_code).
            pub(crate) async fn create_authorization_code(
                pool: &$pool,
                code: &AuthorizationCode,
            ) -> Result<(), StoreError> {
                sqlx::query(concat!(
                    "INSERT INTO authorization_codes (",
                    code_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13, $14, $15, $16, $17)"
                ))
                .bind(code.code_hash.0.as_slice())
                .bind(code.grant_id.as_str())
                .bind(code.client_id.as_str())
                .bind(code.user_id.as_str())
                .bind(&code.redirect_uri)
                .bind(code.scope.to_string())
                .bind(&code.nonce)
                .bind(&code.code_challenge)
                .bind(code.auth_time)
                .bind(code.created_at)
                .bind(code.expires_at)
                .bind(code.redirect_uri_sent)
                .bind(audiences_json(&code.resources))
                .bind(code.sid.as_deref())
                .bind(code.dpop_jkt.as_deref())
                .bind(code.authentication.to_stored())
                .bind(code.requested_claims.as_ref().map(ClaimsRequest::to_stored))
                .execute(pool)
                .await?;
                Ok(())
            }

            /// [`Store::find_authorization_code`](crate::store::Store::find_authorization_code).
            pub(crate) async fn find_authorization_code(
                pool: &$pool,
                code_hash: &TokenHash,
            ) -> Result<Option<AuthorizationCode>, StoreError> {
                let row: Option<CodeRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    code_columns!(),
                    " FROM authorization_codes WHERE code_hash = $1"
                ))
                .bind(code_hash.0.as_slice())
                .fetch_optional(pool)
                .await?;
                row.map(AuthorizationCode::try_from).transpose()
            }

            /// [`Store::redeem_authorization_code`](crate::store::Store::redeem_aut
            /// horization_code).
            pub(crate) async fn redeem_authorization_code(
                pool: &$pool,
                code_hash: &TokenHash,
                grant: &Grant,
                refresh_token: Option<&NewRefreshToken>,
                now: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<Redemption, StoreError> {
                let mut tx = pool.begin().await?;
                // The conditional UPDATE is the atomic consume: one statement, so concurrent callers serialise on it.
                let consumed = sqlx::query(
                    "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL",
                )
                .bind(now)
                .bind(code_hash.0.as_slice())
                .execute(&mut *tx)
                .await?;
                if consumed.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(Redemption::AlreadyUsed);
                }
                insert_grant(&mut tx, grant, refresh_token).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(Redemption::Redeemed)
            }

            /// Record a new user grant and its first refresh token, if any (inside the redemption's
            /// transaction: of a code, or of a device code).
            pub(crate) async fn insert_grant(
                tx: &mut $conn,
                grant: &Grant,
                refresh_token: Option<&NewRefreshToken>,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO grants (grant_id, client_id, user_id, scope, auth_time, created_at, expires_at, \
                     revoked_at, resources, sid, dpop_jkt, cert_thumbprint, amr, claims) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, $13)",
                )
                .bind(grant.grant_id.as_str())
                .bind(grant.client_id.as_str())
                .bind(grant.user_id.as_ref().map(UserId::as_str))
                .bind(grant.scope.to_string())
                .bind(grant.auth_time)
                .bind(grant.created_at)
                .bind(grant.expires_at)
                .bind(audiences_json(&grant.resources))
                .bind(grant.sid.as_deref())
                .bind(grant.dpop_jkt.as_deref())
                .bind(grant.cert_thumbprint.as_deref())
                .bind(grant.authentication.as_ref().map(Authentication::to_stored))
                .bind(grant.requested_claims.as_ref().map(ClaimsRequest::to_stored))
                .execute(&mut *tx)
                .await?;
                // Back-Channel Logout §2.1: the session's user signed in to this client, so it is told
                // when the session ends.
                if let (Some(sid), Some(user_id)) = (&grant.sid, &grant.user_id) {
                    sqlx::query(
                        "INSERT INTO session_clients (sid, client_id, user_id) VALUES ($1, $2, $3) \
                         ON CONFLICT (sid, client_id) DO NOTHING",
                    )
                    .bind(sid)
                    .bind(grant.client_id.as_str())
                    .bind(user_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(token) = refresh_token {
                    sqlx::query(
                        "INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, rotated_at, successor_hash) \
                         VALUES ($1, $2, $3, $4, $5, NULL, NULL)",
                    )
                    .bind(token.token_hash.0.as_slice())
                    .bind(token.grant_id.as_str())
                    .bind(token.scope.to_string())
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            }

            /// [`Store::revoke_grant`](crate::store::Store::revoke_grant).
            pub(crate) async fn revoke_grant(
                pool: &$pool,
                grant_id: &GrantId,
                now: i64,
                keep_until: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<(), StoreError> {
                let mut tx = pool.begin().await?;
                revoke(&mut tx, grant_id.as_str(), now, keep_until).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(())
            }

            /// [`Store::is_revoked`](crate::store::Store::is_revoked).
            pub(crate) async fn is_revoked(
                pool: &$pool,
                jti: &str,
                grant_id: &GrantId,
            ) -> Result<bool, StoreError> {
                let (count,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM revocations WHERE id = $1 OR id = $2")
                        .bind(jti)
                        .bind(grant_id.as_str())
                        .fetch_one(pool)
                        .await?;
                Ok(count > 0)
            }

            /// The unexpired revocation records stamped (`seq`) at or after `since`: the shared half
            /// of [`Store::revocations_since`](crate::store::Store::revocations_since); each backend
            /// finds where the next read starts its own way.
            ///
            /// Bounded above by `until` (the cursor the batch hands on: what is stamped at or above
            /// it is read next time), so the read is a window of the `seq` index whatever the
            /// planner guesses of one open-ended range.
            pub(crate) async fn revocations_stamped_since(
                pool: &$pool,
                since: i64,
                until: i64,
                now: i64,
                each: crate::domain::grant::RevocationSink<'_>,
            ) -> Result<(), StoreError> {
                use futures_util::TryStreamExt as _;
                // Streamed: each row is handed on as it arrives, never collected.
                let mut rows = sqlx::query_as::<_, (String, i64)>(
                    "SELECT id, expires_at FROM revocations \
                     WHERE seq >= $1 AND seq < $2 AND expires_at > $3",
                )
                .bind(since)
                .bind(until)
                .bind(now)
                .fetch(pool);
                while let Some((id, expires_at)) = rows.try_next().await? {
                    each(&id, expires_at);
                }
                Ok(())
            }

            /// [`Store::find_requested_claims`](crate::store::Store::find_requested_claims).
            pub(crate) async fn find_requested_claims(
                pool: &$pool,
                grant_id: &GrantId,
                client_id: &ClientId,
            ) -> Result<Option<ClaimsRequest>, StoreError> {
                let row: Option<(Option<String>,)> = sqlx::query_as(
                    "SELECT claims FROM grants WHERE grant_id = $1 AND client_id = $2",
                )
                        .bind(grant_id.as_str())
                        .bind(client_id.as_str())
                        .fetch_optional(pool)
                        .await?;
                ClaimsRequest::from_stored(row.and_then(|(claims,)| claims).as_deref()).map_err(|_| {
                    StoreError::Corrupt(format!("claims of grant {grant_id}"))
                })
            }

            /// [`Store::find_refresh_token`](crate::store::Store::find_refresh_token).
            pub(crate) async fn find_refresh_token(
                pool: &$pool,
                token_hash: &TokenHash,
            ) -> Result<Option<RefreshTokenState>, StoreError> {
                let row: Option<RefreshRow> = sqlx::query_as(
                    "SELECT r.grant_id, g.client_id, g.user_id, r.scope, g.auth_time, r.created_at, r.expires_at, \
                     r.rotated_at, g.revoked_at, g.created_at AS grant_created_at, g.resources, g.sid, g.dpop_jkt, g.cert_thumbprint, g.amr, g.claims FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id \
                     WHERE r.token_hash = $1",
                )
                .bind(token_hash.0.as_slice())
                .fetch_optional(pool)
                .await?;
                row.map(RefreshTokenState::try_from).transpose()
            }

            /// [`Store::revoke_access_token`](crate::store::Store::revoke_access_token).
            pub(crate) async fn revoke_access_token(
                pool: &$pool,
                jti: &str,
                expires_at: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO revocations (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(jti)
                .bind(expires_at)
                .execute(pool)
                .await?;
                Ok(())
            }

            /// [`Store::housekeep`](crate::store::Store::housekeep), table by table in batches
            /// ([`delete_in_batches`](super::batches::delete_in_batches)).
            pub(crate) async fn housekeep(
                pool: &$pool,
                now: i64,
                spent_before: i64,
            ) -> Result<Housekeeping, StoreError> {
                use super::batches::delete_in_batches;
                let expired = |table: &'static str, key: &'static str| {
                    delete_in_batches(pool, table, key, "expires_at <= $1", now)
                };
                Ok(Housekeeping {
                    authorization_codes: delete_in_batches(
                        pool,
                        "authorization_codes",
                        "code_hash",
                        CODES_PAST_REPLAY_DETECTION,
                        now,
                    )
                    .await?,
                    // Two conditions, each served by its own index (an OR of the two is a scan);
                    // a token both expired and spent is deleted (and counted) by the first.
                    refresh_tokens: expired("refresh_tokens", "token_hash").await?
                        + delete_in_batches(
                            pool,
                            "refresh_tokens",
                            "token_hash",
                            "rotated_at IS NOT NULL AND rotated_at < $1",
                            spent_before,
                        )
                        .await?,
                    revocations: expired("revocations", "id").await?,
                    grants: delete_in_batches(
                        pool,
                        "grants",
                        "grant_id",
                        "expires_at <= $1 \
                         AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.grant_id)",
                        now,
                    )
                    .await?,
                    sessions: delete_in_batches(pool, "sessions", "id_hash", "expiry_date <= $1", now)
                        .await?,
                    reference_tokens: expired("reference_tokens", "token_hash").await?,
                    sign_in_attempts: expired("sign_in_attempts", "counter_key").await?,
                    pushed_requests: expired("pushed_requests", "request_hash").await?,
                    client_assertions: expired("client_assertions", "client_id, jti_hash").await?,
                    registration_tokens: delete_in_batches(
                        pool,
                        "registration_tokens",
                        "token_id",
                        "expires_at IS NOT NULL AND expires_at <= $1",
                        now,
                    )
                    .await?,
                    device_authorizations: expired("device_authorizations", "device_code_hash").await?,
                    dpop_proofs: expired("dpop_proofs", "proof_hash").await?,
                    passkey_ceremonies: expired("passkey_ceremonies", "ceremony_hash").await?,
                    // Sign-ins of sessions that ended without a sign-out (expired): nobody is told.
                    session_clients: delete_in_batches(
                        pool,
                        "session_clients",
                        "sid, client_id",
                        "NOT EXISTS (SELECT 1 FROM sessions s \
                         WHERE s.sid = session_clients.sid AND s.expiry_date > $1)",
                        now,
                    )
                    .await?,
                    logout_deliveries: delete_in_batches(
                        pool,
                        "logout_deliveries",
                        "jti",
                        "created_at <= $1",
                        now.saturating_sub(crate::domain::logout::DELIVERY_RETENTION),
                    )
                    .await?,
                    // Signing keys and audit events follow their policies: `housekeeping::run_once`.
                    signing_keys: 0,
                    audit_events: 0,
                })
            }

            /// [`Store::create_pushed_request`](crate::store::Store::create_pushed_request).
            pub(crate) async fn create_pushed_request(
                pool: &$pool,
                request_hash: &TokenHash,
                client_id: &ClientId,
                params: &str,
                expires_at: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO pushed_requests (request_hash, client_id, params, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(request_hash.0.as_slice())
                .bind(client_id.as_str())
                .bind(params)
                .bind(expires_at)
                .execute(pool)
                .await?;
                Ok(())
            }

            /// [`Store::record_client_assertion`](crate::store::Store::record_client_assertion):
            /// one conditional INSERT, so of concurrent uses exactly one is first.
            pub(crate) async fn record_client_assertion(
                pool: &$pool,
                client_id: &ClientId,
                jti_hash: &TokenHash,
                expires_at: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO client_assertions (client_id, jti_hash, expires_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (client_id, jti_hash) DO NOTHING",
                )
                .bind(client_id.as_str())
                .bind(jti_hash.0.as_slice())
                .bind(expires_at)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::record_dpop_proof`](crate::store::Store::record_dpop_proof): one conditional
            /// INSERT, so of concurrent uses of one proof exactly one is first.
            pub(crate) async fn record_dpop_proof(
                pool: &$pool,
                proof_hash: &TokenHash,
                expires_at: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (proof_hash) DO NOTHING",
                )
                .bind(proof_hash.0.as_slice())
                .bind(expires_at)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::consume_pushed_request`](crate::store::Store::consume_pushed_request): one
            /// DELETE … RETURNING, so of concurrent uses exactly one gets the parameters.
            pub(crate) async fn consume_pushed_request(
                pool: &$pool,
                request_hash: &TokenHash,
                client_id: &ClientId,
                now: i64,
            ) -> Result<Option<String>, StoreError> {
                let row: Option<(String, i64)> = sqlx::query_as(
                    "DELETE FROM pushed_requests WHERE request_hash = $1 AND client_id = $2 \
                     RETURNING params, expires_at",
                )
                .bind(request_hash.0.as_slice())
                .bind(client_id.as_str())
                .fetch_optional(pool)
                .await?;
                Ok(row.filter(|(_, expires_at)| *expires_at > now).map(|(params, _)| params))
            }

            /// [`Store::create_reference_token`](crate::store::Store::create_reference_token).
            pub(crate) async fn create_reference_token(
                pool: &$pool,
                token: &ReferenceToken,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO reference_tokens (token_hash, jti, client_id, claims, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token.token_hash.0.as_slice())
                .bind(&token.jti)
                .bind(token.client_id.as_str())
                .bind(&token.claims)
                .bind(token.expires_at)
                .execute(pool)
                .await?;
                Ok(())
            }

            /// [`Store::find_reference_token`](crate::store::Store::find_reference_token).
            pub(crate) async fn find_reference_token(
                pool: &$pool,
                token_hash: &TokenHash,
            ) -> Result<Option<ReferenceToken>, StoreError> {
                let row: Option<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT jti, client_id, claims, expires_at FROM reference_tokens WHERE token_hash = $1",
                )
                .bind(token_hash.0.as_slice())
                .fetch_optional(pool)
                .await?;
                Ok(row.map(|(jti, client_id, claims, expires_at)| ReferenceToken {
                    token_hash: token_hash.clone(),
                    jti,
                    client_id: ClientId::from_stored(client_id),
                    claims,
                    expires_at,
                }))
            }
        }
    };
}
pub(crate) use grants_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_pushed_request(
                    &self,
                    request_hash: &TokenHash,
                    client_id: &ClientId,
                    params: &str,
                    expires_at: i64,
                ) -> Result<(), StoreError> {
                    grants::create_pushed_request(&self.pool, request_hash, client_id, params, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn record_dpop_proof(
                    &self,
                    proof_hash: &TokenHash,
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    grants::record_dpop_proof(&self.pool, proof_hash, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn record_client_assertion(
                    &self,
                    client_id: &ClientId,
                    jti_hash: &TokenHash,
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    grants::record_client_assertion(&self.pool, client_id, jti_hash, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn consume_pushed_request(
                    &self,
                    request_hash: &TokenHash,
                    client_id: &ClientId,
                    now: i64,
                ) -> Result<Option<String>, StoreError> {
                    grants::consume_pushed_request(&self.pool, request_hash, client_id, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_consent(
                    &self,
                    user_id: &UserId,
                    client_id: &ClientId,
                ) -> Result<Option<String>, StoreError> {
                    grants::find_consent(&self.pool, user_id, client_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn save_consent(
                    &self,
                    user_id: &UserId,
                    client_id: &ClientId,
                    scope: &str,
                    now: i64,
                ) -> Result<(), StoreError> {
                    grants::save_consent(&self.pool, user_id, client_id, scope, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
                    grants::create_authorization_code(&self.pool, code).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_authorization_code(
                    &self,
                    code_hash: &TokenHash,
                ) -> Result<Option<AuthorizationCode>, StoreError> {
                    grants::find_authorization_code(&self.pool, code_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn redeem_authorization_code(
                    &self,
                    code_hash: &TokenHash,
                    grant: &Grant,
                    refresh_token: Option<&NewRefreshToken>,
                    now: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<Redemption, StoreError> {
                    grants::redeem_authorization_code(&self.pool, code_hash, grant, refresh_token, now, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_grant(
                    &self,
                    grant_id: &GrantId,
                    now: i64,
                    keep_until: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<(), StoreError> {
                    grants::revoke_grant(&self.pool, grant_id, now, keep_until, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn is_revoked(&self, jti: &str, grant_id: &GrantId) -> Result<bool, StoreError> {
                    grants::is_revoked(&self.pool, jti, grant_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_requested_claims(
                    &self,
                    grant_id: &GrantId,
                    client_id: &ClientId,
                ) -> Result<Option<crate::domain::claims_request::ClaimsRequest>, StoreError> {
                    grants::find_requested_claims(&self.pool, grant_id, client_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_refresh_token(
                    &self,
                    token_hash: &TokenHash,
                ) -> Result<Option<RefreshTokenState>, StoreError> {
                    grants::find_refresh_token(&self.pool, token_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
                    grants::revoke_access_token(&self.pool, jti, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn housekeep(&self, now: i64, spent_before: i64) -> Result<Housekeeping, StoreError> {
                    grants::housekeep(&self.pool, now, spent_before).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_reference_token(&self, token: &ReferenceToken) -> Result<(), StoreError> {
                    grants::create_reference_token(&self.pool, token).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_reference_token(
                    &self,
                    token_hash: &TokenHash,
                ) -> Result<Option<ReferenceToken>, StoreError> {
                    grants::find_reference_token(&self.pool, token_hash).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
