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

/// How long a waiting request sleeps before its `reads`-th read of the job (0 is the first):
/// 200 ms, doubling up to 2 s. A wait of 60 s then reads the job's object about 35 times, not
/// 300: a job ends in seconds or not soon, and every read is a request to its object.
#[must_use]
pub fn poll_interval_ms(reads: u32) -> u64 {
    200u64.saturating_mul(1 << reads.min(4)).min(2000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_reads_back_off_to_two_seconds() {
        let first: Vec<u64> = (0..7).map(poll_interval_ms).collect();
        assert_eq!(first, [200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(poll_interval_ms(u32::MAX), 2000);
        // A full wait reads the job far fewer times than every 200 ms would.
        let (mut waited, mut reads) = (0u64, 0u32);
        while waited < u64::from(MAX_WAIT_S) * 1000 {
            waited += poll_interval_ms(reads);
            reads += 1;
        }
        assert!(reads < 40, "{reads} reads");
    }

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
