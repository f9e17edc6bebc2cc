//! `GET /images/<id>`: a stored result by its permalink id (`sdxl_core::permalink`), from the
//! cache tiers only.

use sdxl_core::headers::any_current;
use sdxl_core::ApiError;
use worker::{Context, Env, Request};

use crate::cache_tiers::{cache_api_url, Tiers};
use crate::config::Config;
use crate::failure::{Failure, Handled};
use crate::responses::{image_response, not_modified, not_modified_if_held, CacheStatus, Held};

pub async fn serve(req: &Request, env: &Env, ctx: &Context, config: &Config, id: &str) -> Handled {
    let permalinks = config
        .permalinks
        .as_ref()
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    // A malformed id and one whose tag does not verify get the same answer as an id of nothing
    // stored: a 404 must not tell a guesser which keys exist.
    let not_found = || ApiError::NoSuchImage(id.chars().take(100).collect());
    let key = permalinks.key_of(id).ok_or_else(not_found)?;
    let held = Held {
        tag: key,
        permalink: Some(id),
        seed: None,
        vary: None,
    };
    if let Some(response) = not_modified_if_held(req, &held)? {
        return Ok(response);
    }
    let url = cache_api_url(req, key)?;
    let tiers = Tiers::new(env, config.memory_cache_bytes);
    let Some((stored, tier)) = tiers.get(&url, key).await else {
        return Err(not_found().into());
    };
    tiers.backfill(ctx, tier, &url, key, &stored);
    if req
        .headers()
        .get("if-none-match")?
        .is_some_and(|v| any_current(&v))
    {
        let seed = stored.seed.as_deref();
        return Ok(not_modified(&Held { seed, ..held })?);
    }
    Ok(image_response(
        &stored,
        key,
        Some(id),
        CacheStatus::Hit(tier.name()),
        &[],
    )?)
}
