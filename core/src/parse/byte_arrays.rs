//! The fast path of [`super::parse_json`]: image byte arrays read by a tight loop instead of
//! serde_json's per-element machinery (measured: 49 ms → a few ms for a 1024×1024 image in Wasm).
//!
//! It walks only the top level of the body. For the first occurrence of each byte-array field
//! whose value is an array of plain decimal integers 0–255, it reads the bytes and leaves `[]` in
//! its place; everything else is left to the serde path, which then parses that much smaller
//! remainder. Anything unusual — an escaped key, a number like `1.0`, `-0` or `256`, a body that
//! is not an object — abandons the fast path, and the serde path reads the whole body, so results
//! and messages are exactly the serde path's (a property test compares the two).

use crate::model::{FieldKind, FieldSpec, ModelSpec};

/// A body with its byte arrays taken out.
pub(super) struct Split {
    /// The body with each extracted array replaced by `[]`.
    pub rest: Vec<u8>,
    /// The extracted arrays, by field (first occurrences only).
    pub arrays: Vec<(&'static FieldSpec, Vec<u8>)>,
}

/// Takes the byte arrays out of `body`, or `None` when the fast path does not apply.
pub(super) fn split(spec: &'static ModelSpec, body: &[u8]) -> Option<Split> {
    let mut arrays: Vec<(&'static FieldSpec, Vec<u8>)> = Vec::new();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut rest = Vec::new();
    let mut copied_to = 0;
    let mut i = skip_ws(body, 0);
    if body.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(body, i + 1);
    if body.get(i) == Some(&b'}') {
        return None; // nothing to take out
    }
    loop {
        if body.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = i
            + 1
            + body[i + 1..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')?;
        if body[key_end] == b'\\' {
            return None;
        }
        let key = &body[i + 1..key_end];
        i = skip_ws(body, key_end + 1);
        if body.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(body, i + 1);
        let field = std::str::from_utf8(key)
            .ok()
            .and_then(|k| spec.field(k))
            .filter(|f| matches!(f.kind, FieldKind::ImageBytes));
        match field {
            Some(field) if !seen.contains(&field.name) => {
                seen.push(field.name);
                if body.get(i) == Some(&b'[') {
                    let (mut bytes, end) = read_bytes(body, i)?;
                    // Room was reserved for the densest array ("0,0,..."); a picture's is ~1.8x
                    // less dense, and the bytes live for the whole request.
                    bytes.shrink_to_fit();
                    rest.extend_from_slice(&body[copied_to..i]);
                    rest.extend_from_slice(b"[]");
                    copied_to = end;
                    arrays.push((field, bytes));
                    i = end;
                } else {
                    i = skip_value(body, i)?;
                }
            }
            _ => i = skip_value(body, i)?,
        }
        i = skip_ws(body, i);
        match body.get(i) {
            Some(b',') => i = skip_ws(body, i + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    if arrays.is_empty() {
        return None;
    }
    rest.extend_from_slice(&body[copied_to..]);
    Some(Split { rest, arrays })
}

fn skip_ws(body: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = body.get(i) {
        i += 1;
    }
    i
}

/// Reads `[n, n, ...]` of decimal integers 0–255 starting at `body[start] == b'['`; answers the
/// bytes and the index just past `]`.
fn read_bytes(body: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    // Each element takes at least two characters ("0,").
    let mut bytes = Vec::with_capacity((body.len() - start) / 2);
    let mut i = skip_ws(body, start + 1);
    if body.get(i) == Some(&b']') {
        return Some((bytes, i + 1));
    }
    loop {
        // The common shapes first, each matched with one length check: "ddd," (most bytes of a
        // picture are 100-255), "dd,", "d,". The tight loop runs over the rest of the slice.
        let mut rest = &body[i..];
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
        i = body.len() - rest.len();
        // Anything else: one element, "0" or 1-3 digits not starting with 0, at most 255, maybe
        // after whitespace.
        i = skip_ws(body, i);
        let first = *body.get(i)?;
        let mut value = u32::from(first.wrapping_sub(b'0'));
        if value > 9 {
            return None;
        }
        i += 1;
        if value != 0 {
            for _ in 0..2 {
                match body.get(i) {
                    Some(&d @ b'0'..=b'9') => {
                        value = value * 10 + u32::from(d - b'0');
                        i += 1;
                    }
                    _ => break,
                }
            }
        }
        let byte = u8::try_from(value).ok()?;
        bytes.push(byte);
        match body.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Some((bytes, i + 1)),
            Some(b' ' | b'\t' | b'\n' | b'\r') => {
                i = skip_ws(body, i);
                match body.get(i) {
                    Some(b',') => i += 1,
                    Some(b']') => return Some((bytes, i + 1)),
                    _ => return None,
                }
            }
            // A digit here is a fourth digit or a leading zero; anything else is not a plain
            // integer: the serde path decides.
            _ => return None,
        }
        i = skip_ws(body, i);
    }
}

/// The index just past the JSON value starting at `body[start]`, tracking only structure
/// (strings and nesting); the serde path validates the rest.
fn skip_value(body: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    loop {
        match *body.get(i)? {
            b'"' => {
                i += 1;
                loop {
                    match *body.get(i)? {
                        b'"' => break,
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b']' | b'}' => {
                if depth == 0 {
                    return Some(i); // the end of the enclosing object: a scalar ended here
                }
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return Some(i),
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split;
    use crate::models::SDXL_LIGHTNING;

    /// The remainder and the arrays taken out, by field name.
    type Taken = (String, Vec<(&'static str, Vec<u8>)>);

    fn arrays(body: &str) -> Option<Taken> {
        split(&SDXL_LIGHTNING, body.as_bytes()).map(|s| {
            let rest = String::from_utf8(s.rest).unwrap();
            let arrays = s.arrays.into_iter().map(|(f, b)| (f.name, b)).collect();
            (rest, arrays)
        })
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
        // Only the first occurrence of a key is taken out; the serde path sees the others.
        assert_eq!(
            arrays(r#"{"image":"no","image":[1]}"#),
            None // no array was taken out
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
            r#"{"im\u0061ge":[1]}"#,
            r#"{"image":[1]"#,
            r#"[1,2]"#,
            r#"{"prompt":"x"}"#,
            r#"{"image":[1],}"#,
        ] {
            assert_eq!(arrays(body), None, "{body}");
        }
    }
}
