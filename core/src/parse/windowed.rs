//! Reading a body that lives outside this memory, a window at a time.
//!
//! In the Worker the body is a JS `ArrayBuffer` (or a list of chunks); copying it whole into Wasm
//! memory would hold it twice, and Wasm memory never shrinks. So the parser asks for windows of
//! at most [`WINDOW`] bytes, copied into one reused buffer, and only what it keeps (the decoded
//! image bytes, the small fields) stays in Wasm memory.

use std::io;

/// The largest window copied into Wasm memory at a time.
pub const WINDOW: usize = 256 * 1024;

/// Bytes the scanner can always look at past its position without a refill (the longest pattern
/// its tight loops match is 4 bytes).
const LOOKAHEAD: usize = 16;

/// A base64 string decoded by its source: the bytes, the offset of the string's closing quote,
/// and the source's own copy of the text when it is the bytes' standard, padded base64.
pub type SourceDecoded = (Vec<u8>, usize, Option<crate::inputs::SourceText>);

/// A body the parser reads by copying windows out of it.
pub trait ByteSource {
    /// Its length in bytes.
    fn len(&self) -> usize;

    /// Whether it is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`, which lie inside the source.
    fn copy_to(&self, offset: usize, buf: &mut [u8]);

    /// The base64 text from `start` (inside a JSON string, past any data URL header) up to the
    /// string's closing quote, decoded where the source lives, by a decoder of its own (in the
    /// Worker: the engine's `Uint8Array.prototype.setFromBase64`, so the text is never copied
    /// into Wasm memory nor decoded there). `Some((bytes, end))`, `end` the offset of the quote,
    /// only for text in the strict form: no JSON escapes, one alphabet, canonical padding, zero
    /// trailing bits, no whitespace, not empty. [`crate::base64_image::decode`] accepts every
    /// such text and decodes it to the same bytes (`tests/fast_path.rs` checks a model of this
    /// against it); anything else is `None`, and the parser decodes it by today's rules.
    /// The third part is the text itself, kept where it is, when it is exactly the standard,
    /// padded base64 of the bytes (the standard alphabet; the strict form is canonical then).
    fn decode_base64_string(&self, start: usize) -> Option<SourceDecoded> {
        let _ = start;
        None
    }
}

impl ByteSource for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn copy_to(&self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self[offset..offset + buf.len()]);
    }
}

/// A position in a [`ByteSource`] with the window around it.
pub(super) struct Cursor<'a, S: ByteSource + ?Sized> {
    source: &'a S,
    window: Vec<u8>,
    window_size: usize,
    /// Offset in the source of `window[0]`.
    start: usize,
    /// Offset in the source of the next byte to read.
    pos: usize,
}

impl<'a, S: ByteSource + ?Sized> Cursor<'a, S> {
    pub(super) fn new(source: &'a S, window_size: usize) -> Self {
        Cursor {
            source,
            window: Vec::new(),
            window_size: window_size.max(LOOKAHEAD),
            start: 0,
            pos: 0,
        }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn source(&self) -> &'a S {
        self.source
    }

    fn load(&mut self, at: usize) {
        let n = self.window_size.min(self.source.len() - at);
        if self.window.capacity() < self.window_size.min(self.source.len()) {
            // Once, at the size the whole read needs: the window is reused after that.
            self.window
                .reserve_exact(self.window_size.min(self.source.len()) - self.window.len());
        }
        self.window.resize(n, 0);
        self.source.copy_to(at, &mut self.window);
        self.start = at;
    }

    /// The bytes from the position to the end of the window: at least [`LOOKAHEAD`] of them, or
    /// all that is left of the source. Empty only at the end.
    pub(super) fn ahead(&mut self) -> &[u8] {
        let len = self.source.len();
        if self.pos >= len {
            return &[];
        }
        let window_end = self.start + self.window.len();
        if self.pos < self.start || self.pos + LOOKAHEAD.min(len - self.pos) > window_end {
            self.load(self.pos);
        }
        &self.window[self.pos - self.start..]
    }

    pub(super) fn peek(&mut self) -> Option<u8> {
        self.ahead().first().copied()
    }

    pub(super) fn advance(&mut self, n: usize) {
        self.pos += n;
    }

    pub(super) fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }
}

/// A stretch of the source the serde pass reads as other text (an extracted image as `[]`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    pub start: usize,
    pub end: usize,
    pub replacement: &'static [u8],
}

/// The source as `io::Read`, with `cuts` (in order, not overlapping) replaced: what serde_json
/// parses as a stream, so the body is never gathered in Wasm memory.
pub(super) struct Spliced<'a, S: ByteSource + ?Sized> {
    source: &'a S,
    cuts: &'a [Cut],
    pos: usize,
    /// How much of the current cut's replacement was read, while `pos` is at its start.
    in_replacement: Option<usize>,
}

impl<'a, S: ByteSource + ?Sized> Spliced<'a, S> {
    pub(super) fn new(source: &'a S, cuts: &'a [Cut]) -> Self {
        Spliced {
            source,
            cuts,
            pos: 0,
            in_replacement: None,
        }
    }
}

impl<S: ByteSource + ?Sized> io::Read for Spliced<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(cut) = self.cuts.first().copied() {
            if self.pos == cut.start {
                let done = self.in_replacement.unwrap_or(0);
                let rest = &cut.replacement[done..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                if done + n == cut.replacement.len() {
                    self.pos = cut.end;
                    self.cuts = &self.cuts[1..];
                    self.in_replacement = None;
                } else {
                    self.in_replacement = Some(done + n);
                }
                return Ok(n);
            }
        }
        let until = self
            .cuts
            .first()
            .map_or(self.source.len(), |c| c.start)
            .min(self.source.len());
        let n = (until - self.pos).min(buf.len());
        self.source.copy_to(self.pos, &mut buf[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn spliced_replaces_cuts_across_small_reads() {
        let body = b"{\"a\":[1,2,3],\"b\":\"xyz\"}";
        let cuts = [
            Cut {
                start: 5,
                end: 12,
                replacement: b"[]",
            },
            Cut {
                start: 17,
                end: 22,
                replacement: b"\"\"",
            },
        ];
        for chunk in 1..8 {
            let mut reader = Spliced::new(&body[..], &cuts);
            let mut out = Vec::new();
            let mut buf = vec![0; chunk];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, b"{\"a\":[],\"b\":\"\"}", "chunk {chunk}");
        }
    }

    #[test]
    fn the_cursor_keeps_lookahead_across_windows() {
        let body: Vec<u8> = (0..100u8).collect();
        let mut cursor = Cursor::new(&body[..], 20);
        let mut seen = Vec::new();
        while let Some(&b) = cursor.ahead().first() {
            assert!(cursor.ahead().len() >= 16 || cursor.pos() + cursor.ahead().len() == 100);
            seen.push(b);
            cursor.advance(1);
        }
        assert_eq!(seen, body);
        // The window is never larger than asked.
        assert!(cursor.window.capacity() <= 20);
    }
}
