//! Leaves, the winning rev, `_conflicts` and `_deleted_conflicts`.

use std::cmp::Ordering;

use super::{Leaf, LeafRef, Node, RevTree};
use crate::core::order;
use crate::core::rev::Rev;

/// CouchDB's winner order, best first: non-deleted before deleted, then higher pos, then the
/// byte-wise higher hash.
pub(super) fn winner_order(a: &Node, b: &Node) -> Ordering {
    a.is_deleted()
        .cmp(&b.is_deleted())
        .then_with(|| b.pos.cmp(&a.pos))
        .then_with(|| b.hash.as_bytes().cmp(a.hash.as_bytes()))
}

/// Sorts `nodes` best first, with the shared index sort (no copy of the sort of its own; most
/// trees have one leaf, which returns at once).
pub(super) fn sort_winner_first(nodes: &mut Vec<&Node>) {
    order::sort_by(nodes, |a, b| winner_order(a, b));
}

fn to_leaf(node: &Node) -> Leaf {
    Leaf { rev: node.rev(), deleted: node.is_deleted() }
}

fn to_leaf_ref(node: &Node) -> LeafRef<'_> {
    LeafRef { pos: node.pos, hash: &node.hash, deleted: node.is_deleted() }
}

impl RevTree {
    fn leaf_nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.is_leaf())
    }

    /// Leaf nodes, winner first.
    pub(super) fn sorted_leaf_nodes(&self) -> Vec<&Node> {
        let mut leaves: Vec<&Node> = self.leaf_nodes().collect();
        sort_winner_first(&mut leaves);
        leaves
    }

    /// The winning leaf; None for an empty tree.
    pub fn winner(&self) -> Option<Leaf> {
        self.leaf_nodes().min_by(|a, b| winner_order(a, b)).map(to_leaf)
    }

    /// All leaves, winner first.
    pub fn leaves(&self) -> Vec<Leaf> {
        self.sorted_leaf_nodes().into_iter().map(to_leaf).collect()
    }

    /// `winner`, borrowed from the tree: for writers that only copy its text out.
    pub fn winner_ref(&self) -> Option<LeafRef<'_>> {
        self.leaf_nodes().min_by(|a, b| winner_order(a, b)).map(to_leaf_ref)
    }

    /// How many leaves the tree has (more than one: conflicts, deleted or not).
    pub fn leaf_count(&self) -> usize {
        self.leaf_nodes().count()
    }

    /// How many leaves are not deleted. With two or more the doc has `_conflicts`: a live
    /// leaf always beats a deleted one, so the winner is one of them and the rest lose.
    pub fn live_leaf_count(&self) -> usize {
        self.leaf_nodes().filter(|n| !n.is_deleted()).count()
    }

    /// Non-deleted leaves other than the winner, in winner order (`_conflicts`).
    pub fn conflicts(&self) -> Vec<Rev> {
        self.sorted_leaf_nodes().into_iter().skip(1).filter(|n| !n.is_deleted()).map(Node::rev).collect()
    }

    /// Deleted leaves other than the winner, in winner order (`_deleted_conflicts`).
    pub fn deleted_conflicts(&self) -> Vec<Rev> {
        self.sorted_leaf_nodes().into_iter().skip(1).filter(|n| n.is_deleted()).map(Node::rev).collect()
    }
}
