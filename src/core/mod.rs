//! The pure core: synchronous, storage-agnostic logic with no wasm dependency, tested natively.

pub mod rev;
pub mod rev_tree;
