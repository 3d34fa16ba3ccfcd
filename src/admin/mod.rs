//! Administration: the JSON admin API (`api`, OpenAPI generated from the code), the
//! console (`console`, HTML pages for admins), and the service functions below both that
//! the CLI calls too, so a change is validated (and audited, `audit`) the same way
//! whichever door it came through.

pub mod api;
pub mod audit;
pub mod clients;
pub mod console;
pub mod keys;
pub mod users;
