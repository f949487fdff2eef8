pub mod create;
pub mod describe;
pub mod list;
pub mod put_record;

pub use create::*;
pub use describe::*;
pub use list::*;
pub use put_record::*;
