//! Index selection for `find` and `explain`: which index to read, which key range of it, and
//! in which direction. Pure planning; the database reads the range and still matches every
//! candidate document against the whole selector (the range only narrows).
//!
//! A json index holds one row per document that has *all* its fields, keyed by the array of
//! their values (`keycodec`-encoded, then the doc id). Hence, as in CouchDB:
//! - **Usable** when every index field is *required* by the selector: constrained by a
//!   condition other than `$exists: false`, at the top level or under `$and`, or in every
//!   branch of an `$or`. Sort fields, `_id` and `_rev` need not be: sorted results only hold
//!   documents that have the sort fields, and every document has `_id` and `_rev`.
//! - **Sort fits** when the sort fields, in order, are the index fields after a (possibly
//!   empty) run of leading index fields that the selector fixes with `$eq`; a descending sort
//!   reads the index backwards. A sort no usable index fits is an error (`no_usable_index`),
//!   except a sort on `_id` alone, which all-docs order serves.
//! - **Range**: leading index fields fixed by `$eq` form a prefix (a one-value `$in` too, but
//!   only on `_id`: elsewhere `$in` also matches an element of an array field, and the index
//!   key holds the whole array); the next field takes the tightest `$gt/$gte/$lt/$lte`
//!   bounds; later fields are unbounded.
//!   Only top-level conjuncts count (never `$or`, `$nor`, `$not` branches).
//! - **Choice** (Settee's rule, close to CouchDB's): `use_index` if it names a usable index
//!   (else a warning); otherwise the usable index with the most range-constrained leading
//!   fields, then the fewest fields, then the smallest name. No usable index: scan all docs in
//!   `_id` order (bounded by conditions on `_id`), with CouchDB's warning.

use std::cmp::Ordering;

use serde_json::Value;

use super::{Cond, Direction, FieldPath, Node, Selector, SortField};
use crate::core::collate::collate;
use crate::core::keycodec::{encode_into, encode_prefix, prefix_end};
use crate::error::{Error, Result};

/// A json index as the planner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub fields: Vec<FieldPath>,
}

impl IndexDef {
    pub fn new(name: impl Into<String>, fields: &[&str]) -> Result<IndexDef> {
        let fields = fields.iter().map(|f| FieldPath::parse(f)).collect::<Result<Vec<_>>>()?;
        Ok(IndexDef { name: name.into(), fields })
    }
}

/// A key range over an index: the keys `[eq_prefix..., x, ...]` with `x` within the bounds
/// (each `(value, inclusive)`). For the all-docs scan it bounds `_id` (`eq_prefix` is then the
/// one fixed id, if any).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexRange {
    pub eq_prefix: Vec<Value>,
    pub lower: Option<(Value, bool)>,
    pub upper: Option<(Value, bool)>,
}

impl IndexRange {
    /// The half-open byte range `[start, end)` of row keys (`keycodec::with_doc_id` of the key
    /// array) in this range. Exclusive bounds use `prefix_end`: every row whose next field
    /// equals the bound value starts with `prefix ++ encode(value)`.
    pub fn byte_bounds(&self) -> (Vec<u8>, Vec<u8>) {
        let prefix = encode_prefix(&Value::Array(self.eq_prefix.clone()));
        let with = |v: &Value| {
            let mut p = prefix.clone();
            encode_into(v, &mut p);
            p
        };
        let start = match &self.lower {
            None => prefix.clone(),
            Some((v, true)) => with(v),
            Some((v, false)) => prefix_end(&with(v)),
        };
        let end = match &self.upper {
            None => prefix_end(&prefix),
            Some((v, true)) => prefix_end(&with(v)),
            Some((v, false)) => with(v),
        };
        (start, end)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueryPlan {
    /// Position in the given index list; `None` scans all docs (CouchDB's `_all_docs` index).
    pub index: Option<usize>,
    pub range: IndexRange,
    pub descending: bool,
    /// What `find` reports as `warning` (no index used, or `use_index` ignored).
    pub warning: Option<String>,
}

/// Chooses how to answer `selector` sorted by `sort`; see the module doc for the rules.
pub fn plan_query(
    indexes: &[IndexDef],
    selector: &Selector,
    sort: &[SortField],
    use_index: Option<&str>,
) -> Result<QueryPlan> {
    let root = selector.root();
    let conjuncts = conjuncts(root);
    let descending = sort.first().is_some_and(|s| s.direction == Direction::Desc);
    let usable: Vec<usize> =
        (0..indexes.len()).filter(|&i| is_usable(&indexes[i], root, &conjuncts, sort)).collect();

    let mut warning = None;
    let requested = use_index.map(|name| usable.iter().copied().find(|&i| indexes[i].name == name));
    let chosen = match requested {
        Some(Some(i)) => Some(i),
        Some(None) => {
            let name = use_index.unwrap_or_default();
            warning = Some(format!(
                "{name} was not used because it does not contain a valid index for this query."
            ));
            best(indexes, &usable, &conjuncts)
        }
        None => best(indexes, &usable, &conjuncts),
    };
    if let Some(i) = chosen {
        let range = range_over(&indexes[i].fields, &conjuncts);
        return Ok(QueryPlan { index: Some(i), range, descending, warning });
    }
    let id = FieldPath::parse("_id")?;
    if !(sort.is_empty() || (sort.len() == 1 && sort[0].path == id)) {
        return Err(Error::new(
            400,
            "no_usable_index",
            "No index exists for this sort, try indexing by the sort fields.",
        ));
    }
    let range = range_over(std::slice::from_ref(&id), &conjuncts);
    let warning = warning.or(Some("No matching index found, create an index to optimize query time.".into()));
    Ok(QueryPlan { index: None, range, descending, warning })
}

/// The conditions every matching document satisfies on its own: the top-level `$and` tree.
fn conjuncts(node: &Node) -> Vec<(&FieldPath, &Cond)> {
    match node {
        Node::And(nodes) => nodes.iter().flat_map(conjuncts).collect(),
        Node::Or(nodes) if nodes.len() == 1 => conjuncts(&nodes[0]),
        Node::Or(_) => Vec::new(),
        Node::Field(path, cond) => vec![(path, cond)],
    }
}

/// Whether every document matching `node` has `path`.
fn requires(node: &Node, path: &FieldPath) -> bool {
    match node {
        Node::And(nodes) => nodes.iter().any(|n| requires(n, path)),
        Node::Or(nodes) => !nodes.is_empty() && nodes.iter().all(|n| requires(n, path)),
        // A missing field fails every condition but `$exists: false` (see the module doc).
        Node::Field(p, cond) => p == path && !matches!(cond, Cond::Exists(false)),
    }
}

fn is_usable(index: &IndexDef, root: &Node, conjuncts: &[(&FieldPath, &Cond)], sort: &[SortField]) -> bool {
    let exempt = |f: &FieldPath| {
        sort.iter().any(|s| &s.path == f) || matches!(f.segments(), [only] if only == "_id" || only == "_rev")
    };
    let required = index.fields.iter().all(|f| exempt(f) || requires(root, f));
    required && sort_fits(&index.fields, conjuncts, sort)
}

fn sort_fits(fields: &[FieldPath], conjuncts: &[(&FieldPath, &Cond)], sort: &[SortField]) -> bool {
    if sort.is_empty() {
        return true;
    }
    for skip in 0..fields.len() {
        let rest = &fields[skip..];
        if rest.len() >= sort.len() && rest.iter().zip(sort).all(|(f, s)| *f == s.path) {
            return true;
        }
        if bounds(&fields[skip], conjuncts).eq.is_none() {
            return false;
        }
    }
    false
}

fn best(indexes: &[IndexDef], usable: &[usize], conjuncts: &[(&FieldPath, &Cond)]) -> Option<usize> {
    usable.iter().copied().max_by(|&a, &b| {
        let (ia, ib) = (&indexes[a], &indexes[b]);
        constrained_prefix(&ia.fields, conjuncts)
            .cmp(&constrained_prefix(&ib.fields, conjuncts))
            .then(ib.fields.len().cmp(&ia.fields.len()))
            .then(ib.name.cmp(&ia.name))
    })
}

/// How many leading fields of an index the range narrows.
fn constrained_prefix(fields: &[FieldPath], conjuncts: &[(&FieldPath, &Cond)]) -> usize {
    let range = range_over(fields, conjuncts);
    range.eq_prefix.len() + usize::from(range.lower.is_some() || range.upper.is_some())
}

fn range_over(fields: &[FieldPath], conjuncts: &[(&FieldPath, &Cond)]) -> IndexRange {
    let mut range = IndexRange::default();
    for field in fields {
        let b = bounds(field, conjuncts);
        match b.eq {
            Some(v) => range.eq_prefix.push(v),
            None => {
                range.lower = b.lower;
                range.upper = b.upper;
                break;
            }
        }
    }
    range
}

#[derive(Default)]
struct Bounds {
    eq: Option<Value>,
    lower: Option<(Value, bool)>,
    upper: Option<(Value, bool)>,
}

/// The tightest bounds the conjuncts put on one field.
fn bounds(field: &FieldPath, conjuncts: &[(&FieldPath, &Cond)]) -> Bounds {
    let mut b = Bounds::default();
    for (_, cond) in conjuncts.iter().filter(|(p, _)| *p == field) {
        match cond {
            Cond::Eq(v) => b.eq = b.eq.take().or_else(|| Some(v.clone())),
            // Only for `_id`, which is never an array: `$in` on an array field matches any
            // element, while the index key holds the whole array.
            Cond::In(vs) if vs.len() == 1 && is_id(field) => {
                b.eq = b.eq.take().or_else(|| Some(vs[0].clone()))
            }
            Cond::Gt(v) => tighten(&mut b.lower, v, false, Ordering::Greater),
            Cond::Gte(v) => tighten(&mut b.lower, v, true, Ordering::Greater),
            Cond::Lt(v) => tighten(&mut b.upper, v, false, Ordering::Less),
            Cond::Lte(v) => tighten(&mut b.upper, v, true, Ordering::Less),
            _ => {}
        }
    }
    b
}

fn is_id(field: &FieldPath) -> bool {
    matches!(field.segments(), [only] if only == "_id")
}

/// Keeps the tighter of two bounds: further in direction `tighter`, or exclusive on a tie.
fn tighten(slot: &mut Option<(Value, bool)>, v: &Value, inclusive: bool, tighter: Ordering) {
    let replace = match slot {
        None => true,
        Some((cur, cur_inclusive)) => match collate(v, cur) {
            Ordering::Equal => *cur_inclusive && !inclusive,
            ord => ord == tighter,
        },
    };
    if replace {
        *slot = Some((v.clone(), inclusive));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keycodec::with_doc_id;
    use crate::core::mango::parse_sort;
    use serde_json::json;

    fn plan(indexes: &[IndexDef], selector: Value, sort: Value) -> Result<QueryPlan> {
        let sort = parse_sort(Some(&sort))?;
        plan_query(indexes, &Selector::parse(&selector)?, &sort, None)
    }

    fn idx(name: &str, fields: &[&str]) -> IndexDef {
        IndexDef::new(name, fields).unwrap()
    }

    #[test]
    fn an_index_is_used_only_when_the_selector_requires_its_fields() {
        let indexes = [idx("by_a", &["a"])];
        assert_eq!(plan(&indexes, json!({"a": {"$gt": 1}}), json!([])).unwrap().index, Some(0));
        let unused = plan(&indexes, json!({"b": 1}), json!([])).unwrap();
        assert_eq!(unused.index, None);
        assert!(unused.warning.is_some());
        assert_eq!(plan(&indexes, json!({"a": {"$exists": false}}), json!([])).unwrap().index, None);
        assert_eq!(plan(&indexes, json!({"$or": [{"a": 1}, {"a": 2}]}), json!([])).unwrap().index, Some(0));
        assert_eq!(plan(&indexes, json!({"$or": [{"a": 1}, {"b": 2}]}), json!([])).unwrap().index, None);
    }

    #[test]
    fn equality_prefix_then_bounds_on_the_next_field() {
        let indexes = [idx("ab", &["a", "b", "c"])];
        let p = plan(&indexes, json!({"a": "x", "b": {"$gt": 1, "$lte": 9}, "c": {"$gt": 0}}), json!([]))
            .unwrap();
        assert_eq!(p.range.eq_prefix, vec![json!("x")]);
        assert_eq!(p.range.lower, Some((json!(1), false)));
        assert_eq!(p.range.upper, Some((json!(9), true)));
    }

    #[test]
    fn tightest_bounds_win_and_exclusive_wins_ties() {
        let indexes = [idx("a", &["a"])];
        let p = plan(
            &indexes,
            json!({"a": {"$gte": 1, "$gt": 3, "$lt": 10}, "$and": [{"a": {"$lte": 10}}]}),
            json!([]),
        )
        .unwrap();
        assert_eq!((p.range.lower, p.range.upper), (Some((json!(3), false)), Some((json!(10), false))));
    }

    #[test]
    fn sort_must_follow_the_index_after_equality_fixed_fields() {
        let indexes = [idx("type_topic", &["type", "topic"])];
        let p = plan(&indexes, json!({"type": "m"}), json!([{"topic": "desc"}])).unwrap();
        assert_eq!((p.index, p.descending), (Some(0), true));
        assert_eq!(plan(&indexes, json!({"type": "m"}), json!(["type", "topic"])).unwrap().index, Some(0));
        let err = plan(&indexes, json!({"type": {"$gt": "a"}}), json!(["topic"])).unwrap_err();
        assert_eq!((err.status, err.name), (400, "no_usable_index"));
        assert_eq!(plan(&[], json!({}), json!([{"_id": "desc"}])).unwrap().index, None);
    }

    #[test]
    fn sort_fields_need_not_appear_in_the_selector() {
        let indexes = [idx("n", &["n"])];
        assert_eq!(plan(&indexes, json!({}), json!(["n"])).unwrap().index, Some(0));
    }

    #[test]
    fn the_narrowest_index_wins_then_the_smallest() {
        let indexes = [idx("a_b_c", &["a", "b", "c"]), idx("a", &["a"]), idx("a_b", &["a", "b"])];
        let p = plan(&indexes, json!({"a": 1, "b": 2, "c": {"$gt": 0}}), json!([])).unwrap();
        assert_eq!(p.index, Some(0));
        let p = plan(&indexes, json!({"a": 1, "b": {"$exists": true}}), json!([])).unwrap();
        assert_eq!(p.index, Some(1));
    }

    #[test]
    fn use_index_is_honoured_when_usable_and_warned_about_otherwise() {
        let indexes = [idx("a", &["a"]), idx("b", &["b"])];
        let sel = Selector::parse(&json!({"a": 1, "b": 1})).unwrap();
        assert_eq!(plan_query(&indexes, &sel, &[], Some("b")).unwrap().index, Some(1));
        let p = plan_query(&indexes, &Selector::parse(&json!({"a": 1})).unwrap(), &[], Some("b")).unwrap();
        assert_eq!(p.index, Some(0));
        assert!(p.warning.unwrap().contains("b was not used"));
    }

    #[test]
    fn a_one_value_in_fixes_only_id_since_other_fields_may_hold_arrays() {
        let p = plan(&[idx("tags", &["tags"])], json!({"tags": {"$in": ["z"]}}), json!([])).unwrap();
        assert_eq!((p.index, p.range), (Some(0), IndexRange::default()));
        let p = plan(&[], json!({"_id": {"$in": ["a"]}}), json!([])).unwrap();
        assert_eq!(p.range.eq_prefix, vec![json!("a")]);
    }

    #[test]
    fn all_docs_scan_is_bounded_by_id_conditions() {
        let p = plan(&[], json!({"_id": {"$gte": "msg:", "$lt": "msg;"}}), json!([])).unwrap();
        assert_eq!(p.range.lower, Some((json!("msg:"), true)));
        assert_eq!(p.range.upper, Some((json!("msg;"), false)));
    }

    #[test]
    fn byte_bounds_hold_exactly_the_rows_in_range() {
        let range = IndexRange {
            eq_prefix: vec![json!("m")],
            lower: Some((json!(2), false)),
            upper: Some((json!(5), true)),
        };
        let (start, end) = range.byte_bounds();
        let inside = |k: Value| {
            let row = with_doc_id(&k, "doc");
            start <= row && row < end
        };
        assert!(inside(json!(["m", 3])) && inside(json!(["m", 5, "x"])) && inside(json!(["m", 2.5])));
        assert!(!inside(json!(["m", 2])) && !inside(json!(["m", 2, 1])) && !inside(json!(["m", 5.5])));
        assert!(!inside(json!(["n", 3])) && !inside(json!(["m"])));
    }
}
