//! `image_b64` decoded as it is read, a window at a time, so its text is never held in Wasm
//! memory. Only plainly valid base64 is decoded here: whatever
//! [`crate::base64_image::decode`] might refuse, or decode differently, makes the fast path give
//! up (`None`), and the serde path then reads the string whole and decodes it with exactly
//! today's rules and messages. A property test compares both on generated and broken inputs.

use super::windowed::{ByteSource, Cursor};
use crate::inputs::SourceText;

/// Not a base64 symbol.
const INVALID: u8 = 0xff;

/// Symbol values of both alphabets together; [`SYMBOL_KIND`] tells which alphabet a symbol is
/// special to.
const VALUES: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};

/// 1 for the standard alphabet's `+` and `/`, 2 for the URL-safe `-` and `_`.
const SYMBOL_KIND: [u8; 256] = {
    let mut t = [0; 256];
    t[b'+' as usize] = 1;
    t[b'/' as usize] = 1;
    t[b'-' as usize] = 2;
    t[b'_' as usize] = 2;
    t
};

/// The most bytes `len` bytes of base64 text can decode to.
pub(super) fn decoded_capacity(len: usize) -> usize {
    len / 4 * 3 + 3
}

/// The decoder's state between symbols.
pub(super) struct Base64Stream {
    out: Vec<u8>,
    quad: [u8; 4],
    filled: usize,
    symbols: usize,
    padding: usize,
    kinds: u8,
}

impl Base64Stream {
    fn push(&mut self, value: u8) {
        self.quad[self.filled] = value;
        self.filled += 1;
        self.symbols += 1;
        if self.filled == 4 {
            let [a, b, c, d] = self.quad;
            self.out
                .extend_from_slice(&[a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d]);
            self.filled = 0;
        }
    }

    /// One symbol, whitespace or padding byte, after the data URL prefix. `None`: leave the
    /// string to the serde path.
    fn byte(&mut self, b: u8) -> Option<()> {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => Some(()),
            b'=' => {
                self.padding += 1;
                Some(())
            }
            _ if self.padding > 0 => None, // data after padding
            _ => {
                let value = VALUES[usize::from(b)];
                if value == INVALID {
                    return None;
                }
                self.kinds |= SYMBOL_KIND[usize::from(b)];
                self.push(value);
                Some(())
            }
        }
    }

    /// The bytes, if the text was plainly valid: not empty, one alphabet, a whole final group
    /// (2 or 3 symbols are 1 or 2 bytes), and either no padding or exactly the canonical padding.
    fn finish(mut self) -> Option<Vec<u8>> {
        let rem = self.symbols % 4;
        let canonical_padding = match rem {
            2 => 2,
            3 => 1,
            _ => 0,
        };
        if self.symbols == 0
            || rem == 1
            || self.kinds == 3
            || (self.padding != 0 && self.padding != canonical_padding)
        {
            return None;
        }
        let [a, b, c, _] = self.quad;
        match rem {
            2 => self.out.push(a << 2 | b >> 4),
            3 => self
                .out
                .extend_from_slice(&[a << 2 | b >> 4, b << 4 | c >> 2]),
            _ => {}
        }
        Some(self.out)
    }

    /// Decodes the JSON string at the cursor (`"`) into a buffer of `capacity` bytes, leaving the
    /// cursor just past its closing quote.
    pub(super) fn decode_json_string<S: ByteSource + ?Sized>(
        cur: &mut Cursor<'_, S>,
        capacity: usize,
    ) -> Option<Vec<u8>> {
        cur.advance(1);
        skip_data_url_prefix(cur)?;
        let mut state = Base64Stream {
            out: Vec::with_capacity(capacity),
            quad: [0; 4],
            filled: 0,
            symbols: 0,
            padding: 0,
            kinds: 0,
        };
        loop {
            let ahead = cur.ahead();
            // Whole groups of four symbols, while the group is aligned and no padding was seen.
            let mut i = 0;
            if state.filled == 0 && state.padding == 0 {
                // Decoded into a block on the stack and appended a block at a time: appending
                // each group's three bytes on their own was a third of an `image_b64` request.
                let mut block = [0u8; 3 * 256];
                let mut filled = 0;
                while let Some(group) = ahead.get(i..i + 4) {
                    let v = [
                        VALUES[usize::from(group[0])],
                        VALUES[usize::from(group[1])],
                        VALUES[usize::from(group[2])],
                        VALUES[usize::from(group[3])],
                    ];
                    if (v[0] | v[1] | v[2] | v[3]) & 0xc0 != 0 {
                        break;
                    }
                    state.kinds |= SYMBOL_KIND[usize::from(group[0])]
                        | SYMBOL_KIND[usize::from(group[1])]
                        | SYMBOL_KIND[usize::from(group[2])]
                        | SYMBOL_KIND[usize::from(group[3])];
                    if filled == block.len() {
                        state.out.extend_from_slice(&block);
                        filled = 0;
                    }
                    block[filled..filled + 3].copy_from_slice(&[
                        v[0] << 2 | v[1] >> 4,
                        v[1] << 4 | v[2] >> 2,
                        v[2] << 6 | v[3],
                    ]);
                    filled += 3;
                    state.symbols += 4;
                    i += 4;
                }
                state.out.extend_from_slice(&block[..filled]);
            }
            cur.advance(i);
            match cur.peek()? {
                b'"' => {
                    cur.advance(1);
                    return state.finish();
                }
                b'\\' => {
                    cur.advance(1);
                    // JSON escapes a base64 text can hold: whitespace, and `\/` for `/`.
                    let unescaped = match cur.peek()? {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'f' => b'\x0c',
                        b'/' => b'/',
                        _ => return None,
                    };
                    cur.advance(1);
                    state.byte(unescaped)?;
                }
                b if b < 0x20 => return None, // raw control characters are not JSON
                b => {
                    cur.advance(1);
                    state.byte(b)?;
                }
            }
        }
    }
}

/// Decodes the JSON string at the cursor (`"`) by the source's own decoder
/// ([`ByteSource::decode_base64_string`]), leaving the cursor just past its closing quote. `None`
/// when the source has no decoder or the text is not in the strict form it decodes; the cursor
/// is then anywhere in the string.
pub(super) fn decode_by_source<S: ByteSource + ?Sized>(
    cur: &mut Cursor<'_, S>,
) -> Option<(Vec<u8>, Option<SourceText>)> {
    cur.advance(1);
    skip_data_url_prefix(cur)?;
    let (bytes, end, text) = cur.source().decode_base64_string(cur.pos())?;
    // The source's word for where the string ends, checked: the parser goes on from there.
    if end < cur.pos() {
        return None;
    }
    cur.seek(end);
    if cur.peek() != Some(b'"') {
        return None;
    }
    cur.advance(1);
    Some((bytes, text))
}

/// The longest `data:` header the fast path reads; longer ones are left to the serde path.
const LONGEST_DATA_HEADER: usize = 256;

/// Skips `data:<media type>;base64,` at the start of the string, if it is there. `None` for a
/// data URL that is not base64 (an error the serde path words) or a header it does not read.
fn skip_data_url_prefix<S: ByteSource + ?Sized>(cur: &mut Cursor<'_, S>) -> Option<()> {
    match cur.ahead().get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case(b"data:") => {}
        _ => return Some(()),
    }
    let start = cur.pos();
    cur.advance(5);
    let mut header = Vec::new();
    loop {
        match cur.peek()? {
            b',' => break,
            b'"' | b'\\' => return None,
            // Control characters are not JSON; other non-ASCII bytes might not be UTF-8.
            b if b < 0x20 || !b.is_ascii() => return None,
            b => header.push(b),
        }
        cur.advance(1);
        if header.len() > LONGEST_DATA_HEADER {
            cur.seek(start);
            return None;
        }
    }
    cur.advance(1);
    let is_base64 = header
        .rsplit(|&b| b == b';')
        .next()
        .filter(|_| header.contains(&b';'))
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"base64"));
    is_base64.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base64_image::decode;

    fn stream(text: &str, window: usize) -> Option<Vec<u8>> {
        let json = serde_json::Value::String(text.to_owned()).to_string();
        let mut cur = Cursor::new(json.as_bytes(), window);
        let capacity = decoded_capacity(json.len());
        let out = Base64Stream::decode_json_string(&mut cur, capacity)?;
        assert_eq!(cur.pos(), json.len(), "stops just past the string");
        Some(out)
    }

    #[test]
    fn agrees_with_the_strict_decoder_where_it_decodes() {
        let cases = [
            "iVBORw0KGgo=",
            "iVBORw0KGgo",
            "iVBORw0KGg==",
            "iVBORw0KGg",
            "QR==",
            "QUJD",
            "ab-_",
            "ab+/",
            "iVBO\nRw0K\r\nGgo=",
            "data:image/png;base64,iVBORw0KGgo=",
            "DATA:image/png; BASE64 ,iVBO",
            "data:;base64,QUJD",
            "  QUJD  ",
            "a/b/",
        ];
        for text in cases {
            for window in [16, 19, 1 << 16] {
                assert_eq!(stream(text, window), decode(text).ok(), "{text:?} {window}");
            }
        }
    }

    #[test]
    fn leaves_to_serde_what_it_does_not_plainly_decode() {
        for text in [
            "",
            "   ",
            "Q",
            "QUJDR",
            "QQ=",
            "QUJD=",
            "QQ==QQ==",
            "ab-/",
            "a*bc",
            "data:image/png,QUJD",
            "data:image/png;base64QUJD",
            "QU\u{e9}D",
            "data:\u{e9}mage/png;base64,QUJD",
        ] {
            assert_eq!(stream(text, 1 << 16), None, "{text:?}");
        }
    }
}
