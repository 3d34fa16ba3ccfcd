//! The account page's "Sign-in methods": what is linked, and what could be.

use crate::error::AppError;
use crate::state::AppState;
use crate::users::Account;
use minijinja::context;

/// The account page's list of linked identities and the upstreams it could link.
pub async fn page_context(state: &AppState, account: &Account) -> Result<minijinja::Value, AppError> {
    let linked = state.store.identities_of(&account.id).await?;
    let identities: Vec<minijinja::Value> = linked
        .iter()
        .map(|i| {
            // Found by issuer, so an upstream whose `id` was renamed in the config still
            // shows its name and re-authenticates under its new id.
            let provider = state.upstreams.by_issuer(&i.issuer);
            let name = provider
                .as_ref()
                .map(|p| p.config.name.clone())
                .unwrap_or_else(|| i.upstream_id.clone());
            let upstream_id = provider.map(|p| p.config.id.clone());
            context! { id => i.id, name, email => i.email, linked_at => day(i.linked_at), upstream_id }
        })
        .collect();
    let upstreams: Vec<minijinja::Value> = state
        .upstreams
        .all()
        .iter()
        .map(|p| {
            let linked = linked.iter().any(|i| i.issuer == p.issuer_key());
            context! { id => p.config.id, name => p.config.name, linked }
        })
        .collect();
    Ok(context! { identities, upstreams, has_password => account.password_hash.is_some() })
}

/// A calendar day (UTC) from a Unix time.
fn day(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
