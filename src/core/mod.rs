//! The pure core: synchronous, storage-agnostic logic, tested natively. Its one wasm
//! dependency: in the browser Mango's `$regex` is JS `RegExp` (`mango::regex`).

pub mod collate;
pub mod keycodec;
pub mod mango;
pub mod order;
pub mod reduce;
pub mod rev;
pub mod rev_tree;
pub mod schema;
