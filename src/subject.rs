//! The `sub` a client sees (OIDC Core §8). A public client sees the user's id. A pairwise
//! client (§8.1) sees a value only its sector gets: HMAC-SHA256 of the sector host and
//! the user id under the deployment's salt, so two sectors cannot link their users by
//! `sub` and nobody without the salt can turn one back into a user id. Gatehouse itself
//! never reads a user out of a `sub`: a token leads to its grant, which names the user.
//!
//! The salt is one row in the database (`store::pairwise`), made by the first instance
//! to start, so every instance, restart and signing-key rotation derives the same values.

use crate::clients::Client;
use crate::store::Store;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct Subjects {
    salt: Vec<u8>,
}

impl Subjects {
    /// Reads the salt, storing a fresh one when the database has none yet.
    pub async fn load(store: &Store, now: i64) -> anyhow::Result<Subjects> {
        let stored = store.pairwise_salt(&crate::secrets::random_token(), now).await?;
        let salt = URL_SAFE_NO_PAD
            .decode(&stored)
            .map_err(|_| anyhow::anyhow!("the stored pairwise salt is not base64url"))?;
        if salt.len() < 32 {
            anyhow::bail!("the stored pairwise salt is shorter than 32 bytes");
        }
        Ok(Subjects { salt })
    }

    /// The `sub` `client` knows the user `user_id` by.
    pub fn for_client(&self, client: &Client, user_id: &str) -> String {
        match &client.pairwise_sector {
            Some(sector) => self.pairwise(sector, user_id),
            None => user_id.to_string(),
        }
    }

    /// The NUL keeps `("a.example", "bc")` and `("a.exampleb", "c")` apart; a host
    /// cannot hold one.
    fn pairwise(&self, sector: &str, user_id: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.salt) else {
            // HMAC takes a key of any length; this arm never runs.
            return String::new();
        };
        mac.update(sector.as_bytes());
        mac.update(&[0]);
        mac.update(user_id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(sector: Option<&str>) -> Client {
        let mut client = Client::new("c", "C", None);
        client.pairwise_sector = sector.map(str::to_string);
        client
    }

    #[test]
    fn pairwise_subjects_depend_on_sector_user_and_salt() {
        let subjects = Subjects { salt: vec![7; 32] };
        let a = subjects.for_client(&client(Some("a.example")), "u1");
        assert_eq!(a, subjects.for_client(&client(Some("a.example")), "u1"));
        assert_ne!(a, subjects.for_client(&client(Some("b.example")), "u1"));
        assert_ne!(a, subjects.for_client(&client(Some("a.example")), "u2"));
        assert_ne!(
            a,
            Subjects { salt: vec![8; 32] }.for_client(&client(Some("a.example")), "u1")
        );
        assert_ne!(
            subjects.pairwise("a.example", "bc"),
            subjects.pairwise("a.exampleb", "c")
        );
        assert_eq!(a.len(), 43, "base64url of 32 bytes");
        assert_eq!(subjects.for_client(&client(None), "u1"), "u1");
    }
}
