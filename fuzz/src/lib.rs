//! Invariants shared by the fuzz targets: what must hold of every accepted request and every
//! refusal, whatever the input. The bounds are the README's contract table, restated here rather
//! than read from the model table, so a wrong table entry is caught too.
//!
//! The harnesses of the targets that build their input ([`mask`]) or chain several readers
//! ([`prediction`]) live here too, so the replay test (`tests/replay.rs`) runs them without
//! libFuzzer.

pub mod mask;
pub mod prediction;

use sdxl_core::cache_key::{cache_key, canonical_text, is_cache_key, VERSION_LINE};
use sdxl_core::image::{inspect, sniff};
use sdxl_core::model::FieldKind;
use sdxl_core::{ApiError, InputValue, Normalized, Policy, UnknownFields, Violation};

/// 2^53 − 1: the largest seed.
pub const MAX_SEED: i64 = (1 << 53) - 1;

/// What the targets' seed drawer answers (inside the drawn range 0 … 2^32 − 1).
pub const DRAWN_SEED: i64 = 4_242_424_242;

/// Every invariant of an accepted request.
///
/// # Panics
/// When one does not hold.
pub fn check_accepted(n: &Normalized, policy: &Policy) {
    let inputs = &n.inputs;
    let spec = n.model;

    let prompt = inputs
        .text("prompt")
        .expect("an accepted request has a prompt");
    let chars = prompt.chars().count();
    assert!(chars >= 1, "empty prompt accepted");
    assert!(
        chars <= policy.max_prompt_chars,
        "prompt of {chars} chars accepted"
    );
    if let Some(negative) = inputs.text("negative_prompt") {
        assert!(negative.chars().count() <= policy.max_prompt_chars);
    }

    let steps = inputs.integer("num_steps").expect("num_steps defaulted");
    assert!((1..=20).contains(&steps), "num_steps {steps}");
    for side in ["width", "height"] {
        if let Some(v) = inputs.integer(side) {
            assert!((256..=2048).contains(&v), "{side} {v}");
            assert_eq!(v % 8, 0, "{side} {v} not a multiple of 8");
        }
    }
    let strength = inputs.number("strength").expect("strength defaulted");
    assert!((0.0..=1.0).contains(&strength), "strength {strength}");
    let guidance = inputs.number("guidance").expect("guidance defaulted");
    assert!(guidance.is_finite(), "guidance {guidance}");
    let seed = n.seed().expect("a seed is always forwarded");
    assert!((0..=MAX_SEED).contains(&seed), "seed {seed}");
    if n.seed_drawn {
        assert_eq!(seed, DRAWN_SEED);
    }

    for name in ["image", "mask"] {
        if let Some(img) = inputs.image(name) {
            assert_eq!(
                inspect(&img.bytes),
                Ok(img.info),
                "{name}: info is not what inspect says"
            );
            assert_eq!(
                sniff(&img.bytes),
                Some(img.info.format),
                "{name}: sniff disagrees"
            );
            assert!(img.info.width > 0 && img.info.height > 0);
            let pixels = u64::from(img.info.width) * u64::from(img.info.height);
            assert!(pixels <= policy.max_image_pixels, "{name}: {pixels} pixels");
        }
    }
    if let Some(mask) = inputs.image("mask") {
        let image = inputs
            .image("image")
            .expect("a mask is only accepted with an image");
        assert_eq!(
            (mask.info.width, mask.info.height),
            (image.info.width, image.info.height),
            "mask and image dimensions differ"
        );
    }

    // Forwarded names: fields of the model, each once, in table order, never `image_b64`.
    let mut last = None;
    for (name, value) in inputs.iter() {
        let at = spec
            .fields
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("forwards {name}, not a field of the model"));
        assert!(
            !matches!(spec.fields[at].kind, FieldKind::ImageBase64 { .. }),
            "forwards {name} undecoded"
        );
        if let Some(last) = last {
            assert!(at > last, "{name} forwarded out of table order or twice");
        }
        last = Some(at);
        if let InputValue::Number(x) = value {
            assert!(x.is_finite(), "{name} = {x}");
        }
    }
    for name in &n.ignored_fields {
        assert!(
            spec.field(name).is_none(),
            "ignores {name}, a field of the model"
        );
    }
    assert!(
        n.ignored_fields.len() <= sdxl_core::parse::MAX_UNKNOWN_FIELDS,
        "accepted {} unknown fields, over the cap",
        n.ignored_fields.len()
    );
    for (i, name) in n.ignored_fields.iter().enumerate() {
        assert!(
            !n.ignored_fields[..i].contains(name),
            "ignores {name} twice"
        );
    }
    if policy.unknown_fields == UnknownFields::Reject {
        assert!(n.ignored_fields.is_empty());
    }

    let key = cache_key(n);
    assert!(is_cache_key(&key), "cache key {key:?}");
    assert!(key
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(key.len(), 64);
    assert_eq!(key, cache_key(n), "cache key not deterministic");
    let text = canonical_text(n);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(VERSION_LINE));
    assert_eq!(lines.next(), Some(format!("model:{}", spec.id).as_str()));
    assert_eq!(
        lines.count(),
        inputs.iter().count(),
        "one key line per input"
    );
}

/// Every invariant of a refusal for breaking the contract.
///
/// # Panics
/// When one does not hold.
pub fn check_refused(violations: &[Violation], policy: &Policy) {
    assert!(!violations.is_empty(), "refused with no violation");
    for v in violations {
        if v.rule == sdxl_core::Rule::TooManyUnknownFields {
            // About the whole request: the root pointer, and a sentence of its own.
            assert_eq!(v.path, "", "the cap on unknown fields names a field");
            assert_eq!(
                v.limit,
                Some(sdxl_core::parse::MAX_UNKNOWN_FIELDS.into()),
                "the cap on unknown fields does not say the cap"
            );
            continue;
        }
        assert!(
            v.path.starts_with('/'),
            "path {:?} is not a JSON pointer",
            v.path
        );
        assert!(
            v.message.starts_with(&format!("'{}'", v.path)),
            "message {:?} does not start with its path",
            v.message
        );
        if policy.unknown_fields == UnknownFields::Ignore {
            assert_ne!(
                v.rule,
                sdxl_core::Rule::UnknownField,
                "unknown field refused under ignore"
            );
        }
    }
}

/// Checks one outcome of validation against the invariants.
///
/// # Panics
/// When one does not hold, or on an error kind validation never returns.
pub fn check_outcome(result: &Result<Normalized, ApiError>, policy: &Policy) {
    match result {
        Ok(n) => check_accepted(n, policy),
        Err(ApiError::Invalid(v)) => check_refused(v, policy),
        Err(ApiError::Body(_)) => {}
        Err(other) => panic!("validation returned {other:?}"),
    }
}

/// The same request under the two unknown-field policies: `reject` refuses exactly what `ignore`
/// refuses, plus requests with unknown fields, and otherwise forwards the same inputs.
///
/// # Panics
/// When that does not hold.
pub fn check_policies(
    ignore: &Result<Normalized, ApiError>,
    reject: &Result<Normalized, ApiError>,
) {
    match (ignore, reject) {
        (Ok(a), Ok(b)) => {
            assert!(
                a.ignored_fields.is_empty(),
                "reject accepted unknown fields"
            );
            assert_eq!(a.inputs, b.inputs);
        }
        (Ok(a), Err(ApiError::Invalid(v))) => {
            assert!(
                !a.ignored_fields.is_empty(),
                "reject refused a request with no unknown field"
            );
            assert!(v.iter().all(|v| v.rule == sdxl_core::Rule::UnknownField));
            assert_eq!(v.len(), a.ignored_fields.len());
        }
        (Err(ApiError::Invalid(a)), Err(ApiError::Invalid(b))) => {
            let b: Vec<&Violation> = b
                .iter()
                .filter(|v| v.rule != sdxl_core::Rule::UnknownField)
                .collect();
            assert_eq!(
                a.iter().collect::<Vec<_>>(),
                b,
                "policies disagree on the violations"
            );
        }
        (Err(ApiError::Body(_)), Err(ApiError::Body(_))) => {}
        (a, b) => panic!("policies disagree: ignore {a:?}, reject {b:?}"),
    }
}
