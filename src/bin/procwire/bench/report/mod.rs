//! The results: the JSON document ([`schema`]), the terminal table ([`table`]) and the
//! verdict lines ([`verdicts`]).
//!
//! Everything here is pure (results in, text out), so it is tested without running a bench.

mod schema;
mod table;
mod verdicts;

pub use schema::*;

#[cfg(test)]
pub(crate) mod fixture;
