//! The UserInfo response (OIDCC-5.3.2) and the claims each scope asks for (OIDCC-5.4).

use super::id_token::standard_claims;
use super::{Log, Stop};
use serde_json::{Map, Value};

/// The claims OIDCC-5.4 lists for each scope, as the suite's
/// AbstractVerifyScopesReturnedInClaims expects them all.
pub fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "openid" => &["sub"],
        "profile" => &[
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
            "preferred_username",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

/// A successful UserInfo answer: 200, JSON, `sub` equal to the ID token's.
pub fn success(
    log: &mut Log,
    status: u16,
    content_type: &str,
    body: &str,
    id_token_sub: &str,
) -> Result<Map<String, Value>, Stop> {
    log.require(
        status == 200,
        "CheckUserInfoEndpointHttpStatus200",
        "OIDCC-5.3.2",
        format!("UserInfo answered {status}"),
    )?;
    log.expect(
        content_type.starts_with("application/json"),
        "CheckUserInfoEndpointReturnedJsonContentType",
        "OIDCC-5.3.2",
        format!("content type {content_type:?}"),
    );
    let Some(Value::Object(claims)) = serde_json::from_str::<Value>(body).ok() else {
        return Err(log.stop(
            "ExtractUserInfoFromUserInfoEndpointResponse",
            "OIDCC-5.3.2",
            "the body is not a JSON object",
        ));
    };
    log.expect(
        claims.get("sub").and_then(Value::as_str) == Some(id_token_sub),
        "VerifyUserInfoAndIdTokenInTokenEndpointSameSub",
        "OIDCC-5.3.2",
        "UserInfo's sub is not the ID token's",
    );
    standard_claims(log, &claims, "ValidateUserInfoStandardClaims");
    Ok(claims)
}

/// Every claim of every requested scope is in UserInfo (VerifyScopesReturnedInUserInfoClaims, a warning).
pub fn scopes_returned(log: &mut Log, scope: &str, claims: &Map<String, Value>) {
    let missing: Vec<&str> = scope
        .split(' ')
        .flat_map(scope_claims)
        .copied()
        .filter(|c| !claims.contains_key(*c))
        .collect();
    log.advise(
        missing.is_empty(),
        "VerifyScopesReturnedInUserInfoClaims",
        "OIDCC-5.4",
        format!("UserInfo lacks claims of the requested scopes: {}", missing.join(", ")),
    );
}
