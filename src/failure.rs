//! Everything a handler can fail with, turned into one response shape at the top.

use std::rc::Rc;

use sdxl_core::ApiError;
use wasm_bindgen::JsValue;

use crate::trace::Trace;

/// Everything a handler can fail with; `sdxl_core::answer::failure_answer` turns it into the
/// answer.
pub enum Failure {
    /// The client's request, or the model, failed in a way the contract names. Shared because
    /// requests that joined one model run share its failure too.
    Api(Rc<ApiError>),
    /// The operator's configuration is wrong (a missing binding, an unreadable setting).
    Misconfigured(String),
    /// The runtime refused something it should not have; reported without internals.
    Internal(String),
}

pub type Handled<T = worker::Response> = Result<T, Failure>;

impl Failure {
    /// Notes the failure on the request's record, whatever envelope answers it: a refusal's
    /// first code in the log line; the operator's and the runtime's failures in an error log
    /// line, since their answers say nothing of the cause.
    pub fn note(&self, trace: &mut Trace) {
        match self {
            Failure::Api(error) => trace.log.error_code = error.items().first().map(|i| i.code),
            Failure::Misconfigured(reason) | Failure::Internal(reason) => {
                worker::console_error!("request {} failed: {reason}", trace.id());
            }
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(Rc::new(e))
    }
}

impl From<Rc<ApiError>> for Failure {
    fn from(e: Rc<ApiError>) -> Self {
        Failure::Api(e)
    }
}

impl From<worker::Error> for Failure {
    fn from(e: worker::Error) -> Self {
        Failure::Internal(e.to_string())
    }
}

impl From<JsValue> for Failure {
    fn from(e: JsValue) -> Self {
        Failure::Internal(format!("{e:?}"))
    }
}
