//! The runner must be able to fail an OP. Against Gatehouse and a certified peer it reports
//! all PASS, which on its own would also be the result of checks that can never fire. So
//! here a tiny in-memory OP is started with one defect at a time, and each defect must
//! make the module the official suite catches it with FAIL, on the suite's condition.
//! With no defect the same OP must PASS those modules, so a failure is the defect's doing.

mod fixture;

use fixture::{start_op, Defects, CLIENTS, USER};
use gatehouse_conformance::report::Severity;
use gatehouse_conformance::target::{ClientCreds, Interaction, InteractionKind, User};
use gatehouse_conformance::{run_plans, run_plans_with, Plan, Report, Status, Target};
use regex::Regex;
use std::collections::BTreeMap;
use std::time::Duration;

/// The target the runner is given; `issuer` is filled in once the OP is listening.
fn target(callback_port: u16) -> Target {
    let creds = |(id, secret): (&str, &str)| ClientCreds {
        id: id.into(),
        secret: secret.into(),
    };
    Target {
        issuer: String::new(),
        ca_file: None,
        callback_port,
        client: creds(CLIENTS[0]),
        client2: creds(CLIENTS[1]),
        user: User {
            username: USER.0.into(),
            password: USER.1.into(),
        },
        pages: None,
        interaction: vec![Interaction {
            kind: InteractionKind::Login,
            url: None,
            form: Some(Regex::new("/login$").unwrap()),
            fields: BTreeMap::from([
                ("username".into(), "{username}".into()),
                ("password".into(), "{password}".into()),
            ]),
            submit: None,
            when_field: None,
        }],
        concurrency: 3,
        rotate_keys: None,
        rp_key_rotation_wait_secs: 0,
    }
}

/// Runs `modules` of `plan` against a fresh fixture with `defects`.
async fn run(defects: Defects, plan: Plan, modules: &[&str]) -> Report {
    let only: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
    // Bound here and held, so no test running alongside can take the callback port.
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut target = target(socket.local_addr().unwrap().port());
    let fixture = start_op(defects, &target).await;
    target.issuer = fixture.issuer.clone();
    let listener = gatehouse_conformance::callback::serve(socket);
    let report = tokio::time::timeout(
        Duration::from_secs(20),
        run_plans_with(target, listener, &[plan], &only),
    )
    .await
    .expect("the run took longer than 20 s")
    .unwrap_or_else(|e| panic!("the run could not start: {e:#}"));
    assert_eq!(
        report.results.len(),
        modules.len(),
        "every module named ran:\n{}",
        report.table()
    );
    report
}

/// The module ran against an OP with `defects` and FAILED on `condition`.
async fn assert_fails(defects: Defects, plan: Plan, module: &str, condition: &str) {
    let report = run(defects, plan, &[module]).await;
    let result = &report.results[0];
    assert_eq!(
        result.status,
        Status::Failed,
        "{module} must fail against {defects:?}:\n{}",
        report.table()
    );
    assert!(
        result
            .findings
            .iter()
            .any(|f| f.severity == Severity::Failure && f.condition == condition),
        "{module} must fail on {condition} against {defects:?}:\n{}",
        report.table()
    );
}

const BASIC_MODULES: &[&str] = &[
    "oidcc-server",
    "oidcc-codereuse",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-prompt-none-not-logged-in",
    "oidcc-prompt-none-logged-in",
];
const LOGOUT_MODULES: &[&str] = &[
    "oidcc-rp-initiated-logout",
    "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
];

#[tokio::test]
async fn a_correct_op_passes_the_basic_modules() {
    let report = run(Defects::default(), Plan::Basic, BASIC_MODULES).await;
    assert!(
        report.results.iter().all(|r| r.status == Status::Passed),
        "{}",
        report.table()
    );
}

#[tokio::test]
async fn a_correct_op_passes_the_logout_modules() {
    let report = run(Defects::default(), Plan::RpInitiatedLogout, LOGOUT_MODULES).await;
    assert!(
        report.results.iter().all(|r| r.status == Status::Passed),
        "{}",
        report.table()
    );
}

#[tokio::test]
async fn plain_http_fails_discovery_verification_on_https_only() {
    let report = run(
        Defects::default(),
        Plan::Config,
        &["oidcc-discovery-endpoint-verification"],
    )
    .await;
    let result = &report.results[0];
    assert_eq!(result.status, Status::Failed, "{}", report.table());
    let failed: Vec<&str> = result
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Failure)
        .map(|f| f.condition.as_str())
        .collect();
    assert!(
        failed.contains(&"CheckDiscEndpointAllEndpointsAreHttps"),
        "{}",
        report.table()
    );
    // The document is otherwise sound: every failure is about the scheme.
    let https_conditions = [
        "CheckDiscEndpointDiscoveryUrl",
        "IssuerIsValidUrl",
        "CheckDiscEndpointAllEndpointsAreHttps",
        "CheckDiscEndpointUserinfoEndpoint",
        "CheckJwksUri",
    ];
    assert!(
        failed.iter().all(|c| https_conditions.contains(c)),
        "{}",
        report.table()
    );
}

#[tokio::test]
async fn a_module_name_no_chosen_plan_has_is_an_error() {
    // Port 0: the run must stop at the module name, before any callback could arrive.
    let mut target = target(0);
    target.issuer = "http://127.0.0.1:9".into();
    let outcome = run_plans(target, &[Plan::Basic], &["oidcc-sever".into()]).await;
    assert!(outcome.is_err_and(|e| e.to_string().contains("oidcc-sever")));
}

#[tokio::test]
async fn short_authorization_code() {
    let defects = Defects {
        short_code: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-server",
        "EnsureMinimumAuthorizationCodeLength",
    )
    .await;
}

#[tokio::test]
async fn state_not_echoed() {
    let defects = Defects {
        drop_state: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "CheckMatchingStateParameter").await;
}

#[tokio::test]
async fn id_token_for_another_audience() {
    let defects = Defects {
        wrong_aud: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "ValidateIdToken").await;
}

#[tokio::test]
async fn nonce_not_echoed() {
    let defects = Defects {
        drop_nonce: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "ValidateIdTokenNonce").await;
}

#[tokio::test]
async fn id_token_signed_with_an_unpublished_key() {
    let defects = Defects {
        foreign_signature: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "ValidateIdTokenSignature").await;
}

#[tokio::test]
async fn code_redeemable_twice() {
    let defects = Defects {
        reusable_code: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-codereuse",
        "CheckTokenEndpointReturnedInvalidGrantForReusedCode",
    )
    .await;
}

#[tokio::test]
async fn redirect_to_an_unregistered_uri() {
    let defects = Defects {
        any_redirect_uri: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-ensure-registered-redirect-uri",
        "ExpectRedirectUriErrorPage",
    )
    .await;
}

#[tokio::test]
async fn prompt_none_without_session_shows_login() {
    let defects = Defects {
        prompt_none_shows_login: true,
        ..Defects::default()
    };
    let condition = "EnsureErrorFromAuthorizationEndpointResponse";
    assert_fails(defects, Plan::Basic, "oidcc-prompt-none-not-logged-in", condition).await;
}

#[tokio::test]
async fn jwks_publishes_the_private_key() {
    let defects = Defects {
        private_jwks: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-server",
        "EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys",
    )
    .await;
}

#[tokio::test]
async fn userinfo_names_another_subject() {
    let defects = Defects {
        userinfo_other_sub: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-server",
        "VerifyUserInfoAndIdTokenInTokenEndpointSameSub",
    )
    .await;
}

#[tokio::test]
async fn logout_redirects_to_an_unregistered_uri() {
    let defects = Defects {
        any_post_logout_redirect_uri: true,
        ..Defects::default()
    };
    let module = "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri";
    assert_fails(
        defects,
        Plan::RpInitiatedLogout,
        module,
        "ExpectNoRedirectToPostLogoutRedirectUri",
    )
    .await;
}
