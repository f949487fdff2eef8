//! The create-stream form: what a person typed, checked before it is sent (the API checks it
//! again; these are the same rules, shown inline while typing).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::tags::parse_tags;

pub const MAX_NAME_CHARS: usize = 128;
pub const MIN_RETENTION_HOURS: i64 = 24;
pub const MAX_RETENTION_HOURS: i64 = 8760;
pub const MAX_SHARDS: i64 = 100_000;

/// A create-stream request that passed the checks; serializes as `CreateStreamRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStream {
    pub name: String,
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_count: Option<i64>,
    pub retention_hours: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Each field's problem, if any, for showing next to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFormErrors {
    pub name: Option<String>,
    pub shard_count: Option<String>,
    pub retention_hours: Option<String>,
    pub tags: Option<String>,
}

impl StreamFormErrors {
    pub fn is_empty(&self) -> bool {
        self == &StreamFormErrors::default()
    }

    /// One sentence naming every problem, for a server-side refusal.
    pub fn summary(&self) -> String {
        [
            &self.name,
            &self.shard_count,
            &self.retention_hours,
            &self.tags,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("; ")
    }
}

pub fn name_error(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return Some("Name the stream.".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!("At most {MAX_NAME_CHARS} characters."));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Some(format!(
            "“{bad}” is not allowed: use letters, digits, _ . and -."
        ));
    }
    None
}

pub fn shard_count_error(mode: &str, shard_count: &str) -> Option<String> {
    if mode == "on_demand" {
        return None;
    }
    match shard_count.trim().parse::<i64>() {
        Ok(count) if (1..=MAX_SHARDS).contains(&count) => None,
        _ => Some(format!("A whole number of shards, 1 to {MAX_SHARDS}.")),
    }
}

pub fn retention_error(retention_hours: &str) -> Option<String> {
    match retention_hours.trim().parse::<i64>() {
        Ok(hours) if (MIN_RETENTION_HOURS..=MAX_RETENTION_HOURS).contains(&hours) => None,
        _ => Some(format!(
            "Hours, {MIN_RETENTION_HOURS} to {MAX_RETENTION_HOURS} (1 to 365 days)."
        )),
    }
}

/// Checks every field; the request to send, or each field's problem.
pub fn validate(
    name: &str,
    mode: &str,
    shard_count: &str,
    retention_hours: &str,
    tags: &str,
) -> Result<NewStream, StreamFormErrors> {
    let parsed_tags = parse_tags(tags);
    let errors = StreamFormErrors {
        name: name_error(name),
        shard_count: if matches!(mode, "provisioned" | "on_demand") {
            shard_count_error(mode, shard_count)
        } else {
            Some("Pick provisioned or on-demand.".to_owned())
        },
        retention_hours: retention_error(retention_hours),
        tags: parsed_tags.as_ref().err().cloned(),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let on_demand = mode == "on_demand";
    Ok(NewStream {
        name: name.trim().to_owned(),
        mode: if on_demand {
            "on_demand"
        } else {
            "provisioned"
        },
        shard_count: if on_demand {
            None
        } else {
            shard_count.trim().parse().ok()
        },
        retention_hours: retention_hours
            .trim()
            .parse()
            .unwrap_or(MIN_RETENTION_HOURS),
        tags: parsed_tags.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_form_becomes_the_api_request() {
        let stream = validate(" orders ", "provisioned", "2", "48", "env=prod").unwrap();
        assert_eq!(
            serde_json::to_value(&stream).unwrap(),
            serde_json::json!({"name":"orders","mode":"provisioned","shard_count":2,
                "retention_hours":48,"tags":{"env":"prod"}})
        );
        let on_demand = validate("clicks", "on_demand", "", "24", "").unwrap();
        assert_eq!(
            serde_json::to_value(&on_demand).unwrap(),
            serde_json::json!({"name":"clicks","mode":"on_demand","retention_hours":24})
        );
    }

    #[test]
    fn each_field_names_its_problem() {
        let errors = validate("bad name!", "provisioned", "0", "12", "=x").unwrap_err();
        assert_eq!(
            errors.name.as_deref(),
            Some("“ ” is not allowed: use letters, digits, _ . and -.")
        );
        assert!(errors.shard_count.is_some());
        assert!(errors.retention_hours.is_some());
        assert!(errors.tags.is_some());
        assert_eq!(errors.summary().matches("; ").count(), 3);
        assert_eq!(name_error(""), Some("Name the stream.".to_owned()));
        assert!(name_error(&"a".repeat(129)).is_some());
        assert!(name_error(&"a".repeat(128)).is_none());
        assert!(shard_count_error("provisioned", "100001").is_some());
        assert!(shard_count_error("on_demand", "").is_none());
        assert!(retention_error("8760").is_none());
        assert!(retention_error("8761").is_some());
        assert!(
            validate("x", "weird", "1", "24", "")
                .unwrap_err()
                .shard_count
                .is_some()
        );
    }
}
