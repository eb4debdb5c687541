//! edgesim harness.
