//! When to compact: a size-tiered policy that behaves like a binary counter.
//!
//! Runs are listed newest first. The invariant we restore is that every run is at least
//! `ratio` times larger than everything newer than it. A write prepends a small run; if the
//! next older run is smaller than `ratio` × the newer ones together, they merge, and the
//! merged run may absorb the next one too, like a carry. With equal-sized batches the run sizes
//! follow the binary digits of the number of batches: O(log n) runs, and each entry is
//! rewritten O(log n) times over its life.

use std::ops::Range;

/// The first span of runs (indices into the newest-first list) that should merge, if any.
pub fn plan(sizes: &[u64], ratio: u64) -> Option<Range<usize>> {
    let ratio = ratio.max(2);
    for start in 0..sizes.len() {
        let mut acc = sizes[start].max(1);
        let mut end = start + 1;
        while end < sizes.len() && sizes[end] < acc.saturating_mul(ratio) {
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

    /// Simulates `n` equal writes with the policy applied after each.
    fn simulate(n: usize) -> (Vec<u64>, u64) {
        let mut runs: Vec<u64> = Vec::new();
        let mut rewritten = 0;
        for _ in 0..n {
            runs.insert(0, 1);
            while let Some(span) = plan(&runs, 2) {
                let merged: u64 = runs[span.clone()].iter().sum();
                rewritten += merged;
                runs.splice(span, [merged]);
            }
        }
        (runs, rewritten)
    }

    #[test]
    fn equal_writes_keep_a_logarithmic_number_of_runs() {
        for n in [1, 2, 3, 7, 8, 100, 1000] {
            let (runs, _) = simulate(n);
            assert!(runs.len() as u32 <= usize::BITS - n.leading_zeros(), "{n} writes: {runs:?}");
            assert_eq!(runs.iter().sum::<u64>(), n as u64);
            assert!(runs.windows(2).all(|w| w[1] >= 2 * w[0]), "{runs:?}");
        }
    }

    #[test]
    fn write_amplification_is_logarithmic() {
        let (_, rewritten) = simulate(1024);
        assert!(rewritten <= 1024 * 11, "rewrote {rewritten}");
    }

    #[test]
    fn a_small_old_run_behind_a_large_one_is_merged() {
        assert_eq!(plan(&[1, 100, 3], 2), Some(1..3));
        assert_eq!(plan(&[1, 4, 16], 2), None);
    }
}
