//! Roles and the one permission check.
//!
//! The matrix lives in [`fjord_common::permissions`], so that the gateway enforces the same
//! one on the AWS endpoint; this module re-exports it for the control plane. Every
//! authorization decision goes through [`allows`]; handlers name the [`Action`] they perform
//! and never compare roles themselves.

pub use fjord_common::permissions::{Action, Role, UnknownRole, allows};
