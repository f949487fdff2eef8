//! Tags as a person types them: one `key=value` per line (or comma separated).

use std::collections::BTreeMap;

/// AWS's tag limits, which the API enforces too.
pub const MAX_TAGS: usize = 50;
pub const MAX_KEY_CHARS: usize = 128;
pub const MAX_VALUE_CHARS: usize = 256;

/// Parses `env=prod, team=data` or one pair per line. A key without `=` gets an empty value.
pub fn parse_tags(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut tags = BTreeMap::new();
    for entry in text
        .split(['\n', ','])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(format!("“{entry}” has no key"));
        }
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(format!(
                "the key “{key}” is longer than {MAX_KEY_CHARS} characters"
            ));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(format!(
                "the value of “{key}” is longer than {MAX_VALUE_CHARS} characters"
            ));
        }
        if tags.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(format!("the key “{key}” is given twice"));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags, not {}", tags.len()));
    }
    Ok(tags)
}

/// The text form of `tags`, one per line, for an edit box.
pub fn tags_text(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_by_comma_or_line() {
        let tags = parse_tags("env=prod, team = data\nowner=").unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags["team"], "data");
        assert_eq!(tags["owner"], "");
        assert_eq!(tags_text(&tags), "env=prod\nowner=\nteam=data");
        assert!(parse_tags("  ").unwrap().is_empty());
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(parse_tags("=x").unwrap_err(), "“=x” has no key");
        assert_eq!(
            parse_tags("a=1,a=2").unwrap_err(),
            "the key “a” is given twice"
        );
        assert!(parse_tags(&format!("{}=1", "k".repeat(129))).is_err());
        assert!(parse_tags(&format!("k={}", "v".repeat(257))).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            parse_tags(&many.join(",")).unwrap_err(),
            "at most 50 tags, not 51"
        );
    }
}
