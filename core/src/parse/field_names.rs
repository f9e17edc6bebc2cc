//! The bookkeeping of field names a request sends that do not become values: names the model
//! does not have, and known names sent again. Shared by JSON bodies, forms and query strings.
//!
//! A hostile request can carry tens of thousands of names, so each name costs one hash lookup
//! (a search of the names kept so far made validation quadratic), and at most
//! [`MAX_UNKNOWN_FIELDS`] distinct names are kept: past that the request will be refused, so
//! later names are not even looked up. The cap also bounds the worst case of the hash set itself
//! (its keys are fixed on `wasm32-unknown-unknown`, so colliding names could be crafted): a lookup
//! never compares against more than the names kept.

use std::collections::hash_map::{Entry, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};

/// Most distinct unknown field names one request may carry; a request with more is refused
/// (rule `too_many_unknown_fields`). Many times the fields of the largest model table (14, FLUX.2), so a
/// client that sends extra fields of its own is not refused for that, while a hostile request
/// costs little. The repeats of known fields are kept under the same cap, which they can never
/// reach (there are only the table's names to repeat).
pub const MAX_UNKNOWN_FIELDS: usize = 100;

/// Distinct names in the order they were first sent, each kept once, at most
/// [`MAX_UNKNOWN_FIELDS`] of them.
#[derive(Clone)]
pub struct FieldNames<K> {
    /// Each name kept, with the position it was first sent at.
    first_seen: HashMap<Name<K>, usize>,
    /// A distinct name came when [`MAX_UNKNOWN_FIELDS`] were already kept; it and every later
    /// one were not kept.
    overflowed: bool,
}

impl<K> Default for FieldNames<K> {
    fn default() -> Self {
        FieldNames {
            first_seen: HashMap::new(),
            overflowed: false,
        }
    }
}

impl<K: Hash + Eq> FieldNames<K> {
    /// Notes one occurrence of `name`: kept if it is new and there is room. One lookup, or
    /// none (and no copy of the name) once the cap was passed.
    pub fn note(&mut self, name: impl Into<K>) {
        if self.overflowed {
            return;
        }
        let kept = self.first_seen.len();
        match self.first_seen.entry(Name(name.into())) {
            Entry::Occupied(_) => {}
            Entry::Vacant(slot) if kept < MAX_UNKNOWN_FIELDS => {
                slot.insert(kept);
            }
            Entry::Vacant(_) => self.overflowed = true,
        }
    }

    /// Forgets `name`: a field the surface around the model's fields reads itself (a
    /// prediction's `n`).
    pub fn forget(&mut self, name: K) {
        self.first_seen.remove(&Name(name));
    }

    /// Whether more than [`MAX_UNKNOWN_FIELDS`] distinct names were sent.
    #[must_use]
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// How many distinct names are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.first_seen.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.first_seen.is_empty()
    }

    /// The names kept, in the order they were first sent.
    #[must_use]
    pub fn in_order(&self) -> Vec<&K> {
        let mut names: Vec<(&K, usize)> =
            self.first_seen.iter().map(|(n, &at)| (&n.0, at)).collect();
        names.sort_unstable_by_key(|&(_, at)| at);
        names.into_iter().map(|(name, _)| name).collect()
    }

    /// The names kept, in the order they were first sent.
    #[must_use]
    pub fn into_vec(self) -> Vec<K> {
        let mut names: Vec<(K, usize)> = self
            .first_seen
            .into_iter()
            .map(|(n, at)| (n.0, at))
            .collect();
        names.sort_unstable_by_key(|&(_, at)| at);
        names.into_iter().map(|(name, _)| name).collect()
    }
}

impl<K: Hash + Eq> PartialEq for FieldNames<K> {
    fn eq(&self, other: &Self) -> bool {
        self.overflowed == other.overflowed && self.first_seen == other.first_seen
    }
}

impl<K: Hash + Eq + fmt::Debug> fmt::Debug for FieldNames<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldNames")
            .field("names", &self.in_order())
            .field("overflowed", &self.overflowed)
            .finish()
    }
}

/// A kept name. Its hashing and comparing are the work the bookkeeping does per name, so tests
/// count them to tell one lookup per name from a search per name.
#[derive(Clone)]
struct Name<K>(K);

impl<K: Hash> Hash for Name<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        count_step();
        self.0.hash(state);
    }
}

impl<K: PartialEq> PartialEq for Name<K> {
    fn eq(&self, other: &Self) -> bool {
        count_step();
        self.0 == other.0
    }
}

impl<K: Eq> Eq for Name<K> {}

#[cfg(test)]
thread_local! {
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn count_step() {
    #[cfg(test)]
    STEPS.with(|steps| steps.set(steps.get() + 1));
}

/// Runs `f` and answers how many names it hashed or compared in this bookkeeping.
#[cfg(test)]
pub(crate) fn steps_of<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = STEPS.with(std::cell::Cell::get);
    let out = f();
    (out, STEPS.with(std::cell::Cell::get) - before)
}
