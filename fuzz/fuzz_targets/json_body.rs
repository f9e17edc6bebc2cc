//! Arbitrary bytes as a JSON request body, through `validate_json` under both unknown-field
//! policies. Beyond "does not panic": every accepted request meets the contract (see
//! `sdxl_core_fuzz::check_accepted`), every refusal is well formed, the two policies agree, a body
//! that is a JSON object is never refused as unreadable, and an accepted request re-sent in its
//! normalized form is accepted again as the same request (same inputs, same cache key); and the
//! fast path of `parse_json` (byte arrays, `image_b64` decoded as read, in windows of any size)
//! answers exactly as the serde path it short-cuts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdxl_core::models::SDXL_LIGHTNING;
use sdxl_core::{validate_json, ApiError, InputValue, Normalized, Policy, UnknownFields};
use sdxl_core_fuzz::{check_outcome, check_policies, DRAWN_SEED};
use serde_json::{Map, Value};

fuzz_target!(|body: &[u8]| {
    let outcome = |r: Result<sdxl_core::RawRequest, sdxl_core::BodyError>| {
        r.map(|raw| format!("{:?}", sdxl_core::parse::with_base64_decoded(raw)))
            .map_err(|e| e.to_string())
    };
    let serde = outcome(sdxl_core::parse::parse_json_with_serde(&SDXL_LIGHTNING, body));
    assert_eq!(
        outcome(sdxl_core::parse_json(&SDXL_LIGHTNING, body)),
        serde,
        "the fast path and the serde path disagree"
    );
    // Small windows, so values straddle them at every point.
    let window = 16 + body.len() % 64;
    assert_eq!(
        outcome(sdxl_core::parse::parse_json_from(&SDXL_LIGHTNING, body, window)),
        serde,
        "the fast path in {window}-byte windows and the serde path disagree"
    );
    let ignore = Policy::default();
    let reject = Policy {
        unknown_fields: UnknownFields::Reject,
        ..Policy::default()
    };
    let a = validate_json(&SDXL_LIGHTNING, body, ignore, &mut || DRAWN_SEED);
    let b = validate_json(&SDXL_LIGHTNING, body, reject, &mut || DRAWN_SEED);
    check_outcome(&a, &ignore);
    check_outcome(&b, &reject);
    check_policies(&a, &b);

    if let Err(ApiError::Body(e)) = &a {
        if let Ok(Value::Object(_)) = serde_json::from_slice::<Value>(body) {
            panic!("a JSON object refused as unreadable: {e}");
        }
    }
    if let Ok(n) = &a {
        resend(n);
    }
});

/// The normalized inputs as a JSON body (images as byte arrays, the seed explicit).
fn normalized_body(n: &Normalized) -> Vec<u8> {
    let mut object = Map::new();
    for (name, value) in n.inputs.iter() {
        let value = match value {
            InputValue::Text(s) => Value::from(s.as_str()),
            InputValue::Integer(i) => Value::from(*i),
            InputValue::Number(x) => Value::from(*x),
            InputValue::Image(img) => Value::from(img.bytes.to_vec()),
        };
        object.insert(name.to_owned(), value);
    }
    serde_json::to_vec(&Value::Object(object)).expect("serializable")
}

fn resend(n: &Normalized) {
    let body = normalized_body(n);
    let again = validate_json(&SDXL_LIGHTNING, &body, Policy::default(), &mut || {
        panic!("the seed was sent, none may be drawn")
    })
    .unwrap_or_else(|e| panic!("the normalized request is refused: {e:?}"));
    assert!(!again.seed_drawn && again.ignored_fields.is_empty());
    let (mut first, mut second) = (n.inputs.iter(), again.inputs.iter());
    loop {
        match (first.next(), second.next()) {
            (None, None) => break,
            (Some((a, InputValue::Number(x))), Some((b, InputValue::Number(y)))) => {
                // serde_json's default float parsing is best effort (within an ULP), so a number
                // printed and read back may move by one ULP; nothing else may change.
                assert_eq!(a, b);
                assert!(
                    x == y || (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()),
                    "{a}: {x} became {y}"
                );
            }
            (x, y) => assert_eq!(x, y, "normalizing a normalized request changed it"),
        }
    }
    let exact = n
        .inputs
        .iter()
        .zip(again.inputs.iter())
        .all(|(x, y)| x == y);
    if exact {
        assert_eq!(
            sdxl_core::cache_key::cache_key(n),
            sdxl_core::cache_key::cache_key(&again),
            "same inputs, another cache key"
        );
    }
}
