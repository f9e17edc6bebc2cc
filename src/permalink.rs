//! `GET /images/<key>`: a stored result by its cache key, from the cache tiers only.

use sdxl_core::cache_key::is_cache_key;
use sdxl_core::ApiError;
use worker::{Context, Env, Request};

use crate::cache_tiers::{permalink_url, Tiers};
use crate::config::Config;
use crate::failure::Handled;
use crate::responses::{image_response, not_modified_if_held, CacheStatus};

pub async fn serve(req: &Request, env: &Env, ctx: &Context, config: &Config, key: &str) -> Handled {
    if !is_cache_key(key) {
        return Err(ApiError::NoSuchImage(key.chars().take(80).collect()).into());
    }
    if let Some(response) = not_modified_if_held(req, key, key, None)? {
        return Ok(response);
    }
    let url = permalink_url(req, key)?;
    let tiers = Tiers::new(env, config.memory_cache_bytes);
    let Some((stored, tier)) = tiers.get(&url, key).await else {
        return Err(ApiError::NoSuchImage(key.to_owned()).into());
    };
    tiers.backfill(ctx, tier, &url, key, &stored);
    Ok(image_response(
        &stored,
        key,
        CacheStatus::Hit(tier.name()),
        &[],
    )?)
}
