//! Permalink ids: `/images/<id>` names a stored result in a way only someone who was answered
//! can know.
//!
//! The cache key alone is no secret: it is the SHA-256 of the normalized inputs, so whoever can
//! guess a prompt and a seed can compute it. A permalink id is therefore the cache key followed
//! by a tag, the first 128 bits of HMAC-SHA-256 of the key under the operator's secret
//! (`PERMALINK_SECRET`):
//!
//! ```text
//! <cache key: 64 lowercase hex>-<tag: 32 lowercase hex>
//! ```
//!
//! Why the key travels in the id instead of the tag alone: results are stored under the cache
//! key, which a generation request knows and a permalink request, with the key in its id, knows
//! too. So no index from ids to keys has to be written or kept in step with the tiers, and
//! rotating the secret retires exactly the old permalinks (their tags no longer verify) while
//! every stored result stays reachable by the requests that make it. The key is not hidden by
//! this scheme (the ETag already tells it to whoever was answered); the tag is what cannot be
//! guessed.
//!
//! 128 bits of tag: RFC 2104 allows truncating to half the hash length, and guessing one tag is
//! a 2^-128 chance per try, with nothing to compute offline without the secret.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::cache_key::{hex, is_cache_key};

/// Shortest secret accepted: an answered client knows pairs of keys and tags, so a short secret
/// could be found offline by trying candidates, and with it every permalink.
pub const MIN_SECRET_CHARS: usize = 32;
/// Bytes of the HMAC kept in an id.
const TAG_BYTES: usize = 16;
/// Length of a permalink id: key, `-`, tag.
pub const ID_LEN: usize = 64 + 1 + 2 * TAG_BYTES;

/// Why permalinks cannot be made: the operator's secret is missing or too weak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error(
        "PERMALINK_SECRET is not set, so permalinks are off: set it with \
         `npx wrangler secret put PERMALINK_SECRET` (at least {MIN_SECRET_CHARS} random characters)"
    )]
    Missing,
    #[error(
        "PERMALINK_SECRET is shorter than {MIN_SECRET_CHARS} characters, so permalinks are off: \
         a short secret can be found from one permalink by trying candidates"
    )]
    TooShort,
}

/// Makes and checks permalink ids under one secret.
#[derive(Clone)]
pub struct Permalinks {
    /// HMAC-SHA-256 already keyed with the secret; cloned for each id, so the key schedule is
    /// computed once per isolate.
    keyed: HmacSha256,
}

/// HMAC-SHA-256 (RFC 2104) over the `sha2` the gateway links anyway: the `hmac` crate's generic
/// layers cost more of the Worker bundle than these lines.
#[derive(Clone)]
struct HmacSha256 {
    /// SHA-256 that has absorbed the key XOR ipad, and the one that has absorbed key XOR opad.
    inner: Sha256,
    outer: Sha256,
}

impl HmacSha256 {
    fn new(key: &[u8]) -> HmacSha256 {
        const BLOCK: usize = 64;
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let padded = |pad: u8| Sha256::new_with_prefix(block.map(|b| b ^ pad));
        HmacSha256 {
            inner: padded(0x36),
            outer: padded(0x5c),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        let mut outer = self.outer;
        outer.update(self.inner.finalize());
        outer.finalize().into()
    }
}

impl std::fmt::Debug for Permalinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print anything derived from the secret.
        f.write_str("Permalinks { .. }")
    }
}

impl Permalinks {
    /// Permalinks under `secret` (surrounding whitespace ignored: secrets pasted with a newline
    /// are the same secret).
    ///
    /// # Errors
    /// When the secret is missing (empty) or shorter than [`MIN_SECRET_CHARS`].
    pub fn new(secret: Option<&str>) -> Result<Permalinks, SecretError> {
        let secret = secret.map(str::trim).unwrap_or_default();
        if secret.is_empty() {
            return Err(SecretError::Missing);
        }
        if secret.chars().count() < MIN_SECRET_CHARS {
            return Err(SecretError::TooShort);
        }
        Ok(Permalinks {
            keyed: HmacSha256::new(secret.as_bytes()),
        })
    }

    /// The permalink id of the result under `key`.
    #[must_use]
    pub fn id_for(&self, key: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(key.as_bytes());
        let tag = mac.finalize();
        format!("{key}-{}", hex(&tag[..TAG_BYTES]))
    }

    /// The cache key a permalink id names, if the id is well formed and its tag was made under
    /// this secret. The tag is compared in constant time.
    #[must_use]
    pub fn key_of<'a>(&self, id: &'a str) -> Option<&'a str> {
        let (key, tag) = split_id(id)?;
        let tag = unhex(tag)?;
        let mut mac = self.keyed.clone();
        mac.update(key.as_bytes());
        let matches: bool = mac.finalize()[..TAG_BYTES].ct_eq(&tag).into();
        matches.then_some(key)
    }
}

/// Whether `text` has the shape of a permalink id (whatever secret made it).
#[must_use]
pub fn is_permalink_id(text: &str) -> bool {
    split_id(text).is_some()
}

fn split_id(id: &str) -> Option<(&str, &str)> {
    if id.len() != ID_LEN {
        return None;
    }
    let (key, tag) = id.split_once('-')?;
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (is_cache_key(key) && tag.len() == 2 * TAG_BYTES && lower_hex(tag)).then_some((key, tag))
}

/// Lowercase hex to bytes (the caller checked the digits).
fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "local-test-secret-0123456789abcdef";
    const KEY: &str = "bbbcc1cd6ecbc22b1417822af24505a0059433129b1b37f21d325be84107260c";

    #[test]
    fn id_is_the_key_and_a_truncated_hmac() {
        let permalinks = Permalinks::new(Some(SECRET)).unwrap();
        // Computed independently: Python's hmac.new(SECRET, KEY, sha256).hexdigest()[:32].
        let expected = format!("{KEY}-582e56a6ae1cd47ffd4984341ae1391b");
        assert_eq!(permalinks.id_for(KEY), expected);
        assert_eq!(expected.len(), ID_LEN);
        assert!(is_permalink_id(&expected));
        assert_eq!(permalinks.key_of(&expected), Some(KEY));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2 (a short key), through the same code the ids use.
        let mut mac = HmacSha256::new(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block, which is hashed first.
        let mut mac = HmacSha256::new(&[0xaa; 131]);
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex(&mac.finalize()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // Test case 1: a 20-byte key, data in two updates.
        let mut mac = HmacSha256::new(&[0x0b; 20]);
        mac.update(b"Hi ");
        mac.update(b"There");
        assert_eq!(
            hex(&mac.finalize()),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn ids_from_the_inputs_alone_or_another_secret_do_not_verify() {
        let permalinks = Permalinks::new(Some(SECRET)).unwrap();
        let rotated = Permalinks::new(Some("another-secret-of-enough-length-42")).unwrap();
        let id = permalinks.id_for(KEY);
        assert_ne!(rotated.id_for(KEY), id);
        assert_eq!(rotated.key_of(&id), None, "rotation retires old ids");
        // What someone who only knows the inputs can build.
        assert_eq!(permalinks.key_of(KEY), None);
        assert_eq!(
            permalinks.key_of(&format!("{KEY}-{}", "0".repeat(32))),
            None
        );
        assert_eq!(permalinks.key_of(&format!("{KEY}-{}", &KEY[..32])), None);
        // One flipped digit of the tag, or of the key.
        let mut flipped = id.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            permalinks.key_of(&String::from_utf8(flipped).unwrap()),
            None
        );
        let other_key = format!(
            "{}{}",
            if KEY.starts_with('a') { "b" } else { "a" },
            &id[1..]
        );
        assert_eq!(permalinks.key_of(&other_key), None);
    }

    #[test]
    fn malformed_ids_are_refused_without_panicking() {
        let permalinks = Permalinks::new(Some(SECRET)).unwrap();
        let id = permalinks.id_for(KEY);
        let cases = [
            String::new(),
            "-".to_owned(),
            KEY.to_owned(),
            id[..ID_LEN - 1].to_owned(),
            format!("{id}0"),
            id.to_ascii_uppercase(),
            id.replacen('-', "_", 1),
            "é".repeat(ID_LEN / 2),
            format!("{}-{}", &KEY[..63], "0".repeat(33)),
        ];
        for case in &cases {
            assert!(!is_permalink_id(case), "{case:?}");
            assert_eq!(permalinks.key_of(case), None, "{case:?}");
        }
        // Multi-byte text of exactly the right byte length.
        let tricky = format!("{}-{}é", KEY, "0".repeat(30));
        assert_eq!(tricky.len(), ID_LEN);
        assert_eq!(permalinks.key_of(&tricky), None);
    }

    #[test]
    fn secrets_must_be_present_and_long() {
        assert_eq!(Permalinks::new(None).unwrap_err(), SecretError::Missing);
        assert_eq!(
            Permalinks::new(Some(" \n")).unwrap_err(),
            SecretError::Missing
        );
        assert_eq!(
            Permalinks::new(Some("42")).unwrap_err(),
            SecretError::TooShort
        );
        let padded = format!("  {SECRET}\n");
        assert_eq!(
            Permalinks::new(Some(&padded)).unwrap().id_for(KEY),
            Permalinks::new(Some(SECRET)).unwrap().id_for(KEY),
        );
        assert!(!format!("{:?}", Permalinks::new(Some(SECRET)).unwrap()).contains("secret"));
    }
}
