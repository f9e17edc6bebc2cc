//! Operator settings, read from the Worker's `[vars]`.

use sdxl_core::{Policy, UnknownFields};
use worker::Env;

/// Default request body limit: 32 MiB, room for a 2048x2048 img2img request as a JSON array.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

pub struct Config {
    /// Larger bodies are refused with 413 (`MAX_BODY_BYTES`).
    pub max_body_bytes: u64,
    /// `UNKNOWN_FIELDS = "reject"` refuses fields the model does not have; default `"ignore"`.
    pub policy: Policy,
    /// `LOCAL_ADMIN = "true"` (local runs only) forwards `/__standin/*` to the stand-in and
    /// answers `DELETE /__admin/cache-api/<key>`, so tests can arm faults and empty a tier.
    pub local_admin: bool,
}

impl Config {
    /// Reads the settings; a value that cannot be read is an operator error, reported as such.
    ///
    /// # Errors
    /// A sentence naming the variable and what it must be.
    pub fn from_env(env: &Env) -> Result<Config, String> {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        let max_body_bytes = match var("MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("MAX_BODY_BYTES must be a number of bytes, not {v:?}"))?,
        };
        let unknown_fields = match var("UNKNOWN_FIELDS").as_deref().map(str::trim) {
            None | Some("ignore") => UnknownFields::Ignore,
            Some("reject") => UnknownFields::Reject,
            Some(other) => {
                return Err(format!(
                    "UNKNOWN_FIELDS must be \"ignore\" or \"reject\", not {other:?}"
                ))
            }
        };
        Ok(Config {
            max_body_bytes,
            policy: Policy { unknown_fields },
            local_admin: var("LOCAL_ADMIN").as_deref() == Some("true"),
        })
    }
}
