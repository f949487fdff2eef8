pub mod put;
pub mod read;

pub use put::*;
pub use read::*;
