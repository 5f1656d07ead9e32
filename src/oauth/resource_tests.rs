//! Table-driven tests of the RFC 8707 rules over a catalog built in memory.

use super::*;
use crate::domain::api::Api;
use crate::domain::client::{ClientId, ClientSpec};
use crate::domain::scope::Scope;

const ORDERS: &str = "https://orders.example.com";
const BILLING: &str = "https://billing.example.com";

fn api(audience: &str, ttl: Option<i64>, alg: Option<SigningAlg>) -> Api {
    Api {
        audience: Audience::parse(audience).unwrap(),
        name: audience.into(),
        access_token_ttl: ttl,
        access_token_alg: alg,
        token_format: crate::domain::api::TokenFormat::Jwt,
        rbac: false,
        created_at: 0,
        updated_at: 0,
    }
}

fn scope(name: &str, api: Option<&str>) -> Scope {
    Scope {
        name: name.into(),
        description: name.into(),
        builtin: api.is_none(),
        api: api.map(|a| Audience::parse(a).unwrap()),
        hidden: false,
        created_at: 0,
    }
}

fn catalog() -> Catalog {
    Catalog {
        apis: vec![
            api(ORDERS, Some(300), Some(SigningAlg::ES256)),
            api(BILLING, None, None),
        ],
        scopes: vec![
            scope("openid", None),
            scope("orders:read", Some(ORDERS)),
            scope("orders:write", Some(ORDERS)),
            scope("billing:read", Some(BILLING)),
        ],
        roles: Vec::new(),
    }
}

fn client(resources: &[&str], default: Option<&str>) -> Client {
    Client::from_spec(
        ClientId::parse("app").unwrap(),
        &ClientSpec {
            client_name: "App".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "openid orders:read orders:write billing:read".into(),
            auth_method: "client_secret_basic".into(),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            default_resource: default.map(str::to_owned),
            ..ClientSpec::default()
        },
        0,
    )
    .unwrap()
}

fn outcome(result: Result<Vec<Audience>, InvalidTarget>) -> String {
    match result {
        Ok(list) => list
            .iter()
            .map(Audience::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Err(InvalidTarget(_)) => "invalid_target".into(),
    }
}

#[test]
#[allow(clippy::type_complexity)] // a table: one row per rule
fn which_apis_a_request_covers() {
    let both = client(&[ORDERS, BILLING], None);
    let with_default = client(&[ORDERS, BILLING], Some(BILLING));
    let orders_only = client(&[ORDERS], None);
    // (case, client, resource values, scope, expected)
    let cases: Vec<(&str, &Client, Vec<&str>, &str, &str)> = vec![
        (
            "RFC 8707 §2 the named resource",
            &both,
            vec![ORDERS],
            "orders:read",
            ORDERS,
        ),
        (
            "RFC 8707 §2 several resources at once",
            &both,
            vec![ORDERS, BILLING],
            "orders:read billing:read",
            "https://orders.example.com https://billing.example.com",
        ),
        (
            "RFC 8707 §2 an unknown resource",
            &both,
            vec!["https://nope.example.com"],
            "openid",
            "invalid_target",
        ),
        (
            "RFC 8707 §2 not an absolute URI",
            &both,
            vec!["orders"],
            "openid",
            "invalid_target",
        ),
        (
            "RFC 8707 §2 a resource the client may not use",
            &orders_only,
            vec![BILLING],
            "openid",
            "invalid_target",
        ),
        (
            "RFC 8707 §2 a scope of another API",
            &both,
            vec![ORDERS],
            "billing:read",
            "invalid_target",
        ),
        (
            "inferred from scopes of exactly one API",
            &both,
            vec![],
            "orders:read orders:write",
            ORDERS,
        ),
        (
            "scopes of two APIs and no resource",
            &both,
            vec![],
            "orders:read billing:read",
            "invalid_target",
        ),
        (
            "no API scopes: the client's default resource",
            &with_default,
            vec![],
            "openid",
            BILLING,
        ),
        (
            "no API scopes and no default: the server's audience",
            &both,
            vec![],
            "openid",
            "",
        ),
        (
            "a default cannot carry another API's scope",
            &with_default,
            vec![],
            "orders:read",
            ORDERS,
        ),
    ];
    for (case, client, requested, scope, expected) in cases {
        let scope = ScopeSet::parse(scope).unwrap();
        let result = resources_for(&catalog(), client, &requested, &scope);
        assert_eq!(outcome(result), expected, "{case}");
    }
}

fn settings() -> Settings {
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        config: crate::config::Config,
    }
    use clap::Parser;
    Flags::try_parse_from([
        "latchkey",
        "--issuer",
        "https://id.example.com",
        "--database-url",
        "sqlite::memory:",
    ])
    .unwrap()
    .config
    .validate()
    .unwrap()
}

#[test]
fn one_token_one_audience_with_that_apis_lifetime_and_algorithm() {
    let (catalog, settings) = (catalog(), settings());
    let covered = vec![
        Audience::parse(ORDERS).unwrap(),
        Audience::parse(BILLING).unwrap(),
    ];
    let orders = target(&catalog, &settings, &covered, &[]).unwrap();
    assert_eq!(
        orders.audience, ORDERS,
        "without resource: the first covered API"
    );
    assert_eq!((orders.lifetime, orders.alg), (300, SigningAlg::ES256));
    let billing = target(&catalog, &settings, &covered, &[BILLING]).unwrap();
    assert_eq!(billing.audience, BILLING);
    assert_eq!(
        (billing.lifetime, billing.alg),
        (settings.lifetimes.access_token, settings.access_token_alg),
        "an API without its own settings uses the server's"
    );
    // RFC 8707 §2.2: only an API the grant covers, and one per token.
    assert!(target(&catalog, &settings, &covered, &["https://nope.example.com"]).is_err());
    assert!(target(&catalog, &settings, &covered, &[ORDERS, BILLING]).is_err());
    let none = target(&catalog, &settings, &[], &[]).unwrap();
    assert_eq!(none.audience, "https://id.example.com");
    assert_eq!(none.api, None);
    // A token's scope is its API's scopes plus the scopes of no API.
    let granted = ScopeSet::parse("openid orders:read billing:read").unwrap();
    assert_eq!(
        scope_for(&catalog, &orders, &granted).to_string(),
        "openid orders:read"
    );
    assert_eq!(scope_for(&catalog, &none, &granted).to_string(), "openid");
}

#[test]
fn repeated_resource_values_are_split() {
    assert_eq!(requested_resources(Some("a b")), vec!["a", "b"]);
    assert!(requested_resources(None).is_empty());
}

#[test]
fn an_rbac_api_keeps_only_the_scopes_roles_grant() {
    use crate::domain::role::{Role, RoleName};
    let mut catalog = catalog();
    catalog.apis[0].rbac = true; // Orders
    let role = |name: &str, api: Option<&str>, scopes: &[&str]| Role {
        name: RoleName::from_stored(name.into()),
        description: None,
        api: api.map(|a| Audience::parse(a).unwrap()),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        require_mfa: false,
        created_at: 0,
    };
    catalog.roles = vec![
        role("reader", None, &["orders:read"]),
        role("writer", Some(ORDERS), &["orders:write"]),
        role("billing-writer", Some(BILLING), &["orders:write"]),
    ];
    let names = |list: &[&str]| -> Vec<RoleName> {
        list.iter()
            .map(|n| RoleName::from_stored((*n).into()))
            .collect()
    };
    let entitled = |scope: &str, roles: &[&str]| {
        entitled_scope(&catalog, &ScopeSet::parse(scope).unwrap(), &names(roles))
            .map(|s| s.to_string())
            .unwrap_or_else(|_| "invalid_scope".into())
    };
    let cases = [
        (
            "no role: nothing of an --rbac API",
            "orders:read",
            &[][..],
            "invalid_scope",
        ),
        (
            "a global role grants",
            "orders:read orders:write",
            &["reader"][..],
            "orders:read",
        ),
        (
            "a role of the API grants",
            "orders:read orders:write",
            &["reader", "writer"][..],
            "orders:read orders:write",
        ),
        (
            "another API's role does not",
            "orders:write",
            &["billing-writer"][..],
            "invalid_scope",
        ),
        (
            "scopes of other APIs are untouched",
            "openid billing:read",
            &[][..],
            "billing:read openid",
        ),
        (
            "a non-rbac scope beside a dropped one stays",
            "billing:read orders:write",
            &["reader"][..],
            "invalid_scope",
        ),
    ];
    for (case, scope, roles, expected) in cases {
        assert_eq!(entitled(scope, roles), expected, "{case}");
    }
    assert!(has_rbac_scope(
        &catalog,
        &ScopeSet::parse("orders:read").unwrap()
    ));
    assert!(!has_rbac_scope(
        &catalog,
        &ScopeSet::parse("openid billing:read").unwrap()
    ));
}
