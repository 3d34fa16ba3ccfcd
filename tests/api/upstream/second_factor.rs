//! Second factors and upstream sign-ins: an upstream sign-in is one factor, so a user with
//! a local second factor gives it after "Continue with …" too.

use super::*;
use crate::two_factor::{amr, code_now, enrol, id_token_after, second_factor};

federated! { Federation::corp;
    /// uma signs up through the upstream, adds an authenticator app here, and from then on
    /// the upstream alone does not sign her in: the code does, and amr says both.
    async fn a_local_second_factor_is_asked_for_after_an_upstream_sign_in(fed: Federation) {
        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (step, _) = fed.sign_in(&browser, "uma").await;
        choose_username(&browser, &fed.down, &step, None).await;
        let (enrolled, _) = enrol(&fed.down, &browser, None).await;

        fed.down.clock.advance(30);
        let again = fed.browser();
        let (login, verifier) = fed.open_app(&again).await;
        let callback = fed.press_and_sign_in_upstream(&again, &login.text, "uma").await;
        let page = walk(&again, &callback, &[&fed.down.base]).await;
        assert!(page.url.starts_with(&fed.down.url("/login/second-factor")), "{page:?}");
        assert!(!signed_in_at(&again, &fed.down).await, "no session before the second factor");
        let done = second_factor(&again, "code", &code_now(&fed.down, &enrolled, 0)).await;
        assert_eq!(done.status(), 303);
        let claims = id_token_after(&fed.down, &again, &location(done.headers()).unwrap(), &verifier).await;
        assert_eq!(amr(&claims), ["fed", "otp", "mfa"]);
        assert_eq!(claims["idp"], CORP);
    }
}
