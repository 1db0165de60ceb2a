//! HubSpot communication-preference subscription types (work in progress).
