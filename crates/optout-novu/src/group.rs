//! The requests of one batch for one topic key, as `unsubscribe_many` groups them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::wire::Item;

/// The requests of one batch for one topic key: each distinct item (sent as they are, in
/// DELETEs of up to 100) with the requests that asked for it.
///
/// Subscribers are found through a hash map keyed by the requests' own strings (no copy)
/// with a multiply-rotate hash ([`Fx`]): at most the batch's requests, sized once. (SipHash
/// with a copied key per entry was a fifth of the per-row cost of a Novu bulk run; a sorted
/// list, searched and inserted into per row, about 400 instructions per row.)
pub(crate) struct Group<'a> {
    pub(crate) topic: Cow<'a, str>,
    pub(crate) items: Vec<Item<'a>>,
    /// The first request that asked for each item.
    first: Vec<usize>,
    /// (item, request) for the rare request that asks again for an item already there.
    again: Vec<(usize, usize)>,
    /// Subscriber id -> its item.
    by_subscriber: HashMap<&'a str, usize, BuildHasherDefault<Fx>>,
}

impl<'a> Group<'a> {
    /// An empty group for `topic`, with room for `capacity` requests.
    pub(crate) fn new(topic: Cow<'a, str>, capacity: usize) -> Self {
        Group {
            topic,
            items: Vec::with_capacity(capacity),
            first: Vec::with_capacity(capacity),
            again: Vec::new(),
            by_subscriber: HashMap::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    /// Adds request `index` for `subscriber`'s `item`: to the item's requests if the same
    /// item is there, to `singles` if the same subscriber is there with another identifier.
    pub(crate) fn add(
        &mut self,
        subscriber: &'a str,
        item: Item<'a>,
        index: usize,
        singles: &mut Vec<usize>,
    ) {
        let next = self.items.len();
        match *self.by_subscriber.entry(subscriber).or_insert(next) {
            at if at == next => {
                self.items.push(item);
                self.first.push(index);
            }
            at if self.items.get(at) == Some(&item) => self.again.push((at, index)),
            _ => singles.push(index),
        }
    }

    /// The requests that asked for item `at`, first to last.
    pub(crate) fn requesters(&self, at: usize) -> impl Iterator<Item = usize> + '_ {
        let again = self.again.iter().filter(move |(item, _)| *item == at);
        self.first
            .get(at)
            .copied()
            .into_iter()
            .chain(again.map(|(_, index)| *index))
    }
}

/// The "Fx" hash (Firefox's, rustc's): eight bytes at a time, a rotate, a xor and a multiply.
/// Not resistant to chosen keys; the keys here are at most one batch's subscriber ids (100 by
/// default), so a collision costs a few comparisons at worst.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Fx {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.add(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            if let Some(head) = w.get_mut(..rest.len()) {
                head.copy_from_slice(rest);
            }
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &'static str, identifier: Option<&'static str>) -> Item<'static> {
        Item {
            subscriber_id: Some(id),
            identifier,
        }
    }

    #[test]
    fn a_repeated_item_joins_its_first_and_another_identifier_goes_alone() {
        let mut group = Group::new(Cow::Borrowed("t"), 4);
        let mut singles = Vec::new();
        let a = item("a", None);
        let b = item("b", None);
        let a_other = item("a", Some("sub-1"));
        group.add("a", a, 0, &mut singles);
        group.add("b", b, 1, &mut singles);
        group.add("a", a, 2, &mut singles);
        group.add("a", a_other, 3, &mut singles);
        assert_eq!(group.items, vec![a, b]);
        assert_eq!(group.requesters(0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(group.requesters(1).collect::<Vec<_>>(), vec![1]);
        assert_eq!(singles, vec![3]);
    }

    #[test]
    fn many_ids_hash_apart() {
        let mut group = Group::new(Cow::Borrowed("t"), 0);
        let mut singles = Vec::new();
        let ids: Vec<String> = (0..1000).map(|i| format!("subscriber-{i}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let it = Item {
                subscriber_id: Some(id),
                identifier: None,
            };
            group.add(id, it, i, &mut singles);
        }
        assert_eq!(group.items.len(), 1000);
        assert!(singles.is_empty());
    }
}
