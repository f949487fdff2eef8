pub mod create;
pub mod describe;
pub mod list;
pub mod monitoring;
pub mod put_record;

pub use create::*;
pub use describe::*;
pub use list::*;
pub use monitoring::*;
pub use put_record::*;
