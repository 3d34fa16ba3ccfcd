//! A real SMTP server for the tests: it speaks enough of RFC 5321 (EHLO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT) for lettre's SMTP transport, and keeps every message it receives.

use base64::Engine;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The decoded text/plain part.
    pub text: String,
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Mail>>>,
    /// The outbox of the Gatehouse sending here: a link mail's token is stored just after
    /// the SMTP server accepts it, so a test that clicks at once waits for that first.
    outbox: std::sync::OnceLock<gatehouse::store::Store>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP sink");
        Self::serve(listener)
    }

    /// Starts on a given port (to bring a "down" server back up).
    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind SMTP sink");
        Self::serve(listener)
    }

    fn serve(listener: TcpListener) -> SmtpSink {
        let sink = SmtpSink {
            port: listener.local_addr().expect("addr").port(),
            received: Arc::default(),
            outbox: std::sync::OnceLock::new(),
        };
        let received = sink.received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let received = received.clone();
                tokio::spawn(async move {
                    let _ = session(socket, received).await;
                });
            }
        });
        sink
    }

    pub fn watch_outbox(&self, store: gatehouse::store::Store) {
        let _ = self.outbox.set(store);
    }

    /// Waits (bounded) until Gatehouse has finished sending to `to`: nothing for it is
    /// left in the outbox, so the tokens of the links it got are live.
    async fn settled(&self, to: &str) {
        let Some(store) = self.outbox.get() else {
            return;
        };
        for _ in 0..100 {
            let left: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE recipient = $1")
                .bind(to)
                .fetch_one(store.pool())
                .await;
            if matches!(left, Ok(0) | Err(_)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn all(&self) -> Vec<Mail> {
        self.received.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Waits (bounded) for a message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Mail {
        for _ in 0..100 {
            if let Some(mail) = self
                .all()
                .into_iter()
                .rev()
                .find(|m| m.to == to && m.subject.contains(subject))
            {
                self.settled(to).await;
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail to {to} about {subject:?}; got {:?}", self.all());
    }

    /// Waits (bounded) until `n` messages to `to` whose subject contains `subject`
    /// arrived; returns the `n`th (1-based).
    pub async fn wait_for_nth(&self, to: &str, subject: &str, n: usize) -> Mail {
        for _ in 0..100 {
            let matching: Vec<Mail> = self
                .all()
                .into_iter()
                .filter(|m| m.to == to && m.subject.contains(subject))
                .collect();
            if matching.len() >= n {
                self.settled(to).await;
                return matching[n - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail #{n} to {to} about {subject:?}; got {:?}", self.all());
    }

    pub fn count_to(&self, to: &str) -> usize {
        self.all().iter().filter(|m| m.to == to).count()
    }
}

impl Mail {
    /// The first link in the message.
    pub fn link(&self) -> String {
        let start = self.text.find("http").expect("a link in the mail");
        self.text[start..].split_whitespace().next().expect("link").to_string()
    }
}

async fn session(socket: tokio::net::TcpStream, received: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut to = String::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") || command.starts_with("HELO") {
            write.write_all(b"250 sink\r\n").await?;
        } else if command.starts_with("RCPT TO:") {
            to = line.trim_end()[8..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string();
            write.write_all(b"250 OK\r\n").await?;
        } else if command == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l));
            }
            if let Ok(mut all) = received.lock() {
                all.push(parse(&to, &data));
            }
            write.write_all(b"250 queued\r\n").await?;
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}

/// Just enough MIME: the Subject header and the decoded text/plain part.
fn parse(to: &str, raw: &str) -> Mail {
    let subject = raw
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .trim()
        .to_string();
    let mut text = String::new();
    for part in raw.split("\r\n--") {
        let Some((headers, body)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let headers_lower = headers.to_ascii_lowercase();
        if !headers_lower.contains("content-type: text/plain") {
            continue;
        }
        let body = body.split("\r\n--").next().unwrap_or(body);
        text = if headers_lower.contains("content-transfer-encoding: base64") {
            let joined: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .unwrap_or_default(),
            )
            .unwrap_or_default()
        } else if headers_lower.contains("quoted-printable") {
            decode_qp(body)
        } else {
            body.to_string()
        };
    }
    Mail {
        to: to.to_string(),
        subject,
        text,
    }
}

fn decode_qp(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}
