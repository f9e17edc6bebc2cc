//! The raw R2 bucket binding (`IMAGES`): `get` and `put` of whole images, used raw so image
//! bytes never pass through Wasm memory, and `delete` of a job's stored input.

use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::binding;

/// The R2 binding name the gateway looks for.
pub const R2_BINDING: &str = "IMAGES";

#[wasm_bindgen]
extern "C" {
    /// The R2 bucket binding's JS object.
    #[derive(Clone)]
    pub type R2Bucket;

    #[wasm_bindgen(method, catch, js_name = get)]
    fn get_raw(this: &R2Bucket, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = head)]
    fn head_raw(this: &R2Bucket, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = delete)]
    fn delete_raw(this: &R2Bucket, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = put)]
    fn put_raw(
        this: &R2Bucket,
        key: &str,
        value: &Uint8Array,
        options: &Object,
    ) -> Result<Promise, JsValue>;
}

/// An object read from the bucket: its bytes (in JS memory) and its `seed` metadata.
pub struct R2Object {
    pub bytes: Uint8Array,
    pub seed: Option<String>,
}

impl R2Bucket {
    /// The `IMAGES` bucket, when one is bound.
    pub fn from_env(env: &Env) -> Option<R2Bucket> {
        binding(env, R2_BINDING).map(JsCast::unchecked_into)
    }

    /// The object at `path`, if there is one.
    ///
    /// # Errors
    /// What the binding threw.
    pub async fn get(&self, path: &str) -> Result<Option<R2Object>, JsValue> {
        let object = JsFuture::from(self.get_raw(path)?).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        let seed = Reflect::get(&object, &"customMetadata".into())
            .and_then(|m| Reflect::get(&m, &"seed".into()))
            .ok()
            .and_then(|s| s.as_string());
        let array_buffer: js_sys::Function =
            Reflect::get(&object, &"arrayBuffer".into())?.dyn_into()?;
        let buffer = JsFuture::from(Promise::resolve(&array_buffer.call0(&object)?)).await?;
        Ok(Some(R2Object {
            bytes: Uint8Array::new(&buffer),
            seed,
        }))
    }

    /// Whether an object is at `path` (its metadata only: the body is not read).
    ///
    /// # Errors
    /// What the binding threw.
    pub async fn exists(&self, path: &str) -> Result<bool, JsValue> {
        let object = JsFuture::from(self.head_raw(path)?).await?;
        Ok(!object.is_null() && !object.is_undefined())
    }

    /// Deletes the object at `path` (nothing when there is none).
    ///
    /// # Errors
    /// What the binding threw.
    pub async fn delete(&self, path: &str) -> Result<(), JsValue> {
        JsFuture::from(self.delete_raw(path)?).await?;
        Ok(())
    }

    /// Stores `bytes` at `path` with their content type and `seed` metadata.
    ///
    /// # Errors
    /// What the binding threw.
    pub async fn put(
        &self,
        path: &str,
        bytes: &Uint8Array,
        content_type: &str,
        seed: Option<&str>,
    ) -> Result<(), JsValue> {
        let http = Object::new();
        Reflect::set(&http, &"contentType".into(), &content_type.into())?;
        let custom = Object::new();
        if let Some(seed) = seed {
            Reflect::set(&custom, &"seed".into(), &seed.into())?;
        }
        let options = Object::new();
        Reflect::set(&options, &"httpMetadata".into(), &http)?;
        Reflect::set(&options, &"customMetadata".into(), &custom)?;
        JsFuture::from(self.put_raw(path, bytes, &options)?).await?;
        Ok(())
    }
}
