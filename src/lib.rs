//! Gatehouse: a self-hostable OpenID Connect identity provider.
//!
//! `app` wires the HTTP surface; `oauth` holds the protocol endpoints; `store` all SQL;
//! `keys` all signing; `pages` all HTML. Protocol code takes `now` and typed values, so it
//! can be reasoned about (and tested) apart from HTTP and SQL.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod accounts;
pub mod app;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod error;
pub mod keys;
pub mod mail;
pub mod oauth;
pub mod outbox;
pub mod pages;
pub mod secrets;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use app::{App, AppState};
pub use clock::Clock;
pub use config::Config;
