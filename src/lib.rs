//! Latchkey: a self-hosted OAuth 2.0 / OpenID Connect authorization server.

pub mod admin;
pub mod app;
pub mod audit;
pub mod catalog;
pub mod cli;
pub mod client_cache;
pub mod clock;
pub mod config;
pub mod domain;
pub mod endpoints;
pub mod error;
pub mod housekeeping;
pub mod http_client;
pub mod keys;
pub mod logout_delivery;
pub mod metrics;
pub mod oauth;
pub mod password_pool;
pub mod paths;
pub mod periodic;
pub mod remote_jwks;
pub mod revocation_cache;
pub mod state;
pub mod store;
pub mod tls;
pub mod tokens;
