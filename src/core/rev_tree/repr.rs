//! The compact serialized form: struct of arrays, parents as backward distances, pos only for
//! roots, one flag digit per node. Loading validates everything and rebuilds the in-memory flags.

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Node, RevTree, HAS_CHILD, NONE, PERSISTED_FLAGS};

/// Serializes a sequence straight from an iterator, without an intermediate vector.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

impl Serialize for RevTree {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let nodes = &self.nodes;
        let mut st = s.serialize_struct("RevTree", 4)?;
        st.serialize_field("h", &Seq(|| nodes.iter().map(|n| n.hash.as_str())))?;
        st.serialize_field(
            "u",
            &Seq(|| {
                nodes.iter().enumerate().map(|(i, n)| if n.parent == NONE { 0 } else { i as u32 - n.parent })
            }),
        )?;
        st.serialize_field("r", &Seq(|| nodes.iter().filter(|n| n.parent == NONE).map(|n| n.pos)))?;
        let flags: String = nodes.iter().map(|n| char::from(b'0' + (n.flags & PERSISTED_FLAGS))).collect();
        st.serialize_field("f", &flags)?;
        st.end()
    }
}

#[derive(Deserialize)]
struct Repr {
    h: Vec<String>,
    u: Vec<u32>,
    r: Vec<u64>,
    f: String,
}

impl<'de> Deserialize<'de> for RevTree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = Repr::deserialize(d)?;
        RevTree::from_repr(repr).ok_or_else(|| D::Error::custom("corrupt rev tree"))
    }
}

impl RevTree {
    fn from_repr(repr: Repr) -> Option<RevTree> {
        let Repr { h, u, r, f } = repr;
        let n = h.len();
        if u.len() != n || f.len() != n || n >= NONE as usize {
            return None;
        }
        let mut roots = r.into_iter();
        let mut nodes: Vec<Node> = Vec::with_capacity(n);
        for ((i, hash), (back, flag)) in h.into_iter().enumerate().zip(u.into_iter().zip(f.bytes())) {
            let flags = flag.checked_sub(b'0').filter(|f| *f & !PERSISTED_FLAGS == 0)?;
            let (pos, parent) = if back == 0 {
                (roots.next().filter(|&p| p >= 1)?, NONE)
            } else {
                let parent = i.checked_sub(back as usize)?;
                let p = &mut nodes[parent];
                p.flags |= HAS_CHILD;
                (p.pos.checked_add(1)?, parent as u32)
            };
            if hash.is_empty() {
                return None;
            }
            let node = Node { pos, hash, parent, flags };
            // Strictly sorted by (pos, hash): also rules out duplicate revs.
            if let Some(prev) = nodes.last() {
                if (prev.pos, prev.hash.as_str()) >= (node.pos, node.hash.as_str()) {
                    return None;
                }
            }
            nodes.push(node);
        }
        if roots.next().is_some() {
            return None;
        }
        Some(RevTree { nodes })
    }
}
