//! How a request names a stream: `StreamName`, `StreamARN`, or both, validated as AWS does.

use crate::aws_error::AwsError;

/// Stream name rules: 1–128 characters of `[a-zA-Z0-9_.-]`.
pub fn is_valid_stream_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The ARN of a stream.
pub fn stream_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:kinesis:{region}:{account_id}:stream/{name}")
}

/// An ARN's account id and stream name, if it has the shape
/// `arn:aws*:kinesis:<region>:<12 digits>:stream/<name>`.
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if prefix != "arn" || !partition.starts_with("aws") || service != "kinesis" {
        return None;
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = resource.strip_prefix("stream/")?;
    is_valid_stream_name(name).then_some((account, name))
}

/// Collects modelled-constraint failures into one `ValidationException`, worded like AWS.
#[derive(Debug, Default)]
pub struct Validation {
    failures: Vec<String>,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, value: impl std::fmt::Display, member: &str, constraint: &str) {
        self.failures.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn length(&mut self, value: &str, member: &str, min: usize, max: usize) {
        let length = value.chars().count();
        if length < min {
            self.fail(
                value,
                member,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if length > max {
            let shown: String = value.chars().take(64).collect();
            self.fail(
                shown,
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    pub fn range(&mut self, value: i64, member: &str, min: i64, max: i64) {
        if value < min {
            self.fail(
                value,
                member,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if value > max {
            self.fail(
                value,
                member,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    pub fn stream_name(&mut self, name: &str, member: &str) {
        if name.is_empty() || name.len() > 128 {
            self.length(name, member, 1, 128);
        } else if !is_valid_stream_name(name) {
            self.fail(
                name,
                member,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
    }

    pub fn stream_arn(&mut self, arn: &str, member: &str) {
        if arn.is_empty() || arn.len() > 2048 {
            self.length(arn, member, 1, 2048);
        } else if parse_stream_arn(arn).is_none() {
            self.fail(
                arn,
                member,
                "Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
            );
        }
    }

    pub fn is_clean(&self) -> bool {
        self.failures.is_empty()
    }

    /// `Ok` if nothing failed, else the `ValidationException`.
    pub fn finish(self) -> Result<(), AwsError> {
        match self.failures.len() {
            0 => Ok(()),
            1 => Err(AwsError::validation(format!(
                "1 validation error detected: {}",
                self.failures[0]
            ))),
            count => Err(AwsError::validation(format!(
                "{count} validation errors detected: {}",
                self.failures.join("; ")
            ))),
        }
    }
}

/// Resolves the stream a request names to its name, checking the ARN belongs to `account_id`.
/// Call after [`Validation`] has accepted both members.
pub fn resolve_stream_name(
    stream_name: Option<&str>,
    stream_arn: Option<&str>,
    account_id: &str,
) -> Result<String, AwsError> {
    match (stream_name, stream_arn) {
        (None, None) => Err(AwsError::validation(
            "Either StreamName or StreamARN must be provided.",
        )),
        (Some(name), None) => Ok(name.to_owned()),
        (name, Some(arn)) => {
            let Some((arn_account, arn_name)) = parse_stream_arn(arn) else {
                return Err(AwsError::validation(format!("Invalid StreamARN {arn}.")));
            };
            if let Some(name) = name
                && name != arn_name
            {
                return Err(AwsError::invalid_argument(format!(
                    "StreamName {name} and StreamARN {arn} do not name the same stream."
                )));
            }
            if arn_account != account_id {
                return Err(AwsError::not_found(format!(
                    "Stream {arn_name} under account {arn_account} not found."
                )));
            }
            Ok(arn_name.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert!(is_valid_stream_name("clicks.v1-_A"));
        assert!(!is_valid_stream_name(""));
        assert!(!is_valid_stream_name("a b"));
        assert!(!is_valid_stream_name(&"a".repeat(129)));
        let arn = stream_arn("us-east-1", "123456789012", "clicks");
        assert_eq!(parse_stream_arn(&arn), Some(("123456789012", "clicks")));
        assert_eq!(parse_stream_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(
            parse_stream_arn("arn:aws:kinesis:us-east-1:1234:stream/x"),
            None
        );
    }

    #[test]
    fn resolving_checks_the_account_and_agreement() {
        let arn = stream_arn("us-east-1", "123456789012", "clicks");
        assert_eq!(
            resolve_stream_name(None, Some(&arn), "123456789012").unwrap(),
            "clicks"
        );
        assert_eq!(
            resolve_stream_name(None, Some(&arn), "999999999999")
                .unwrap_err()
                .kind,
            crate::aws_error::AwsErrorKind::ResourceNotFoundException
        );
        assert!(resolve_stream_name(Some("other"), Some(&arn), "123456789012").is_err());
        assert!(resolve_stream_name(None, None, "123456789012").is_err());
    }

    #[test]
    fn validation_messages_read_like_aws() {
        let mut validation = Validation::new();
        validation.stream_name("bad name", "streamName");
        validation.range(0, "shardCount", 1, 100_000);
        let message = validation.finish().unwrap_err().message;
        assert!(
            message.starts_with("2 validation errors detected: Value 'bad name' at 'streamName'")
        );
    }
}
