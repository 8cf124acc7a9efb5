//! Reading record files, packed (`packed`) or plain: whole records, and parts of them. The
//! layout of every file this process wrote or read is kept (a few hundred bytes per file), so a
//! part costs one positioned read of the segments that hold it; a file not seen yet costs one
//! more read, of its head.

use super::packed::{self, Head, Layout, HEAD_GUESS};
use super::{names, Shared};
use crate::error::Result;
use std::rc::Rc;

impl Shared {
    fn file(&self, key: &str) -> String {
        self.path(&names::encode(key))
    }

    /// The records of `keys` from their files, whole.
    pub(super) async fn read_files(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
        let paths: Vec<String> = keys.iter().map(|k| self.file(k)).collect();
        let mut out = Vec::with_capacity(keys.len());
        for (path, got) in paths.iter().zip(self.fs.read_many(&paths).await?) {
            out.push(got.map(|b| packed::unpack(path, b)).transpose()?);
        }
        Ok(out)
    }

    /// Parts `(key, start, len)` of records in files (see `RecordStore::get_parts`).
    pub(super) async fn read_file_parts(&self, parts: &[(&str, u64, usize)]) -> Result<Vec<Option<Vec<u8>>>> {
        let layouts = self.layouts_of(parts.iter().map(|p| p.0)).await?;
        let mut reqs = Vec::with_capacity(parts.len());
        for ((key, start, len), layout) in parts.iter().zip(&layouts) {
            let (start, len) = (usize::try_from(*start).unwrap_or(usize::MAX), *len);
            reqs.push(match layout.as_deref() {
                Some(Layout::Packed(segs)) => {
                    let (_, bytes) = segs.span(start, len);
                    (self.file(key), bytes.start as u64, bytes.len())
                }
                _ => (self.file(key), start as u64, len),
            });
        }
        let got = self.fs.read_parts(&reqs).await?;
        let mut out = Vec::with_capacity(parts.len());
        for (((_, start, len), layout), (got, (path, _, _))) in
            parts.iter().zip(layouts).zip(got.into_iter().zip(&reqs))
        {
            out.push(match (layout.as_deref(), got) {
                (_, None) | (None, _) => None,
                (Some(Layout::Plain), Some(b)) => Some(b),
                (Some(Layout::Packed(segs)), Some(b)) => {
                    Some(segs.read(path, &b, usize::try_from(*start).unwrap_or(usize::MAX), *len)?)
                }
            });
        }
        Ok(out)
    }

    /// The layout of each key's file (`None`: no such file), from memory or its head.
    async fn layouts_of<'a>(&self, keys: impl Iterator<Item = &'a str>) -> Result<Vec<Option<Rc<Layout>>>> {
        let keys: Vec<&str> = keys.collect();
        let mut out: Vec<Option<Rc<Layout>>> =
            keys.iter().map(|k| self.layouts.borrow().get(*k).cloned()).collect();
        let mut want: Vec<(usize, usize)> =
            (0..keys.len()).filter(|&i| out[i].is_none()).map(|i| (i, HEAD_GUESS)).collect();
        // At most two rounds: the guess, then the whole table of a record over ~1 MiB.
        for _ in 0..2 {
            if want.is_empty() {
                break;
            }
            let reqs: Vec<(String, u64, usize)> =
                want.iter().map(|&(i, n)| (self.file(keys[i]), 0, n)).collect();
            let heads = self.fs.read_parts(&reqs).await?;
            let mut again = Vec::new();
            for ((i, _), (head, (path, _, _))) in want.into_iter().zip(heads.into_iter().zip(&reqs)) {
                let Some(head) = head else { continue };
                match Layout::from_head(path, &head)? {
                    Head::Known(layout) => {
                        let layout = Rc::new(layout);
                        self.layouts.borrow_mut().insert(keys[i].to_string(), layout.clone());
                        out[i] = Some(layout);
                    }
                    Head::Need(n) if n > head.len() => again.push((i, n)),
                    Head::Need(_) => {
                        return Err(crate::error::Error::corruption(format!(
                            "{path}: packed file cut short in its table"
                        )));
                    }
                }
            }
            want = again;
        }
        Ok(out)
    }
}
