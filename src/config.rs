//! Operator settings, read from the Worker's `[vars]` and secrets.

use sdxl_core::access::{CorsPolicy, Tokens};
use sdxl_core::budget;
use sdxl_core::normalize::{DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PROMPT_CHARS};
use sdxl_core::permalink::{Permalinks, SecretError};
use sdxl_core::retry::RetryPolicy;
use sdxl_core::{Policy, UnknownFields};
use std::rc::Rc;

use worker::Env;

use crate::ai_inputs::ImageEncoding;

/// Default budget of the in-memory cache tier: the hottest results, in each isolate's 128 MB.
pub const DEFAULT_MEMORY_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// Default deadline for one model run, retries included.
pub const DEFAULT_AI_TIMEOUT_MS: u32 = 60_000;
/// Default rate-limit period: must equal `simple.period` of the `RATE_LIMITER` binding, which the
/// binding does not expose; it is what `Retry-After` says.
pub const DEFAULT_RATE_LIMIT_PERIOD_S: u32 = 60;

pub struct Config {
    /// Larger bodies are refused with 413 (`MAX_BODY_BYTES`); by default the largest body whose
    /// every phase fits in the memory budget on its own (`sdxl_core::budget::default_max_body`).
    pub max_body_bytes: u64,
    /// `MEMORY_BUDGET_BYTES`: what requests in flight in one isolate may hold together; by
    /// default the isolate's 128 MiB less its baseline, the memory cache and headroom.
    pub memory_budget_bytes: u64,
    /// `UNKNOWN_FIELDS`, `MAX_PROMPT_CHARS`, `MAX_IMAGE_PIXELS`.
    pub policy: Policy,
    /// `LOCAL_ADMIN = "true"` (local runs only) forwards `/__standin/*` to the stand-in and
    /// answers `DELETE /__admin/cache-api/<key>`, so tests can arm faults and empty a tier.
    pub local_admin: bool,
    /// `ALLOW_ANONYMOUS = "true"`: no credentials are checked at all.
    pub allow_anonymous: bool,
    /// `API_TOKENS` (a secret): accepted bearer tokens.
    pub tokens: Tokens,
    /// `CORS_ALLOWED_ORIGINS`: `*` or a comma-separated list; none by default.
    pub cors: CorsPolicy,
    /// `AI_RETRIES`, `AI_RETRY_BASE_MS`.
    pub retry: RetryPolicy,
    /// `AI_TIMEOUT_MS`: no answer within it is a 504.
    pub ai_timeout_ms: u32,
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

thread_local! {
    /// The settings, read once per isolate: vars and secrets are fixed for a deployment's
    /// lifetime (a change deploys a new version, in new isolates), and reading them per request
    /// re-hashed every token.
    static CACHED: std::cell::OnceCell<Rc<Result<Config, String>>> = const { std::cell::OnceCell::new() };
}

/// [`Config::from_env`], once per isolate.
pub fn cached(env: &Env) -> Rc<Result<Config, String>> {
    CACHED.with(|cell| cell.get_or_init(|| Rc::new(Config::from_env(env))).clone())
}

impl Config {
    /// Reads the settings; a value that cannot be read is an operator error, reported as such.
    ///
    /// # Errors
    /// A sentence naming the variable and what it must be.
    pub fn from_env(env: &Env) -> Result<Config, String> {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        let flag = |name: &str| var(name).is_some_and(|v| v.trim() == "true");
        let unknown_fields = match var("UNKNOWN_FIELDS").as_deref().map(str::trim) {
            None | Some("ignore") => UnknownFields::Ignore,
            Some("reject") => UnknownFields::Reject,
            Some(other) => {
                return Err(format!(
                    "UNKNOWN_FIELDS must be \"ignore\" or \"reject\", not {other:?}"
                ))
            }
        };
        let image_encoding = match var("AI_IMAGE_ENCODING").as_deref().map(str::trim) {
            None | Some("base64") => ImageEncoding::Base64,
            Some("array") => ImageEncoding::Array,
            Some(other) => {
                return Err(format!(
                    "AI_IMAGE_ENCODING must be \"base64\" or \"array\", not {other:?}"
                ))
            }
        };
        let defaults = RetryPolicy::default();
        // Secrets and vars are both plain strings on `env`; a secret is the right home for tokens.
        let secret = |name: &str| {
            env.secret(name)
                .map(|s| s.to_string())
                .ok()
                .or_else(|| var(name))
        };
        let tokens = secret("API_TOKENS").unwrap_or_default();
        let memory_cache_bytes = number(&var, "MEMORY_CACHE_BYTES", DEFAULT_MEMORY_CACHE_BYTES)?;
        let memory_budget_bytes = number(
            &var,
            "MEMORY_BUDGET_BYTES",
            budget::default_budget(memory_cache_bytes as u64),
        )?;
        let max_body_bytes = number(
            &var,
            "MAX_BODY_BYTES",
            budget::default_max_body(memory_budget_bytes),
        )?;
        let worst = budget::Phase::worst_reading(max_body_bytes).bytes();
        if worst > memory_budget_bytes {
            return Err(format!(
                "MAX_BODY_BYTES = {max_body_bytes} needs up to {worst} bytes of memory per \
                 request, more than MEMORY_BUDGET_BYTES = {memory_budget_bytes}: such a request \
                 could never be served; lower MAX_BODY_BYTES (or leave it unset)"
            ));
        }
        Ok(Config {
            max_body_bytes,
            memory_budget_bytes,
            policy: Policy {
                unknown_fields,
                max_prompt_chars: number(&var, "MAX_PROMPT_CHARS", DEFAULT_MAX_PROMPT_CHARS)?,
                max_image_pixels: number(&var, "MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS)?,
                size_from_input: false, // set per route (generate.rs)
            },
            local_admin: flag("LOCAL_ADMIN"),
            allow_anonymous: flag("ALLOW_ANONYMOUS"),
            tokens: Tokens::parse(&tokens),
            cors: CorsPolicy::parse(&var("CORS_ALLOWED_ORIGINS").unwrap_or_default()),
            retry: RetryPolicy {
                max_retries: number(&var, "AI_RETRIES", defaults.max_retries)?,
                base_delay_ms: number(&var, "AI_RETRY_BASE_MS", defaults.base_delay_ms)?,
            },
            ai_timeout_ms: number(&var, "AI_TIMEOUT_MS", DEFAULT_AI_TIMEOUT_MS)?,
            rate_limit_period_s: number(&var, "RATE_LIMIT_PERIOD_S", DEFAULT_RATE_LIMIT_PERIOD_S)?,
            log_prompts: flag("LOG_PROMPTS"),
            memory_cache_bytes,
            ai_gateway_id: var("AI_GATEWAY_ID")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            image_encoding,
            permalinks: Permalinks::new(secret("PERMALINK_SECRET").as_deref()),
        })
    }
}

fn number<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not {v:?}")),
    }
}
