//! The getting-started snippets, filled in with this installation's values.

use crate::server_fns::auth::ConsoleInfo;

pub struct Snippets {
    pub aws_cli: String,
    pub boto3: String,
    pub rust: String,
    pub curl: String,
}

pub fn snippets(info: &ConsoleInfo, account_id: &str) -> Snippets {
    let endpoint = &info.kinesis_endpoint;
    let region = &info.region;
    let rest = &info.rest_base;
    Snippets {
        aws_cli: format!(
            "export AWS_ACCESS_KEY_ID=<access key id>\n\
             export AWS_SECRET_ACCESS_KEY=<secret access key>\n\
             export AWS_DEFAULT_REGION={region}\n\n\
             aws --endpoint-url {endpoint} kinesis create-stream --stream-name orders --shard-count 1\n\
             aws --endpoint-url {endpoint} kinesis put-record --stream-name orders \\\n    \
             --partition-key order-1 --data '{{\"total\": 42}}' --cli-binary-format raw-in-base64-out\n\
             aws --endpoint-url {endpoint} kinesis list-streams\n\
             # Stream ARNs look like arn:aws:kinesis:{region}:{account_id}:stream/orders"
        ),
        boto3: format!(
            "import boto3\n\n\
             kinesis = boto3.client(\n    \"kinesis\",\n    endpoint_url=\"{endpoint}\",\n    region_name=\"{region}\",\n    \
             aws_access_key_id=\"<access key id>\",\n    aws_secret_access_key=\"<secret access key>\",\n)\n\
             kinesis.put_record(StreamName=\"orders\", PartitionKey=\"order-1\", Data=b'{{\"total\": 42}}')\n\
             print(kinesis.list_streams()[\"StreamNames\"])"
        ),
        rust: format!(
            "// Cargo.toml: aws-config, aws-sdk-kinesis, tokio\n\
             let config = aws_config::defaults(aws_config::BehaviorVersion::latest())\n    \
             .endpoint_url(\"{endpoint}\")\n    \
             .region(aws_config::Region::new(\"{region}\"))\n    \
             .load()\n    .await; // credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY\n\
             let kinesis = aws_sdk_kinesis::Client::new(&config);\n\
             kinesis\n    .put_record()\n    .stream_name(\"orders\")\n    .partition_key(\"order-1\")\n    \
             .data(aws_sdk_kinesis::primitives::Blob::new(r#\"{{\"total\": 42}}\"#))\n    .send()\n    .await?;"
        ),
        curl: format!(
            "curl --aws-sigv4 \"aws:amz:{region}:fjord\" \\\n     \
             --user \"<access key id>:<secret access key>\" \\\n     \
             -H 'content-type: application/json' \\\n     \
             -d '{{\"records\":[{{\"partition_key\":\"order-1\",\"data\":{{\"total\":42}}}}]}}' \\\n     \
             {rest}/streams/orders/records"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_carry_the_installation_values() {
        let info = ConsoleInfo {
            kinesis_endpoint: "http://fjord.internal:4566".into(),
            region: "eu-north-1".into(),
            rest_base: "https://fjord.internal/api/v1".into(),
        };
        let snippets = snippets(&info, "123456789012");
        for text in [&snippets.aws_cli, &snippets.boto3, &snippets.rust] {
            assert!(text.contains("http://fjord.internal:4566"), "{text}");
            assert!(text.contains("eu-north-1"), "{text}");
        }
        assert!(
            snippets
                .aws_cli
                .contains("arn:aws:kinesis:eu-north-1:123456789012:stream/orders")
        );
        assert!(
            snippets
                .curl
                .contains("https://fjord.internal/api/v1/streams/orders/records")
        );
        assert!(snippets.curl.contains("aws:amz:eu-north-1:fjord"));
    }
}
