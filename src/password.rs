//! argon2id hashing and verification. argon2 is slow on purpose, so it runs on its own
//! threads, one per core, behind a semaphore of the same size: a burst of logins queues
//! instead of starving the async executor that serves discovery, JWKS and tokens, and a
//! request that waits too long in that queue gets a 503 rather than holding its
//! connection (checklist F5). The hasher threads run at a lower scheduling priority
//! (nice 10), so when a login flood and token requests want the same cores, the kernel
//! runs the token requests first and the hashes use whatever is left: all of it when
//! nothing else is running.

use crate::config::HashingSettings;
use crate::error::AppError;
use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Longest password we hash, in bytes: long enough for any passphrase, short enough that
/// hashing cannot be used to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// How long a password check may wait for a free hasher before it is refused as
/// overload (503); below the request timeout, so the refusal is ours and says so.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    permits: Arc<Semaphore>,
    threads: HasherThreads,
    queue_timeout: Duration,
    /// Verified against when the account does not exist, so an unknown user costs the same
    /// time as a wrong password.
    dummy_hash: Arc<String>,
    /// Where the wait for a free hasher is recorded (a metric), when set.
    wait: Option<prometheus::Histogram>,
}

impl PasswordHasherPool {
    pub fn new(settings: &HashingSettings) -> anyhow::Result<Self> {
        let params = params(settings)?;
        let workers = if settings.max_concurrent == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        } else {
            settings.max_concurrent
        };
        let dummy_hash = hash_blocking(&params, "gatehouse-dummy-password")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(workers)),
            threads: HasherThreads::start(workers)?,
            queue_timeout: QUEUE_TIMEOUT,
            dummy_hash: Arc::new(dummy_hash),
            wait: None,
        })
    }

    /// Records each wait for a free hasher in `histogram`.
    pub fn with_wait_metric(mut self, histogram: prometheus::Histogram) -> Self {
        self.wait = Some(histogram);
        self
    }

    /// A free hasher, or Unavailable after waiting `queue_timeout` for one.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AppError> {
        let started = std::time::Instant::now();
        let acquired = tokio::time::timeout(self.queue_timeout, self.permits.acquire()).await;
        if let Some(wait) = &self.wait {
            wait.observe(started.elapsed().as_secs_f64());
        }
        match acquired {
            Ok(permit) => Ok(permit.context("hasher closed")?),
            Err(_) => Err(AppError::Unavailable(anyhow::anyhow!(
                "every password hasher busy for {:?}",
                self.queue_timeout
            ))),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let _permit = self.permit().await?;
        let params = self.params.clone();
        let password = normalize(password);
        self.threads
            .run(move || hash_blocking(&params, &password))
            .await?
            .map_err(AppError::from)
    }

    /// Checks `password` against `hash`, or against a dummy hash when there is no account,
    /// so both cases take the same time. Returns false for the dummy.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        let is_real = hash.is_some();
        let hash = hash.unwrap_or(self.dummy_hash.as_str()).to_string();
        let password = normalize(password);
        let _permit = self.permit().await?;
        let ok = self
            .threads
            .run(move || {
                PasswordHash::new(&hash)
                    .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                    .unwrap_or(false)
            })
            .await?;
        Ok(ok && is_real)
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hasher threads: they take jobs from one queue, at nice 10.
#[derive(Clone)]
struct HasherThreads {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl HasherThreads {
    fn start(count: usize) -> anyhow::Result<HasherThreads> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while taking a job, never while hashing.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            // Every sender is gone: the server is shutting down.
                            Err(_) => return,
                        }
                    }
                })
                .context("cannot start a password hasher thread")?;
        }
        Ok(HasherThreads { jobs })
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("password hasher threads are gone")))?;
        result
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a password hasher thread died")))
    }
}

/// Nice 10 for the calling thread only (on Linux a thread is its own scheduling entity).
/// Raising one's own nice value needs no privilege; if it is refused anyway, hashing just
/// runs at normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
        if rc != 0 {
            tracing::debug!("could not lower the password hashers' priority");
        }
    }
}

impl PasswordHasherPool {
    /// Whether `hash` was made with other parameters than today's, so a successful login
    /// should store a fresh one (OWASP: upgrade hashes as users come back).
    pub fn needs_rehash(&self, hash: &str) -> bool {
        match PasswordHash::new(hash) {
            Ok(parsed) => {
                let get = |name: &str| parsed.params.get_decimal(name);
                parsed.algorithm.as_str() != "argon2id"
                    || get("m") != Some(self.params.m_cost())
                    || get("t") != Some(self.params.t_cost())
                    || get("p") != Some(self.params.p_cost())
            }
            Err(_) => true,
        }
    }
}

/// Unicode passwords are compared in NFKC form (NIST SP 800-63B §5.1.1.2), so the same
/// password typed on two keyboards is the same password.
fn normalize(password: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    password.nfkc().collect()
}

/// NIST SP 800-63B rules: long enough, not too long to hash, and not guessable, judged by
/// zxcvbn with the user's own names and address as context. No composition rules.
pub fn check_policy(password: &str, min_length: usize, context: &[&str]) -> Result<(), String> {
    let normalized = normalize(password);
    let length = normalized.chars().count();
    if length < min_length {
        return Err(format!("Use at least {min_length} characters."));
    }
    if normalized.len() > MAX_PASSWORD_BYTES {
        return Err("That password is too long.".into());
    }
    let inputs: Vec<&str> = context.iter().copied().filter(|c| !c.is_empty()).collect();
    let estimate = zxcvbn::zxcvbn(&normalized, &inputs);
    if (estimate.score() as u8) < 3 {
        return Err("That password is too easy to guess. Try a longer phrase of unrelated words.".into());
    }
    Ok(())
}

/// The argon2id parameters `settings` ask for (one lane: p=1, as OWASP's 19 MiB/t=2 row).
pub fn params(settings: &HashingSettings) -> anyhow::Result<Params> {
    Params::new(settings.memory_kib, settings.iterations, 1, None)
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))
}

/// One hash on the calling thread; the pool runs this on the blocking pool, the
/// benchmark calls it directly to measure the machine's bound.
pub fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the calling thread, from /proc (field 19 of its stat line).
    #[cfg(target_os = "linux")]
    fn own_nice() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split_whitespace().nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_below_the_priority_of_the_threads_serving_requests() {
        let pool = PasswordHasherPool::new(&HashingSettings {
            memory_kib: 1024,
            iterations: 1,
            max_concurrent: 2,
        })
        .unwrap();
        let serving = own_nice();
        let hashing = pool.threads.run(own_nice).await.unwrap();
        assert_eq!(hashing, serving + 10, "hasher threads should run at nice +10");
        // And the work still gets done there.
        let hash = pool.hash("correct horse battery staple").await.unwrap();
        assert!(pool.verify("correct horse battery staple", Some(&hash)).await.unwrap());
    }

    #[tokio::test]
    async fn a_check_that_waits_too_long_for_a_hasher_is_refused_as_overload_checklist_f5() {
        let settings = HashingSettings {
            memory_kib: 8192,
            iterations: 1,
            max_concurrent: 1,
        };
        let mut pool = PasswordHasherPool::new(&settings).unwrap();
        pool.queue_timeout = Duration::from_millis(50);
        // Every hasher is busy (another request holds the only one).
        let busy = pool.permits.clone().acquire_owned().await.unwrap();
        let refused = pool.verify("whatever", None).await.unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(matches!(pool.hash("whatever").await, Err(AppError::Unavailable(_))));
        drop(busy);
        assert!(
            !pool.verify("whatever", None).await.unwrap(),
            "served once a hasher is free"
        );
    }

    #[test]
    fn policy_refuses_short_common_and_personal_passwords() {
        assert!(check_policy("short", 8, &[]).is_err());
        assert!(check_policy("password123", 8, &[]).is_err());
        assert!(check_policy("alicealice2024", 8, &["alice"]).is_err());
        assert!(check_policy(&"x".repeat(2000), 8, &[]).is_err());
        assert!(check_policy("correct horse battery staple", 8, &[]).is_ok());
        assert!(check_policy("ünïcödé pässwörd gläss", 8, &[]).is_ok());
    }

    #[test]
    fn the_services_own_name_is_a_guessable_word_checklist_c2() {
        let password = "Gatehouse2026!";
        assert!(check_policy(password, 8, &[]).is_ok(), "fine without context");
        assert!(check_policy(password, 8, &["Gatehouse", "id.example.com"]).is_err());
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let pool = PasswordHasherPool::new(&HashingSettings {
            memory_kib: 8192,
            iterations: 1,
            max_concurrent: 1,
        })
        .unwrap();
        let hash = pool.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(pool.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!pool.verify("wrong", Some(&hash)).await.unwrap());
        assert!(!pool.verify("gatehouse-dummy-password", None).await.unwrap());
        // NFKC: a full-width letter is the same password as its ASCII form.
        let hash = pool.hash("ｐassword horse").await.unwrap();
        assert!(pool.verify("password horse", Some(&hash)).await.unwrap());
        assert!(!pool.needs_rehash(&hash));
        let stronger = PasswordHasherPool::new(&HashingSettings {
            memory_kib: 9000,
            iterations: 1,
            max_concurrent: 1,
        })
        .unwrap();
        assert!(stronger.needs_rehash(&hash));
    }
}
