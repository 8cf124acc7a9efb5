//! The pure core: synchronous, storage-agnostic logic with no wasm dependency, tested natively.

pub mod collate;
pub mod keycodec;
pub mod mango;
pub mod reduce;
pub mod rev;
pub mod rev_tree;
