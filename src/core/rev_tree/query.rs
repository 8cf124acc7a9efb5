//! Read-side queries (ancestry, `latest`, `_revs_info`, `_revs_diff`) and compaction support.

use super::winner::sort_winner_first;
use super::{Node, RevInfoStatus, RevTree, AVAILABLE};
use crate::core::rev::Rev;

impl RevTree {
    pub fn contains(&self, rev: &Rev) -> bool {
        self.find(rev).is_some()
    }

    pub fn is_leaf(&self, rev: &Rev) -> bool {
        self.find(rev).is_some_and(|i| self.nodes[i].is_leaf())
    }

    /// Whether the node is flagged deleted; None if absent.
    pub fn is_deleted(&self, rev: &Rev) -> Option<bool> {
        self.find(rev).map(|i| self.nodes[i].is_deleted())
    }

    /// Indices of `idx` and its ancestors, newest first.
    fn ancestor_indices(&self, idx: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(idx), move |&i| self.parent_of(i))
    }

    /// `rev` then its ancestors, newest first, as far as the tree holds them; None if absent.
    pub fn ancestry(&self, rev: &Rev) -> Option<Vec<Rev>> {
        let idx = self.find(rev)?;
        Some(self.ancestor_indices(idx).map(|i| self.nodes[i].rev()).collect())
    }

    /// For `latest=true`: the leaves descending from `rev` (just `rev` if it is a leaf), in
    /// winner order. Empty if absent.
    pub fn latest(&self, rev: &Rev) -> Vec<Rev> {
        let Some(idx) = self.find(rev) else {
            return Vec::new();
        };
        if self.nodes[idx].is_leaf() {
            return vec![rev.clone()];
        }
        // Descendants have a higher (pos, hash), so they sit after `idx`.
        let mut leaves: Vec<&Node> = (idx + 1..self.nodes.len())
            .filter(|&i| self.nodes[i].is_leaf() && self.nodes[i].pos > rev.pos)
            .filter(|&i| self.ancestor_indices(i).find(|&a| self.nodes[a].pos <= rev.pos) == Some(idx))
            .map(|i| &self.nodes[i])
            .collect();
        sort_winner_first(&mut leaves);
        leaves.into_iter().map(Node::rev).collect()
    }

    /// `_revs_info` for `rev`'s ancestry, newest first: Deleted if the node is deleted, else
    /// Available or Missing by body status. None if absent.
    pub fn revs_info(&self, rev: &Rev) -> Option<Vec<(Rev, RevInfoStatus)>> {
        let idx = self.find(rev)?;
        Some(
            self.ancestor_indices(idx)
                .map(|i| {
                    let node = &self.nodes[i];
                    let status = if node.is_deleted() {
                        RevInfoStatus::Deleted
                    } else if node.flags & AVAILABLE != 0 {
                        RevInfoStatus::Available
                    } else {
                        RevInfoStatus::Missing
                    };
                    (node.rev(), status)
                })
                .collect(),
        )
    }

    /// Marks a node's body as gone (compaction). No-op if absent.
    pub fn set_missing(&mut self, rev: &Rev) {
        if let Some(i) = self.find(rev) {
            self.nodes[i].flags &= !AVAILABLE;
        }
    }

    /// Non-leaf revs whose body is still Available: what `compact()` may drop.
    pub fn compactable(&self) -> Vec<Rev> {
        self.nodes.iter().filter(|n| !n.is_leaf() && n.flags & AVAILABLE != 0).map(|n| n.rev()).collect()
    }

    /// For `_revs_diff`: the revs of `revs` missing from the tree (first occurrence order,
    /// without duplicates), and the `possible_ancestors`: the tree's leaves (winner order) with
    /// a lower pos than the highest missing rev. Both empty when nothing is missing.
    pub fn revs_diff(&self, revs: &[Rev]) -> (Vec<Rev>, Vec<Rev>) {
        let mut missing: Vec<Rev> = Vec::new();
        for rev in revs {
            if !self.contains(rev) && !missing.contains(rev) {
                missing.push(rev.clone());
            }
        }
        let Some(max_pos) = missing.iter().map(|r| r.pos).max() else {
            return (missing, Vec::new());
        };
        let ancestors =
            self.sorted_leaf_nodes().into_iter().filter(|n| n.pos < max_pos).map(|n| n.rev()).collect();
        (missing, ancestors)
    }
}
