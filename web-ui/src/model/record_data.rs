//! How the data viewer shows a record's bytes: pretty JSON when they parse as JSON, text when
//! they are printable UTF-8, hex otherwise (like the AWS console's data viewer).

use base64::Engine as _;

/// A record's data, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataView {
    Json(String),
    Text(String),
    Hex(String),
}

impl DataView {
    pub fn label(&self) -> &'static str {
        match self {
            DataView::Json(_) => "JSON",
            DataView::Text(_) => "Text",
            DataView::Hex(_) => "Hex",
        }
    }

    pub fn body(&self) -> &str {
        match self {
            DataView::Json(text) | DataView::Text(text) | DataView::Hex(text) => text,
        }
    }
}

/// Decodes `data_base64` as the REST API sends it. Undecodable base64 (which the API never
/// sends) shows as text so nothing is hidden.
pub fn view_base64(data_base64: &str) -> DataView {
    match base64::engine::general_purpose::STANDARD.decode(data_base64) {
        Ok(bytes) => view_bytes(&bytes),
        Err(_) => DataView::Text(data_base64.to_owned()),
    }
}

pub fn view_bytes(bytes: &[u8]) -> DataView {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let trimmed = text.trim_start();
        if (trimmed.starts_with('{') || trimmed.starts_with('['))
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        {
            return DataView::Json(pretty_json(text));
        }
        if text
            .chars()
            .all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r')
        {
            return DataView::Text(text.to_owned());
        }
    }
    DataView::Hex(hex_dump(bytes))
}

/// Re-indents valid JSON two spaces a level, keeping members in the order they were written
/// (a `serde_json::Value` round trip would sort them).
fn pretty_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if chars.peek().is_some_and(|n| matches!(n, '}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Sixteen bytes a line, as `00000010  7b 22 61 ...`.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3 + bytes.len() / 16 * 10);
    for (line, chunk) in bytes.chunks(16).enumerate() {
        if line > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{:08x} ", line * 16));
        for byte in chunk {
            out.push_str(&format!(" {byte:02x}"));
        }
    }
    out
}

/// Bytes in a record, from its base64 length (without decoding).
pub fn decoded_len(data_base64: &str) -> usize {
    let padding = data_base64.bytes().rev().take_while(|b| *b == b'=').count();
    (data_base64.len() / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn json_objects_are_pretty_printed() {
        let view = view_base64(&b64(br#"{"order":42,"items":["a"]}"#));
        assert_eq!(view.label(), "JSON");
        assert_eq!(
            view.body(),
            "{\n  \"order\": 42,\n  \"items\": [\n    \"a\"\n  ]\n}"
        );
    }

    #[test]
    fn pretty_json_keeps_order_strings_and_empty_containers() {
        assert_eq!(
            pretty_json(r#"{"z":1,"a":{"s":"x, {y}: \"q\"","e":[],"o":{ }}}"#),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"s\": \"x, {y}: \\\"q\\\"\",\n    \"e\": [],\n    \"o\": {}\n  }\n}"
        );
        assert_eq!(pretty_json("[1, 2]"), "[\n  1,\n  2\n]");
    }

    #[test]
    fn plain_text_stays_text_even_when_it_is_a_json_number() {
        assert_eq!(
            view_base64(&b64(b"hello fjord")),
            DataView::Text("hello fjord".into())
        );
        assert_eq!(view_base64(&b64(b"42")), DataView::Text("42".into()));
        assert_eq!(
            view_bytes(b"line one\nline two"),
            DataView::Text("line one\nline two".into())
        );
    }

    #[test]
    fn broken_json_is_text() {
        assert_eq!(view_bytes(b"{not json"), DataView::Text("{not json".into()));
    }

    #[test]
    fn binary_and_control_characters_are_hex() {
        assert_eq!(
            view_bytes(&[0xff, 0x00, 0x10]),
            DataView::Hex("00000000  ff 00 10".into())
        );
        assert_eq!(view_bytes(b"a\x07b").label(), "Hex");
        let long: Vec<u8> = (0u8..20).collect();
        assert_eq!(
            hex_dump(&long),
            "00000000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n00000010  10 11 12 13"
        );
    }

    #[test]
    fn decoded_length_counts_padding() {
        assert_eq!(decoded_len(&b64(b"")), 0);
        assert_eq!(decoded_len(&b64(b"a")), 1);
        assert_eq!(decoded_len(&b64(b"ab")), 2);
        assert_eq!(decoded_len(&b64(b"abc")), 3);
        assert_eq!(decoded_len(&b64(b"abcd")), 4);
    }
}
