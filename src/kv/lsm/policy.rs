//! When to compact: a small-run tier, then size-tiered merges over adjacent runs, with a
//! binary-counter safety net.
//!
//! Runs are listed newest first and only adjacent runs may merge (a merge must not reorder
//! versions of a key).
//!
//! *Small runs first.* Every write commits one run, and each merge is one more readwrite
//! transaction (plus a lock and the chunk reads), so merging tiny runs in fours made a stream of
//! single-doc writes pay a merge every ~1.3 writes. The newest runs smaller than `SMALL_BYTES`
//! each (the *small tier*) therefore merge only once there are `small_runs` of them or they
//! total `SMALL_BYTES`, all at once. The output usually stays small and counts as one run of
//! the next round, until the tier's total reaches `SMALL_BYTES` and the output leaves it. So
//! 1,000 single-doc writes merge about 1,000 / (`small_runs` − 1) times instead of ~330, each
//! merge rewrites at most ~`2 × SMALL_BYTES`, and reads see at most `small_runs − 1` small runs
//! on top of the tiers below. `small_runs <= fanout` turns the small tier off.
//!
//! *Tiers.* Below the small tier, walking from the newest run, a *bucket* is a stretch of
//! adjacent runs each smaller than ¾ × `fanout` × the smallest run in the stretch so far. A
//! bucket holding `fanout` runs merges into one run, which is about `fanout` times larger and so
//! belongs to the next tier. With batches of similar size that gives fewer than `fanout` runs
//! per tier, `log_fanout(n)` tiers, and each entry rewritten about `log_fanout(n)` times: cheap
//! for the common case of many similar batches (10 batches of 1,000 docs merge twice, 8
//! batches' worth).
//!
//! Sizes that alternate between tiers (a huge batch, a tiny one, a huge one…) can keep every
//! bucket short. Past `4 × fanout` runs below the small tier the policy therefore falls back to
//! a binary counter: fold newer runs into the next older one while it is less than twice their
//! total. That keeps the run count logarithmic whatever the sizes.

use std::ops::Range;

/// A run smaller than this (bytes) belongs to the small tier while it is among the newest runs;
/// the small tier also merges once it totals this much.
pub const SMALL_BYTES: u64 = 64 << 10;

/// The first span of runs (indices into the newest-first list) that should merge, if any.
/// `small_runs`: how many small runs the newest tier gathers before they merge (see the module
/// doc); `small_runs <= fanout` turns that tier off.
pub fn plan(sizes: &[u64], fanout: usize, small_runs: usize) -> Option<Range<usize>> {
    let fanout = fanout.max(2);
    let small = if small_runs > fanout { sizes.iter().take_while(|&&s| s < SMALL_BYTES).count() } else { 0 };
    if small >= 2 && (small >= small_runs || sizes[..small].iter().sum::<u64>() >= SMALL_BYTES) {
        return Some(0..small);
    }
    let span = tiers(&sizes[small..], fanout)?;
    Some(span.start + small..span.end + small)
}

/// The size-tiered rule and its safety net, over the runs below the small tier.
fn tiers(sizes: &[u64], fanout: usize) -> Option<Range<usize>> {
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
    fn simulate(writes: impl IntoIterator<Item = u64>, fanout: usize, small_runs: usize) -> (Vec<u64>, u64) {
        let mut runs: Vec<u64> = Vec::new();
        let mut rewritten = 0;
        for w in writes {
            runs.insert(0, w);
            while let Some(span) = plan(&runs, fanout, small_runs) {
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
                let (runs, rewritten) = simulate(std::iter::repeat_n(1, n as usize), fanout, 0);
                assert_eq!(runs.iter().sum::<u64>(), n);
                let tiers = log(n + 1, fanout as u64).max(1) as usize;
                assert!(runs.len() <= (fanout - 1) * tiers, "fanout {fanout}, {n} writes: {runs:?}");
                assert!(rewritten <= n * log(n, fanout as u64) as u64, "fanout {fanout}, {n}: {rewritten}");
            }
        }
    }

    #[test]
    fn ten_batches_merge_twice_with_fanout_four() {
        assert_eq!(simulate(std::iter::repeat_n(1, 10), 4, 0), (vec![1, 1, 4, 4], 8));
    }

    #[test]
    fn alternating_huge_and_tiny_writes_still_keep_few_runs() {
        let writes = (0..500).map(|i| if i % 2 == 0 { 1 } else { 1_000_000 });
        let (runs, _) = simulate(writes, 4, 16);
        assert!(runs.len() <= 4 * 4, "{runs:?}");
    }

    #[test]
    fn a_bucket_ends_where_sizes_jump_by_the_fanout() {
        assert_eq!(plan(&[1, 1, 1, 4, 4], 4, 0), None);
        assert_eq!(plan(&[1, 1, 1, 1, 4], 4, 0), Some(0..4));
        assert_eq!(plan(&[1, 4, 4, 4, 4], 4, 0), Some(1..5));
        assert_eq!(
            plan(&[100, 100, 100, 398], 4, 0),
            None,
            "a merged run shrank a little: still the next tier"
        );
    }

    /// The same rules with the small tier on hold for runs of `SMALL_BYTES` and more: batches
    /// that big behave exactly as before.
    #[test]
    fn big_batches_ignore_the_small_tier() {
        let big = SMALL_BYTES;
        let with = simulate(std::iter::repeat_n(big, 1000), 4, 16);
        let without = simulate(std::iter::repeat_n(big, 1000), 4, 0);
        assert_eq!(with, without);
        assert_eq!(
            simulate(std::iter::repeat_n(big, 10), 4, 16),
            (vec![big, big, 4 * big, 4 * big], 8 * big)
        );
    }

    /// Why the small tier exists: 1,000 single-doc writes (~400 bytes each) used to merge ~330
    /// times, one readwrite transaction each; now ~70, and never more than 15 small runs wait.
    #[test]
    fn tiny_writes_gather_in_sixteens_and_leave_the_tier_at_its_byte_budget() {
        let mut runs: Vec<u64> = Vec::new();
        let mut merges = 0;
        for _ in 0..1000 {
            runs.insert(0, 400);
            while let Some(span) = plan(&runs, 4, 16) {
                merges += 1;
                let merged: u64 = runs[span.clone()].iter().sum();
                runs.splice(span, [merged]);
            }
            let small = runs.iter().take_while(|&&s| s < SMALL_BYTES).count();
            assert!(small < 16, "{runs:?}");
            assert!(runs.len() - small <= 3 * 2, "the tiers below stay short: {runs:?}");
        }
        assert_eq!(runs.iter().sum::<u64>(), 400_000);
        assert!(merges <= 1000 / 15 + 5, "{merges} merges");
        let (_, old_merges) = (0..1000).fold((Vec::<u64>::new(), 0), |(mut runs, mut n), _| {
            runs.insert(0, 400);
            while let Some(span) = plan(&runs, 4, 0) {
                n += 1;
                let merged: u64 = runs[span.clone()].iter().sum();
                runs.splice(span, [merged]);
            }
            (runs, n)
        });
        assert!(old_merges > 300, "{old_merges}");
    }

    #[test]
    fn the_small_tier_merges_at_its_count_or_its_byte_budget() {
        assert_eq!(plan(&[1; 15], 4, 16), None, "15 small runs wait");
        assert_eq!(plan(&[1; 16], 4, 16), Some(0..16));
        assert_eq!(plan(&[SMALL_BYTES / 2, SMALL_BYTES / 2], 4, 16), Some(0..2), "the byte budget");
        assert_eq!(plan(&[1, 1, 1, 1, SMALL_BYTES], 4, 16), None, "small runs do not merge in fours");
        assert_eq!(plan(&[1, 1, 1, 1, SMALL_BYTES], 4, 4), Some(0..4), "small_runs <= fanout: the old rule");
        let below = [1, SMALL_BYTES, SMALL_BYTES, SMALL_BYTES, SMALL_BYTES];
        assert_eq!(plan(&below, 4, 16), Some(1..5), "the tiers below the small tier still merge");
    }
}
