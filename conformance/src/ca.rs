//! The throwaway certificate authority a run uses: a root the runner trusts and one server
//! certificate for the loopback names, so an OP under test can serve https without a
//! public CA.

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use std::path::Path;

pub struct Issued {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// Makes a root and a server certificate for `names` (DNS names or IP addresses).
pub fn issue(names: &[&str]) -> anyhow::Result<Issued> {
    let mut root = CertificateParams::new(Vec::<String>::new())?;
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    root.distinguished_name
        .push(DnType::CommonName, "Gatehouse conformance throwaway CA");
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root_key = KeyPair::generate()?;
    let root_cert = root.self_signed(&root_key)?;

    let mut leaf = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    leaf.distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("localhost"));
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &root_cert, &root_key)?;

    Ok(Issued {
        ca_pem: root_cert.pem(),
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    })
}

/// Writes `ca.pem`, `server.pem` and `server.key` (mode 0600) into `dir`.
pub fn write(dir: &Path, issued: &Issued) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("ca.pem"), &issued.ca_pem)?;
    std::fs::write(dir.join("server.pem"), &issued.cert_pem)?;
    let key = dir.join("server.key");
    std::fs::write(&key, &issued.key_pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
