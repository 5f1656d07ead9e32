//! Everything that speaks HTTP: one file per endpoint.

pub mod account;
pub mod admin;
pub mod authorize;
pub mod consent;
pub mod device;
pub mod device_authorization;
pub mod discovery;
pub mod extract;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod metrics;
pub mod page;
pub mod par;
pub mod passkey;
pub mod register;
pub mod revoke;
pub mod second_factor;
pub mod session;
pub mod token;
pub mod userinfo;
