//! The ML core's integration tests, one binary: every classifier trained,
//! saved and loaded through the public API ([`classifiers`]), and the
//! metrics against figures scikit-learn computed ([`metrics`]).

mod classifiers;
mod metrics;
