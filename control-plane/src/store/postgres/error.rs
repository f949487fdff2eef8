//! The one place `sqlx::Error` becomes a domain error.

use crate::store::StoreError;

const UNIQUE_VIOLATION: &str = "23505";
const FOREIGN_KEY_VIOLATION: &str = "23503";
const CHECK_VIOLATION: &str = "23514";

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(database_error) = &error {
            match database_error.code().as_deref() {
                Some(UNIQUE_VIOLATION) => return StoreError::AlreadyExists,
                Some(FOREIGN_KEY_VIOLATION) => return StoreError::NotFound,
                Some(CHECK_VIOLATION) => return StoreError::Invalid,
                _ => {}
            }
        }
        if let sqlx::Error::RowNotFound = error {
            return StoreError::NotFound;
        }
        StoreError::Database(error)
    }
}
