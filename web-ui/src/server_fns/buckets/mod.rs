pub mod delete;
pub mod list;
pub mod register;

pub use delete::*;
pub use list::*;
pub use register::*;
