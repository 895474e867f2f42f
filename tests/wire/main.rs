//! Integration tests of `procwire::wire`, grouped by concern.

#[path = "../support/mod.rs"]
mod support;

mod capacity;
mod clone;
mod close;
mod exhaustion;
mod fallback;
mod inherit;
mod prop;
mod transfer;
