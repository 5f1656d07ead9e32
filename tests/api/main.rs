//! The one integration-test binary: every test runs on SQLite, and on PostgreSQL when
//! `LATCHKEY_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod algorithms;
mod apache;
mod authorize;
mod browser;
mod cli;
mod client_credentials;
mod discovery;
mod flows;
mod health;
mod helpers;
mod introspect;
mod jwks;
mod logout;
mod microservices;
mod pages;
mod refresh;
mod store;
mod throttle;
mod token;
mod userinfo;
