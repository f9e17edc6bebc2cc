//! The browser playground, served at `/` (a browser's GET with no query): `playground/index.html`,
//! a Workers Static Asset that `wrangler deploy` uploads beside the script (wrangler.toml's
//! `[assets]`), so the page is not in the Wasm, nor in the script bundle's size. With
//! `run_worker_first` every request reaches this Worker first and is routed as ever; the page is
//! only reached through the `ASSETS` binding, here.
//!
//! The binding is called raw, as `AI` and `IMAGES` are: written with `worker::Env::assets`,
//! `worker::Fetcher::fetch` and `Response::bytes`, this module made the bundle 6.7 KiB gzip
//! larger (`wrangler deploy --dry-run`: 279.17 against 272.43 KiB).

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Env, Response};

use crate::bindings::typed_binding;
use crate::failure::{Failure, Handled};

/// The Workers Static Assets binding holding the page.
const ASSETS_BINDING: &str = "ASSETS";

#[wasm_bindgen]
extern "C" {
    /// The assets binding's JS object (a `Fetcher`).
    type Assets;

    #[wasm_bindgen(method, catch)]
    fn fetch(this: &Assets, url: &str) -> Result<Promise, JsValue>;
}

/// The page, for a request to `origin`.
pub async fn page(env: &Env, origin: &str) -> Handled {
    let assets: Assets = typed_binding(env, ASSETS_BINDING, "Fetcher")
        .map_err(|e| {
            Failure::Misconfigured(format!(
                "the {ASSETS_BINDING} binding (the playground page, [assets] in wrangler.toml): {e}"
            ))
        })?
        .unchecked_into();
    // `/` is the assets directory's index.html (`/index.html` is a redirect to `/`). Always a
    // GET: a HEAD is answered from GET's answer (lib.rs).
    let asset: web_sys::Response = JsFuture::from(assets.fetch(&format!("{origin}/"))?)
        .await?
        .unchecked_into();
    if asset.status() != 200 {
        return Err(Failure::Misconfigured(format!(
            "the {ASSETS_BINDING} binding answered {} for the playground page",
            asset.status()
        )));
    }
    // Read whole in the JS heap; the page's bytes never enter Wasm memory.
    let bytes = Uint8Array::new(&JsFuture::from(asset.array_buffer()?).await?);
    // Only the page's bytes are kept, not the asset server's headers (`etag`, `cache-control:
    // public, max-age=0, must-revalidate`, `cf-cache-status`): they describe a file with a URL of
    // its own. Here the page is one of two answers at `/`, chosen by `Accept` (everything but a
    // browser's GET generates there): `public` would let a shared cache keep the page for `/`,
    // and an `etag` would only make browsers ask conditionally, which this Worker does not answer
    // for the page. So it is answered as before it left the Wasm: loaded afresh on each visit (no
    // validator, so no heuristic caching either), which after a deploy is what a user expects,
    // the new page with the new API, for 11 KiB gzipped.
    // A whole body, not a stream, so GET and HEAD both state its length.
    let mut page = Response::from(web_sys::Response::new_with_opt_buffer_source(Some(&bytes))?);
    page.headers_mut()
        .set("content-type", "text/html; charset=utf-8")?;
    Ok(page)
}
