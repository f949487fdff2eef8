//! The API reference page: `GET /api/v1/reference`, one self-contained HTML page rendered from
//! the same OpenAPI document `/api/v1/openapi.json` serves.
//!
//! It is drawn from the document rather than written by hand, so an endpoint cannot be missing
//! from it, and it loads nothing from elsewhere (no script, font or stylesheet from a CDN), so
//! it works in air-gapped installations.

use std::fmt::Write as _;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::OpenApi as _;

use super::ApiDoc;
use super::problem::Problem;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

const STYLE: &str = "
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
main{max-width:60rem;margin:0 auto;padding:1rem 1.25rem 4rem}
h1{font-size:1.7rem;margin:.5rem 0}h2{margin-top:2.5rem;border-bottom:1px solid #d0d7de}
h3{font-size:1.05rem;margin:1.75rem 0 .4rem}code,pre{font:13px/1.45 ui-monospace,monospace}
.method{display:inline-block;min-width:4.2rem;padding:.05rem .4rem;border-radius:4px;
color:#fff;font-weight:600;text-transform:uppercase;text-align:center;margin-right:.4rem}
.get{background:#0b6e4f}.post{background:#1f5fbf}.put{background:#8a5a00}
.patch{background:#6b3fa0}.delete{background:#b3261e}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}nav ul{columns:2;padding-left:1.2rem}a{color:#0b57d0}
.muted{color:#57606a}
";

/// The reference page.
#[utoipa::path(
    get,
    path = "/api/v1/reference",
    tag = "meta",
    responses((status = 200, description = "The API reference as one HTML page", content_type = "text/html"))
)]
pub async fn reference() -> Response {
    let document = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(document) => document,
        Err(error) => return Problem::internal(&error).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        render(&document),
    )
        .into_response()
}

/// The page for an OpenAPI document.
pub fn render(document: &Value) -> String {
    let title = escape(&text(&document["info"]["title"]));
    let mut page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} reference</title><style>{STYLE}</style></head><body><main>\
         <h1>{title}</h1><p>{}</p><p class=\"muted\">Machine-readable: \
         <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (OpenAPI {}). \
         Errors are <code>application/problem+json</code> (RFC 9457).</p>",
        escape(&text(&document["info"]["description"])),
        escape(&text(&document["openapi"])),
    );
    let operations = operations(document);
    render_contents(&mut page, document, &operations);
    for tag in tags(document) {
        let _ = write!(
            page,
            "<h2 id=\"tag-{}\">{}</h2><p>{}</p>",
            attribute(&tag.name),
            escape(&tag.name),
            escape(&tag.description)
        );
        for operation in operations.iter().filter(|op| op.tag == tag.name) {
            render_operation(&mut page, operation);
        }
    }
    render_schemas(&mut page, document);
    page.push_str("</main></body></html>");
    page
}

struct Tag {
    name: String,
    description: String,
}

/// The document's tags in its order, then any an operation uses without declaring it.
fn tags(document: &Value) -> Vec<Tag> {
    let mut tags: Vec<Tag> = document["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| Tag {
            name: text(&tag["name"]),
            description: text(&tag["description"]),
        })
        .collect();
    for operation in operations(document) {
        if !tags.iter().any(|tag| tag.name == operation.tag) {
            tags.push(Tag {
                name: operation.tag.clone(),
                description: String::new(),
            });
        }
    }
    tags
}

struct Operation<'a> {
    method: &'static str,
    path: &'a str,
    tag: String,
    body: &'a Value,
}

impl Operation<'_> {
    fn anchor(&self) -> String {
        let id = self.body["operationId"]
            .as_str()
            .map_or_else(|| format!("{}-{}", self.method, self.path), str::to_owned);
        format!("op-{}", attribute(&id))
    }
}

/// Every operation, in path order and then method order.
fn operations(document: &Value) -> Vec<Operation<'_>> {
    let mut operations = Vec::new();
    let Some(paths) = document["paths"].as_object() else {
        return operations;
    };
    for (path, item) in paths {
        for method in METHODS {
            let body = &item[method];
            if body.is_object() {
                operations.push(Operation {
                    method,
                    path,
                    tag: body["tags"][0].as_str().unwrap_or("other").to_owned(),
                    body,
                });
            }
        }
    }
    operations
}

fn render_contents(page: &mut String, document: &Value, operations: &[Operation<'_>]) {
    page.push_str("<nav aria-label=\"Contents\"><ul>");
    for tag in tags(document) {
        let _ = write!(
            page,
            "<li><a href=\"#tag-{}\">{}</a><ul>",
            attribute(&tag.name),
            escape(&tag.name)
        );
        for operation in operations.iter().filter(|op| op.tag == tag.name) {
            let _ = write!(
                page,
                "<li><a href=\"#{}\"><code>{} {}</code></a></li>",
                operation.anchor(),
                operation.method.to_uppercase(),
                escape(operation.path)
            );
        }
        page.push_str("</ul></li>");
    }
    page.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav>");
}

fn render_operation(page: &mut String, operation: &Operation<'_>) {
    let body = operation.body;
    let _ = write!(
        page,
        "<h3 id=\"{}\"><span class=\"method {}\">{}</span><code>{}</code></h3><p>{}</p>",
        operation.anchor(),
        operation.method,
        operation.method,
        escape(operation.path),
        escape(&text(&body["summary"])),
    );
    let description = text(&body["description"]);
    if !description.is_empty() {
        let _ = write!(page, "<p>{}</p>", escape(&description));
    }
    let security: Vec<String> = body["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys().cloned())
        .collect();
    let _ = write!(
        page,
        "<p class=\"muted\">Authentication: {}</p>",
        if security.is_empty() {
            "none".to_owned()
        } else {
            escape(&security.join(" or "))
        }
    );
    if let Some(parameters) = body["parameters"].as_array().filter(|p| !p.is_empty()) {
        page.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Required</th>\
             <th>Description</th></tr>",
        );
        for parameter in parameters {
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&text(&parameter["name"])),
                escape(&text(&parameter["in"])),
                type_of(&parameter["schema"]),
                if parameter["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                escape(&text(&parameter["description"])),
            );
        }
        page.push_str("</table>");
    }
    if let Some(content) = body["requestBody"]["content"].as_object() {
        for (media_type, media) in content {
            let _ = write!(
                page,
                "<p>Request body (<code>{}</code>): {}</p>",
                escape(media_type),
                type_of(&media["schema"])
            );
        }
    }
    if let Some(responses) = body["responses"].as_object() {
        page.push_str("<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>");
        for (status, response) in responses {
            let bodies: Vec<String> = response["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(media_type, media)| {
                    let schema = &media["schema"];
                    if schema.is_null() {
                        format!("<code>{}</code>", escape(media_type))
                    } else {
                        format!("{} <code>{}</code>", type_of(schema), escape(media_type))
                    }
                })
                .collect();
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                escape(&text(&response["description"])),
                bodies.join("<br>")
            );
        }
        page.push_str("</table>");
    }
}

fn render_schemas(page: &mut String, document: &Value) {
    page.push_str("<h2 id=\"schemas\">Schemas</h2>");
    let Some(schemas) = document["components"]["schemas"].as_object() else {
        return;
    };
    for (name, schema) in schemas {
        let _ = write!(
            page,
            "<h3 id=\"schema-{}\"><code>{}</code></h3>",
            attribute(name),
            escape(name)
        );
        let description = text(&schema["description"]);
        if !description.is_empty() {
            let _ = write!(page, "<p>{}</p>", escape(&description));
        }
        match schema["properties"].as_object() {
            Some(properties) => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                page.push_str(
                    "<table><tr><th>Field</th><th>Type</th><th>Required</th>\
                     <th>Description</th></tr>",
                );
                for (field, property) in properties {
                    let _ = write!(
                        page,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(field),
                        type_of(property),
                        if required.contains(&field.as_str()) {
                            "yes"
                        } else {
                            "no"
                        },
                        escape(&text(&property["description"])),
                    );
                }
                page.push_str("</table>");
            }
            None => {
                let _ = write!(page, "<p>{}</p>", type_of(schema));
            }
        }
    }
}

/// A schema's type in a few words, with links to named schemas.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!(
            "<a href=\"#schema-{}\">{}</a>",
            attribute(name),
            escape(name)
        );
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(choices) = schema[combinator].as_array() {
            let joiner = if combinator == "allOf" {
                " and "
            } else {
                " or "
            };
            return choices.iter().map(type_of).collect::<Vec<_>>().join(joiner);
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|value| format!("<code>{}</code>", escape(&value.to_string())))
            .collect();
        return format!("one of {}", values.join(", "));
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(name) => vec![name.clone()],
        Value::Array(names) => names.iter().map(text).collect(),
        _ => Vec::new(),
    };
    let described: Vec<String> = types
        .iter()
        .map(|name| match name.as_str() {
            "array" => format!("array of {}", type_of(&schema["items"])),
            "null" => "null".to_owned(),
            other => match schema["format"].as_str() {
                Some(format) => format!("{} ({})", escape(other), escape(format)),
                None => escape(other),
            },
        })
        .collect();
    if described.is_empty() {
        "any".to_owned()
    } else {
        described.join(" or ")
    }
}

/// A JSON string's text; other values give "".
fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn escape(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for character in raw.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// `raw` made safe for an id or fragment: anything but ASCII letters, digits, `-` and `_`
/// becomes `-`.
fn attribute(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn every_operation_and_schema_of_the_document_is_on_the_page() {
        let document = document();
        let page = render(&document);
        let operations = operations(&document);
        assert!(operations.len() > 20, "{}", operations.len());
        for operation in &operations {
            let heading = format!(
                "<span class=\"method {}\">{}</span><code>{}</code>",
                operation.method,
                operation.method,
                escape(operation.path)
            );
            assert!(page.contains(&heading), "missing {heading}");
            assert!(page.contains(&format!("href=\"#{}\"", operation.anchor())));
        }
        for name in document["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
        {
            assert!(page.contains(&format!("id=\"schema-{}\"", attribute(name))));
        }
    }

    #[test]
    fn text_from_the_document_is_escaped() {
        let document = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "<script>alert(1)</script>", "description": "a & b"},
            "paths": {"/x/{id}": {"get": {
                "tags": ["t\"><img>"],
                "operationId": "x\"onmouseover=1",
                "summary": "<b>bold</b>",
                "parameters": [{"name": "id", "in": "path", "required": true,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A<B"}}}}}
            }}},
            "components": {"schemas": {"A<B": {"type": "object",
                "properties": {"f": {"type": ["string", "null"], "enum": ["<x>"]}}}}},
        });
        let page = render(&document);
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<b>bold"));
        assert!(!page.contains("<img>"));
        assert!(!page.contains("x\"onmouseover"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("a &amp; b"));
        assert!(page.contains("href=\"#schema-A-B\""));
        assert!(page.contains("&quot;&lt;x&gt;&quot;"));
    }

    #[test]
    fn types_read_as_words() {
        let schema =
            serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/KeyView"}});
        assert_eq!(
            type_of(&schema),
            "array of <a href=\"#schema-KeyView\">KeyView</a>"
        );
        let schema = serde_json::json!({"type": ["string", "null"], "format": "date-time"});
        assert_eq!(type_of(&schema), "string (date-time) or null");
        assert_eq!(type_of(&serde_json::json!({})), "any");
    }
}
