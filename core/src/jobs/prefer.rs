//! `Prefer: wait` (RFC 7240, as Replicate reads it): hold the answer until the job ends, at most
//! [`MAX_WAIT_S`] seconds, or `wait=N` seconds.

/// The longest a create or get answer is held.
pub const MAX_WAIT_S: u32 = 60;

/// Seconds to hold the answer for a `Prefer` header: `None` when it asks for no wait. A `wait`
/// with no number, or a number over the cap, waits the cap; `wait=0` does not wait.
#[must_use]
pub fn wait_seconds(prefer: Option<&str>) -> Option<u32> {
    let prefer = prefer?;
    prefer
        .split([',', ';'])
        .map(str::trim)
        .find_map(|pref| {
            let (name, value) = match pref.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (pref, None),
            };
            if !name.eq_ignore_ascii_case("wait") {
                return None;
            }
            Some(match value {
                None | Some("") => MAX_WAIT_S,
                Some(v) => v.parse::<u32>().map_or(MAX_WAIT_S, |n| n.min(MAX_WAIT_S)),
            })
        })
        .filter(|&s| s > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_with_and_without_a_number() {
        assert_eq!(wait_seconds(None), None);
        assert_eq!(wait_seconds(Some("respond-async")), None);
        assert_eq!(wait_seconds(Some("wait")), Some(60));
        assert_eq!(wait_seconds(Some("wait=5")), Some(5));
        assert_eq!(wait_seconds(Some("Wait = 7")), Some(7));
        assert_eq!(wait_seconds(Some("wait=600")), Some(60));
        assert_eq!(wait_seconds(Some("wait=0")), None);
        assert_eq!(wait_seconds(Some("return=minimal, wait=3")), Some(3));
        assert_eq!(wait_seconds(Some("wait=soon")), Some(60));
    }
}
