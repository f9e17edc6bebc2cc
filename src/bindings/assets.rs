//! The Workers Static Assets binding (`ASSETS`), called raw: written with `worker::Env::assets`,
//! `worker::Fetcher::fetch` and `Response::bytes`, the playground made the bundle 6.7 KiB gzip
//! larger (`wrangler deploy --dry-run`: 279.17 against 272.43 KiB).

use js_sys::Promise;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::typed_binding;

/// The binding's name.
pub const ASSETS_BINDING: &str = "ASSETS";

#[wasm_bindgen]
extern "C" {
    /// The assets binding's JS object (a `Fetcher`).
    type Assets;

    #[wasm_bindgen(method, catch)]
    fn fetch(this: &Assets, url: &str) -> Result<Promise, JsValue>;
}

/// Why an asset could not be fetched.
pub enum AssetError {
    /// The binding is missing or of another type: the operator's to fix.
    Unbound(String),
    /// The runtime threw.
    Thrown(JsValue),
}

/// The asset at `url`, as the asset server answers it.
///
/// # Errors
/// [`AssetError`].
pub async fn fetch(env: &Env, url: &str) -> Result<web_sys::Response, AssetError> {
    let assets: Assets = typed_binding(env, ASSETS_BINDING, "Fetcher")
        .map_err(AssetError::Unbound)?
        .unchecked_into();
    let promise = assets.fetch(url).map_err(AssetError::Thrown)?;
    let answer = JsFuture::from(promise).await.map_err(AssetError::Thrown)?;
    Ok(answer.unchecked_into())
}
