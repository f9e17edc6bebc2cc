//! Operator settings, read from the Worker's `[vars]` and secrets through a lookup the adapter
//! supplies, so every rule (defaults, whole numbers, the body limit that must fit the budget) is
//! tested natively.

use thiserror::Error;

use crate::access::{CorsPolicy, Tokens};
use crate::budget;
use crate::normalize::{DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PROMPT_CHARS};
use crate::permalink::{Permalinks, SecretError};
use crate::retry::RetryPolicy;
use crate::{Policy, UnknownFields};

/// Default budget of the in-memory cache tier: the hottest results, in each isolate's 128 MB.
pub const DEFAULT_MEMORY_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// Default deadline for one model run, retries included.
pub const DEFAULT_AI_TIMEOUT_MS: u32 = 60_000;
/// How long a job may run, from its creation, before its object fails it: far past what its
/// images can take (six deliveries each of at most `AI_TIMEOUT_MS`, a minute or two apart), so
/// only a job nothing will ever end (a lost message, an unreachable object) meets it.
pub const DEFAULT_JOB_DEADLINE_S: u32 = 1800;
/// How long an ended job is kept (its row, and so its prediction and URLs): an hour, as Replicate
/// keeps predictions made through its API. Its images live on in the cache; its input was deleted
/// when it ended.
pub const DEFAULT_JOB_RETENTION_S: u32 = 3600;
/// How many images one caller may have queued at once: eight jobs of the largest `n`, or a
/// minute or two of one model's work.
pub const DEFAULT_MAX_QUEUED_IMAGES: u32 = 64;
/// Default rate-limit period: must equal `simple.period` of the `RATE_LIMITER` binding, which the
/// binding does not expose; it is what `Retry-After` says.
pub const DEFAULT_RATE_LIMIT_PERIOD_S: u32 = 60;

/// How the input image travels to the model: both are documented inputs of the image models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageEncoding {
    /// `image_b64`: one string. The binding sends its inputs as JSON text, made in this isolate:
    /// a string costs a copy, a 1.5 MB image as a number array costs ~5.6 MB of JSON and tens of
    /// milliseconds of this Worker's CPU time.
    Base64,
    /// `image`: an array of numbers, the shape the Workers AI examples use.
    Array,
}

/// A setting that cannot be read: an operator error, reported as such (500, and the log).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("{name} must be {expected}, not {found:?}")]
    OneOf {
        name: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("{name} must be a whole number, not {found:?}")]
    NotANumber { name: &'static str, found: String },
    #[error(
        "MAX_BODY_BYTES = {max_body_bytes} needs up to {worst} bytes of memory per request, more \
         than MEMORY_BUDGET_BYTES = {budget}: such a request could never be served; lower \
         MAX_BODY_BYTES (or leave it unset)"
    )]
    BodyOverBudget {
        max_body_bytes: u64,
        worst: u64,
        budget: u64,
    },
    #[error(transparent)]
    Quotas(#[from] crate::quota::QuotasError),
}

pub struct Config {
    /// Larger bodies are refused with 413 (`MAX_BODY_BYTES`); by default the largest body whose
    /// every phase fits in the memory budget on its own (`budget::default_max_body`).
    pub max_body_bytes: u64,
    /// `MEMORY_BUDGET_BYTES`: what requests in flight in one isolate may hold together; by
    /// default the isolate's 128 MiB less its baseline, the memory cache and headroom.
    pub memory_budget_bytes: u64,
    /// `UNKNOWN_FIELDS`, `MAX_PROMPT_CHARS`, `MAX_IMAGE_PIXELS`.
    pub policy: Policy,
    /// `LOCAL_ADMIN = "true"` (local runs only) forwards `/__standin/*` to the stand-in and
    /// answers `DELETE /__admin/cache-api/<key>`, so tests can arm faults and empty a tier.
    pub local_admin: bool,
    /// `LOCAL_TRAP = "true"` (set only by [env.local] in wrangler.toml, with `LOCAL_ADMIN`):
    /// `POST /__admin/trap` traps the Wasm, so a test can prove the isolate serves afterwards.
    pub local_trap: bool,
    /// `ALLOW_ANONYMOUS = "true"`: no credentials are checked at all.
    pub allow_anonymous: bool,
    /// `ALLOW_INSECURE_WEBHOOKS` (local runs only): webhooks to `http`, IP addresses, localhost
    /// and any port, as a test's receiver needs; otherwise `https` to a DNS name on port 443.
    pub allow_insecure_webhooks: bool,
    /// `ALLOW_MISSING_RATE_LIMITER` (local runs only): no `RATE_LIMITER` binding is accepted even
    /// where tokens are required. wrangler 4.86 strips rate limit bindings from every Worker of a
    /// `wrangler dev` session but the first (cloudflare/workers-sdk#14572), so the local jobs
    /// Worker has none; in production a missing limiter there is a misconfiguration.
    pub allow_missing_rate_limiter: bool,
    /// `API_TOKENS` (a secret): accepted bearer tokens.
    pub tokens: Tokens,
    /// `ADMIN_TOKENS` (a secret): the operator's bearer tokens, which read any caller's usage
    /// (`GET /usage?caller=<caller>`); none by default, and then nobody can.
    pub admin_tokens: Tokens,
    /// `CORS_ALLOWED_ORIGINS`: `*` or a comma-separated list; none by default.
    pub cors: CorsPolicy,
    /// `AI_RETRIES`, `AI_RETRY_BASE_MS`.
    pub retry: RetryPolicy,
    /// `AI_TIMEOUT_MS`: no answer within it is a 504.
    pub ai_timeout_ms: u32,
    /// `JOB_DEADLINE_S`: a job still running this long after its creation is failed by its
    /// object's alarm.
    pub job_deadline_s: u32,
    /// `JOB_RETENTION_S`: an ended job's object deletes it this long after it ended.
    pub job_retention_s: u32,
    /// `MAX_QUEUED_IMAGES`: the images one caller may have queued at once (0: no cap).
    pub max_queued_images: u32,
    /// `QUOTAS`: each caller's budget of runs (`crate::quota`); empty, none.
    pub quotas: crate::quota::Quotas,
    /// `RATE_LIMIT_PERIOD_S`.
    pub rate_limit_period_s: u32,
    /// `LOG_PROMPTS = "true"` logs prompt text; by default only its SHA-256.
    pub log_prompts: bool,
    /// `MEMORY_CACHE_BYTES`: the in-memory tier's budget; 0 turns it off.
    pub memory_cache_bytes: usize,
    /// `AI_GATEWAY_ID`: runs go through this AI Gateway (for its logs and analytics).
    pub ai_gateway_id: Option<String>,
    /// `AI_IMAGE_ENCODING`: `base64` (default) sends the input image as `image_b64`, `array` as
    /// `image` (a number array).
    pub image_encoding: ImageEncoding,
    /// `PERMALINK_SECRET` (a secret): permalink ids are made and checked under it. Without a
    /// usable one, answers carry no permalink and `/images/*` reports the misconfiguration:
    /// never a fallback to ids anyone could compute.
    pub permalinks: Result<Permalinks, SecretError>,
}

impl Config {
    /// The memory tier's share of `MEMORY_CACHE_BYTES` (the entry's replay cache has the rest:
    /// `replay::split_memory_cache`).
    #[must_use]
    pub fn memory_tier_bytes(&self) -> usize {
        crate::replay::split_memory_cache(self.memory_cache_bytes).tier
    }

    /// The entry's replay cache's share of `MEMORY_CACHE_BYTES`.
    #[must_use]
    pub fn replay_cache_bytes(&self) -> usize {
        crate::replay::split_memory_cache(self.memory_cache_bytes).replay
    }

    /// Reads the settings through `lookup` (a var's or secret's text by name; `None` when
    /// unset).
    ///
    /// # Errors
    /// The first setting that cannot be read, naming it and what it must be.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let flag = |name: &str| lookup(name).is_some_and(|v| v.trim() == "true");
        let unknown_fields = one_of(
            &lookup,
            "UNKNOWN_FIELDS",
            "\"ignore\" or \"reject\"",
            &[
                ("ignore", UnknownFields::Ignore),
                ("reject", UnknownFields::Reject),
            ],
        )?;
        let image_encoding = one_of(
            &lookup,
            "AI_IMAGE_ENCODING",
            "\"base64\" or \"array\"",
            &[
                ("base64", ImageEncoding::Base64),
                ("array", ImageEncoding::Array),
            ],
        )?;
        let defaults = RetryPolicy::default();
        let memory_cache_bytes = number(&lookup, "MEMORY_CACHE_BYTES", DEFAULT_MEMORY_CACHE_BYTES)?;
        let memory_budget_bytes = number(
            &lookup,
            "MEMORY_BUDGET_BYTES",
            budget::default_budget(memory_cache_bytes as u64),
        )?;
        let max_body_bytes = number(
            &lookup,
            "MAX_BODY_BYTES",
            budget::default_max_body(memory_budget_bytes),
        )?;
        let worst = budget::Phase::worst_reading(max_body_bytes).bytes();
        if worst > memory_budget_bytes {
            return Err(ConfigError::BodyOverBudget {
                max_body_bytes,
                worst,
                budget: memory_budget_bytes,
            });
        }
        Ok(Config {
            max_body_bytes,
            memory_budget_bytes,
            policy: Policy {
                unknown_fields,
                max_prompt_chars: number(&lookup, "MAX_PROMPT_CHARS", DEFAULT_MAX_PROMPT_CHARS)?,
                max_image_pixels: number(&lookup, "MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS)?,
                size_from_input: false, // set per route (the adapter's generate.rs)
            },
            local_admin: flag("LOCAL_ADMIN"),
            local_trap: flag("LOCAL_TRAP"),
            allow_anonymous: flag("ALLOW_ANONYMOUS"),
            allow_insecure_webhooks: flag("ALLOW_INSECURE_WEBHOOKS"),
            allow_missing_rate_limiter: flag("ALLOW_MISSING_RATE_LIMITER"),
            tokens: Tokens::parse(&lookup("API_TOKENS").unwrap_or_default()),
            admin_tokens: Tokens::parse(&lookup("ADMIN_TOKENS").unwrap_or_default()),
            cors: CorsPolicy::parse(&lookup("CORS_ALLOWED_ORIGINS").unwrap_or_default()),
            retry: RetryPolicy {
                max_retries: number(&lookup, "AI_RETRIES", defaults.max_retries)?,
                base_delay_ms: number(&lookup, "AI_RETRY_BASE_MS", defaults.base_delay_ms)?,
            },
            ai_timeout_ms: number(&lookup, "AI_TIMEOUT_MS", DEFAULT_AI_TIMEOUT_MS)?,
            job_deadline_s: number(&lookup, "JOB_DEADLINE_S", DEFAULT_JOB_DEADLINE_S)?,
            job_retention_s: number(&lookup, "JOB_RETENTION_S", DEFAULT_JOB_RETENTION_S)?,
            max_queued_images: number(&lookup, "MAX_QUEUED_IMAGES", DEFAULT_MAX_QUEUED_IMAGES)?,
            quotas: crate::quota::Quotas::parse(&lookup("QUOTAS").unwrap_or_default())?,
            rate_limit_period_s: number(
                &lookup,
                "RATE_LIMIT_PERIOD_S",
                DEFAULT_RATE_LIMIT_PERIOD_S,
            )?,
            log_prompts: flag("LOG_PROMPTS"),
            memory_cache_bytes,
            ai_gateway_id: lookup("AI_GATEWAY_ID")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            image_encoding,
            permalinks: Permalinks::new(lookup("PERMALINK_SECRET").as_deref()),
        })
    }
}

/// A setting with a few named values; unset is the first.
fn one_of<T: Copy>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
    values: &[(&str, T)],
) -> Result<T, ConfigError> {
    let Some(text) = lookup(name) else {
        return Ok(values[0].1);
    };
    values
        .iter()
        .find(|(word, _)| *word == text.trim())
        .map(|(_, value)| *value)
        .ok_or(ConfigError::OneOf {
            name,
            expected,
            found: text,
        })
}

fn number<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError::NotANumber { name, found: text }),
    }
}

#[cfg(test)]
mod tests;
