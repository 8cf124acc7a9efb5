//! The cases of CouchDB's key-tree tests (couch_key_tree_tests.erl) and PouchDB's merge tests,
//! restated for `RevTree`, plus winner / conflicts / query cases.
//!
//! CouchDB names keys "1", "1a", "1aa" at depths 1, 2, 3; here they are the revs `1-1`, `2-1a`,
//! `3-1aa`. Outcomes map as: CouchDB `new_leaf` -> `NewLeaf`, `new_branch` -> `NewBranch`,
//! `internal_node` with an unchanged tree -> `Exists`.

use settee::core::rev::Rev;
use settee::core::rev_tree::{Leaf, MergeOutcome, RevInfoStatus, RevTree};

const DEPTH: usize = 10;

fn r(s: &str) -> Rev {
    Rev::parse(s).unwrap()
}

fn revs(list: &[&str]) -> Vec<Rev> {
    list.iter().map(|s| r(s)).collect()
}

/// Builds a tree from root-to-leaf paths, each given newest first.
fn tree(paths: &[&[&str]]) -> RevTree {
    let mut t = RevTree::new();
    for p in paths {
        t.merge(&revs(p), false, DEPTH);
    }
    t
}

/// The logical shape: every rev with its parent (None for a root), in storage order.
fn shape(t: &RevTree) -> Vec<(String, Option<String>)> {
    t.revs()
        .iter()
        .map(|rev| {
            let anc = t.ancestry(rev).unwrap();
            (rev.to_string(), anc.get(1).map(Rev::to_string))
        })
        .collect()
}

fn strs(revs: &[Rev]) -> Vec<String> {
    revs.iter().map(Rev::to_string).collect()
}

fn leaf_strs(t: &RevTree) -> Vec<String> {
    t.leaves().iter().map(|l| l.rev.to_string()).collect()
}

/// Merges and asserts the outcome, returning the tree.
fn merged(mut t: RevTree, path: &[&str], limit: usize, expected: MergeOutcome) -> RevTree {
    assert_eq!(t.merge(&revs(path), false, limit), expected, "merging {path:?}");
    t
}

// ---- Key tree merge -----------------------------------------------------------------------

#[test]
fn merging_a_path_into_an_empty_tree_gives_the_path() {
    let t = merged(RevTree::new(), &["1-1"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(shape(&t), [("1-1".into(), None)]);
    assert_eq!(t.winner(), Some(Leaf { rev: r("1-1"), deleted: false }));
}

#[test]
fn merging_a_path_that_already_exists_is_a_no_op() {
    let before = tree(&[&["1-1"]]);
    let t = merged(before.clone(), &["1-1"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_a_multi_rev_path_into_an_empty_tree_gives_the_path() {
    let t = merged(RevTree::new(), &["2-2_0", "1-1"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(shape(&t), [("1-1".into(), None), ("2-2_0".into(), Some("1-1".into()))]);
    assert!(t.is_leaf(&r("2-2_0")) && !t.is_leaf(&r("1-1")));
}

#[test]
fn remerging_a_multi_rev_path_is_a_no_op() {
    let before = tree(&[&["2-2_0", "1-1"]]);
    let t = merged(before.clone(), &["2-2_0", "1-1"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_a_prefix_of_a_path_is_a_no_op() {
    let before = tree(&[&["2-2_0", "1-1"]]);
    let t = merged(before.clone(), &["1-1"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
    assert_eq!(leaf_strs(&t), ["2-2_0"]);
}

#[test]
fn merging_one_of_two_sibling_roots_is_a_no_op() {
    let before = tree(&[&["1-1"], &["1-2"]]);
    let t = merged(before.clone(), &["1-1"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_an_unrelated_root_creates_a_new_branch() {
    let t = merged(tree(&[&["1-1"], &["1-2"]]), &["1-3"], DEPTH, MergeOutcome::NewBranch);
    assert_eq!(shape(&t), [("1-1".into(), None), ("1-2".into(), None), ("1-3".into(), None)]);
    assert_eq!(leaf_strs(&t), ["1-3", "1-2", "1-1"]);
}

#[test]
fn merging_a_path_that_extends_a_leaf_gives_a_new_leaf() {
    let t = merged(tree(&[&["2-2_0", "1-1"]]), &["3-3", "2-2_0"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(strs(&t.ancestry(&r("3-3")).unwrap()), ["3-3", "2-2_0", "1-1"]);
    assert_eq!(leaf_strs(&t), ["3-3"]);
    assert_eq!(t.len(), 3);
}

#[test]
fn merging_a_fork_creates_a_new_branch() {
    let t = merged(tree(&[&["2-2_0", "1-1"]]), &["2-2_1", "1-1"], DEPTH, MergeOutcome::NewBranch);
    assert_eq!(leaf_strs(&t), ["2-2_1", "2-2_0"]);
    assert_eq!(strs(&t.conflicts()), ["2-2_0"]);
    assert_eq!(t.len(), 3);
}

#[test]
fn merge_order_does_not_affect_the_resulting_tree() {
    let a = merged(tree(&[&["2-2_0", "1-1"]]), &["2-2_1", "1-1"], DEPTH, MergeOutcome::NewBranch);
    let b = merged(tree(&[&["2-2_1", "1-1"]]), &["2-2_0", "1-1"], DEPTH, MergeOutcome::NewBranch);
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(a, b);
}

#[test]
fn extending_a_leaf_when_branches_exist_is_a_new_leaf_not_a_new_branch() {
    let newbranch = tree(&[&["2-2_0", "1-1"], &["2-2_1", "1-1"]]);
    let t = merged(newbranch, &["3-3", "2-2_0"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(leaf_strs(&t), ["3-3", "2-2_1"]);
}

#[test]
fn merging_a_deep_branch_into_a_branched_tree_creates_a_new_branch() {
    let newbranchleaf = tree(&[&["3-3", "2-2_0", "1-1"], &["2-2_1", "1-1"]]);
    let t = merged(newbranchleaf, &["3-3_1", "2-2_0"], DEPTH, MergeOutcome::NewBranch);
    assert_eq!(leaf_strs(&t), ["3-3_1", "3-3", "2-2_1"]);
    assert_eq!(strs(&t.ancestry(&r("3-3_1")).unwrap()), ["3-3_1", "2-2_0", "1-1"]);
    assert_eq!(t.len(), 5);
}

#[test]
fn merging_a_tree_with_children_into_itself_is_a_no_op() {
    let before = tree(&[&["3-1aa", "2-1a", "1-1"]]);
    let t = merged(before.clone(), &["3-1aa", "2-1a", "1-1"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_every_leaf_path_of_a_tree_into_itself_is_a_no_op() {
    let before = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    let mut t = before.clone();
    for leaf in before.leaves() {
        let path = before.ancestry(&leaf.rev).unwrap();
        assert_eq!(t.merge(&path, false, DEPTH), MergeOutcome::Exists);
    }
    assert_eq!(t, before);
}

#[test]
fn merging_a_longer_path_into_a_tree_of_odd_length_gives_a_new_leaf() {
    let two_child_sibs = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    let t = merged(two_child_sibs, &["3-1aa", "2-1a", "1-1"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(leaf_strs(&t), ["3-1aa", "2-1b"]);
    assert_eq!(strs(&t.ancestry(&r("3-1aa")).unwrap()), ["3-1aa", "2-1a", "1-1"]);
}

#[test]
fn merging_a_stemmed_path_whose_root_is_an_internal_node_is_a_no_op() {
    let before = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    let t = merged(before.clone(), &["2-1a"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_a_stem_at_a_deeper_level_is_a_no_op() {
    let before = tree(&[&["2-1a", "1-1"], &["3-1bb", "2-1b", "1-1"]]);
    let t = merged(before.clone(), &["3-1bb"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_a_stem_into_a_stemmed_forest_is_a_no_op() {
    let before = tree(&[&["2-1a"], &["3-1bb", "2-1b"]]);
    assert_eq!(shape(&before).iter().filter(|(_, p)| p.is_none()).count(), 2);
    let t = merged(before.clone(), &["3-1bb"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_a_deeper_stem_of_a_single_tree_is_a_no_op() {
    let before = tree(&[&["3-1aa", "2-1a", "1-1"]]);
    let t = merged(before.clone(), &["3-1aa"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
    let t = merged(t, &["3-1aa", "2-1a"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, before);
}

#[test]
fn merging_stems_of_the_same_branch_is_a_no_op() {
    let stemmed_a = tree(&[&["3-1aa", "2-1a"]]);
    let t = merged(stemmed_a.clone(), &["3-1aa"], DEPTH, MergeOutcome::Exists);
    assert_eq!(t, stemmed_a);
}

#[test]
fn merging_a_disjoint_stemmed_path_creates_a_conflict() {
    let one_child = tree(&[&["2-1a", "1-1"]]);
    let t = merged(one_child, &["3-1aa"], DEPTH, MergeOutcome::NewBranch);
    assert_eq!(
        shape(&t),
        [("1-1".into(), None), ("2-1a".into(), Some("1-1".into())), ("3-1aa".into(), None)]
    );
    assert_eq!(leaf_strs(&t), ["3-1aa", "2-1a"]);
    assert_eq!(strs(&t.conflicts()), ["2-1a"]);
}

#[test]
fn merging_a_full_path_joins_a_stemmed_root_lying_inside_it() {
    // CouchDB's should_create_no_conflicts_on_merge.
    let forest = tree(&[&["2-1a", "1-1"], &["3-1aa"]]);
    let t = merged(forest, &["3-1aa", "2-1a", "1-1"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(
        shape(&t),
        [("1-1".into(), None), ("2-1a".into(), Some("1-1".into())), ("3-1aa".into(), Some("2-1a".into()))]
    );
    assert_eq!(leaf_strs(&t), ["3-1aa"]);
    assert!(t.conflicts().is_empty());
}

#[test]
fn merging_a_path_whose_oldest_rev_is_above_a_stemmed_root_extends_it() {
    // The tree was stemmed to 2-1a..3-1aa; the new path only knows 3-1aa's child.
    let stemmed = tree(&[&["3-1aa", "2-1a"]]);
    let t = merged(stemmed, &["4-x", "3-1aa"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(strs(&t.ancestry(&r("4-x")).unwrap()), ["4-x", "3-1aa", "2-1a"]);
    assert_eq!(leaf_strs(&t), ["4-x"]);
}

#[test]
fn extending_one_branch_ignores_the_conflicting_sibling() {
    // COUCHDB-902: conflicts at depth two, foo3 is current, an edit on foo3 makes foo4.
    let foo = tree(&[&["2-foo2", "1-foo"], &["2-foo3", "1-foo"]]);
    let t = merged(foo, &["3-foo4", "2-foo3", "1-foo"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(leaf_strs(&t), ["3-foo4", "2-foo2"]);
    assert_eq!(strs(&t.ancestry(&r("2-foo2")).unwrap()), ["2-foo2", "1-foo"]);
    assert_eq!(t.len(), 4);
}

#[test]
fn merging_a_full_path_into_a_stemmed_conflict_forest_joins_it() {
    // PouchDB: stemmedconflicts [1-1, 3-3] + 1-1 -> 2-2_0 -> 3-3 becomes one tree.
    let forest = tree(&[&["1-1"], &["3-3"]]);
    let t = merged(forest, &["3-3", "2-2_0", "1-1"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(
        shape(&t),
        [("1-1".into(), None), ("2-2_0".into(), Some("1-1".into())), ("3-3".into(), Some("2-2_0".into()))]
    );
    assert_eq!(leaf_strs(&t), ["3-3"]);
}

#[test]
fn merging_unstemmed_history_recovers_as_much_as_possible() {
    // PouchDB's partialrecover: stemmed3 (three lone leaves) + 1-1 -> 2-2_0 -> 3-3.
    let stemmed3 = tree(&[&["2-2_1"], &["3-3"], &["3-3_1"]]);
    let t = merged(stemmed3, &["3-3", "2-2_0", "1-1"], DEPTH, MergeOutcome::NewLeaf);
    assert_eq!(
        shape(&t),
        [
            ("1-1".into(), None),
            ("2-2_0".into(), Some("1-1".into())),
            ("2-2_1".into(), None),
            ("3-3".into(), Some("2-2_0".into())),
            ("3-3_1".into(), None),
        ]
    );
    assert_eq!(leaf_strs(&t), ["3-3_1", "3-3", "2-2_1"]);
    // History above the leaf arrives without bodies.
    assert_eq!(t.revs_info(&r("1-1")).unwrap(), [(r("1-1"), RevInfoStatus::Missing)]);
}

#[test]
fn history_added_above_a_stemmed_root_that_stemming_drops_again_is_a_no_op() {
    let mut t = RevTree::new();
    for path in [&["1-a"][..], &["2-b", "1-a"], &["3-c", "2-b"]] {
        t.merge(&revs(path), false, 2);
    }
    assert_eq!(strs(&t.revs()), ["2-b", "3-c"]);
    let before = t.clone();
    assert_eq!(t.merge(&revs(&["3-c", "2-b", "1-a"]), false, 2), MergeOutcome::Exists);
    assert_eq!(t, before);
    // With a higher limit the same replay restores 1-a.
    assert_eq!(t.merge(&revs(&["3-c", "2-b", "1-a"]), false, 3), MergeOutcome::NewLeaf);
    assert_eq!(strs(&t.ancestry(&r("3-c")).unwrap()), ["3-c", "2-b", "1-a"]);
}

#[test]
fn a_path_contradicting_known_history_only_adds_its_consistent_part() {
    let mut t = tree(&[&["2-b", "1-a"]]);
    // 3-c is new; the path claims 2-b's parent is 1-z, which the tree contradicts.
    assert_eq!(t.merge(&revs(&["3-c", "2-b", "1-z"]), false, DEPTH), MergeOutcome::NewLeaf);
    assert!(!t.contains(&r("1-z")));
    assert_eq!(strs(&t.ancestry(&r("3-c")).unwrap()), ["3-c", "2-b", "1-a"]);
}

#[test]
fn a_path_with_a_broken_pos_sequence_is_cut_at_the_break() {
    let mut t = RevTree::new();
    assert_eq!(t.merge(&revs(&["3-c", "2-b", "5-x"]), false, DEPTH), MergeOutcome::NewLeaf);
    assert_eq!(strs(&t.revs()), ["2-b", "3-c"]);
    assert_eq!(t.merge(&[], false, DEPTH), MergeOutcome::Exists);
}

#[test]
fn new_nodes_are_missing_except_the_leaf_which_carries_the_deleted_flag() {
    let mut t = RevTree::new();
    assert_eq!(t.merge(&revs(&["3-c", "2-b", "1-a"]), true, DEPTH), MergeOutcome::NewLeaf);
    assert_eq!(
        t.revs_info(&r("3-c")).unwrap(),
        [
            (r("3-c"), RevInfoStatus::Deleted),
            (r("2-b"), RevInfoStatus::Missing),
            (r("1-a"), RevInfoStatus::Missing)
        ]
    );
    assert_eq!(t.is_deleted(&r("3-c")), Some(true));
    assert_eq!(t.is_deleted(&r("2-b")), Some(false));
    assert_eq!(t.is_deleted(&r("9-z")), None);
}

#[test]
fn replaying_a_leaf_keeps_its_deleted_flag() {
    let mut t = RevTree::new();
    t.merge(&revs(&["1-a"]), true, DEPTH);
    assert_eq!(t.merge(&revs(&["1-a"]), false, DEPTH), MergeOutcome::Exists);
    assert_eq!(t.winner(), Some(Leaf { rev: r("1-a"), deleted: true }));
}

// ---- Stemming ---------------------------------------------------------------------------------

#[test]
fn stemming_more_levels_than_exist_changes_nothing() {
    let mut t = tree(&[&["3-1aa", "2-1a", "1-1"]]);
    let before = t.clone();
    assert!(t.stem(3).is_empty());
    assert!(t.stem(100).is_empty());
    assert_eq!(t, before);
}

#[test]
fn stemming_to_one_keeps_only_the_deepest_node() {
    let mut t = tree(&[&["3-1aa", "2-1a", "1-1"]]);
    assert_eq!(strs(&t.stem(1)), ["1-1", "2-1a"]);
    assert_eq!(shape(&t), [("3-1aa".into(), None)]);
}

#[test]
fn stemming_to_two_keeps_the_two_deepest_nodes() {
    let mut t = tree(&[&["3-1aa", "2-1a", "1-1"]]);
    assert_eq!(strs(&t.stem(2)), ["1-1"]);
    assert_eq!(shape(&t), [("2-1a".into(), None), ("3-1aa".into(), Some("2-1a".into()))]);
}

#[test]
fn stemming_does_not_change_leaf_counts() {
    let mut t = tree(&[&["3-1bb", "2-1b", "1-1"], &["2-1a", "1-1"]]);
    assert_eq!(t.leaves().len(), 2);
    t.stem(1);
    assert_eq!(leaf_strs(&t), ["3-1bb", "2-1a"]);
    assert_eq!(t.len(), 2);
}

#[test]
fn merging_with_a_small_limit_stems_the_result() {
    // PouchDB "Simple stemming works".
    let t = merged(tree(&[&["2-2_0", "1-1"]]), &["3-3", "2-2_0"], 2, MergeOutcome::NewLeaf);
    assert_eq!(shape(&t), [("2-2_0".into(), None), ("3-3".into(), Some("2-2_0".into()))]);
}

#[test]
fn stemming_branches_bounds_every_root_to_leaf_path() {
    // PouchDB "Merge with stemming works correctly for branches": 1 -> {2_0 -> {3, 3_1}, 2_1}.
    // Every leaf keeps at most `limit` revs, so 1-1 (three deep under 2_0) goes; PouchDB keeps
    // it as a root for 2_1 and CouchDB 3 keeps the whole tree. Re-merging 1-1 is a no-op that
    // does not even stem (an `Exists` merge never touches the tree), so stem explicitly.
    let newbranchleafbranch = tree(&[&["3-3", "2-2_0", "1-1"], &["3-3_1", "2-2_0"], &["2-2_1", "1-1"]]);
    let mut t = merged(newbranchleafbranch, &["1-1"], 2, MergeOutcome::Exists);
    assert_eq!(t.len(), 5);
    assert_eq!(strs(&t.stem(2)), ["1-1"]);
    assert_eq!(
        shape(&t),
        [
            ("2-2_0".into(), None),
            ("2-2_1".into(), None),
            ("3-3".into(), Some("2-2_0".into())),
            ("3-3_1".into(), Some("2-2_0".into())),
        ]
    );
    for leaf in t.leaves() {
        assert!(t.ancestry(&leaf.rev).unwrap().len() <= 2);
    }
}

#[test]
fn stemming_to_one_leaves_only_leaves() {
    // PouchDB "Merge with stemming to leaves works fine" (stemmed3).
    let mut t = tree(&[&["3-3", "2-2_0", "1-1"], &["3-3_1", "2-2_0"], &["2-2_1", "1-1"]]);
    assert_eq!(strs(&t.stem(1)), ["1-1", "2-2_0"]);
    assert_eq!(shape(&t), [("2-2_1".into(), None), ("3-3".into(), None), ("3-3_1".into(), None)]);
}

#[test]
fn long_linear_histories_stay_at_the_limit() {
    let mut t = RevTree::new();
    let mut parent: Option<Rev> = None;
    for pos in 1..=250u64 {
        let rev = Rev { pos, hash: format!("h{pos}") };
        let path: Vec<Rev> = std::iter::once(rev.clone()).chain(parent.take()).collect();
        assert_eq!(t.merge(&path, false, 100), MergeOutcome::NewLeaf);
        parent = Some(rev);
    }
    assert_eq!(t.len(), 100);
    let leaf = t.winner().unwrap().rev;
    assert_eq!(leaf, r("250-h250"));
    let anc = t.ancestry(&leaf).unwrap();
    assert_eq!(anc.len(), 100);
    assert_eq!(anc.last().unwrap(), &r("151-h151"));
}

// ---- Leaves, winner, conflicts ------------------------------------------------------------

#[test]
fn an_empty_tree_has_no_leaves_and_no_winner() {
    let t = RevTree::new();
    assert!(t.is_empty() && t.leaves().is_empty() && t.winner().is_none());
    assert!(t.conflicts().is_empty() && t.deleted_conflicts().is_empty());
}

#[test]
fn sibling_children_are_both_leaves() {
    let t = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    assert_eq!(leaf_strs(&t), ["2-1b", "2-1a"]);
    assert!(t.is_leaf(&r("2-1a")) && !t.is_leaf(&r("1-1")) && !t.is_leaf(&r("5-nope")));
}

#[test]
fn the_higher_pos_wins() {
    let t = tree(&[&["3-a", "2-a", "1-a"], &["2-z", "1-a"]]);
    assert_eq!(t.winner().unwrap().rev, r("3-a"));
    assert_eq!(strs(&t.conflicts()), ["2-z"]);
}

#[test]
fn a_pos_tie_is_broken_by_the_higher_hash_byte_wise() {
    let t = tree(&[&["2-abc", "1-a"], &["2-abd", "1-a"], &["2-ABZ", "1-a"]]);
    assert_eq!(t.winner().unwrap().rev, r("2-abd"));
    // Upper case sorts below lower case byte-wise.
    assert_eq!(strs(&t.conflicts()), ["2-abc", "2-ABZ"]);
}

#[test]
fn a_live_leaf_beats_a_deeper_deleted_leaf() {
    let mut t = tree(&[&["2-live", "1-a"]]);
    assert_eq!(t.merge(&revs(&["4-dead", "3-x", "2-x", "1-a"]), true, DEPTH), MergeOutcome::NewBranch);
    assert_eq!(t.winner(), Some(Leaf { rev: r("2-live"), deleted: false }));
    assert!(t.conflicts().is_empty());
    assert_eq!(strs(&t.deleted_conflicts()), ["4-dead"]);
    assert_eq!(
        t.leaves(),
        [Leaf { rev: r("2-live"), deleted: false }, Leaf { rev: r("4-dead"), deleted: true }]
    );
}

#[test]
fn when_every_leaf_is_deleted_the_highest_deleted_leaf_wins() {
    let mut t = RevTree::new();
    t.merge(&revs(&["2-a", "1-a"]), true, DEPTH);
    t.merge(&revs(&["3-b", "2-b", "1-a"]), true, DEPTH);
    assert_eq!(t.winner(), Some(Leaf { rev: r("3-b"), deleted: true }));
    assert!(t.conflicts().is_empty());
    assert_eq!(strs(&t.deleted_conflicts()), ["2-a"]);
}

#[test]
fn conflicts_and_deleted_conflicts_are_in_winner_order() {
    let mut t = RevTree::new();
    t.merge(&revs(&["3-w", "2-w", "1-a"]), false, DEPTH);
    t.merge(&revs(&["2-c1", "1-a"]), false, DEPTH);
    t.merge(&revs(&["3-c2", "2-c2", "1-a"]), false, DEPTH);
    t.merge(&revs(&["2-d1", "1-a"]), true, DEPTH);
    t.merge(&revs(&["4-d2", "3-d2", "2-d2", "1-a"]), true, DEPTH);
    assert_eq!(t.winner().unwrap().rev, r("3-w"));
    assert_eq!(strs(&t.conflicts()), ["3-c2", "2-c1"]);
    assert_eq!(strs(&t.deleted_conflicts()), ["4-d2", "2-d1"]);
}

#[test]
fn extending_a_deleted_leaf_resurrects_the_doc() {
    let mut t = RevTree::new();
    t.merge(&revs(&["2-del", "1-a"]), true, DEPTH);
    assert!(t.winner().unwrap().deleted);
    assert_eq!(t.merge(&revs(&["3-back", "2-del"]), false, DEPTH), MergeOutcome::NewLeaf);
    assert_eq!(t.winner(), Some(Leaf { rev: r("3-back"), deleted: false }));
    assert_eq!(t.is_deleted(&r("2-del")), Some(true));
    assert_eq!(t.revs_info(&r("3-back")).unwrap()[1], (r("2-del"), RevInfoStatus::Deleted));
}

// ---- Queries ------------------------------------------------------------------------------

#[test]
fn ancestry_of_a_node_is_its_full_key_path() {
    let t = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    assert_eq!(strs(&t.ancestry(&r("1-1")).unwrap()), ["1-1"]);
    assert_eq!(strs(&t.ancestry(&r("2-1a")).unwrap()), ["2-1a", "1-1"]);
    assert_eq!(t.ancestry(&r("1-x")), None);
}

#[test]
fn latest_gathers_the_leaves_below_a_rev() {
    let t = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    assert!(t.latest(&r("1-x")).is_empty());
    assert_eq!(strs(&t.latest(&r("2-1a"))), ["2-1a"]);
    assert_eq!(strs(&t.latest(&r("1-1"))), ["2-1b", "2-1a"]);
    let one_child = tree(&[&["2-1a", "1-1"]]);
    assert_eq!(strs(&one_child.latest(&r("1-1"))), ["2-1a"]);
}

#[test]
fn latest_only_follows_the_revs_own_subtree() {
    let t = tree(&[&["4-x", "3-x", "2-a", "1-1"], &["3-y", "2-b", "1-1"], &["4-z", "3-z", "2-a"]]);
    assert_eq!(strs(&t.latest(&r("2-a"))), ["4-z", "4-x"]);
    assert_eq!(strs(&t.latest(&r("2-b"))), ["3-y"]);
    assert_eq!(strs(&t.latest(&r("1-1"))), ["4-z", "4-x", "3-y"]);
}

#[test]
fn revs_diff_finds_nothing_missing_when_all_revs_are_known() {
    let t = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    assert_eq!(t.revs_diff(&revs(&["1-1", "2-1a"])), (vec![], vec![]));
}

#[test]
fn revs_diff_finds_missing_revs_and_possible_ancestors() {
    let two_child_sibs = tree(&[&["2-1a", "1-1"], &["2-1b", "1-1"]]);
    let (missing, ancestors) = two_child_sibs.revs_diff(&revs(&["1-1", "1-10", "2-1a", "100-x"]));
    assert_eq!(strs(&missing), ["1-10", "100-x"]);
    assert_eq!(strs(&ancestors), ["2-1b", "2-1a"]);

    let stemmed1 = tree(&[&["3-1aa", "2-1a"]]);
    let (missing, _) = stemmed1.revs_diff(&revs(&["1-1", "2-1a", "100-x"]));
    assert_eq!(strs(&missing), ["1-1", "100-x"]);

    let stemmed2 = tree(&[&["3-1aa"]]);
    let (missing, ancestors) = stemmed2.revs_diff(&revs(&["1-1", "2-1a", "2-1a"]));
    assert_eq!(strs(&missing), ["1-1", "2-1a"]);
    // No leaf is older than the missing revs.
    assert!(ancestors.is_empty());
}

#[test]
fn compaction_targets_available_internal_bodies() {
    let mut t = RevTree::new();
    t.merge(&revs(&["1-a"]), false, DEPTH);
    t.merge(&revs(&["2-b", "1-a"]), false, DEPTH);
    t.merge(&revs(&["3-c", "2-b"]), false, DEPTH);
    assert_eq!(strs(&t.compactable()), ["1-a", "2-b"]);
    t.set_missing(&r("1-a"));
    assert_eq!(strs(&t.compactable()), ["2-b"]);
    assert_eq!(
        t.revs_info(&r("3-c")).unwrap(),
        [
            (r("3-c"), RevInfoStatus::Available),
            (r("2-b"), RevInfoStatus::Available),
            (r("1-a"), RevInfoStatus::Missing)
        ]
    );
    assert_eq!(t.revs_info(&r("4-nope")), None);
}

// ---- Serialized form ----------------------------------------------------------------------

#[test]
fn the_serialized_form_round_trips_and_is_compact() {
    let mut t = tree(&[&["3-c", "2-b", "1-a"], &["2-x", "1-a"], &["5-s"]]);
    t.merge(&revs(&["3-d", "2-x"]), true, DEPTH);
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(json, r#"{"h":["a","b","x","c","d","s"],"u":[0,1,2,2,2,0],"r":[1,5],"f":"002232"}"#);
    let back: RevTree = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.leaves(), t.leaves());
    assert!(!back.is_leaf(&r("2-x")));
}

#[test]
fn corrupt_serialized_trees_are_rejected() {
    for bad in [
        r#"{"h":["a"],"u":[0],"r":[],"f":"2"}"#,
        r#"{"h":["a"],"u":[1],"r":[1],"f":"2"}"#,
        r#"{"h":["a","b"],"u":[0,1],"r":[1],"f":"2"}"#,
        r#"{"h":["a"],"u":[0],"r":[1],"f":"9"}"#,
        r#"{"h":["b","a"],"u":[0,0],"r":[1,1],"f":"22"}"#,
        r#"{"h":["a"],"u":[0],"r":[0],"f":"2"}"#,
    ] {
        assert!(serde_json::from_str::<RevTree>(bad).is_err(), "{bad}");
    }
}
