pub mod create;
pub mod describe;
pub mod list;
pub mod metrics;
pub mod retention;
pub mod tags;

pub use create::*;
pub use describe::*;
pub use list::*;
pub use metrics::*;
pub use retention::*;
pub use tags::*;
