//! The fast path of [`super::parse_json`]: image fields read by tight loops instead of serde_json's
//! per-element machinery (measured: 49 ms → a few ms for a 1024×1024 image in Wasm), a window of
//! the body at a time.
//!
//! It walks only the top level of the body. For the first occurrence of each byte-array field
//! whose value is an array of plain decimal integers 0–255, it reads the bytes; for the first
//! `image_b64` string that is plainly valid base64, it decodes it (by the source's own decoder
//! when it has one and the text is in the strict form, see
//! [`ByteSource::decode_base64_string`]; by [`Base64Stream`] otherwise). Each such value becomes a
//! [`Cut`]: the serde pass then reads the body with `[]` or `""` in its place. Anything unusual —
//! an escaped key, a number like `1.0`, `-0` or `256`, base64 the strict decoder would refuse, a
//! body that is not an object — abandons the fast path, and the serde path reads the whole body,
//! so results and messages are exactly the serde path's (a property test compares the two).
//!
//! Memory: each image is counted before it is read (commas of an array, the length of a string),
//! so its buffer is allocated once at its exact size; nothing is reserved in proportion to the
//! body.

use crate::model::{FieldKind, FieldSpec, ModelSpec};

use super::base64_stream::{self, Base64Stream};
use super::scan;
use super::windowed::{ByteSource, Cursor, Cut};
use crate::inputs::SourceText;

/// An image value read by the fast path.
pub(super) enum Taken {
    /// An array of integers 0–255.
    Bytes(Vec<u8>),
    /// An `image_b64` string, decoded (it was valid base64), with the source's copy of its
    /// text when that is the bytes' standard base64.
    Base64(Vec<u8>, Option<SourceText>),
    /// A list of such strings (`images`), each decoded, no more than the field takes.
    List(Vec<(Vec<u8>, Option<SourceText>)>),
}

/// What the fast path took out of a body.
pub(super) struct Split {
    /// Where each taken value was, and what the serde pass reads instead.
    pub cuts: Vec<Cut>,
    /// The taken values, by field, in the order of `cuts`.
    pub taken: Vec<(&'static FieldSpec, Taken)>,
}

/// Takes the image values out of `body`, or `None` when the fast path does not apply.
pub(super) fn split<S: ByteSource + ?Sized>(
    spec: &'static ModelSpec,
    body: &S,
    window: usize,
) -> Option<Split> {
    let mut cur = Cursor::new(body, window);
    let mut split = Split {
        cuts: Vec::new(),
        taken: Vec::new(),
    };
    let mut seen: Vec<&'static str> = Vec::new();
    cur.skip_ws();
    if cur.peek() != Some(b'{') {
        return None;
    }
    cur.advance(1);
    cur.skip_ws();
    if cur.peek() == Some(b'}') {
        return None; // nothing to take out
    }
    loop {
        if cur.peek() != Some(b'"') {
            return None;
        }
        cur.advance(1);
        let field = read_key(&mut cur)
            .and_then(|k| std::str::from_utf8(&k).ok().and_then(|k| spec.field(k)))
            .filter(|f| {
                matches!(
                    f.kind,
                    FieldKind::ImageBytes
                        | FieldKind::ImageBase64 { .. }
                        | FieldKind::ImageList { .. }
                )
            });
        cur.skip_ws();
        if cur.peek() != Some(b':') {
            return None;
        }
        cur.advance(1);
        cur.skip_ws();
        let start = cur.pos();
        match field {
            Some(field) if !seen.contains(&field.name) => {
                seen.push(field.name);
                let taken = match (&field.kind, cur.peek()) {
                    (FieldKind::ImageBytes, Some(b'[')) => {
                        let count = count_elements(body, start)?;
                        Some((Taken::Bytes(read_bytes(&mut cur, count)?), &b"[]"[..]))
                    }
                    (FieldKind::ImageBase64 { .. }, Some(b'"')) => {
                        let (bytes, text) = read_base64(&mut cur)?;
                        Some((Taken::Base64(bytes, text), &b"\"\""[..]))
                    }
                    (FieldKind::ImageList { into }, Some(b'[')) => Some((
                        Taken::List(read_base64_list(&mut cur, into.len())?),
                        &b"[]"[..],
                    )),
                    _ => None,
                };
                match taken {
                    Some((value, replacement)) => {
                        split.cuts.push(Cut {
                            start,
                            end: cur.pos(),
                            replacement,
                        });
                        split.taken.push((field, value));
                    }
                    None => skip_value(&mut cur)?,
                }
            }
            _ => skip_value(&mut cur)?,
        }
        cur.skip_ws();
        match cur.peek() {
            Some(b',') => {
                cur.advance(1);
                cur.skip_ws();
            }
            Some(b'}') => break,
            _ => return None,
        }
    }
    if split.cuts.is_empty() {
        return None;
    }
    Some(split)
}

/// The base64 string at the cursor (`"`), decoded; the cursor just past it. By the source's
/// decoder when it takes the text, else a window at a time into a buffer sized by the string's
/// length, counted first.
fn read_base64<S: ByteSource + ?Sized>(
    cur: &mut Cursor<'_, S>,
) -> Option<(Vec<u8>, Option<SourceText>)> {
    let start = cur.pos();
    if let Some(decoded) = base64_stream::decode_by_source(cur) {
        return Some(decoded);
    }
    cur.seek(start);
    let len = string_len(cur.source(), start)?;
    let capacity = base64_stream::decoded_capacity(len);
    let bytes = Base64Stream::decode_json_string(cur, capacity)?;
    Some((bytes, None))
}

/// `["<base64>", ...]` at the cursor (`[`), each string decoded as it is read; the cursor just
/// past `]`. `None` for anything else, or more than `most` strings: the serde path reads it and
/// the validator says what is wrong.
fn read_base64_list<S: ByteSource + ?Sized>(
    cur: &mut Cursor<'_, S>,
    most: usize,
) -> Option<Vec<(Vec<u8>, Option<SourceText>)>> {
    let mut items = Vec::new();
    cur.advance(1);
    cur.skip_ws();
    if cur.peek() == Some(b']') {
        cur.advance(1);
        return Some(items);
    }
    loop {
        if items.len() == most || cur.peek() != Some(b'"') {
            return None;
        }
        items.push(read_base64(cur)?);
        cur.skip_ws();
        match cur.peek()? {
            b',' => cur.advance(1),
            b']' => {
                cur.advance(1);
                return Some(items);
            }
            _ => return None,
        }
        cur.skip_ws();
    }
}

/// The longest key kept for matching: no field name is longer, so a longer key is unknown.
const LONGEST_KEY: usize = 64;

/// Reads a key up to its closing quote (just past it). `Some(key)` for a plain key of at most
/// [`LONGEST_KEY`] bytes, `Some(empty)` for a longer one; `None` for an escaped or unfinished one.
fn read_key<S: ByteSource + ?Sized>(cur: &mut Cursor<'_, S>) -> Option<Vec<u8>> {
    let mut key = Vec::new();
    let mut too_long = false;
    loop {
        let ahead = cur.ahead();
        if ahead.is_empty() {
            return None;
        }
        let end = ahead.iter().position(|&b| b == b'"' || b == b'\\');
        let part = &ahead[..end.unwrap_or(ahead.len())];
        if key.len() + part.len() <= LONGEST_KEY {
            key.extend_from_slice(part);
        } else {
            too_long = true;
        }
        let consumed = part.len();
        match end.map(|e| ahead[e]) {
            Some(b'"') => {
                cur.advance(consumed + 1);
                return Some(if too_long { Vec::new() } else { key });
            }
            Some(_) => return None, // an escape: the serde path reads it
            None => cur.advance(consumed),
        }
    }
}

/// At most how many elements the array starting at `start` (`[`) has: commas + 1 up to the first
/// `]` — exact for an array of numbers, an upper bound otherwise (the read then fails), and 1 for
/// `[]`. This pass reads the array's text once more, so it must be cheap (`scan`).
fn count_elements<S: ByteSource + ?Sized>(body: &S, start: usize) -> Option<usize> {
    let mut commas = 0usize;
    let mut buf = vec![0u8; super::windowed::WINDOW.min(body.len() - start)];
    let mut at = start + 1;
    while at < body.len() {
        let n = buf.len().min(body.len() - at);
        body.copy_to(at, &mut buf[..n]);
        let (found, close) = scan::commas_before_close(&buf[..n]);
        commas += found;
        if close.is_some() {
            return Some(commas + 1);
        }
        at += n;
    }
    None
}

/// The number of bytes of the JSON string starting at `start` (`"`), up to its closing quote,
/// escapes included: an upper bound of what it decodes from.
fn string_len<S: ByteSource + ?Sized>(body: &S, start: usize) -> Option<usize> {
    let mut buf = vec![0u8; super::windowed::WINDOW.min(body.len() - start)];
    let mut at = start + 1;
    // Bytes of the next window an escape at the end of this one covers (0 or 1).
    let mut escaped = 0;
    while at < body.len() {
        let n = buf.len().min(body.len() - at);
        body.copy_to(at, &mut buf[..n]);
        let window = &buf[..n];
        let mut i = escaped;
        while i < n {
            let Some(stop) = scan::string_stop(&window[i..]) else {
                break;
            };
            i += stop;
            if window[i] == b'"' {
                return Some(at + i - start - 1);
            }
            // A backslash: it and the byte it escapes.
            i += 2;
        }
        escaped = i.saturating_sub(n);
        at += n;
    }
    None
}

/// Reads `[n, n, ...]` of decimal integers 0–255 at the cursor (`[`) into a buffer of exactly
/// `count` bytes; leaves the cursor just past `]`.
fn read_bytes<S: ByteSource + ?Sized>(cur: &mut Cursor<'_, S>, count: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(count);
    cur.advance(1);
    cur.skip_ws();
    if cur.peek() == Some(b']') {
        cur.advance(1);
        return Some(bytes);
    }
    loop {
        // The common shapes first, each matched with one length check: "ddd," (most bytes of a
        // picture are 100-255), "dd,", "d,". The tight loop runs over the rest of the window.
        let ahead = cur.ahead();
        let mut rest = ahead;
        loop {
            match *rest {
                [a @ b'1'..=b'2', b @ b'0'..=b'9', c @ b'0'..=b'9', b',', ref tail @ ..] => {
                    let value =
                        u32::from(a - b'0') * 100 + u32::from(b - b'0') * 10 + u32::from(c - b'0');
                    bytes.push(u8::try_from(value).ok()?);
                    rest = tail;
                }
                [a @ b'1'..=b'9', b @ b'0'..=b'9', b',', ref tail @ ..] => {
                    bytes.push((a - b'0') * 10 + (b - b'0'));
                    rest = tail;
                }
                [d @ b'0'..=b'9', b',', ref tail @ ..] => {
                    bytes.push(d - b'0');
                    rest = tail;
                }
                _ => break,
            }
        }
        let consumed = ahead.len() - rest.len();
        cur.advance(consumed);
        // Anything else: one element, "0" or 1-3 digits not starting with 0, at most 255, maybe
        // after whitespace; or the tight loop reached the end of the window.
        cur.skip_ws();
        let first = cur.peek()?;
        let mut value = u32::from(first.wrapping_sub(b'0'));
        if value > 9 {
            return None;
        }
        cur.advance(1);
        if value != 0 {
            for _ in 0..2 {
                match cur.peek() {
                    Some(d @ b'0'..=b'9') => {
                        value = value * 10 + u32::from(d - b'0');
                        cur.advance(1);
                    }
                    _ => break,
                }
            }
        }
        bytes.push(u8::try_from(value).ok()?);
        cur.skip_ws();
        match cur.peek() {
            Some(b',') => cur.advance(1),
            Some(b']') => {
                cur.advance(1);
                return Some(bytes);
            }
            // A digit here is a fourth digit or a leading zero; anything else is not a plain
            // integer: the serde path decides.
            _ => return None,
        }
        cur.skip_ws();
        if bytes.len() == count {
            return None; // more elements than commas: not an array of numbers after all
        }
    }
}

/// Moves the cursor just past the JSON value it is at, tracking only structure (strings and
/// nesting); the serde path validates the rest.
fn skip_value<S: ByteSource + ?Sized>(cur: &mut Cursor<'_, S>) -> Option<()> {
    let mut depth = 0usize;
    loop {
        match cur.peek()? {
            b'"' => {
                cur.advance(1);
                loop {
                    let ahead = cur.ahead();
                    if ahead.is_empty() {
                        return None;
                    }
                    match ahead.iter().position(|&b| b == b'"' || b == b'\\') {
                        Some(i) if ahead[i] == b'"' => {
                            cur.advance(i + 1);
                            break;
                        }
                        Some(i) => cur.advance(i + 2),
                        None => {
                            let n = ahead.len();
                            cur.advance(n);
                        }
                    }
                }
                if depth == 0 {
                    return Some(());
                }
            }
            b'[' | b'{' => {
                depth += 1;
                cur.advance(1);
            }
            b']' | b'}' => {
                if depth == 0 {
                    return Some(()); // the end of the enclosing object: a scalar ended here
                }
                depth -= 1;
                cur.advance(1);
                if depth == 0 {
                    return Some(());
                }
            }
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return Some(()),
            _ => cur.advance(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{count_elements, split, string_len, Taken};
    use crate::models::SDXL_LIGHTNING;

    /// The body as the serde pass reads it, and the values taken out, by field name.
    type Seen = (String, Vec<(&'static str, Vec<u8>)>);

    fn arrays_in_windows(body: &str, window: usize) -> Option<Seen> {
        split(&SDXL_LIGHTNING, body.as_bytes(), window).map(|s| {
            let mut rest = Vec::new();
            let mut at = 0;
            for cut in &s.cuts {
                rest.extend_from_slice(&body.as_bytes()[at..cut.start]);
                rest.extend_from_slice(cut.replacement);
                at = cut.end;
            }
            rest.extend_from_slice(&body.as_bytes()[at..]);
            let taken = s
                .taken
                .into_iter()
                .map(|(f, t)| match t {
                    Taken::Bytes(b) | Taken::Base64(b, _) => (f.name, b),
                    Taken::List(items) => {
                        (f.name, items.into_iter().flat_map(|(b, _)| b).collect())
                    }
                })
                .collect();
            (String::from_utf8(rest).unwrap(), taken)
        })
    }

    fn arrays(body: &str) -> Option<Seen> {
        let whole = arrays_in_windows(body, 1 << 20);
        // Every window size gives the same answer: values straddle windows at every point.
        for window in [16, 17, 23, 64] {
            assert_eq!(arrays_in_windows(body, window), whole, "window {window}");
        }
        whole
    }

    #[test]
    fn plain_arrays_are_taken_out() {
        let got = arrays(
            r#"{"prompt":"a [tricky] \"one\"","image":[137,80, 78 ,0,255],"x":{"mask":[1]},"mask" : [ 0 , 1 ]}"#,
        );
        assert_eq!(
            got,
            Some((
                r#"{"prompt":"a [tricky] \"one\"","image":[],"x":{"mask":[1]},"mask" : []}"#
                    .to_owned(),
                vec![("image", vec![137, 80, 78, 0, 255]), ("mask", vec![0, 1])]
            ))
        );
        assert_eq!(
            arrays(r#"{"image":[]}"#),
            Some((r#"{"image":[]}"#.to_owned(), vec![("image", vec![])]))
        );
        assert_eq!(
            arrays(r#"{"image":[ ]}"#),
            Some((r#"{"image":[]}"#.to_owned(), vec![("image", vec![])]))
        );
        // Only the first occurrence of a key is taken out; the serde path sees the others.
        assert_eq!(
            arrays(r#"{"image":"no","image":[1]}"#),
            None // no array was taken out
        );
    }

    #[test]
    fn plain_base64_is_decoded() {
        assert_eq!(
            arrays(r#"{"image_b64":"iVBO Rw==","prompt":"p"}"#),
            Some((
                r#"{"image_b64":"","prompt":"p"}"#.to_owned(),
                vec![("image_b64", vec![0x89, 0x50, 0x4e, 0x47])]
            ))
        );
        assert_eq!(
            arrays(r#"{"image_b64":"data:image/png;base64,iVBORw\n"}"#),
            Some((
                r#"{"image_b64":""}"#.to_owned(),
                vec![("image_b64", vec![0x89, 0x50, 0x4e, 0x47])]
            ))
        );
    }

    #[test]
    fn anything_unusual_is_left_to_serde() {
        for body in [
            r#"{"image":[1.0]}"#,
            r#"{"image":[-0]}"#,
            r#"{"image":[256]}"#,
            r#"{"image":[01]}"#,
            r#"{"image":[1,]}"#,
            r#"{"image":[1 2]}"#,
            r#"{"image":[1,"]"]}"#,
            r#"{"im\u0061ge":[1]}"#,
            r#"{"image":[1]"#,
            r#"[1,2]"#,
            r#"{"prompt":"x"}"#,
            r#"{"image":[1],}"#,
            r#"{"image_b64":"iVBO\u0052w=="}"#,
            r#"{"image_b64":"iVB-Rw+="}"#,
            r#"{"image_b64":"iVBORw="}"#,
            r#"{"image_b64":""}"#,
            r#"{"image_b64":"data:image/png,iVBORw"}"#,
            r#"{"image_b64":"iVBORw"#,
        ] {
            assert_eq!(arrays(body), None, "{body}");
        }
    }

    #[test]
    fn counts_are_exact_for_arrays_and_bounds_for_strings() {
        let count = |s: &str| count_elements(s.as_bytes(), 0);
        assert_eq!(count("[]"), Some(1));
        assert_eq!(count("[ \n ]"), Some(1));
        assert_eq!(count("[7]"), Some(1));
        assert_eq!(count("[1,2,3,4,5,6,7,8,9,10,11,12]"), Some(12));
        assert_eq!(count("[1,2"), None);
        let len = |s: &str| string_len(s.as_bytes(), 0);
        assert_eq!(len(r#""""#), Some(0));
        assert_eq!(len(r#""abcdefghijklmnopqrstuvwxyz""#), Some(26));
        assert_eq!(len(r#""ab\"cdefghijklmnop\\""#), Some(20));
        assert_eq!(len(r#""abc"#), None);
    }
}
