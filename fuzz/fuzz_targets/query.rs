//! A raw query string, split into pairs as the Worker does (`Url::query_pairs`, i.e.
//! `form_urlencoded`), through `parse_query` + `normalize`, and `cache_key` on whatever validates.
//! Beyond "does not panic": the invariants of every accepted request and refusal, and the promise
//! of `parse_query` — a query is typed "by exactly the rules JSON bodies follow" — checked by
//! sending the same pairs as a JSON body: same verdict, same normalized request, same cache key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdxl_core::model::FieldKind;
use sdxl_core::models::SDXL_LIGHTNING;
use sdxl_core::{normalize, parse_query, validate_json, ApiError, Policy};
use sdxl_core_fuzz::{check_outcome, DRAWN_SEED};
use serde_json::Value;

fuzz_target!(|query: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();

    let policy = Policy::default();
    let raw = parse_query(&SDXL_LIGHTNING, pairs.iter().map(|(k, v)| (k, v)));
    let from_query =
        normalize(&SDXL_LIGHTNING, raw, policy, &mut || DRAWN_SEED).map_err(ApiError::Invalid);
    check_outcome(&from_query, &policy);

    // The same pairs as a JSON body: a numeric field's value is a JSON number when its text
    // (trimmed) is one, every other value a JSON string.
    let members: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let numeric = SDXL_LIGHTNING.field(k).is_some_and(|f| {
                matches!(f.kind, FieldKind::Integer { .. } | FieldKind::Number { .. })
            });
            let value = match serde_json::from_str::<serde_json::Number>(v.trim()) {
                Ok(n) if numeric => Value::Number(n),
                _ => Value::from(v.as_str()),
            };
            format!("{}:{value}", Value::from(k.as_str()))
        })
        .collect();
    let body = format!("{{{}}}", members.join(","));
    let from_json = validate_json(&SDXL_LIGHTNING, body.as_bytes(), policy, &mut || DRAWN_SEED);

    match (&from_query, &from_json) {
        (Ok(q), Ok(j)) => {
            assert_eq!(q, j, "query and JSON normalize differently: {body}");
            assert_eq!(
                sdxl_core::cache_key::cache_key(q),
                sdxl_core::cache_key::cache_key(j)
            );
        }
        (Err(ApiError::Invalid(_)), Err(ApiError::Invalid(_))) => {}
        (q, j) => panic!("query {q:?} but JSON {j:?} for {body}"),
    }
});
