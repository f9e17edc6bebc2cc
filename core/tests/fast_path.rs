//! The fast path of `parse_json` (byte arrays read by a tight loop, `image_b64` decoded as it is
//! read, a window at a time) against the serde path it short-cuts: on every generated body, valid
//! or broken, read in windows of any size, both must answer exactly the same. So must the fast
//! path over a body whose source decodes `image_b64` itself ([`EngineDecodes`], a model of the
//! Worker's `setFromBase64` step in `src/request_body.rs`; the end-to-end test
//! `tests/e2e/base64-native.test.mjs` checks the engine itself the same way).

// proptest is a native-only dev-dependency (see core/Cargo.toml).
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use proptest::prelude::*;
use sdxl_core::models::SDXL_LIGHTNING;
use std::rc::Rc;

use sdxl_core::inputs::SourceText;
use sdxl_core::parse::windowed::SourceDecoded;
use sdxl_core::parse::{
    parse_json_from, parse_json_with_serde, with_base64_decoded, ByteSource, RawValue,
};
use sdxl_core::{parse_json, RawRequest};

/// Text of one JSON value, from shapes that exercise both paths.
fn value() -> impl Strategy<Value = String> {
    let element = prop_oneof![
        8 => (0u32..=255).prop_map(|n| n.to_string()),
        1 => Just("256".to_owned()),
        1 => Just("1.0".to_owned()),
        1 => Just("-0".to_owned()),
        1 => Just("007".to_owned()),
        1 => Just("\"7\"".to_owned()),
        1 => Just("[1]".to_owned()),
        1 => Just("1e2".to_owned()),
    ];
    let sep = prop_oneof![4 => Just(","), 1 => Just(" , "), 1 => Just(",\n")];
    let array = prop::collection::vec((element, sep), 0..12).prop_map(|items| {
        let mut s = String::from("[");
        for (i, (e, sep)) in items.iter().enumerate() {
            if i > 0 {
                s.push_str(sep);
            }
            s.push_str(e);
        }
        s.push(']');
        s
    });
    // Long and mostly plain, as pictures are: the scan's tight loop runs across many elements
    // before it meets an occasional unusual element or separator and must leave it to serde.
    let plain = prop_oneof![
        60 => (0u32..=255).prop_map(|n| n.to_string()),
        1 => Just("256".to_owned()),
        1 => Just("007".to_owned()),
        1 => Just("1000".to_owned()),
        1 => Just("".to_owned()),
        1 => Just(" 7".to_owned()),
    ];
    let long_array =
        prop::collection::vec(plain, 0..200).prop_map(|items| format!("[{}]", items.join(",")));
    // Base64 as clients send it, and broken: alphabets, padding, line breaks, data URLs.
    let base64 = (
        prop::collection::vec(any::<u8>(), 0..40),
        0usize..11,
        prop::bool::ANY,
        "[A-Za-z0-9+/=_\\-]{0,3}",
    )
        .prop_map(|(bytes, style, url_safe, junk)| {
            use base64::Engine as _;
            let engine = if url_safe {
                base64::engine::general_purpose::URL_SAFE
            } else {
                base64::engine::general_purpose::STANDARD
            };
            let text = engine.encode(bytes);
            let text = match style {
                0 => text,
                1 => text.trim_end_matches('=').to_owned(),
                2 => format!("data:image/png;base64,{text}"),
                3 => text
                    .as_bytes()
                    .chunks(8)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join("\n"),
                4 => format!("{text}{junk}"),
                5 => format!("{junk}{text}"),
                // Spaces (raw in the JSON, unlike line breaks), a BOM, a stray non-ASCII letter.
                6 => text.replacen('A', " A", 1),
                7 => format!("\u{feff}{text}"),
                8 => text.replacen('Q', "\u{e9}", 1),
                // Non-zero trailing bits: the last symbol before the padding moved by one.
                9 => {
                    let end = text.trim_end_matches('=').len();
                    let mut b = text.into_bytes();
                    if end > 0 && b[end - 1].is_ascii_alphabetic() && b[end - 1] != b'z' {
                        b[end - 1] += 1;
                    }
                    String::from_utf8(b).unwrap()
                }
                _ => format!("DATA:image/png;BASE64,{text}"),
            };
            format!("\"{text}\"")
        });
    prop_oneof![
        6 => array,
        4 => base64,
        3 => long_array,
        2 => "[a-z \\[\\]{}\\\\\"]{0,8}".prop_map(|s| serde_json::Value::String(s).to_string()),
        1 => (0i64..300).prop_map(|n| n.to_string()),
        1 => Just("{\"image\":[1,2],\"s\":\"]\"}".to_owned()),
        1 => Just("null".to_owned()),
        1 => Just("[[1,2],[3]]".to_owned()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("\"image\"".to_owned()),
        3 => Just("\"image_b64\"".to_owned()),
        3 => Just("\"mask\"".to_owned()),
        2 => Just("\"prompt\"".to_owned()),
        1 => Just("\"im\\u0061ge\"".to_owned()),
        1 => Just("\"other\"".to_owned()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let object =
        prop::collection::vec((key(), value(), prop::bool::ANY), 0..5).prop_map(|entries| {
            let mut s = String::from("{");
            for (i, (k, v, spaced)) in entries.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(k);
                s.push_str(if *spaced { " : " } else { ":" });
                s.push_str(v);
            }
            s.push('}');
            s.into_bytes()
        });
    // Some bodies are cut short or have a byte changed: syntax errors must match too.
    (object, 0usize..4, any::<prop::sample::Index>(), any::<u8>()).prop_map(
        |(mut b, damage, at, byte)| {
            match damage {
                0 if !b.is_empty() => b.truncate(at.index(b.len())),
                1 if !b.is_empty() => {
                    let i = at.index(b.len());
                    b[i] = byte;
                }
                _ => {}
            }
            b
        },
    )
}

/// The outcome, with every `image_b64` string that decodes shown decoded: the fast path decodes
/// plainly valid base64 as it reads it, the serde path leaves it to the validator.
fn outcome(result: Result<RawRequest, sdxl_core::BodyError>) -> Result<String, String> {
    result
        .map(|r| format!("{:?}", with_base64_decoded(r)))
        .map_err(|e| e.to_string())
}

/// A body whose source decodes base64 as the Worker's does in JS (`src/request_body.rs`): the
/// text up to the next `"`, refused if it holds a `\\`, read as UTF-8 with replacement (BOM
/// kept), decoded by the strict engine of one alphabet after dropping ASCII whitespace (as
/// `setFromBase64(text, {alphabet, lastChunkHandling: 'strict'})` does, into a buffer of the size the text gives), and kept only
/// when not empty and without whitespace.
struct EngineDecodes<'a>(&'a [u8]);

impl ByteSource for EngineDecodes<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn copy_to(&self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.0[offset..offset + buf.len()]);
    }

    fn decode_base64_string(&self, start: usize) -> Option<SourceDecoded> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        use base64::Engine as _;
        let end = start + self.0[start..].iter().position(|&b| b == b'"')?;
        let raw = &self.0[start..end];
        if raw.contains(&b'\\') {
            return None;
        }
        let text = String::from_utf8_lossy(raw);
        let symbols: String = text
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' '))
            .collect();
        for (standard, engine) in [(true, &STANDARD), (false, &URL_SAFE)] {
            let Ok(bytes) = engine.decode(&symbols) else {
                continue;
            };
            let plain =
                !bytes.is_empty() && text.encode_utf16().count() == bytes.len().div_ceil(3) * 4;
            // The Worker keeps the text only when the standard alphabet read it.
            let kept = standard.then(|| SourceText(Rc::new(symbols.clone())));
            return plain.then_some((bytes, end, kept));
        }
        None
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn fast_path_answers_exactly_as_serde(body in body(), window in 16usize..80) {
        let serde = outcome(parse_json_with_serde(&SDXL_LIGHTNING, &body));
        prop_assert_eq!(
            outcome(parse_json(&SDXL_LIGHTNING, &body)),
            serde.clone(),
            "{}", String::from_utf8_lossy(&body)
        );
        prop_assert_eq!(
            outcome(parse_json_from(&SDXL_LIGHTNING, &body[..], window)),
            serde.clone(),
            "window {}: {}", window, String::from_utf8_lossy(&body)
        );
        let by_source = parse_json_from(&SDXL_LIGHTNING, &EngineDecodes(&body), window);
        if let Ok(request) = &by_source {
            for (_, value) in &request.fields {
                if let RawValue::DecodedBase64(bytes, Some(text)) = value {
                    let text = text.0.downcast_ref::<String>().expect("the model keeps a String");
                    prop_assert_eq!(text, &STANDARD.encode(bytes), "a kept text is the bytes' base64");
                }
            }
        }
        prop_assert_eq!(
            outcome(by_source),
            serde,
            "decoded by the source, window {}: {}", window, String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn a_large_image_array_takes_the_fast_path_and_matches() {
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let body = serde_json::to_vec(&serde_json::json!({"prompt": "p", "image": bytes})).unwrap();
    let fast = parse_json(&SDXL_LIGHTNING, &body).unwrap();
    let slow = parse_json_with_serde(&SDXL_LIGHTNING, &body).unwrap();
    assert_eq!(fast, slow);
}
