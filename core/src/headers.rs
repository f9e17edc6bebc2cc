//! Header values: those built from client input (short visible ASCII), and those clients send
//! to steer caching.

use std::fmt::Write as _;

use crate::echo::echoed_name;

/// How many names `x-ignored-fields` lists before summarising the rest.
pub const MAX_LISTED_FIELDS: usize = 20;

/// `a, b, c` for the names, each cut by [`echoed_name`] (a header line has a size limit), then
/// percent-encoding anything that is not visible ASCII (and `%`, `,`; so the cut's `…` is
/// `%E2%80%A6`), listing at most [`MAX_LISTED_FIELDS`] and then `(+N more)`.
#[must_use]
pub fn field_list(names: &[String]) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().take(MAX_LISTED_FIELDS).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_percent_encoded(&mut out, &echoed_name(name), |byte| {
            byte.is_ascii_graphic() && byte != b'%' && byte != b','
        });
    }
    if names.len() > MAX_LISTED_FIELDS {
        let _ = write!(out, ", (+{} more)", names.len() - MAX_LISTED_FIELDS);
    }
    out
}

/// Appends `text` to `out` with each byte that `keep` refuses as `%XX` (upper-case hex), for a
/// header value that must stay visible ASCII. `keep` must refuse `%` and every byte outside
/// ASCII, so that the text reads back by percent-decoding.
pub fn push_percent_encoded(out: &mut String, text: &str, keep: impl Fn(u8) -> bool) {
    for byte in text.bytes() {
        if keep(byte) && byte.is_ascii() && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Whether an `If-None-Match` value names the entity tag `"<key>"` (weak or strong). `*` names
/// no tag in particular: see [`any_current`].
#[must_use]
pub fn etag_matches(if_none_match: &str, key: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|tag| {
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(key)
    })
}

/// Whether an `If-None-Match` value is `*`: "only if there is no current representation"
/// (RFC 9110 §13.1.2). Its condition is false, and a `GET` answers 304, only when the image
/// already exists; for an image not generated yet the request proceeds.
#[must_use]
pub fn any_current(if_none_match: &str) -> bool {
    if_none_match.split(',').any(|tag| tag.trim() == "*")
}

/// `vary` with `name` added, as one comma-separated value without duplicates (names compare
/// case-insensitively; `*` already covers every name).
#[must_use]
pub fn vary_with(vary: Option<&str>, name: &str) -> String {
    let existing: Vec<&str> = vary
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if existing
        .iter()
        .any(|n| *n == "*" || n.eq_ignore_ascii_case(name))
    {
        return existing.join(", ");
    }
    let mut merged = existing;
    merged.push(name);
    merged.join(", ")
}

/// How much an `Accept` header wants `media_type` (0 to 1), by the most specific range that
/// matches it (RFC 9110 §12.5.1), and that range's specificity (2 exact, 1 `type/*`, 0 `*/*`).
/// No header at all accepts everything.
#[must_use]
pub fn accept_quality(accept: Option<&str>, media_type: &str) -> (f32, u8) {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return (1.0, 0);
    };
    let (kind, _) = media_type.split_once('/').unwrap_or((media_type, ""));
    let mut best: Option<(u8, f32)> = None; // (specificity, quality)
    for range in accept.split(',') {
        let mut params = range.split(';');
        let name = params
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let specificity = if name == media_type {
            2
        } else if name.strip_suffix("/*") == Some(kind) {
            1
        } else if name == "*/*" {
            0
        } else {
            continue;
        };
        let quality = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| quality_value(q.trim()))
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, quality));
        }
    }
    best.map_or((0.0, 0), |(s, q)| (q, s))
}

/// A `q` parameter's number: RFC 9110's `qvalue` (`0.8`, `1.000`) and any plain decimal up to
/// 7 significant fractional digits, as `str::parse::<f32>` reads it. Not by `parse` itself:
/// that links `core`'s float parser and its 10 KiB table of powers of five (~10 KiB of the
/// gzipped Worker), while a `qvalue` needs one division. Exponents, `inf`, `NaN` and longer
/// fractions (none of them a `qvalue`) are ignored like any other unreadable `q`.
fn quality_value(text: &str) -> Option<f32> {
    /// Powers of ten exact in `f32`: one division by them rounds correctly.
    const TENS: [f32; 8] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let value = if whole.bytes().any(|b| b != b'0') {
        // At least 1: all that matters once clamped to 0..=1.
        1.0
    } else {
        let fraction = fraction.trim_end_matches('0');
        let places = TENS.get(fraction.len())?;
        let numerator: u32 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().ok()?
        };
        // Below 10^7 < 2^24: exact in f32, so the quotient is the correctly rounded value.
        #[allow(clippy::cast_precision_loss)]
        let numerator = numerator as f32;
        numerator / places
    };
    Some(if negative { -value } else { value })
}

/// What a generation answers with, by the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The image bytes (the default: `*/*`, `image/*`, no header).
    Image,
    /// The v4 envelope with the image in base64 (`Accept: application/json`).
    Json,
    /// A page (`Accept: text/html`, as browsers navigate).
    Html,
}

/// The representation `accept` prefers: the highest quality, then the type named most
/// specifically (`application/json, */*` asks for JSON); full ties go to the image.
#[must_use]
pub fn wanted(accept: Option<&str>) -> Wanted {
    let rank = |media_type| {
        let (q, specificity) = accept_quality(accept, media_type);
        (q > 0.0, q, specificity)
    };
    let image = rank("image/png");
    let json = rank("application/json");
    let html = rank("text/html");
    if html.0 && html > image && html >= json {
        Wanted::Html
    } else if json.0 && json > image {
        Wanted::Json
    } else {
        Wanted::Image
    }
}

/// What a client's `Cache-Control` (and legacy `Pragma`) allow the gateway to do with its caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCaching {
    /// Answer from a cache when there is an entry (`no-cache` and `no-store` say no).
    pub read: bool,
    /// Keep the fresh result (`no-store` says no).
    pub store: bool,
}

impl ClientCaching {
    #[must_use]
    pub fn from_headers(cache_control: Option<&str>, pragma: Option<&str>) -> Self {
        let has = |value: Option<&str>, directive: &str| {
            value.is_some_and(|v| {
                v.split(',').any(|d| {
                    d.trim()
                        .split('=')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .eq_ignore_ascii_case(directive)
                })
            })
        };
        let no_store = has(cache_control, "no-store");
        let no_cache = has(cache_control, "no-cache") || has(pragma, "no-cache");
        ClientCaching {
            read: !no_store && !no_cache,
            store: !no_store,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{wanted, Wanted};

    #[test]
    fn accept_negotiation() {
        let cases = [
            (None, Wanted::Image),
            (Some("*/*"), Wanted::Image),
            (Some("application/json"), Wanted::Json),
            (Some("application/json, text/plain, */*"), Wanted::Json),
            (Some("image/*,application/json;q=0.5"), Wanted::Image),
            (
                Some("image/avif,image/webp,image/apng,*/*;q=0.8"),
                Wanted::Image,
            ),
            // A browser navigation.
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                Wanted::Html,
            ),
            (Some("application/json;q=0, */*"), Wanted::Image),
            (Some("text/html;q=0.1, image/png"), Wanted::Image),
        ];
        for (accept, expected) in cases {
            assert_eq!(wanted(accept), expected, "{accept:?}");
        }
    }

    use super::*;

    /// Every plain decimal of up to 6 fractional digits, signed and padded, reads as `parse`
    /// reads it (after the clamp `accept_quality` applies), bit for bit.
    #[test]
    fn quality_values_read_as_parse_reads_them() {
        let clamp = |q: f32| q.clamp(0.0, 1.0).to_bits();
        let mut texts: Vec<String> = Vec::new();
        for places in 1..=6u32 {
            for n in 0..10u32.pow(places) {
                texts.push(format!("0.{n:0width$}", width = places as usize));
            }
        }
        for extra in [
            "0",
            "1",
            "1.",
            "1.0",
            "1.000",
            "0.",
            ".5",
            "+0.5",
            "-0.5",
            "-0",
            "00.50",
            "2",
            "10.25",
            "0.5000000000",
            "0.1234567",
            "-1.5",
            "007",
        ] {
            texts.push(extra.to_owned());
        }
        for text in &texts {
            let expected = text.parse::<f32>().ok().map(clamp);
            assert_eq!(quality_value(text).map(clamp), expected, "{text}");
        }
        // Not qvalues, and now ignored (a missing `q` is 1) instead of read.
        for text in [
            "",
            ".",
            "+",
            "5e-1",
            "inf",
            "NaN",
            "0.12345678",
            "0,5",
            "0.5 ",
            "x",
        ] {
            assert_eq!(quality_value(text), None, "{text}");
        }
    }

    #[test]
    fn etags() {
        let key = "ab12";
        assert!(etag_matches("\"ab12\"", key));
        assert!(etag_matches("W/\"ab12\"", key));
        assert!(etag_matches("\"x\", \"ab12\"", key));
        assert!(
            !etag_matches("*", key),
            "`*` depends on whether the image exists"
        );
        assert!(any_current("*"));
        assert!(any_current(" * "));
        assert!(!any_current("\"ab12\""));
        assert!(!any_current("\"*\""), "a quoted star is an entity tag");
        assert!(!etag_matches("ab12", key), "unquoted is not an entity tag");
        assert!(!etag_matches("\"ab1\"", key));
        assert!(!etag_matches("", key));
    }

    #[test]
    fn vary_is_merged_without_duplicates() {
        assert_eq!(vary_with(None, "origin"), "origin");
        assert_eq!(vary_with(Some(""), "origin"), "origin");
        assert_eq!(vary_with(Some("accept"), "origin"), "accept, origin");
        assert_eq!(
            vary_with(Some("Accept, Origin"), "origin"),
            "Accept, Origin"
        );
        assert_eq!(vary_with(Some("accept,origin"), "Origin"), "accept, origin");
        assert_eq!(vary_with(Some("*"), "origin"), "*");
        assert_eq!(vary_with(Some(" accept , "), "origin"), "accept, origin");
    }

    #[test]
    fn client_caching() {
        let cc = |v: &str| ClientCaching::from_headers(Some(v), None);
        assert_eq!(
            ClientCaching::from_headers(None, None),
            ClientCaching {
                read: true,
                store: true
            }
        );
        assert_eq!(
            cc("no-cache"),
            ClientCaching {
                read: false,
                store: true
            }
        );
        assert_eq!(
            cc("No-Store"),
            ClientCaching {
                read: false,
                store: false
            }
        );
        assert_eq!(
            cc("max-age=0, no-store"),
            ClientCaching {
                read: false,
                store: false
            }
        );
        assert_eq!(
            cc("max-age=60"),
            ClientCaching {
                read: true,
                store: true
            }
        );
        assert_eq!(
            cc("no-cache=\"set-cookie\""),
            ClientCaching {
                read: false,
                store: true
            }
        );
        assert_eq!(
            ClientCaching::from_headers(None, Some("no-cache")),
            ClientCaching {
                read: false,
                store: true
            }
        );
    }

    fn list(names: &[&str]) -> String {
        field_list(&names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn plain_names_are_listed_as_they_are() {
        assert_eq!(list(&["stpes", "cfg_scale"]), "stpes, cfg_scale");
    }

    #[test]
    fn unsafe_bytes_are_percent_encoded() {
        assert_eq!(
            list(&["a b", "é", "x,y", "100%", "new\nline"]),
            "a%20b, %C3%A9, x%2Cy, 100%25, new%0Aline"
        );
    }

    #[test]
    fn long_lists_and_names_are_cut() {
        let many: Vec<String> = (0..25).map(|i| format!("f{i}")).collect();
        let out = field_list(&many);
        assert!(out.starts_with("f0, f1, "));
        assert!(out.ends_with("f19, (+5 more)"));
        let long = "é".repeat(40); // 80 bytes: cut on a character boundary
        let out = list(&[&long]);
        assert!(out.ends_with("%E2%80%A6"), "{out}");
        assert_eq!(out.matches("%C3%A9").count(), 32);
    }

    #[test]
    fn the_header_stays_short_and_visible_ascii() {
        // The longest names, in the widest encoding: 4-byte characters, each byte escaped.
        let names: Vec<String> = (0..100)
            .map(|i| format!("{i}{}", "😀".repeat(1_000)))
            .collect();
        let out = field_list(&names);
        assert!(out.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
        // Per name: at most 64 bytes escaped (x3) plus the escaped marker, and ", ".
        let per_name = 3 * crate::echo::MAX_ECHOED_NAME_BYTES + 3 * "…".len() + 2;
        assert!(
            out.len() <= MAX_LISTED_FIELDS * per_name + 16,
            "{}",
            out.len()
        );
    }
}
