//! THE PROTOCOL LAYER: the OAuth 2.0 / OpenID Connect decisions, as plain functions over a narrow
//! context (store, keys, settings, `now`) and typed input. No axum types here.

pub mod metadata;
pub mod throttle;
