use std::collections::HashMap;

use super::*;

fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_vars(|name| vars.get(name).cloned())
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn nothing_set_is_the_documented_defaults() {
    let config = read(&[]).unwrap();
    assert_eq!(config.memory_cache_bytes, DEFAULT_MEMORY_CACHE_BYTES);
    assert_eq!(
        config.memory_budget_bytes,
        budget::default_budget(DEFAULT_MEMORY_CACHE_BYTES as u64)
    );
    assert_eq!(
        config.max_body_bytes,
        budget::default_max_body(config.memory_budget_bytes)
    );
    assert_eq!(config.ai_timeout_ms, DEFAULT_AI_TIMEOUT_MS);
    assert_eq!(config.rate_limit_period_s, DEFAULT_RATE_LIMIT_PERIOD_S);
    assert_eq!(config.policy.unknown_fields, UnknownFields::Ignore);
    assert_eq!(config.image_encoding, ImageEncoding::Base64);
    assert!(!config.local_admin && !config.allow_anonymous && !config.log_prompts);
    assert!(config.tokens.is_empty());
    assert_eq!(config.ai_gateway_id, None);
    assert_eq!(config.permalinks.err(), Some(SecretError::Missing));
}

#[test]
fn every_setting_is_read_trimmed() {
    let config = read(&[
        ("UNKNOWN_FIELDS", " reject "),
        ("AI_IMAGE_ENCODING", "array"),
        ("AI_TIMEOUT_MS", " 1500"),
        ("AI_RETRIES", "0"),
        ("AI_RETRY_BASE_MS", "5"),
        ("RATE_LIMIT_PERIOD_S", "10"),
        ("MAX_PROMPT_CHARS", "99"),
        ("MAX_IMAGE_PIXELS", "4096"),
        ("MEMORY_CACHE_BYTES", "0"),
        ("LOCAL_ADMIN", "true"),
        ("ALLOW_ANONYMOUS", " true "),
        ("LOG_PROMPTS", "yes"),
        ("AI_GATEWAY_ID", "  "),
        ("API_TOKENS", "a-token"),
        ("PERMALINK_SECRET", SECRET),
    ])
    .unwrap();
    assert_eq!(config.policy.unknown_fields, UnknownFields::Reject);
    assert_eq!(config.image_encoding, ImageEncoding::Array);
    assert_eq!(config.ai_timeout_ms, 1500);
    assert_eq!(config.retry.max_retries, 0);
    assert_eq!(config.retry.base_delay_ms, 5);
    assert_eq!(config.rate_limit_period_s, 10);
    assert_eq!(config.policy.max_prompt_chars, 99);
    assert_eq!(config.policy.max_image_pixels, 4096);
    assert_eq!(config.memory_cache_bytes, 0);
    assert!(config.local_admin && config.allow_anonymous);
    // Only the word `true` turns a flag on.
    assert!(!config.log_prompts);
    // A blank gateway id is no gateway.
    assert_eq!(config.ai_gateway_id, None);
    assert!(!config.tokens.is_empty());
    assert!(config.permalinks.is_ok());
}

#[test]
fn unreadable_settings_name_the_variable() {
    let cases = [
        (
            ("UNKNOWN_FIELDS", "drop"),
            "UNKNOWN_FIELDS must be \"ignore\" or \"reject\", not \"drop\"",
        ),
        (
            ("AI_IMAGE_ENCODING", "hex"),
            "AI_IMAGE_ENCODING must be \"base64\" or \"array\", not \"hex\"",
        ),
        (
            ("AI_TIMEOUT_MS", "60s"),
            "AI_TIMEOUT_MS must be a whole number, not \"60s\"",
        ),
        (
            ("AI_RETRIES", "-1"),
            "AI_RETRIES must be a whole number, not \"-1\"",
        ),
        (
            ("MEMORY_CACHE_BYTES", "1e6"),
            "MEMORY_CACHE_BYTES must be a whole number, not \"1e6\"",
        ),
    ];
    for ((name, value), message) in cases {
        let error = read(&[(name, value)]).err().expect(name);
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn a_body_limit_the_budget_cannot_hold_is_refused() {
    let budget = "67108864"; // 64 MiB
    let error = read(&[("MEMORY_BUDGET_BYTES", budget), ("MAX_BODY_BYTES", budget)])
        .err()
        .unwrap();
    assert!(
        matches!(error, ConfigError::BodyOverBudget { .. }),
        "{error}"
    );
    assert!(error
        .to_string()
        .starts_with("MAX_BODY_BYTES = 67108864 needs"));
    // Unset, the body limit follows the budget and always fits it.
    let config = read(&[("MEMORY_BUDGET_BYTES", budget)]).unwrap();
    assert!(config.max_body_bytes > 0);
    assert!(budget::Phase::worst_reading(config.max_body_bytes).bytes() <= 67_108_864);
}

#[test]
fn a_short_permalink_secret_turns_permalinks_off() {
    let config = read(&[("PERMALINK_SECRET", "short")]).unwrap();
    assert_eq!(config.permalinks.err(), Some(SecretError::TooShort));
}
