pub mod create;
pub mod delete;
pub mod describe;
pub mod list;
pub mod retention;
pub mod tags;

pub use create::*;
pub use delete::*;
pub use describe::*;
pub use list::*;
pub use retention::*;
pub use tags::*;
