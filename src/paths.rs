//! Every path this server answers on: one constant each, used by the route table and by discovery
//! alike, so the two cannot drift. A leaf module.

/// OIDC Discovery 1.0 §4.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// RFC 8414 §3.
pub const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// The `jwks_uri` (RFC 7517 §5).
pub const JWKS_PATH: &str = "/jwks";
/// RFC 6749 §3.1 authorization endpoint.
pub const AUTHORIZE_PATH: &str = "/authorize";
/// RFC 6749 §3.2 token endpoint.
pub const TOKEN_PATH: &str = "/token";
/// RFC 7662 introspection endpoint.
pub const INTROSPECT_PATH: &str = "/introspect";
/// RFC 7009 revocation endpoint.
pub const REVOKE_PATH: &str = "/revoke";
/// The pushed authorization request endpoint (RFC 9126 §2).
pub const PAR_PATH: &str = "/par";
/// The device authorization endpoint (RFC 8628 §3.1).
pub const DEVICE_AUTHORIZATION_PATH: &str = "/device_authorization";
/// The device page, where the user enters the user code (RFC 8628 §3.3 `verification_uri`).
pub const DEVICE_PATH: &str = "/device";
/// The client registration endpoint (RFC 7591 §3).
pub const REGISTER_PATH: &str = "/register";
/// A client's configuration endpoint (RFC 7592 §2): `registration_client_uri`.
pub const REGISTRATION_CLIENT_PATH: &str = "/register/{client_id}";
/// OIDC Core §5.3 UserInfo endpoint.
pub const USERINFO_PATH: &str = "/userinfo";
/// OIDC RP-Initiated Logout §2 end-session endpoint.
pub const END_SESSION_PATH: &str = "/end_session";
/// The sign-in page.
pub const LOGIN_PATH: &str = "/login";
/// The second-factor page: a TOTP code, or a recovery code, after the password.
pub const OTP_PATH: &str = "/otp";
/// TOTP enrolment: the secret as a QR code, confirmed by a first code.
pub const OTP_SETUP_PATH: &str = "/otp-setup";
/// Begin a passkey ceremony: its options as JSON, for the page's script.
pub const PASSKEY_OPTIONS_PATH: &str = "/passkey/options";
/// Register a passkey.
pub const PASSKEY_SETUP_PATH: &str = "/passkey-setup";
/// A passkey as the second factor.
pub const OTP_PASSKEY_PATH: &str = "/otp/passkey";
/// Sign in with a passkey alone.
pub const LOGIN_PASSKEY_PATH: &str = "/login/passkey";
/// The passkey script.
pub const PASSKEY_SCRIPT_PATH: &str = "/static/passkey.js";
/// After enrolment's recovery codes: carry on with the sign-in.
pub const OTP_CONTINUE_PATH: &str = "/otp-continue";
/// The account page: a signed-in user's password, second factor, sessions and applications.
pub const ACCOUNT_PATH: &str = "/account";
/// The consent page.
pub const CONSENT_PATH: &str = "/consent";
/// The pages' stylesheet.
pub const STYLESHEET_PATH: &str = "/static/style.css";
/// Liveness.
pub const HEALTHZ_PATH: &str = "/healthz";
/// Readiness: the store answers and keys are loaded.
pub const READYZ_PATH: &str = "/readyz";
/// The admin API's clients (`latchkey:admin`).
pub const ADMIN_CLIENTS_PATH: &str = "/admin/v1/clients";
/// One client of the admin API.
pub const ADMIN_CLIENT_PATH: &str = "/admin/v1/clients/{client_id}";
/// A client's secret, rotated through the admin API.
pub const ADMIN_CLIENT_SECRET_PATH: &str = "/admin/v1/clients/{client_id}/secret";
/// The admin API's users.
pub const ADMIN_USERS_PATH: &str = "/admin/v1/users";
/// One user of the admin API.
pub const ADMIN_USER_PATH: &str = "/admin/v1/users/{username}";
/// A user's password, set through the admin API.
pub const ADMIN_USER_PASSWORD_PATH: &str = "/admin/v1/users/{username}/password";
/// Disable a user through the admin API.
pub const ADMIN_USER_DISABLE_PATH: &str = "/admin/v1/users/{username}/disable";
/// Enable a user through the admin API.
pub const ADMIN_USER_ENABLE_PATH: &str = "/admin/v1/users/{username}/enable";
/// Remove a user's second factors through the admin API (`user mfa reset`).
pub const ADMIN_USER_MFA_RESET_PATH: &str = "/admin/v1/users/{username}/mfa/reset";
/// Sign a user out everywhere through the admin API (`user revoke-sessions`).
pub const ADMIN_USER_REVOKE_SESSIONS_PATH: &str = "/admin/v1/users/{username}/revoke-sessions";
/// The admin API's roles.
pub const ADMIN_ROLES_PATH: &str = "/admin/v1/roles";
/// One role.
pub const ADMIN_ROLE_PATH: &str = "/admin/v1/roles/{name}";
/// A role held directly by a user.
pub const ADMIN_USER_ROLE_PATH: &str = "/admin/v1/users/{username}/roles/{role}";
/// A role of a client.
pub const ADMIN_CLIENT_ROLE_PATH: &str = "/admin/v1/clients/{client_id}/roles/{role}";
/// The admin API's groups.
pub const ADMIN_GROUPS_PATH: &str = "/admin/v1/groups";
/// One group.
pub const ADMIN_GROUP_PATH: &str = "/admin/v1/groups/{name}";
/// A member of a group.
pub const ADMIN_GROUP_MEMBER_PATH: &str = "/admin/v1/groups/{name}/members/{username}";
/// A role of a group.
pub const ADMIN_GROUP_ROLE_PATH: &str = "/admin/v1/groups/{name}/roles/{role}";
/// The admin API's scopes.
pub const ADMIN_SCOPES_PATH: &str = "/admin/v1/scopes";
/// One scope.
pub const ADMIN_SCOPE_PATH: &str = "/admin/v1/scopes/{name}";
/// The signing keys, through the admin API.
pub const ADMIN_KEYS_PATH: &str = "/admin/v1/keys";
/// Rotate a signing key through the admin API.
pub const ADMIN_KEYS_ROTATE_PATH: &str = "/admin/v1/keys/rotate";
/// The admin API's APIs (resource servers).
pub const ADMIN_APIS_PATH: &str = "/admin/v1/apis";
/// One API, by its percent-encoded audience.
pub const ADMIN_API_PATH: &str = "/admin/v1/apis/{audience}";
/// The initial access tokens of dynamic registration (RFC 7591 §3), through the admin API.
pub const ADMIN_REGISTRATION_TOKENS_PATH: &str = "/admin/v1/registration-tokens";
/// One initial access token.
pub const ADMIN_REGISTRATION_TOKEN_PATH: &str = "/admin/v1/registration-tokens/{token_id}";
/// The audit trail, through the admin API.
pub const ADMIN_AUDIT_EVENTS_PATH: &str = "/admin/v1/audit-events";
/// Apply a declarative configuration through the admin API.
pub const ADMIN_APPLY_PATH: &str = "/admin/v1/apply";
/// Export the configuration through the admin API.
pub const ADMIN_EXPORT_PATH: &str = "/admin/v1/export";
/// The admin API's OpenAPI 3.1 document (no token needed: it holds no secret).
pub const ADMIN_OPENAPI_PATH: &str = "/admin/v1/openapi.json";
/// Prometheus metrics (on `--metrics-bind` instead, when that is set).
pub const METRICS_PATH: &str = "/metrics";

/// The largest request body accepted (form posts are small; this bounds hostile input).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
