//! The experiments pages and their actions.
