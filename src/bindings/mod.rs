//! The Worker's bindings, one module each, every one called raw (its JS object and the few
//! methods the Worker uses, declared here and nowhere else): the typed wrappers of the `worker`
//! crate each brought glue into the bundle that nothing else used. This module reads a binding
//! off `env` by name; each submodule casts it to its own type. `compression` is the runtime's
//! zlib streams, globals rather than bindings on `env`, kept here on the same terms.

pub mod ai;
pub mod analytics;
pub mod assets;
pub mod compression;
pub mod durable_object;
pub mod fetch;
pub mod queue;
pub mod r2;
pub mod rate_limiter;

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use worker::Env;

/// The binding `name`, if the Worker has one (neither `undefined` nor `null`).
pub fn binding(env: &Env, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(|b| !b.is_undefined() && !b.is_null())
}

/// The binding `name` of the JS type `type_name` (its constructor's name), refused in the words
/// of `worker::Env`'s typed getters (`env.queue(name)`, `env.durable_object(name)`), which the
/// jobs used: those are generic, one copy in the bundle per binding type.
///
/// # Errors
/// As `Env::get_binding`'s: no such binding, `undefined`, or another type.
pub fn typed_binding(env: &Env, name: &str, type_name: &str) -> Result<JsValue, String> {
    let binding = Reflect::get(env, &JsValue::from_str(name))
        .map_err(|_| format!("Env does not contain binding `{name}`"))?;
    if binding.is_undefined() {
        return Err(format!("Binding `{name}` is undefined."));
    }
    let constructor = Object::from(binding.clone()).constructor().name();
    if constructor == type_name {
        Ok(binding)
    } else {
        Err(format!(
            "Binding cannot be cast to the type {type_name} from {}",
            String::from(constructor)
        ))
    }
}
