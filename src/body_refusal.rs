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
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
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
        if drain_in_place(&raw).await.is_some() {
            return;
        }
        let mut chunks = wasm_streams::ReadableStream::from_raw(raw).into_stream();
        discard_rest(&mut chunks, self.declared, 0).await;
        // Dropping `chunks` cancels whatever is left (nothing, when the body was read to its end).
    }
}

/// The buffer a refused body is read through.
const DRAIN_BUFFER: u32 = 64 * 1024;

/// Reads a body nobody has read, within the bounds of [`discard_rest`], through one reused
/// buffer (a "bring your own buffer" reader): refused bodies leave no garbage behind, where a
/// default reader allocates every chunk anew (8 refused 16 MiB bodies were 128 MiB of garbage
/// for the JS engine to collect). `None` when the stream does not take such a reader.
async fn drain_in_place(raw: &web_sys::ReadableStream) -> Option<()> {
    let options = Object::new();
    Reflect::set(&options, &"mode".into(), &"byob".into()).ok()?;
    // `getReader({mode: "byob"})` throws for a stream that is not a byte stream: `call1` catches.
    let get_reader: Function = Reflect::get(raw, &"getReader".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let reader = get_reader.call1(raw, &options).ok()?;
    let read: Function = Reflect::get(&reader, &"read".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let mut view = Uint8Array::new_with_length(DRAIN_BUFFER);
    let mut total = 0u64;
    let finished = loop {
        let Ok(promise) = read.call1(&reader, &view) else {
            break false;
        };
        let next = pin!(JsFuture::from(Promise::resolve(&promise)));
        let idle = pin!(Delay::from(DISCARD_IDLE));
        let result = match select(next, idle).await {
            Either::Left((Ok(result), _)) => result,
            // A broken body (the client went away), or a client waiting for its answer.
            Either::Left((Err(_), _)) | Either::Right(_) => break false,
        };
        if Reflect::get(&result, &"done".into()).ok()?.as_bool() == Some(true) {
            break true;
        }
        let Ok(chunk) = Reflect::get(&result, &"value".into())
            .ok()?
            .dyn_into::<Uint8Array>()
        else {
            break false;
        };
        total += u64::from(chunk.byte_length());
        if total > DISCARD_MAX_BYTES {
            break false;
        }
        // The buffer came back with the chunk (it was transferred); read into it again.
        view = Uint8Array::new(&chunk.buffer());
    };
    if !finished {
        if let Ok(cancel) =
            Reflect::get(&reader, &"cancel".into()).and_then(JsCast::dyn_into::<Function>)
        {
            if let Ok(promise) = cancel.call0(&reader) {
                let _ = JsFuture::from(Promise::resolve(&promise)).await;
            }
        }
    }
    Some(())
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
