//! The conformance suite every `KvStore` passes: natively over `MemoryKv` and the LSM on
//! `MemoryRecords` (tests/kv_native.rs), in the browser over the LSM on IndexedDB
//! (tests/kv_web.rs). Bodies are async and generic over an `Opener`, which opens the same store
//! again for the reopen tests. `kv_suite_tests!(wrap, opener)` expands `wrap!(name, opener)` for
//! each body, so each runner decides how a test is declared and driven.

#![allow(dead_code)]

use settee::kv::{KvStore, Range, WriteBatch};
use std::ops::Bound;
use std::rc::Rc;

/// Opens a store; calling it again opens the same data again (a reload). Stores without
/// persistence (`MemoryKv`) return the same instance.
#[allow(async_fn_in_trait)]
pub trait Opener {
    async fn open(&self) -> Rc<dyn KvStore>;
}

#[macro_export]
macro_rules! kv_suite_tests {
    ($wrap:ident, $opener:expr) => {
        $crate::kv_suite_tests!(@each $wrap, $opener,
            puts_gets_and_deletes,
            get_many_answers_every_key_in_the_order_asked,
            scans_in_both_directions_with_bounds_and_limits,
            a_batch_applies_whole_and_its_last_op_per_key_wins,
            a_stale_version_is_rejected_and_changes_nothing,
            reopening_sees_every_committed_batch,
            deletes_hide_keys_from_older_batches_before_and_after_compaction,
            thousands_of_keys_and_a_value_larger_than_a_chunk_survive_compaction_and_reopen
        );
    };
    (@each $wrap:ident, $opener:expr, $($name:ident),*) => { $( $wrap!($name, $opener); )* };
}

pub fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn rows(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs.iter().map(|(k, v)| (b(k), b(v))).collect()
}

pub async fn put(s: &dyn KvStore, pairs: &[(&str, &str)]) -> u64 {
    let mut batch = WriteBatch::new();
    for (k, v) in pairs {
        batch.put(b(k), b(v));
    }
    s.write(batch, None).await.expect("write")
}

pub async fn del(s: &dyn KvStore, keys: &[&str]) -> u64 {
    let mut batch = WriteBatch::new();
    for k in keys {
        batch.delete(b(k));
    }
    s.write(batch, None).await.expect("delete")
}

pub async fn all(s: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    s.scan(Range::all(), false, None).await.expect("scan")
}

fn range(start: Bound<&str>, end: Bound<&str>) -> Range {
    Range { start: start.map(b), end: end.map(b) }
}

pub async fn puts_gets_and_deletes(o: &impl Opener) {
    let s = o.open().await;
    let v0 = s.version();
    let v1 = put(&*s, &[("a", "1"), ("b", "2"), ("c", "3")]).await;
    assert!(v1 > v0, "a write advances the version");
    assert_eq!(s.version(), v1);
    assert_eq!(s.get(b"b").await.unwrap(), Some(b("2")));
    assert_eq!(s.get(b"zz").await.unwrap(), None);
    let v2 = del(&*s, &["b"]).await;
    assert!(v2 > v1);
    assert_eq!(s.get(b"b").await.unwrap(), None);
    put(&*s, &[("a", "one")]).await;
    assert_eq!(s.get(b"a").await.unwrap(), Some(b("one")));
    put(&*s, &[("empty", "")]).await;
    assert_eq!(s.get(b"empty").await.unwrap(), Some(Vec::new()), "an empty value is not a delete");
    assert_eq!(all(&*s).await, rows(&[("a", "one"), ("c", "3"), ("empty", "")]));
}

pub async fn get_many_answers_every_key_in_the_order_asked(o: &impl Opener) {
    let s = o.open().await;
    put(&*s, &[("x", "1"), ("y", "2")]).await;
    put(&*s, &[("z", "3")]).await;
    del(&*s, &["y"]).await;
    let got = s.get_many(&[b("z"), b("nope"), b("x"), b("y"), b("x")]).await.unwrap();
    assert_eq!(got, vec![Some(b("3")), None, Some(b("1")), None, Some(b("1"))]);
    assert!(s.get_many(&[]).await.unwrap().is_empty());
    let shared = s.get_many_shared(&[b("z"), b("nope"), b("x"), b("y"), b("x")]).await.unwrap();
    assert_eq!(shared.iter().map(|v| v.as_deref().map(<[u8]>::to_vec)).collect::<Vec<_>>(), got);
}

pub async fn scans_in_both_directions_with_bounds_and_limits(o: &impl Opener) {
    let s = o.open().await;
    // Spread over several batches so the scan merges several runs.
    for chunk in (0..50).collect::<Vec<_>>().chunks(7) {
        let pairs: Vec<(String, String)> =
            chunk.iter().map(|i| (format!("k{i:02}"), format!("v{i}"))).collect();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        put(&*s, &refs).await;
    }
    del(&*s, &["k10", "k11", "k49"]).await;
    put(&*s, &[("j", "before"), ("l", "after")]).await;
    let keys = |r: Vec<(Vec<u8>, Vec<u8>)>| {
        r.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()).collect::<Vec<_>>()
    };
    let expect = |from: usize, to: usize| {
        (from..to).filter(|i| ![10, 11, 49].contains(i)).map(|i| format!("k{i:02}")).collect::<Vec<_>>()
    };

    let fwd = keys(s.scan(Range::prefix(b"k"), false, None).await.unwrap());
    assert_eq!(fwd, expect(0, 50));
    let mut rev = keys(s.scan(Range::prefix(b"k"), true, None).await.unwrap());
    rev.reverse();
    assert_eq!(rev, fwd, "a reverse scan is the forward scan backwards");

    let r = range(Bound::Included("k08"), Bound::Excluded("k13"));
    assert_eq!(keys(s.scan(r.clone(), false, None).await.unwrap()), vec!["k08", "k09", "k12"]);
    assert_eq!(keys(s.scan(r, true, None).await.unwrap()), vec!["k12", "k09", "k08"]);
    let r = range(Bound::Excluded("k08"), Bound::Included("k12"));
    assert_eq!(keys(s.scan(r, false, None).await.unwrap()), vec!["k09", "k12"]);

    assert_eq!(keys(s.scan(Range::prefix(b"k"), false, Some(3)).await.unwrap()), vec!["k00", "k01", "k02"]);
    assert_eq!(keys(s.scan(Range::prefix(b"k"), true, Some(2)).await.unwrap()), vec!["k48", "k47"]);
    let r = range(Bound::Included("k09"), Bound::Unbounded);
    assert_eq!(
        keys(s.scan(r, false, Some(2)).await.unwrap()),
        vec!["k09", "k12"],
        "limits skip deleted keys"
    );
    let r = range(Bound::Unbounded, Bound::Excluded("k12"));
    assert_eq!(keys(s.scan(r, true, Some(2)).await.unwrap()), vec!["k09", "k08"]);

    assert!(s.scan(Range::prefix(b"k"), false, Some(0)).await.unwrap().is_empty());
    assert!(s.scan(Range::prefix(b"q"), false, None).await.unwrap().is_empty());
    let everything = keys(all(&*s).await);
    assert_eq!(everything.first().map(String::as_str), Some("j"));
    assert_eq!(everything.last().map(String::as_str), Some("l"));
    let got = s.scan(range(Bound::Included("k05"), Bound::Included("k05")), false, None).await.unwrap();
    assert_eq!(got, rows(&[("k05", "v5")]), "values come back with their keys");
    for (reverse, limit) in [(false, None), (true, None), (false, Some(4)), (true, Some(4))] {
        let copies = s.scan(Range::prefix(b"k"), reverse, limit).await.unwrap();
        let shared = s.scan_shared(Range::prefix(b"k"), reverse, limit).await.unwrap();
        let shared: Vec<(Vec<u8>, Vec<u8>)> = shared.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(shared, copies, "scan_shared reverse={reverse} limit={limit:?}");
    }
}

pub async fn a_batch_applies_whole_and_its_last_op_per_key_wins(o: &impl Opener) {
    let s = o.open().await;
    put(&*s, &[("y", "old"), ("w", "keep")]).await;
    let mut batch = WriteBatch::new();
    batch.put(b("x"), b("1"));
    batch.delete(b("y"));
    batch.put(b("x"), b("2"));
    batch.put(b("y"), b("3"));
    batch.delete(b("nothing"));
    batch.put(b("gone"), b("?"));
    batch.delete(b("gone"));
    s.write(batch, None).await.unwrap();
    assert_eq!(all(&*s).await, rows(&[("w", "keep"), ("x", "2"), ("y", "3")]));
    let v = s.version();
    s.write(WriteBatch::new(), None).await.unwrap();
    assert!(s.version() >= v, "an empty batch is accepted");
    assert_eq!(all(&*s).await, rows(&[("w", "keep"), ("x", "2"), ("y", "3")]));
}

pub async fn a_stale_version_is_rejected_and_changes_nothing(o: &impl Opener) {
    let s = o.open().await;
    let v0 = s.version();
    let mut first = WriteBatch::new();
    first.put(b("a"), b("1"));
    let v1 = s.write(first, Some(v0)).await.expect("the current version is accepted");
    let mut late = WriteBatch::new();
    late.put(b("a"), b("lost"));
    late.put(b("b"), b("lost"));
    let err = s.write(late, Some(v0)).await.expect_err("an old version is refused");
    assert!(err.is_stale(), "{err}");
    assert_eq!(s.version(), v1, "a refused write does not advance the version");
    assert_eq!(all(&*s).await, rows(&[("a", "1")]));
    let mut next = WriteBatch::new();
    next.put(b("b"), b("2"));
    assert!(s.write(next, Some(v1)).await.unwrap() > v1);
    assert_eq!(all(&*s).await, rows(&[("a", "1"), ("b", "2")]));
}

pub async fn reopening_sees_every_committed_batch(o: &impl Opener) {
    let s = o.open().await;
    put(&*s, &[("p", "1"), ("q", "2")]).await;
    del(&*s, &["p"]).await;
    put(&*s, &[("r", "3")]).await;
    let before = all(&*s).await;
    s.close();
    let again = o.open().await;
    assert_eq!(all(&*again).await, before);
    assert_eq!(before, rows(&[("q", "2"), ("r", "3")]));
    put(&*again, &[("s", "4")]).await;
    assert_eq!(again.get(b"s").await.unwrap(), Some(b("4")), "a reopened store takes writes");
}

pub async fn deletes_hide_keys_from_older_batches_before_and_after_compaction(o: &impl Opener) {
    let s = o.open().await;
    put(&*s, &[("a", "1"), ("b", "1"), ("c", "1")]).await;
    put(&*s, &[("b", "2")]).await;
    del(&*s, &["a", "b"]).await;
    put(&*s, &[("a", "3")]).await;
    let expected = rows(&[("a", "3"), ("c", "1")]);
    assert_eq!(all(&*s).await, expected);
    assert_eq!(s.get(b"b").await.unwrap(), None);
    s.compact().await.unwrap();
    assert_eq!(all(&*s).await, expected);
    assert_eq!(
        s.scan(Range::all(), true, None).await.unwrap(),
        expected.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(s.get(b"b").await.unwrap(), None);
    s.compact().await.expect("compacting a compact store is a no-op");
    s.close();
    assert_eq!(all(&*o.open().await).await, expected);
}

pub async fn thousands_of_keys_and_a_value_larger_than_a_chunk_survive_compaction_and_reopen(
    o: &impl Opener,
) {
    let s = o.open().await;
    let value = |i: usize| {
        format!("{{\"_id\":\"doc{i:05}\",\"n\":{i},\"text\":\"{}\"}}", "x".repeat(60)).into_bytes()
    };
    for start in (0..3000).step_by(1000) {
        let mut batch = WriteBatch::new();
        for i in start..start + 1000 {
            batch.put(format!("doc{i:05}").into_bytes(), value(i));
        }
        s.write(batch, None).await.unwrap();
    }
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let mut batch = WriteBatch::new();
    batch.put(b("big"), big.clone());
    for i in (0..3000).step_by(3) {
        batch.delete(format!("doc{i:05}").into_bytes());
    }
    s.write(batch, None).await.unwrap();

    let check = |rows: Vec<(Vec<u8>, Vec<u8>)>| {
        assert_eq!(rows.len(), 2000 + 1);
        assert_eq!(rows[0].1, big);
        for (n, (k, v)) in rows[1..].iter().enumerate() {
            let i = n / 2 * 3 + 1 + n % 2;
            assert_eq!(k, &format!("doc{i:05}").into_bytes());
            assert_eq!(v, &value(i));
        }
    };
    check(all(&*s).await);
    s.compact().await.unwrap();
    check(all(&*s).await);
    let mut rev = s.scan(Range::all(), true, None).await.unwrap();
    rev.reverse();
    check(rev);
    s.close();
    let again = o.open().await;
    check(all(&*again).await);
    assert_eq!(again.get(b"doc02997").await.unwrap(), None);
    assert_eq!(again.get(b"doc02998").await.unwrap(), Some(value(2998)));
}
