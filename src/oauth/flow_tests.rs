//! The protocol layer end to end over a real (in-memory SQLite) store and a fixed clock: an
//! authorization, its code, the token grants, introspection, userinfo and revocation.

use std::collections::HashMap;

use super::authorize::{Outcome, SignIn, resume, validate};
use super::introspect::introspect;
use super::revoke::revoke;
use super::testing::{Harness, NOW};
use super::token::{TokenRequest, TokenResponse, exchange};
use super::userinfo::{Presented, userinfo};
use crate::domain::client::{Client, ClientSpec};
use crate::domain::group::{Group, GroupName};
use crate::domain::role::{Assignment, Role, RoleName};
use crate::domain::scope::ScopeSet;
use crate::domain::user::User;

// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "https://app.example.com/cb";

fn web_spec() -> ClientSpec {
    ClientSpec {
        client_name: "Dashboard".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: "openid offline_access".into(),
        auth_method: "client_secret_basic".into(),
        skip_consent: true,
        ..ClientSpec::default()
    }
}

fn service_spec() -> ClientSpec {
    ClientSpec {
        client_name: "Orders".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "openid".into(),
        auth_method: "client_secret_basic".into(),
        introspect_any: true,
        ..ClientSpec::default()
    }
}

/// Sign `user` in for `client` at the protocol layer and return the code.
async fn code(h: &Harness, client: &Client, user: &User) -> String {
    code_for(h, client, user, "openid offline_access").await
}

/// Sign `user` in for `client` with `scope` and return the code.
async fn code_for(h: &Harness, client: &Client, user: &User, scope: &str) -> String {
    let params: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let pending = validate(
        client,
        &crate::catalog::Catalog::default(),
        &params,
        None,
        h.now,
    )
    .unwrap();
    let signed_in = SignIn {
        sid: None,
        user_id: user.user_id.clone(),
        auth_time: h.now,
        authentication: crate::domain::authn::Authentication::password(),
    };
    let Ok(Outcome::Redirect(location)) = resume(&h.ctx(), pending, Some(signed_in)).await else {
        panic!("no code")
    };
    let url = url::Url::parse(&location).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn redeem(code: &str) -> TokenRequest {
    TokenRequest::AuthorizationCode {
        code: code.to_owned(),
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(VERIFIER.into()),
        resource: Vec::new(),
    }
}

fn refresh(tokens: &TokenResponse) -> TokenRequest {
    TokenRequest::RefreshToken {
        refresh_token: tokens.refresh_token.clone().unwrap(),
        scope: None,
        resource: Vec::new(),
    }
}

async fn active(h: &Harness, caller: &Client, token: &str) -> bool {
    introspect(&h.ctx(), caller, token).await.unwrap()["active"] == true
}

#[tokio::test]
async fn a_replayed_code_revokes_what_its_first_use_issued() {
    let h = Harness::new(&[]).await;
    let client = h.client("dashboard", web_spec()).await;
    let resource = h.client("orders", service_spec()).await;
    let alice = h.user("alice").await;
    let code = code(&h, &client, &alice).await;
    let tokens = exchange(&h.ctx(), &client, redeem(&code), &Default::default())
        .await
        .unwrap();
    assert!(tokens.id_token.is_some() && tokens.refresh_token.is_some());
    assert!(active(&h, &resource, &tokens.access_token).await);
    // RFC 6749 §4.1.2: the replay is refused and the first use's tokens revoked.
    let replay = exchange(&h.ctx(), &client, redeem(&code), &Default::default())
        .await
        .unwrap_err();
    assert_eq!(replay.code.as_str(), "invalid_grant");
    assert!(!active(&h, &resource, &tokens.access_token).await);
    let refreshed = exchange(&h.ctx(), &client, refresh(&tokens), &Default::default()).await;
    assert_eq!(refreshed.unwrap_err().code.as_str(), "invalid_grant");
}

#[tokio::test]
async fn a_grant_ends_at_the_absolute_refresh_lifetime() {
    let mut h = Harness::new(&[
        "--refresh-token-ttl",
        "1h",
        "--refresh-token-absolute-ttl",
        "2h",
    ])
    .await;
    let client = h.client("dashboard", web_spec()).await;
    let alice = h.user("alice").await;
    let code = code(&h, &client, &alice).await;
    let mut tokens = exchange(&h.ctx(), &client, redeem(&code), &Default::default())
        .await
        .unwrap();
    for _ in 0..2 {
        h.now += 40 * 60;
        tokens = exchange(&h.ctx(), &client, refresh(&tokens), &Default::default())
            .await
            .unwrap();
    }
    // 2 h after the authorization, though the last refresh token was issued only 40 minutes ago.
    h.now = NOW + 2 * 3600;
    let ended = exchange(&h.ctx(), &client, refresh(&tokens), &Default::default())
        .await
        .unwrap_err();
    assert_eq!(ended.code.as_str(), "invalid_grant");
}

#[tokio::test]
async fn a_client_credentials_token_is_never_a_users_token() {
    let h = Harness::new(&[]).await;
    let service = h.client("orders", service_spec()).await;
    let scope = Some(ScopeSet::parse("openid").unwrap());
    let tokens = exchange(
        &h.ctx(),
        &service,
        TokenRequest::ClientCredentials {
            scope,
            resource: Vec::new(),
        },
        &Default::default(),
    )
    .await
    .unwrap();
    // RFC 9068 §5.
    let refused = userinfo(&h.ctx(), Presented::bearer(&tokens.access_token))
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "invalid_token");
    let answer = introspect(&h.ctx(), &service, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], "orders");
    assert!(answer.get("username").is_none());
}

#[tokio::test]
async fn a_deleted_client_s_tokens_stop_at_once_and_revocation_is_owner_only() {
    let h = Harness::new(&[]).await;
    let client = h.client("dashboard", web_spec()).await;
    let resource = h.client("orders", service_spec()).await;
    let alice = h.user("alice").await;
    let code = code(&h, &client, &alice).await;
    let tokens = exchange(&h.ctx(), &client, redeem(&code), &Default::default())
        .await
        .unwrap();
    assert_eq!(
        userinfo(&h.ctx(), Presented::bearer(&tokens.access_token))
            .await
            .unwrap()
            .sub,
        alice.user_id.as_str()
    );
    // RFC 7009 §2.1: another client may not revoke it.
    let refused = revoke(&h.ctx(), &resource, &tokens.access_token)
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "unauthorized_client");
    h.store.delete_client(&client.client_id).await.unwrap();
    assert!(!active(&h, &resource, &tokens.access_token).await);
    let gone = userinfo(&h.ctx(), Presented::bearer(&tokens.access_token))
        .await
        .unwrap_err();
    assert_eq!(gone.code.as_str(), "invalid_token");
}

/// Roles and groups as the store holds them: alice has `admin` herself and `orders:read` through
/// the group `ops`.
async fn roles_of_alice(h: &Harness, alice: &User) {
    let (admin, reader) = (
        RoleName::parse("admin").unwrap(),
        RoleName::parse("orders:read").unwrap(),
    );
    let ops = GroupName::parse("ops").unwrap();
    for name in [&admin, &reader] {
        let role = Role {
            name: name.clone(),
            api: None,
            scopes: Vec::new(),
            description: None,
            require_mfa: false,
            created_at: NOW,
        };
        h.store.create_role(&role).await.unwrap();
    }
    h.store
        .create_group(&Group {
            name: ops.clone(),
            created_at: NOW,
        })
        .await
        .unwrap();
    for link in [
        Assignment::UserRole(alice.user_id.clone(), admin),
        Assignment::GroupMember(ops.clone(), alice.user_id.clone()),
        Assignment::GroupRole(ops, reader),
    ] {
        assert!(h.store.add_assignment(&link).await.unwrap());
    }
}

#[tokio::test]
async fn effective_roles_reach_every_token_and_a_refresh_sees_a_removal() {
    let mut h = Harness::new(&[]).await;
    let mut spec = web_spec();
    spec.scope = "openid offline_access roles groups".into();
    let client = h.client("dashboard", spec).await;
    let resource = h.client("orders", service_spec()).await;
    let alice = h.user("alice").await;
    roles_of_alice(&h, &alice).await;
    let code = code_for(&h, &client, &alice, "openid offline_access roles groups").await;
    let tokens = exchange(&h.ctx(), &client, redeem(&code), &Default::default())
        .await
        .unwrap();

    // RFC 7662 §2.2: introspection shows the token's roles and groups.
    let answer = introspect(&h.ctx(), &resource, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(answer["roles"], serde_json::json!(["admin", "orders:read"]));
    assert_eq!(answer["groups"], serde_json::json!(["ops"]));
    // OIDC Core §5.3 with the roles and groups scopes.
    let info = userinfo(&h.ctx(), Presented::bearer(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(info.authorization.roles, ["admin", "orders:read"]);
    assert_eq!(info.authorization.groups, ["ops"]);

    // Removing her own role shows in the next token, not in the one already issued.
    let admin = RoleName::parse("admin").unwrap();
    let link = Assignment::UserRole(alice.user_id.clone(), admin);
    assert!(h.store.remove_assignment(&link).await.unwrap());
    h.now += 60;
    let refreshed = exchange(&h.ctx(), &client, refresh(&tokens), &Default::default())
        .await
        .unwrap();
    let before = introspect(&h.ctx(), &resource, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(before["roles"], serde_json::json!(["admin", "orders:read"]));
    let after = introspect(&h.ctx(), &resource, &refreshed.access_token)
        .await
        .unwrap();
    assert_eq!(after["roles"], serde_json::json!(["orders:read"]));
}

#[tokio::test]
async fn a_service_client_s_roles_are_in_its_own_token_and_groups_need_their_scope() {
    let h = Harness::new(&[]).await;
    let service = h.client("orders", service_spec()).await;
    let role = Role {
        name: RoleName::parse("billing").unwrap(),
        api: None,
        scopes: Vec::new(),
        description: None,
        require_mfa: false,
        created_at: NOW,
    };
    h.store.create_role(&role).await.unwrap();
    let link = Assignment::ClientRole(service.client_id.clone(), role.name.clone());
    assert!(h.store.add_assignment(&link).await.unwrap());
    let tokens = exchange(
        &h.ctx(),
        &service,
        TokenRequest::ClientCredentials {
            scope: None,
            resource: Vec::new(),
        },
        &Default::default(),
    )
    .await
    .unwrap();
    let answer = introspect(&h.ctx(), &service, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(answer["roles"], serde_json::json!(["billing"]));
    assert!(answer.get("groups").is_none());

    // A user in a group, without the groups scope: roles, but no groups claim.
    let client = h.client("dashboard", web_spec()).await;
    let alice = h.user("alice").await;
    roles_of_alice(&h, &alice).await;
    let code = code(&h, &client, &alice).await;
    let tokens = exchange(&h.ctx(), &client, redeem(&code), &Default::default())
        .await
        .unwrap();
    let answer = introspect(&h.ctx(), &service, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(answer["roles"], serde_json::json!(["admin", "orders:read"]));
    assert!(answer.get("groups").is_none(), "{answer}");
    let info = userinfo(&h.ctx(), Presented::bearer(&tokens.access_token))
        .await
        .unwrap();
    assert!(info.authorization.roles.is_empty() && info.authorization.groups.is_empty());
}
