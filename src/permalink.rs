//! `GET /images/<id>`: a stored result by its permalink id (`sdxl_core::permalink`), from the
//! cache tiers only, as bytes or, for `Accept: application/json`, in the same envelope the
//! generation routes answer.

use sdxl_core::answer::{CachePlan, Representation, VARY};
use sdxl_core::dispatch::Delivery;
use sdxl_core::headers::ClientCaching;
use sdxl_core::pipeline::{Ask, Outcome};
use sdxl_core::request_head::RequestHead;
use sdxl_core::ApiError;

use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::pipeline::{after_answer, look_up};
use crate::responses::{deliver, not_modified};

/// Whatever the client's caching headers say, a permalink is read from the tiers: it names an
/// image made before, and nothing else can answer it.
const READ: ClientCaching = ClientCaching {
    read: true,
    store: true,
};

pub async fn serve(
    gateway: &mut Gateway<'_>,
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
    let ask = Ask {
        key,
        plan: CachePlan::new(READ, head.unless_exists(), false),
        lookup_only: true,
        held: false,
    };
    let outcome = look_up(gateway, ask, &head.url_origin).await?;
    let (stored, status) = match outcome {
        Outcome::NotModified => return Ok(not_modified(&rep)?),
        Outcome::NotGenerated => return Err(not_found().into()),
        Outcome::Image {
            image,
            status,
            after,
        } => {
            after_answer(gateway.ctx, after);
            (image, status)
        }
    };
    let rep = Representation {
        seed: stored.seed.as_deref(),
        ..rep
    };
    Ok(deliver(&stored, &rep, delivery, status, &[])?)
}
