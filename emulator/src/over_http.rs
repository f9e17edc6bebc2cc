//! `POST /__standin/run`: `run` over HTTP, for the production rehearsal's AI relay
//! (scripts/rehearse-ai-relay.js), since a stream returned by RPC across `wrangler dev` processes
//! is cut short, and for tests that call the stand-in without the gateway. Both build the request
//! with scripts/standin-call.js.
//!
//! A call is `{"model", "inputs", "options"}` as the JSON body; or, when its inputs carry a
//! stream (FLUX.2's `{multipart: {body, contentType}}`), that stream is the body, unread, and the
//! rest of the call is URI-encoded JSON in `x-standin-call`, with `"streams"` naming the keys
//! whose stream (or whose `body`, when the key holds an object) is the request's body.
//!
//! The answer says what `run` gave in `x-standin-answer`: `stream` (the image stream is the
//! body), `json` (the object, as JSON) or `error` (status 500, `{"name", "message"}` of what it
//! threw).

use js_sys::{Array, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use worker::{Request, Response, Result};

/// The header carrying a streamed call's JSON.
const CALL_HEADER: &str = "x-standin-call";

pub async fn run(req: &mut Request) -> Result<Response> {
    let call = match req.headers().get(CALL_HEADER)? {
        Some(encoded) => streamed_call(req, &encoded)?,
        None => JSON::parse(&req.text().await?).map_err(|_| bad("not JSON"))?,
    };
    let model = field(&call, "model").as_string().unwrap_or_default();
    let (kind, mut response) =
        match crate::binding::run(model, field(&call, "inputs"), field(&call, "options")).await {
            Ok(answer) if answer.is_instance_of::<web_sys::ReadableStream>() => (
                "stream",
                Response::from(web_sys::Response::new_with_opt_readable_stream(Some(
                    answer.unchecked_ref(),
                ))?),
            ),
            Ok(answer) => ("json", Response::ok(json_text(&answer))?),
            Err(thrown) => {
                let text = |name: &str| field(&thrown, name).as_string().unwrap_or_default();
                let error = serde_json::json!({"name": text("name"), "message": text("message")});
                ("error", Response::from_json(&error)?.with_status(500))
            }
        };
    response.headers_mut().set("x-standin-answer", kind)?;
    Ok(response)
}

/// The call in the header, with the request's body put back where its stream was.
fn streamed_call(req: &Request, encoded: &str) -> Result<JsValue> {
    let text = js_sys::decode_uri_component(encoded)
        .map_err(|_| bad("x-standin-call is not URI-encoded"))?;
    let call = JSON::parse(&String::from(text)).map_err(|_| bad("x-standin-call is not JSON"))?;
    let inputs = field(&call, "inputs");
    let body: JsValue = req.inner().body().map_or(JsValue::UNDEFINED, Into::into);
    let keys: Array = field(&call, "streams").dyn_into().unwrap_or_default();
    for key in keys.iter() {
        let holder = Reflect::get(&inputs, &key).unwrap_or(JsValue::UNDEFINED);
        // `{body, contentType}` gets its body back; a bare stream is the key's value.
        let (target, name) = if holder.is_object() {
            (holder, JsValue::from_str("body"))
        } else {
            (inputs.clone(), key)
        };
        Reflect::set(&target, &name, &body).map_err(|_| bad("inputs is not an object"))?;
    }
    Ok(call)
}

fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn json_text(value: &JsValue) -> String {
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

fn bad(reason: &str) -> worker::Error {
    worker::Error::RustError(reason.to_owned())
}
