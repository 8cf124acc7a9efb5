//! The pure decisions of one batch: what to ask `_revs_diff`, which revs to fetch, which
//! fetched docs to write, and when the feed is done.

use super::peer::{Change, Fetched, RevRequest, RevsByDoc, RevsDiff};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// `{id: [leaf revs]}` for a page of changes (a repeated id merges its revs).
pub fn revs_diff_request(changes: &[Change]) -> RevsByDoc {
    let mut out = RevsByDoc::new();
    for c in changes {
        let revs = out.entry(c.id.clone()).or_default();
        for r in &c.revs {
            if !revs.contains(r) {
                revs.push(r.clone());
            }
        }
    }
    out
}

/// One `bulk_get` request per missing rev, in (id, rev) order.
pub fn fetch_list(missing: &RevsDiff) -> Vec<RevRequest> {
    // `missing` iterates in id order, so sorting each doc's revs is enough (and uses the
    // `&str` sort the write path compiles anyway, not a copy for `RevRequest`).
    let mut out = Vec::new();
    for (id, m) in missing {
        let mut revs: Vec<&str> = m.missing.iter().map(String::as_str).collect();
        revs.sort_unstable();
        revs.dedup();
        out.extend(revs.into_iter().map(|rev| RevRequest { id: id.clone(), rev: rev.to_string() }));
    }
    out
}

/// Splits `wanted` into the docs `prefetched` (by id, from the changes page) already holds,
/// moved out of it, and the revs still to fetch. A body stands in only for the very rev.
pub fn take_prefetched(
    wanted: Vec<RevRequest>,
    prefetched: &mut HashMap<String, Value>,
) -> (Vec<Fetched>, Vec<RevRequest>) {
    if prefetched.is_empty() {
        return (Vec::new(), wanted);
    }
    let mut have = Vec::new();
    let mut rest = Vec::new();
    for r in wanted {
        match prefetched.get(&r.id) {
            Some(doc) if doc["_rev"].as_str() == Some(r.rev.as_str()) => {
                have.extend(prefetched.remove(&r.id).map(Fetched::Doc));
            }
            _ => rest.push(r),
        }
    }
    (have, rest)
}

/// The fetched docs worth writing: errors dropped (a rev the source no longer has cannot be
/// sent; the next change of that doc brings its new leaves), and each (id, rev) once, since
/// `latest=true` can resolve two requested revs to the same leaf.
pub fn docs_to_write(fetched: Vec<Fetched>) -> Vec<Value> {
    let mut seen = HashSet::new();
    fetched
        .into_iter()
        .filter_map(|f| match f {
            Fetched::Doc(d) => Some(d),
            Fetched::Error(_) => None,
        })
        .filter(|d| {
            let key = (d["_id"].as_str().map(str::to_string), d["_rev"].as_str().map(str::to_string));
            key.0.is_some() && key.1.is_some() && seen.insert(key)
        })
        .collect()
}

/// A page shorter than the limit ends a one-shot replication: asking again would only
/// confirm that nothing is left, at the cost of a request.
pub fn is_last_page(rows: usize, limit: usize) -> bool {
    rows < limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicate::peer::{DocError, MissingRevs, Seq};
    use serde_json::json;

    fn change(id: &str, revs: &[&str]) -> Change {
        Change {
            id: id.into(),
            seq: Seq::zero(),
            revs: revs.iter().map(|r| r.to_string()).collect(),
            deleted: false,
        }
    }

    #[test]
    fn the_revs_diff_request_lists_every_leaf_once_per_id() {
        let req =
            revs_diff_request(&[change("a", &["2-x", "2-y"]), change("b", &["1-z"]), change("a", &["2-x"])]);
        assert_eq!(req.len(), 2);
        assert_eq!(req["a"], vec!["2-x", "2-y"]);
        assert_eq!(req["b"], vec!["1-z"]);
    }

    #[test]
    fn only_missing_revs_are_fetched_each_once() {
        let entry = |revs: &[&str]| MissingRevs {
            missing: revs.iter().map(|r| r.to_string()).collect(),
            possible_ancestors: vec![],
        };
        let mut missing = RevsDiff::new();
        missing.insert("b".into(), entry(&["3-q", "3-q"]));
        missing.insert("a".into(), entry(&["1-a"]));
        let list = fetch_list(&missing);
        let pairs: Vec<(&str, &str)> = list.iter().map(|r| (r.id.as_str(), r.rev.as_str())).collect();
        assert_eq!(pairs, vec![("a", "1-a"), ("b", "3-q")]);
        assert!(fetch_list(&RevsDiff::new()).is_empty());
    }

    #[test]
    fn fetch_errors_and_duplicate_leaves_are_not_written() {
        let err = DocError {
            id: "c".into(),
            rev: None,
            status: 404,
            error: "not_found".into(),
            reason: "missing".into(),
        };
        let docs = docs_to_write(vec![
            Fetched::Doc(json!({"_id": "a", "_rev": "2-x"})),
            Fetched::Error(err),
            Fetched::Doc(json!({"_id": "a", "_rev": "2-x"})),
            Fetched::Doc(json!({"_id": "a", "_rev": "2-y"})),
            Fetched::Doc(json!({"no": "id"})),
        ]);
        assert_eq!(docs, vec![json!({"_id": "a", "_rev": "2-x"}), json!({"_id": "a", "_rev": "2-y"})]);
    }

    #[test]
    fn prefetched_bodies_stand_in_only_for_their_own_rev() {
        let want = |id: &str, rev: &str| RevRequest { id: id.into(), rev: rev.into() };
        let mut prefetched: HashMap<String, Value> = [
            ("a".to_string(), json!({"_id": "a", "_rev": "1-a"})),
            ("b".to_string(), json!({"_id": "b", "_rev": "1-b"})),
        ]
        .into();
        let (have, rest) =
            take_prefetched(vec![want("a", "1-a"), want("b", "2-b"), want("c", "1-c")], &mut prefetched);
        assert_eq!(have, vec![Fetched::Doc(json!({"_id": "a", "_rev": "1-a"}))]);
        assert_eq!(rest, vec![want("b", "2-b"), want("c", "1-c")]);
        assert!(!prefetched.contains_key("a") && prefetched.contains_key("b"));
    }

    #[test]
    fn a_short_page_is_the_last() {
        assert!(is_last_page(0, 500));
        assert!(is_last_page(499, 500));
        assert!(!is_last_page(500, 500));
    }
}
