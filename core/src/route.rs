//! Which resource a request path names. Pure, so every route shape is tested natively.
//!
//! Model ids contain slashes. The official `cloudflare` SDK sends them percent-encoded
//! (`@cf%2Fbytedance%2F...`), curl users type them raw: both are accepted.

use std::borrow::Cow;

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
        account: Cow<'a, str>,
        model: Cow<'a, str>,
    },
    /// `/images/<key>`: a stored result.
    Image {
        key: &'a str,
    },
    /// `/models`: the catalog.
    Models,
    /// `/openapi.json`.
    OpenApi,
    NotFound,
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
            _ => {}
        }
        if let Some(key) = path.strip_prefix("/images/") {
            return Route::Image { key };
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
                        account: decode(account),
                        model: decode(model),
                    };
                }
            }
        }
        Route::NotFound
    }
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
        assert_eq!(
            Route::parse(rest),
            Route::Rest {
                account: "acc123".into(),
                model: ID.into()
            }
        );
        let raw = format!("/client/v4/accounts/acc123/ai/run/{ID}");
        assert!(matches!(Route::parse(&raw), Route::Rest { .. }));
    }

    #[test]
    fn fixed_routes_and_misses() {
        assert_eq!(Route::parse("/"), Route::Root);
        assert_eq!(Route::parse("/models"), Route::Models);
        assert_eq!(Route::parse("/openapi.json"), Route::OpenApi);
        assert_eq!(Route::parse("/images/abc"), Route::Image { key: "abc" });
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
