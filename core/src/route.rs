//! The route table: which resource a request path names, which methods it takes and which
//! surface it belongs to, each declared once, beside the others (as a router declares method
//! and path together). The path is parsed once per request, here. Pure, so every route shape is
//! tested natively.
//!
//! Model ids contain slashes. The official `cloudflare` SDK sends them percent-encoded
//! (`@cf%2Fbytedance%2F...`), curl users type them raw: both are accepted.

use std::borrow::Cow;

use crate::jobs::JobsRoute;
use crate::openai::OpenAiRoute;
use crate::request_head::Method;

/// A path the gateway serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/`: the default model (or, for a browser, the playground).
    Root,
    /// `/ai/run/<model>`: the gateway's own route, with output negotiation.
    Run {
        model: Cow<'a, str>,
    },
    /// `/client/v4/accounts/<account>/ai/run/<model>`: the Workers AI REST API's route,
    /// answered exactly as that API answers.
    Rest {
        model: Cow<'a, str>,
    },
    /// `/images/<id>`: a stored result, by its permalink id.
    Image {
        id: &'a str,
    },
    /// `/models`: the catalog.
    Models,
    /// `/openapi.json`.
    OpenApi,
    /// `/usage`: the caller's own budget and what it spent (`crate::quota`).
    Usage,
    /// `/v1/...` but the predictions: the OpenAI Images API (its own 404 under `/v1`, in its
    /// envelope).
    OpenAi(OpenAiRoute),
    /// `/v1/predictions...`, `/v1/models/{owner}/{name}/predictions`: Replicate-shaped jobs.
    Jobs(JobsRoute),
    NotFound,
}

/// Methods a route that only reads takes. `HEAD` is answered wherever `GET` is, with the same
/// headers and no body.
pub const READ: &[Method] = &[Method::Get, Method::Head];
/// Methods a generation route takes: `GET`/`HEAD` with a query, `POST` with a body.
pub const GENERATE: &[Method] = &[Method::Get, Method::Head, Method::Post];
/// What the Workers AI REST API takes; so do OpenAI's image routes and job creation.
pub const POST: &[Method] = &[Method::Post];

/// Which surface a request came through: it decides the shape of every refusal, decided once
/// from the path and carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The gateway's own routes: the v4 envelope.
    Native,
    /// The Workers AI REST drop-in: the v4 envelope with `"result": {}`, as that API answers.
    Rest,
    /// OpenAI's Images API under `/v1`: OpenAI's error object.
    OpenAi,
    /// Replicate-shaped predictions under `/v1`: Replicate's `title`/`detail`/`status`, beside
    /// the v4 envelope's fields.
    Jobs,
}

impl Surface {
    /// Its name in logs and analytics.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Surface::Native => "native",
            Surface::Rest => "rest",
            Surface::OpenAi => "openai",
            Surface::Jobs => "jobs",
        }
    }

    /// The surface of `path`.
    #[must_use]
    pub fn of(path: &str) -> Surface {
        Route::parse(path).surface()
    }
}

const RUN: &str = "/ai/run/";
const REST: &str = "/client/v4/accounts/";

impl<'a> Route<'a> {
    #[must_use]
    pub fn parse(path: &'a str) -> Route<'a> {
        match path {
            "/" => return Route::Root,
            "/models" => return Route::Models,
            "/openapi.json" => return Route::OpenApi,
            "/usage" => return Route::Usage,
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("/v1").filter(|r| r.starts_with('/')) {
            return match JobsRoute::parse(rest) {
                Some(jobs) => Route::Jobs(jobs),
                None => Route::OpenAi(OpenAiRoute::parse(rest)),
            };
        }
        if let Some(id) = path.strip_prefix("/images/") {
            return Route::Image { id };
        }
        if let Some(model) = path.strip_prefix(RUN) {
            return Route::Run {
                model: decode(model),
            };
        }
        if let Some(rest) = path.strip_prefix(REST) {
            if let Some((account, model)) = rest.split_once(RUN) {
                if !account.is_empty() && !account.contains('/') && !model.is_empty() {
                    return Route::Rest {
                        model: decode(model),
                    };
                }
            }
        }
        Route::NotFound
    }

    /// The methods the route takes (`None`: no route, a 404).
    #[must_use]
    pub fn methods(&self) -> Option<&'static [Method]> {
        match self {
            Route::Root | Route::Run { .. } => Some(GENERATE),
            Route::Rest { .. } => Some(POST),
            Route::Image { .. } | Route::Models | Route::OpenApi | Route::Usage => Some(READ),
            Route::Jobs(JobsRoute::Get { .. } | JobsRoute::WebhookSecret) => Some(READ),
            Route::Jobs(_) => Some(POST),
            Route::OpenAi(OpenAiRoute::Generations | OpenAiRoute::Edits) => Some(POST),
            Route::OpenAi(OpenAiRoute::Models | OpenAiRoute::Model(_)) => Some(READ),
            Route::OpenAi(OpenAiRoute::NotFound) | Route::NotFound => None,
        }
    }

    /// The surface the route belongs to. A path under `/v1` that names no route is OpenAI's
    /// (its SDKs' base URL ends in `/v1`), so even its 404 is in OpenAI's envelope.
    #[must_use]
    pub fn surface(&self) -> Surface {
        match self {
            Route::Rest { .. } => Surface::Rest,
            Route::Jobs(_) => Surface::Jobs,
            Route::OpenAi(_) => Surface::OpenAi,
            Route::Root
            | Route::Run { .. }
            | Route::Image { .. }
            | Route::Models
            | Route::OpenApi
            | Route::Usage
            | Route::NotFound => Surface::Native,
        }
    }
}

/// The parts of an absolute request URL (`scheme://host[:port]/path?query`) the gateway reads:
/// the origin and the query string. Workers hand every request over with such a URL, so this
/// needs no general URL parser (the `url` crate and its IDNA tables weigh ~10 KiB of bundle).
#[must_use]
pub fn origin_and_query(url: &str) -> (&str, Option<&str>) {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let after_scheme = without_fragment.find("://").map_or(0, |i| i + 3);
    let origin_end = without_fragment[after_scheme..]
        .find(['/', '?'])
        .map_or(without_fragment.len(), |i| after_scheme + i);
    let query = without_fragment.split_once('?').map(|(_, q)| q);
    (&without_fragment[..origin_end], query)
}

/// Percent-decodes a path segment; bytes that do not form UTF-8 are replaced (such a model id
/// cannot exist, and is refused as unknown).
fn decode(segment: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::Route;

    const ID: &str = "@cf/bytedance/stable-diffusion-xl-lightning";

    #[test]
    fn model_ids_raw_or_encoded() {
        for path in [
            "/ai/run/@cf/bytedance/stable-diffusion-xl-lightning",
            "/ai/run/@cf%2Fbytedance%2Fstable-diffusion-xl-lightning",
            "/ai/run/%40cf%2Fbytedance%2Fstable-diffusion-xl-lightning",
        ] {
            assert_eq!(
                Route::parse(path),
                Route::Run { model: ID.into() },
                "{path}"
            );
        }
        let rest =
            "/client/v4/accounts/acc123/ai/run/@cf%2Fbytedance%2Fstable-diffusion-xl-lightning";
        assert_eq!(Route::parse(rest), Route::Rest { model: ID.into() });
        let raw = format!("/client/v4/accounts/acc123/ai/run/{ID}");
        assert!(matches!(Route::parse(&raw), Route::Rest { .. }));
    }

    #[test]
    fn origin_and_query_of_request_urls() {
        use super::origin_and_query;
        assert_eq!(
            origin_and_query("http://127.0.0.1:8787/?prompt=a%20b&seed=1"),
            ("http://127.0.0.1:8787", Some("prompt=a%20b&seed=1"))
        );
        assert_eq!(
            origin_and_query("https://img.example.com/ai/run/@cf/x/y"),
            ("https://img.example.com", None)
        );
        assert_eq!(
            origin_and_query("https://h.example/?a=1#frag?b=2"),
            ("https://h.example", Some("a=1"))
        );
        assert_eq!(
            origin_and_query("https://h.example?q"),
            ("https://h.example", Some("q"))
        );
        assert_eq!(
            origin_and_query("https://h.example/p?"),
            ("https://h.example", Some(""))
        );
    }

    #[test]
    fn fixed_routes_and_misses() {
        assert_eq!(Route::parse("/"), Route::Root);
        assert_eq!(Route::parse("/models"), Route::Models);
        assert_eq!(Route::parse("/openapi.json"), Route::OpenApi);
        assert_eq!(Route::parse("/usage"), Route::Usage);
        assert_eq!(Route::Usage.methods(), Some(super::READ));
        assert_eq!(Route::parse("/images/abc"), Route::Image { id: "abc" });
        assert_eq!(
            Route::parse("/v1/images/generations"),
            Route::OpenAi(crate::openai::OpenAiRoute::Generations)
        );
        assert_eq!(
            Route::parse("/v1/predictions"),
            Route::Jobs(crate::jobs::JobsRoute::Create)
        );
        assert_eq!(
            Route::parse("/v1/nothing"),
            Route::OpenAi(crate::openai::OpenAiRoute::NotFound)
        );
        assert_eq!(Route::parse("/v1x"), Route::NotFound);
        for miss in [
            "/nope",
            "/client/v4/accounts//ai/run/x",
            "/client/v4/accounts/a/b/ai/run/x",
            "/client/v4/accounts/a/ai/run/",
            "/ai/run",
        ] {
            assert_eq!(Route::parse(miss), Route::NotFound, "{miss}");
        }
        // An empty model id is a route; the model lookup refuses it as unknown.
        assert_eq!(Route::parse("/ai/run/"), Route::Run { model: "".into() });
    }
}
