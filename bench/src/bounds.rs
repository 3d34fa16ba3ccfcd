//! The machine's physical limits for the two expensive things Gatehouse does, measured
//! in the same run as the load with Gatehouse's own code: RS256 signatures through its
//! `KeySet` (josekit on OpenSSL, the key size it generates) and argon2id hashes with its
//! default parameters. One thread per core, as the server's async workers (RSA) and its
//! hasher pool (argon2) are sized.

use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// RS256 signatures per second on every core.
    pub rs256_per_sec: f64,
    /// argon2id hashes per second on every core.
    pub argon2_per_sec: f64,
    pub threads: usize,
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Runs `work` on `threads` threads for `duration`; returns completed units per second.
fn per_second(threads: usize, duration: Duration, work: impl Fn() + Send + Sync + 'static) -> f64 {
    let work = Arc::new(work);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (work, stop, done) = (work.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    work();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for h in handles {
        let _ = h.join();
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Claims shaped like a client_credentials access token (RFC 9068).
fn access_token_claims() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "iss": "http://127.0.0.1:8080", "sub": "bench-cc", "aud": "urn:bench:api",
        "client_id": "bench-cc", "scope": "api:read", "iat": 1_800_000_000i64,
        "exp": 1_800_000_300i64, "jti": "0123456789abcdef0123456789abcdef",
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

pub fn measure(duration: Duration) -> anyhow::Result<Bounds> {
    let threads = cores();
    let defaults = gatehouse::config::KeySettings::default();
    let keys = Arc::new(gatehouse::keys::KeySet::generated(defaults.rsa_bits)?);
    let claims = access_token_claims();
    let rs256_per_sec = per_second(threads, duration, move || {
        keys.sign("at+jwt", claims.clone(), 1_800_000_000)
            .expect("signing with a fresh key");
    });
    let params = gatehouse::password::params(&gatehouse::config::HashingSettings::default())?;
    let argon2_per_sec = per_second(threads, duration, move || {
        gatehouse::password::hash_blocking(&params, "correct horse battery staple").expect("argon2 with valid params");
    });
    Ok(Bounds {
        rs256_per_sec,
        argon2_per_sec,
        threads,
    })
}
