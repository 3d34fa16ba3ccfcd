//! Gatehouse terminating TLS itself (rustls), as a deployment without a proxy (and the
//! conformance runs) use it.

use gatehouse::config::{HashingSettings, RawConfig, TlsSettings};
use gatehouse::{App, Clock, Config};
use std::os::unix::fs::PermissionsExt;

/// A throwaway CA-less certificate for 127.0.0.1 and its key, written to `dir`.
fn certificate(dir: &std::path::Path) -> (String, TlsSettings) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, &cert_pem).unwrap();
    std::fs::write(&key_file, certified.key_pair.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    (
        cert_pem,
        TlsSettings {
            cert_file: Some(cert_file),
            key_file: Some(key_file),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatehouse_serves_https_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, tls) = certificate(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("https://127.0.0.1:{}", addr.port());
    let config = Config::from_raw(RawConfig {
        listen: addr.to_string(),
        issuer: issuer.clone(),
        database_url: format!("sqlite://{}/g.db", dir.path().display()),
        keys_dir: dir.path().join("keys"),
        password_hashing: HashingSettings {
            memory_kib: 8192,
            iterations: 1,
            max_concurrent: 0,
        },
        tls,
        ..RawConfig::default()
    })
    .unwrap();
    let app = App::build_on(listener, config, Clock::system()).await.unwrap();
    tokio::spawn(app.serve());

    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let doc: serde_json::Value = https
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("https works")
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "end_session_endpoint",
        "jwks_uri",
    ] {
        assert!(doc[field].as_str().unwrap().starts_with("https://"), "{field}");
    }
    let login = https.get(format!("{issuer}/login")).send().await.unwrap();
    assert!(login.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-") && cookie.contains("Secure"), "{cookie}");
    // Plain http on the TLS port gets no page.
    let plain = reqwest::get(format!("http://127.0.0.1:{}/login", addr.port())).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[test]
fn tls_settings_are_checked_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tls) = certificate(dir.path());
    let half = RawConfig {
        issuer: "https://id.example.com".into(),
        tls: TlsSettings {
            cert_file: tls.cert_file.clone(),
            key_file: None,
        },
        ..RawConfig::default()
    };
    assert!(Config::from_raw(half).unwrap_err().to_string().contains("`tls"));
    let http_issuer = RawConfig {
        tls: tls.clone(),
        ..RawConfig::default()
    };
    assert!(Config::from_raw(http_issuer)
        .unwrap_err()
        .to_string()
        .contains("`issuer`"));
    let key = tls.key_file.clone().unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = gatehouse::tls::server_config(tls.cert_file.as_ref().unwrap(), &key)
        .unwrap_err()
        .to_string();
    assert!(err.contains("chmod 600"), "{err}");
}
