//! Runs in Node under `wasm-bindgen-test-runner`, whose Node 20 has no
//! `Uint8Array.prototype.toBase64`: the Wasm encoder answers unless a test installs one.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use super::{base64_from_js, base64_into_js};

const PNG: &[u8] = include_bytes!("../../tests/fixtures/photo-64x48.png");
const SAMPLES: [&[u8]; 5] = [b"", b"a", b"ab", b"abc", PNG];

/// `bytes` in base64 by JS's own `btoa`, so tests do not check the code under test against itself.
pub(crate) fn btoa(bytes: &[u8]) -> String {
    let binary: String = bytes.iter().map(|&b| char::from(b)).collect();
    let btoa = Reflect::get(&js_sys::global(), &"btoa".into()).unwrap();
    let f: &js_sys::Function = btoa.unchecked_ref();
    f.call1(&JsValue::NULL, &JsValue::from_str(&binary))
        .unwrap()
        .as_string()
        .unwrap()
}

/// Runs `f` with a stand-in for workerd's native `toBase64`, recognisable by its answer
/// (`native:<length>`); whatever was there before is put back.
pub(crate) fn with_fake_native<T>(f: impl FnOnce() -> T) -> T {
    let fake = js_sys::Function::new_no_args("return 'native:' + this.length;");
    with_uint8array_method("toBase64", &fake, f)
}

/// Runs `f` with `method` installed as `Uint8Array.prototype[name]` (a model of an engine's
/// method that Node 20 lacks); whatever was there before is put back.
pub(crate) fn with_uint8array_method<T>(
    name: &str,
    method: &js_sys::Function,
    f: impl FnOnce() -> T,
) -> T {
    let prototype = Object::get_prototype_of(&Uint8Array::new_with_length(0));
    let name = JsValue::from_str(name);
    let before = Reflect::get_own_property_descriptor(&prototype, &name).unwrap();
    Reflect::set(&prototype, &name, method).unwrap();
    let result = f();
    if before.is_undefined() {
        Reflect::delete_property(&prototype, &name).unwrap();
    } else {
        Reflect::define_property(&prototype, &name, before.unchecked_ref()).unwrap();
    }
    result
}

#[wasm_bindgen_test]
fn without_a_native_encoder_both_answer_as_btoa_does() {
    for bytes in SAMPLES {
        let expected = btoa(bytes);
        assert_eq!(base64_into_js(bytes).as_string(), Some(expected.clone()));
        assert_eq!(base64_from_js(&Uint8Array::from(bytes)), expected);
    }
}

#[wasm_bindgen_test]
fn both_use_the_engine_s_encoder_when_there_is_one() {
    let (from_wasm, from_js) = with_fake_native(|| {
        (
            base64_into_js(PNG).as_string(),
            base64_from_js(&Uint8Array::from(PNG)),
        )
    });
    assert_eq!(from_wasm, Some(format!("native:{}", PNG.len())));
    assert_eq!(from_js, format!("native:{}", PNG.len()));
}
