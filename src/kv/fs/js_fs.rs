//! `JsFs`: `FileSystem` over a host object that the Node entry (`js/node-fs.ts`) builds on
//! `node:fs/promises`. Each call crosses to JS once; `read_many`/`write_many` cross once for
//! many files so Node's thread pool works on them in parallel. A host error with `code`
//! `ENOSPC` is `507 quota_exceeded`; any other is a storage error naming the call and path.

use super::host::FileSystem;
use crate::error::{Error, Result};
use crate::kv::blobs::AttData;
use async_trait::async_trait;
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub struct JsFs {
    host: JsValue,
}

fn host_err(what: &str, path: &str, e: &JsValue) -> Error {
    let code = Reflect::get(e, &"code".into()).ok().and_then(|c| c.as_string()).unwrap_or_default();
    let message = Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    if code == "ENOSPC" {
        return Error::new(507, "quota_exceeded", format!("disk full: {what} {path}: {message}"));
    }
    Error::storage(format!("{what} {path}: {message}"))
}

fn bytes_or_none(v: &JsValue) -> Option<Vec<u8>> {
    if v.is_null() || v.is_undefined() {
        None
    } else {
        Some(Uint8Array::new(v).to_vec())
    }
}

impl JsFs {
    pub fn new(host: JsValue) -> JsFs {
        JsFs { host }
    }

    fn method(&self, name: &str) -> Result<Function> {
        Reflect::get(&self.host, &name.into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| Error::storage(format!("the file system host has no {name}()")))
    }

    fn call_sync(&self, name: &str, args: &[JsValue], path: &str) -> Result<JsValue> {
        let f = self.method(name)?;
        f.apply(&self.host, &args.iter().collect::<Array>()).map_err(|e| host_err(name, path, &e))
    }

    async fn call(&self, name: &str, args: &[JsValue], path: &str) -> Result<JsValue> {
        let answer = self.call_sync(name, args, path)?;
        JsFuture::from(Promise::resolve(&answer)).await.map_err(|e| host_err(name, path, &e))
    }
}

#[async_trait(?Send)]
impl FileSystem for JsFs {
    fn resolve(&self, path: &str) -> String {
        self.call_sync("resolve", &[path.into()], path)
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or(path.into())
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(bytes_or_none(&self.call("read", &[path.into()], path).await?))
    }

    async fn read_many(&self, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let list: Array = paths.iter().map(|p| JsValue::from_str(p)).collect();
        let first = paths.first().map_or("", String::as_str);
        let answer: Array = self.call("readMany", &[list.into()], first).await?.unchecked_into();
        Ok(answer.iter().map(|v| bytes_or_none(&v)).collect())
    }

    async fn read_parts(&self, parts: &[(String, u64, usize)]) -> Result<Vec<Option<Vec<u8>>>> {
        let paths: Array = parts.iter().map(|(p, _, _)| JsValue::from_str(p)).collect();
        let starts: Array = parts.iter().map(|(_, s, _)| JsValue::from_f64(*s as f64)).collect();
        let lens: Array = parts.iter().map(|(_, _, l)| JsValue::from_f64(*l as f64)).collect();
        let first = parts.first().map_or("", |(p, _, _)| p.as_str());
        let answer: Array = self
            .call("readParts", &[paths.into(), starts.into(), lens.into()], first)
            .await?
            .unchecked_into();
        Ok(answer.iter().map(|v| bytes_or_none(&v)).collect())
    }

    async fn append(&self, path: &str, data: &[u8]) -> Result<()> {
        self.call("append", &[path.into(), Uint8Array::from(data).into()], path).await.map(drop)
    }

    fn release(&self, path: &str) {
        let _ = self.call_sync("release", &[path.into()], path);
    }

    async fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        self.call("write", &[path.into(), Uint8Array::from(data).into()], path).await.map(drop)
    }

    async fn write_many(&self, files: &[(String, &[u8])]) -> Result<()> {
        let paths: Array = files.iter().map(|(p, _)| JsValue::from_str(p)).collect();
        let datas: Array = files.iter().map(|(_, d)| JsValue::from(Uint8Array::from(*d))).collect();
        let first = files.first().map_or("", |(p, _)| p.as_str());
        self.call("writeMany", &[paths.into(), datas.into()], first).await.map(drop)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.call("rename", &[from.into(), to.into()], from).await.map(drop)
    }

    async fn sync_dir(&self, dir: &str) -> Result<()> {
        self.call("syncDir", &[dir.into()], dir).await.map(drop)
    }

    async fn remove(&self, path: &str) -> Result<()> {
        self.call("remove", &[path.into()], path).await.map(drop)
    }

    fn remove_now(&self, path: &str) {
        let _ = self.call_sync("removeNow", &[path.into()], path);
    }

    async fn list(&self, dir: &str) -> Result<Vec<(String, f64)>> {
        let answer: Array = self.call("list", &[dir.into()], dir).await?.unchecked_into();
        Ok(answer
            .iter()
            .filter_map(|pair| {
                let pair: Array = pair.unchecked_into();
                Some((pair.get(0).as_string()?, pair.get(1).as_f64().unwrap_or(0.0)))
            })
            .collect())
    }

    async fn mkdirs(&self, dir: &str) -> Result<()> {
        self.call("mkdirs", &[dir.into()], dir).await.map(drop)
    }

    async fn remove_all(&self, dir: &str) -> Result<()> {
        self.call("removeAll", &[dir.into()], dir).await.map(drop)
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<bool> {
        let answer = self.call("createNew", &[path.into(), Uint8Array::from(data).into()], path).await?;
        Ok(answer.as_bool().unwrap_or(false))
    }

    fn pid(&self) -> u32 {
        self.call_sync("pid", &[], "").ok().and_then(|v| v.as_f64()).unwrap_or(0.0) as u32
    }

    fn pid_alive(&self, pid: u32) -> bool {
        self.call_sync("pidAlive", &[pid.into()], "").ok().and_then(|v| v.as_bool()).unwrap_or(true)
    }

    async fn write_att(&self, path: &str, data: &AttData) -> Result<()> {
        let value: JsValue = match data {
            AttData::Bytes(b) => Uint8Array::from(b.as_slice()).into(),
            AttData::Blob(b) => b.clone().into(),
        };
        self.call("writeAttachment", &[path.into(), value], path).await.map(drop)
    }

    async fn read_att(&self, path: &str) -> Result<Option<AttData>> {
        let answer = self.call("openAttachment", &[path.into()], path).await?;
        if answer.is_null() || answer.is_undefined() {
            return Ok(None);
        }
        match answer.dyn_into::<web_sys::Blob>() {
            Ok(blob) => Ok(Some(AttData::Blob(blob))),
            Err(v) => Ok(bytes_or_none(&v).map(AttData::bytes)),
        }
    }
}
