//! Convergence at scale: 3–5 replicas in a full mesh run a random schedule of edits (some
//! with attachments), stale edits, deletions, `new_edits: false` branches, replays,
//! compactions, injected commit failures, one-shot replications (small batches, filters,
//! cancellations, peer faults) and live ones that follow their source while another task
//! runs, two tasks at a time interleaved; then every pair is replicated until quiescent, and
//! every replica must hold the same rev trees (and attachment data), with CouchDB's winners;
//! one more round must move nothing.
//!
//! - Cases: `CONVERGENCE_CASES` (default `DEFAULT_CASES`, the CI run); `scripts/convergence.sh`
//!   is the long run. A failing case is shrunk by proptest and its seed saved in
//!   `convergence_props.proptest-regressions`, which is replayed first on every run.
//! - Replicas are memory databases or LSM ones over `MemoryRecords` (tiny chunks, so they
//!   merge often), some with a second handle on the same records, as a second tab: calls
//!   alternate between the handles, and every handle must end in the same state.
//! - Interleaving: memory stores never suspend, so `join` alone would run two tasks one after
//!   the other. Replications go through `Yielding` peers and some replicas through a
//!   `YieldingKv` store, both of which suspend before every call, so two joined tasks alternate
//!   at every peer and store call; a joined task first waits a generated number of yields.
//! - A step's own checks are exact only when it runs alone: a joined replication may add
//!   leaves meanwhile, so a joined edit may then get a 409, and a no-op is not visible as one.
//! - `revs_limit` stays at 1000 (schedules never stem). With stemming, replicas legitimately
//!   disagree: a rev one replica stemmed comes back from a replica that still has it as a
//!   leaf, and becomes a spurious conflict there only, as in CouchDB and PouchDB.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/replicate_helpers.rs"]
mod helpers;
#[path = "convergence/mesh.rs"]
mod mesh;
#[path = "convergence/oracle.rs"]
mod oracle;
#[path = "convergence/schedule.rs"]
mod schedule;
#[path = "convergence/yielding_kv.rs"]
mod yielding_kv;

use futures::executor::block_on;
use mesh::{replica, Mesh};
use oracle::{check_winners, state};
use proptest::prelude::*;
use schedule::{schedule, Schedule};

/// Cases when `CONVERGENCE_CASES` is unset: keeps the debug run of this file well under a
/// minute on a shared 2-core machine.
const DEFAULT_CASES: u32 = 400;

async fn run_schedule(s: &Schedule) {
    let mut replicas = Vec::new();
    for r in 0..s.replicas {
        replicas.push(replica(&format!("r{r}"), s.lsm[r], s.two_tabs[r], s.yielding[r]).await);
    }
    let mesh = Mesh { replicas, ids: s.ids, lives: Default::default() };
    for step in &s.steps {
        mesh.run(step).await;
    }
    // Commit failures armed but not struck yet would fail the mesh rounds below.
    for records in mesh.replicas.iter().filter_map(|r| r.records.as_ref()) {
        records.fail_nth_commit(0);
    }
    // One round already carries every rev everywhere (the last source has heard from all);
    // the second makes quiescence explicit.
    mesh.full_round().await;
    mesh.full_round().await;
    let first = state(&mesh.replicas[0].tabs[0]).await;
    for (r, replica) in mesh.replicas.iter().enumerate() {
        for (t, db) in replica.tabs.iter().enumerate() {
            assert_eq!(state(db).await, first, "replica r{r} (tab {t}) differs from r0");
            check_winners(db, &format!("r{r} (tab {t})")).await;
        }
    }
    for (from, to, r) in mesh.full_round().await {
        assert_eq!((r.docs_read, r.docs_written), (0, 0), "a quiescent mesh moves nothing: r{from} → r{to}");
    }
}

fn cases() -> u32 {
    std::env::var("CONVERGENCE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn a_full_mesh_converges_on_identical_trees_with_couchdb_winners_then_moves_nothing(s in schedule()) {
        block_on(run_schedule(&s));
    }
}
