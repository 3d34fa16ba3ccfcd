//! The client form: what an admin typed, read into the same `ClientSettings` the admin API
//! takes, so the service's rules (and messages) decide what is valid. Lists are one entry
//! per line; a checkbox left unticked is off.

use crate::admin::clients::{ClientSettings, ClientView};
use crate::clients::GRANT_TYPES;
use crate::http::Params;
use minijinja::context;

/// Entries of a one-per-line (or space-separated) text area.
fn lines(params: &Params, name: &str) -> Vec<String> {
    params
        .get(name)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn ticked(params: &Params, name: &str) -> bool {
    params.get(name).is_some()
}

fn trimmed(params: &Params, name: &str) -> String {
    params.get(name).unwrap_or_default().trim().to_string()
}

/// The settings in a posted client form; `creating` also reads the create-only fields.
/// A lifetime that is not a number is the one thing refused here (the message says so).
pub fn settings(params: &Params, creating: bool) -> Result<ClientSettings, String> {
    let ttl = match params.get("access_token_ttl_secs").map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| "The access token lifetime must be a whole number of seconds.".to_string())?,
        ),
    };
    let scopes = lines(params, "scopes");
    Ok(ClientSettings {
        name: Some(params.get("name").unwrap_or_default().trim().to_string()).filter(|n| !n.is_empty()),
        client_id: creating
            .then(|| params.get("client_id").map(str::trim).map(str::to_string))
            .flatten(),
        public: creating.then(|| ticked(params, "public")),
        redirect_uris: Some(lines(params, "redirect_uris")),
        post_logout_redirect_uris: Some(lines(params, "post_logout_redirect_uris")),
        grant_types: Some(
            GRANT_TYPES
                .iter()
                .filter(|g| ticked(params, &format!("grant:{g}")))
                .map(|g| g.to_string())
                .collect(),
        ),
        first_party: Some(ticked(params, "first_party")),
        // Left blank: the standard OpenID Connect scopes (on create) or unchanged.
        scopes: (!scopes.is_empty()).then_some(scopes),
        audiences: Some(lines(params, "audiences")),
        // Blank removes it (on create, blank is simply none).
        backchannel_logout_uri: Some(trimmed(params, "backchannel_logout_uri")),
        always_refresh: Some(ticked(params, "always_refresh")),
        require_pkce: Some(ticked(params, "require_pkce")),
        require_mfa: Some(ticked(params, "require_mfa")),
        require_par: Some(ticked(params, "require_par")),
        require_dpop: Some(ticked(params, "require_dpop")),
        access_token_ttl_secs: ttl,
        // Blank removes it; the form never sends inline keys, so the service alone decides
        // whether a URL may replace them.
        jwks_uri: Some(trimmed(params, "jwks_uri")),
        request_uris: Some(lines(params, "request_uris")),
        // A form without the choice (not the console's own) keeps it, or takes the default.
        subject_type: Some(trimmed(params, "subject_type")).filter(|t| !t.is_empty()),
        sector_identifier_uri: Some(trimmed(params, "sector_identifier_uri")),
        // Blank removes each, as for the back-channel URI.
        logo_uri: Some(trimmed(params, "logo_uri")),
        policy_uri: Some(trimmed(params, "policy_uri")),
        tos_uri: Some(trimmed(params, "tos_uri")),
        // RS256 is the one algorithm, so a tick box; unticked answers JSON.
        userinfo_signed_response_alg: Some(match ticked(params, "signed_userinfo") {
            true => "RS256".to_string(),
            false => String::new(),
        }),
        ..ClientSettings::default()
    })
}

/// The form's fields as a template shows them: from a client, or as an admin typed them.
pub fn values_of(client: &ClientView) -> minijinja::Value {
    context! {
        name => client.name,
        client_id => client.client_id,
        public => client.public,
        redirect_uris => client.redirect_uris.join("\n"),
        post_logout_redirect_uris => client.post_logout_redirect_uris.join("\n"),
        grants => grant_boxes(|g| client.grant_types.iter().any(|t| t == g)),
        first_party => client.first_party,
        scopes => client.allowed_scopes.as_ref().map(|s| s.join(" ")).unwrap_or_default(),
        audiences => client.audiences.join("\n"),
        backchannel_logout_uri => client.backchannel_logout_uri.clone().unwrap_or_default(),
        always_refresh => client.always_refresh,
        require_pkce => client.require_pkce,
        require_mfa => client.require_mfa,
        require_par => client.require_par,
        require_dpop => client.require_dpop,
        access_token_ttl_secs => client.access_token_ttl_secs.map(|t| t.to_string()).unwrap_or_default(),
        jwks_uri => client.jwks_uri.clone().unwrap_or_default(),
        request_uris => client.request_uris.join("\n"),
        pairwise => client.subject_type == "pairwise",
        sector_identifier_uri => client.sector_identifier_uri.clone().unwrap_or_default(),
        logo_uri => client.logo_uri.clone().unwrap_or_default(),
        policy_uri => client.policy_uri.clone().unwrap_or_default(),
        tos_uri => client.tos_uri.clone().unwrap_or_default(),
        signed_userinfo => client.userinfo_signed_response_alg.is_some(),
    }
}

/// As [`values_of`], from a posted form, so a refused form comes back as it was typed.
pub fn values_typed(params: &Params) -> minijinja::Value {
    let text = |name: &str| params.get(name).unwrap_or_default().to_string();
    context! {
        name => text("name"),
        client_id => text("client_id"),
        public => ticked(params, "public"),
        redirect_uris => text("redirect_uris"),
        post_logout_redirect_uris => text("post_logout_redirect_uris"),
        grants => grant_boxes(|g| ticked(params, &format!("grant:{g}"))),
        first_party => ticked(params, "first_party"),
        scopes => text("scopes"),
        audiences => text("audiences"),
        backchannel_logout_uri => text("backchannel_logout_uri"),
        always_refresh => ticked(params, "always_refresh"),
        require_pkce => ticked(params, "require_pkce"),
        require_mfa => ticked(params, "require_mfa"),
        require_par => ticked(params, "require_par"),
        require_dpop => ticked(params, "require_dpop"),
        access_token_ttl_secs => text("access_token_ttl_secs"),
        jwks_uri => text("jwks_uri"),
        request_uris => text("request_uris"),
        pairwise => params.get("subject_type").map(str::trim) == Some("pairwise"),
        sector_identifier_uri => text("sector_identifier_uri"),
        logo_uri => text("logo_uri"),
        policy_uri => text("policy_uri"),
        tos_uri => text("tos_uri"),
        signed_userinfo => ticked(params, "signed_userinfo"),
    }
}

/// The new-client form's starting values: the CLI's defaults.
pub fn defaults() -> minijinja::Value {
    context! {
        grants => grant_boxes(|g| g == "authorization_code" || g == "refresh_token"),
        first_party => true,
    }
}

fn grant_boxes(on: impl Fn(&str) -> bool) -> Vec<minijinja::Value> {
    GRANT_TYPES
        .iter()
        .map(|g| context! { name => g, on => on(g), field => format!("grant:{g}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_form_becomes_settings() {
        let params = Params::parse(
            b"name=Billing&redirect_uris=https%3A%2F%2Fa.example%2Fcb%0D%0Ahttps%3A%2F%2Fb.example%2Fcb&grant%3Aauthorization_code=on&first_party=on&access_token_ttl_secs=600",
        )
        .unwrap();
        let s = settings(&params, true).unwrap();
        assert_eq!(s.name.as_deref(), Some("Billing"));
        assert_eq!(s.redirect_uris.unwrap().len(), 2);
        assert_eq!(s.grant_types.unwrap(), vec!["authorization_code".to_string()]);
        assert_eq!(s.public, Some(false));
        assert_eq!(s.access_token_ttl_secs, Some(600));
        assert!(s.scopes.is_none());
        assert_eq!(
            s.backchannel_logout_uri.as_deref(),
            Some(""),
            "a blank field removes the URI"
        );
        assert_eq!(s.require_dpop, Some(false));
        assert_eq!(s.logo_uri.as_deref(), Some(""), "a blank field removes the logo");
        assert_eq!(s.userinfo_signed_response_alg.as_deref(), Some(""), "unticked: JSON");
        assert_eq!(
            (s.jwks_uri.as_deref(), s.sector_identifier_uri.as_deref()),
            (Some(""), Some("")),
            "blank fields remove the URLs"
        );
        assert_eq!(s.request_uris, Some(vec![]), "an empty list removes them all");
        assert_eq!(s.subject_type, None, "no choice sent: kept");
        let ticked = Params::parse(
            b"name=x&require_dpop=on&signed_userinfo=on&logo_uri=+https%3A%2F%2Fa.example%2Flogo.png+&tos_uri=https%3A%2F%2Fa.example%2Ftos",
        )
        .unwrap();
        let s = settings(&ticked, false).unwrap();
        assert_eq!(s.require_dpop, Some(true));
        assert_eq!(s.userinfo_signed_response_alg.as_deref(), Some("RS256"));
        assert_eq!(s.logo_uri.as_deref(), Some("https://a.example/logo.png"));
        assert_eq!(s.tos_uri.as_deref(), Some("https://a.example/tos"));
        let keys = Params::parse(
            b"name=x&subject_type=pairwise&jwks_uri=+https%3A%2F%2Fa.example%2Fjwks+&request_uris=https%3A%2F%2Fa.example%2Fr1%0D%0Ahttps%3A%2F%2Fa.example%2Fr2&sector_identifier_uri=https%3A%2F%2Fa.example%2Fsector.json",
        )
        .unwrap();
        let s = settings(&keys, false).unwrap();
        assert_eq!(s.subject_type.as_deref(), Some("pairwise"));
        assert_eq!(s.jwks_uri.as_deref(), Some("https://a.example/jwks"));
        assert_eq!(s.request_uris.map(|r| r.len()), Some(2));
        assert_eq!(
            s.sector_identifier_uri.as_deref(),
            Some("https://a.example/sector.json")
        );
        assert!(s.jwks.is_none(), "the form never touches inline keys");
        let bad = Params::parse(b"name=x&access_token_ttl_secs=soon").unwrap();
        assert!(settings(&bad, true).unwrap_err().contains("whole number"));
    }
}
