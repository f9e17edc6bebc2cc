//! What the gateway records of each request: the `Server-Timing` phases and one structured log
//! line. Prompts are logged as a hash unless the operator opts in, since they can be personal.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cache_key::hex;

/// Milliseconds spent in each phase of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    pub validate: f64,
    pub cache: f64,
    pub ai: f64,
}

impl Timings {
    /// `validate;dur=0.4, cache;dur=1.2, ai;dur=812.0`
    #[must_use]
    pub fn server_timing(&self) -> String {
        format!(
            "validate;dur={:.1}, cache;dur={:.1}, ai;dur={:.1}",
            self.validate, self.cache, self.ai
        )
    }
}

/// One JSON log line per request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestLog {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `HIT`, `MISS`, `BYPASS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_sha256: Option<String>,
    /// Only when the operator sets `LOG_PROMPTS = "true"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    /// Model runs made for this request, retries included.
    pub upstream_attempts: u32,
    /// Who asked, as a digest (`token:<id>`, or `ip:` and 16 hex digits of the address's
    /// SHA-256): never a token or an address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// What this request's runs cost, charged to the caller's budget (nano-USD; `crate::cost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charged_nano_usd: Option<u64>,
    pub ms: Timings,
    pub total_ms: f64,
}

/// How logs and analytics name a caller (`token:<id>` or `ip:<address>`): a token's id is a
/// digest already; an address becomes 16 hex digits of its SHA-256, so no address is recorded.
#[must_use]
pub fn caller_digest(caller: &str) -> String {
    match caller.strip_prefix("ip:") {
        Some(address) => format!("ip:{}", &hex(&Sha256::digest(address.as_bytes()))[..16]),
        None => caller.to_owned(),
    }
}

/// One Workers Analytics Engine datapoint: what the log line says, in the dataset's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    /// `index1`: the caller's digest (sampling keeps each caller's requests together).
    pub index: String,
    /// `blob1..6`: door, model, status, cache, caller, path.
    pub blobs: Vec<String>,
    /// `double1..4`: total ms, charged nano-USD, model runs, ai ms.
    pub doubles: Vec<f64>,
}

impl RequestLog {
    /// The datapoint of this request, from the surface (`door`) it came through. The SQL of
    /// docs/operating.md#usage-analytics reads these columns.
    #[must_use]
    pub fn datapoint(&self, door: &str) -> DataPoint {
        let caller = self.caller.clone().unwrap_or_default();
        #[allow(clippy::cast_precision_loss)]
        let charged = self.charged_nano_usd.unwrap_or(0) as f64;
        DataPoint {
            index: caller.clone(),
            blobs: vec![
                door.to_owned(),
                self.model.unwrap_or("").to_owned(),
                self.status.to_string(),
                self.cache.unwrap_or("").to_owned(),
                caller,
                self.path.chars().take(256).collect(),
            ],
            doubles: vec![
                self.total_ms,
                charged,
                f64::from(self.upstream_attempts),
                self.ms.ai,
            ],
        }
    }

    /// Records the prompt as its SHA-256, and as text only when `log_text`.
    pub fn set_prompt(&mut self, prompt: &str, log_text: bool) {
        self.prompt_sha256 = Some(hex(&Sha256::digest(prompt.as_bytes())));
        self.prompt = log_text.then(|| prompt.to_owned());
    }

    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datapoint_carries_the_log_lines_values_in_their_columns() {
        let log = RequestLog {
            path: "/ai/run/@cf/x".into(),
            status: 429,
            model: Some("@cf/x"),
            cache: Some("MISS"),
            caller: Some("token:0123456789abcdef".into()),
            charged_nano_usd: Some(633_600),
            upstream_attempts: 1,
            total_ms: 12.5,
            ..RequestLog::default()
        };
        let point = log.datapoint("native");
        assert_eq!(point.index, "token:0123456789abcdef");
        assert_eq!(
            point.blobs,
            [
                "native",
                "@cf/x",
                "429",
                "MISS",
                "token:0123456789abcdef",
                "/ai/run/@cf/x"
            ]
        );
        assert_eq!(point.doubles, [12.5, 633_600.0, 1.0, 0.0]);
        let json = log.to_json();
        assert!(json.contains(r#""caller":"token:0123456789abcdef","charged_nano_usd":633600"#));
        assert!(point.index.len() <= 96, "Analytics Engine's index limit");
        assert_eq!(
            caller_digest("token:0123456789abcdef"),
            "token:0123456789abcdef"
        );
        let ip = caller_digest("ip:203.0.113.5");
        assert!(
            ip.starts_with("ip:") && ip.len() == 19 && !ip.contains("203"),
            "{ip}"
        );
    }

    #[test]
    fn server_timing_header() {
        let t = Timings {
            validate: 0.44,
            cache: 1.25,
            ai: 812.0,
        };
        assert_eq!(
            t.server_timing(),
            "validate;dur=0.4, cache;dur=1.2, ai;dur=812.0"
        );
    }

    #[test]
    fn prompts_are_hashed_unless_asked() {
        let mut log = RequestLog::default();
        log.set_prompt("a secret portrait", false);
        let line = log.to_json();
        assert!(!line.contains("secret"), "{line}");
        // sha256("a secret portrait"), computed with Python's hashlib.
        assert!(line.contains(
            "\"prompt_sha256\":\"5bd94dd96b8bcb09be5eb5828ba648bc3346a848a6779a5c4fa7553d027b79c8\""
        ));
        log.set_prompt("a secret portrait", true);
        assert!(log.to_json().contains("\"prompt\":\"a secret portrait\""));
    }
}
