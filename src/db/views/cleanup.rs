//! `viewCleanup()`: deletes the index data of every view no live design doc defines (old
//! signatures of edited views, deleted design docs, deleted Mango indexes, temporary views).
//!
//! The meta key goes first, in its own batch: it bumps the store version, so a concurrent
//! build of that view fails its pending write and starts over from seq 0. The rows and
//! back-index then go page by page; rows such a restarted build writes meanwhile can be lost,
//! so run it when no temporary view is being queried.

use super::design::js_views;
use super::mango::indexes_of;
use super::ViewMeta;
use crate::db::{keys, Database};
use crate::error::Result;
use crate::kv::{Range, WriteBatch};
use std::collections::HashSet;

const PAGE: usize = 2000;

impl Database {
    pub async fn view_cleanup(&self) -> Result<String> {
        self.check_open()?;
        let mut used = HashSet::new();
        for (id, body) in self.design_docs().await? {
            used.extend(js_views(&id, &body).iter().map(|v| v.id()));
            used.extend(indexes_of(&id, &body).iter().map(|i| i.id()));
        }
        let metas = self.kv.scan(Range::prefix(&[keys::VIEW_META]), false, None).await?;
        for (key, value) in metas {
            let vid = String::from_utf8_lossy(&key[1..]).to_string();
            if used.contains(&vid) || serde_json::from_slice::<ViewMeta>(&value).is_err() {
                continue;
            }
            let mut batch = WriteBatch::new();
            batch.delete(key.clone());
            self.kv.write(batch, None).await?;
            while self.delete_view_page(&vid, None).await? {}
        }
        Ok(r#"{"ok":true}"#.to_string())
    }

    /// Deletes up to a page of view `vid`'s index data, if the store is still at `expect`
    /// (any version: `None`); false once there is none. Rows go before back-index entries, so
    /// data left behind by an interrupted cleanup always has back-index entries: that is how
    /// a build finds it (`update_view`).
    pub(super) async fn delete_view_page(&self, vid: &str, expect: Option<u64>) -> Result<bool> {
        for prefix in [keys::view_rows(vid), keys::view_backs(vid)] {
            let page = self.kv.scan_shared(Range::prefix(&prefix), false, Some(PAGE)).await?;
            if page.is_empty() {
                continue;
            }
            let mut batch = WriteBatch::new();
            for (k, _) in &page {
                batch.delete(k.to_vec());
            }
            self.kv.write(batch, expect).await?;
            return Ok(true);
        }
        Ok(false)
    }
}
