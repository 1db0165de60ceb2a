//! Novu notification topics (work in progress).
