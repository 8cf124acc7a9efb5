//! `putAttachment`, `getAttachment` and `removeAttachment`: edits of one `_attachments` entry.
//!
//! Each reads the doc at `rev` (its attachments come back as stubs), changes one entry and
//! writes a normal edit naming `rev`, so a concurrent edit gives the usual 409 and the other
//! attachments carry over as stubs without their data being written again.

use super::attachments::{self, NewAttachment, FIELD};
use super::doc::{is_local, validate_id};
use super::Database;
use crate::error::{Error, Result};
use crate::kv::blobs::AttData;
use serde_json::{json, Map, Value};

impl Database {
    /// The doc at `rev` (or a bare `{_id, _rev}` when it has no body to read: the write then
    /// answers 409 as any edit of a missing rev does).
    async fn doc_for_edit(&self, id: &str, rev: Option<&str>) -> Result<Map<String, Value>> {
        validate_id(id)?;
        if is_local(id) {
            return Err(Error::bad_request("_local docs have no attachments"));
        }
        let bare = || {
            let mut m = Map::new();
            m.insert("_id".into(), id.into());
            if let Some(r) = rev {
                m.insert("_rev".into(), r.into());
            }
            m
        };
        let Some(rev) = rev else { return Ok(bare()) };
        match self.get(id, &json!({ "rev": rev })).await {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(Error::storage("get returned a non-object")),
            },
            Err(e) if e.status == 404 => Ok(bare()),
            Err(e) => Err(e),
        }
    }

    /// Adds or replaces attachment `name` on the doc at `rev` (creating the doc without a rev).
    pub async fn put_attachment(
        &self,
        id: &str,
        name: &str,
        rev: Option<&str>,
        data: AttData,
        content_type: &str,
    ) -> Result<String> {
        self.check_open()?;
        attachments::check_name(name)?;
        let mut doc = self.doc_for_edit(id, rev).await?;
        doc.remove("_deleted");
        let mut parsed = self.prepare(Value::Object(doc), true)?;
        // A Blob is hashed slice by slice: it never has to be in memory whole.
        let new = NewAttachment { name: name.to_string(), digest: data.digest().await?, data };
        let stub = attachments::stub(content_type, &new.digest, new.data.len(), Value::Null);
        let atts = parsed.body.entry(FIELD).or_insert_with(|| Value::Object(Map::new()));
        atts.as_object_mut()
            .ok_or_else(|| Error::storage("stored _attachments is not an object"))?
            .insert(name.into(), stub);
        parsed.new_attachments.push(new);
        self.single_parsed(parsed).await
    }

    /// Removes attachment `name` from the doc at `rev`; 404 when it has none by that name.
    pub async fn remove_attachment(&self, id: &str, name: &str, rev: &str) -> Result<String> {
        self.check_open()?;
        let mut doc = self.doc_for_edit(id, Some(rev)).await?;
        let atts = doc.get_mut(FIELD).and_then(Value::as_object_mut).ok_or_else(Error::missing)?;
        atts.remove(name).ok_or_else(Error::missing)?;
        if atts.is_empty() {
            doc.remove(FIELD);
        }
        self.put(Value::Object(doc), true).await
    }

    /// The content type and data of attachment `name` of the winner, or of `options.rev`.
    pub async fn get_attachment(&self, id: &str, name: &str, options: &Value) -> Result<(String, AttData)> {
        self.check_open()?;
        let rev = super::options::Opts::new(options)?.str("rev")?;
        let doc: Value = serde_json::from_str(&self.get(id, &json!({ "rev": rev })).await?)
            .map_err(|e| Error::corruption(format!("doc body for id {id:?}: {e}")))?;
        let entry = doc.get(FIELD).and_then(|a| a.get(name)).ok_or_else(Error::missing)?;
        let digest = entry.get("digest").and_then(Value::as_str).ok_or_else(Error::missing)?;
        let content_type =
            entry.get("content_type").and_then(Value::as_str).unwrap_or("application/octet-stream");
        let data = self.attachment_data(digest).await?.ok_or_else(Error::missing)?;
        Ok((content_type.to_string(), data))
    }
}
