//! Outbound requests (webhooks, and calls to Durable Objects): the runtime's global `fetch`,
//! called as `worker::Fetch` calls it (with no abort signal), raw: `Fetch` converts its answer to
//! a `worker::Response`, glue the bundle need not carry; and the small requests and bodies these
//! calls are made of.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Result<js_sys::Promise, JsValue>;
}

/// `request` sent out; its answer.
///
/// # Errors
/// What the runtime threw (no connection, a refused URL), or an answer that is no `Response`.
pub async fn fetch(request: &web_sys::Request) -> Result<web_sys::Response, JsValue> {
    let answer = JsFuture::from(global_fetch(request)?).await?;
    answer.dyn_into()
}

/// A `POST` of `body` to `url`, made with `web_sys` directly: `worker::RequestInit` would bring
/// its serializers of `cf` options (image resizing and more) into the bundle. It never follows a
/// redirect: a webhook receiver that answers 3xx has not received it (and a redirect could lead
/// a signed delivery anywhere).
pub fn post(
    url: &str,
    body: Option<&str>,
    headers: Option<&web_sys::Headers>,
) -> worker::Result<worker::Request> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    js_sys::Reflect::set(&init, &"redirect".into(), &"manual".into())?;
    if let Some(body) = body {
        init.set_body(&wasm_bindgen::JsValue::from_str(body));
    }
    if let Some(headers) = headers {
        init.set_headers(headers);
    }
    Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
}

/// The text of a body (`Request.text()` or `Response.text()` in JS): the `worker` crate's own
/// `text()` of either would bring its body-stream handling into the bundle for these small JSON
/// bodies.
pub async fn body_text(
    text: Result<js_sys::Promise, wasm_bindgen::JsValue>,
) -> worker::Result<String> {
    let text = wasm_bindgen_futures::JsFuture::from(text?).await?;
    text.as_string()
        .ok_or_else(|| worker::Error::RustError("the body is not text".into()))
}
