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
    pub ms: Timings,
    pub total_ms: f64,
}

impl RequestLog {
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
