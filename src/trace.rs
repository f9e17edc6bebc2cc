//! Per-request observability: the request id, phase timings and the one JSON log line.
//!
//! Timings use `Date.now()`, which in Workers advances only across I/O (a Spectre mitigation), so
//! pure CPU phases can read as 0 ms; the I/O-bound phases (cache, ai) are what it shows well.

use sdxl_core::observe::RequestLog;
use sdxl_core::request_head::RequestHead;
use worker::console_log;

pub struct Trace {
    pub log: RequestLog,
    /// The rate limiter's key, for a generation that passed it (what a replay counts against).
    pub rate_key: Option<String>,
    /// Who asked for a generation (`token:<id>` or `ip:<address>`), once authorized: whose
    /// budget a run is charged to (`crate::quota`).
    pub caller: Option<String>,
    /// The caller's budget was charged for this request's runs beforehand (an OpenAI request's
    /// `n` images, reserved together): a run here is counted, not charged again.
    pub prepaid: bool,
    /// Answered from the memory tier (`sdxl_core::replay::replayable` takes it).
    pub memory_hit: bool,
    started: f64,
}

pub fn now() -> f64 {
    js_sys::Date::now()
}

/// Unix milliseconds, whole.
pub fn now_ms() -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = now() as u64;
    ms
}

impl Trace {
    /// Starts the record of the request `head`. Its id is Cloudflare's `cf-ray` when present
    /// (so it matches the platform's own logs), otherwise a fresh random one.
    pub fn start(head: &RequestHead, ray: Option<String>) -> Trace {
        let request_id = ray
            .filter(|ray| !ray.is_empty() && ray.len() <= 64 && ray.is_ascii())
            .unwrap_or_else(random_id);
        Trace {
            log: RequestLog {
                request_id,
                method: head.method.as_str().to_owned(),
                path: head.path.clone(),
                ..RequestLog::default()
            },
            rate_key: None,
            caller: None,
            prepaid: false,
            memory_hit: false,
            started: now(),
        }
    }

    pub fn id(&self) -> &str {
        &self.log.request_id
    }

    /// Writes the log line for a response with `status`.
    pub fn finish(&mut self, status: u16) {
        self.log.status = status;
        self.log.total_ms = now() - self.started;
        console_log!("{}", self.log.to_json());
    }
}

/// 32 hex digits. Request ids need to be unique, not secret, so `Math.random` is enough.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let part = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        chunk.copy_from_slice(&part.to_be_bytes());
    }
    sdxl_core::cache_key::hex(&bytes)
}
