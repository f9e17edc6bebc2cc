//! `GET /images/<id>`: a stored result by its permalink id (`sdxl_core::permalink`), from the
//! cache tiers only, as bytes or, for `Accept: application/json`, in the same envelope the
//! generation routes answer.

use sdxl_core::answer::{CacheStatus, Representation, VARY};
use sdxl_core::dispatch::Delivery;
use sdxl_core::request_head::RequestHead;
use sdxl_core::ApiError;

use crate::cache_tiers::Tiers;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::responses::{deliver, not_modified};

pub async fn serve(
    gateway: &Gateway<'_>,
    head: &RequestHead,
    id: &str,
    delivery: Delivery,
) -> Handled {
    let config = gateway.config;
    let permalinks = config
        .permalinks
        .as_ref()
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    // A malformed id and one whose tag does not verify get the same answer as an id of nothing
    // stored: a 404 must not tell a guesser which keys exist.
    let not_found = || ApiError::NoSuchImage(id.chars().take(100).collect());
    let key = permalinks.key_of(id).ok_or_else(not_found)?;
    let tag = delivery.entity_tag(key);
    let rep = Representation {
        tag: &tag,
        permalink: Some(id),
        seed: None,
        vary: VARY,
    };
    if rep.is_held(head.if_none_match.as_deref()) {
        return Ok(not_modified(&rep)?);
    }
    let tiers = Tiers::new(gateway.env, config.memory_tier_bytes(), &head.url_origin);
    let Some((stored, tier)) = tiers.get(key).await else {
        return Err(not_found().into());
    };
    tiers.backfill(gateway.ctx, tier, key, &stored);
    let rep = Representation {
        seed: stored.seed.as_deref(),
        ..rep
    };
    if head.unless_exists() {
        return Ok(not_modified(&rep)?);
    }
    Ok(deliver(
        &stored,
        &rep,
        delivery,
        CacheStatus::Hit(tier),
        &[],
    )?)
}
