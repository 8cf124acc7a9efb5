//! Merging a rev path into the tree (CouchDB key-tree merge semantics).

use super::{MergeOutcome, Node, RevTree, AVAILABLE, DELETED, HAS_CHILD, NONE};
use crate::core::order::sorted_indices;
use crate::core::rev::Rev;

impl RevTree {
    /// Merges `path` (newest first: `path[0]` is the leaf, each rev the parent of the one
    /// before, so `path[i].pos == path[0].pos - i`) into the tree, then stems to `revs_limit`.
    ///
    /// - Overlap anywhere joins: the path may start above a stemmed root (the missing history is
    ///   grafted on top of it), and existing roots lying *inside* the path get attached to it.
    /// - New nodes get body status Missing, except `path[0]`, which is Available and flagged
    ///   `deleted`. Existing nodes keep their flags (a replayed leaf keeps its deleted flag).
    /// - A path that breaks the pos sequence is cut before the break. Where the tree already
    ///   gives a node another parent than the path does (contradictory history, impossible with
    ///   real revs), the rest of the path is ignored.
    /// - [`MergeOutcome::Exists`] leaves the tree untouched (no stemming either).
    pub fn merge(&mut self, path: &[Rev], deleted: bool, revs_limit: usize) -> MergeOutcome {
        let path = consistent_prefix(path);
        let Some(leaf) = path.first() else {
            return MergeOutcome::Exists;
        };
        let old_len = self.nodes.len();
        if let Some(existing) = self.find_in(old_len, leaf.pos, &leaf.hash) {
            // No new leaf; at most older history to add. Rare, so simply compare afterwards
            // (what was added may be stemmed right away).
            if !self.graft_would_change(path, existing) {
                return MergeOutcome::Exists;
            }
            let before = self.clone();
            self.graft(path, existing, old_len);
            self.restore_order(old_len);
            self.stem(revs_limit);
            return if *self == before { MergeOutcome::Exists } else { MergeOutcome::NewLeaf };
        }
        let was_empty = old_len == 0;
        let flags = AVAILABLE | if deleted { DELETED } else { 0 };
        let leaf_idx = self.push(leaf, flags);
        let extended_leaf = self.graft(path, leaf_idx, old_len);
        self.restore_order(old_len);
        self.stem(revs_limit);
        if was_empty || extended_leaf {
            MergeOutcome::NewLeaf
        } else {
            MergeOutcome::NewBranch
        }
    }

    fn push(&mut self, rev: &Rev, flags: u8) -> usize {
        self.nodes.push(Node { pos: rev.pos, hash: rev.hash.clone(), parent: NONE, flags });
        self.nodes.len() - 1
    }

    /// Links `path[1..]` above the node `child` (holding `path[0]`), reusing what the tree
    /// already has. Only the first `old_len` nodes are sorted; new ones are pushed at the end.
    /// Returns whether an existing leaf gained a child.
    fn graft(&mut self, path: &[Rev], mut child: usize, old_len: usize) -> bool {
        let mut extended_leaf = false;
        for rev in &path[1..] {
            if let Some(parent) = self.parent_of(child) {
                // Known history: follow it while it agrees with the path.
                if self.nodes[parent].hash != rev.hash {
                    break;
                }
                child = parent;
                continue;
            }
            // `child` is a root: attach `rev` above it, joining an existing node if there is one.
            let parent = match self.find_in(old_len, rev.pos, &rev.hash) {
                Some(found) => {
                    extended_leaf |= self.nodes[found].flags & HAS_CHILD == 0;
                    found
                }
                None => self.push(rev, 0),
            };
            self.nodes[child].parent = parent as u32;
            self.nodes[parent].flags |= HAS_CHILD;
            child = parent;
        }
        extended_leaf
    }

    /// Whether [`graft`](Self::graft) from the existing node `child` would change anything.
    fn graft_would_change(&self, path: &[Rev], mut child: usize) -> bool {
        for rev in &path[1..] {
            match self.parent_of(child) {
                Some(parent) if self.nodes[parent].hash == rev.hash => child = parent,
                Some(_) => return false,
                None => return true,
            }
        }
        false
    }

    /// Re-establishes the (pos, hash) order after nodes were pushed past `old_len`.
    fn restore_order(&mut self, old_len: usize) {
        let start = old_len.max(1);
        if (start..self.nodes.len()).all(|i| key(&self.nodes[i - 1]) < key(&self.nodes[i])) {
            return;
        }
        // The shared index sort: a sort of its own here was the largest copy in the wasm.
        let nodes = &self.nodes;
        let order = sorted_indices(nodes.len(), &mut |a, b| key(&nodes[a]).cmp(&key(&nodes[b])));
        let mut new_index = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new as u32;
        }
        let mut old_nodes = std::mem::take(&mut self.nodes);
        self.nodes = order
            .iter()
            .map(|&old| {
                let mut node = std::mem::take(&mut old_nodes[old]);
                if node.parent != NONE {
                    node.parent = new_index[node.parent as usize];
                }
                node
            })
            .collect();
    }
}

fn key(n: &Node) -> (u64, &str) {
    (n.pos, n.hash.as_str())
}

/// The longest prefix of `path` whose positions descend by one and stay positive.
fn consistent_prefix(path: &[Rev]) -> &[Rev] {
    let Some(first) = path.first() else {
        return path;
    };
    if first.pos == 0 {
        return &path[..0];
    }
    let len = path
        .iter()
        .enumerate()
        .take_while(|(i, rev)| first.pos.checked_sub(*i as u64).is_some_and(|p| p >= 1 && p == rev.pos))
        .count();
    &path[..len]
}
