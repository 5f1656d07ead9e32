//! Plain protocol types and rules: no HTTP, no SQL, no clock reads.

pub mod client;
pub mod password;
pub mod scope;
pub mod secret;
pub mod user;
