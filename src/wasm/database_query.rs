//! `Database`'s query methods: `query`, `viewCleanup`, `createIndex`, `getIndexes`,
//! `deleteIndex`, `find` and `explain` (a second `#[wasm_bindgen] impl` block).
//!
//! `query(fun, options, registered)`:
//! - `fun` is `'ddoc/view'`, a map function, or `{map, reduce}` (functions or source text).
//! - A design doc's sources are compiled only when that view is queried. `registered`
//!   (`{map, reduce?}`, from `Settee.registerView`) replaces them with functions given in
//!   code, for pages whose CSP forbids `eval`; the index still follows the design doc's
//!   signature, so editing the design doc rebuilds it.
//! - Temporary views are indexed too, so querying the same one again is incremental. Given as
//!   source text, one is indexed under a signature of that text (reused after a reload);
//!   given as a function object, under that object's identity as well, since closures with one
//!   source can capture different values (the same function object is incremental, a new
//!   closure builds a new index). `viewCleanup` removes temporary indexes.
//! - `stale: 'update_after'` resolves first, then updates the index in the background.
//! - `onError` (a function option) hears each exception a map or reduce function throws. A
//!   doc whose map throws is skipped either way; a reduce that throws then reduces to `null`
//!   (PouchDB's way) instead of failing the query (CouchDB's).

use super::convert::{from_js, to_js};
use super::database::Database;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use super::view_fns::{identity_of, source_of, JsMap, JsReduce};
use crate::core::reduce::BuiltinReduce;
use crate::db::views::{self, view_def, DesignView, MapFn, Reduce, ReduceFn, ViewCompiler, ViewDef};
use crate::db::Database as Db;
use crate::error::{Error, Result};
use js_sys::{Promise, Reflect};
use serde_json::Value;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

fn promise<F: Future<Output = Result<String>> + 'static>(f: F) -> Promise {
    spawn(async move {
        let json = f.await.map_err(err_to_js)?;
        to_js(&json).map_err(err_to_js)
    })
}

fn member(obj: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(obj, &name.into()).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// Compiles design doc sources, or hands out the functions registered for the view.
struct JsCompiler {
    registered: Option<JsValue>,
    /// The `onError` query option: hears map and reduce exceptions (see `view_fns`).
    on_error: JsValue,
}

impl ViewCompiler for JsCompiler {
    fn map(&self, view: &DesignView) -> Result<Rc<dyn MapFn>> {
        let given = self.registered.as_ref().and_then(|r| member(r, "map"));
        Ok(Rc::new(JsMap::with_errors(
            &given.unwrap_or_else(|| JsValue::from_str(&view.map)),
            &self.on_error,
        )?))
    }
    fn reduce(&self, _view: &DesignView, source: &str) -> Result<Rc<dyn ReduceFn>> {
        let given = self.registered.as_ref().and_then(|r| member(r, "reduce"));
        Ok(Rc::new(JsReduce::with_errors(
            &given.unwrap_or_else(|| JsValue::from_str(source)),
            &self.on_error,
        )?))
    }
}

/// A temporary view from a map function or `{map, reduce}`. `reduce` is the `reduce` option
/// when that names a reduce (`query(fn, {reduce: '_stats'})`) rather than a boolean.
fn temp_view(fun: &JsValue, reduce_option: Option<JsValue>, on_error: &JsValue) -> Result<ViewDef> {
    let (map, reduce) = if fun.is_function() {
        (fun.clone(), reduce_option)
    } else {
        (member(fun, "map").unwrap_or(JsValue::UNDEFINED), member(fun, "reduce").or(reduce_option))
    };
    if !(map.is_function() || map.is_string()) {
        return Err(Error::bad_request("query expects 'ddoc/view', a map function or {map, reduce}"));
    }
    let reduce_src = reduce.as_ref().map(source_of);
    let reduce = match (&reduce, reduce_src.as_deref().and_then(BuiltinReduce::parse)) {
        (None, _) => None,
        (Some(_), Some(b)) => Some(Reduce::Builtin(b)),
        (Some(f), None) => Some(Reduce::Custom(Rc::new(JsReduce::with_errors(f, on_error)?))),
    };
    let map_key = format!("{}\n{}", source_of(&map), identity_of(&map));
    Ok(ViewDef {
        ddoc: None,
        name: "temp".into(),
        signature: views::signature(&map_key, reduce_src.as_deref()),
        map: Rc::new(JsMap::with_errors(&map, on_error)?),
        reduce,
    })
}

/// `options` replaces the JSON of `options_js` when given (e.g. without `binary`).
async fn run_query(
    db: Rc<Db>,
    fun: JsValue,
    options_js: JsValue,
    registered: JsValue,
    options: Option<Value>,
) -> Result<String> {
    let mut options = match options {
        Some(o) => o,
        None => from_js(&options_js)?,
    };
    let reduce_option = member(&options_js, "reduce").filter(|r| r.is_string() || r.is_function());
    let on_error = member(&options_js, "onError").filter(|f| f.is_function()).unwrap_or(JsValue::UNDEFINED);
    if reduce_option.is_some() {
        if let Value::Object(m) = &mut options {
            m.remove("reduce");
        }
    }
    let view = match fun.as_string() {
        Some(name) => {
            let registered = (!registered.is_undefined() && !registered.is_null()).then_some(registered);
            view_def(&db.design_view(&name).await?, &JsCompiler { registered, on_error })?
        }
        None => temp_view(&fun, reduce_option, &on_error)?,
    };
    let (answer, update_after) = db.query_then_update(&view, &options).await?;
    if update_after {
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = db.update_view(&view).await {
                web_sys::console::error_1(
                    &format!("Settee: updating a view after a query failed: {e}").into(),
                );
            }
        });
    }
    Ok(answer)
}

#[wasm_bindgen]
impl Database {
    /// `query('ddoc/view' | mapFn | {map, reduce}, options, registered?)`.
    pub fn query(&self, fun: JsValue, options: JsValue, registered: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                // `{include_docs, attachments, binary}`: read stubs, then fill in `Blob`s.
                let binary = super::attachments::binary_read(&from_js(&options)?)?;
                let text = run_query(db.clone(), fun, options, registered, binary.clone()).await?;
                let answer = to_js(&text)?;
                if binary.is_some() {
                    super::attachments::fill_row_blobs(&db, &answer).await?;
                }
                Ok::<JsValue, Error>(answer)
            };
            run.await.map_err(err_to_js)
        })
    }

    #[wasm_bindgen(js_name = viewCleanup)]
    pub fn view_cleanup(&self) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.view_cleanup().await })
    }

    #[wasm_bindgen(js_name = createIndex)]
    pub fn create_index(&self, request: JsValue) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.create_index(&from_js(&request)?).await })
    }

    #[wasm_bindgen(js_name = getIndexes)]
    pub fn get_indexes(&self) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.get_indexes().await })
    }

    #[wasm_bindgen(js_name = deleteIndex)]
    pub fn delete_index(&self, index: JsValue) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.delete_index(&from_js(&index)?).await })
    }

    pub fn find(&self, request: JsValue) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.find(&from_js(&request)?).await })
    }

    pub fn explain(&self, request: JsValue) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.explain(&from_js(&request)?).await })
    }
}
