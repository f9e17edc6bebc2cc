//! Carries out the plan `sdxl_core::dispatch::plan` makes for a request: the documents, the
//! playground, permalinks, generation, and the local admin routes.

use std::cell::OnceCell;

use sdxl_core::answer::preflight_headers;
use sdxl_core::dispatch::{plan, Admin, Fields, Plan};
use sdxl_core::documents;
use sdxl_core::request_head::RequestHead;
use worker::{Headers, Request, Response};

use crate::access::rate_limit;
use crate::cache_tiers::Tiers;
use crate::failure::Handled;
use crate::gateway::Gateway;
use crate::responses::{json_document, set_all, with_mutable_headers};
use crate::{generate, permalink};

/// The gateway Worker's routes.
pub(crate) struct GatewayRoutes;

impl crate::Routes for GatewayRoutes {
    async fn handle(gateway: &mut Gateway<'_>, head: &RequestHead, req: Request) -> Handled {
        handle(gateway, head, req).await
    }
}

pub async fn handle(gateway: &mut Gateway<'_>, head: &RequestHead, req: Request) -> Handled {
    let config = gateway.config;
    let planned = match plan(head, config.local_admin) {
        Ok(planned) => planned,
        Err(refusal) => return crate::openai::refuse_unplanned(gateway, head, refusal),
    };
    match planned {
        Plan::Preflight => {
            let headers = Headers::new();
            set_all(
                &headers,
                &preflight_headers(&config.cors, head.origin.as_deref()),
            )?;
            Ok(Response::empty()?.with_status(204).with_headers(headers))
        }
        Plan::Admin(admin) => local_admin(gateway, head, &req, admin).await,
        // OpenAI's Images API: its own errors envelope, so it checks access itself.
        Plan::OpenAi(route) => crate::openai::handle(gateway, head, req, route).await,
        // Answered by the jobs Worker (its build routes with `jobs::route` instead of this).
        Plan::Jobs(_) => {
            crate::jobs_worker::can_serve_jobs(gateway)?;
            crate::jobs_worker::forward(gateway, req).await
        }
        // Documentation is public: it says what is enforced, nothing more.
        Plan::Models => {
            let body = document(gateway, head, &DOCS_MODELS, documents::MODELS).await?;
            Ok(json_document(body)?)
        }
        Plan::OpenApi => {
            let file = documents::openapi_file(config.allow_anonymous);
            let body = document(gateway, head, &DOCS_OPENAPI, file).await?;
            Ok(json_document(body)?)
        }
        Plan::Usage => {
            // The caller's own, or with an operator's token any caller's (`?caller=`).
            let subject = sdxl_core::quota::usage_subject(head, config)
                .map_err(sdxl_core::ApiError::Unauthorized)?;
            rate_limit(gateway, subject.rate_key).await?;
            let caller = subject.caller;
            gateway.trace.caller = Some(caller.clone());
            let usage = crate::quota::usage(gateway.env, &caller).await?;
            let mut response = Response::ok(usage)?;
            let headers = response.headers_mut();
            headers.set("content-type", "application/json")?;
            headers.set("cache-control", "no-store")?;
            Ok(response)
        }
        Plan::Playground => crate::playground::page(gateway.env, &head.url_origin).await,
        // Permalinks serve results someone already paid for, by an id only those answered
        // know: public, so they work in <img src> and behind a CDN. Rate limited all the same.
        Plan::Permalink { id, delivery } => {
            rate_limit(gateway, head.client_id()).await?;
            permalink::serve(gateway, head, id, delivery).await
        }
        Plan::Generate {
            model,
            delivery,
            fields,
        } => {
            let caller = head
                .caller(config)
                .map_err(sdxl_core::ApiError::Unauthorized)?;
            rate_limit(gateway, caller.clone()).await?;
            gateway.trace.caller = Some(caller.clone());
            gateway.trace.rate_key = Some(caller);
            let spec = model?;
            match fields {
                Fields::Body => generate::from_body(gateway, head, req, spec, delivery).await,
                Fields::Query => generate::from_query(gateway, head, spec, delivery).await,
            }
        }
    }
}

thread_local! {
    /// The documents as served, read once per isolate: they depend only on the tables (built
    /// into the assets with this Worker) and the settings, fixed for an isolate's life.
    static DOCS_MODELS: OnceCell<String> = const { OnceCell::new() };
    static DOCS_OPENAPI: OnceCell<String> = const { OnceCell::new() };
}

/// A served document (`sdxl_core::documents`): its file among the static assets, with this
/// Worker's `MAX_PROMPT_CHARS` applied. Public, not rate limited.
async fn document(
    gateway: &Gateway<'_>,
    head: &RequestHead,
    kept: &'static std::thread::LocalKey<OnceCell<String>>,
    file: &str,
) -> Handled<String> {
    if let Some(text) = kept.with(|k| k.get().cloned()) {
        return Ok(text);
    }
    let url = format!("{}/{}/{file}", head.url_origin, documents::ASSET_DIR);
    let bytes = crate::playground::asset(gateway.env, &url, "the API documents").await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| crate::failure::Failure::Misconfigured(format!("{url} is not UTF-8")))?;
    let text = documents::bounded(&text, gateway.config.policy.max_prompt_chars);
    Ok(kept.with(|k| k.get_or_init(|| text).clone()))
}

/// Local runs only (`LOCAL_ADMIN`): the stand-in's admin API, the memory report (this Worker's,
/// or with `?worker=jobs` the jobs Worker's), and emptying the memory and Cache API tiers of one
/// key.
async fn local_admin(
    gateway: &Gateway<'_>,
    head: &RequestHead,
    req: &Request,
    admin: Admin<'_>,
) -> Handled {
    let config = gateway.config;
    match admin {
        Admin::StandIn => {
            let forwarded = gateway
                .env
                .service("AI")?
                .fetch_request(req.clone()?)
                .await?;
            Ok(with_mutable_headers(forwarded)?)
        }
        // The jobs Worker's own isolate, for the tests that hold it to its budget too.
        Admin::Memory if head.query.as_deref() == Some("worker=jobs") => {
            crate::jobs_worker::forward(gateway, req.clone()?).await
        }
        Admin::Memory => Ok(Response::from_json(&crate::memory::report(config))?),
        Admin::Trap if config.local_trap => {
            // On wasm32 `abort` is the `unreachable` instruction: a trap, as a bug would make.
            std::process::abort()
        }
        Admin::Trap => Err(sdxl_core::ApiError::NotFound {
            method: head.method.as_str().to_owned(),
            path: head.path.clone(),
        }
        .into()),
        Admin::Stored { key } => {
            let bucket = crate::bindings::r2::R2Bucket::from_env(gateway.env);
            let exists = match bucket {
                Some(bucket) => bucket.get(key).await?.is_some(),
                None => false,
            };
            Ok(Response::from_json(
                &serde_json::json!({ "key": key, "exists": exists }),
            )?)
        }
        Admin::ForgetLocally { key } => {
            let tiers = Tiers::new(gateway.env, config.memory_tier_bytes(), &head.url_origin);
            let deleted = tiers.forget_locally(key).await?;
            Ok(Response::from_json(
                &serde_json::json!({ "deleted": deleted }),
            )?)
        }
    }
}
