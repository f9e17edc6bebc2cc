//! Webhooks by the Standard Webhooks scheme: the headers `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret, so a
//! receiver keeps verifying while secrets rotate), `whsec_` secrets, and the retry schedule.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
#[cfg(test)]
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// Replicate's webhook events, as a job's `webhook_events_filter` names them: `start`,
/// `output` and `completed` are sent (`Job::apply` says when); `logs` never is, a job having
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize), serde(rename_all = "snake_case"))]
pub enum WebhookEvent {
    Start,
    Output,
    Logs,
    Completed,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 4] = [
        WebhookEvent::Start,
        WebhookEvent::Output,
        WebhookEvent::Logs,
        WebhookEvent::Completed,
    ];

    /// Its name in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            WebhookEvent::Start => "start",
            WebhookEvent::Output => "output",
            WebhookEvent::Logs => "logs",
            WebhookEvent::Completed => "completed",
        }
    }

    /// The event named `name`.
    #[must_use]
    pub fn named(name: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Attempt {
    pub at_ms: u64,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Why no status came back (a network error, a timeout).
    pub error: Option<String>,
}

/// Where a job's webhook goes and how its messages went. One message is due at a time, the
/// prediction as it is when sent: a newer event replaces one not yet delivered (as Replicate
/// throttles `output` messages), except that nothing replaces `completed`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Webhook {
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// Every attempt, in order.
    pub deliveries: Vec<Attempt>,
    /// The message to send, if one is due.
    #[cfg_attr(test, serde(default))]
    pub due: Option<WebhookEvent>,
    /// Messages made due so far: numbers each one's `webhook-id`.
    #[cfg_attr(test, serde(default))]
    pub messages: u32,
    /// Attempts at the message due.
    #[cfg_attr(test, serde(default))]
    pub attempts: u32,
}

impl Webhook {
    /// A webhook to `url` for `events`, nothing sent yet.
    #[must_use]
    pub fn new(url: String, events: Vec<WebhookEvent>) -> Webhook {
        Webhook {
            url,
            events,
            deliveries: Vec::new(),
            due: None,
            messages: 0,
            attempts: 0,
        }
    }

    /// Makes a message of `event` due, if the filter asks for it and no `completed` is due.
    /// Answers whether it did.
    pub fn raise(&mut self, event: WebhookEvent) -> bool {
        if !self.events.contains(&event) || self.due == Some(WebhookEvent::Completed) {
            return false;
        }
        self.due = Some(event);
        self.messages += 1;
        self.attempts = 0;
        true
    }

    /// The `webhook-id` of the message due: the same for every attempt at it, so a receiver
    /// can drop repeats, and another for each message.
    #[must_use]
    pub fn message_id(&self, job_id: &str) -> String {
        let event = self.due.map_or("none", WebhookEvent::name);
        format!("msg_{job_id}_{}_{event}", self.messages)
    }

    /// Records an attempt at the message due; the message is settled by a 2xx, a 410 or the
    /// last attempt of the schedule.
    pub fn record(&mut self, attempt: Attempt) -> Next {
        let status = attempt.status;
        self.deliveries.push(attempt);
        self.attempts += 1;
        let next = next_after(self.attempts as usize, status);
        if next == Next::Settled {
            self.due = None;
            self.attempts = 0;
        }
        next
    }
}

/// Delays between attempts, after the first (immediate) one: the schedule Standard Webhooks
/// suggests, about 27 hours in all.
pub const RETRY_DELAYS_S: [u32; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered (2xx), refused for good (410), or out of attempts.
    Settled,
    /// Try again after this many milliseconds.
    RetryAfterMs(u64),
}

/// After `attempts` attempts, the last answered with `status` (`None`: no answer).
#[must_use]
pub fn next_after(attempts: usize, status: Option<u16>) -> Next {
    match status {
        Some(200..=299 | 410) => Next::Settled,
        _ => match attempts.checked_sub(1).and_then(|i| RETRY_DELAYS_S.get(i)) {
            Some(&s) => Next::RetryAfterMs(u64::from(s) * 1000),
            None => Next::Settled,
        },
    }
}

/// A secret that cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("WEBHOOK_SECRETS entry {position} does not start with whsec_")]
    Prefix { position: usize },
    #[error("WEBHOOK_SECRETS entry {position} is not base64 after whsec_")]
    Base64 { position: usize },
    #[error("WEBHOOK_SECRETS entry {position} is shorter than 24 bytes")]
    Short { position: usize },
}

/// The signing keys of `WEBHOOK_SECRETS`: `whsec_<base64>` entries separated by commas or
/// spaces, the current one first.
///
/// # Errors
/// The first entry that is no usable secret.
pub fn parse_secrets(text: &str) -> Result<Vec<Vec<u8>>, SecretError> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, entry)| {
            let position = i + 1;
            let b64 = entry
                .strip_prefix("whsec_")
                .ok_or(SecretError::Prefix { position })?;
            let key = STANDARD
                .decode(b64)
                .map_err(|_| SecretError::Base64 { position })?;
            if key.len() < 24 {
                return Err(SecretError::Short { position });
            }
            Ok(key)
        })
        .collect()
}

/// The keys that sign `owner`'s webhooks, one per master key of `WEBHOOK_SECRETS` (so rotation
/// works as before): HMAC-SHA256 of the owner under the master key. A receiver is given only its
/// owner's key (`GET /v1/webhooks/default/secret`), so it can verify, and could forge, only its
/// own owner's webhooks, never another customer's.
#[must_use]
pub fn owner_keys(masters: &[Vec<u8>], owner: &str) -> Vec<Vec<u8>> {
    masters
        .iter()
        .map(|master| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
            mac.update(b"sdxl-gateway webhook key\n");
            mac.update(owner.as_bytes());
            mac.finalize().into_bytes().to_vec()
        })
        .collect()
}

/// A key as Standard Webhooks write secrets: `whsec_<base64>`.
#[must_use]
pub fn secret_text(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

/// The `webhook-signature` value: `v1,<sig>` per key, space-separated.
#[must_use]
pub fn signature(keys: &[Vec<u8>], id: &str, timestamp_s: u64, body: &str) -> String {
    keys.iter()
        .map(|key| {
            // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp_s.to_string().as_bytes());
            mac.update(b".");
            mac.update(body.as_bytes());
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference example (its libraries' tests): this secret, id,
    /// timestamp and payload sign to this signature.
    #[test]
    fn signs_as_the_reference_example() {
        let keys = parse_secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&keys, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn one_signature_per_secret_for_rotation() {
        let keys = parse_secrets(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
        )
        .unwrap();
        let sig = signature(&keys, "id", 1, "{}");
        let parts: Vec<_> = sig.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
        // The body is signed: another body, another signature.
        assert_ne!(signature(&keys, "id", 1, "{ }"), sig);
    }

    #[test]
    fn bad_secrets_are_named() {
        assert_eq!(
            parse_secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,abc"),
            Err(SecretError::Prefix { position: 2 })
        );
        assert_eq!(
            parse_secrets("whsec_%%%"),
            Err(SecretError::Base64 { position: 1 })
        );
        assert_eq!(
            parse_secrets("whsec_QUJD"),
            Err(SecretError::Short { position: 1 })
        );
        assert_eq!(parse_secrets(""), Ok(vec![]));
    }

    #[test]
    fn retried_on_schedule_until_2xx_or_410() {
        assert_eq!(next_after(1, Some(200)), Next::Settled);
        assert_eq!(next_after(1, Some(204)), Next::Settled);
        assert_eq!(next_after(1, Some(410)), Next::Settled);
        assert_eq!(next_after(1, Some(500)), Next::RetryAfterMs(5_000));
        assert_eq!(next_after(2, None), Next::RetryAfterMs(300_000));
        assert_eq!(next_after(7, Some(404)), Next::RetryAfterMs(36_000_000));
        assert_eq!(next_after(8, Some(500)), Next::Settled);
    }

    #[test]
    fn events_by_name() {
        assert_eq!(
            WebhookEvent::named("completed"),
            Some(WebhookEvent::Completed)
        );
        assert_eq!(WebhookEvent::named("start"), Some(WebhookEvent::Start));
        assert_eq!(WebhookEvent::named("done"), None);
        for e in WebhookEvent::ALL {
            assert_eq!(serde_json::to_value(e).unwrap(), e.name());
        }
    }
}

/// Why a webhook URL is refused at create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("must be an https:// URL of at most 2048 characters")]
    NotHttps,
    #[error("must not carry a user name or password (they would travel in every delivery)")]
    UserInfo,
    #[error("must name a host by its DNS name, not an IP address or localhost")]
    NotAName,
    #[error("must use the default port (443)")]
    Port,
}

/// Checks a webhook URL: `https` to a DNS name on the default port, with no user info. With
/// `allow_insecure` (local runs only, `ALLOW_INSECURE_WEBHOOKS`), `http`, IP literals, localhost
/// and any port are accepted too, so a test's receiver on `http://127.0.0.1:<port>` works.
///
/// # Errors
/// The first rule the URL breaks.
pub fn check_url(url: &str, allow_insecure: bool) -> Result<(), WebhookUrlError> {
    if url.len() > 2048 {
        return Err(WebhookUrlError::NotHttps);
    }
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if allow_insecure => rest,
        _ => return Err(WebhookUrlError::NotHttps),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(WebhookUrlError::UserInfo);
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            if host.contains(':') && !host.starts_with('[') {
                (authority, None) // an unbracketed IPv6 literal: refused as no name below
            } else {
                (host, Some(port))
            }
        }
        _ => (authority, None),
    };
    if host.is_empty() {
        return Err(WebhookUrlError::NotHttps);
    }
    if allow_insecure {
        return Ok(());
    }
    if !is_dns_name(host) {
        return Err(WebhookUrlError::NotAName);
    }
    match port {
        None | Some("443") => Ok(()),
        Some(_) => Err(WebhookUrlError::Port),
    }
}

/// Whether `host` is a public DNS name as URL parsers read it: ASCII (an IDN in its `xn--`
/// form), two labels or more of letters, digits and inner hyphens, the last one starting with a
/// letter, and not `localhost`. Every other spelling some parser reads as an address is refused:
/// dotted or bare decimal, hex and octal forms (`0x7f.1`, `2130706433`), full-width digits, a
/// trailing dot after `localhost`.
fn is_dns_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if !host.is_ascii() || host.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let last = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && last.starts_with(|c: char| c.is_ascii_alphabetic())
        && last != "localhost"
}

#[cfg(test)]
mod owner_key_tests {
    use super::{owner_keys, parse_secrets, secret_text, signature};

    #[test]
    fn each_owner_has_its_own_keys_one_per_master() {
        let masters = vec![vec![7u8; 32], vec![9u8; 32]];
        let alpha = owner_keys(&masters, "token:alpha");
        let beta = owner_keys(&masters, "token:beta");
        assert_eq!(alpha.len(), 2, "one per master key: rotation still works");
        assert_eq!(alpha, owner_keys(&masters, "token:alpha"), "deterministic");
        assert_ne!(alpha[0], beta[0]);
        assert_ne!(alpha[0], alpha[1]);
        assert_ne!(alpha[0], masters[0]);
        // A receiver's secret parses back to its key, and signs what the gateway signs.
        let text = secret_text(&alpha[0]);
        assert_eq!(parse_secrets(&text).unwrap(), vec![alpha[0].clone()]);
        let signed = signature(&alpha, "msg_1", 10, "{}");
        assert!(signed.starts_with(&signature(&alpha[..1], "msg_1", 10, "{}")));
        assert!(!signed.contains(&signature(&beta[..1], "msg_1", 10, "{}")));
    }
}

#[cfg(test)]
mod url_tests {
    use super::{check_url, WebhookUrlError};

    #[test]
    fn production_takes_https_to_a_name_on_the_default_port() {
        assert_eq!(check_url("https://hooks.example.com/h?x=1", false), Ok(()));
        assert_eq!(check_url("https://hooks.example.com:443/h", false), Ok(()));
        assert_eq!(check_url("https://xn--bcher-kva.example/h", false), Ok(()));
        assert_eq!(check_url("https://hooks.example.com./h", false), Ok(()));
        for (url, why) in [
            ("http://hooks.example.com/h", WebhookUrlError::NotHttps),
            ("ftp://hooks.example.com/h", WebhookUrlError::NotHttps),
            ("https:///h", WebhookUrlError::NotHttps),
            ("https://93.184.216.34/h", WebhookUrlError::NotAName),
            ("https://[::1]/h", WebhookUrlError::NotAName),
            ("https://[2001:db8::1]:443/h", WebhookUrlError::NotAName),
            ("https://2130706433/h", WebhookUrlError::NotAName),
            ("https://localhost/h", WebhookUrlError::NotAName),
            ("https://api.localhost/h", WebhookUrlError::NotAName),
            (
                "https://user:pass@hooks.example.com/h",
                WebhookUrlError::UserInfo,
            ),
            ("https://hooks.example.com:8443/h", WebhookUrlError::Port),
            // Spellings URL parsers read as 127.0.0.1 or localhost (found by fuzzing).
            ("https://0x7f000001/hook", WebhookUrlError::NotAName),
            ("https://0x7f.1/hook", WebhookUrlError::NotAName),
            ("https://0177.0.0.1/hook", WebhookUrlError::NotAName),
            (
                "https://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/hook",
                WebhookUrlError::NotAName,
            ),
            ("https://localhost./hook", WebhookUrlError::NotAName),
            ("https://hooks/hook", WebhookUrlError::NotAName),
            ("https://-bad.example.com/h", WebhookUrlError::NotAName),
        ] {
            assert_eq!(check_url(url, false), Err(why), "{url}");
        }
        assert_eq!(
            check_url(&format!("https://h.example/{}", "a".repeat(2048)), false),
            Err(WebhookUrlError::NotHttps)
        );
    }

    #[test]
    fn local_runs_may_allow_http_addresses_and_ports() {
        assert_eq!(check_url("http://127.0.0.1:9/h", true), Ok(()));
        assert_eq!(check_url("https://localhost:8443/h", true), Ok(()));
        assert_eq!(
            check_url("http://u:p@127.0.0.1:9/h", true),
            Err(WebhookUrlError::UserInfo),
            "never user info"
        );
        assert_eq!(
            check_url("ftp://127.0.0.1/h", true),
            Err(WebhookUrlError::NotHttps)
        );
    }
}
