//! The runtime's zlib: `DecompressionStream` and `CompressionStream` in the "deflate" format
//! (zlib, RFC 1950: what a PNG's IDAT chunks hold), behind [`ZlibPump`], which writes to one and
//! reads what it made. Not a binding on `env` but globals of the runtime; like the bindings,
//! their JS is declared here and nowhere else: a few lines of it, since each step is a promise
//! (written in Rust, the same steps cost the Worker's Wasm more than the zlib codec it replaces).
//!
//! workerd's streams have no backpressure: a write is inflated (or deflated) whole, at once, into
//! a buffer that only reads empty (`writeInternal` in its `api/streams/compression.c++`: "does
//! not yet implement any backpressure"). Written ahead of its reader, a 4 KiB piece of a
//! decompression bomb sits there as 4 MiB, and a whole bomb as a thousand times its size. So a
//! pump's owner writes a piece, then reads until the stream holds nothing more
//! ([`ZlibPump::read`] with `quiet`), before it writes the next. A decompressor's reads fill one
//! 64 KiB buffer where the runtime lets them (a BYOB reader: workerd's default reads are 4 KiB, a
//! round trip each; Node's streams here are no byte streams, and are read the default way).

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
const QUIET = Symbol();
export class Pump {
  constructor(decompress) {
    const s = decompress ? new DecompressionStream("deflate") : new CompressionStream("deflate");
    this.w = s.writable.getWriter();
    if (decompress) {
      try { this.r = s.readable.getReader({ mode: "byob" }); this.b = new Uint8Array(65536); }
      catch {}
    }
    this.r ??= s.readable.getReader();
  }
  start() {
    if (!this.p) {
      this.p = this.b ? this.r.read(this.b) : this.r.read();
      this.p.catch(() => {}); // a read left in flight may fail unwatched (after cancel, say)
    }
    return this.p;
  }
  write(bytes) {
    this.start();
    (this.wp = this.w.write(bytes.slice())).catch(() => {});
    this.q = undefined;
  }
  async next(quiet) {
    const p = this.start();
    if (quiet) this.q ??= this.wp.then(() => new Promise((done) => setTimeout(done, 0, QUIET)));
    const r = await (quiet ? Promise.race([p, this.q]) : p);
    if (r === QUIET) return undefined;
    this.p = undefined;
    if (r.done) { await this.c; return null; }
    // A BYOB read hands its buffer back (transferred): the next read fills it again, so it is
    // started only once these bytes are copied, at the next call.
    if (this.b) this.b = new Uint8Array(r.value.buffer);
    return r.value;
  }
  close() { (this.c = this.w.close()).catch(() => {}); }
  async all() {
    this.close();
    const parts = [];
    for (let part; (part = await this.next(false)) !== null; ) parts.push(part);
    const all = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    parts.reduce((at, part) => (all.set(part, at), at + part.length), 0);
    return all;
  }
  cancel() { this.r.cancel().catch(() => {}); this.w.abort().catch(() => {}); }
}
"#)]
extern "C" {
    type Pump;

    #[wasm_bindgen(constructor, catch)]
    fn new(decompress: bool) -> Result<Pump, JsValue>;

    #[wasm_bindgen(method)]
    fn write(this: &Pump, bytes: &[u8]);

    #[wasm_bindgen(method)]
    fn next(this: &Pump, quiet: bool) -> Promise;

    #[wasm_bindgen(method)]
    fn close(this: &Pump);

    #[wasm_bindgen(method)]
    fn all(this: &Pump) -> Promise;

    #[wasm_bindgen(method)]
    fn cancel(this: &Pump);
}

/// What a read gave.
pub enum Next<'a> {
    /// Bytes the stream made, copied into Wasm memory (at most 64 KiB in workerd).
    Bytes(&'a [u8]),
    /// Nothing more for now: the stream holds nothing more than has been read of it.
    Nothing,
    /// The stream ended (after [`ZlibPump::close`]).
    End,
}

/// One zlib stream of the runtime, with at most one read in flight: started before each write
/// (so nothing a write makes waits for one) and by each read that finds none, and kept across
/// reads that end in [`Next::Nothing`] (so none is lost). Reads of a decompressor fill one 64 KiB
/// buffer where the runtime lets them (a BYOB reader), the next read only once the last one's
/// bytes are copied out of it.
pub struct ZlibPump {
    js: Pump,
    chunk: Vec<u8>,
}

impl ZlibPump {
    /// `DecompressionStream("deflate")`: zlib in, its bytes out.
    ///
    /// # Errors
    /// What the runtime threw (no such stream, say).
    pub fn decompressor() -> Result<ZlibPump, JsValue> {
        Ok(ZlibPump {
            js: Pump::new(true)?,
            chunk: Vec::new(),
        })
    }

    /// `CompressionStream("deflate")`: bytes in, zlib out.
    ///
    /// # Errors
    /// What the runtime threw.
    pub fn compressor() -> Result<ZlibPump, JsValue> {
        Ok(ZlibPump {
            js: Pump::new(false)?,
            chunk: Vec::new(),
        })
    }

    /// Writes `bytes` (copied out of Wasm memory) without waiting for the stream to take them:
    /// writes are taken in order, and an error (for a decompressor, invalid zlib data) shows in
    /// the reads.
    pub fn write(&self, bytes: &[u8]) {
        self.js.write(bytes);
    }

    /// The next read, for [`ZlibPump::bytes_of`]. With `quiet`, it settles with nothing once the
    /// stream holds nothing more than has been read of it: on a zero-delay timer started once the
    /// last write was taken (in workerd, inflated or deflated whole; in Node, whose streams push
    /// back, once enough of its output was read), which the event loop fires only after every
    /// callback that was ready (a read the stream can answer from its buffer is one), so a read
    /// still pending then waits for input the stream has not had. Without, it waits for bytes:
    /// after [`ZlibPump::close`], until the end. Rejects with the stream's error (for a
    /// decompressor, the last write's: the zlib data is invalid).
    #[must_use]
    pub fn read(&self, quiet: bool) -> JsFuture {
        JsFuture::from(self.js.next(quiet))
    }

    /// What a read gave.
    pub fn bytes_of(&mut self, value: &JsValue) -> Next<'_> {
        if value.is_undefined() {
            return Next::Nothing;
        }
        let Some(view) = value.dyn_ref::<Uint8Array>() else {
            return Next::End;
        };
        self.chunk.clear();
        self.chunk.resize(view.length() as usize, 0);
        view.copy_to(&mut self.chunk);
        Next::Bytes(&self.chunk)
    }

    /// Ends the input: what the stream still makes comes through [`ZlibPump::read`], then
    /// [`Next::End`] (or the stream's error: for a decompressor, the zlib stream was not whole).
    pub fn close(&self) {
        self.js.close();
    }

    /// Ends the input and reads everything the stream still makes, into one `Uint8Array`.
    #[must_use]
    pub fn read_to_end(&self) -> JsFuture {
        JsFuture::from(self.js.all())
    }

    /// Stops both sides, dropping whatever the stream holds.
    pub fn cancel(&self) {
        self.js.cancel();
    }
}
