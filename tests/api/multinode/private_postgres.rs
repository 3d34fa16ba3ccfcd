//! A PostgreSQL server of one test's own, for the fault tests: they stop and restart it.

use super::cluster::{required, tail};
use crate::helpers::free_port;
use std::path::PathBuf;
use std::process::Command;
use tempfile::TempDir;

/// A PostgreSQL server of one test's own, in a temp dir on a free loopback port, so the
/// test can stop and restart it without disturbing any other test. PostgreSQL refuses to
/// run as root: as root its binaries run as the `postgres` user.
pub struct PrivatePostgres {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// None (loudly) when PostgreSQL's server binaries are not installed, unless
    /// GATEHOUSE_REQUIRE_POSTGRES=1, when that is a failure.
    pub(super) fn start() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0)
            });
        let Some(bin) = bin else {
            if required() {
                panic!("GATEHOUSE_REQUIRE_POSTGRES=1 but no /usr/lib/postgresql/*/bin/initdb for a private PostgreSQL");
            }
            eprintln!(
                "\n*** SKIPPED fault test: no /usr/lib/postgresql/*/bin/initdb to run a private PostgreSQL ***\n"
            );
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::Builder::new().prefix("gh-pg").tempdir().expect("temp dir");
        if as_postgres {
            let chown = Command::new("chown")
                .args(["-R", "postgres:", &dir.path().display().to_string()])
                .status()
                .expect("chown");
            assert!(chown.success(), "chown the private PostgreSQL dir to postgres");
        }
        let pg = PrivatePostgres {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        );
        pg.pg_ctl(&["start"]);
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let path = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            tail(
                &std::fs::read_to_string(self.dir.path().join("pg.log")).unwrap_or_default(),
                20
            )
        );
    }

    /// `pg_ctl ACTION` on this server, waiting for it to finish.
    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let data = self.data();
        let log = self.dir.path().join("pg.log").display().to_string();
        let mut args = vec![
            "-D",
            data.as_str(),
            "-l",
            log.as_str(),
            "-w",
            "-t",
            "60",
            "-o",
            options.as_str(),
        ];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A fast shutdown: sessions are ended, and the server is down until [`Self::start_again`].
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    pub fn start_again(&self) {
        self.pg_ctl(&["start"]);
    }

    /// `pg_ctl restart -m fast`, as an operator (or `pg_ctlcluster … restart`) does.
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "-m", "fast"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let path = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = command.args(["-D", &data, "-m", "immediate", "-w", "stop"]).output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
