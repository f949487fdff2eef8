//! Roles, the actions they allow, and the one permission check, shared by both planes.
//!
//! The control plane checks REST calls with [`allows`]; the gateway checks AWS calls with the
//! same matrix after mapping the Kinesis action with [`kinesis_action`]. Callers name the
//! [`Action`] they perform and never compare roles themselves.

use serde::{Deserialize, Serialize};

/// A member's (or an access key's) role in a tenant, from least to most privileged.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    /// The default role of a new access key.
    #[default]
    Developer,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Developer, Role::Admin, Role::Owner];

    /// The name stored in Postgres and carried in tokens and specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected owner, admin, developer or viewer)")]
pub struct UnknownRole;

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or(UnknownRole)
    }
}

/// Something a member can do in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadStreams,
    ReadRecords,
    WriteRecords,
    ManageStreams,
    /// Create, list and manage the access keys one owns (personal keys).
    ManageOwnKeys,
    ManageKeys,
    ManageUsers,
    ReadAudit,
    ManageTenant,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::ReadStreams,
        Action::ReadRecords,
        Action::WriteRecords,
        Action::ManageStreams,
        Action::ManageOwnKeys,
        Action::ManageKeys,
        Action::ManageUsers,
        Action::ReadAudit,
        Action::ManageTenant,
    ];
}

/// Whether `role` may perform `action`: viewers read streams and records and manage their own
/// (personal) access keys; developers also
/// write records and manage streams; admins also manage keys and users and read the audit
/// log; owners also manage the tenant.
pub fn allows(role: Role, action: Action) -> bool {
    let least_role = match action {
        Action::ReadStreams | Action::ReadRecords | Action::ManageOwnKeys => Role::Viewer,
        Action::WriteRecords | Action::ManageStreams => Role::Developer,
        Action::ManageKeys | Action::ManageUsers | Action::ReadAudit => Role::Admin,
        Action::ManageTenant => Role::Owner,
    };
    role >= least_role
}

/// Every Kinesis action the AWS endpoint serves, with the [`Action`] it performs. The one
/// table the gateway authorizes by; an action missing here is refused.
pub const KINESIS_ACTIONS: &[(&str, Action)] = &[
    ("DescribeStream", Action::ReadStreams),
    ("DescribeStreamSummary", Action::ReadStreams),
    ("ListStreams", Action::ReadStreams),
    ("ListShards", Action::ReadStreams),
    ("ListTagsForStream", Action::ReadStreams),
    ("DescribeLimits", Action::ReadStreams),
    ("GetShardIterator", Action::ReadRecords),
    ("GetRecords", Action::ReadRecords),
    ("PutRecord", Action::WriteRecords),
    ("PutRecords", Action::WriteRecords),
    ("CreateStream", Action::ManageStreams),
    ("DeleteStream", Action::ManageStreams),
    ("IncreaseStreamRetentionPeriod", Action::ManageStreams),
    ("DecreaseStreamRetentionPeriod", Action::ManageStreams),
    ("AddTagsToStream", Action::ManageStreams),
    ("RemoveTagsFromStream", Action::ManageStreams),
];

/// Every Firehose action the AWS endpoint serves, with the [`Action`] it performs (delivery
/// streams are streams to the permission matrix).
pub const FIREHOSE_ACTIONS: &[(&str, Action)] = &[
    ("DescribeDeliveryStream", Action::ReadStreams),
    ("ListDeliveryStreams", Action::ReadStreams),
    ("ListTagsForDeliveryStream", Action::ReadStreams),
    ("PutRecord", Action::WriteRecords),
    ("PutRecordBatch", Action::WriteRecords),
    ("CreateDeliveryStream", Action::ManageStreams),
    ("DeleteDeliveryStream", Action::ManageStreams),
    ("UpdateDestination", Action::ManageStreams),
    ("TagDeliveryStream", Action::ManageStreams),
    ("UntagDeliveryStream", Action::ManageStreams),
];

/// The [`Action`] a Firehose action (the part after `Firehose_20150804.`) performs.
pub fn firehose_action(name: &str) -> Option<Action> {
    FIREHOSE_ACTIONS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, action)| *action)
}

/// The [`Action`] a Kinesis action (the part after `Kinesis_20131202.`) performs.
pub fn kinesis_action(name: &str) -> Option<Action> {
    KINESIS_ACTIONS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, action)| *action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::{ADMIN_ACTIONS, RECORD_ACTIONS};

    #[test]
    fn the_whole_matrix() {
        use Action::*;
        let expected: [(Role, &[Action]); 4] = [
            (Role::Viewer, &[ReadStreams, ReadRecords, ManageOwnKeys]),
            (
                Role::Developer,
                &[
                    ReadStreams,
                    ReadRecords,
                    WriteRecords,
                    ManageStreams,
                    ManageOwnKeys,
                ],
            ),
            (
                Role::Admin,
                &[
                    ReadStreams,
                    ReadRecords,
                    WriteRecords,
                    ManageStreams,
                    ManageOwnKeys,
                    ManageKeys,
                    ManageUsers,
                    ReadAudit,
                ],
            ),
            (Role::Owner, &Action::ALL),
        ];
        for (role, allowed) in expected {
            for action in Action::ALL {
                assert_eq!(
                    allows(role, action),
                    allowed.contains(&action),
                    "{role} {action:?}"
                );
            }
        }
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!("Owner".parse::<Role>(), Err(UnknownRole));
        assert_eq!("root".parse::<Role>(), Err(UnknownRole));
        assert_eq!(Role::default(), Role::Developer);
    }

    #[test]
    fn every_served_kinesis_action_is_mapped_once() {
        for action in ADMIN_ACTIONS.iter().chain(RECORD_ACTIONS) {
            assert_eq!(
                KINESIS_ACTIONS
                    .iter()
                    .filter(|(name, _)| name == action)
                    .count(),
                1,
                "{action}"
            );
        }
        assert_eq!(
            KINESIS_ACTIONS.len(),
            ADMIN_ACTIONS.len() + RECORD_ACTIONS.len()
        );
        assert_eq!(kinesis_action("MergeShards"), None);
        assert_eq!(kinesis_action("putrecord"), None);
    }

    #[test]
    fn kinesis_actions_per_role() {
        let allowed = |role: Role| -> Vec<&str> {
            KINESIS_ACTIONS
                .iter()
                .filter(|(_, action)| allows(role, *action))
                .map(|(name, _)| *name)
                .collect()
        };
        let reads = [
            "DescribeStream",
            "DescribeStreamSummary",
            "ListStreams",
            "ListShards",
            "ListTagsForStream",
            "DescribeLimits",
            "GetShardIterator",
            "GetRecords",
        ];
        assert_eq!(allowed(Role::Viewer), reads);
        for name in ["PutRecord", "PutRecords", "CreateStream", "DeleteStream"] {
            assert!(!allowed(Role::Viewer).contains(&name), "{name}");
        }
        let everything: Vec<&str> = KINESIS_ACTIONS.iter().map(|(name, _)| *name).collect();
        for role in [Role::Developer, Role::Admin, Role::Owner] {
            assert_eq!(allowed(role), everything, "{role}");
        }
    }
}
