//! A process on a wire (work in progress).

pub mod rsh;
