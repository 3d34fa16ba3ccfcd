//! A reproduction of the OpenID Foundation's OP certification test plans, module for
//! module, that runs against any OpenID provider. The runner is the relying party and the
//! browser: an HTTP client with a cookie jar that follows redirects and fills in the OP's
//! forms, and its own callback listener on loopback.
//!
//! Layout: `target` says what is under test (issuer, clients, user, how its pages look);
//! `browser`, `html` and `callback` are the user agent and the RP's redirect endpoint;
//! `jose` verifies what the OP signs; `checks` holds the conditions the official suite
//! runs, each named after its Java class; `plans` holds the modules; `report` prints.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod browser;
pub mod ca;
pub mod callback;
pub mod checks;
pub mod html;
pub mod jose;
pub mod plans;
pub mod report;
pub mod target;

pub use plans::{run_plans, run_plans_with, Plan};
pub use report::{ModuleResult, Report, Status};
pub use target::Target;
