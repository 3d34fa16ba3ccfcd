//! Administration: the JSON admin API (`api`, OpenAPI generated from the code) and the
//! service functions below it that the CLI calls too, so a change is validated the same
//! way whichever door it came through.

pub mod api;
pub mod audit;
pub mod clients;
pub mod keys;
pub mod users;
