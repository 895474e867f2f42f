//! Integration tests of `procwire::wire`, grouped by concern.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "tokio")]
mod async_end;
#[cfg(feature = "tokio")]
mod async_io;
mod capacity;
mod clone;
mod close;
mod exhaustion;
mod fallback;
mod inherit;
mod prop;
mod transfer;
