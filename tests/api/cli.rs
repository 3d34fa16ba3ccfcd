//! The `gatehouse` binary as an operator uses it: configuration errors, client and user
//! administration, keys, and the README quickstart (CLI-registered client and user, then
//! a real sign-in against `gatehouse serve`).

use crate::helpers::{query_param, Browser, PASSWORD};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn gatehouse(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("run gatehouse");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("gatehouse output")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn invalid_configuration_is_a_clear_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("GATEHOUSE_LISTEN", "not-an-address")], "`listen`"),
        (&[("GATEHOUSE_ISSUER", "http://example.com")], "`issuer`"),
        (&[("GATEHOUSE_DATABASE_URL", "mysql://x/y")], "`database_url`"),
        (&[("GATEHOUSE_TOKENS__CODE_TTL_SECS", "soon")], "tokens.code_ttl_secs"),
    ];
    for (env, key) in cases {
        let output = gatehouse(dir.path(), &["serve"], env, None);
        assert!(!output.status.success(), "{env:?} should fail");
        let err = stderr(&output);
        assert!(err.contains(key), "{env:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    std::fs::write(dir.path().join("gatehouse.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let output = gatehouse(dir.path(), &["serve"], &[], None);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("lisen"), "{}", stderr(&output));
    let output = gatehouse(dir.path(), &["--config", "missing.toml", "serve"], &[], None);
    assert!(stderr(&output).contains("missing.toml"), "{}", stderr(&output));
}

#[test]
fn clients_are_created_listed_shown_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let create = gatehouse(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "Demo",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--json",
        ],
        &[],
        None,
    );
    assert!(create.status.success(), "{}", stderr(&create));
    let created: Value = serde_json::from_str(&stdout(&create)).unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap();
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .unwrap()
            .len(),
        32
    );

    let list: Value = serde_json::from_str(&stdout(&gatehouse(
        dir.path(),
        &["client", "list", "--json"],
        &[],
        None,
    )))
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(secret), "the secret is shown once only");
    let show = gatehouse(dir.path(), &["client", "show", &id], &[], None);
    assert!(
        stdout(&show).contains("https://app.example.com/cb"),
        "client show: {} stdout {:?} stderr {:?}",
        show.status,
        stdout(&show),
        stderr(&show)
    );
    assert!(!stdout(&show).contains(secret));

    let public = gatehouse(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://localhost:3000/cb",
            "--client-id",
            "spa",
            "--json",
        ],
        &[],
        None,
    );
    let public: Value = serde_json::from_str(&stdout(&public)).unwrap();
    assert_eq!(public["client_id"], "spa");
    assert_eq!(public["require_mfa"], false);
    // --require-mfa makes every sign-in for the app need a second factor.
    let strict = gatehouse(dir.path(), &["client", "update", "spa", "--require-mfa"], &[], None);
    assert!(strict.status.success(), "{}", stderr(&strict));
    let strict = gatehouse(dir.path(), &["client", "show", "spa", "--json"], &[], None);
    let strict: Value = serde_json::from_str(&stdout(&strict)).unwrap();
    assert_eq!(strict["require_mfa"], true, "{strict}");
    assert_eq!(strict["require_par"], false, "{strict}");
    let pushed = gatehouse(dir.path(), &["client", "update", "spa", "--require-par"], &[], None);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let pushed: Value = serde_json::from_str(&stdout(&gatehouse(
        dir.path(),
        &["client", "show", "spa", "--json"],
        &[],
        None,
    )))
    .unwrap();
    assert_eq!(pushed["require_par"], true, "{pushed}");
    assert!(public.get("client_secret").is_none());
    let duplicate = gatehouse(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "x",
            "--public",
            "--redirect-uri",
            "http://localhost/cb",
            "--client-id",
            "spa",
        ],
        &[],
        None,
    );
    assert!(stderr(&duplicate).contains("already exists"));

    assert!(gatehouse(dir.path(), &["client", "delete", &id], &[], None)
        .status
        .success());
    let again = gatehouse(dir.path(), &["client", "delete", &id], &[], None);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("no client"));
}

#[test]
fn dangerous_redirect_uris_are_refused_at_registration() {
    let dir = tempfile::tempdir().unwrap();
    for uri in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,x",
        "http://app.example.com/cb",
        "https://app.example.com/cb#x",
    ] {
        let output = gatehouse(
            dir.path(),
            &["client", "create", "--name", "x", "--redirect-uri", uri],
            &[],
            None,
        );
        assert!(!output.status.success(), "{uri}");
        assert!(
            stderr(&output).contains("invalid redirect URI"),
            "{uri}: {}",
            stderr(&output)
        );
    }
}

/// A kid is a base64url SHA-256 thumbprint, so one in 64 starts with `-`: the command
/// must take it as the kid, not as a flag (this failed now and then before).
#[test]
fn keys_retire_takes_a_kid_that_starts_with_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    assert!(gatehouse(dir.path(), &["keys", "list"], &[], None).status.success());
    let out = gatehouse(dir.path(), &["keys", "retire", "-iNoSuchKid"], &[], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(!err.contains("unexpected argument"), "{err}");
    assert!(err.contains("no key with kid \"-iNoSuchKid\""), "{err}");
}

#[test]
fn keys_rotate_publishes_a_key_that_signs_later_and_readable_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let list = gatehouse(dir.path(), &["keys", "list"], &[], None);
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(stdout(&list).matches("active").count(), 1);
    let rotate = gatehouse(dir.path(), &["keys", "rotate"], &[], None);
    assert!(rotate.status.success());
    let list = stdout(&gatehouse(dir.path(), &["keys", "list"], &[], None));
    assert_eq!(list.matches("active").count(), 1, "{list}");
    assert_eq!(list.matches("published").count(), 1, "{list}");

    let active_kid = list
        .lines()
        .find(|l| l.contains("active"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let early = gatehouse(dir.path(), &["keys", "retire", &active_kid], &[], None);
    assert!(!early.status.success());
    assert!(stderr(&early).contains("refusing"), "{}", stderr(&early));

    // The keys are sealed in the database; the key that opens them is a file of its own.
    let mut stored = Vec::new();
    for file in std::fs::read_dir(dir.path().join("data")).unwrap() {
        stored.extend(std::fs::read(file.unwrap().path()).unwrap());
    }
    assert!(
        String::from_utf8_lossy(&stored).contains("signing_keys"),
        "the keys are in the database"
    );
    assert!(
        !String::from_utf8_lossy(&stored).contains("PRIVATE KEY"),
        "no private key in the clear"
    );
    let kek = dir.path().join("keys/encryption.key");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o644)).unwrap();
    let serve = gatehouse(dir.path(), &["serve", "--listen", "127.0.0.1:0"], &[], None);
    assert!(!serve.status.success());
    let err = stderr(&serve);
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn user_create_reads_the_password_from_stdin_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "user",
        "create",
        "--username",
        "bob",
        "--email",
        "bob@example.com",
        "--password-stdin",
    ];
    let output = gatehouse(dir.path(), &args, &[], Some("short\n"));
    assert!(stderr(&output).contains("at least 8"));
    let output = gatehouse(dir.path(), &args, &[], Some(&format!("{PASSWORD}\n")));
    assert!(output.status.success(), "{}", stderr(&output));
    let again = gatehouse(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "BOB",
            "--email",
            "other@example.com",
            "--password-stdin",
        ],
        &[],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(stderr(&again).contains("already taken"), "{}", stderr(&again));
    let bad = gatehouse(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "a@b",
            "--email",
            "x@example.com",
            "--password-stdin",
        ],
        &[],
        Some(PASSWORD),
    );
    assert!(stderr(&bad).contains("--username"));
}

/// The README quickstart, end to end: register a client and a user with the CLI, run
/// `gatehouse serve` with zero configuration, and sign in.
#[tokio::test]
async fn quickstart_from_the_readme_signs_in_against_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let env = [
        ("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}")),
        ("GATEHOUSE_ISSUER", issuer.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let create = gatehouse(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "Quickstart",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--json",
        ],
        &env,
        None,
    );
    let client: Value = serde_json::from_str(&stdout(&create)).expect("client JSON");
    let user = gatehouse(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        &env,
        Some(PASSWORD),
    );
    assert!(user.status.success(), "{}", stderr(&user));

    // Structured logs at the most verbose level, to check below that no secret reaches them.
    let mut verbose = env.clone();
    verbose.extend([("GATEHOUSE_LOG_FORMAT", "json"), ("RUST_LOG", "trace")]);
    let mut server = crate::helpers::ServedBinary::start(dir.path(), port, &verbose).await;
    let http = reqwest::Client::new();
    assert!(
        dir.path().join("data/gatehouse.db").exists(),
        "default database location"
    );

    let verifier = gatehouse::secrets::random_token();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client["client_id"].as_str().unwrap()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("scope", "openid email"),
        ("state", "xyz"),
        ("code_challenge", &crate::helpers::pkce_challenge(&verifier)),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let browser = Browser::new(&issuer);
    let to = browser
        .sign_in(&format!("{issuer}/authorize?{query}"), "carol", PASSWORD)
        .await;
    let code = query_param(&to, "code").expect("code");
    let tokens: Value = http
        .post(format!("{issuer}/token"))
        .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let userinfo: Value = http
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.kill();
    assert_eq!(userinfo["email"], "carol@example.com");

    let logs = server.logs();
    assert!(logs.contains("\"listening\""), "the startup event is logged");
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    let session_cookie = browser.cookies();
    assert!(session_cookie.contains("gatehouse_session="));
    let secrets = [
        ("password", PASSWORD.to_string()),
        ("client secret", client["client_secret"].as_str().unwrap().to_string()),
        ("authorization code", code.clone()),
        ("access token", tokens["access_token"].as_str().unwrap().to_string()),
        ("ID token", tokens["id_token"].as_str().unwrap().to_string()),
        ("PKCE verifier", verifier.clone()),
    ];
    for (name, secret) in secrets.iter().chain(
        session_cookie
            .split("; ")
            .filter_map(|c| c.split_once('='))
            .map(|(_, v)| ("cookie", v.to_string()))
            .collect::<Vec<_>>()
            .iter(),
    ) {
        assert!(!logs.contains(secret.as_str()), "the {name} appears in the logs");
    }
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = gatehouse(dir.path(), &["migrate"], &[], None);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("up to date"));
    }
    assert!(dir.path().join("data/gatehouse.db").exists());
}

#[test]
fn migrate_check_fails_while_migrations_are_pending_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pending = gatehouse(dir.path(), &["migrate", "--check"], &[], None);
    assert!(!pending.status.success(), "a fresh database has pending migrations");
    assert!(stderr(&pending).contains("pending"), "{}", stderr(&pending));
    assert!(
        stderr(&pending).contains("upstream sign in"),
        "the message names them: {}",
        stderr(&pending)
    );
    let still = gatehouse(dir.path(), &["migrate", "--check"], &[], None);
    assert!(!still.status.success(), "--check applied nothing");
    assert!(gatehouse(dir.path(), &["migrate"], &[], None).status.success());
    let done = gatehouse(dir.path(), &["migrate", "--check"], &[], None);
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(stdout(&done).contains("up to date"));
}

#[test]
fn client_options_for_services_and_updates() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| gatehouse(dir.path(), args, &[], None);
    let service = run(&[
        "client",
        "create",
        "--name",
        "Billing",
        "--client-id",
        "billing",
        "--grant-type",
        "client_credentials",
        "--audience",
        "https://api.example.com",
        "--scope",
        "invoices:read",
        "--json",
    ]);
    assert!(service.status.success(), "{}", stderr(&service));
    let created: Value = serde_json::from_str(&stdout(&service)).unwrap();
    assert_eq!(created["grant_types"], serde_json::json!(["client_credentials"]));
    assert_eq!(created["audiences"], serde_json::json!(["https://api.example.com"]));

    for (args, message) in [
        (vec!["--grant-type", "client_credentials"], "--audience"),
        (
            vec!["--grant-type", "password", "--redirect-uri", "https://a.example/cb"],
            "unknown grant type",
        ),
        (
            vec![
                "--public",
                "--grant-type",
                "client_credentials",
                "--audience",
                "https://api.example.com",
            ],
            "confidential",
        ),
        (vec!["--grant-type", "authorization_code"], "--redirect-uri"),
    ] {
        let mut full = vec!["client", "create", "--name", "x"];
        full.extend(args);
        let output = run(&full);
        assert!(!output.status.success());
        assert!(stderr(&output).contains(message), "{message}: {}", stderr(&output));
    }

    let update = run(&[
        "client",
        "update",
        "billing",
        "--name",
        "Billing v2",
        "--third-party",
        "--rotate-secret",
    ]);
    assert!(update.status.success(), "{}", stderr(&update));
    assert!(stdout(&update).contains("client_secret:"));
    let shown: Value = serde_json::from_str(&stdout(&run(&["client", "show", "billing", "--json"]))).unwrap();
    assert_eq!(shown["name"], "Billing v2");
    assert_eq!(shown["first_party"], false);
    assert_eq!(
        shown["grant_types"],
        serde_json::json!(["client_credentials"]),
        "unchanged options keep their value"
    );
    // The README's DPoP requirement, as written.
    let strict = run(&["client", "update", "billing", "--require-dpop"]);
    assert!(strict.status.success(), "{}", stderr(&strict));
    let shown: Value = serde_json::from_str(&stdout(&run(&["client", "show", "billing", "--json"]))).unwrap();
    assert_eq!(shown["require_dpop"], true);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("gatehouse client update ID --require-dpop"));

    // A back-channel URI is set, then removed by an empty value.
    let set = run(&[
        "client",
        "update",
        "billing",
        "--backchannel-logout-uri",
        "https://billing.example.com/bcl",
    ]);
    assert!(set.status.success(), "{}", stderr(&set));
    let shown: Value = serde_json::from_str(&stdout(&run(&["client", "show", "billing", "--json"]))).unwrap();
    assert_eq!(shown["backchannel_logout_uri"], "https://billing.example.com/bcl");
    let cleared = run(&["client", "update", "billing", "--backchannel-logout-uri", ""]);
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    let shown: Value = serde_json::from_str(&stdout(&run(&["client", "show", "billing", "--json"]))).unwrap();
    assert!(shown["backchannel_logout_uri"].is_null(), "{shown}");

    let missing = run(&["client", "update", "nobody", "--name", "x"]);
    assert!(stderr(&missing).contains("no client"));
}

/// The README's device-grant registration, as written.
#[test]
fn the_readmes_device_client_registers() {
    let dir = tempfile::tempdir().unwrap();
    let output = gatehouse(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "Living Room TV",
            "--public",
            "--grant-type",
            "urn:ietf:params:oauth:grant-type:device_code",
            "--grant-type",
            "refresh_token",
            "--json",
        ],
        &[],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let created: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"])
    );
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("--grant-type urn:ietf:params:oauth:grant-type:device_code --grant-type refresh_token"));
}

/// The README's registration recipe: an initial access token from the CLI opens
/// `POST /register` on a server with `registration.mode = "token"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_registration_recipe_registers_a_client_with_a_cli_token() {
    let dir = tempfile::tempdir().unwrap();
    let mode = [("GATEHOUSE_REGISTRATION__MODE", "token")];
    let issued = gatehouse(
        dir.path(),
        &["registration", "issue-token", "--ttl-days", "7"],
        &mode,
        None,
    );
    assert!(issued.status.success(), "{}", stderr(&issued));
    let printed = stdout(&issued);
    let token = printed
        .lines()
        .find_map(|l| l.strip_prefix("initial_access_token: "))
        .expect("the token is printed")
        .to_string();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("gatehouse registration issue-token --ttl-days 7"));
    assert!(readme.contains("mode = \"token\""));

    let server = crate::helpers::ServedBinary::start(dir.path(), crate::helpers::free_port(), &mode).await;
    let body = serde_json::json!({"client_name": "Weather Widget", "redirect_uris": ["https://widget.example.com/cb"]});
    let http = reqwest::Client::new();
    let refused = http
        .post(format!("{}/register", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let registered = http
        .post(format!("{}/register", server.base))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201, "{}", server.logs());
    let registered: Value = registered.json().await.unwrap();
    assert_eq!(registered["client_name"], "Weather Widget");
    assert!(registered["client_secret"].is_string() && registered["registration_access_token"].is_string());
}
