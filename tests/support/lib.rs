//! Shared helpers for the end-to-end tests (see the files beside this folder).
