//! Plain protocol types and rules: no HTTP, no SQL, no clock reads.

pub mod account;
pub mod alg;
pub mod api;
pub mod attempt;
pub mod audit;
pub mod authn;
pub mod claims;
pub mod claims_request;
pub mod client;
pub mod configuration;
pub mod device;
pub mod grant;
pub mod group;
pub mod logout;
pub mod mfa;
pub mod passkey;
pub mod password;
pub mod pkce;
pub mod registration;
pub mod role;
pub mod scope;
pub mod secret;
pub mod text;
pub mod user;
