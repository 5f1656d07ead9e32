//! OpenID Connect Back-Channel Logout 1.0: which sessions' clients are told when a session ends
//! (§2.7), and the logout token they are sent (§2.4). Delivery itself (the POST, retries, claiming
//! across instances) is the server's deliverer (`logout_delivery.rs`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::Context;
use crate::config::Settings;
use crate::domain::client::Client;
use crate::domain::logout::LogoutDelivery;
use crate::error::OAuthError;
use crate::keys::KeyRing;
use crate::store::StoreError;
use crate::tokens::sign_logout_token;

/// §2.4 `events`: the member that makes a JWT a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid after it is signed (§2.4 `exp`; the spec recommends at most
/// two minutes). Each attempt signs afresh, so a retry is never sent expired.
pub const LOGOUT_TOKEN_TTL: i64 = 120;

/// The claims of a logout token (§2.4). There is never a `nonce` (§2.4: its presence tells a
/// logout token from an ID token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LogoutTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The user whose session ended.
    pub sub: String,
    /// The client.
    pub aud: String,
    /// Signed at.
    pub iat: i64,
    /// Valid until.
    pub exp: i64,
    /// Unique per (session, client), the same on every retry.
    pub jti: String,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: Map<String, Value>,
    /// The session that ended: the `sid` of the ID tokens issued in it.
    pub sid: String,
}

/// §2.4: the claims of `delivery`'s logout token for `client`, signed at `now`. Both `sub` and
/// `sid` are always given, so a client that keys its sessions by either (and one that registered
/// `backchannel_logout_session_required`) can act on it.
pub fn claims(settings: &Settings, delivery: &LogoutDelivery, now: i64) -> LogoutTokenClaims {
    let mut events = Map::new();
    events.insert(
        BACKCHANNEL_LOGOUT_EVENT.to_owned(),
        Value::Object(Map::new()),
    );
    LogoutTokenClaims {
        iss: settings.issuer.as_str().to_owned(),
        sub: delivery.sub.to_string(),
        aud: delivery.client_id.to_string(),
        iat: now,
        exp: now.saturating_add(LOGOUT_TOKEN_TTL),
        jti: delivery.jti.clone(),
        events,
        sid: delivery.sid.clone(),
    }
}

/// The signed logout token of `delivery` for `client`: signed like the client's ID tokens (its
/// `id_token_signed_response_alg`, else the server's), which is what the client verifies with.
pub fn logout_token(
    keys: &KeyRing,
    settings: &Settings,
    client: &Client,
    delivery: &LogoutDelivery,
    now: i64,
) -> Result<String, OAuthError> {
    let alg = client.id_token_alg.unwrap_or(settings.id_token_alg);
    sign_logout_token(keys, alg, &claims(settings, delivery, now))
}

/// §2.7: the browser session `sid` ended at the OP (an RP-initiated sign-out): queue a logout
/// token for every client the session signed in to. Answers how many were queued. Sessions
/// signed in before `sid`s existed have none, and nothing is queued.
pub async fn session_ended(ctx: &Context<'_>, sid: Option<&str>) -> Result<u64, StoreError> {
    match sid {
        Some(sid) => ctx.store.end_session_sign_ins(sid, ctx.now).await,
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::ClientId;
    use crate::domain::user::UserId;
    use crate::oauth::testing::Harness;

    #[tokio::test]
    async fn a_logout_token_has_the_claims_of_section_2_4_and_no_nonce() {
        let h = Harness::new(&[]).await;
        let delivery = LogoutDelivery {
            jti: "jti-1".into(),
            client_id: ClientId::from_stored("app".into()),
            sub: UserId::from_stored("user-1".into()),
            sid: "session-1".into(),
            attempts: 1,
            created_at: h.now,
        };
        let claims = claims(&h.settings, &delivery, h.now);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["aud"], "app");
        assert_eq!(json["sub"], "user-1");
        assert_eq!(json["sid"], "session-1");
        assert_eq!(json["exp"], h.now + LOGOUT_TOKEN_TTL);
        assert_eq!(
            json["events"][BACKCHANNEL_LOGOUT_EVENT],
            serde_json::json!({})
        );
        assert!(json.get("nonce").is_none());
    }
}
