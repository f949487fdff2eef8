pub mod create;
pub mod delete;
pub mod list;
pub mod set_enabled;

pub use create::*;
pub use delete::*;
pub use list::*;
pub use set_enabled::*;
