//! Mobivate SMS campaigns (work in progress).
