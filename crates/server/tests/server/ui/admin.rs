//! The admin pages and their actions.
