//! `gatehouse registration …`: what an operator hands out for Dynamic Client Registration.

use super::open_store;
use crate::config::{Config, RegistrationMode};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum RegistrationCommand {
    /// Issue an initial access token for POST /register (registration.mode = "token")
    IssueToken {
        /// Days it stays valid
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(i64).range(1..=365))]
        ttl_days: i64,
    },
}

pub async fn run(config: &Config, cmd: RegistrationCommand, now: i64) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        RegistrationCommand::IssueToken { ttl_days } => {
            let token = crate::oauth::registration::issue_initial_access_token(&store, now, ttl_days * 86_400).await?;
            println!("initial_access_token: {token}");
            println!("Valid for {ttl_days} days. Store it now: it is not kept and cannot be shown again.");
            if config.registration.mode != RegistrationMode::Token {
                eprintln!("note: registration.mode is not \"token\", so /register does not ask for this token");
            }
            Ok(())
        }
    }
}
