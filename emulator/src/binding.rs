//! The stand-in as a Worker: an RPC `run(model, inputs)` that behaves like the Workers AI binding
//! for the models in `sdxl-core`'s tables, and a small admin API over `fetch` for tests.

use std::cell::{OnceCell, RefCell};
use std::time::Duration;

use base64::Engine as _;
use futures_util::stream;
use js_sys::{Uint8Array, JSON};
use sdxl_core::inputs::seed_from_unit;
use sdxl_core::model::{Input, Output};
use sdxl_core::models;
use sdxl_core::{validate_json, ModelSpec, Normalized, Policy};
use wasm_bindgen::prelude::*;
use worker::{event, Context, Delay, Env, Method, Request, Response, Result};

use crate::codec::{self, OutputFormat};
use crate::ledger::{ArmRequest, Behaviour, Ledger};
use crate::multipart::{self, check_stream_call, Form, Refusal, StreamCall};
use crate::multipart_run;
use crate::paint::{paint, PaintRequest};
use crate::render::render;
use crate::thrown::Thrown;

thread_local! {
    static LEDGER: RefCell<Ledger> = RefCell::new(Ledger::default());
    /// The answer to every run when `STANDIN_PRECOMPUTED` is on: painted and encoded once.
    static PRECOMPUTED: OnceCell<Vec<u8>> = const { OnceCell::new() };
}

#[wasm_bindgen(module = "cloudflare:workers")]
extern "C" {
    /// The Worker's bindings. Exported RPC functions are not handed `env`, so read it this way.
    #[wasm_bindgen(thread_local_v2, js_name = env)]
    static WORKER_ENV: JsValue;
}

/// The side of the precomputed picture: the smallest the model draws, so it costs little to send.
const PRECOMPUTED_SIDE: u32 = 256;

/// `env.AI.run(model, inputs, options)`: what the model's table says it answers — a
/// `ReadableStream` of image bytes (Stable Diffusion: PNG; Phoenix: JPEG) or an object
/// `{image: "<base64 JPEG>"}` (FLUX, Lucid Origin, FLUX.2) — or a thrown `AiError` whose message
/// is `"<code>: <reason>"`, as the real binding throws (and `AiInternalError` for what the
/// binding refuses itself). A JSON model takes its fields as `inputs`; a multipart model (FLUX.2)
/// takes `{multipart: {body, contentType}}`, the form as a stream (`multipart`). `options` is
/// only recorded, for tests, and checked for AI Gateway, which takes no stream.
///
/// With `STANDIN_PRECOMPUTED = "true"` (benchmarks) every run of a known model answers the same
/// precomputed PNG at once: the inputs are neither validated nor read (a multipart body is read
/// to its end and let go), and no fault is applied, so the stand-in costs next to nothing and the
/// callers' own work is what gets measured.
#[wasm_bindgen]
pub async fn run(
    model: String,
    inputs: JsValue,
    options: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let spec = models::by_id(&model)
        .ok_or_else(|| ai_error(5007, &format!("No such model {model} or task")))?;
    let streams = multipart_run::find(&inputs);
    if var("STANDIN_PRECOMPUTED").as_deref().map(str::trim) == Some("true") {
        if let Some((body, _)) = &streams.first {
            multipart_run::drain(body).await;
        }
        let image = PRECOMPUTED.with(|p| p.get_or_init(precomputed_image).clone());
        return answer(spec, image);
    }
    let normalized = if streams.keys.is_empty() {
        from_json(spec, &inputs)?
    } else {
        from_form(spec, &streams, &options)
            .await
            .map_err(|e| thrown(&e))?
    };
    let prompt = normalized.inputs.text("prompt").unwrap_or_default();
    let options = (!options.is_undefined() && !options.is_null())
        .then(|| JSON::stringify(&options).ok()?.as_string())
        .flatten()
        .and_then(|text| serde_json::from_str(&text).ok());
    let plan = LEDGER.with(|l| {
        let mut ledger = l.borrow_mut();
        ledger.note_options(prompt, options);
        ledger.start_run(prompt)
    });

    match plan.fault {
        Some((Behaviour::Capacity, _)) => {
            return Err(ai_error(
                3040,
                "Capacity temporarily exceeded, please try again.",
            ))
        }
        Some((Behaviour::Allocation, _)) => {
            return Err(ai_error(
                3036,
                "You have used up your daily free allocation of 10,000 neurons.",
            ))
        }
        Some((Behaviour::BadInput, _)) => {
            return Err(ai_error(
                5006,
                "Error: the stand-in was armed to refuse this input",
            ))
        }
        Some((Behaviour::Timeout, delay_ms)) => {
            Delay::from(Duration::from_millis(u64::from(delay_ms))).await;
            return Err(ai_error(3007, "Timeout"));
        }
        Some((Behaviour::Slow, delay_ms)) => {
            Delay::from(Duration::from_millis(u64::from(delay_ms))).await;
        }
        Some((Behaviour::NotImage, _)) => {
            return Ok(bytes_stream(b"{\"response\":\"this is not an image\"}".to_vec())?.into())
        }
        _ => {}
    }

    let format = plan.format.unwrap_or_else(|| match spec.output {
        // Only the SD family's format is in doubt (the docs say PNG, users saw JPEG).
        Output::ImageStream {
            documented: "image/png",
        } => configured_format(),
        _ => OutputFormat::Jpeg,
    });
    let image =
        render(spec, &normalized, format).map_err(|e| ai_error(e.code(), &e.to_string()))?;
    match plan.fault {
        Some((Behaviour::CutShort, _)) if spec.output == Output::JsonImageBase64 => {
            Err(ai_error(3043, "the connection to the model was cut short"))
        }
        Some((Behaviour::CutShort, _)) => Ok(cut_short_stream(&image).into()),
        Some((Behaviour::Truncated, _)) => answer(spec, image[..image.len() / 2].to_vec()),
        _ => answer(spec, image),
    }
}

/// The inputs of a run without a stream: a JSON model's fields, validated by its table. A
/// multipart model's schema takes only `{multipart: {body, contentType}}` with a stream.
fn from_json(
    spec: &'static ModelSpec,
    inputs: &JsValue,
) -> std::result::Result<Normalized, JsValue> {
    let json = JSON::stringify(inputs)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| ai_error(5006, "Error: inputs must be an object"))?;
    if spec.input == Input::Multipart {
        let value = serde_json::from_str(&json).unwrap_or(serde_json::Value::Null);
        return Err(thrown(&multipart::refuse_json_inputs(&value).thrown()));
    }
    validate_json(spec, json.as_bytes(), Policy::default(), &mut draw_seed)
        .map_err(|e| thrown(&Thrown::invalid(&e)))
}

/// The inputs of a run with a stream: refused as the binding and the service refuse the call,
/// else the form split by the runtime, kept in the ledger, and validated by the model's table.
async fn from_form(
    spec: &'static ModelSpec,
    streams: &multipart_run::Streams,
    options: &JsValue,
) -> std::result::Result<Normalized, Thrown> {
    // Called with at least one stream key, so there is a first stream.
    let (body, content_type) = streams
        .first
        .as_ref()
        .ok_or_else(|| Refusal::NoContentType.thrown())?;
    let content_type = multipart_run::content_type(content_type);
    let call = StreamCall {
        spec,
        stream_keys: &streams.keys,
        other_keys: &streams.others,
        through_ai_gateway: multipart_run::through_ai_gateway(options),
        content_type: content_type.as_deref(),
    };
    let content_type = check_stream_call(&call).map_err(|r| r.thrown())?;
    let parts = multipart_run::form_parts(body, content_type)
        .await
        .map_err(|r| r.thrown())?;
    let Form {
        prompt,
        raw,
        received,
    } = multipart::read_form(spec, content_type, parts);
    LEDGER.with(|l| l.borrow_mut().note_multipart(&prompt, received));
    multipart::validate(spec, raw, &mut draw_seed)
}

/// A seed for a run that did not send one, as the real model would draw it.
fn draw_seed() -> i64 {
    seed_from_unit(js_sys::Math::random())
}

/// The bytes in the shape the model answers in: a stream, or `{image: "<base64>"}`.
fn answer(spec: &ModelSpec, image: Vec<u8>) -> std::result::Result<JsValue, JsValue> {
    match spec.output {
        Output::ImageStream { .. } => Ok(bytes_stream(image)?.into()),
        Output::JsonImageBase64 => {
            let object = js_sys::Object::new();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&image);
            js_sys::Reflect::set(&object, &"image".into(), &encoded.into())?;
            Ok(object.into())
        }
    }
}

/// The picture answered in precomputed mode: a fixed prompt and seed, PNG.
fn precomputed_image() -> Vec<u8> {
    let request = PaintRequest {
        prompt: "the stand-in's precomputed picture",
        negative_prompt: None,
        width: PRECOMPUTED_SIDE,
        height: PRECOMPUTED_SIDE,
        num_steps: 20,
        guidance: 7.5,
        strength: 1.0,
        seed: 0,
        image: None,
        mask: None,
        references: &[],
    };
    codec::encode(&paint(&request), OutputFormat::Png)
}

/// A string from this Worker's `[vars]`.
fn var(name: &str) -> Option<String> {
    WORKER_ENV.with(|env| {
        js_sys::Reflect::get(env, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    })
}

/// The output format from `STANDIN_OUTPUT_FORMAT` ("png" unless it says "jpeg").
fn configured_format() -> OutputFormat {
    match var("STANDIN_OUTPUT_FORMAT").as_deref().map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("jpeg") || v.eq_ignore_ascii_case("jpg") => {
            OutputFormat::Jpeg
        }
        _ => OutputFormat::Png,
    }
}

/// An error shaped like the binding's: name `AiError`, message `"<code>: <reason>"`.
fn ai_error(code: u32, reason: &str) -> JsValue {
    thrown(&Thrown::service(code, reason))
}

/// A JS `Error` with the name and message the real binding would throw.
fn thrown(what: &Thrown) -> JsValue {
    let error = js_sys::Error::new(&what.message);
    error.set_name(what.name);
    error.into()
}

fn bytes_stream(mut bytes: Vec<u8>) -> std::result::Result<web_sys::ReadableStream, JsValue> {
    let response = web_sys::Response::new_with_opt_u8_array(Some(&mut bytes))?;
    response
        .body()
        .ok_or_else(|| ai_error(3043, "the stand-in could not make a stream"))
}

/// Half the image, then an error: what a client sees when the connection to the model drops.
fn cut_short_stream(image: &[u8]) -> web_sys::ReadableStream {
    let half = Uint8Array::from(&image[..image.len() / 2]);
    let chunks: Vec<std::result::Result<JsValue, JsValue>> = vec![
        Ok(half.into()),
        Err(ai_error(3043, "the stream was cut short")),
    ];
    wasm_streams::ReadableStream::from_stream(stream::iter(chunks)).into_raw()
}

/// Admin API for tests, reached through the gateway's `/__standin/*` in local runs.
#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Get, "/__standin/stats") => {
            let url = req.url()?;
            let prompt = url
                .query_pairs()
                .find(|(k, _)| k == "prompt")
                .map(|(_, v)| v.into_owned());
            let stats = LEDGER.with(|l| l.borrow().stats(prompt.as_deref()));
            Response::from_json(&stats)
        }
        (Method::Post, "/__standin/arm") => match req.json::<ArmRequest>().await {
            Ok(arm) => {
                LEDGER.with(|l| l.borrow_mut().arm(arm));
                Response::from_json(&serde_json::json!({"armed": true}))
            }
            Err(e) => Response::error(format!("bad arm request: {e}"), 400),
        },
        (Method::Delete, "/__standin/arm") => {
            LEDGER.with(|l| l.borrow_mut().disarm_all());
            Response::from_json(&serde_json::json!({"armed": false}))
        }
        (Method::Post, "/__standin/run") => crate::over_http::run(&mut req).await,
        _ => Response::error(format!("the stand-in has no route {path}"), 404),
    }
}
