//! The stderr side channel (work in progress).
