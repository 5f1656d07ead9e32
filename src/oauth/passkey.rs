//! Passkeys (WebAuthn Level 3): registering one for a signed-in user (§7.1), and using one, as the
//! second factor after the password or alone (§7.2). The ceremonies' checks are webauthn_rp's (the
//! challenge, the origin, the RP ID hash, the flags, the signature, the counter); this module keeps
//! their state in the store so any instance can finish a ceremony another began, takes it out
//! exactly once, and decides what a passkey proves (RFC 8176 `hwk`/`swk`).

use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticatorAttachmentEnforcement;
use webauthn_rp::request::auth::{AllowedCredentials, AuthenticationVerificationOptions};
use webauthn_rp::request::register::CredProtect;
use webauthn_rp::request::register::{
    PublicKeyCredentialUserEntity, RegistrationVerificationOptions, USER_HANDLE_MAX_LEN,
    UserHandle64,
};
use webauthn_rp::request::{
    AsciiDomain, Credentials, ExtensionInfo, PublicKeyCredentialDescriptor, RpId,
};
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, Backup, CredentialId};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication64, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, NonDiscoverableAuthentication64,
    NonDiscoverableAuthenticationServerState, NonDiscoverableCredentialRequestOptions,
    PublicKeyCredentialCreationOptions, Registration, RegistrationServerState,
};

use super::Context;
use crate::domain::audit::{AuditEvent, InTransaction};
use crate::domain::authn::Method;
use crate::domain::mfa::new_recovery_codes;
use crate::domain::passkey::{CEREMONY_TTL, Ceremony, Passkey, Purpose, USER_HANDLE_BYTES};
use crate::domain::secret::{TokenHash, random_string};
use crate::domain::user::{User, UserId};
use crate::store::StoreError;

/// The largest credential JSON taken from a browser: an answer with an RSA-4096 key is under
/// 3 KiB, and `none` attestation (all Latchkey asks for) carries no certificates.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// Who Latchkey is to authenticators: its RP ID and the one origin its pages are served from.
pub struct RelyingParty {
    rp_id: RpId,
    origin: String,
}

impl RelyingParty {
    /// WebAuthn §5.1.2 / §13.4.9: the RP ID is the issuer's host, which must be a domain (an IP
    /// address cannot be an RP ID: browsers refuse it); the origin is the issuer's scheme, host and
    /// port, and browsers allow passkeys only there on `https` or on `localhost`. `None` when the
    /// issuer's host is an IP address: passkeys are then unavailable, and the pages do not offer
    /// them.
    pub fn of(issuer: &str) -> Option<Self> {
        let url = url::Url::parse(issuer).ok()?;
        let url::Host::Domain(host) = url.host()? else {
            return None;
        };
        let rp_id = RpId::Domain(AsciiDomain::try_from(host.to_owned()).ok()?);
        let origin = url.origin().ascii_serialization();
        Some(Self { rp_id, origin })
    }
}

/// Why a passkey ceremony did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The issuer's host is an IP address, which cannot be an RP ID.
    #[error("passkeys need an issuer whose host is a domain name")]
    Unavailable,
    /// No ceremony: never begun, already finished, expired, or begun for something else or
    /// someone else.
    #[error("no passkey ceremony is waiting, or it expired")]
    NoCeremony,
    /// The browser's answer failed a check of the ceremony (the reason, for the log only).
    #[error("the passkey's answer was refused: {0}")]
    Refused(String),
    /// No passkey with that credential id is registered (for this user).
    #[error("that passkey is not registered")]
    UnknownCredential,
    /// That credential is registered already.
    #[error("that passkey is registered already")]
    AlreadyRegistered,
}

/// A ceremony begun: its id (which the browser session keeps) and the options for
/// `navigator.credentials` as JSON (WebAuthn §5.4 / §5.5, in their `…JSON` form).
pub struct Begun {
    /// The ceremony's id; the store keeps only its digest.
    pub ceremony_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    pub options: serde_json::Value,
}

fn refused(err: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Refused(err.to_string())
}

/// The public key type a stored static state decodes to.
type StoredKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

async fn keep(
    ctx: &Context<'_>,
    purpose: Purpose,
    user_id: Option<&UserId>,
    state: Vec<u8>,
    options: serde_json::Value,
) -> Result<Begun, PasskeyError> {
    let ceremony_id = random_string(32);
    let ceremony = Ceremony {
        purpose,
        user_id: user_id.cloned(),
        state,
        expires_at: ctx.now + CEREMONY_TTL,
    };
    ctx.store
        .begin_passkey_ceremony(&TokenHash::of(&ceremony_id), &ceremony)
        .await?;
    Ok(Begun {
        ceremony_id,
        options,
    })
}

/// Take the ceremony `ceremony_id` out of the store: it must be for `purpose` and, when begun
/// for a user, for `user_id`.
async fn take(
    ctx: &Context<'_>,
    ceremony_id: &str,
    purpose: Purpose,
    user_id: Option<&UserId>,
) -> Result<Ceremony, PasskeyError> {
    let ceremony = ctx
        .store
        .take_passkey_ceremony(&TokenHash::of(ceremony_id), ctx.now)
        .await?
        .ok_or(PasskeyError::NoCeremony)?;
    if ceremony.purpose != purpose || ceremony.user_id.as_ref() != user_id {
        return Err(PasskeyError::NoCeremony);
    }
    Ok(ceremony)
}

/// The user's WebAuthn user handle (64 random bytes, the same for all their passkeys).
async fn user_handle(ctx: &Context<'_>, user_id: &UserId) -> Result<UserHandle64, PasskeyError> {
    let candidate = UserHandle64::new();
    let fresh = candidate.encode().map_err(refused)?;
    let stored = ctx.store.passkey_user_handle(user_id, &fresh).await?;
    let bytes: [u8; USER_HANDLE_BYTES] = stored
        .try_into()
        .map_err(|_| PasskeyError::Refused("a stored user handle has the wrong length".into()))?;
    UserHandle64::decode(bytes).map_err(|_| PasskeyError::Refused("bad user handle".into()))
}

/// The descriptors of the user's passkeys (for `excludeCredentials` and `allowCredentials`).
fn descriptors(passkeys: &[Passkey]) -> Vec<PublicKeyCredentialDescriptor<Vec<u8>>> {
    passkeys
        .iter()
        .filter_map(|p| {
            Some(PublicKeyCredentialDescriptor {
                id: CredentialId::decode(p.credential_id.clone()).ok()?,
                transports: AuthTransports::decode(p.transports).ok()?,
            })
        })
        .collect()
}

/// WebAuthn §7.1: begin registering a passkey for `user`. A discoverable credential (so it can
/// sign in alone), user verification required, no attestation; the user's passkeys are excluded
/// (`excludeCredentials`), so an authenticator does not register twice.
pub async fn begin_registration(ctx: &Context<'_>, user: &User) -> Result<Begun, PasskeyError> {
    let rp = RelyingParty::of(ctx.settings.issuer.as_str()).ok_or(PasskeyError::Unavailable)?;
    let handle = user_handle(ctx, &user.user_id).await?;
    let existing = ctx.store.list_passkeys(&user.user_id).await?;
    let display = user.name.as_deref().and_then(|name| name.try_into().ok());
    let entity = PublicKeyCredentialUserEntity {
        name: user.username.as_str().try_into().map_err(refused)?,
        id: &handle,
        display_name: display,
    };
    let mut options =
        PublicKeyCredentialCreationOptions::passkey(&rp.rp_id, entity, descriptors(&existing));
    // CTAP 2.1 credProtect: the authenticator should require user verification before even
    // revealing the credential, but an authenticator without the extension may still create it
    // (`enforceCredentialProtectionPolicy: false`): Latchkey requires user verification at sign-in
    // itself, and many platform authenticators do not implement the extension.
    options.extensions.cred_protect =
        CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
    let (server, client) = options.start_ceremony().map_err(refused)?;
    let json = serde_json::to_value(&client).map_err(refused)?;
    let state = server.encode().map_err(refused)?;
    keep(ctx, Purpose::Register, Some(&user.user_id), state, json).await
}

/// What a registration added.
pub struct Registered {
    /// What the new passkey proves (`hwk` or `swk`).
    pub method: Method,
    /// The recovery codes made with it, when it is the user's first second factor (shown once).
    pub recovery_codes: Option<Vec<String>>,
}

/// WebAuthn §7.1 steps 5–27: finish registering from the browser's `response` (the JSON of
/// `PublicKeyCredential.toJSON()`), and keep the passkey named `name` with its audit `event`, in
/// one transaction. A user's first second factor also gets ten recovery codes.
pub async fn finish_registration(
    ctx: &Context<'_>,
    user: &User,
    ceremony_id: &str,
    response: &str,
    name: String,
    event: &AuditEvent,
) -> Result<Registered, PasskeyError> {
    let rp = RelyingParty::of(ctx.settings.issuer.as_str()).ok_or(PasskeyError::Unavailable)?;
    let ceremony = take(ctx, ceremony_id, Purpose::Register, Some(&user.user_id)).await?;
    let server = RegistrationServerState::<USER_HANDLE_MAX_LEN>::decode(ceremony.state.as_slice())
        .map_err(refused)?;
    let registration: Registration = serde_json::from_str(response).map_err(refused)?;
    let origins = [rp.origin.as_str()];
    let options = RegistrationVerificationOptions::<&str, &str> {
        allowed_origins: &origins,
        ..RegistrationVerificationOptions::default()
    };
    let credential = server
        .verify(&rp.rp_id, &registration, &options)
        .map_err(refused)?;
    let (id, transports, _, static_state, dynamic_state, _) = credential.into_parts();
    let first = !has_second_factor(ctx, &user.user_id).await?;
    let (codes, hashes) = if first {
        let (codes, hashes) = new_recovery_codes();
        (Some(codes), Some(hashes))
    } else {
        (None, None)
    };
    let passkey = Passkey {
        credential_id: id.as_ref().to_vec(),
        user_id: user.user_id.clone(),
        name,
        static_state: static_state.encode().map_err(refused)?,
        dynamic_state: dynamic_state.encode().map_err(refused)?.to_vec(),
        transports: transports.encode().map_err(refused)?,
        created_at: ctx.now,
        last_used_at: None,
    };
    let added = ctx
        .store
        .add_passkey(&passkey, hashes.as_deref(), InTransaction::done(event))
        .await?;
    if !added {
        return Err(PasskeyError::AlreadyRegistered);
    }
    Ok(Registered {
        method: method_of(dynamic_state),
        recovery_codes: codes,
    })
}

/// Whether the user has a second factor: a confirmed authenticator app or a passkey.
pub async fn has_second_factor(ctx: &Context<'_>, user_id: &UserId) -> Result<bool, StoreError> {
    let totp = ctx
        .store
        .find_totp(user_id)
        .await?
        .is_some_and(|f| f.confirmed_at.is_some());
    Ok(totp || !ctx.store.list_passkeys(user_id).await?.is_empty())
}

/// RFC 8176 §2: `swk` for a key that may be copied off the authenticator (WebAuthn §6.1.3: backup
/// eligible, a synced passkey), `hwk` for one that cannot.
fn method_of(state: DynamicState) -> Method {
    match state.backup {
        Backup::NotEligible => Method::Hwk,
        Backup::Eligible | Backup::Exists => Method::Swk,
    }
}

/// WebAuthn §7.2: begin using a passkey, as the second factor of `user` (their passkeys in
/// `allowCredentials`) or, with no user, to sign in alone (a discoverable credential, user
/// verification required). `None` when the user has no passkey to use.
pub async fn begin_authentication(
    ctx: &Context<'_>,
    user: Option<&UserId>,
) -> Result<Option<Begun>, PasskeyError> {
    let rp = RelyingParty::of(ctx.settings.issuer.as_str()).ok_or(PasskeyError::Unavailable)?;
    let Some(user_id) = user else {
        let (server, client) = DiscoverableCredentialRequestOptions::passkey(&rp.rp_id)
            .start_ceremony()
            .map_err(refused)?;
        let json = serde_json::to_value(&client).map_err(refused)?;
        let state = server.encode().map_err(refused)?;
        return keep(ctx, Purpose::SignIn, None, state, json)
            .await
            .map(Some);
    };
    let passkeys = ctx.store.list_passkeys(user_id).await?;
    let mut allowed = AllowedCredentials::with_capacity(passkeys.len());
    for descriptor in descriptors(&passkeys) {
        allowed.push(descriptor.into());
    }
    if allowed.is_empty() {
        return Ok(None);
    }
    let options = NonDiscoverableCredentialRequestOptions::second_factor(&rp.rp_id, allowed)
        .map_err(refused)?;
    let (server, client) = options.start_ceremony().map_err(refused)?;
    let json = serde_json::to_value(&client).map_err(refused)?;
    let state = server.encode().map_err(refused)?;
    keep(ctx, Purpose::SecondFactor, Some(user_id), state, json)
        .await
        .map(Some)
}

/// A passkey that answered.
pub struct Authenticated {
    /// Whose it is.
    pub user_id: UserId,
    /// What it proves (`hwk` or `swk`).
    pub method: Method,
}

/// The checks of an assertion Latchkey asks for beyond the spec's: the only origin is the
/// issuer's; the backup-eligible flag may not change (webauthn_rp's default); an authenticator
/// reached another way than at registration (a phone's passkey over hybrid transport) is fine; a
/// signature counter that does not grow fails (WebAuthn §6.1.1: a cloned authenticator).
fn assertion_options<'a>(
    origins: &'a [&'a str],
) -> AuthenticationVerificationOptions<'a, 'a, &'a str, &'a str> {
    AuthenticationVerificationOptions {
        allowed_origins: origins,
        auth_attachment_enforcement: AuthenticatorAttachmentEnforcement::Update(false),
        update_uv: true,
        ..AuthenticationVerificationOptions::default()
    }
}

/// WebAuthn §7.2 steps 5–24: finish using a passkey from the browser's `response`: as `user`'s
/// second factor, or (no user) to sign in alone. The new counter and flags are recorded only if
/// no concurrent use recorded others first.
pub async fn finish_authentication(
    ctx: &Context<'_>,
    user: Option<&UserId>,
    ceremony_id: &str,
    response: &str,
) -> Result<Authenticated, PasskeyError> {
    let rp = RelyingParty::of(ctx.settings.issuer.as_str()).ok_or(PasskeyError::Unavailable)?;
    let purpose = if user.is_some() {
        Purpose::SecondFactor
    } else {
        Purpose::SignIn
    };
    let ceremony = take(ctx, ceremony_id, purpose, user).await?;
    let origins = [rp.origin.as_str()];
    let options = assertion_options(&origins);
    let (passkey, state) = if user.is_some() {
        let answer: NonDiscoverableAuthentication64 =
            serde_json::from_str(response).map_err(refused)?;
        let (passkey, handle) = stored(ctx, answer.raw_id().as_ref(), user).await?;
        let server = NonDiscoverableAuthenticationServerState::decode(ceremony.state.as_slice())
            .map_err(refused)?;
        let mut credential = credential(answer.raw_id(), &handle, &passkey)?;
        server
            .verify(&rp.rp_id, &answer, &mut credential, &options)
            .map_err(refused)?;
        (passkey, credential.dynamic_state())
    } else {
        let answer: DiscoverableAuthentication64 =
            serde_json::from_str(response).map_err(refused)?;
        let (passkey, handle) = stored(ctx, answer.raw_id().as_ref(), None).await?;
        let server = DiscoverableAuthenticationServerState::decode(ceremony.state.as_slice())
            .map_err(refused)?;
        let mut credential = credential(answer.raw_id(), &handle, &passkey)?;
        // Checks that the user handle the authenticator returned is this credential's user's.
        server
            .verify(&rp.rp_id, &answer, &mut credential, &options)
            .map_err(refused)?;
        (passkey, credential.dynamic_state())
    };
    let new_state = state.encode().map_err(refused)?;
    let recorded = ctx
        .store
        .use_passkey(
            &passkey.credential_id,
            &passkey.dynamic_state,
            &new_state,
            ctx.now,
        )
        .await?;
    if !recorded {
        return Err(PasskeyError::Refused(
            "another use of this passkey was recorded at the same time".into(),
        ));
    }
    Ok(Authenticated {
        user_id: passkey.user_id,
        method: method_of(state),
    })
}

/// The registered passkey `credential_id` (of `user`, when given) and its user's handle.
async fn stored(
    ctx: &Context<'_>,
    credential_id: &[u8],
    user: Option<&UserId>,
) -> Result<(Passkey, UserHandle64), PasskeyError> {
    let (passkey, handle) = ctx
        .store
        .find_passkey(credential_id)
        .await?
        .ok_or(PasskeyError::UnknownCredential)?;
    if user.is_some_and(|u| *u != passkey.user_id) {
        return Err(PasskeyError::UnknownCredential);
    }
    let bytes: [u8; USER_HANDLE_BYTES] = handle
        .try_into()
        .map_err(|_| PasskeyError::Refused("a stored user handle has the wrong length".into()))?;
    let handle =
        UserHandle64::decode(bytes).map_err(|_| PasskeyError::Refused("bad user handle".into()))?;
    Ok((passkey, handle))
}

/// A stored passkey as webauthn_rp checks an assertion against it.
fn credential<'a>(
    id: CredentialId<&'a [u8]>,
    handle: &'a UserHandle64,
    passkey: &Passkey,
) -> Result<AuthenticatedCredential<'a, 'a, USER_HANDLE_MAX_LEN, StoredKey>, PasskeyError> {
    let static_state =
        StaticState::<StoredKey>::decode(passkey.static_state.as_slice()).map_err(refused)?;
    let dynamic: [u8; 7] =
        passkey.dynamic_state.as_slice().try_into().map_err(|_| {
            PasskeyError::Refused("a stored dynamic state has the wrong length".into())
        })?;
    let dynamic_state = DynamicState::decode(dynamic).map_err(refused)?;
    AuthenticatedCredential::new(id, handle, static_state, dynamic_state).map_err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use webauthn_rp::response::AuthenticatorAttachment;

    fn state(backup: Backup) -> DynamicState {
        DynamicState {
            user_verified: true,
            backup,
            sign_count: 0,
            authenticator_attachment: AuthenticatorAttachment::None,
        }
    }

    #[test]
    fn a_synced_passkey_is_swk_and_a_device_bound_one_hwk() {
        assert_eq!(method_of(state(Backup::NotEligible)), Method::Hwk);
        assert_eq!(method_of(state(Backup::Eligible)), Method::Swk);
        assert_eq!(method_of(state(Backup::Exists)), Method::Swk);
    }

    #[test]
    fn the_rp_is_the_issuers_host_and_there_is_none_on_an_ip_address() {
        let rp = RelyingParty::of("https://id.example.com/tenant").unwrap();
        assert_eq!(rp.origin, "https://id.example.com");
        assert!(matches!(rp.rp_id, RpId::Domain(ref d) if d.as_ref() == "id.example.com"));
        let local = RelyingParty::of("http://localhost:8080").unwrap();
        assert_eq!(local.origin, "http://localhost:8080");
        assert!(RelyingParty::of("http://127.0.0.1:8080").is_none());
        assert!(RelyingParty::of("http://[::1]:8080").is_none());
        assert!(RelyingParty::of("not a url").is_none());
    }
}
