//! Checkpoint docs (`_local/<replication id>`, one on each side) and where to resume. Pure.
//!
//! A doc holds the session that wrote it, the source seq it had reached, and a bounded history
//! of `{session_id, last_seq}`, newest first, the current session at the head. Resume rules
//! (CouchDB's protocol):
//! 1. Both docs have the same `session_id`: resume from the source doc's `source_last_seq`. The
//!    target is always written first, so if the two differ the source's is the older, safe one.
//! 2. Otherwise the newest session found in both histories: resume from its seq.
//! 3. Otherwise, or if a doc is missing: start from 0.
//!
//! History entries name their seq `last_seq` in PouchDB's docs and `recorded_seq` in CouchDB's
//! replicator's; entries are written with both, so either replicator can resume from the
//! other's checkpoint when the ids match, and read with either.

use super::peer::Seq;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many past sessions each checkpoint doc remembers.
pub const MAX_HISTORY: usize = 10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EntryFields", into = "EntryFields")]
pub struct HistoryEntry {
    pub session_id: String,
    pub last_seq: Seq,
}

/// A history entry as stored: the seq under both names (see the module doc).
#[derive(Serialize, Deserialize)]
struct EntryFields {
    session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seq: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recorded_seq: Option<Seq>,
}

impl TryFrom<EntryFields> for HistoryEntry {
    type Error = &'static str;
    fn try_from(f: EntryFields) -> Result<Self, Self::Error> {
        let last_seq = f.last_seq.or(f.recorded_seq).ok_or("a history entry without a seq")?;
        Ok(HistoryEntry { session_id: f.session_id, last_seq })
    }
}

impl From<HistoryEntry> for EntryFields {
    fn from(h: HistoryEntry) -> Self {
        EntryFields {
            session_id: h.session_id,
            recorded_seq: Some(h.last_seq.clone()),
            last_seq: Some(h.last_seq),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub session_id: String,
    pub source_last_seq: Seq,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

impl Checkpoint {
    /// Reads a checkpoint doc; `None` if it is not one (then it is treated as absent).
    pub fn from_doc(doc: &Value) -> Option<Checkpoint> {
        serde_json::from_value(doc.clone()).ok()
    }

    /// The doc to write: `_id`, the current `_rev` if the doc exists, and the fields.
    pub fn to_doc(&self, id: &str, rev: Option<&str>) -> Value {
        let mut doc = serde_json::json!({"_id": id});
        if let Some(rev) = rev {
            doc["_rev"] = Value::from(rev);
        }
        doc["session_id"] = Value::from(self.session_id.as_str());
        doc["source_last_seq"] = self.source_last_seq.0.clone();
        doc["history"] = serde_json::to_value(&self.history).expect("history serialises");
        doc["replicator"] = Value::from("settee");
        doc
    }

    /// The checkpoint `session_id` writes at `seq`, following what this side held before.
    pub fn next(previous: Option<&Checkpoint>, session_id: &str, seq: &Seq) -> Checkpoint {
        let mut history = vec![HistoryEntry { session_id: session_id.to_string(), last_seq: seq.clone() }];
        if let Some(p) = previous {
            // A foreign doc may lack its own session in its history; keep it.
            if !p.history.iter().any(|h| h.session_id == p.session_id) {
                history.push(HistoryEntry {
                    session_id: p.session_id.clone(),
                    last_seq: p.source_last_seq.clone(),
                });
            }
            history.extend(p.history.iter().cloned());
        }
        let mut seen = std::collections::HashSet::new();
        history.retain(|h| seen.insert(h.session_id.clone()));
        history.truncate(MAX_HISTORY);
        Checkpoint { session_id: session_id.to_string(), source_last_seq: seq.clone(), history }
    }
}

/// Where a replication resumes, given the checkpoint doc found on each side.
pub fn resume_from(source: Option<&Checkpoint>, target: Option<&Checkpoint>) -> Seq {
    let (Some(s), Some(t)) = (source, target) else { return Seq::zero() };
    if s.session_id == t.session_id {
        return s.source_last_seq.clone();
    }
    let in_target = |id: &str| id == t.session_id || t.history.iter().any(|h| h.session_id == id);
    s.history.iter().find(|h| in_target(&h.session_id)).map(|h| h.last_seq.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seq(n: u64) -> Seq {
        Seq(json!(n))
    }

    fn cp(session: &str, at: u64, history: &[(&str, u64)]) -> Checkpoint {
        Checkpoint {
            session_id: session.into(),
            source_last_seq: seq(at),
            history: history
                .iter()
                .map(|(s, n)| HistoryEntry { session_id: s.to_string(), last_seq: seq(*n) })
                .collect(),
        }
    }

    #[test]
    fn history_entries_are_written_with_both_seq_names_and_read_with_either() {
        let doc = Checkpoint::next(None, "s1", &seq(7)).to_doc("_local/x", None);
        assert_eq!(doc["history"], json!([{"session_id": "s1", "last_seq": 7, "recorded_seq": 7}]));
        let couch = json!({"session_id": "c", "source_last_seq": "5-g1", "history": [
            {"session_id": "c", "recorded_seq": "5-g1", "start_last_seq": 0, "docs_read": 5}]});
        let read = Checkpoint::from_doc(&couch).expect("CouchDB's doc reads");
        assert_eq!(read.history[0].last_seq, Seq(json!("5-g1")));
        assert_eq!(Checkpoint::from_doc(&doc).unwrap().history[0].last_seq, seq(7));
    }

    #[test]
    fn matching_sessions_resume_from_the_source_seq() {
        let s = cp("s2", 40, &[("s2", 40), ("s1", 10)]);
        let t = cp("s2", 50, &[("s2", 50), ("s1", 10)]);
        assert_eq!(resume_from(Some(&s), Some(&t)), seq(40));
    }

    #[test]
    fn mismatched_sessions_use_the_newest_common_history_entry() {
        let s = cp("s3", 90, &[("s3", 90), ("s2", 40), ("s1", 10)]);
        let t = cp("x", 70, &[("x", 70), ("s1", 10), ("s2", 40)]);
        assert_eq!(resume_from(Some(&s), Some(&t)), seq(40));
        let t = cp("x", 70, &[("x", 70), ("s1", 10)]);
        assert_eq!(resume_from(Some(&s), Some(&t)), seq(10));
    }

    #[test]
    fn no_common_history_or_a_missing_doc_starts_from_zero() {
        let s = cp("s1", 10, &[("s1", 10)]);
        let t = cp("t1", 10, &[("t1", 10)]);
        assert_eq!(resume_from(Some(&s), Some(&t)), Seq::zero());
        assert_eq!(resume_from(Some(&s), None), Seq::zero());
        assert_eq!(resume_from(None, Some(&t)), Seq::zero());
    }

    #[test]
    fn next_puts_the_session_first_without_duplicates_and_bounds_the_history() {
        let mut c = Checkpoint::next(None, "s0", &seq(0));
        for i in 1..=30u64 {
            let session = format!("s{i}");
            c = Checkpoint::next(Some(&c), &session, &seq(i));
            c = Checkpoint::next(Some(&c), &session, &seq(i * 100));
        }
        assert_eq!(c.history.len(), MAX_HISTORY);
        assert_eq!(c.history[0], HistoryEntry { session_id: "s30".into(), last_seq: seq(3000) });
        assert_eq!(c.history[1], HistoryEntry { session_id: "s29".into(), last_seq: seq(2900) });
        assert_eq!(c.source_last_seq, seq(3000));
    }

    #[test]
    fn docs_round_trip_and_opaque_seqs_stay_verbatim() {
        let c = Checkpoint::next(None, "s", &Seq(json!("13-g1AAAABteJzLYWBgYMpgTmHgz8tPSTV0MDQy")));
        let doc = c.to_doc("_local/abc", Some("0-3"));
        assert_eq!(doc["_rev"], "0-3");
        assert_eq!(Checkpoint::from_doc(&doc), Some(c));
    }

    #[test]
    fn couchdb_history_entries_with_recorded_seq_are_read() {
        let doc = json!({"session_id": "a", "source_last_seq": "5-x",
                         "history": [{"session_id": "a", "recorded_seq": "5-x", "start_time": "…"}]});
        let c = Checkpoint::from_doc(&doc).unwrap();
        assert_eq!(c.history[0].last_seq, Seq(json!("5-x")));
        assert_eq!(Checkpoint::from_doc(&json!({"unrelated": true})), None);
    }
}
