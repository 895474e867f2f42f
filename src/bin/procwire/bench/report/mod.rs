//! The results: the JSON document ([`schema`]), the terminal table ([`table`]) and the
//! verdict lines ([`verdicts`]), the audit's decision matrix read from the JSON ([`matrix`])
//! and two result files side by side ([`compare`]).
//!
//! Everything here is pure (results in, text out), so it is tested without running a bench.

pub mod compare;
pub mod matrix;
mod relay;
mod schema;
mod table;
mod verdicts;

pub use relay::{FdPassCell, RelayAuto, RelayCell};
pub use schema::*;

#[cfg(test)]
pub(crate) mod fixture;
