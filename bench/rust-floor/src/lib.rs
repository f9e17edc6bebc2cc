//! Baseline: what any Rust Worker on the `worker` crate pays per request before doing anything of
//! its own. It reads the body and answers the stand-in's precomputed image (captured into
//! `bench/.cache/standin.png` by `npm run bench` before this is built), like bench/workers/static.js,
//! through the same glue as our Worker: `#[event(fetch)]`, `Request`, `Response`, `Headers`.

use worker::{event, Context, Env, Request, Response, Result};

static IMAGE: &[u8] = include_bytes!("../../.cache/standin.png");

#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    req.bytes().await?;
    let mut response = Response::from_bytes(IMAGE.to_vec())?;
    response.headers_mut().set("content-type", "image/png")?;
    Ok(response)
}
