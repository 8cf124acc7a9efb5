#![cfg(not(target_arch = "wasm32"))]
//! Properties of `RevTree`: replicas that receive the same rev paths in any order (with
//! replays) converge, and agree with a simple model of the union of the paths; stemming keeps
//! every leaf and bounds every leaf's history.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use settee::core::rev::Rev;
use settee::core::rev_tree::{Leaf, MergeOutcome, RevTree};

/// A random history: node `i` has an optional parent among earlier nodes.
#[derive(Clone, Debug)]
struct Scenario {
    revs: Vec<Rev>,
    parent: Vec<Option<usize>>,
    deleted: Vec<bool>,
    /// Paths as node indices, newest first (possibly truncated: stemmed paths).
    paths: Vec<Vec<usize>>,
    /// Per replica: the order it receives paths in (may repeat paths).
    orders: Vec<Vec<usize>>,
}

impl Scenario {
    fn path_revs(&self, p: usize) -> Vec<Rev> {
        self.paths[p].iter().map(|&i| self.revs[i].clone()).collect()
    }

    fn leaf_deleted(&self, p: usize) -> bool {
        self.deleted[self.paths[p][0]]
    }
}

fn history(max_nodes: usize) -> impl Strategy<Value = (Vec<Rev>, Vec<Option<usize>>, Vec<bool>)> {
    prop::collection::vec((any::<Index>(), 0u8..8, any::<u8>(), any::<bool>()), 1..max_nodes).prop_map(
        |spec| {
            let mut revs: Vec<Rev> = Vec::new();
            let mut parent = Vec::new();
            let mut deleted = Vec::new();
            for (i, (pick, root_chance, salt, del)) in spec.into_iter().enumerate() {
                // Mostly one root; sometimes another independent creation.
                let p = if i == 0 || root_chance == 0 { None } else { Some(pick.index(i)) };
                let pos = p.map_or(1, |p: usize| revs[p].pos + 1);
                // A random prefix makes the hash order unrelated to creation order.
                revs.push(Rev { pos, hash: format!("{salt:02x}n{i}") });
                parent.push(p);
                deleted.push(del);
            }
            (revs, parent, deleted)
        },
    )
}

/// Paths ending at every history leaf plus random extra nodes, each truncated to a random
/// length (as if sent by a stemmed replica).
fn scenario(max_nodes: usize) -> impl Strategy<Value = Scenario> {
    history(max_nodes)
        .prop_flat_map(|(revs, parent, deleted)| {
            let extra = prop::collection::vec((any::<Index>(), 1usize..8), 0..6);
            let cuts = prop::collection::vec(1usize..8, revs.len());
            (Just(revs), Just(parent), Just(deleted), extra, cuts)
        })
        .prop_map(|(revs, parent, deleted, extra, cuts)| {
            let n = revs.len();
            let is_parent: BTreeSet<usize> = parent.iter().flatten().copied().collect();
            let mut ends: Vec<(usize, usize)> =
                (0..n).filter(|i| !is_parent.contains(i)).map(|i| (i, cuts[i])).collect();
            ends.extend(extra.into_iter().map(|(ix, len)| (ix.index(n), len)));
            let paths = ends
                .into_iter()
                .map(|(end, len)| {
                    let full_path: Vec<usize> = std::iter::successors(Some(end), |&i| parent[i]).collect();
                    full_path[..len.min(full_path.len())].to_vec()
                })
                .collect();
            Scenario { revs, parent, deleted, paths, orders: Vec::new() }
        })
        .prop_flat_map(|sc| {
            let m = sc.paths.len();
            let order = move || {
                let dups = prop::collection::vec(any::<Index>(), 0..4);
                (Just((0..m).collect::<Vec<_>>()).prop_shuffle(), dups).prop_flat_map(move |(base, dups)| {
                    let mut all = base;
                    all.extend(dups.iter().map(|d| d.index(m)));
                    Just(all).prop_shuffle()
                })
            };
            (Just(sc), prop::collection::vec(order(), 2..5))
        })
        .prop_map(|(mut sc, orders)| {
            sc.orders = orders;
            sc
        })
}

fn replay(sc: &Scenario, order: &[usize], limit: usize) -> RevTree {
    let mut t = RevTree::new();
    for &p in order {
        let outcome = t.merge(&sc.path_revs(p), sc.leaf_deleted(p), limit);
        let mut again = t.clone();
        // Whatever happened, an immediate replay of the same path is a no-op.
        assert_eq!(again.merge(&sc.path_revs(p), sc.leaf_deleted(p), limit), MergeOutcome::Exists);
        assert_eq!(again, t, "replay changed the tree after {outcome:?}");
    }
    t
}

/// Everything observable about the tree's structure (body status aside, which legitimately
/// depends on which path brought a rev first).
#[derive(Debug, PartialEq)]
struct Observed {
    len: usize,
    leaves: Vec<Leaf>,
    winner: Option<Leaf>,
    conflicts: Vec<Rev>,
    deleted_conflicts: Vec<Rev>,
    ancestry: BTreeMap<Rev, Vec<Rev>>,
}

fn observe(t: &RevTree) -> Observed {
    Observed {
        len: t.len(),
        leaves: t.leaves(),
        winner: t.winner(),
        conflicts: t.conflicts(),
        deleted_conflicts: t.deleted_conflicts(),
        ancestry: t.revs().into_iter().map(|r| (r.clone(), t.ancestry(&r).unwrap())).collect(),
    }
}

/// The model: the union of the paths' revs and parent edges.
fn check_against_model(sc: &Scenario, t: &RevTree) {
    let mut nodes = BTreeSet::new();
    let mut parent_of: BTreeMap<usize, usize> = BTreeMap::new();
    for path in &sc.paths {
        nodes.extend(path.iter().copied());
        for w in path.windows(2) {
            parent_of.insert(w[0], w[1]);
        }
    }
    let mut expected_revs: Vec<Rev> = nodes.iter().map(|&i| sc.revs[i].clone()).collect();
    expected_revs.sort();
    assert_eq!(t.revs(), expected_revs);
    let is_parent: BTreeSet<usize> = parent_of.values().copied().collect();
    for &i in &nodes {
        let anc = t.ancestry(&sc.revs[i]).unwrap();
        let expected: Vec<Rev> = std::iter::successors(Some(i), |j| parent_of.get(j).copied())
            .map(|j| sc.revs[j].clone())
            .collect();
        assert_eq!(anc, expected);
        // ... which is always a newest-first slice of the true history.
        let history: Vec<Rev> =
            std::iter::successors(Some(i), |&j| sc.parent[j]).map(|j| sc.revs[j].clone()).collect();
        assert_eq!(&history[..anc.len()], &anc[..]);
        assert_eq!(t.is_leaf(&sc.revs[i]), !is_parent.contains(&i));
    }
    for leaf in t.leaves() {
        let i = sc.revs.iter().position(|r| *r == leaf.rev).unwrap();
        assert_eq!(leaf.deleted, sc.deleted[i]);
    }
    // Winner order: non-deleted first, then pos, then hash, all descending.
    let leaves = t.leaves();
    for w in leaves.windows(2) {
        let key = |l: &Leaf| (!l.deleted, l.rev.pos, l.rev.hash.clone());
        assert!(key(&w[0]) > key(&w[1]));
    }
    assert_eq!(t.winner(), leaves.first().cloned());
    // The borrowed winner and the leaf count say the same.
    let w = t.winner_ref().map(|r| (r.pos, r.hash.to_string(), r.deleted));
    assert_eq!(w, leaves.first().map(|l| (l.rev.pos, l.rev.hash.clone(), l.deleted)));
    assert_eq!(t.leaf_count(), leaves.len());
    let conflicts: Vec<Rev> = leaves.iter().skip(1).filter(|l| !l.deleted).map(|l| l.rev.clone()).collect();
    let deleted: Vec<Rev> = leaves.iter().skip(1).filter(|l| l.deleted).map(|l| l.rev.clone()).collect();
    assert_eq!(t.conflicts(), conflicts);
    assert_eq!(t.deleted_conflicts(), deleted);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn replicas_converge_whatever_the_merge_order(sc in scenario(24)) {
        let trees: Vec<RevTree> = sc.orders.iter().map(|o| replay(&sc, o, 1000)).collect();
        let first = observe(&trees[0]);
        for t in &trees[1..] {
            prop_assert_eq!(&observe(t), &first);
        }
        check_against_model(&sc, &trees[0]);
        // The serialized form round-trips.
        let json = serde_json::to_string(&trees[0]).unwrap();
        let back: RevTree = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &trees[0]);
    }

    /// Stemming loses history, so replicas that merge in different orders under a small limit
    /// need not converge (an old rev arriving after its history was stemmed comes back as a
    /// stale leaf, as in CouchDB). What must hold on every replica: no leaf of the full history
    /// is lost, extra leaves are stale revs only, and history stays bounded and true.
    #[test]
    fn merging_under_a_small_limit_keeps_every_leaf_and_bounds_history(
        sc in scenario(24),
        limit in 1usize..6,
    ) {
        let mut internal = BTreeSet::new();
        for path in &sc.paths {
            internal.extend(path[1..].iter().map(|&i| sc.revs[i].clone()));
        }
        let delivered_leaves: BTreeSet<Rev> =
            sc.paths.iter().map(|p| sc.revs[p[0]].clone()).filter(|r| !internal.contains(r)).collect();
        for order in &sc.orders {
            let t = replay(&sc, order, limit);
            let leaves: BTreeSet<Rev> = t.leaves().into_iter().map(|l| l.rev).collect();
            prop_assert!(delivered_leaves.is_subset(&leaves));
            for extra in leaves.difference(&delivered_leaves) {
                prop_assert!(internal.contains(extra));
            }
            for leaf in &leaves {
                let anc = t.ancestry(leaf).unwrap();
                prop_assert!(anc.len() <= limit);
                let i = sc.revs.iter().position(|r| r == leaf).unwrap();
                let history: Vec<Rev> =
                    std::iter::successors(Some(i), |&j| sc.parent[j]).map(|j| sc.revs[j].clone()).collect();
                prop_assert_eq!(&history[..anc.len()], &anc[..]);
            }
        }
    }

    #[test]
    fn stemming_keeps_every_leaf_and_at_most_limit_revs_per_leaf(
        sc in scenario(30),
        limit in 1usize..8,
    ) {
        let mut t = replay(&sc, &sc.orders[0], 1000);
        let before = t.clone();
        let removed = t.stem(limit);
        prop_assert_eq!(t.leaves(), before.leaves());
        prop_assert_eq!(t.winner(), before.winner());
        prop_assert_eq!(t.conflicts(), before.conflicts());
        prop_assert_eq!(t.len() + removed.len(), before.len());
        for rev in &removed {
            prop_assert!(before.contains(rev) && !t.contains(rev));
        }
        for leaf in t.leaves() {
            let now = t.ancestry(&leaf.rev).unwrap();
            let was = before.ancestry(&leaf.rev).unwrap();
            prop_assert!(now.len() <= limit);
            // The newest history is kept; only the oldest revs go.
            prop_assert_eq!(&now[..], &was[..now.len()]);
            if before.leaves().len() == 1 {
                prop_assert_eq!(now.len(), limit.min(was.len()));
            }
        }
        // Stemming again at the same limit changes nothing.
        let again = t.clone();
        prop_assert!(t.stem(limit).is_empty());
        prop_assert_eq!(t, again);
    }
}
