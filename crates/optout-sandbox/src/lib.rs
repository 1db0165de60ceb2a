//! Sandbox (work in progress).
