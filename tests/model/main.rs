//! Integration tests of `procwire::model`: the conformance suite (one set of scenarios run on
//! the model, a kernel socketpair and the `wire` kinds) and the differential property test
//! against a kernel socketpair. The model's unit tests live in `src/model/tests.rs`.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "tokio")]
mod async_conformance;
mod conformance;
mod prop;
mod streams;
