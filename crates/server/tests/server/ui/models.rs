//! The models pages and their actions.
