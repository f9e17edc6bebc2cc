//! Runs in Node under `wasm-bindgen-test-runner`. Node 20 has neither `setFromBase64` nor
//! `toBase64`, so the tests install a model of workerd's `setFromBase64` (strict, one alphabet)
//! and the recognisable fake `toBase64` of `base64_js`'s tests: an `image_b64` that reaches the
//! model as the client's text was forwarded; `native:<length>` means it was encoded again.

use js_sys::{Function, Reflect, Uint8Array};
use sdxl_core::models::SDXL_LIGHTNING;
use sdxl_core::parse::{parse_json_fast, windowed::WINDOW};
use sdxl_core::{normalize, Policy};
use wasm_bindgen_test::wasm_bindgen_test;

use super::JsBody;
use crate::ai_inputs::{to_js, ImageEncoding};
use crate::base64_js::tests::{btoa, with_fake_native, with_uint8array_method};

const PNG: &[u8] = include_bytes!("../../tests/fixtures/photo-64x48.png");
/// Lengths that leave one and two bytes in the last group: padded texts.
const JPEG: &[u8] = include_bytes!("../../tests/fixtures/photo-64x48.jpg");
const WEBP: &[u8] = include_bytes!("../../tests/fixtures/photo-64x48.webp");

/// Node's `Buffer` decoding, made strict as `{lastChunkHandling: 'strict'}` is: the alphabet's
/// symbols only (after ASCII whitespace), whole groups, canonical padding and trailing bits.
const SET_FROM_BASE64: &str = "
    const symbols = text.replace(/[\\t\\n\\f\\r ]/g, '');
    const alphabet = options.alphabet === 'base64url' ? /^[A-Za-z0-9_-]*={0,2}$/ : /^[A-Za-z0-9+\\/]*={0,2}$/;
    if (!alphabet.test(symbols) || symbols.length % 4 !== 0) throw new SyntaxError('not base64');
    const bytes = Buffer.from(symbols, options.alphabet === 'base64url' ? 'base64url' : 'base64');
    const again = bytes.toString(options.alphabet === 'base64url' ? 'base64url' : 'base64');
    if (again.replace(/=+$/, '') !== symbols.replace(/=+$/, '')) throw new SyntaxError('trailing bits');
    if (bytes.length > this.length) throw new SyntaxError('too long');
    this.set(bytes);
    return { read: text.length, written: bytes.length };";

/// Runs `f` with the model of `setFromBase64` installed; what was there before is put back.
fn with_engine_decoder<T>(f: impl FnOnce() -> T) -> T {
    let method = Function::new_with_args("text, options", SET_FROM_BASE64);
    with_uint8array_method("setFromBase64", &method, f)
}

/// The `image_b64` that `AI.run` would be given for `body`, read as the Worker reads a body with
/// a declared length (one buffer).
fn forwarded(body: &str) -> String {
    let mut source = JsBody::new();
    source.push(Uint8Array::from(body.as_bytes()));
    let raw = parse_json_fast(&SDXL_LIGHTNING, &source, WINDOW)
        .expect("the fast path")
        .unwrap();
    drop(source);
    let normalized = normalize(&SDXL_LIGHTNING, raw, Policy::default(), &mut || 7).unwrap();
    let inputs = to_js(&normalized.inputs, ImageEncoding::Base64).unwrap();
    Reflect::get(&inputs, &"image_b64".into())
        .unwrap()
        .as_string()
        .unwrap()
}

/// `png` with a `tEXt` chunk of `len` bytes after its header: a valid, larger PNG.
fn with_text_chunk(png: &[u8], len: usize) -> Vec<u8> {
    let after_header = 8 + 25; // the signature, then IHDR's length, type, 13 bytes and CRC
    let mut chunk = b"tEXt".to_vec();
    chunk.extend_from_slice(b"k\0");
    chunk.resize(len, b'a');
    let mut out = png[..after_header].to_vec();
    out.extend_from_slice(&u32::try_from(len - 4).unwrap().to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&sdxl_core::crc32::hash(&chunk).to_be_bytes());
    out.extend_from_slice(&png[after_header..]);
    out
}

fn body(image_b64: &str, after: &str) -> String {
    format!(r#"{{"prompt":"p","image_b64":"{image_b64}"{after}}}"#)
}

#[wasm_bindgen_test]
fn the_standard_text_reaches_the_model_as_the_client_sent_it() {
    let text = btoa(PNG);
    let native = format!("native:{}", PNG.len());
    with_engine_decoder(|| {
        with_fake_native(|| {
            for padded in [JPEG, WEBP] {
                let text = btoa(padded);
                assert!(text.ends_with('='));
                assert_eq!(forwarded(&body(&text, "")), text);
            }
            assert_eq!(forwarded(&body(&text, "")), text);
            // Past a data URL's header: the text without it.
            let data_url = format!("data:image/png;base64,{text}");
            assert_eq!(forwarded(&body(&data_url, "")), text);
            // Small fields after it leave it kept.
            assert_eq!(forwarded(&body(&text, r#","strength":0.5"#)), text);
        });
    });
    // Without the engine's decoder the Wasm one decodes, and the bytes are encoded again.
    with_fake_native(|| assert_eq!(forwarded(&body(&text, "")), native));
}

#[wasm_bindgen_test]
fn other_texts_of_the_same_bytes_are_encoded_again() {
    let text = btoa(PNG);
    assert!(
        text.contains('+') || text.contains('/'),
        "the fixture tests the alphabet"
    );
    let url_safe = text.replace('+', "-").replace('/', "_");
    let native = format!("native:{}", PNG.len());
    with_engine_decoder(|| {
        with_fake_native(|| {
            // The URL-safe alphabet: the same bytes, another text, which the model is not sent.
            assert_eq!(forwarded(&body(&url_safe, "")), native);
            // Not in the strict form (the Wasm decoder reads it): never kept.
            let escaped = format!("{}\\n{}", &text[..8], &text[8..]);
            assert_eq!(forwarded(&body(&escaped, "")), native);
            let unpadded = btoa(JPEG).replace('=', "");
            assert_eq!(
                forwarded(&body(&unpadded, "")),
                format!("native:{}", JPEG.len())
            );
            // Much whitespace after the string: keeping the text would keep it too.
            let padded = format!(",{}\"seed\":1", " ".repeat(70_000));
            assert_eq!(forwarded(&body(&text, &padded)), native);
            // Over 4 MiB of text: held for the whole request it raised the RSS peak.
            let large = with_text_chunk(PNG, 3_200_000);
            let text = btoa(&large);
            assert!(text.len() > 4 * 1024 * 1024);
            assert_eq!(
                forwarded(&body(&text, "")),
                format!("native:{}", large.len())
            );
            let under = with_text_chunk(PNG, 3_000_000);
            assert_eq!(forwarded(&body(&btoa(&under), "")), btoa(&under));
        });
    });
}
