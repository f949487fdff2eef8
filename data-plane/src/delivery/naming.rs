//! Object keys as Firehose names them: `<evaluated prefix><suffix>`, the suffix being
//! `<delivery stream name>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><compression extension>`.
//!
//! The prefix may hold `!{timestamp:<Java DateTimeFormatter pattern>}` and
//! `!{firehose:random-string}` expressions; a prefix without any expression (empty
//! included) is followed by Firehose's default time prefix `yyyy/MM/dd/HH/`, as Firehose
//! does: only a custom prefix with expressions replaces it. Times are UTC, from the arrival of the oldest record in the object.
//! Patterns are parsed once, when a delivery stream starts, so a bad one stops that delivery
//! stream with a logged error instead of failing every object.

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use fjord_common::firehose::Compression;

/// Why a prefix cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PrefixError {
    #[error("an expression starting at byte {0} is not closed with '}}'")]
    Unclosed(usize),
    #[error("unsupported expression !{{{0}}}")]
    UnsupportedExpression(String),
    #[error("unsupported or invalid date-time pattern letter '{0}'")]
    PatternLetter(char),
    #[error("unterminated quoted text in a date-time pattern")]
    UnterminatedQuote,
}

/// One piece of a date-time pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DateToken {
    Literal(String),
    /// A pattern letter and how many times it is repeated.
    Field(char, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Timestamp(Vec<DateToken>),
    RandomString,
    /// `!{firehose:error-output-type}`: `processing-failed`, … (error output prefixes only).
    ErrorOutputType,
    /// `!{partitionKeyFromQuery:<name>}` (or, `from_function`, `!{partitionKeyFromLambda:<name>}`):
    /// a record's dynamic partitioning key (record prefixes only).
    PartitionKey {
        name: String,
        from_function: bool,
    },
}

/// One dynamic partition's key values, by where they come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PartitionValues {
    /// From the `MetadataExtraction` query, in its keys' order.
    pub(crate) from_query: Vec<(String, String)>,
    /// From the transformation function, in the prefix's order.
    pub(crate) from_function: Vec<(String, String)>,
}

/// A parsed prefix, evaluated once per object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPrefix {
    parts: Vec<Part>,
}

/// Firehose's time prefix, used after a prefix without expressions (or alone).
const DEFAULT_PREFIX: &str = "!{timestamp:yyyy/MM/dd/HH/}";
/// What follows an error output prefix without expressions (or stands alone).
const DEFAULT_ERROR_PREFIX: &str = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}";
/// Length of `!{firehose:random-string}`'s value, as on Firehose.
const RANDOM_STRING_LENGTH: usize = 11;

impl KeyPrefix {
    pub(crate) fn parse(prefix: &str) -> Result<Self, PrefixError> {
        Self::parse_with_default(prefix, DEFAULT_PREFIX, false)
    }

    /// No prefix at all (a key's suffix alone).
    pub(crate) fn empty() -> Self {
        Self { parts: Vec::new() }
    }

    /// An error output prefix: one without expressions is followed by
    /// `<error-output-type>/yyyy/MM/dd/HH/`.
    pub(crate) fn parse_error_output(prefix: &str) -> Result<Self, PrefixError> {
        Self::parse_with_default(prefix, DEFAULT_ERROR_PREFIX, true)
    }

    fn parse_with_default(
        prefix: &str,
        default: &str,
        error_output: bool,
    ) -> Result<Self, PrefixError> {
        let static_prefix;
        let prefix = if prefix.contains("!{") {
            prefix
        } else {
            static_prefix = format!("{prefix}{default}");
            &static_prefix
        };
        let mut parts = Vec::new();
        let mut rest = prefix;
        let mut offset = 0;
        while let Some(start) = rest.find("!{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let Some(length) = rest[start..].find('}') else {
                return Err(PrefixError::Unclosed(offset + start));
            };
            let expression = &rest[start + 2..start + length];
            parts.push(parse_expression(expression, error_output)?);
            offset += start + length + 1;
            rest = &rest[start + length + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The prefix for an object whose oldest record arrived `at`.
    pub(crate) fn evaluate(&self, at: DateTime<Utc>) -> String {
        self.render(at, "", &PartitionValues::default())
    }

    /// The prefix for an error output object of `error_output_type` (`processing-failed`, …).
    pub(crate) fn evaluate_error_output(
        &self,
        at: DateTime<Utc>,
        error_output_type: &str,
    ) -> String {
        self.render(at, error_output_type, &PartitionValues::default())
    }

    /// The prefix for an object of one dynamic partition: `keys` gives each key's value (those
    /// from the extraction query and those from the transformation function).
    pub(crate) fn evaluate_partition(&self, at: DateTime<Utc>, keys: &PartitionValues) -> String {
        self.render(at, "", keys)
    }

    /// The keys the prefix takes from transformation functions (`partitionKeyFromLambda`).
    pub(crate) fn function_keys(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::PartitionKey {
                    name,
                    from_function: true,
                } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    fn render(&self, at: DateTime<Utc>, error_output_type: &str, keys: &PartitionValues) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Timestamp(tokens) => format_date(tokens, at, &mut out),
                Part::RandomString => out.push_str(&random_string()),
                Part::ErrorOutputType => out.push_str(error_output_type),
                Part::PartitionKey {
                    name,
                    from_function,
                } => {
                    let values = if *from_function {
                        &keys.from_function
                    } else {
                        &keys.from_query
                    };
                    if let Some((_, value)) = values.iter().find(|(key, _)| key == name) {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }
}

fn parse_expression(expression: &str, error_output: bool) -> Result<Part, PrefixError> {
    let unsupported = || PrefixError::UnsupportedExpression(expression.to_owned());
    let (namespace, value) = expression.split_once(':').ok_or_else(unsupported)?;
    match (namespace.trim(), value) {
        ("timestamp", pattern) => Ok(Part::Timestamp(parse_pattern(pattern)?)),
        ("firehose", value) if value.trim() == "random-string" => Ok(Part::RandomString),
        ("firehose", value) if error_output && value.trim() == "error-output-type" => {
            Ok(Part::ErrorOutputType)
        }
        ("partitionKeyFromQuery" | "partitionKeyFromLambda", name)
            if !error_output && !name.trim().is_empty() =>
        {
            Ok(Part::PartitionKey {
                name: name.trim().to_owned(),
                from_function: namespace.trim() == "partitionKeyFromLambda",
            })
        }
        _ => Err(unsupported()),
    }
}

/// Parses the subset of `java.time.format.DateTimeFormatter` patterns that make sense in a
/// key: years, months, days, hours, minutes, seconds, fractions, day of year and weekday,
/// with quoted literal text. Other letters are refused; other characters are literal.
fn parse_pattern(pattern: &str) -> Result<Vec<DateToken>, PrefixError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c == '\'' {
            // '' is a quote; 'text' is text.
            if chars.get(index + 1) == Some(&'\'') {
                literal.push('\'');
                index += 2;
                continue;
            }
            index += 1;
            loop {
                match chars.get(index) {
                    None => return Err(PrefixError::UnterminatedQuote),
                    Some('\'') if chars.get(index + 1) == Some(&'\'') => {
                        literal.push('\'');
                        index += 2;
                    }
                    Some('\'') => {
                        index += 1;
                        break;
                    }
                    Some(other) => {
                        literal.push(*other);
                        index += 1;
                    }
                }
            }
        } else if c.is_ascii_alphabetic() {
            if !matches!(
                c,
                'y' | 'u' | 'M' | 'L' | 'd' | 'D' | 'H' | 'm' | 's' | 'S' | 'E'
            ) {
                return Err(PrefixError::PatternLetter(c));
            }
            let mut count = 1;
            while chars.get(index + count) == Some(&c) {
                count += 1;
            }
            if !literal.is_empty() {
                tokens.push(DateToken::Literal(std::mem::take(&mut literal)));
            }
            tokens.push(DateToken::Field(c, count));
            index += count;
        } else {
            literal.push(c);
            index += 1;
        }
    }
    if !literal.is_empty() {
        tokens.push(DateToken::Literal(literal));
    }
    Ok(tokens)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn format_date(tokens: &[DateToken], at: DateTime<Utc>, out: &mut String) {
    use std::fmt::Write as _;
    for token in tokens {
        let (letter, count) = match token {
            DateToken::Literal(text) => {
                out.push_str(text);
                continue;
            }
            DateToken::Field(letter, count) => (*letter, *count),
        };
        let number = |value: u32, out: &mut String| {
            let _ = write!(out, "{value:0count$}");
        };
        match letter {
            'y' | 'u' if count == 2 => {
                let _ = write!(out, "{:02}", at.year().rem_euclid(100));
            }
            'y' | 'u' => {
                let _ = write!(out, "{:0width$}", at.year(), width = count.max(1));
            }
            'M' | 'L' if count == 3 => out.push_str(&MONTHS[at.month0() as usize][..3]),
            'M' | 'L' if count >= 4 => out.push_str(MONTHS[at.month0() as usize]),
            'M' | 'L' => number(at.month(), out),
            'd' => number(at.day(), out),
            'D' => number(at.ordinal(), out),
            'H' => number(at.hour(), out),
            'm' => number(at.minute(), out),
            's' => number(at.second(), out),
            'S' => {
                // The leading `count` digits of the fraction of a second.
                let nanos = format!("{:09}", at.nanosecond().min(999_999_999));
                let digits: String = nanos
                    .chars()
                    .chain(std::iter::repeat('0'))
                    .take(count)
                    .collect();
                out.push_str(&digits);
            }
            'E' if count >= 4 => out.push_str(&at.format("%A").to_string()),
            'E' => out.push_str(&at.format("%a").to_string()),
            _ => {}
        }
    }
}

fn random_string() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..RANDOM_STRING_LENGTH].to_owned()
}

/// The key of an object: evaluated prefix, then Firehose's suffix.
pub(crate) fn object_key(
    prefix: &KeyPrefix,
    delivery_stream_name: &str,
    version_id: i64,
    oldest_arrival: DateTime<Utc>,
    compression: Compression,
) -> String {
    format!(
        "{}{delivery_stream_name}-{version_id}-{}-{}{}",
        prefix.evaluate(oldest_arrival),
        oldest_arrival.format("%Y-%m-%d-%H-%M-%S"),
        uuid::Uuid::new_v4(),
        compression.extension()
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2018, 3, 7, 9, 5, 2).unwrap() + chrono::Duration::milliseconds(45)
    }

    #[test]
    fn an_empty_prefix_is_the_hourly_default() {
        assert_eq!(
            KeyPrefix::parse("").unwrap().evaluate(at()),
            "2018/03/07/09/"
        );
    }

    #[test]
    fn a_prefix_without_expressions_is_followed_by_the_hourly_default() {
        assert_eq!(
            KeyPrefix::parse("logs/").unwrap().evaluate(at()),
            "logs/2018/03/07/09/"
        );
        assert_eq!(
            KeyPrefix::parse("logs").unwrap().evaluate(at()),
            "logs2018/03/07/09/"
        );
    }

    #[test]
    fn timestamp_expressions_follow_java_patterns() {
        let prefix = KeyPrefix::parse(
            "y=!{timestamp:yyyy}/m=!{timestamp:MM}/d=!{timestamp:dd}/h=!{timestamp:HH}/",
        )
        .unwrap();
        assert_eq!(prefix.evaluate(at()), "y=2018/m=03/d=07/h=09/");
        let prefix = KeyPrefix::parse("!{timestamp:yy-M-d H:mm:ss.SSS D E EEEE MMM MMMM}").unwrap();
        assert_eq!(
            prefix.evaluate(at()),
            "18-3-7 9:05:02.045 66 Wed Wednesday Mar March"
        );
        let prefix = KeyPrefix::parse("!{timestamp:'year='yyyy'/''q'''}").unwrap();
        assert_eq!(prefix.evaluate(at()), "year=2018/'q'");
    }

    #[test]
    fn error_output_prefixes_name_the_error_type() {
        let default = KeyPrefix::parse_error_output("").unwrap();
        assert_eq!(
            default.evaluate_error_output(at(), "processing-failed"),
            "processing-failed/2018/03/07/09/"
        );
        let plain = KeyPrefix::parse_error_output("errors/").unwrap();
        assert_eq!(
            plain.evaluate_error_output(at(), "processing-failed"),
            "errors/processing-failed/2018/03/07/09/"
        );
        let custom =
            KeyPrefix::parse_error_output("e/!{firehose:error-output-type}/!{timestamp:yyyy}/")
                .unwrap();
        assert_eq!(
            custom.evaluate_error_output(at(), "processing-failed"),
            "e/processing-failed/2018/"
        );
    }

    #[test]
    fn partition_keys_take_the_records_values() {
        let prefix =
            KeyPrefix::parse("c=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/").unwrap();
        let keys = PartitionValues {
            from_query: vec![("customer".to_owned(), "acme".to_owned())],
            from_function: Vec::new(),
        };
        assert_eq!(prefix.evaluate_partition(at(), &keys), "c=acme/2018/");
        let both = KeyPrefix::parse(
            "c=!{partitionKeyFromQuery:customer}/r=!{partitionKeyFromLambda:region}/",
        )
        .unwrap();
        assert_eq!(both.function_keys(), ["region"]);
        let keys = PartitionValues {
            from_query: vec![("customer".to_owned(), "acme".to_owned())],
            from_function: vec![("region".to_owned(), "north".to_owned())],
        };
        assert_eq!(both.evaluate_partition(at(), &keys), "c=acme/r=north/");
        assert!(KeyPrefix::parse_error_output("!{partitionKeyFromQuery:customer}/").is_err());
    }

    #[test]
    fn random_strings_are_fresh_each_time() {
        let prefix = KeyPrefix::parse("a/!{firehose:random-string}/").unwrap();
        let first = prefix.evaluate(at());
        let second = prefix.evaluate(at());
        assert_eq!(first.len(), "a//".len() + RANDOM_STRING_LENGTH);
        assert!(first.starts_with("a/") && first.ends_with('/'));
        assert_ne!(first, second);
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert_eq!(
            KeyPrefix::parse("a/!{timestamp:yyyy"),
            Err(PrefixError::Unclosed(2))
        );
        assert!(matches!(
            KeyPrefix::parse("!{partitionKeyFromElsewhere:id}/"),
            Err(PrefixError::UnsupportedExpression(_))
        ));
        assert!(matches!(
            KeyPrefix::parse("!{firehose:error-output-type}/"),
            Err(PrefixError::UnsupportedExpression(_))
        ));
        assert_eq!(
            KeyPrefix::parse("!{timestamp:yyyy-QQ}"),
            Err(PrefixError::PatternLetter('Q'))
        );
        assert_eq!(
            KeyPrefix::parse("!{timestamp:'open}"),
            Err(PrefixError::UnterminatedQuote)
        );
    }

    #[test]
    fn keys_carry_name_version_time_uuid_and_extension() {
        let prefix = KeyPrefix::parse("").unwrap();
        let key = object_key(&prefix, "events", 3, at(), Compression::Gzip);
        let suffix = key
            .strip_prefix("2018/03/07/09/events-3-2018-03-07-09-05-02-")
            .unwrap();
        let uuid = suffix.strip_suffix(".gz").unwrap();
        assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{key}");
        let plain = object_key(
            &KeyPrefix::parse("raw/").unwrap(),
            "ev",
            1,
            at(),
            Compression::Uncompressed,
        );
        let expected = "raw/2018/03/07/09/ev-1-2018-03-07-09-05-02-";
        assert!(plain.starts_with(expected), "{plain}");
        assert_eq!(plain.len(), expected.len() + 36);
    }
}
