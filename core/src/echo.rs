//! Client-chosen names sent back to the client: in messages, JSON pointers and headers.
//!
//! A field name is as long as the client likes (a 100 KB name is one JSON string), and an answer
//! that repeats it grows with it. Every echoed name goes through [`echoed_name`] so that each
//! echo costs at most [`MAX_ECHOED_NAME_BYTES`] plus the marker.

use std::borrow::Cow;

/// Longest name echoed whole, in bytes of UTF-8; longer ones are cut (on a character boundary,
/// so at most this many bytes are kept) and end with [`TRUNCATION_MARKER`].
pub const MAX_ECHOED_NAME_BYTES: usize = 64;

/// Ends a name that was cut, so a reader can tell it is not the whole name.
pub const TRUNCATION_MARKER: &str = "…";

/// `name` as it may be echoed: whole when it is at most [`MAX_ECHOED_NAME_BYTES`] bytes long,
/// otherwise its longest prefix of at most that many bytes that ends on a character boundary,
/// followed by [`TRUNCATION_MARKER`].
#[must_use]
pub fn echoed_name(name: &str) -> Cow<'_, str> {
    if name.len() <= MAX_ECHOED_NAME_BYTES {
        return Cow::Borrowed(name);
    }
    let mut end = MAX_ECHOED_NAME_BYTES;
    // `is_char_boundary(0)` is true, so this stops.
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = String::with_capacity(end + TRUNCATION_MARKER.len());
    cut.push_str(&name[..end]);
    cut.push_str(TRUNCATION_MARKER);
    Cow::Owned(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_echoed_whole() {
        assert_eq!(echoed_name("stpes"), "stpes");
        let exact = "x".repeat(MAX_ECHOED_NAME_BYTES);
        assert_eq!(echoed_name(&exact), exact.as_str());
        assert!(matches!(echoed_name(&exact), Cow::Borrowed(_)));
    }

    #[test]
    fn long_names_are_cut_with_a_marker() {
        let long = "n".repeat(100 * 1024);
        let echoed = echoed_name(&long);
        assert_eq!(
            echoed,
            format!("{}{TRUNCATION_MARKER}", "n".repeat(MAX_ECHOED_NAME_BYTES))
        );
    }

    #[test]
    fn names_are_cut_on_a_character_boundary() {
        // 3 bytes each: 21 whole characters are 63 bytes; the 22nd would end at byte 66.
        let long = "€".repeat(40);
        let echoed = echoed_name(&long);
        assert_eq!(echoed, format!("{}{TRUNCATION_MARKER}", "€".repeat(21)));
        // One byte more than the bound: still cut.
        let over = format!("{}é", "a".repeat(MAX_ECHOED_NAME_BYTES - 1));
        assert_eq!(
            echoed_name(&over),
            format!(
                "{}{TRUNCATION_MARKER}",
                "a".repeat(MAX_ECHOED_NAME_BYTES - 1)
            )
        );
    }
}
