//! Everything that speaks HTTP: one file per endpoint.

pub mod discovery;
pub mod health;
pub mod jwks;
