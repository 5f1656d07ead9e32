//! How a user authenticated: the methods of one sign-in (RFC 8176 `amr` values) and the level they
//! reach (OIDC Core §2 `acr`), carried from the browser session into codes, grants and tokens.

use serde::{Deserialize, Serialize};

/// A method of authentication, by its RFC 8176 §2 `amr` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `pwd`: the user's password.
    Pwd,
    /// `otp`: a one-time password (TOTP, RFC 6238, or a recovery code).
    Otp,
    /// `hwk`: a passkey whose key cannot leave its authenticator (WebAuthn §6.1.3: not eligible
    /// for backup), such as a security key.
    Hwk,
    /// `swk`: a passkey whose key may be copied off the device (backup eligible: a synced passkey
    /// of a password manager or a platform account).
    Swk,
}

impl Method {
    /// The RFC 8176 `amr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pwd => "pwd",
            Self::Otp => "otp",
            Self::Hwk => "hwk",
            Self::Swk => "swk",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "pwd" => Some(Self::Pwd),
            "otp" => Some(Self::Otp),
            "hwk" => Some(Self::Hwk),
            "swk" => Some(Self::Swk),
            _ => None,
        }
    }
}

/// OIDC Core §2 `acr` values (Authentication Context Class Reference), weakest first. They are
/// URNs of Latchkey's own, since no registry defines "password" and "two factors" (OIDC Core §2
/// allows any absolute URI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Acr {
    /// One factor: a password.
    Pwd,
    /// Two factors of different kinds (RFC 8176 `mfa`).
    Mfa,
}

/// `urn:latchkey:acr:pwd`.
pub const ACR_PWD: &str = "urn:latchkey:acr:pwd";
/// `urn:latchkey:acr:mfa`.
pub const ACR_MFA: &str = "urn:latchkey:acr:mfa";

impl Acr {
    /// Every level, weakest first (discovery's `acr_values_supported`).
    pub const ALL: [Acr; 2] = [Acr::Pwd, Acr::Mfa];

    /// The `acr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pwd => ACR_PWD,
            Self::Mfa => ACR_MFA,
        }
    }

    /// Read an `acr` value; `None` for one Latchkey does not define.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            ACR_PWD => Some(Self::Pwd),
            ACR_MFA => Some(Self::Mfa),
            _ => None,
        }
    }
}

/// The methods of one sign-in, each once, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    methods: Vec<Method>,
}

impl Default for Authentication {
    /// A sign-in whose methods were not recorded: made before they were, so by password.
    fn default() -> Self {
        Self::password()
    }
}

impl Authentication {
    /// A password sign-in.
    pub fn password() -> Self {
        Self {
            methods: vec![Method::Pwd],
        }
    }

    /// A passwordless sign-in with a passkey (`hwk` or `swk`), user verification required.
    pub fn passkey(method: Method) -> Self {
        Self {
            methods: vec![method],
        }
    }

    /// This sign-in completed with `method` too.
    #[must_use]
    pub fn with(mut self, method: Method) -> Self {
        if !self.methods.contains(&method) {
            self.methods.push(method);
            self.methods.sort_unstable();
        }
        self
    }

    /// Whether `method` was used.
    pub fn used(&self, method: Method) -> bool {
        self.methods.contains(&method)
    }

    /// RFC 8176 `amr`: each method, and `mfa` when more than one factor was used (§2).
    pub fn amr(&self) -> Vec<&'static str> {
        let mut amr: Vec<&'static str> = self.methods.iter().map(|m| m.as_str()).collect();
        if self.acr() == Acr::Mfa {
            amr.push("mfa");
        }
        amr
    }

    /// The level reached: two factors (a password and a one-time password or a passkey) are
    /// `mfa`; so is a passkey alone, since Latchkey signs in with one only when the authenticator
    /// verified the user (WebAuthn §6.2.3 user verification: a PIN or biometric unlocks the key),
    /// something the user has and something they know or are.
    pub fn acr(&self) -> Acr {
        if self.methods.len() >= 2
            || self
                .methods
                .iter()
                .any(|m| matches!(m, Method::Hwk | Method::Swk))
        {
            Acr::Mfa
        } else {
            Acr::Pwd
        }
    }

    /// As stored: the `amr` method values, space-separated.
    pub fn to_stored(&self) -> String {
        let values: Vec<&str> = self.methods.iter().map(|m| m.as_str()).collect();
        values.join(" ")
    }

    /// From a stored value. Unknown values are dropped; nothing at all (a row from before methods
    /// were recorded) is a password sign-in.
    pub fn from_stored(stored: Option<&str>) -> Self {
        let methods: Vec<Method> = stored
            .unwrap_or_default()
            .split(' ')
            .filter_map(Method::parse)
            .collect();
        methods
            .into_iter()
            .fold(
                Self {
                    methods: Vec::new(),
                },
                Self::with,
            )
            .or_password()
    }

    fn or_password(self) -> Self {
        if self.methods.is_empty() {
            Self::password()
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_alone_is_one_factor_and_with_a_code_it_is_mfa() {
        let password = Authentication::password();
        assert_eq!(password.amr(), ["pwd"]);
        assert_eq!(password.acr(), Acr::Pwd);
        let both = password.clone().with(Method::Otp).with(Method::Otp);
        assert_eq!(both.amr(), ["pwd", "otp", "mfa"]);
        assert_eq!(both.acr(), Acr::Mfa);
        assert_eq!(both.acr().as_str(), "urn:latchkey:acr:mfa");
        assert!(Acr::Pwd < Acr::Mfa);
    }

    #[test]
    fn a_passkey_is_two_factors_alone_and_after_a_password() {
        let passkey = Authentication::passkey(Method::Swk);
        assert_eq!(passkey.amr(), ["swk", "mfa"]);
        assert_eq!(passkey.acr(), Acr::Mfa);
        let both = Authentication::password().with(Method::Hwk);
        assert_eq!(both.amr(), ["pwd", "hwk", "mfa"]);
        assert_eq!(Authentication::from_stored(Some("hwk")).acr(), Acr::Mfa);
    }

    #[test]
    fn stored_methods_round_trip_and_old_rows_read_as_a_password() {
        let both = Authentication::password().with(Method::Otp);
        assert_eq!(both.to_stored(), "pwd otp");
        assert_eq!(Authentication::from_stored(Some("otp pwd")), both);
        assert_eq!(
            Authentication::from_stored(None),
            Authentication::password()
        );
        assert_eq!(
            Authentication::from_stored(Some("carrier-pigeon")),
            Authentication::password()
        );
        assert_eq!(Acr::parse(ACR_PWD), Some(Acr::Pwd));
        assert_eq!(Acr::parse("urn:example:gold"), None);
    }
}
