//! The browser playground, served at `/` (a browser's GET with no query): `playground/index.html`,
//! a Workers Static Asset that `wrangler deploy` uploads beside the script (wrangler.toml's
//! `[assets]`), so the page is not in the Wasm, nor in the script bundle's size. With
//! `run_worker_first` every request reaches this Worker first and is routed as ever; the page is
//! only reached through the `ASSETS` binding, here.

use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;
use worker::{Env, Response};

use crate::bindings::assets::{self, AssetError, ASSETS_BINDING};
use crate::failure::{Failure, Handled};

/// The page, for a request to `origin`.
pub async fn page(env: &Env, origin: &str) -> Handled {
    // `/` is the assets directory's index.html (`/index.html` is a redirect to `/`). Always a
    // GET: a HEAD is answered from GET's answer (lib.rs).
    let bytes = asset(env, &format!("{origin}/"), "the playground page").await?;
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

/// The bytes of the asset at `url` (`what` it is, for the operator), read whole in the JS heap:
/// they never enter Wasm memory.
///
/// # Errors
/// A missing binding or asset is a misconfiguration; a runtime failure is internal.
pub async fn asset(env: &Env, url: &str, what: &str) -> Handled<Uint8Array> {
    let asset = assets::fetch(env, url).await.map_err(|e| match e {
        AssetError::Unbound(e) => Failure::Misconfigured(format!(
            "the {ASSETS_BINDING} binding ({what}, [assets] in wrangler.toml): {e}"
        )),
        AssetError::Thrown(e) => Failure::from(e),
    })?;
    if asset.status() != 200 {
        return Err(Failure::Misconfigured(format!(
            "the {ASSETS_BINDING} binding answered {} for {what}",
            asset.status()
        )));
    }
    Ok(Uint8Array::new(
        &JsFuture::from(asset.array_buffer()?).await?,
    ))
}
