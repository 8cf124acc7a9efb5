//! JSON equality as JSON Schema means it (`const`, `enum`, `uniqueItems`): numbers by value
//! (`1` equals `1.0`), objects regardless of member order.

use super::instance::{J, N};
use serde_json::Value;

fn num_eq(a: N, b: N) -> bool {
    match (a, b) {
        (N::U(x), N::U(y)) => x == y,
        (N::I(x), N::I(y)) => x == y,
        _ => a.f64() == b.f64(),
    }
}

/// A schema's value (`const`, an `enum` entry) against an instance.
pub(super) fn eq_schema_value(a: &Value, b: &J) -> bool {
    eq_instances(&J::of(a), b)
}

pub(super) fn eq_instances(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Null, J::Null) => true,
        (J::Bool(x), J::Bool(y)) => x == y,
        (J::Num(x), J::Num(y)) => num_eq(*x, *y),
        (J::Str(x), J::Str(y)) => x == y,
        (J::Arr(x), J::Arr(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| eq_instances(a, b)),
        (J::Obj(x), J::Obj(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| J::get(y, k).is_some_and(|w| eq_instances(v, w)))
        }
        _ => false,
    }
}
