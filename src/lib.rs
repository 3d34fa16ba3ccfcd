//! Gatehouse: a self-hostable OpenID Connect identity provider.
//!
//! The module graph runs downhill: `app` (the route table) → handlers (`oauth`,
//! `accounts`) → `state` and the services it holds (`sessions`, `keys`, `mail`, `pages`,
//! `clients`, `limiter`, `password`) → `store` (all SQL) → leaf types (`config`, `clock`,
//! `error`, `users`, `http`). Protocol code takes `now` and typed values, so it can be
//! reasoned about (and tested) apart from HTTP and SQL.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod cli;
pub mod client_cache;
pub mod client_ip;
pub mod client_keys;
pub mod clients;
pub mod clock;
pub mod config;
pub mod contact;
pub mod cookies;
pub mod error;
pub mod http;
pub mod janitor;
pub mod keys;
pub mod limiter;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod oauth;
pub mod outbound;
pub mod outbox;
pub mod pages;
pub mod password;
pub mod request_id;
pub mod scrape;
pub mod secrets;
pub mod serve;
pub mod sessions;
pub mod state;
pub mod store;
pub mod subject;
pub mod telemetry;
pub mod tls;
pub mod totp;
pub mod upstream;
pub mod users;

pub use app::App;
pub use clock::Clock;
pub use config::Config;
pub use state::AppState;
