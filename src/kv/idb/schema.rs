//! The IndexedDB schema, as a list of upgrade steps.
//!
//! The database's IndexedDB version is the number of steps applied. Opening runs the steps
//! from the stored version up to `VERSION` inside the `upgradeneeded` transaction, so a
//! database created by any earlier Settee opens under this one. A step is never edited once
//! released: changes go in a new step at the end. (The format of the records themselves is
//! versioned separately, in the manifest: see `kv::lsm::manifest`.)

use indexed_db_futures::database::Database;
use indexed_db_futures::Build;

/// Chunk records and the manifest, by string key.
pub const STORE: &str = "records";
/// Attachment data by digest (`kv::idb::blobs`).
pub const ATTACHMENTS: &str = "attachments";
/// Attachment data as `ArrayBuffer` parts, where the engine cannot store Blobs.
pub const ATTACHMENT_PARTS: &str = "attachment_parts";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Version 1: the `records` object store, out-of-line string keys, no indexes.
    CreateRecordStore,
    /// Version 2: the `attachments` object store, out-of-line digest keys. Databases of
    /// version 1 kept attachment bytes inside the LSM; they are still read from there.
    CreateAttachmentStore,
    /// Version 3: no structural change. From this version doc records may carry a head
    /// (`db::record`, second encoding), which a Settee of version 2 would read as corrupt; the
    /// version bump makes such a Settee refuse the database at open ("created by a newer
    /// Settee") instead of failing on single docs later. This version still reads both.
    DocRecordHeads,
    /// Version 4: the `attachment_parts` object store, for engines that refuse Blobs in
    /// IndexedDB (`kv::idb::blobs`). A Settee of version 3 refuses the database at open.
    CreateAttachmentPartsStore,
}

pub const STEPS: &[Step] = &[
    Step::CreateRecordStore,
    Step::CreateAttachmentStore,
    Step::DocRecordHeads,
    Step::CreateAttachmentPartsStore,
];

pub const VERSION: u32 = STEPS.len() as u32;

/// Applies the steps after `old_version` (0 for a new database).
pub fn upgrade(db: &Database, old_version: u32) -> indexed_db_futures::Result<()> {
    for step in STEPS.iter().skip(old_version as usize) {
        match step {
            Step::CreateRecordStore => {
                db.create_object_store(STORE).build()?;
            }
            Step::CreateAttachmentStore => {
                db.create_object_store(ATTACHMENTS).build()?;
            }
            Step::DocRecordHeads => {}
            Step::CreateAttachmentPartsStore => {
                db.create_object_store(ATTACHMENT_PARTS).build()?;
            }
        }
    }
    Ok(())
}
