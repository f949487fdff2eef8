pub mod accept_invitation;
pub mod console_info;
pub mod flash;
pub mod me;
pub mod sign_in;
pub mod sign_out;
pub mod switch_tenant;

pub use accept_invitation::*;
pub use console_info::*;
pub use flash::*;
pub use me::*;
pub use sign_in::*;
pub use sign_out::*;
pub use switch_tenant::*;
