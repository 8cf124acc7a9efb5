//! Stemming: bounding history to `revs_limit`.

use super::{RevTree, NONE};
use crate::core::rev::Rev;

impl RevTree {
    /// Keeps at most `limit` revs (at least 1) on every root-to-leaf path, dropping the oldest:
    /// a node survives iff its height (longest distance down to a leaf) is below `limit`. So no
    /// leaf is ever dropped, a surviving node keeps all its children (no new leaf appears),
    /// children of dropped nodes become roots, and every leaf keeps its nearest `limit - 1`
    /// ancestors unless a longer branch under the same ancestor forced them out. (CouchDB 3
    /// keeps a node while *some* leaf is within `limit`, which can leave longer paths; this is
    /// the stricter bound.) Returns the removed revs, oldest first.
    pub fn stem(&mut self, limit: usize) -> Vec<Rev> {
        let limit = limit.max(1);
        let n = self.nodes.len();
        if n <= limit {
            // No path can be longer than the whole tree: the common, free case.
            return Vec::new();
        }
        // Children sit after their parents, so one backwards pass computes heights.
        let mut height = vec![0u32; n];
        for i in (0..n).rev() {
            let p = self.nodes[i].parent;
            if p != NONE {
                let p = p as usize;
                height[p] = height[p].max(height[i] + 1);
            }
        }
        let keep = |i: usize| (height[i] as usize) < limit;
        if (0..n).all(keep) {
            return Vec::new();
        }
        let mut new_index = vec![NONE; n];
        let mut removed = Vec::new();
        let mut kept = 0u32;
        for (i, slot) in new_index.iter_mut().enumerate() {
            if keep(i) {
                *slot = kept;
                kept += 1;
            }
        }
        let old_nodes = std::mem::take(&mut self.nodes);
        self.nodes.reserve_exact(kept as usize);
        for (i, mut node) in old_nodes.into_iter().enumerate() {
            if !keep(i) {
                removed.push(Rev { pos: node.pos, hash: node.hash });
                continue;
            }
            if node.parent != NONE {
                // A dropped parent makes this node a root.
                node.parent = new_index[node.parent as usize];
            }
            self.nodes.push(node);
        }
        removed
    }
}
