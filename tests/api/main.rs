//! Black-box tests: each starts a real Gatehouse on loopback and talks HTTP to it, as a
//! relying party (the `openidconnect` crate) and as a browser would. Tests that touch
//! the database run on SQLite and on PostgreSQL (`name::sqlite`, `name::postgres`).

mod helpers;
mod smtp;

mod accounts;
mod acr;
mod address_phone;
mod admin_api;
mod admin_audit;
mod admin_console;
mod admin_console_browser;
mod audit;
mod authorize;
mod browser;
mod browser_apps;
mod browser_webauthn;
mod checklist;
mod claims_request;
mod cli;
mod conformance;
mod consent;
mod device;
mod device_browser;
mod discovery;
mod dpop;
mod hardening;
mod introspection;
mod keys;
mod logout;
mod metrics;
mod module_graph;
mod multinode;
mod pages;
mod par;
mod par_browser;
mod passkeys;
mod readme;
mod refresh;
mod registration;
mod request_objects;
mod resource_server;
mod security_md;
mod server_limits;
mod services;
mod sign_in;
mod store;
mod tls;
mod token;
mod two_factor;
mod two_factor_browser;
mod upstream;
mod userinfo;
mod userinfo_signed;
mod whoami;
