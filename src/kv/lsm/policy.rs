//! When to compact: size-tiered, over adjacent runs, with a binary-counter safety net.
//!
//! Runs are listed newest first and only adjacent runs may merge (a merge must not reorder
//! versions of a key). Walking from the newest run, a *bucket* is a stretch of adjacent runs
//! each smaller than ¾ × `fanout` × the smallest run in the stretch so far. A bucket holding
//! `fanout` runs merges into one run, which is about `fanout` times larger and so belongs to
//! the next tier. With batches of similar size that gives fewer than `fanout` runs per tier,
//! `log_fanout(n)` tiers, and each entry rewritten about `log_fanout(n)` times: cheap for the
//! common case of many similar batches (10 batches of 1,000 docs merge twice, 8 batches' worth).
//!
//! Sizes that alternate between tiers (a huge batch, a tiny one, a huge one…) can keep every
//! bucket short. Past `4 × fanout` runs the policy therefore falls back to a binary counter:
//! fold newer runs into the next older one while it is less than twice their total. That keeps
//! the run count logarithmic whatever the sizes.

use std::ops::Range;

/// The first span of runs (indices into the newest-first list) that should merge, if any.
pub fn plan(sizes: &[u64], fanout: usize) -> Option<Range<usize>> {
    let fanout = fanout.max(2);
    // A run joins the bucket while smaller than 3/4 × fanout × the bucket's smallest run: not
    // the whole fanout, because a merged run is a little smaller than the sum of its inputs
    // (fewer headers, dropped entries) and must still land in the next tier.
    let joins =
        |size: u64, smallest: u64| size < (smallest.saturating_mul(3 * fanout as u64) / 4).max(smallest + 1);
    let mut start = 0;
    while start < sizes.len() {
        let mut smallest = sizes[start].max(1);
        let mut end = start + 1;
        while end < sizes.len() && joins(sizes[end], smallest) {
            smallest = smallest.min(sizes[end].max(1));
            end += 1;
        }
        if end - start >= fanout {
            return Some(start..end);
        }
        start = end;
    }
    if sizes.len() > 4 * fanout {
        return binary_counter(sizes);
    }
    None
}

fn binary_counter(sizes: &[u64]) -> Option<Range<usize>> {
    for start in 0..sizes.len() {
        let mut acc = sizes[start].max(1);
        let mut end = start + 1;
        while end < sizes.len() && sizes[end] < acc.saturating_mul(2) {
            acc = acc.saturating_add(sizes[end]);
            end += 1;
        }
        if end - start > 1 {
            return Some(start..end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the policy after each write of the given sizes; returns runs and bytes rewritten.
    fn simulate(writes: impl IntoIterator<Item = u64>, fanout: usize) -> (Vec<u64>, u64) {
        let mut runs: Vec<u64> = Vec::new();
        let mut rewritten = 0;
        for w in writes {
            runs.insert(0, w);
            while let Some(span) = plan(&runs, fanout) {
                let merged: u64 = runs[span.clone()].iter().sum();
                rewritten += merged;
                runs.splice(span, [merged]);
            }
        }
        (runs, rewritten)
    }

    fn log(n: u64, base: u64) -> u32 {
        let mut l = 0;
        let mut x = 1;
        while x < n {
            x *= base;
            l += 1;
        }
        l
    }

    #[test]
    fn similar_writes_keep_fewer_than_fanout_runs_per_tier() {
        for fanout in [2usize, 4] {
            for n in [1u64, 3, 4, 10, 64, 1000] {
                let (runs, rewritten) = simulate(std::iter::repeat_n(1, n as usize), fanout);
                assert_eq!(runs.iter().sum::<u64>(), n);
                let tiers = log(n + 1, fanout as u64).max(1) as usize;
                assert!(runs.len() <= (fanout - 1) * tiers, "fanout {fanout}, {n} writes: {runs:?}");
                assert!(rewritten <= n * log(n, fanout as u64) as u64, "fanout {fanout}, {n}: {rewritten}");
            }
        }
    }

    #[test]
    fn ten_batches_merge_twice_with_fanout_four() {
        assert_eq!(simulate(std::iter::repeat_n(1, 10), 4), (vec![1, 1, 4, 4], 8));
    }

    #[test]
    fn alternating_huge_and_tiny_writes_still_keep_few_runs() {
        let writes = (0..500).map(|i| if i % 2 == 0 { 1 } else { 1_000_000 });
        let (runs, _) = simulate(writes, 4);
        assert!(runs.len() <= 4 * 4, "{runs:?}");
    }

    #[test]
    fn a_bucket_ends_where_sizes_jump_by_the_fanout() {
        assert_eq!(plan(&[1, 1, 1, 4, 4], 4), None);
        assert_eq!(plan(&[1, 1, 1, 1, 4], 4), Some(0..4));
        assert_eq!(plan(&[1, 4, 4, 4, 4], 4), Some(1..5));
        assert_eq!(plan(&[100, 100, 100, 398], 4), None, "a merged run shrank a little: still the next tier");
    }
}
