pub mod change_role;
pub mod invitations;
pub mod invite;
pub mod list;
pub mod remove;
pub mod revoke_invitation;

pub use change_role::*;
pub use invitations::*;
pub use invite::*;
pub use list::*;
pub use remove::*;
pub use revoke_invitation::*;
