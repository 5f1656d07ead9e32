//! The benchmark's own registrations, made through the admin CLI as an operator would: scopes, the
//! role-based and reference-token APIs with their roles, the clients and the user.

use anyhow::{Result, anyhow};

use crate::phases::Credentials;
use crate::protection;
use crate::server::Setup;
use crate::{PASSWORD, REDIRECT_URI};

/// The role-based API: ES256 tokens, scopes only as roles grant them.
pub const RBAC_API: &str = "https://orders.bench.example";
/// The API whose access tokens are reference tokens.
pub const OPAQUE_API: &str = "https://ledger.bench.example";
/// How many roles the role-based service client has (each granting one scope of `RBAC_API`).
pub const RBAC_ROLES: usize = 5;

pub fn creds(value: &serde_json::Value) -> Result<Credentials> {
    Ok(Credentials {
        id: value["client_id"]
            .as_str()
            .ok_or_else(|| anyhow!("no client_id"))?
            .to_owned(),
        secret: value["client_secret"]
            .as_str()
            .ok_or_else(|| anyhow!("no client_secret"))?
            .to_owned(),
    })
}

/// The clients `register` creates.
pub struct Clients {
    /// Client credentials, `orders:read`, tokens for the issuer.
    pub service: Credentials,
    /// May introspect any token.
    pub gateway: Credentials,
    /// The web client of the code flows.
    pub web: Credentials,
    /// Client credentials with `RBAC_ROLES` roles on `RBAC_API` (an `--rbac` API with ES256 tokens).
    pub rbac_service: Credentials,
    /// Client credentials for `OPAQUE_API`, whose tokens are reference tokens.
    pub opaque_service: Credentials,
    /// `OPAQUE_API`'s resource-server client (introspects its reference tokens).
    pub opaque_api: Credentials,
    /// Client credentials with `tls_client_auth` and certificate-bound tokens: its id.
    pub mtls_service: String,
}

/// The role-based API with `RBAC_ROLES` roles (one scope each) and a service client holding them all,
/// and the reference-token API with a service client and its resource-server client.
fn register_apis(setup: &Setup) -> Result<(Credentials, Credentials, Credentials)> {
    let scopes: Vec<String> = (1..=RBAC_ROLES).map(|n| format!("orders:s{n}")).collect();
    let mut api = vec![
        "api",
        "create",
        "--audience",
        RBAC_API,
        "--name",
        "Bench orders",
        "--rbac",
        "--token-alg",
        "ES256",
    ];
    for scope in &scopes {
        api.extend(["--scope", scope]);
    }
    setup.cli(&api, None)?;
    let joined = scopes.join(" ");
    let rbac_service = creds(&setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-rbac-service",
            "--grant-type",
            "client_credentials",
            "--scope",
            &joined,
            "--resource",
            RBAC_API,
            "--default-resource",
            RBAC_API,
        ],
        None,
    )?)?;
    for (n, scope) in scopes.iter().enumerate() {
        let role = format!("bench-role-{}", n + 1);
        setup.cli(
            &["role", "create", &role, "--api", RBAC_API, "--scope", scope],
            None,
        )?;
        setup.cli(&["client", "add-role", &rbac_service.id, &role], None)?;
    }

    setup.cli(
        &[
            "api",
            "create",
            "--audience",
            OPAQUE_API,
            "--name",
            "Bench ledger",
            "--token-format",
            "opaque",
            "--scope",
            "ledger:read",
        ],
        None,
    )?;
    let opaque_service = creds(&setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-ledger-caller",
            "--grant-type",
            "client_credentials",
            "--scope",
            "ledger:read",
            "--resource",
            OPAQUE_API,
        ],
        None,
    )?)?;
    let opaque_api = creds(&setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-ledger-api",
            "--grant-type",
            "client_credentials",
            "--api",
            OPAQUE_API,
        ],
        None,
    )?)?;
    Ok((rbac_service, opaque_service, opaque_api))
}

/// Register the benchmark's scopes, APIs, roles, clients and user through the admin CLI.
pub fn register(setup: &Setup) -> Result<Clients> {
    setup.cli(
        &[
            "scope",
            "create",
            "orders:read",
            "--description",
            "Read orders",
        ],
        None,
    )?;
    let service = creds(&setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-service",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read",
        ],
        None,
    )?)?;
    let gateway = creds(&setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-gateway",
            "--grant-type",
            "client_credentials",
            "--introspect-any",
        ],
        None,
    )?)?;
    let web = creds(&setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-web",
            "--redirect-uri",
            REDIRECT_URI,
            "--scope",
            "openid",
            "--skip-consent",
        ],
        None,
    )?)?;
    setup.cli(
        &["user", "create", "--username", "bench", "--password-stdin"],
        Some(PASSWORD),
    )?;
    let (rbac_service, opaque_service, opaque_api) = register_apis(setup)?;
    let mtls_service = setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-mtls-service",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read",
            "--auth-method",
            "tls_client_auth",
            "--tls-client-auth-san-uri",
            protection::CLIENT_SAN_URI,
            "--tls-client-certificate-bound-access-tokens",
        ],
        None,
    )?["client_id"]
        .as_str()
        .ok_or_else(|| anyhow!("no client_id"))?
        .to_owned();
    Ok(Clients {
        service,
        gateway,
        web,
        rbac_service,
        opaque_service,
        opaque_api,
        mtls_service,
    })
}
