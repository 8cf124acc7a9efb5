//! The schedules the convergence property runs, and their proptest strategies. Replica and
//! doc indices are generated in 0..5 and 0..8 and reduced modulo the schedule's counts, so that
//! shrinking a count keeps the steps valid.

use crate::helpers::Fault;
use proptest::prelude::*;

/// A write on one replica. Replica and doc indices are reduced modulo the schedule's counts.
#[derive(Clone, Debug)]
pub enum Write {
    /// An edit (or a deletion) of one leaf: `leaf` 0 is the winner, others pick a losing
    /// leaf in winner order; creates the doc when it has none. `v` is the body, from a small
    /// set so that two replicas sometimes make the very same edit (the same rev).
    /// `att`: the edit carries an attachment with one of a few contents (so digests repeat
    /// across docs and replicas); without, the new rev has none.
    Edit { r: usize, id: usize, leaf: usize, delete: bool, v: u8, att: Option<u8> },
    /// An edit naming a rev that is not a leaf: must be a 409 that changes nothing.
    Stale { r: usize, id: usize },
    /// A `new_edits: false` write of a new rev whose parent is the leaf's ancestor `depth` levels
    /// up (0: the leaf itself), as a replicated conflict would arrive.
    Branch { r: usize, id: usize, leaf: usize, depth: usize, seed: u16, delete: bool },
    /// The winner written again with `new_edits: false`: a replay, which must change nothing.
    Replay { r: usize, id: usize },
}

#[derive(Clone, Debug)]
pub struct Inject {
    /// Which call fails: the `at`-th of all calls, or of `method`'s only.
    pub at: usize,
    pub method: Option<&'static str>,
    pub fault: Fault,
    pub on_source: bool,
}

#[derive(Clone, Debug)]
pub struct Rep {
    pub from: usize,
    pub to: usize,
    pub batch_size: usize,
    pub fault: Option<Inject>,
    pub filter: RepFilter,
    /// Cancels the run after this many batches (from the batch's `Change` event).
    pub cancel_after: Option<u8>,
}

/// A filtered replication has checkpoints of its own; the final mesh is unfiltered.
#[derive(Clone, Debug)]
pub enum RepFilter {
    None,
    /// Doc indices, reduced modulo the schedule's id count.
    DocIds(Vec<usize>),
    /// Docs whose winner has `"v": k`.
    Selector(u8),
}

#[derive(Clone, Debug)]
pub enum Task {
    Write(Write),
    Compact(usize),
    /// Makes the `n`-th commit from now on an LSM replica's records fail, applying nothing (a
    /// tab dying mid-transaction); whichever write or merge it hits fails, or retries.
    StoreFault {
        r: usize,
        n: u64,
    },
    Replicate(Rep),
}

#[derive(Clone, Debug)]
pub enum Step {
    One(Task),
    /// Two tasks joined on the single-threaded executor; `second` starts after `delay` yields.
    Together {
        first: Task,
        second: Task,
        delay: u8,
    },
    /// A live, retrying replication following its source while `during` runs (after `delay`
    /// yields); cancelled when `during` ends.
    Live {
        rep: Rep,
        during: Task,
        delay: u8,
    },
}

#[derive(Clone, Debug)]
pub struct Schedule {
    pub replicas: usize,
    /// Per replica: on the LSM store (tiny chunks, so it merges often) instead of the memory one.
    pub lsm: Vec<bool>,
    /// Per LSM replica: a second handle on its records, as a second tab would open.
    pub two_tabs: Vec<bool>,
    /// Per replica: its store suspends before every call (`YieldingKv`).
    pub yielding: Vec<bool>,
    pub ids: usize,
    pub steps: Vec<Step>,
}

pub fn write() -> impl Strategy<Value = Write> {
    let leaf = prop_oneof![4 => Just(0usize), 1 => 1usize..4];
    prop_oneof![
        6 => (0..5usize, 0..8usize, leaf.clone(), prop::bool::weighted(0.2), 0..3u8, prop::option::weighted(0.4, 0..3u8))
            .prop_map(|(r, id, leaf, delete, v, att)| Write::Edit { r, id, leaf, delete, v, att }),
        1 => (0..5usize, 0..8usize).prop_map(|(r, id)| Write::Stale { r, id }),
        3 => (0..5usize, 0..8usize, leaf, 0..4usize, any::<u16>(), prop::bool::weighted(0.25)).prop_map(
            |(r, id, leaf, depth, seed, delete)| Write::Branch { r, id, leaf, depth, seed, delete }
        ),
        1 => (0..5usize, 0..8usize).prop_map(|(r, id)| Write::Replay { r, id }),
    ]
}

pub fn rep() -> impl Strategy<Value = Rep> {
    let batch_size = prop_oneof![Just(1usize), Just(2), Just(3), Just(5), Just(100)];
    let method = prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(vec!["changes", "revs_diff", "bulk_get", "bulk_docs", "get_local", "put_local"])
            .prop_map(Some),
    ];
    let fault = (0..8usize, method, prop_oneof![Just(Fault::Before), Just(Fault::After)], any::<bool>())
        .prop_map(|(at, method, fault, on_source)| Inject { at, method, fault, on_source });
    let filter = prop_oneof![
        6 => Just(RepFilter::None),
        1 => prop::collection::vec(0..8usize, 1..4).prop_map(RepFilter::DocIds),
        1 => (0..3u8).prop_map(RepFilter::Selector),
    ];
    let cancel_after = prop::option::weighted(0.1, 1..3u8);
    (0..5usize, 0..5usize, batch_size, prop::option::weighted(0.25, fault), filter, cancel_after).prop_map(
        |(from, to, batch_size, fault, filter, cancel_after)| Rep {
            from,
            to,
            batch_size,
            fault,
            filter,
            cancel_after,
        },
    )
}

pub fn task() -> impl Strategy<Value = Task> {
    prop_oneof![
        5 => write().prop_map(Task::Write),
        1 => (0..5usize).prop_map(Task::Compact),
        1 => (0..5usize, 1..4u64).prop_map(|(r, n)| Task::StoreFault { r, n }),
        4 => rep().prop_map(Task::Replicate),
    ]
}

pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => task().prop_map(Step::One),
        1 => (task(), task(), 0..12u8)
            .prop_map(|(first, second, delay)| Step::Together { first, second, delay }),
        1 => (rep(), task(), 0..12u8).prop_map(|(rep, during, delay)| Step::Live { rep, during, delay }),
    ]
}

pub fn schedule() -> impl Strategy<Value = Schedule> {
    let flags = |p| prop::collection::vec(prop::bool::weighted(p), 5);
    (3..=5usize, flags(0.3), flags(0.5), flags(0.5), 4..=8usize, prop::collection::vec(step(), 10..=60))
        .prop_map(|(replicas, lsm, two_tabs, yielding, ids, steps)| Schedule {
            replicas,
            lsm,
            two_tabs,
            yielding,
            ids,
            steps,
        })
}
