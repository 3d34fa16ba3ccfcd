//! The hosted account pages: sign-up, login, recovery, the account page and what their
//! forms share. The user model itself is [`crate::users`].

pub mod activity;
pub mod consents;
pub mod contact;
pub mod device;
pub mod email_change;
pub mod forms;
pub mod lockout;
pub mod login;
pub mod mail;
pub mod passkeys;
pub mod profile;
pub mod recovery;
pub mod second_factor;
pub mod signup;
pub mod two_factor;
pub mod upstream;
pub mod whoami;
