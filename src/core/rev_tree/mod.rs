//! A document's revision tree: a forest (stemming can leave several roots) of revs, each with a
//! deleted flag and whether its body is still stored.
//!
//! Storage is one flat vector of nodes, kept sorted by `(pos, hash)` with parents as indices. So
//! - a rev is found by binary search, with no per-node allocation and no index to rebuild;
//! - a parent always sits before its children (its pos is lower), so one backwards pass visits
//!   children before parents (stemming, heights);
//! - the layout is canonical: two trees holding the same revs, edges and flags are equal, and
//!   serialize to the same bytes, whatever order their paths were merged in;
//! - the common edit (one new rev on the newest leaf) appends at the end with no re-sorting.
//!
//! Split by concept: `merge` (key-tree merge of a path), `stem`, `winner` (leaves, winner,
//! conflicts), `query` (ancestry, latest, revs_info, revs_diff, compaction) and `repr` (the
//! compact serialized form).

mod merge;
mod query;
mod repr;
mod stem;
mod winner;

use crate::core::rev::Rev;

/// Parent index of a root.
const NONE: u32 = u32::MAX;
/// The node is a deletion (tombstone).
const DELETED: u8 = 1;
/// The node's body is stored (not compacted away / never received).
const AVAILABLE: u8 = 2;
/// In memory only (recomputed on load): the node has at least one child, i.e. is not a leaf.
const HAS_CHILD: u8 = 4;
/// The flags that are persisted.
const PERSISTED_FLAGS: u8 = DELETED | AVAILABLE;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    pos: u64,
    hash: String,
    parent: u32,
    flags: u8,
}

impl Node {
    fn rev(&self) -> Rev {
        Rev { pos: self.pos, hash: self.hash.clone() }
    }

    fn is_leaf(&self) -> bool {
        self.flags & HAS_CHILD == 0
    }

    fn is_deleted(&self) -> bool {
        self.flags & DELETED != 0
    }
}

/// A document's rev tree. Serializes as `{"h": [hashes], "u": [distance back to the parent, 0 for
/// roots], "r": [pos of each root], "f": "one flag digit per node"}`: revs are not repeated, and a
/// linear history costs about its hashes plus three bytes per rev.
///
/// `PartialEq` compares the canonical layout (see the module docs), so it is logical equality,
/// body status included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevTree {
    nodes: Vec<Node>,
}

/// A leaf of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub rev: Rev,
    pub deleted: bool,
}

/// A leaf borrowed from its tree (no clone of its hash): its rev is `pos-hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafRef<'a> {
    pub pos: u64,
    pub hash: &'a str,
    pub deleted: bool,
}

/// What [`RevTree::merge`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The tree changed without gaining a leaf of its own: the path's new leaf extended an
    /// existing leaf, or the tree was empty; also when the path's leaf already existed but the
    /// path brought older history that the tree kept (revs above a stemmed root, or joining two
    /// roots) — then there is no new body to store.
    NewLeaf,
    /// The path's leaf is new and did not extend an existing leaf while leaves existed: a fork /
    /// conflict, or a new disjoint root.
    NewBranch,
    /// Nothing changed (a replay): the tree is untouched, not even re-stemmed.
    Exists,
}

/// `_revs_info` status of one rev.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevInfoStatus {
    Available,
    Missing,
    Deleted,
}

impl RevTree {
    pub fn new() -> Self {
        RevTree { nodes: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of nodes (revs) held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Every rev held, in storage order (pos, then hash).
    pub fn revs(&self) -> Vec<Rev> {
        self.nodes.iter().map(Node::rev).collect()
    }

    /// Index of `(pos, hash)` among the first `end` nodes (which must be sorted).
    fn find_in(&self, end: usize, pos: u64, hash: &str) -> Option<usize> {
        self.nodes[..end].binary_search_by(|n| n.pos.cmp(&pos).then_with(|| n.hash.as_str().cmp(hash))).ok()
    }

    fn find(&self, rev: &Rev) -> Option<usize> {
        self.find_in(self.nodes.len(), rev.pos, &rev.hash)
    }

    fn parent_of(&self, idx: usize) -> Option<usize> {
        let p = self.nodes[idx].parent;
        (p != NONE).then_some(p as usize)
    }
}
