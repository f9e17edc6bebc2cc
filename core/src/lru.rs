//! A least-recently-used map bounded by the total size of its values, for the isolate's in-memory
//! cache tier: the hottest results answered without any I/O.

use std::collections::HashMap;

#[derive(Debug)]
pub struct BoundedLru<V> {
    budget: usize,
    used: usize,
    clock: u64,
    entries: HashMap<String, Entry<V>>,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    size: usize,
    last_used: u64,
}

impl<V: Clone> BoundedLru<V> {
    /// An empty map that holds at most `budget` bytes of values.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        BoundedLru {
            budget,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
        }
    }

    /// Changes the budget, evicting as needed.
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        self.evict_to(budget);
    }

    #[must_use]
    pub fn used(&self) -> usize {
        self.used
    }

    /// The value for `key`, marking it the most recently used.
    pub fn get(&mut self, key: &str) -> Option<V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|e| {
            e.last_used = clock;
            e.value.clone()
        })
    }

    /// Keeps `value` (of `size` bytes) under `key`, evicting the least recently used entries to
    /// make room. A value larger than the whole budget is not kept.
    pub fn insert(&mut self, key: &str, value: V, size: usize) {
        self.remove(key);
        if size > self.budget {
            return;
        }
        self.evict_to(self.budget - size);
        self.clock += 1;
        self.used += size;
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                size,
                last_used: self.clock,
            },
        );
    }

    pub fn remove(&mut self, key: &str) -> bool {
        match self.entries.remove(key) {
            Some(e) => {
                self.used -= e.size;
                true
            }
            None => false,
        }
    }

    /// Evicts least recently used entries until at most `target` bytes are used. Linear in the
    /// number of entries, which a byte budget keeps small (a few hundred images at most).
    fn evict_to(&mut self, target: usize) {
        while self.used > target {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_first() {
        let mut lru = BoundedLru::new(10);
        lru.insert("a", 'a', 4);
        lru.insert("b", 'b', 4);
        assert_eq!(lru.get("a"), Some('a')); // b is now the oldest
        lru.insert("c", 'c', 4);
        assert_eq!(lru.get("b"), None);
        assert_eq!(lru.get("a"), Some('a'));
        assert_eq!(lru.get("c"), Some('c'));
        assert_eq!(lru.used(), 8);
    }

    #[test]
    fn oversized_values_are_not_kept_and_replacing_frees_the_old_size() {
        let mut lru = BoundedLru::new(10);
        lru.insert("big", 1, 11);
        assert_eq!(lru.get("big"), None);
        assert_eq!(lru.used(), 0);
        lru.insert("k", 1, 6);
        lru.insert("k", 2, 3);
        assert_eq!((lru.get("k"), lru.used()), (Some(2), 3));
        assert!(lru.remove("k"));
        assert!(!lru.remove("k"));
        assert_eq!(lru.used(), 0);
    }

    #[test]
    fn shrinking_the_budget_evicts() {
        let mut lru = BoundedLru::new(10);
        lru.insert("a", 1, 5);
        lru.insert("b", 2, 5);
        lru.set_budget(5);
        assert_eq!((lru.get("a"), lru.get("b"), lru.used()), (None, Some(2), 5));
        lru.set_budget(0);
        assert_eq!(lru.used(), 0);
    }
}
