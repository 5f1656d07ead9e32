//! Secrets at rest — signing keys, and `client_secret_jwt` clients' secrets: AES-256-GCM under a key
//! derived (HKDF-SHA256) from the configured secret.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac, rand};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use crate::config::{ConfigError, KEY_SECRET_FILE, SecretSource, check_secret_strength};
use crate::domain::client::{ClientId, SealedSecret};
use crate::domain::secret::random_string;
use crate::domain::user::UserId;

/// The associated data of a sealed client secret: a prefix keeps it apart from a signing key whose
/// kid happens to equal the client id.
fn client_secret_aad(client_id: &ClientId) -> String {
    format!("client-secret:{client_id}")
}

/// The HKDF salt: versioned, so a future scheme can derive a different key from the same secret.
const HKDF_SALT: &[u8] = b"latchkey key-encryption v1";

/// The key that encrypts signing keys and `client_secret_jwt` secrets at rest.
pub struct KeyEncryptionKey {
    key: LessSafeKey,
    /// HMAC-SHA256 key of DPoP server nonces (RFC 9449 §8): derived from the same secret, so every
    /// instance makes and accepts the same nonces without sharing state.
    nonce_key: hmac::Key,
    /// HMAC-SHA256 key of the pages' CSRF tokens (signed double-submit): derived from the same
    /// secret, so any instance accepts a form another rendered.
    csrf_key: hmac::Key,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

/// A sealed key that would not open: a wrong secret, or a damaged record.
#[derive(Debug, thiserror::Error)]
#[error("cannot decrypt {what} '{kid}': is the key-encryption secret the one it was stored with?")]
pub struct DecryptError {
    /// What would not open: a signing key, or a client's secret.
    pub what: &'static str,
    /// The key (or client) that would not open.
    pub kid: String,
}

/// A key that could not be sealed for storage (no randomness for the nonce, or the cipher refused):
/// nothing is stored.
#[derive(Debug, thiserror::Error)]
#[error("cannot encrypt {what} '{kid}' for storage")]
pub struct SealError {
    /// What was not sealed: a signing key, or a client's secret.
    pub what: &'static str,
    /// The key (or client) that was not sealed.
    pub kid: String,
}

const SIGNING_KEY: &str = "signing key";
const TOTP_SECRET: &str = "the TOTP secret of user";
const CLIENT_SECRET: &str = "the secret of client";

impl KeyEncryptionKey {
    /// Derive the AES-256-GCM key from a secret with HKDF-SHA256 (RFC 5869).
    pub fn derive(secret: &SecretString) -> Result<Self, aws_lc_rs::error::Unspecified> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT)
            .extract(secret.expose_secret().as_bytes());
        let okm = prk.expand(&[b"aes-256-gcm"], &AES_256_GCM)?;
        let nonce_key = hmac::Key::from(prk.expand(&[b"dpop-nonce"], hmac::HMAC_SHA256)?);
        let csrf_key = hmac::Key::from(prk.expand(&[b"page-csrf"], hmac::HMAC_SHA256)?);
        Ok(Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            nonce_key,
            csrf_key,
        })
    }

    /// The MAC of a DPoP nonce's time window (RFC 9449 §8): the nonce is the window and this.
    pub fn nonce_tag(&self, window: i64) -> Vec<u8> {
        hmac::sign(&self.nonce_key, &window.to_be_bytes())
            .as_ref()
            .to_vec()
    }

    /// The MAC of a page's CSRF token: the browser's CSRF cookie and what the token is bound to (the
    /// signed-in session's `sid`, empty before sign-in), each prefixed by its length so no two
    /// pairs sign the same bytes.
    pub fn csrf_tag(&self, cookie: &str, binding: &str) -> Vec<u8> {
        let mut context = hmac::Context::with_key(&self.csrf_key);
        for part in [cookie, binding] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        context.sign().as_ref().to_vec()
    }

    /// Seal `plaintext`, binding it to `kid` (as associated data): `nonce || ciphertext || tag`.
    ///
    /// Any failure (no randomness for the nonce, a refused seal) is an error and nothing is returned:
    /// a caller can never store an unsealed, empty or fixed-nonce key (NIST SP 800-38D §8.2: a GCM
    /// nonce must never repeat under one key).
    pub fn encrypt(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.seal_fresh(SIGNING_KEY, kid, kid.as_bytes(), plaintext)
    }

    /// Seal a `client_secret_jwt` client's secret for storage, bound to its client id (associated
    /// data `client-secret:` + the id), so a sealed secret copied onto another client's row does not
    /// open there, nor does one copied into the signing keys (whose associated data is the bare kid).
    pub fn seal_client_secret(
        &self,
        client_id: &ClientId,
        secret: &str,
    ) -> Result<SealedSecret, SealError> {
        let aad = client_secret_aad(client_id);
        self.seal_fresh(
            CLIENT_SECRET,
            client_id.as_str(),
            aad.as_bytes(),
            secret.as_bytes(),
        )
        .map(SealedSecret::from_bytes)
    }

    /// Open a `client_secret_jwt` client's sealed secret: the key of its HS256 assertions.
    pub fn open_client_secret(
        &self,
        client_id: &ClientId,
        sealed: &SealedSecret,
    ) -> Result<SecretSlice<u8>, DecryptError> {
        let aad = client_secret_aad(client_id);
        self.open(
            CLIENT_SECRET,
            client_id.as_str(),
            aad.as_bytes(),
            sealed.as_bytes(),
        )
        .map(SecretSlice::from)
    }

    /// Seal a user's TOTP secret for storage, bound to the user id (associated data `totp:` + the
    /// id), so a sealed secret copied onto another user's row does not open there.
    pub fn seal_totp_secret(&self, user_id: &UserId, secret: &[u8]) -> Result<Vec<u8>, SealError> {
        let aad = format!("totp:{user_id}");
        self.seal_fresh(TOTP_SECRET, user_id.as_str(), aad.as_bytes(), secret)
    }

    /// Open a user's sealed TOTP secret.
    pub fn open_totp_secret(
        &self,
        user_id: &UserId,
        sealed: &[u8],
    ) -> Result<SecretSlice<u8>, DecryptError> {
        let aad = format!("totp:{user_id}");
        self.open(TOTP_SECRET, user_id.as_str(), aad.as_bytes(), sealed)
            .map(SecretSlice::from)
    }

    fn seal_fresh(
        &self,
        what: &'static str,
        kid: &str,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        let drawn = rand::fill(&mut nonce).map(|()| nonce);
        self.seal(what, kid, aad, plaintext, drawn)
    }

    /// Seal with a freshly drawn nonce, or fail if the draw failed.
    fn seal(
        &self,
        what: &'static str,
        kid: &str,
        aad: &[u8],
        plaintext: &[u8],
        nonce: Result<[u8; NONCE_LEN], aws_lc_rs::error::Unspecified>,
    ) -> Result<Vec<u8>, SealError> {
        let seal_error = || SealError {
            what,
            kid: kid.to_owned(),
        };
        let nonce = nonce.map_err(|_| seal_error())?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .map_err(|_| seal_error())?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Open a sealed key stored under `kid`.
    pub fn decrypt(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, DecryptError> {
        self.open(SIGNING_KEY, kid, kid.as_bytes(), sealed)
    }

    fn open(
        &self,
        what: &'static str,
        kid: &str,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let err = || DecryptError {
            what,
            kid: kid.to_owned(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(err());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| err())?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .map_err(|_| err())?;
        Ok(plaintext.to_vec())
    }

    /// Resolve the configured secret source into a key, creating the embedded default's file if needed.
    pub fn load(source: &SecretSource) -> Result<Self, ConfigError> {
        let secret = match source {
            SecretSource::Value(secret) => secret.clone(),
            SecretSource::File(path) => read_secret_file(path)?,
            SecretSource::DefaultFile(path) => {
                if path.exists() {
                    read_secret_file(path)?
                } else {
                    create_secret_file(path)?
                }
            }
            SecretSource::Ephemeral => SecretString::from(random_string(32)),
            SecretSource::Missing => {
                return Err(ConfigError::new(
                    crate::config::KEY_SECRET,
                    "is required with a PostgreSQL database (or set LATCHKEY_KEY_ENCRYPTION_SECRET_FILE)",
                ));
            }
        };
        Self::derive(&secret).map_err(|_| {
            ConfigError::new(
                crate::config::KEY_SECRET,
                "cannot derive the encryption key",
            )
        })
    }
}

fn read_secret_file(path: &Path) -> Result<SecretString, ConfigError> {
    let raw = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            KEY_SECRET_FILE,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let secret = raw.trim().to_owned();
    check_secret_strength(&secret, KEY_SECRET_FILE)?;
    Ok(SecretString::from(secret))
}

fn create_secret_file(path: &Path) -> Result<SecretString, ConfigError> {
    let secret = random_string(32);
    let cannot = |e: std::io::Error| {
        ConfigError::new(
            KEY_SECRET_FILE,
            format!("cannot create {}: {e}", path.display()),
        )
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return read_secret_file(path),
        Err(e) => return Err(cannot(e)),
    };
    file.write_all(format!("{secret}\n").as_bytes())
        .map_err(cannot)?;
    file.sync_all().map_err(cannot)?;
    tracing::warn!(
        path = %path.display(),
        "created a key-encryption secret file beside the database (mode 0600); back it up with the database, \
         or set LATCHKEY_KEY_ENCRYPTION_SECRET"
    );
    Ok(SecretString::from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(secret: &str) -> KeyEncryptionKey {
        KeyEncryptionKey::derive(&SecretString::from(secret.to_owned())).unwrap()
    }

    #[test]
    fn round_trips_and_binds_to_the_kid() {
        let kek = kek("a secret that is long enough for the test");
        let sealed = kek.encrypt("kid-1", b"private key bytes").unwrap();
        assert_eq!(kek.decrypt("kid-1", &sealed).unwrap(), b"private key bytes");
        assert!(kek.decrypt("kid-2", &sealed).is_err());
    }

    #[test]
    fn a_failed_nonce_draw_seals_nothing() {
        let kek = kek("a secret that is long enough for the test");
        let err = kek
            .seal(
                SIGNING_KEY,
                "kid-1",
                b"kid-1",
                b"private key bytes",
                Err(aws_lc_rs::error::Unspecified),
            )
            .unwrap_err();
        assert_eq!(err.kid, "kid-1");
    }

    #[test]
    fn a_client_secret_round_trips_and_opens_only_for_its_client_id() {
        let other = kek("another secret, long enough to be real");
        let kek = kek("a secret that is long enough for the test");
        let alice = ClientId::parse("alice").unwrap();
        let secret = "lk_cs_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
        let sealed = kek.seal_client_secret(&alice, secret).unwrap();
        assert!(
            !sealed
                .as_bytes()
                .windows(secret.len())
                .any(|w| w == secret.as_bytes())
        );
        assert_eq!(
            kek.open_client_secret(&alice, &sealed)
                .unwrap()
                .expose_secret(),
            secret.as_bytes()
        );
        // The client id is the associated data: the same bytes on another client's row do not open.
        let err = kek
            .open_client_secret(&ClientId::parse("mallory").unwrap(), &sealed)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decrypt the secret of client 'mallory': is the key-encryption secret the one it was stored with?"
        );
        assert!(other.open_client_secret(&alice, &sealed).is_err());
        // Nor does it open as a signing key of kid "alice", or a signing key as alice's secret.
        assert!(kek.decrypt("alice", sealed.as_bytes()).is_err());
        let key = SealedSecret::from_bytes(kek.encrypt("alice", secret.as_bytes()).unwrap());
        assert!(kek.open_client_secret(&alice, &key).is_err());
        assert_eq!(format!("{sealed:?}"), "SealedSecret([redacted])");
    }

    #[test]
    fn sealed_output_never_contains_the_plaintext() {
        let kek = kek("a secret that is long enough for the test");
        let plaintext = b"-----PRIVATE KEY BYTES-----";
        let sealed = kek.encrypt("kid-1", plaintext).unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + plaintext.len() + 16);
        assert!(!sealed.windows(plaintext.len()).any(|w| w == plaintext));
        let again = kek.encrypt("kid-1", plaintext).unwrap();
        assert_ne!(
            sealed[..NONCE_LEN],
            again[..NONCE_LEN],
            "fresh nonce each time"
        );
    }

    #[test]
    fn another_secret_cannot_open_it() {
        let sealed = kek("first secret, long enough to be real")
            .encrypt("k", b"data")
            .unwrap();
        assert!(
            kek("second secret, long enough to be real")
                .decrypt("k", &sealed)
                .is_err()
        );
        assert!(kek("x").decrypt("k", &[1, 2, 3]).is_err());
    }

    #[test]
    fn default_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latchkey.db.secret");
        let source = SecretSource::DefaultFile(path.clone());
        let first = KeyEncryptionKey::load(&source).unwrap();
        let sealed = first.encrypt("k", b"data").unwrap();
        let second = KeyEncryptionKey::load(&source).unwrap();
        assert_eq!(second.decrypt("k", &sealed).unwrap(), b"data");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn postgres_without_a_secret_is_refused_with_the_setting_named() {
        let err = KeyEncryptionKey::load(&SecretSource::Missing).unwrap_err();
        assert!(err.to_string().contains("LATCHKEY_KEY_ENCRYPTION_SECRET"));
    }
}
