//! Letting go of the body of a refused request: the answer goes out only once the client has sent
//! its body, or has stopped sending, or has sent more than a refused body is worth reading.
//!
//! Why not answer at once and cancel the body: in `wrangler dev`, requests pass through
//! wrangler's proxy Worker, which streams the client's body to this Worker. When this Worker
//! answers while the client is still sending, the proxy finishes its own response, can no longer
//! read the client's body ("Can't read from request stream after response has been sent"),
//! leaves its connection to this Worker half-written, and the next request on that connection
//! fails ("Network connection lost"), which wrangler treats as fatal: `npm start` exits.
//! And leaving the body unread is no better: wrangler then reads all of it (its
//! `ensure-req-body-drained` middleware) before answering, without bound, and a client that gives
//! up waiting for its answer meanwhile kills wrangler the same way.
//!
//! In production the edge copes with an early answer; there, reading a refused body to its end
//! costs the client's upload time and bandwidth, bounded by [`DISCARD_MAX_BYTES`], and almost no
//! CPU: the chunks are never copied into Wasm.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::{Stream, StreamExt};
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, Request};

/// The most a refused body is read for. Past it, or when the declared length is past it, the
/// rest is cancelled: the client is answered at once (in `wrangler dev`, a client still sending
/// then breaks the proxy, as above; that takes a body this large).
pub const DISCARD_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A client that sends nothing for this long is waiting for its answer (it declared a length
/// it does not mean to send, or waits for `100 Continue`): it gets it, and the rest is cancelled.
/// Not shorter: 8 concurrent 16 MiB uploads through wrangler's proxy on a busy machine leave gaps
/// of over 250 ms between chunks, and an answer given while such a client still sends reached it
/// as a 503 with an empty body (the proxy's half-written connection, above).
pub const DISCARD_IDLE: Duration = Duration::from_millis(2_000);

/// A handle on the body of a request, kept to let go of the body after the request itself was
/// handed to the router.
pub struct UnreadBody {
    stream: Option<web_sys::ReadableStream>,
    declared: Option<u64>,
}

impl UnreadBody {
    /// The body of `req`, whose `Content-Length` declared `declared` bytes.
    pub fn of(req: &Request, declared: Option<u64>) -> UnreadBody {
        UnreadBody {
            stream: req.inner().body(),
            declared,
        }
    }

    /// Lets go of the body when nothing has read it yet; does nothing when there is no body or
    /// it is being read or was read. For any answer given without reading the body: 401, 404,
    /// 405, 413 on the declared length, 415, 429, 503, ...
    pub async fn let_go(self) {
        let Some(raw) = self.stream else {
            return;
        };
        if raw.locked() {
            return; // read, or being read, by someone else: theirs to let go of
        }
        if self.declared.is_some_and(|len| len > DISCARD_MAX_BYTES) {
            // Not worth reading: the client is answered at once.
            let _ = JsFuture::from(raw.cancel()).await;
            return;
        }
        let mut chunks = wasm_streams::ReadableStream::from_raw(raw).into_stream();
        discard_rest(&mut chunks, self.declared, 0).await;
        // Dropping `chunks` cancels whatever is left (nothing, when the body was read to its end).
    }
}

/// Reads and throws away the rest of a body whose reading stopped `already_read` bytes in,
/// until its end, [`DISCARD_MAX_BYTES`] in all, or [`DISCARD_IDLE`] without a chunk.
/// The caller drops `chunks` afterwards, which cancels what is left.
pub async fn discard_rest<S>(chunks: &mut S, declared: Option<u64>, already_read: u64)
where
    S: Stream<Item = Result<JsValue, JsValue>> + Unpin,
{
    if declared.is_some_and(|len| len > DISCARD_MAX_BYTES) {
        return;
    }
    let mut read = already_read;
    while read <= DISCARD_MAX_BYTES {
        let next = pin!(chunks.next());
        let idle = pin!(Delay::from(DISCARD_IDLE));
        match select(next, idle).await {
            Either::Left((Some(Ok(chunk)), _)) => match chunk.dyn_ref::<Uint8Array>() {
                Some(bytes) => read += u64::from(bytes.length()),
                None => return, // not a byte stream: nothing sensible to read on
            },
            // The end, a broken body (the client went away), or a client waiting for us.
            Either::Left((None | Some(Err(_)), _)) | Either::Right(_) => return,
        }
    }
}
