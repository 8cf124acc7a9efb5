//! The attachment suite in headless Chromium, over the LSM tree on IndexedDB: once with the
//! data as Blobs, once as the `ArrayBuffer` parts used where an engine refuses Blobs.
#![cfg(target_arch = "wasm32")]

mod common {
    #[macro_use]
    #[path = "../common/attachments_suite.rs"]
    pub mod attachments_suite;
}

use settee::db::{Database, DatabaseOptions};
use settee::kv::idb::IdbRecordStore;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::KvStore;
use std::cell::Cell;
use std::rc::Rc;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// A fresh IndexedDB-backed database: tests share one origin, so every one gets its own name.
async fn make() -> (Database, Rc<dyn KvStore>) {
    make_with(false).await
}

/// The same, storing attachment data as `ArrayBuffer` parts.
async fn make_parts() -> (Database, Rc<dyn KvStore>) {
    make_with(true).await
}

async fn make_with(parts: bool) -> (Database, Rc<dyn KvStore>) {
    let n = NEXT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let name = format!("attachments-{}-{n}", js_sys::Date::now());
    let records = IdbRecordStore::open(&name).await.expect("IndexedDB opens");
    if parts {
        records.store_attachments_as_parts();
    }
    let kv: Rc<dyn KvStore> =
        Rc::new(Lsm::open_with(records, LsmOptions::default()).await.expect("the LSM tree opens"));
    let options =
        DatabaseOptions { adapter: "idb", revs_limit: 1000, new_id: Box::new(|| "generated".to_string()) };
    (Database::new(&name, kv.clone(), options), kv)
}

settee_attachments_suite!(web, make());
settee_attachments_suite!(web_parts, make_parts());

/// 2.5 MiB: three parts of `kv::idb::blobs::PART`, the last one short.
fn big_data() -> Vec<u8> {
    (0..(5u32 << 19)).map(|i| (i % 251) as u8).collect()
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn data_stored_as_parts_reads_back_whole_from_bytes_and_from_a_blob_and_deletes_with_its_parts() {
    use settee::kv::blobs::{digest_of, AttData};
    use settee::kv::records::RecordStore;
    let name = format!("attachment-parts-{}", js_sys::Date::now());
    let records = IdbRecordStore::open(&name).await.expect("IndexedDB opens");
    records.store_attachments_as_parts();
    let blobs = records.blobs();
    let data = big_data();
    let digest = digest_of(&data);

    blobs.put(&digest, &AttData::bytes(data.clone())).await.expect("put of bytes");
    assert_eq!(blobs.contains(std::slice::from_ref(&digest)).await.unwrap(), vec![true]);
    let read = blobs.get(&digest).await.unwrap().expect("stored");
    assert_eq!(read.len(), data.len() as u64);
    assert_eq!(read.to_vec().await.unwrap(), data);
    assert_eq!(read.digest().await.unwrap(), digest);

    blobs.delete(std::slice::from_ref(&digest)).await.unwrap();
    assert!(blobs.get(&digest).await.unwrap().is_none());
    assert_eq!(blobs.contains(std::slice::from_ref(&digest)).await.unwrap(), vec![false]);

    // From a Blob (as a file or a fetch gives it): sliced on the way in, same bytes out.
    let blob = settee::kv::blobs::js::blob_of_bytes(&data, "application/octet-stream").unwrap();
    blobs.put(&digest, &AttData::Blob(blob)).await.expect("put of a Blob");
    let read = blobs.get(&digest).await.unwrap().expect("stored again");
    assert_eq!(read.to_vec().await.unwrap(), data);
    assert_eq!(
        blobs.list().await.unwrap().iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        vec![digest.as_str()]
    );
    records.destroy().await.unwrap();
}
