//! Resolving many `(id, rev)` requests at once, for `get(…, {open_revs})`, `bulkGet` and
//! replication's `bulk_get_latest`: one `get_many` for the doc records, one for the bodies that
//! are not inline (the winner's body is in its record).
//!
//! A request names one rev (which, with `latest`, stands for the leaves descending from it) or
//! all leaves of the doc. Each answer is the rendered doc, or the rev that is missing (unknown,
//! unparsable, or its body was compacted away).

use super::read::{render_doc, Render};
use super::{keys, Database};
use crate::core::rev::Rev;
use crate::error::Result;
use std::collections::HashMap;

#[derive(Clone, Copy)]
pub(super) enum Revs<'a> {
    All,
    One(&'a str),
}

pub(super) enum Answer {
    Doc(String),
    Missing(String),
}

impl Database {
    /// Per request, in order: `None` when the doc does not exist, else its answers.
    pub(super) async fn resolve_revs(
        &self,
        requests: &[(&str, Revs<'_>)],
        latest: bool,
        render: Render,
    ) -> Result<Vec<Option<Vec<Answer>>>> {
        let mut ids: Vec<&str> = requests.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let records: HashMap<&str, _> = ids.iter().copied().zip(self.records(&ids).await?).collect();

        // (request, requested rev text, leaf to render if found)
        let mut picks: Vec<(usize, String, Option<Rev>)> = Vec::new();
        let mut body_keys: Vec<Vec<u8>> = Vec::new();
        let mut body_slot: HashMap<(&str, Rev), usize> = HashMap::new();
        for (i, (id, revs)) in requests.iter().enumerate() {
            let Some(record) = records[id].as_ref() else { continue };
            let tree = &record.meta.tree;
            let found: Vec<(String, Option<Rev>)> = match revs {
                Revs::All => tree.leaves().into_iter().map(|l| (l.rev.to_string(), Some(l.rev))).collect(),
                Revs::One(text) => match Rev::parse(text) {
                    Ok(rev) if latest => {
                        let leaves = tree.latest(&rev);
                        if leaves.is_empty() {
                            vec![(text.to_string(), None)]
                        } else {
                            leaves.into_iter().map(|l| (l.to_string(), Some(l))).collect()
                        }
                    }
                    Ok(rev) if tree.contains(&rev) => vec![(text.to_string(), Some(rev))],
                    _ => vec![(text.to_string(), None)],
                },
            };
            for (text, rev) in found {
                if let Some(rev) = &rev {
                    let inline = record.winner_body.is_some() && tree.winner().is_some_and(|w| &w.rev == rev);
                    if !inline && !body_slot.contains_key(&(*id, rev.clone())) {
                        body_slot.insert((id, rev.clone()), body_keys.len());
                        body_keys.push(keys::body(id, &rev.to_string()));
                    }
                }
                picks.push((i, text, rev));
            }
        }
        let bodies = if body_keys.is_empty() { Vec::new() } else { self.kv.get_many(&body_keys).await? };

        let mut out: Vec<Option<Vec<Answer>>> =
            requests.iter().map(|(id, _)| records[id].as_ref().map(|_| Vec::new())).collect();
        for (i, text, rev) in picks {
            let id = requests[i].0;
            let record = records[id].as_ref().expect("picked from a record");
            let body = rev.as_ref().and_then(|rev| match body_slot.get(&(id, rev.clone())) {
                Some(&slot) => bodies[slot].as_deref(),
                None => record.winner_body.as_deref(),
            });
            let answer = match (rev, body) {
                (Some(rev), Some(body)) => Answer::Doc(render_doc(id, record, &rev, body, render)),
                (Some(rev), None) => Answer::Missing(rev.to_string()),
                (None, _) => Answer::Missing(text),
            };
            out[i].as_mut().expect("picked from a record").push(answer);
        }
        Ok(out)
    }
}
