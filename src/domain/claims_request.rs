//! The OIDC `claims` request parameter (OIDC Core 1.0 §5.5): individual claims a client asks for in
//! the ID token and at the UserInfo endpoint, beyond what its scopes release, and `acr` as a
//! requirement on the sign-in (§5.5.1.1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::authn::Acr;

/// The longest `claims` value accepted, in bytes.
pub const MAX_CLAIMS_LEN: usize = 4096;

/// The longest claim name accepted.
const MAX_CLAIM_NAME_LEN: usize = 128;

/// OIDC Core §5.5: the user claims Latchkey releases on request, each with the scope that would
/// release it too (§5.4; `roles` and `groups` have scopes of those names).
pub const REQUESTABLE: [(&str, &str); 7] = [
    ("name", "profile"),
    ("preferred_username", "profile"),
    ("updated_at", "profile"),
    ("email", "email"),
    ("email_verified", "email"),
    ("roles", "roles"),
    ("groups", "groups"),
];

/// What the consent page says a claim released on request is.
pub fn describe(claim: &str) -> &'static str {
    match claim {
        "name" => "Your full name",
        "preferred_username" => "Your username",
        "updated_at" => "When your profile last changed",
        "email" => "Your e-mail address",
        "email_verified" => "Whether your e-mail address is verified",
        "roles" => "Your roles",
        "groups" => "Your groups",
        _ => "A claim about you",
    }
}

/// OIDC Core §5.5.1.1 `acr`: a claim request that sets a requirement rather than asks for a value.
const ACR: &str = "acr";

/// OIDC Core §5.5.1 `sub`: asked for with a value, it names the only user the ID token may be for.
const SUB: &str = "sub";

/// OIDC Core §5.5.1: how one claim is requested. `value` is kept as a one-value `values`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// `essential`: the client needs the claim for the task the user asked for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    /// `value` or `values`: the values the claim is asked to have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
}

/// OIDC Core §5.5: the `claims` request parameter, keeping only the claims Latchkey understands
/// (those of [`REQUESTABLE`] and `acr`); others MUST be ignored (§5.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    /// `id_token`: claims asked for in the ID token.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: BTreeMap<String, ClaimRequest>,
    /// `userinfo`: claims asked for at the UserInfo endpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: BTreeMap<String, ClaimRequest>,
}

/// Why a `claims` value was refused (the `error_description` of `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidClaims(pub String);

/// OIDC Core §5.5.1.1: an essential `acr` request asked only for levels Latchkey does not define,
/// so no sign-in can meet it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmetAcr;

fn invalid(why: impl Into<String>) -> InvalidClaims {
    InvalidClaims(why.into())
}

/// Whether `name` is a claim name fit to keep: short, and free of control characters (which never
/// reach the store, as everywhere else).
fn is_valid_claim_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_CLAIM_NAME_LEN && !name.chars().any(char::is_control)
}

/// `member.name`, quoted in an error when the name is plain, else just `member`.
fn where_in(member: &str, name: &str) -> String {
    if name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        format!("claims.{member}.{name}")
    } else {
        format!("a claim in claims.{member}")
    }
}

/// OIDC Core §5.5.1: one member of `id_token` or `userinfo`: `null` (asked for in the default
/// manner) or an object with `essential` (a boolean), `value`, `values` (an array). Other members
/// are ignored (§5.5.1: "other members ... MUST be ignored" when not understood). `value` and
/// `values` together are refused: the request would be ambiguous.
fn parse_claim(member: &str, name: &str, request: &Value) -> Result<ClaimRequest, InvalidClaims> {
    let at = || where_in(member, name);
    let object = match request {
        Value::Null => return Ok(ClaimRequest::default()),
        Value::Object(object) => object,
        _ => return Err(invalid(format!("{} must be null or an object", at()))),
    };
    let essential = match object.get("essential") {
        None => false,
        Some(Value::Bool(essential)) => *essential,
        Some(_) => return Err(invalid(format!("{}.essential must be a boolean", at()))),
    };
    let values = match (object.get("value"), object.get("values")) {
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "{} has both value and values: send one",
                at()
            )));
        }
        (Some(value), None) => vec![value.clone()],
        (None, Some(Value::Array(values))) => values.clone(),
        (None, Some(_)) => return Err(invalid(format!("{}.values must be an array", at()))),
        (None, None) => Vec::new(),
    };
    Ok(ClaimRequest { essential, values })
}

fn parse_member(
    top: &Map<String, Value>,
    member: &str,
) -> Result<BTreeMap<String, ClaimRequest>, InvalidClaims> {
    let Some(requests) = top.get(member) else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(requests) = requests else {
        return Err(invalid(format!("claims.{member} must be a JSON object")));
    };
    let mut kept = BTreeMap::new();
    for (name, request) in requests {
        if !is_valid_claim_name(name) {
            return Err(invalid(format!(
                "claims.{member} has a malformed claim name (empty, too long, or with control characters)"
            )));
        }
        // Every request is checked, so a malformed one is refused whatever its name.
        let request = parse_claim(member, name, request)?;
        // OIDC Core §5.5: claims not understood MUST be ignored.
        if is_requirement(name) || scope_of(name).is_some() {
            kept.insert(name.clone(), request);
        }
    }
    Ok(kept)
}

/// Whether `name` is a claim whose request is a requirement on the sign-in (`acr`, `sub`) rather
/// than a claim to release.
fn is_requirement(name: &str) -> bool {
    name == ACR || name == SUB
}

/// OIDC Core §5.4: the scope that releases `claim`, for a claim Latchkey releases on request.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    REQUESTABLE
        .iter()
        .find(|(name, _)| *name == claim)
        .map(|(_, scope)| *scope)
}

impl ClaimsRequest {
    /// OIDC Core §5.5: read the `claims` parameter, a JSON object whose optional `id_token` and
    /// `userinfo` members map claim names to `null` or a request object. Other top-level members
    /// are ignored (§5.5: "Other members MAY be present ... MUST be ignored" when not understood).
    pub fn parse(raw: &str) -> Result<Self, InvalidClaims> {
        if raw.len() > MAX_CLAIMS_LEN {
            return Err(invalid(format!(
                "claims is too long (at most {MAX_CLAIMS_LEN} bytes)"
            )));
        }
        let parsed: Value =
            serde_json::from_str(raw).map_err(|_| invalid("claims is not valid JSON"))?;
        let Value::Object(top) = parsed else {
            return Err(invalid("claims must be a JSON object"));
        };
        Ok(Self {
            id_token: parse_member(&top, "id_token")?,
            userinfo: parse_member(&top, "userinfo")?,
        })
    }

    /// Whether nothing Latchkey understands was asked for.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// OIDC Core §5.5: the user claims asked for in the ID token (of [`REQUESTABLE`]).
    pub fn id_token_claims(&self) -> Vec<&str> {
        requestable(&self.id_token)
    }

    /// OIDC Core §5.5: the user claims asked for at the UserInfo endpoint (of [`REQUESTABLE`]).
    pub fn userinfo_claims(&self) -> Vec<&str> {
        requestable(&self.userinfo)
    }

    /// The user claims asked for anywhere, each once (what the consent page lists).
    pub fn released_claims(&self) -> Vec<&str> {
        let mut names = self.id_token_claims();
        for name in self.userinfo_claims() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Keep only the user claims whose scope `allowed` says the client may be given (its
    /// registered scopes): the parameter never releases more than the client could ask for with
    /// scopes. `acr` and `sub` stay.
    pub fn retain_allowed(&mut self, allowed: impl Fn(&str) -> bool) {
        let keep = |name: &String, _: &mut ClaimRequest| {
            is_requirement(name) || scope_of(name).is_some_and(&allowed)
        };
        self.id_token.retain(keep);
        self.userinfo.retain(keep);
    }

    /// The scopes that would release the claims asked for (what consent to them amounts to).
    pub fn scopes(&self) -> Vec<&'static str> {
        let mut scopes: Vec<&'static str> = self
            .released_claims()
            .into_iter()
            .filter_map(scope_of)
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }

    /// OIDC Core §5.5.1.1: the level the `acr` claim requests need, in `id_token` and `userinfo`
    /// alike (the stronger of the two). An essential request with values needs one of the levels it
    /// names that Latchkey defines — the weakest, since a stronger sign-in satisfies it too — and
    /// fails when it names none ([`UnmetAcr`]: "MUST treat that outcome as a failed authentication
    /// attempt"). A voluntary one is read like `acr_values` (§3.1.2.1): the first level Latchkey
    /// defines, unknown values skipped.
    pub fn required_acr(&self) -> Result<Option<Acr>, UnmetAcr> {
        let mut required = None;
        for request in [self.id_token.get(ACR), self.userinfo.get(ACR)]
            .into_iter()
            .flatten()
        {
            let mut known = request
                .values
                .iter()
                .filter_map(|v| v.as_str().and_then(Acr::parse));
            let level = if request.essential {
                if request.values.is_empty() {
                    // Asked to be returned, which it always is: no requirement.
                    None
                } else {
                    Some(known.min().ok_or(UnmetAcr)?)
                }
            } else {
                known.next()
            };
            required = required.max(level);
        }
        Ok(required)
    }

    /// OIDC Core §5.5.1: `sub` asked for in the ID token with `value` or `values` names the only
    /// users the answer may be for ("MUST NOT reply with an ID Token or Access Token for a
    /// different user"); `None` when it names none.
    pub fn required_subjects(&self) -> Option<Vec<&str>> {
        let request = self.id_token.get(SUB).filter(|r| !r.values.is_empty())?;
        Some(request.values.iter().filter_map(Value::as_str).collect())
    }

    /// As stored with codes and grants: compact JSON.
    pub fn to_stored(&self) -> String {
        // A map of strings to plain data always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From a stored value; `None` for nothing stored (or nothing understood).
    pub fn from_stored(stored: Option<&str>) -> Result<Option<Self>, serde_json::Error> {
        match stored {
            None | Some("") => Ok(None),
            Some(raw) => serde_json::from_str::<Self>(raw).map(|c| (!c.is_empty()).then_some(c)),
        }
    }
}

fn requestable(requests: &BTreeMap<String, ClaimRequest>) -> Vec<&str> {
    requests
        .keys()
        .map(String::as_str)
        .filter(|name| scope_of(name).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    fn the_claims_parameter_is_parsed_or_refused() {
        let long = format!(
            r#"{{"userinfo":{{"name":{{"values":["{}"]}}}}}}"#,
            "x".repeat(MAX_CLAIMS_LEN)
        );
        // (case, raw, Ok((id_token names, userinfo names)) or Err(fragment of the description))
        let cases: &[(&str, &str, Result<(&[&str], &[&str]), &str>)] = &[
            (
                "§5.5 both members, null and object requests",
                r#"{"id_token":{"email":null},"userinfo":{"name":{"essential":true}}}"#,
                Ok((&["email"], &["name"])),
            ),
            (
                "§5.5 claims not understood are ignored",
                r#"{"id_token":{"birthdate":null,"email":null,"https://x/c":{"essential":true}}}"#,
                Ok((&["email"], &[])),
            ),
            (
                "§5.5 unknown top-level members are ignored",
                r#"{"verified_claims":{"a":1},"userinfo":{"groups":null}}"#,
                Ok((&[], &["groups"])),
            ),
            (
                "§5.5.1 unknown members of a request are ignored",
                r#"{"id_token":{"roles":{"purpose":"x"}}}"#,
                Ok((&["roles"], &[])),
            ),
            ("§5.5 an empty object", "{}", Ok((&[], &[]))),
            ("§5.5 not JSON", "email", Err("not valid JSON")),
            (
                "§5.5 not an object",
                r#"["email"]"#,
                Err("must be a JSON object"),
            ),
            (
                "§5.5 id_token must be an object",
                r#"{"id_token":["email"]}"#,
                Err("claims.id_token must be a JSON object"),
            ),
            (
                "§5.5 userinfo must be an object",
                r#"{"userinfo":"email"}"#,
                Err("claims.userinfo must be a JSON object"),
            ),
            (
                "§5.5.1 a request is null or an object",
                r#"{"userinfo":{"email":true}}"#,
                Err("claims.userinfo.email must be null or an object"),
            ),
            (
                "§5.5.1 essential is a boolean",
                r#"{"id_token":{"email":{"essential":"yes"}}}"#,
                Err("essential must be a boolean"),
            ),
            (
                "§5.5.1 values is an array",
                r#"{"id_token":{"acr":{"values":"urn:latchkey:acr:mfa"}}}"#,
                Err("values must be an array"),
            ),
            (
                "value and values together are ambiguous",
                r#"{"id_token":{"acr":{"value":"a","values":["b"]}}}"#,
                Err("both value and values"),
            ),
            (
                "a malformed request is refused even for a claim not understood",
                r#"{"id_token":{"birthdate":{"essential":1}}}"#,
                Err("essential must be a boolean"),
            ),
            (
                "control characters in a claim name are refused",
                "{\"id_token\":{\"em\\u0000ail\":null}}",
                Err("malformed claim name"),
            ),
            (
                "an empty claim name is refused",
                r#"{"id_token":{"":null}}"#,
                Err("malformed claim name"),
            ),
            ("a size limit", long.as_str(), Err("too long")),
        ];
        for (case, raw, expected) in cases {
            let parsed = ClaimsRequest::parse(raw);
            match (expected, &parsed) {
                (Ok((id_token, userinfo)), Ok(parsed)) => {
                    assert_eq!(&parsed.id_token_claims(), id_token, "{case}");
                    assert_eq!(&parsed.userinfo_claims(), userinfo, "{case}");
                }
                (Err(fragment), Err(InvalidClaims(why))) => {
                    assert!(why.contains(fragment), "{case}: {why}");
                }
                _ => panic!("{case}: {parsed:?}"),
            }
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    fn acr_requests_become_a_required_level() {
        let (pwd, mfa) = (crate::domain::authn::ACR_PWD, crate::domain::authn::ACR_MFA);
        // (case, claims, required level or Err)
        let cases: Vec<(&str, String, Result<Option<Acr>, UnmetAcr>)> = vec![
            (
                "§5.5.1.1 essential with one value",
                format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{mfa}"]}}}}}}"#),
                Ok(Some(Acr::Mfa)),
            ),
            (
                "§5.5.1 value is one of values",
                format!(r#"{{"id_token":{{"acr":{{"essential":true,"value":"{mfa}"}}}}}}"#),
                Ok(Some(Acr::Mfa)),
            ),
            (
                "§5.5.1.1 essential: any listed level will do, so the weakest defined",
                format!(
                    r#"{{"id_token":{{"acr":{{"essential":true,"values":["{mfa}","urn:x","{pwd}"]}}}}}}"#
                ),
                Ok(Some(Acr::Pwd)),
            ),
            (
                "§5.5.1.1 essential with only unknown values cannot be met",
                r#"{"id_token":{"acr":{"essential":true,"values":["urn:example:gold",3]}}}"#.into(),
                Err(UnmetAcr),
            ),
            (
                "§5.5.1.1 voluntary with only unknown values is ignored",
                r#"{"id_token":{"acr":{"values":["urn:example:gold"]}}}"#.into(),
                Ok(None),
            ),
            (
                "voluntary, like acr_values: the first defined value",
                format!(r#"{{"id_token":{{"acr":{{"values":["urn:x","{mfa}","{pwd}"]}}}}}}"#),
                Ok(Some(Acr::Mfa)),
            ),
            (
                "essential without values only asks for the claim",
                r#"{"id_token":{"acr":{"essential":true}}}"#.into(),
                Ok(None),
            ),
            (
                "userinfo counts too, and the stronger of the two wins",
                format!(
                    r#"{{"id_token":{{"acr":{{"values":["{pwd}"]}}}},"userinfo":{{"acr":{{"essential":true,"values":["{mfa}"]}}}}}}"#
                ),
                Ok(Some(Acr::Mfa)),
            ),
            (
                "no acr request",
                r#"{"id_token":{"email":null}}"#.into(),
                Ok(None),
            ),
        ];
        for (case, raw, expected) in cases {
            let parsed = ClaimsRequest::parse(&raw).unwrap();
            assert_eq!(parsed.required_acr(), expected, "{case}");
        }
    }

    #[test]
    fn a_claims_request_round_trips_through_the_store_and_lists_what_is_released() {
        let parsed = ClaimsRequest::parse(
            r#"{"id_token":{"email":{"essential":true},"acr":{"values":["a"]}},"userinfo":{"email":null,"name":null}}"#,
        )
        .unwrap();
        assert_eq!(
            ClaimsRequest::from_stored(Some(&parsed.to_stored())).unwrap(),
            Some(parsed.clone())
        );
        assert_eq!(parsed.released_claims(), ["email", "name"]);
        assert_eq!(ClaimsRequest::from_stored(None).unwrap(), None);
        assert_eq!(ClaimsRequest::from_stored(Some("{}")).unwrap(), None);
        assert!(ClaimsRequest::from_stored(Some("[")).is_err());
        assert_eq!(scope_of("email_verified"), Some("email"));
        assert_eq!(scope_of("sub"), None);
        assert_eq!(parsed.scopes(), ["email", "profile"]);
        assert_eq!(parsed.required_subjects(), None);
        let sub = ClaimsRequest::parse(
            r#"{"id_token":{"sub":{"value":"u1"}},"userinfo":{"sub":{"value":"u2"}}}"#,
        )
        .unwrap();
        assert_eq!(
            sub.required_subjects(),
            Some(vec!["u1"]),
            "§5.5.1: the ID token's"
        );
        assert!(sub.released_claims().is_empty(), "sub is always there");
        let mut only_email = parsed.clone();
        only_email.retain_allowed(|scope| scope == "email");
        assert_eq!(only_email.released_claims(), ["email"]);
        assert!(only_email.id_token.contains_key("acr"));
    }
}
