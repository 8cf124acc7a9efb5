//! The `$regex` matcher. In the browser it is JS `RegExp`, as in PouchDB: the same syntax and
//! semantics PouchDB users get, and no regex engine in the wasm (regex-lite was ~34 kB of it).
//! Natively (tests, tools) it is `regex-lite`, whose syntax differs at the edges: JS has
//! look-around and back-references, regex-lite has inline flags like `(?i)`. Either way the
//! search is unanchored, and a pattern the engine rejects is a 400 at parse time.

/// A compiled `$regex` pattern.
#[derive(Clone, Debug)]
pub(crate) struct Pattern(Engine);

#[cfg(target_arch = "wasm32")]
type Engine = js::RegExp;

#[cfg(not(target_arch = "wasm32"))]
type Engine = Box<regex_lite::Regex>;

#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[derive(Clone, Debug)]
        pub(super) type RegExp;

        // js-sys's `RegExp::new` throws into the wasm on a bad pattern; this one returns the
        // SyntaxError.
        #[wasm_bindgen(catch, constructor)]
        pub(super) fn new(pattern: &str) -> Result<RegExp, JsValue>;

        #[wasm_bindgen(method)]
        pub(super) fn test(this: &RegExp, text: &str) -> bool;
    }
}

impl Pattern {
    /// Compiles `pattern`; the error is the engine's reason.
    pub(crate) fn new(pattern: &str) -> Result<Pattern, String> {
        #[cfg(target_arch = "wasm32")]
        {
            // No flags: no `g`/`y`, so `test` keeps no `lastIndex` state between documents.
            js::RegExp::new(pattern).map(Pattern).map_err(|e| js_sys::Error::from(e).message().into())
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            regex_lite::Regex::new(pattern).map(|r| Pattern(Box::new(r))).map_err(|e| e.to_string())
        }
    }

    /// True when the pattern matches somewhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        #[cfg(target_arch = "wasm32")]
        {
            self.0.test(text)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.0.is_match(text)
        }
    }
}
