//! Which handler answers a request, and in which form: the plan each route of the route table
//! (`route::Route`, with its methods and surface) makes, the delivery a client negotiates, and
//! the local admin routes.

use crate::envelope::ApiError;
use crate::headers::{wanted, Wanted};
use crate::jobs::JobsRoute;
use crate::model::Output;
use crate::models;
use crate::openai::OpenAiRoute;
use crate::request_head::{Method, RequestHead};
use crate::route::Route;
use crate::ModelSpec;

/// The form a generated (or stored) image is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The image bytes, typed by what they are.
    Image,
    /// `Accept: application/json`: the v4 envelope with `result.image` (base64),
    /// `result.content_type` and `result.seed`.
    Envelope,
    /// The REST API's answer for JSON models: the v4 envelope with `result.image` alone.
    RestEnvelope,
}

impl Delivery {
    /// The entity tag of this representation: the key for the bytes, the key marked `.json` for
    /// an envelope (same image, different body, so a different tag).
    #[must_use]
    pub fn entity_tag(self, key: &str) -> String {
        match self {
            Delivery::Image => key.to_owned(),
            Delivery::Envelope => format!("{key}.json"),
            Delivery::RestEnvelope => format!("{key}.rest.json"),
        }
    }

    /// Bytes, unless the client asked for JSON.
    #[must_use]
    pub fn negotiated(accept: Option<&str>) -> Delivery {
        match wanted(accept) {
            Wanted::Json => Delivery::Envelope,
            Wanted::Image | Wanted::Html => Delivery::Image,
        }
    }
}

/// Where a generation request's fields come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// `POST`: a JSON, multipart or url-encoded body.
    Body,
    /// `GET` (and `HEAD`): the query string, so results can sit in `<img src>`.
    Query,
}

/// What answers a request.
#[derive(Debug)]
pub enum Plan<'a> {
    /// `OPTIONS`, anywhere: a CORS preflight.
    Preflight,
    /// A browser at `/` with no query: the playground page.
    Playground,
    /// `/models`: public.
    Models,
    /// `/openapi.json`: public.
    OpenApi,
    /// `/usage`: the caller's budget and spending, authorized like generation.
    Usage,
    /// `/images/<id>`: public, rate limited by address.
    Permalink { id: &'a str, delivery: Delivery },
    /// Generate (or find) an image: authorized and rate limited first. An unknown model is
    /// refused only after authorization, so a stranger learns nothing of the tables.
    Generate {
        model: Result<&'static ModelSpec, ApiError>,
        delivery: Delivery,
        fields: Fields,
    },
    /// `/v1/...`: OpenAI's Images API, which checks access itself and answers in its own
    /// envelope.
    OpenAi(OpenAiRoute),
    /// `/v1/predictions...`: asynchronous jobs in Replicate's shape (docs/jobs.md), authorized
    /// and rate limited like generation.
    Jobs(JobsRoute),
    /// Local runs only (`LOCAL_ADMIN`).
    Admin(Admin<'a>),
}

/// The local admin routes (`LOCAL_ADMIN = "true"` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin<'a> {
    /// `/__standin/*`, any method: forwarded to the stand-in's admin API.
    StandIn,
    /// `GET /__admin/memory`: the Wasm memory and the budget.
    Memory,
    /// `DELETE /__admin/cache-api/<key>`: empties the memory and Cache API tiers of one key.
    ForgetLocally { key: &'a str },
    /// `GET /__admin/r2/<key>`: whether the `IMAGES` bucket holds `key` (a job's stored input is
    /// deleted when the job ends: jobs-lifetime.test.mjs).
    Stored { key: &'a str },
    /// `POST /__admin/trap`: a Wasm trap, for the test that the isolate still serves after one;
    /// carried out only when `LOCAL_TRAP` is on too (`Config::local_trap`), else a 404.
    Trap,
}

/// The `Allow` header of a route's methods.
#[must_use]
pub fn allow(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What answers `head`.
///
/// # Errors
/// 404 for a path no route takes, 405 (with the route's methods) for a method it does not.
pub fn plan(head: &RequestHead, local_admin: bool) -> Result<Plan<'_>, ApiError> {
    if head.method == Method::Options {
        return Ok(Plan::Preflight);
    }
    if local_admin {
        if let Some(admin) = admin(head) {
            return Ok(Plan::Admin(admin));
        }
    }
    let route = Route::parse(&head.path);
    let Some(methods) = route.methods() else {
        return Err(ApiError::NotFound {
            method: head.method.as_str().to_owned(),
            path: head.path.clone(),
        });
    };
    if !methods.contains(&head.method) {
        return Err(ApiError::MethodNotAllowed {
            method: head.method.as_str().to_owned(),
            path: head.path.clone(),
            allow: allow(methods),
        });
    }
    let accept = head.accept.as_deref();
    let fields = if head.method == Method::Post {
        Fields::Body
    } else {
        Fields::Query
    };
    Ok(match route {
        Route::Image { id } => Plan::Permalink {
            id,
            delivery: Delivery::negotiated(accept),
        },
        Route::Models => Plan::Models,
        Route::OpenApi => Plan::OpenApi,
        Route::Usage => Plan::Usage,
        Route::Jobs(jobs) => Plan::Jobs(jobs),
        Route::OpenAi(openai) => Plan::OpenAi(openai),
        Route::Root
            if fields == Fields::Query
                && head.query.is_none()
                && wanted(accept) == Wanted::Html =>
        {
            Plan::Playground
        }
        Route::Root => Plan::Generate {
            model: Ok(models::ALL[0]),
            delivery: Delivery::negotiated(accept),
            fields,
        },
        Route::Run { model } => Plan::Generate {
            model: model_named(&model),
            delivery: Delivery::negotiated(accept),
            fields,
        },
        // The REST API answers as it always does, whatever `Accept` says: the official SDK
        // sends `Accept: application/json` and still expects bytes from image-stream models.
        Route::Rest { model } => {
            let model = model_named(&model);
            let delivery = match model.as_ref().map(|spec| spec.output) {
                Ok(Output::JsonImageBase64) => Delivery::RestEnvelope,
                _ => Delivery::Image,
            };
            Plan::Generate {
                model,
                delivery,
                fields,
            }
        }
        Route::NotFound => unreachable_route(head),
    })
}

/// `Route::methods` has no entry for `NotFound`, so it never gets here; answered as a 404 all
/// the same rather than a panic.
fn unreachable_route(head: &RequestHead) -> Plan<'_> {
    Plan::Generate {
        model: Err(ApiError::NotFound {
            method: head.method.as_str().to_owned(),
            path: head.path.clone(),
        }),
        delivery: Delivery::Image,
        fields: Fields::Query,
    }
}

fn admin(head: &RequestHead) -> Option<Admin<'_>> {
    if head.path.starts_with("/__standin/") {
        return Some(Admin::StandIn);
    }
    if head.path == "/__admin/memory" && head.method == Method::Get {
        return Some(Admin::Memory);
    }
    if head.path == "/__admin/trap" && head.method == Method::Post {
        return Some(Admin::Trap);
    }
    if let Some(key) = head.path.strip_prefix("/__admin/r2/") {
        return (head.method == Method::Get).then_some(Admin::Stored { key });
    }
    let key = head.path.strip_prefix("/__admin/cache-api/")?;
    (head.method == Method::Delete).then_some(Admin::ForgetLocally { key })
}

/// The model a URL names. The id comes from the URL: echo at most a model id's worth of it.
fn model_named(id: &str) -> Result<&'static ModelSpec, ApiError> {
    models::by_id(id).ok_or_else(|| ApiError::NoSuchModel(id.chars().take(100).collect()))
}

#[cfg(test)]
mod tests;
