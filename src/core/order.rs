//! One sort for cold call sites. Each `sort_by` on a new element type or with a new closure
//! instantiates the standard library's sort again (3–15 kB of wasm per copy); sorting
//! indices through a `dyn` comparator here compiles it once. The cost is an indirect call per
//! comparison and a permutation: keep hot paths on their own `sort_by`.

use std::cmp::Ordering;

/// The indices `0..len` in the order `cmp` (comparing items by index) sorts them; stable.
pub fn sorted_indices(len: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

/// `items.sort_by(cmp)` (stable) through `sorted_indices`.
pub fn sort_by<T>(items: &mut Vec<T>, mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let order = sorted_indices(items.len(), &mut |a, b| cmp(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = std::mem::take(items).into_iter().map(Some).collect();
    items.extend(order.into_iter().map(|i| slots[i].take().expect("a permutation names each index once")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_by(&mut v, |a, b| a.0.cmp(&b.0));
        assert_eq!(v, vec![(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut empty: Vec<u8> = Vec::new();
        sort_by(&mut empty, |a, b| a.cmp(b));
        assert!(empty.is_empty());
        assert_eq!(sorted_indices(3, &mut |a, b| b.cmp(&a)), vec![2, 1, 0]);
    }
}
