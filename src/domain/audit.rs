//! Audit events: who did what, and when. An event names its kind, the acting principal, the user and
//! the client it concerns, and a small JSON detail. It never holds a secret, a password or a token
//! value (grant ids and key ids are identifiers, not credentials).

use serde::Serialize;
use serde_json::Value;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A user signed in with their password.
    SignInSucceeded,
    /// A sign-in was refused (the detail names why: wrong_password, disabled, throttled, busy).
    SignInFailed,
    /// A user allowed a client the scopes it asked for.
    ConsentGiven,
    /// A user refused a client.
    ConsentDenied,
    /// A grant was created: by redeeming a code, or by a token exchange.
    GrantCreated,
    /// A refresh token was rotated (its grant goes on).
    RefreshTokenRotated,
    /// A token was revoked at the revocation endpoint (RFC 7009).
    TokenRevoked,
    /// A spent refresh token came back: its grant was revoked (RFC 9700 §4.14.2).
    RefreshTokenReused,
    /// A redeemed authorization code came back: what it produced was revoked (RFC 6749 §4.1.2).
    AuthorizationCodeReplayed,
    /// An access token was issued (recorded only with `--audit-token-issuance`).
    TokenIssued,
    /// An operator changed something (the detail names the object and the change).
    AdminChange,
    /// A signing key was rotated or re-encrypted.
    KeyChange,
    /// A client registered itself (RFC 7591), or read, replaced or deleted its registration
    /// (RFC 7592): the detail's `action` says which.
    ClientRegistration,
    /// A user enrolled a second factor (the detail's `factor` says which).
    SecondFactorEnrolled,
    /// A user changed their password on the account page (they were signed out everywhere else).
    AccountPasswordChanged,
    /// A user ended one of their browser sessions on the account page.
    AccountSessionEnded,
    /// A user revoked their consent to a client on the account page, with its grants.
    AccountConsentRevoked,
    /// A user removed their second factor (and its recovery codes) on the account page.
    AccountSecondFactorRemoved,
    /// A user replaced their recovery codes on the account page.
    AccountRecoveryCodesRegenerated,
}

impl EventType {
    /// Every type.
    pub const ALL: [Self; 19] = [
        Self::SignInSucceeded,
        Self::SignInFailed,
        Self::ConsentGiven,
        Self::ConsentDenied,
        Self::GrantCreated,
        Self::RefreshTokenRotated,
        Self::TokenRevoked,
        Self::RefreshTokenReused,
        Self::AuthorizationCodeReplayed,
        Self::TokenIssued,
        Self::AdminChange,
        Self::KeyChange,
        Self::ClientRegistration,
        Self::SecondFactorEnrolled,
        Self::AccountPasswordChanged,
        Self::AccountSessionEnded,
        Self::AccountConsentRevoked,
        Self::AccountSecondFactorRemoved,
        Self::AccountRecoveryCodesRegenerated,
    ];

    /// Its stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignInSucceeded => "sign_in.succeeded",
            Self::SignInFailed => "sign_in.failed",
            Self::ConsentGiven => "consent.given",
            Self::ConsentDenied => "consent.denied",
            Self::GrantCreated => "grant.created",
            Self::RefreshTokenRotated => "refresh_token.rotated",
            Self::TokenRevoked => "token.revoked",
            Self::RefreshTokenReused => "refresh_token.reused",
            Self::AuthorizationCodeReplayed => "authorization_code.replayed",
            Self::TokenIssued => "token.issued",
            Self::AdminChange => "admin.change",
            Self::KeyChange => "key.change",
            Self::ClientRegistration => "client.registration",
            Self::SecondFactorEnrolled => "second_factor.enrolled",
            Self::AccountPasswordChanged => "account.password_changed",
            Self::AccountSessionEnded => "account.session_ended",
            Self::AccountConsentRevoked => "account.consent_revoked",
            Self::AccountSecondFactorRemoved => "account.second_factor_removed",
            Self::AccountRecoveryCodesRegenerated => "account.recovery_codes_regenerated",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Its schema (an OpenAPI 3.1 Schema Object): one of the names `as_str` gives, as `Serialize` writes them.
impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Self::ALL.map(Self::as_str)))
            .description(Some("What happened."))
            .into()
    }
}

impl utoipa::ToSchema for EventType {}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Its sequence number (0 before it is stored).
    pub id: i64,
    /// When (seconds since the epoch).
    pub at: i64,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Who did it: `user:ID`, `client:ID`, `cli:OS-USER`, or `server` (automatic work).
    pub actor: String,
    /// The user it concerns.
    pub user_id: Option<String>,
    /// The client it concerns.
    pub client_id: Option<String>,
    /// What else there is to know: never a secret.
    pub detail: Value,
}

impl AuditEvent {
    /// An event of `event_type` at `at` by `actor`, about nobody in particular yet.
    pub fn new(event_type: EventType, at: i64, actor: impl Into<String>) -> Self {
        Self {
            id: 0,
            at,
            event_type,
            actor: actor.into(),
            user_id: None,
            client_id: None,
            detail: Value::Object(serde_json::Map::new()),
        }
    }

    /// About `user_id`.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// About `client_id`.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// With `detail` (a JSON object).
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    /// With `key: value` added to the detail.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Value::Object(map) = &mut self.detail {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}

/// The audit events a store operation writes in its own transaction, so that the change and its
/// record commit together or not at all.
#[derive(Debug, Default, Clone, Copy)]
pub struct InTransaction<'a> {
    /// Written when the operation makes its change.
    pub done: Option<&'a AuditEvent>,
    /// Written when the operation finds misuse and answers it (a spent refresh token presented
    /// again: the grant's revocation and this event commit together).
    pub misuse: Option<&'a AuditEvent>,
}

impl<'a> InTransaction<'a> {
    /// Only `done`.
    pub fn done(event: &'a AuditEvent) -> Self {
        Self {
            done: Some(event),
            misuse: None,
        }
    }
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only about this user.
    pub user_id: Option<String>,
    /// Only about this client.
    pub client_id: Option<String>,
    /// Only of this type.
    pub event_type: Option<EventType>,
    /// Only at or after this time.
    pub since: i64,
    /// At most this many.
    pub limit: i64,
}
