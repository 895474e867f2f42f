//! Remote-shell command parsing (work in progress).
