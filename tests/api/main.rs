//! The one integration-test binary: every test runs on SQLite, and on PostgreSQL when
//! `LATCHKEY_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod admin_api;
mod admin_openapi;
mod algorithms;
mod apache;
mod apply;
mod audit;
mod authorize;
mod browser;
mod cli;
mod client_credentials;
mod config;
mod demo_browser;
mod discovery;
mod flows;
mod hardening;
mod health;
mod helpers;
mod introspect;
mod issuer_path;
mod jwks;
mod key_rotation;
mod logout;
mod metrics;
mod microservices;
mod nginx;
mod pages;
mod par;
mod passwords;
mod private_key_jwt;
mod refresh;
mod registration;
mod remote_cli;
mod resources;
mod roles;
mod roles_cli;
mod store;
mod store_errors;
mod store_grants;
mod store_roles;
mod throttle;
mod token;
mod token_exchange;
mod userinfo;
