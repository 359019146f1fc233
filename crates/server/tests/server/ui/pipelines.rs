//! The pipelines pages and their actions.
