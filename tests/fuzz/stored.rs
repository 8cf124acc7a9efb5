//! Valid stored structures (LSM entries and chunks, manifests, rev trees) for the decoders'
//! fuzz targets to round-trip and then damage.

use proptest::prelude::*;
use settee::core::rev::Rev;
use settee::core::rev_tree::RevTree;
use settee::kv::lsm::chunk::{Chunk, Splitter};
use settee::kv::lsm::manifest::{ChunkMeta, Manifest, Run};
use settee::kv::Range;
use std::collections::BTreeMap;

/// Sorted distinct keys with values or tombstones, as one batch of the LSM holds them.
pub fn entries() -> BoxedStrategy<BTreeMap<Vec<u8>, Option<Vec<u8>>>> {
    let key = prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'b', b'd', 0xff]), 0..8);
    let value = prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..12));
    prop::collection::btree_map(key, value, 1..40).boxed()
}

pub fn encode_chunks(entries: &BTreeMap<Vec<u8>, Option<Vec<u8>>>, target: usize) -> Vec<Vec<u8>> {
    let mut s = Splitter::new(target);
    for (k, v) in entries {
        s.push(k, v.as_deref());
    }
    s.finish().into_iter().map(|e| e.bytes).collect()
}

/// Reads every entry of a decoded chunk every way a reader does; none may panic.
pub fn walk(chunk: &Chunk) {
    for i in 0..chunk.len() {
        let key = chunk.key(i).to_vec();
        let _ = (chunk.value(i), chunk.value_shared(i), chunk.key_shared(i));
        let _ = chunk.find(&key);
        let _ = chunk.span(&Range::prefix(&key));
    }
}

/// A valid manifest: runs of chunks in key order, unique ids below `next_id`.
pub fn manifest() -> BoxedStrategy<Manifest> {
    let key = prop::collection::vec(prop::sample::select(vec![0u8, b'a', b'b', 0xff]), 0..5);
    let run = prop::collection::btree_set(key, 0..8);
    (prop::collection::vec(run, 0..4), any::<[u64; 3]>(), 0u64..3)
        .prop_map(|(runs, [v, dv, epoch], spare)| {
            let mut next_id = 1;
            let runs = runs
                .into_iter()
                .enumerate()
                .map(|(r, keys)| {
                    let keys: Vec<Vec<u8>> = keys.into_iter().collect();
                    let chunks = keys
                        .chunks_exact(2)
                        .map(|pair| {
                            next_id += 1;
                            let (first, last) = (pair[0].clone(), pair[1].clone());
                            ChunkMeta { id: next_id - 1, bytes: 100, entries: 3, tombstones: 0, first, last }
                        })
                        .collect();
                    Run { id: r as u64 + 100, chunks }
                })
                .collect();
            Manifest { version: v, data_version: dv, epoch, next_id: next_id + spare, runs }
        })
        .boxed()
}

/// A rev tree built from random edit paths, as replication would build it.
pub fn rev_tree() -> BoxedStrategy<RevTree> {
    let path = (1u64..5, prop::collection::vec(prop::sample::select(vec!["a", "b", "c\"", "d\\"]), 1..4));
    (prop::collection::vec((path, any::<bool>()), 0..4))
        .prop_map(|paths| {
            let mut tree = RevTree::new();
            for ((start, hashes), deleted) in paths {
                let revs: Vec<Rev> = hashes
                    .iter()
                    .enumerate()
                    .map(|(i, h)| Rev { pos: start + (hashes.len() - 1 - i) as u64, hash: (*h).into() })
                    .collect();
                tree.merge(&revs, deleted, 10);
            }
            tree
        })
        .boxed()
}
