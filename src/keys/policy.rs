//! When an old key may be retired without breaking tokens it signed.

use super::KeyMeta;

/// Whether `kid` may be retired at `now`: a newer key must have been signing for longer
/// than any token lives (`max_token_ttl`), so nothing the old key signed still verifies.
pub fn retire_check(metas: &[KeyMeta], kid: &str, now: i64, max_token_ttl: i64) -> Result<(), String> {
    let target = metas
        .iter()
        .find(|m| m.kid == kid)
        .ok_or_else(|| format!("no key with kid {kid:?}"))?;
    let superseded_since = metas
        .iter()
        .filter(|m| {
            m.kid != kid && m.retired_at.is_none() && m.signing_from > target.signing_from && m.signing_from <= now
        })
        .map(|m| m.signing_from)
        .min();
    match superseded_since {
        None => Err("no newer key is signing yet: run `gatehouse keys rotate` first and wait for it to activate".into()),
        Some(since) if now - since < max_token_ttl => Err(format!(
            "tokens signed with this key may still be valid for {} more seconds; retire it after that (or pass --force)",
            max_token_ttl - (now - since)
        )),
        Some(_) => Ok(()),
    }
}
