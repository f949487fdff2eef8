//! Pages: thin views over view models and server functions.

pub mod accept_invitation;
pub mod audit;
pub mod buckets;
pub mod data;
pub mod delivery_streams;
pub mod getting_started;
pub mod keys;
pub mod layout;
pub mod monitoring;
pub mod sign_in;
pub mod stream;
pub mod streams;
pub mod users;

pub use accept_invitation::AcceptInvitationPage;
pub use audit::AuditPage;
pub use buckets::BucketsPage;
pub use data::DataPage;
pub use delivery_streams::{CreateDeliveryStreamPage, DeliveryStreamPage, DeliveryStreamsPage};
pub use getting_started::GettingStartedPage;
pub use keys::KeysPage;
pub use layout::{Layout, MeResource, NotFound, use_flash, use_me};
pub use monitoring::MonitoringPage;
pub use sign_in::SignInPage;
pub use stream::StreamPage;
pub use streams::{CreateStreamPage, StreamsPage};
pub use users::UsersPage;
