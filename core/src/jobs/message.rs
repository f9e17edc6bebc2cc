//! The queue message of one image of a job: `{job, variant, key, seed, input}`. Every image of a
//! job shares one input (the prediction's `input` as sent) and has its own seed. A message is at
//! most 128 KB and a batch 256 KB, so the input travels inline only when all of the job's
//! messages fit; otherwise it goes to R2 once, under its content hash, and each message carries
//! the R2 key.

use std::fmt::Write as _;

#[cfg(test)]
use serde::{Deserialize, Serialize};

use super::json::{
    object, parse_object, push_str, push_u64, string, variant, whole, JsonError, ObjectWriter, Read,
};

/// Largest message that carries its input inline (Queues refuse messages over 128 KB).
pub const INLINE_MAX_BYTES: usize = 96 * 1024;
/// Most bytes of one job's messages sent inline together (Queues refuse a `sendBatch` over
/// 256 KB), less room for the batch's framing.
pub const BATCH_MAX_BYTES: usize = 224 * 1024;

/// Where an image's request body is. In JSON externally tagged (serde's default for enums):
/// `{"inline":{"body":"..."}}`, `{"stored":{"r2_key":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize), serde(rename_all = "snake_case"))]
pub enum InputRef {
    /// The JSON body itself.
    Inline { body: String },
    /// An R2 object (`IMAGES` bucket) holding the JSON body.
    Stored { r2_key: String },
}

/// One image to make. Its JSON is written and read by hand (`super::json` says why).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct JobMessage {
    /// The job's id (its Durable Object's hex id).
    pub job: String,
    /// Which image of the job (`0..n`).
    pub variant: usize,
    /// The image's cache key.
    pub key: String,
    /// The image's seed, set in place of the input's (`None`: the model takes none, or a message
    /// queued before seeds travelled apart, whose input has its seed already).
    #[cfg_attr(test, serde(default, skip_serializing_if = "Option::is_none"))]
    pub seed: Option<i64>,
    pub input: InputRef,
}

impl JobMessage {
    /// The message as it is queued.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        let mut o = ObjectWriter::new(&mut out);
        push_str(o.field("job"), &self.job);
        push_u64(o.field("variant"), self.variant as u64);
        push_str(o.field("key"), &self.key);
        if let Some(seed) = self.seed {
            let _ = write!(o.field("seed"), "{seed}");
        }
        let mut input = ObjectWriter::new(o.field("input"));
        let (name, field, value) = match &self.input {
            InputRef::Inline { body } => ("inline", "body", body),
            InputRef::Stored { r2_key } => ("stored", "r2_key", r2_key),
        };
        let mut inner = ObjectWriter::new(input.field(name));
        push_str(inner.field(field), value);
        inner.end();
        input.end();
        o.end();
        out
    }

    /// The length of [`JobMessage::to_json`] for this message with `input` inline in place of
    /// its own input, without writing it (the input can be megabytes).
    #[must_use]
    pub fn len_with_inline(&self, input: &str) -> usize {
        let empty = JobMessage {
            input: InputRef::Inline {
                body: String::new(),
            },
            ..self.clone()
        };
        empty.to_json().len() - 2 + crate::json_text::escaped_len(input)
    }

    /// Reads a message as [`JobMessage::to_json`] writes it.
    ///
    /// # Errors
    /// Not JSON, or a field missing or of the wrong type.
    pub fn from_json(bytes: &[u8]) -> Read<JobMessage> {
        let map = parse_object(bytes, "message")?;
        let input = map.get("input").ok_or(JsonError::Field("input"))?;
        let input = match variant(input, "input")? {
            ("inline", Some(content)) => InputRef::Inline {
                body: string(object(content, "input")?, "body")?,
            },
            ("stored", Some(content)) => InputRef::Stored {
                r2_key: string(object(content, "input")?, "r2_key")?,
            },
            _ => return Err(JsonError::Field("input")),
        };
        Ok(JobMessage {
            job: string(&map, "job")?,
            variant: whole(&map, "variant")?,
            key: string(&map, "key")?,
            seed: match map.get("seed") {
                None => None,
                Some(seed) => Some(seed.as_i64().ok_or(JsonError::Field("seed"))?),
            },
            input,
        })
    }
}

/// Whether a job's `count` messages, each `message_len` bytes with its input inline (as
/// [`JobMessage::to_json`] writes it: escaped), must carry the input by reference instead.
#[must_use]
pub fn must_store(message_len: usize, count: usize) -> bool {
    message_len > INLINE_MAX_BYTES || message_len.saturating_mul(count) > BATCH_MAX_BYTES
}

/// The R2 key of a job's input: one object per job, deleted when the job ends (equal inputs of
/// two jobs are two objects, so that neither's end deletes the other's).
#[must_use]
pub fn stored_input_key(job_id: &str) -> String {
    format!("job-inputs/{job_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_travel_inline_and_large_ones_by_reference() {
        assert!(!must_store(10, 8));
        assert!(!must_store(INLINE_MAX_BYTES, 1));
        assert!(must_store(INLINE_MAX_BYTES + 1, 1));
        // Four messages of 85 KB fit one each, not a batch together.
        assert!(!must_store(85 * 1024, 2));
        assert!(must_store(85 * 1024, 4));
        assert_eq!(stored_input_key("ab12"), "job-inputs/ab12");
    }

    #[test]
    fn a_message_round_trips_and_stays_under_the_queue_limit() {
        let m = JobMessage {
            job: "f".repeat(64),
            variant: 3,
            key: "k".repeat(64),
            seed: Some(9_007_199_254_740_991),
            input: InputRef::Inline {
                body: "x".repeat(INLINE_MAX_BYTES),
            },
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.len() < 128 * 1024, "{}", text.len());
        let InputRef::Inline { body } = &m.input else {
            unreachable!()
        };
        assert_eq!(m.len_with_inline(body), text.len());
        let escaped = "\"\n\u{1}".repeat(10);
        let with = JobMessage {
            input: InputRef::Inline {
                body: escaped.clone(),
            },
            ..m.clone()
        };
        assert_eq!(m.len_with_inline(&escaped), with.to_json().len());
        assert_eq!(serde_json::from_str::<JobMessage>(&text).unwrap(), m);
        let stored = serde_json::to_value(InputRef::Stored {
            r2_key: "job-inputs/1".into(),
        })
        .unwrap();
        assert_eq!(stored["stored"]["r2_key"], "job-inputs/1");
    }

    #[test]
    fn a_message_is_written_as_serde_wrote_it_and_read_back() {
        for input in [
            InputRef::Inline {
                body: r#"{"prompt":"a \"cat\"\n","image":[1,2]}"#.into(),
            },
            InputRef::Inline {
                body: "\u{0}\u{1f}\u{7f}\\ é 🐈".into(),
            },
            InputRef::Stored {
                r2_key: "job-inputs/ab12".into(),
            },
        ] {
            for seed in [None, Some(0), Some(-3), Some(4_294_967_295)] {
                let m = JobMessage {
                    job: "f".repeat(64),
                    variant: 7,
                    key: "k".repeat(64),
                    seed,
                    input: input.clone(),
                };
                let text = m.to_json();
                assert_eq!(text, serde_json::to_string(&m).unwrap());
                assert_eq!(JobMessage::from_json(text.as_bytes()).unwrap(), m);
            }
        }
        for junk in [
            r#"{"job":"j","variant":0,"key":"k","input":{"inline":{"r2_key":"x"}}}"#,
            r#"{"job":"j","variant":0,"key":"k","input":"inline"}"#,
            r#"{"job":"j","variant":-1,"key":"k","input":{"stored":{"r2_key":"x"}}}"#,
            r#"{"job":"j","key":"k","input":{"stored":{"r2_key":"x"}}}"#,
            r#"{"job":"j","variant":0,"key":"k","input":{"other":{"r2_key":"x"}}}"#,
            r#"{"job":"j","variant":0,"key":"k","seed":"1","input":{"stored":{"r2_key":"x"}}}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<JobMessage>(junk).is_err(), "{junk}");
            assert!(JobMessage::from_json(junk.as_bytes()).is_err(), "{junk}");
        }
    }
}
