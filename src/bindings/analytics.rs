//! The Workers Analytics Engine binding (`USAGE`), called raw: one `writeDataPoint` per request
//! (non-blocking; nothing to await). Without the binding nothing is written.

use js_sys::{Array, Object, Reflect};
use sdxl_core::observe::DataPoint;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

use super::binding;

/// The binding's name.
pub const ANALYTICS_BINDING: &str = "USAGE";

#[wasm_bindgen]
extern "C" {
    /// An Analytics Engine dataset's JS object.
    type Dataset;

    #[wasm_bindgen(method, catch, js_name = writeDataPoint)]
    fn write_data_point(this: &Dataset, point: &Object) -> Result<(), JsValue>;
}

/// Writes `point` to the dataset, if one is bound. A failure is logged, never the request's.
pub fn write(env: &Env, point: &DataPoint) {
    let Some(dataset) = binding(env, ANALYTICS_BINDING) else {
        return;
    };
    let strings = |items: &[String]| {
        items
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect::<Array>()
    };
    let object = Object::new();
    let written = (|| {
        Reflect::set(
            &object,
            &"indexes".into(),
            &strings(std::slice::from_ref(&point.index)),
        )?;
        Reflect::set(&object, &"blobs".into(), &strings(&point.blobs))?;
        let doubles: Array = point
            .doubles
            .iter()
            .map(|d| JsValue::from_f64(*d))
            .collect();
        Reflect::set(&object, &"doubles".into(), &doubles)?;
        dataset
            .unchecked_into::<Dataset>()
            .write_data_point(&object)
    })();
    if let Err(e) = written {
        worker::console_error!("analytics: a datapoint was not written: {e:?}");
    }
}
