//! Exact repeats answered in front of the Wasm (the JS entry module, `src/entry.js`).
//!
//! A memory-tier hit's answer is a function of the request alone: the same method, URL, the
//! headers the gateway reads and the same body get the same status, headers and bytes, except for
//! the per-request values (`x-request-id`, `server-timing`). Entering the Wasm for such a repeat
//! costs about twice what answering a fixed image costs (BENCHMARKS.md, "What was tried"), so the
//! entry remembers those answers and replays them. It only ever replays what the Wasm marked here
//! as replayable, with the note it needs to behave as the Wasm would: the rate limiter's key (a
//! replay is still counted) and the log line to write (with fresh per-request values).

use serde::Serialize;

use crate::headers::push_percent_encoded;
use crate::observe::RequestLog;
use crate::request_head::{Method, RequestHead};

/// The internal response header that carries a [`ReplayNote`] to the entry module, which removes
/// it before the answer goes out.
pub const REPLAY_HEADER: &str = "x-gateway-replay";

/// The share of `MEMORY_CACHE_BYTES` the entry's replay cache may hold: the memory tier gets the
/// rest, so the two together stay within the one figure the memory budget already leaves out
/// (`budget::default_budget`).
#[must_use]
pub fn split_memory_cache(memory_cache_bytes: usize) -> MemoryCacheSplit {
    let replay = memory_cache_bytes / 4;
    MemoryCacheSplit {
        tier: memory_cache_bytes - replay,
        replay,
    }
}

/// `MEMORY_CACHE_BYTES` shared between the memory tier (Rust) and the replay cache (the entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryCacheSplit {
    pub tier: usize,
    pub replay: usize,
}

/// Whether the answer to `head` may be replayed for an identical request: a `200` served from the
/// memory tier (so the same request finds the same entry again) to a `GET` or `POST` that asked
/// for nothing conditional and allowed the cache to be read and written. `HEAD` and conditional
/// requests always go to the Wasm, so they answer exactly as they always did.
#[must_use]
pub fn replayable(head: &RequestHead, status: u16, memory_hit: bool) -> bool {
    let caching = head.caching();
    memory_hit
        && status == 200
        && matches!(head.method, Method::Get | Method::Post)
        && head.if_none_match.is_none()
        && caching.read
        && caching.store
}

/// What the entry needs to replay an answer as the Wasm gives it.
#[derive(Debug, Serialize)]
pub struct ReplayNote<'a> {
    /// The rate limiter's key for this caller (`token:<id>` or `ip:<address>`).
    pub rate_key: &'a str,
    /// The replay cache's byte cap ([`split_memory_cache`]).
    pub cache_bytes: usize,
    /// The log line as written for this answer, with an empty `request_id`; the entry writes
    /// its own request's id, `ms` and `total_ms` into it.
    pub log: &'a RequestLog,
}

impl ReplayNote<'_> {
    /// The note as a header value: its JSON, with every byte outside printable ASCII and `%`
    /// percent-encoded (a prompt logged as text may hold any character; the entry reads it back
    /// with `decodeURIComponent`).
    #[must_use]
    pub fn header_value(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut out = String::with_capacity(json.len());
        push_percent_encoded(&mut out, &json, |byte| (0x20..0x7f).contains(&byte));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::Timings;

    #[test]
    fn the_split_adds_up() {
        let split = split_memory_cache(16 * 1024 * 1024);
        assert_eq!(split.replay, 4 * 1024 * 1024);
        assert_eq!(split.tier + split.replay, 16 * 1024 * 1024);
        assert_eq!(
            split_memory_cache(0),
            MemoryCacheSplit { tier: 0, replay: 0 }
        );
        assert_eq!(
            split_memory_cache(3),
            MemoryCacheSplit { tier: 3, replay: 0 }
        );
    }

    #[test]
    fn only_plain_memory_hits_are_replayable() {
        let post = RequestHead::new("POST", "https://h.example/");
        assert!(replayable(&post, 200, true));
        assert!(replayable(
            &RequestHead::new("GET", "https://h.example/?prompt=a"),
            200,
            true
        ));
        assert!(!replayable(&post, 200, false), "a miss or another tier");
        assert!(!replayable(&post, 304, true));
        assert!(!replayable(
            &RequestHead::new("HEAD", "https://h.example/"),
            200,
            true
        ));
        let mut conditional = RequestHead::new("POST", "https://h.example/");
        conditional.if_none_match = Some("\"abc\"".into());
        assert!(!replayable(&conditional, 200, true));
        for (name, value) in [("cache-control", "no-cache"), ("cache-control", "no-store")] {
            let mut head = RequestHead::new("POST", "https://h.example/");
            assert_eq!(name, "cache-control");
            head.cache_control = Some(value.into());
            assert!(!replayable(&head, 200, true), "{value}");
        }
        let mut pragma = RequestHead::new("POST", "https://h.example/");
        pragma.pragma = Some("no-cache".into());
        assert!(!replayable(&pragma, 200, true));
    }

    /// The line the entry's replay test (`tests/js/entry.test.mjs`) must reproduce from this
    /// note: both sides are checked against `tests/fixtures/replay-log.json`.
    fn fixture_log() -> RequestLog {
        let mut log = RequestLog {
            request_id: "r-1".into(),
            method: "POST".into(),
            path: "/ai/run/@cf/bytedance/stable-diffusion-xl-lightning".into(),
            status: 200,
            model: Some("@cf/bytedance/stable-diffusion-xl-lightning"),
            key: Some("abc123".into()),
            cache: Some("HIT"),
            seed: Some(42),
            upstream_attempts: 0,
            ms: Timings {
                validate: 0.0,
                cache: 1.0,
                ai: 0.0,
            },
            total_ms: 3.0,
            ..RequestLog::default()
        };
        log.set_prompt("un café % 100", true);
        log
    }

    #[test]
    fn the_note_is_ascii_and_matches_the_fixture() {
        let log = fixture_log();
        let mut sent = log.clone();
        sent.request_id.clear();
        let note = ReplayNote {
            rate_key: "ip:203.0.113.9",
            cache_bytes: 4096,
            log: &sent,
        };
        let value = note.header_value();
        assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)), "{value}");
        assert!(value.contains("caf%C3%A9 %25 100"), "{value}");
        let fixture = include_str!("../../tests/fixtures/replay-log.json");
        let fixture: serde_json::Value = serde_json::from_str(fixture).unwrap();
        assert_eq!(fixture["note"].as_str().unwrap(), value);
        // The line Rust writes for the same request, which the entry's replay must match.
        assert_eq!(fixture["rust_line"].as_str().unwrap(), log.to_json());
    }
}
