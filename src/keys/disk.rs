//! Key files on disk: the key-encryption key, and the `keys/*.pem` of installs from before
//! the keys moved into the database, read once to import them. Files are written
//! owner-only and atomically; one that others can read, or another user owns, is refused.

use super::set::KeyMeta;
use anyhow::{bail, Context};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A private key file must be readable by its owner only, and that owner must be the user
/// Gatehouse runs as: one another user owns could be swapped under us. The process's own
/// user is the owner of `/proc/self` (Linux); where that is not available the owner check
/// is skipped.
pub(super) fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "refusing to use {}: it is readable by other users (mode {:o}). Fix with: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let Ok(me) = fs::metadata("/proc/self").map(|m| m.uid()) else {
        return Ok(());
    };
    if meta.uid() != me {
        bail!(
            "refusing to use {}: it belongs to user {}, not to the user Gatehouse runs as ({me}). Fix with: chown {me} {}",
            path.display(),
            meta.uid(),
            path.display()
        );
    }
    Ok(())
}

/// A key file of an older install: where it was, its PEM, and its sidecar if it had one.
pub(super) type LegacyKey = (PathBuf, Vec<u8>, Option<KeyMeta>);

/// The PEM key files of an older install.
pub(super) fn legacy_keys(dir: &Path) -> anyhow::Result<Vec<LegacyKey>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "pem") {
            continue;
        }
        check_private(&path)?;
        let pem = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let meta = match fs::read(path.with_extension("json")) {
            Ok(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} has unreadable metadata", path.display()))?,
            ),
            Err(_) => None,
        };
        keys.push((path, pem, meta));
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
}

pub(super) fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create the keys directory {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a file readable by its owner only, atomically (write then rename), so a
/// concurrent reader never sees half of it.
pub(super) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_owned_by_another_user_are_refused_checklist_b10() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encryption.key");
        write_private(&path, b"secret").unwrap();
        assert!(check_private(&path).is_ok(), "our own file is fine");
        // Only root can give a file away; elsewhere the refusal cannot be staged.
        if fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0) {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let err = check_private(&path).err().unwrap().to_string();
            assert!(err.contains("belongs to user 65534"), "{err}");
        }
    }

    #[test]
    fn world_readable_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("k.pem");
        write_private(&pem, b"-----BEGIN PRIVATE KEY-----").unwrap();
        assert_eq!(fs::metadata(&pem).unwrap().permissions().mode() & 0o777, 0o600);
        fs::set_permissions(&pem, fs::Permissions::from_mode(0o644)).unwrap();
        let err = legacy_keys(dir.path()).err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
