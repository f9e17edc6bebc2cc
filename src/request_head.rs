//! Reading the request once: its method, URL and the headers the gateway uses, into
//! `sdxl_core::request_head::RequestHead`, which every decision after this takes.

use sdxl_core::request_head::RequestHead;
use worker::Request;

/// The head of `req`. A header the runtime cannot read is read as absent.
pub fn read(req: &Request) -> RequestHead {
    let headers = req.headers();
    let get = |name: &str| headers.get(name).ok().flatten();
    let mut head = RequestHead::new(&req.inner().method(), &req.inner().url());
    head.origin = get("origin");
    head.accept = get("accept");
    head.if_none_match = get("if-none-match");
    head.cache_control = get("cache-control");
    head.pragma = get("pragma");
    head.authorization = get("authorization");
    head.client_address = get("cf-connecting-ip");
    head.content_type = get("content-type");
    head.content_length = get("content-length").and_then(|v| v.trim().parse().ok());
    head
}

/// Cloudflare's `cf-ray`, the request id when present (so it matches the platform's own logs).
pub fn ray(req: &Request) -> Option<String> {
    req.headers().get("cf-ray").ok().flatten()
}
