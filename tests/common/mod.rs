#![allow(dead_code, unused_macros, unused_imports)]
#[macro_use]
pub mod db_suite;
#[macro_use]
pub mod views_suite;
#[macro_use]
pub mod feeds_suite;
#[macro_use]
pub mod verify_suite;
