//! Migma email topics (work in progress).
