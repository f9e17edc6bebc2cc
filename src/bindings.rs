//! Reading a binding off the Worker's `env` by name: one lookup for every raw binding (`AI`,
//! `IMAGES`), which the raw binding modules cast to their own types.

use js_sys::Reflect;
use wasm_bindgen::JsValue;
use worker::Env;

/// The binding `name`, if the Worker has one (neither `undefined` nor `null`).
pub fn binding(env: &Env, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(|b| !b.is_undefined() && !b.is_null())
}
