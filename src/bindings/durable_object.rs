//! The jobs' Durable Object namespace (`JOBS`): a namespace by name, and a stub called raw:
//! `Stub::fetch_with_request` wraps the answer in a `worker::Response`, whose body the caller
//! would only unwrap again.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Env, ObjectNamespace, Stub};

use super::typed_binding;

#[wasm_bindgen]
extern "C" {
    /// An object's stub, called raw.
    type RawStub;

    #[wasm_bindgen(method, catch, js_name = fetch)]
    fn fetch(this: &RawStub, request: &web_sys::Request) -> Result<js_sys::Promise, JsValue>;

    /// A namespace, called raw: `idFromName` and `get` are all a named object needs, and
    /// `worker::ObjectNamespace`'s glue would weigh on the gateway's bundle.
    type RawNamespace;

    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &RawNamespace, name: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = get)]
    fn get(this: &RawNamespace, id: &JsValue) -> Result<RawStub, JsValue>;
}

/// `request` sent to the object named `name` of the namespace bound as `binding`.
///
/// # Errors
/// `Err(None)`: no such binding; `Err(Some(..))`: what the runtime threw, or an answer that is
/// no `Response`.
pub async fn fetch_named(
    env: &Env,
    binding: &str,
    name: &str,
    request: &web_sys::Request,
) -> Result<web_sys::Response, Option<JsValue>> {
    let namespace: RawNamespace = super::binding(env, binding).ok_or(None)?.unchecked_into();
    let id = namespace.id_from_name(name)?;
    let promise = namespace.get(&id)?.fetch(request)?;
    Ok(JsFuture::from(promise)
        .await?
        .dyn_into::<web_sys::Response>()?)
}

/// The namespace bound as `name` (as `env.durable_object(name)`: `typed_binding` says why not).
///
/// # Errors
/// The binding is missing or of another type.
pub fn namespace(env: &Env, name: &str) -> Result<ObjectNamespace, String> {
    typed_binding(env, name, "DurableObjectNamespace").map(ObjectNamespace::unchecked_from_js)
}

/// `request` sent to the object of `stub`; failures in `worker::Error`'s words, as
/// `fetch_with_request` reported them.
///
/// # Errors
/// What the runtime threw, or an answer that is no `Response`.
pub async fn fetch(stub: Stub, request: &web_sys::Request) -> worker::Result<web_sys::Response> {
    let stub: RawStub = stub.into_rpc();
    let promise = stub.fetch(request).map_err(worker::Error::from)?;
    let response = JsFuture::from(promise).await.map_err(worker::Error::from)?;
    response
        .dyn_into::<web_sys::Response>()
        .map_err(worker::Error::from)
}

/// A call an object received through [`fetch_named`]: its path and its query's parameters, read
/// by hand (`Request::url` parses with the `url` crate, whose IDNA tables would weigh more than
/// an object's whole code).
pub struct ObjectCall {
    pub path: String,
    query: String,
}

impl ObjectCall {
    #[must_use]
    pub fn of(req: &worker::Request) -> ObjectCall {
        let head = sdxl_core::request_head::RequestHead::new("POST", &req.inner().url());
        ObjectCall {
            path: head.path,
            query: head.query.unwrap_or_default(),
        }
    }

    /// The parameter `name` (empty when absent).
    #[must_use]
    pub fn param(&self, name: &str) -> String {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }

    /// The parameter `name` as a whole number (0 when absent or not one).
    #[must_use]
    pub fn number(&self, name: &str) -> u64 {
        self.param(name).parse().unwrap_or(0)
    }
}

/// The first row of an object's SQL query that always answers one (a `SUM`, a `COUNT`).
///
/// # Errors
/// No row, or what the storage threw.
pub fn first_row(mut cursor: worker::SqlCursor) -> worker::Result<JsValue> {
    Iterator::next(&mut cursor).ok_or_else(|| worker::Error::RustError("no row".into()))?
}

/// The whole number in column `name` of a SQL row (0 when absent).
#[must_use]
pub fn whole(row: &JsValue, name: &str) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = js_sys::Reflect::get(row, &name.into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0) as u64;
    n
}
