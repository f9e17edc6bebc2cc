//! The queue message of one image of a job: `{job, variant, key, input}`. A message is at most
//! 128 KB, so an image's request body travels inline only when small; larger bodies (img2img
//! inputs) go to R2 first, under their content hash, and the message carries the R2 key.

use serde::{Deserialize, Serialize};

/// Largest request body carried inside a message (the rest of the message is a few hundred
/// bytes; Queues refuse messages over 128 KB).
pub const INLINE_MAX_BYTES: usize = 96 * 1024;

/// Where an image's request body is. Externally tagged (serde's default): an internally tagged
/// enum buffers its input in serde's `Content`, which weighs in the Worker's bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputRef {
    /// The JSON body itself.
    Inline { body: String },
    /// An R2 object (`IMAGES` bucket) holding the JSON body.
    Stored { r2_key: String },
}

/// One image to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    /// The job's id (its Durable Object's hex id).
    pub job: String,
    /// Which image of the job (`0..n`).
    pub variant: usize,
    /// The image's cache key.
    pub key: String,
    pub input: InputRef,
}

/// Whether a body of `len` bytes must go to R2 before it is queued.
#[must_use]
pub fn must_store(len: usize) -> bool {
    len > INLINE_MAX_BYTES
}

/// The R2 key of a request body by its SHA-256 (hex): equal bodies share one object.
#[must_use]
pub fn stored_input_key(sha256_hex: &str) -> String {
    format!("job-inputs/{sha256_hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_travel_inline_and_large_ones_by_reference() {
        assert!(!must_store(10));
        assert!(!must_store(INLINE_MAX_BYTES));
        assert!(must_store(INLINE_MAX_BYTES + 1));
        assert_eq!(stored_input_key("ab12"), "job-inputs/ab12");
    }

    #[test]
    fn a_message_round_trips_and_stays_under_the_queue_limit() {
        let m = JobMessage {
            job: "f".repeat(64),
            variant: 3,
            key: "k".repeat(64),
            input: InputRef::Inline {
                body: "x".repeat(INLINE_MAX_BYTES),
            },
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.len() < 128 * 1024, "{}", text.len());
        assert_eq!(serde_json::from_str::<JobMessage>(&text).unwrap(), m);
        let stored = serde_json::to_value(InputRef::Stored {
            r2_key: "job-inputs/1".into(),
        })
        .unwrap();
        assert_eq!(stored["stored"]["r2_key"], "job-inputs/1");
    }
}
