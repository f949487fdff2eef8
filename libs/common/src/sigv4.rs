//! AWS Signature Version 4 verification of incoming requests (server side).
//!
//! This module owns everything between "a request arrived" and "its signature
//! is valid": parsing the `Authorization` header, the clock-skew window, credential-scope checks, the canonical
//! request and string-to-sign, signing-key derivation (with a small cache) and
//! the constant-time signature comparison. Looking up the secret for an access
//! key id, hashing the body and turning [`SigV4Error`] into AWS error bodies
//! belong to the caller. Both the gateway (the AWS endpoint) and the control
//! plane (the REST API, ADR 008) verify with this one implementation.
//!
//! Typical use: [`parse_request`] (or [`parse_authorization`]), then
//! [`check_clock_skew`], [`check_scope`], the secret lookup by
//! `access_key_id`, [`SigningKeyCache::get_or_derive`], and finally [`verify`]
//! with [`sha256_hex`] of the body.
//!
//! Nothing here logs, nothing panics on client input, and no error message
//! contains a secret or a derived key. Messages follow the wording AWS uses.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{PoisonError, RwLock};

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, Method, Uri, header};
use ring::{digest, hmac};

/// The only signing algorithm AWS SigV4 defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// Allowed distance between the request time and the server clock.
const MAX_SKEW: TimeDelta = TimeDelta::minutes(15);
/// The signing-key cache is cleared once it holds this many keys.
const CACHE_CAPACITY: usize = 10_000;
const X_AMZ_DATE: &str = "x-amz-date";
const HOST_NOT_SIGNED: &str =
    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";

/// What went wrong, mapped by the caller to AWS error types.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SigV4Error {
    /// No usable `Authorization` header and no `X-Amz-Algorithm` query auth
    /// -> `MissingAuthenticationTokenException`.
    #[error("Missing Authentication Token")]
    Missing,
    /// Authorization present but malformed or missing parts
    /// -> `IncompleteSignatureException`; the message says what is wrong.
    #[error("{0}")]
    Incomplete(String),
    /// Signature mismatch -> `InvalidSignatureException`.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    )]
    SignatureMismatch,
    /// Request time too far from the server clock
    /// -> `InvalidSignatureException`.
    #[error("{0}")]
    ClockSkew(String),
}

/// The parsed, structurally valid parts of a SigV4 authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// Credential-scope date, `yyyymmdd`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lowercased, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// Hex, lowercased.
    pub signature: String,
    /// `yyyymmddThhmmssZ`, from `X-Amz-Date` or (converted) from `Date`.
    pub amz_date: String,
}

/// Parse the `Authorization` header plus `X-Amz-Date` (or `Date`), checking
/// what AWS checks before the signature, in the same order and wording.
///
/// Tokens are separated by any run of spaces, tabs and commas, exactly as AWS
/// tolerates; a header that does not start with `AWS4-` counts as missing.
/// Region and service are not checked here (see [`check_scope`]).
pub fn parse_authorization(headers: &HeaderMap) -> Result<Authorization, SigV4Error> {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Err(SigV4Error::Missing);
    };
    let raw = String::from_utf8_lossy(raw.as_bytes());
    if !raw.trim_start().starts_with("AWS4-") {
        return Err(SigV4Error::Missing);
    }
    let mut tokens = raw.split([',', ' ', '\t']).filter(|t| !t.is_empty());
    let algorithm = tokens.next().unwrap_or_default();
    let (mut credential, mut signed_headers, mut signature) = ("", "", "");
    for token in tokens {
        match token.split_once('=').unwrap_or((token, "")) {
            ("Credential", value) => credential = value,
            ("SignedHeaders", value) => signed_headers = value,
            ("Signature", value) => signature = value,
            _ => {}
        }
    }
    let date = header_str(headers, X_AMZ_DATE)
        .or_else(|| header_str(headers, header::DATE.as_str()))
        .unwrap_or_default();

    let mut msg = String::new();
    let params = [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ];
    for (name, _) in params.iter().filter(|(_, value)| value.is_empty()) {
        let _ = write!(msg, "Authorization header requires '{name}' parameter. ");
    }
    if date.is_empty() {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !msg.is_empty() {
        return Err(SigV4Error::Incomplete(format!("{msg}Authorization={raw}")));
    }
    let Some(amz_date) = normalize_request_date(date) else {
        return Err(incomplete_date(date));
    };
    let signed_headers: Vec<String> = signed_headers
        .split(';')
        .map(str::to_ascii_lowercase)
        .collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Incomplete(HOST_NOT_SIGNED.to_owned()));
    }
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). "
        )));
    }
    let parts: Vec<&str> = credential.trim_end_matches('/').split('/').collect();
    let [access_key_id, scope_date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if terminator != TERMINATOR {
        let _ = write!(
            msg,
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        );
    }
    let http_day = amz_date.get(..8).unwrap_or_default();
    if scope_date != http_day {
        let _ = write!(
            msg,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{http_day}', from '{amz_date}'."
        );
    }
    if !msg.is_empty() {
        return Err(SigV4Error::Incomplete(msg));
    }
    Ok(Authorization {
        access_key_id: access_key_id.to_owned(),
        date: scope_date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature: signature.to_ascii_lowercase(),
        amz_date,
    })
}

/// [`parse_authorization`] that also looks at the query string: presigned-URL
/// authentication (`X-Amz-Algorithm` query parameter) is recognised and
/// refused as unsupported rather than reported as a missing token.
pub fn parse_request(uri: &Uri, headers: &HeaderMap) -> Result<Authorization, SigV4Error> {
    let query_auth = uri.query().is_some_and(|q| {
        q.split('&').any(|pair| {
            percent_decode(pair.split('=').next().unwrap_or_default()) == b"X-Amz-Algorithm"
        })
    });
    if !query_auth {
        return parse_authorization(headers);
    }
    let msg = if headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| !v.is_empty())
    {
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    } else {
        "Presigned-URL (query-string) authentication is not supported; sign the request with an Authorization header."
    };
    Err(SigV4Error::Incomplete(msg.to_owned()))
}

/// Check the credential scope names this server's region and one of its
/// service names (exact, case-sensitive; the AWS endpoint has one, the REST API
/// two). AWS words these like this but answers them with
/// `InvalidSignatureException`.
pub fn check_scope(
    auth: &Authorization,
    region: &str,
    services: &[&str],
) -> Result<(), SigV4Error> {
    let mut msg = String::new();
    if auth.region != region {
        let _ = write!(
            msg,
            "Credential should be scoped to a valid region, not '{}'. ",
            auth.region
        );
    }
    if !services.contains(&auth.service.as_str()) {
        let _ = write!(
            msg,
            "Credential should be scoped to correct service: '{}'. ",
            services.join("' or '")
        );
    }
    if msg.is_empty() {
        Ok(())
    } else {
        Err(SigV4Error::Incomplete(msg))
    }
}

/// Check the request time (`amz_date`) is within 15 minutes of `now`.
pub fn check_clock_skew(auth: &Authorization, now: DateTime<Utc>) -> Result<(), SigV4Error> {
    let Some(signed_at) = parse_amz_date(&auth.amz_date) else {
        return Err(incomplete_date(&auth.amz_date));
    };
    let now = now.trunc_subsecs(0);
    let shifted = |delta| {
        now.checked_add_signed(delta)
            .map_or_else(String::new, fmt_date)
    };
    let (date, now_s, age) = (
        &auth.amz_date,
        fmt_date(now),
        now.signed_duration_since(signed_at),
    );
    if age > MAX_SKEW {
        let earliest = shifted(-MAX_SKEW);
        return Err(SigV4Error::ClockSkew(format!(
            "Signature expired: {date} is now earlier than {earliest} ({now_s} - 15 min.)"
        )));
    }
    if -age > MAX_SKEW {
        let latest = shifted(MAX_SKEW);
        return Err(SigV4Error::ClockSkew(format!(
            "Signature not yet current: {date} is still later than {latest} ({now_s} + 15 min.)"
        )));
    }
    Ok(())
}

/// Derive the signing key: HMAC chain over `"AWS4" + secret`, date, region,
/// service and `aws4_request`.
pub fn derive_signing_key(
    secret_access_key: &str,
    date: &str,
    region: &str,
    service: &str,
) -> [u8; 32] {
    let k_secret = [b"AWS4", secret_access_key.as_bytes()].concat();
    let mut key = hmac_sha256(&k_secret, date.as_bytes());
    for part in [region, service, TERMINATOR] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    key
}

/// Verify the request signature with a precomputed signing key.
///
/// `payload_sha256_hex` is the lowercase hex SHA-256 of the body (or the
/// literal the client signed, e.g. a checked `x-amz-content-sha256` value).
/// The comparison is constant-time (`ring::hmac::verify`).
pub fn verify(
    auth: &Authorization,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload_sha256_hex: &str,
    signing_key: &[u8; 32],
) -> Result<(), SigV4Error> {
    let provided = hex::decode(&auth.signature).map_err(|_| SigV4Error::SignatureMismatch)?;
    let sts = string_to_sign(auth, method, uri, headers, payload_sha256_hex);
    let key = hmac::Key::new(hmac::HMAC_SHA256, signing_key);
    hmac::verify(&key, sts.as_bytes(), &provided).map_err(|_| SigV4Error::SignatureMismatch)
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

type ScopeKey = (String, String, String, String);

struct CachedKey {
    /// SHA-256 of the secret the key was derived from, so a changed secret
    /// for the same access key id is never served a stale key.
    secret_digest: [u8; 32],
    key: [u8; 32],
}

/// Signing keys by (access key id, date, region, service), so the HMAC chain
/// is not redone per request. Cleared when it reaches 10 000 entries. Holds
/// no secrets; its `Debug` output shows only the entry count.
pub struct SigningKeyCache {
    entries: RwLock<HashMap<ScopeKey, CachedKey>>,
}

impl SigningKeyCache {
    pub fn new() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The signing key for this scope, derived on first use.
    pub fn get_or_derive(
        &self,
        access_key_id: &str,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let scope = [access_key_id, date, region, service].map(str::to_owned);
        let scope: ScopeKey = scope.into();
        let secret_digest = sha256(secret.as_bytes());
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(hit) = entries.get(&scope)
                && hit.secret_digest == secret_digest
            {
                return hit.key;
            }
        }
        let key = derive_signing_key(secret, date, region, service);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(scope, CachedKey { secret_digest, key });
        key
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.read().map_or(0, |e| e.len());
        f.debug_struct("SigningKeyCache")
            .field("entries", &len)
            .finish()
    }
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of canonical request>`.
fn string_to_sign(
    auth: &Authorization,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload: &str,
) -> String {
    let canonical = canonical_request(auth, method, uri, headers, payload);
    let Authorization {
        amz_date,
        date,
        region,
        service,
        ..
    } = auth;
    let hash = sha256_hex(&canonical);
    format!("{ALGORITHM}\n{amz_date}\n{date}/{region}/{service}/{TERMINATOR}\n{hash}")
}

/// The canonical request, as bytes (header values need not be UTF-8).
fn canonical_request(
    auth: &Authorization,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload: &str,
) -> Vec<u8> {
    let path = canonical_uri(uri.path());
    let query = canonical_query(uri.query());
    let mut out = format!("{method}\n{path}\n{query}\n").into_bytes();
    for name in &auth.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        push_header_values(name, uri, headers, &mut out);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("\n{}\n{payload}", auth.signed_headers.join(";")).as_bytes());
    out
}

/// Path as the SDKs sign it for non-S3 services: dot segments and empty
/// segments removed, then the (already percent-encoded) path encoded again.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => drop(segments.pop()),
            s => segments.push(s),
        }
    }
    let lead = if path.starts_with('/') { "/" } else { "" };
    let trail = if path.ends_with('/') && !segments.is_empty() {
        "/"
    } else {
        ""
    };
    uri_encode(
        format!("{lead}{}{trail}", segments.join("/")).as_bytes(),
        true,
    )
}

/// Name/value pairs decoded then re-encoded with the RFC 3986 unreserved set,
/// sorted by name then value, `=` always present.
fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(name, value)| {
            (
                uri_encode(&percent_decode(name), false),
                uri_encode(&percent_decode(value), false),
            )
        })
        .collect();
    pairs.sort_unstable();
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.join("&")
}

/// Values of one signed header, trimmed, inner whitespace runs collapsed to a
/// single space, several values joined with `,`. A signed `host` absent from
/// the headers (HTTP/2) is taken from the URI authority (`:authority`).
fn push_header_values(name: &str, uri: &Uri, headers: &HeaderMap, out: &mut Vec<u8>) {
    let mut found = false;
    if let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) {
        for value in headers.get_all(&header_name) {
            if found {
                out.push(b',');
            }
            push_trimmed(value.as_bytes(), out);
            found = true;
        }
    }
    if let (false, "host", Some(authority)) = (found, name, uri.authority()) {
        push_trimmed(authority.as_str().as_bytes(), out);
    }
}

fn push_trimmed(value: &[u8], out: &mut Vec<u8>) {
    let (mut started, mut pending_space) = (false, false);
    for &b in value {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c) {
            pending_space = started;
            continue;
        }
        if pending_space {
            out.push(b' ');
            pending_space = false;
        }
        out.push(b);
        started = true;
    }
}

/// Percent-encode everything but the RFC 3986 unreserved set (and `/`).
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-decoding that keeps malformed escapes as literal text.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| b == b'%')
            .and_then(|hex| {
                let digit = |c: &u8| char::from(*c).to_digit(16);
                let [hi, lo] = hex else { return None };
                Some(digit(hi)? * 16 + digit(lo)?)
            });
        let (byte, step) = match escaped.and_then(|v| u8::try_from(v).ok()) {
            Some(decoded) => (decoded, 3),
            None => (b, 1),
        };
        out.push(byte);
        i += step;
    }
    out
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn incomplete_date(value: &str) -> SigV4Error {
    SigV4Error::Incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

/// `yyyymmddThhmmssZ` from either that form or an RFC 1123 `Date` value.
fn normalize_request_date(value: &str) -> Option<String> {
    if let Some(dt) = parse_amz_date(value) {
        return Some(fmt_date(dt));
    }
    // Lenient about a wrong weekday name, as the AWS test suite's own
    // `Mon, 09 Sep 2011` (a Friday) requires.
    let without_weekday = value
        .split_once(',')
        .map_or(value, |(_, rest)| rest.trim_start());
    DateTime::parse_from_rfc2822(value)
        .or_else(|_| DateTime::parse_from_rfc2822(without_weekday))
        .ok()
        .map(|dt| fmt_date(dt.with_timezone(&Utc)))
}

/// Strict ISO-8601 basic format, `yyyymmddThhmmssZ`.
fn parse_amz_date(value: &str) -> Option<DateTime<Utc>> {
    let b = value.as_bytes();
    let digits = |i: usize, c: &u8| i == 8 || i == 15 || c.is_ascii_digit();
    let shaped = b.len() == 16
        && b.get(8) == Some(&b'T')
        && b.get(15) == Some(&b'Z')
        && b.iter().enumerate().all(|(i, c)| digits(i, c));
    if !shaped {
        return None;
    }
    NaiveDateTime::parse_from_str(value, AMZ_DATE_FORMAT)
        .ok()
        .map(|naive| naive.and_utc())
}

fn fmt_date(dt: DateTime<Utc>) -> String {
    dt.format(AMZ_DATE_FORMAT).to_string()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg).as_ref());
    out
}

#[cfg(test)]
mod tests {
    //! Fixed vectors: the AWS SigV4 test suite's `get-vanilla` (2015) and
    //! 2011 `Date`-header `get-vanilla`, and the IAM `ListUsers` example and
    //! signing-key examples from the AWS SigV4 documentation. Every fixed
    //! signature and key below (including the extra Kinesis and encoding
    //! vectors) was also recomputed independently with botocore 1.43
    //! `botocore.auth.SigV4Auth` (Python, timestamp pinned via
    //! `request.context["timestamp"]`), so symmetric mistakes in the
    //! round-trip tests cannot hide.
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const VANILLA_SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    const KINESIS_BODY: &[u8] = br#"{"StreamName":"s","Data":"AA==","PartitionKey":"k"}"#;
    const KINESIS_SIG: &str = "e79f93be4c621ebb5d02a737dd53d5e95c13e380b92f2c2aefe88a351673fc25";

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn authz(scope: &str, signed: &str, sig: &str) -> String {
        format!("{ALGORITHM} Credential={AKID}/{scope}, SignedHeaders={signed}, Signature={sig}")
    }

    /// Parse, derive the key from `secret` and verify.
    fn check(
        method: &str,
        uri: &str,
        headers: &HeaderMap,
        payload: &str,
        secret: &str,
    ) -> Result<(), SigV4Error> {
        let uri: Uri = uri.parse().unwrap();
        let auth = parse_request(&uri, headers)?;
        let key = derive_signing_key(secret, &auth.date, &auth.region, &auth.service);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        verify(&auth, &method, &uri, headers, payload, &key)
    }

    fn vanilla_headers() -> HeaderMap {
        map(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                &authz(
                    "20150830/us-east-1/service/aws4_request",
                    "host;x-amz-date",
                    VANILLA_SIG,
                ),
            ),
        ])
    }

    fn kinesis_headers(my_header: &str, target: &str) -> HeaderMap {
        map(&[
            ("host", "localhost:4567"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target),
            ("my-header", my_header),
            ("x-amz-date", "20240102T030405Z"),
            (
                "authorization",
                &authz(
                    "20240102/eu-west-1/kinesis/aws4_request",
                    "content-type;host;my-header;x-amz-date;x-amz-target",
                    KINESIS_SIG,
                ),
            ),
        ])
    }

    fn kinesis_check(
        headers: &HeaderMap,
        method: &str,
        uri: &str,
        body: &[u8],
        secret: &str,
    ) -> Result<(), SigV4Error> {
        check(method, uri, headers, &sha256_hex(body), secret)
    }

    fn incomplete(result: Result<Authorization, SigV4Error>) -> String {
        match result {
            Err(SigV4Error::Incomplete(msg)) => msg,
            other => panic!("expected Incomplete, got {other:?}"),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        parse_amz_date(s).unwrap()
    }

    #[test]
    fn signing_key_vectors() {
        let cases = [
            (
                "20150830",
                "us-east-1",
                "iam",
                "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
            ),
            (
                "20120215",
                "us-east-1",
                "iam",
                "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d",
            ),
            (
                "20240102",
                "eu-west-1",
                "kinesis",
                "18fb2f564266e3ac1d7c4494e791b48389f5add7d7bc4e9628a8026f7abbf72a",
            ),
        ];
        for (date, region, service, expected) in cases {
            assert_eq!(
                hex::encode(derive_signing_key(SECRET, date, region, service)),
                expected
            );
        }
    }

    #[test]
    fn sha256_hex_vector() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
        assert_eq!(
            sha256_hex(KINESIS_BODY),
            "1b2cf4f0d451e5181017161cf428d8cfea9801f7f6a501580cd8f5c84433cdee"
        );
    }

    #[test]
    fn get_vanilla_verifies() {
        let headers = vanilla_headers();
        let auth = parse_authorization(&headers).unwrap();
        assert_eq!(
            auth,
            Authorization {
                access_key_id: AKID.into(),
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "service".into(),
                signed_headers: vec!["host".into(), "x-amz-date".into()],
                signature: VANILLA_SIG.into(),
                amz_date: "20150830T123600Z".into(),
            }
        );
        assert_eq!(check("GET", "/", &headers, EMPTY_SHA256, SECRET), Ok(()));
    }

    #[test]
    fn http2_host_comes_from_authority() {
        let mut headers = vanilla_headers();
        headers.remove(header::HOST);
        let uri = "https://example.amazonaws.com/";
        assert_eq!(check("GET", uri, &headers, EMPTY_SHA256, SECRET), Ok(()));
        let other = "https://other.amazonaws.com/";
        assert_eq!(
            check("GET", other, &headers, EMPTY_SHA256, SECRET),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn iam_list_users_example_verifies() {
        let headers = map(&[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                &authz(
                    "20150830/us-east-1/iam/aws4_request",
                    "content-type;host;x-amz-date",
                    "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
                ),
            ),
        ]);
        let uri = "/?Action=ListUsers&Version=2010-05-08";
        assert_eq!(check("GET", uri, &headers, EMPTY_SHA256, SECRET), Ok(()));
        let reordered = "/?Version=2010-05-08&Action=ListUsers";
        assert_eq!(
            check("GET", reordered, &headers, EMPTY_SHA256, SECRET),
            Ok(())
        );
        let changed = "/?Action=ListUsers&Version=2010-05-09";
        assert_eq!(
            check("GET", changed, &headers, EMPTY_SHA256, SECRET),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn kinesis_post_verifies_and_collapses_whitespace() {
        let target = "Kinesis_20131202.PutRecord";
        let messy = kinesis_headers("  a   b \t c  ", target);
        assert_eq!(
            kinesis_check(&messy, "POST", "/", KINESIS_BODY, SECRET),
            Ok(())
        );
        // The same value with whitespace already collapsed signs identically.
        let clean = kinesis_headers("a b c", target);
        assert_eq!(
            kinesis_check(&clean, "POST", "/", KINESIS_BODY, SECRET),
            Ok(())
        );
        let inner = kinesis_headers("a bc", target);
        assert_eq!(
            kinesis_check(&inner, "POST", "/", KINESIS_BODY, SECRET),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn any_change_is_a_mismatch() {
        let ok = kinesis_headers("a b c", "Kinesis_20131202.PutRecord");
        let mismatch = Err(SigV4Error::SignatureMismatch);
        let other_target = kinesis_headers("a b c", "Kinesis_20131202.PutRecords");
        assert_eq!(
            kinesis_check(&other_target, "POST", "/", KINESIS_BODY, SECRET),
            mismatch
        );
        assert_eq!(kinesis_check(&ok, "POST", "/", b"{}", SECRET), mismatch);
        assert_eq!(
            kinesis_check(&ok, "POST", "/x", KINESIS_BODY, SECRET),
            mismatch
        );
        assert_eq!(
            kinesis_check(&ok, "POST", "/?a=b", KINESIS_BODY, SECRET),
            mismatch
        );
        assert_eq!(
            kinesis_check(&ok, "PUT", "/", KINESIS_BODY, SECRET),
            mismatch
        );
        assert_eq!(
            kinesis_check(&ok, "POST", "/", KINESIS_BODY, "wrong-secret"),
            mismatch
        );
        let mut other_host = ok.clone();
        other_host.insert(header::HOST, HeaderValue::from_static("localhost:4568"));
        assert_eq!(
            kinesis_check(&other_host, "POST", "/", KINESIS_BODY, SECRET),
            mismatch
        );
        for bad_sig in ["zz", "", "e79f93be", &KINESIS_SIG.replace('e', "f")] {
            let mut headers = ok.clone();
            let scope = "20240102/eu-west-1/kinesis/aws4_request";
            let value = authz(
                scope,
                "content-type;host;my-header;x-amz-date;x-amz-target",
                bad_sig,
            );
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            let result = kinesis_check(&headers, "POST", "/", KINESIS_BODY, SECRET);
            assert!(matches!(
                result,
                Err(SigV4Error::SignatureMismatch | SigV4Error::Incomplete(_))
            ));
        }
        // Upper-case hex is the same signature.
        let mut upper = ok.clone();
        let value = authz(
            "20240102/eu-west-1/kinesis/aws4_request",
            "content-type;host;my-header;x-amz-date;x-amz-target",
            &KINESIS_SIG.to_ascii_uppercase(),
        );
        upper.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert_eq!(
            kinesis_check(&upper, "POST", "/", KINESIS_BODY, SECRET),
            Ok(())
        );
    }

    #[test]
    fn path_query_and_repeated_header_encoding() {
        // botocore canonical URI `/foo%2520bar/baz/x~y`, query
        // `%C3%BCber=caf%C3%A9~%2A&a=1&a=x%2Fy%20z&b=2&empty=`.
        let headers = map(&[
            ("host", "example.amazonaws.com"),
            ("my-header1", "value2"),
            ("my-header1", "value2"),
            ("my-header1", "value1"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                &authz(
                    "20150830/us-east-1/service/aws4_request",
                    "host;my-header1;x-amz-date",
                    "b8bc059498f62131ddc17fad1a968d8d431dacbc417f4bba1d5aa8d8a19a6018",
                ),
            ),
        ]);
        let uri = "/foo%20bar/./baz//qux/../x~y?b=2&a=x%2fy%20z&a=1&%C3%BCber=caf%C3%A9%7E*&empty";
        assert_eq!(check("GET", uri, &headers, EMPTY_SHA256, SECRET), Ok(()));
        assert_eq!(
            canonical_uri("/foo%20bar/./baz//qux/../x~y"),
            "/foo%2520bar/baz/x~y"
        );
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("//"), "/");
        assert_eq!(canonical_uri("/a/../../b/"), "/b/");
        assert_eq!(
            canonical_query(Some("b=2&a=x%2fy%20z&a=1&%C3%BCber=caf%C3%A9%7E*&empty")),
            "%C3%BCber=caf%C3%A9~%2A&a=1&a=x%2Fy%20z&b=2&empty="
        );
        assert_eq!(canonical_query(Some("a=%zz&&b=%4")), "a=%25zz&b=%254");
    }

    #[test]
    fn date_header_instead_of_x_amz_date() {
        let headers = map(&[
            ("host", "host.foo.com"),
            ("date", "Mon, 09 Sep 2011 23:36:00 GMT"),
            (
                "authorization",
                &authz(
                    "20110909/us-east-1/host/aws4_request",
                    "date;host",
                    "b27ccfbfa7df52a200ff74193ca6e32d4b48b8856fab7ebf1c595d0670a7e470",
                ),
            ),
        ]);
        assert_eq!(
            parse_authorization(&headers).unwrap().amz_date,
            "20110909T233600Z"
        );
        assert_eq!(check("GET", "/", &headers, EMPTY_SHA256, SECRET), Ok(()));
    }

    #[test]
    fn presigned_query_auth_is_refused_not_missing() {
        // A botocore `SigV4QueryAuth` URL.
        let uri: Uri = "/?Action=ListUsers&X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request\
            &X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=b1484074bac39e05fdc57be3c8d65ca356ef77850f8c3e3eee5476500bc7c15c"
            .parse()
            .unwrap();
        let headers = map(&[("host", "example.amazonaws.com")]);
        assert!(incomplete(parse_request(&uri, &headers)).starts_with("Presigned-URL"));
        let encoded: Uri = "/?X-Amz-%41lgorithm".parse().unwrap();
        assert!(incomplete(parse_request(&encoded, &headers)).starts_with("Presigned-URL"));
        let mut both = headers.clone();
        both.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("AWS4-HMAC-SHA256 x"),
        );
        assert!(incomplete(parse_request(&uri, &both)).starts_with("Found both"));
        assert_eq!(
            parse_request(&Uri::from_static("/?a=b"), &headers),
            Err(SigV4Error::Missing)
        );
        assert_eq!(
            parse_request(&Uri::from_static("/"), &vanilla_headers()),
            parse_authorization(&vanilla_headers())
        );
    }

    #[test]
    fn missing_authorization() {
        assert_eq!(
            parse_authorization(&HeaderMap::new()),
            Err(SigV4Error::Missing)
        );
        assert_eq!(
            parse_request(&Uri::from_static("/?a=b"), &HeaderMap::new()),
            Err(SigV4Error::Missing)
        );
        for value in ["", "Basic dXNlcjpwYXNz", "AWS AKID:sig"] {
            let headers = map(&[("authorization", value), ("x-amz-date", "20150830T123600Z")]);
            assert_eq!(parse_authorization(&headers), Err(SigV4Error::Missing));
        }
        assert_eq!(
            SigV4Error::Missing.to_string(),
            "Missing Authentication Token"
        );
        assert!(SigV4Error::SignatureMismatch.to_string().starts_with(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult"
        ));
    }

    #[test]
    fn incomplete_messages() {
        let only = map(&[("authorization", "AWS4-HMAC-SHA256")]);
        assert_eq!(
            incomplete(parse_authorization(&only)),
            "Authorization header requires 'Credential' parameter. \
             Authorization header requires 'Signature' parameter. \
             Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization=AWS4-HMAC-SHA256"
        );
        let with = |auth: &str, date: &str| {
            map(&[("authorization", auth), ("x-amz-date", date), ("host", "h")])
        };
        let good_date = "20150830T123600Z";
        let no_sig = "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=";
        assert_eq!(
            incomplete(parse_authorization(&with(no_sig, good_date))),
            format!("Authorization header requires 'Signature' parameter. Authorization={no_sig}")
        );
        let full = |cred: &str, signed: &str| {
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature=abcd")
        };
        let cred = "A/20150830/r/s/aws4_request";
        assert_eq!(
            incomplete(parse_authorization(&with(&full(cred, "host"), "2015"))),
            "Date must be in ISO-8601 'basic format'. Got '2015'. See http://en.wikipedia.org/wiki/ISO_8601"
        );
        assert_eq!(
            incomplete(parse_authorization(&with(
                &full(cred, "x-amz-date"),
                good_date
            ))),
            HOST_NOT_SIGNED
        );
        let sha512 = full(cred, "host").replace("SHA256", "SHA512");
        assert_eq!(
            incomplete(parse_authorization(&with(&sha512, good_date))),
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "
        );
        assert_eq!(
            incomplete(parse_authorization(&with(
                &full("a/b/c/d", "host"),
                good_date
            ))),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'"
        );
        assert_eq!(
            incomplete(parse_authorization(&with(
                &full("a/b/c/d/e", "host"),
                good_date
            ))),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. \
             Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
             'b' != '20150830', from '20150830T123600Z'."
        );
        // Trailing slashes are ignored, signed header names are lower-cased.
        let auth = parse_authorization(&with(
            &full(&format!("{cred}//"), "Host;X-Amz-Date"),
            good_date,
        ))
        .unwrap();
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(check_scope(&auth, "r", &["s"]), Ok(()));
        assert_eq!(
            check_scope(&auth, "us-east-1", &["kinesis"]),
            Err(SigV4Error::Incomplete(
                "Credential should be scoped to a valid region, not 'r'. \
                 Credential should be scoped to correct service: 'kinesis'. "
                    .into()
            ))
        );
        assert_eq!(check_scope(&auth, "r", &["fjord", "s"]), Ok(()));
        assert_eq!(
            check_scope(&auth, "r", &["fjord", "execute-api"]),
            Err(SigV4Error::Incomplete(
                "Credential should be scoped to correct service: 'fjord' or 'execute-api'. ".into()
            ))
        );
    }

    #[test]
    fn tolerant_separators() {
        let expected = parse_authorization(&vanilla_headers()).unwrap();
        let cred = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        let variants = [
            format!(
                "AWS4-HMAC-SHA256 {cred},SignedHeaders=host;x-amz-date,Signature={VANILLA_SIG}"
            ),
            format!(
                "  AWS4-HMAC-SHA256,, {cred} ,  , SignedHeaders=host;x-amz-date,\tSignature={VANILLA_SIG} ,"
            ),
            format!(
                "AWS4-HMAC-SHA256 Signature={VANILLA_SIG} Foo=bar {cred} SignedHeaders=host;x-amz-date"
            ),
        ];
        for value in variants {
            let mut headers = vanilla_headers();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(
                parse_authorization(&headers).as_ref(),
                Ok(&expected),
                "{value}"
            );
            assert_eq!(check("GET", "/", &headers, EMPTY_SHA256, SECRET), Ok(()));
        }
    }

    #[test]
    fn clock_skew_both_directions() {
        let mut auth = parse_authorization(&vanilla_headers()).unwrap();
        auth.amz_date = "20130524T000000Z".into();
        assert_eq!(check_clock_skew(&auth, utc("20130524T001500Z")), Ok(()));
        assert_eq!(check_clock_skew(&auth, utc("20130523T234500Z")), Ok(()));
        assert_eq!(
            check_clock_skew(&auth, utc("20130524T002000Z")),
            Err(SigV4Error::ClockSkew(
                "Signature expired: 20130524T000000Z is now earlier than 20130524T000500Z \
                 (20130524T002000Z - 15 min.)"
                    .into()
            ))
        );
        assert_eq!(
            check_clock_skew(&auth, utc("20130523T233000Z")),
            Err(SigV4Error::ClockSkew(
                "Signature not yet current: 20130524T000000Z is still later than 20130523T234500Z \
                 (20130523T233000Z + 15 min.)"
                    .into()
            ))
        );
        let just_over = utc("20130524T001500Z") + TimeDelta::milliseconds(999);
        assert_eq!(check_clock_skew(&auth, just_over), Ok(()));
        let over = utc("20130524T001501Z");
        assert!(matches!(
            check_clock_skew(&auth, over),
            Err(SigV4Error::ClockSkew(_))
        ));
    }

    #[test]
    fn cache_matches_derivation_and_tracks_secret_changes() {
        let cache = SigningKeyCache::new();
        let derived = derive_signing_key(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(
            cache.get_or_derive(AKID, SECRET, "20150830", "us-east-1", "iam"),
            derived
        );
        assert_eq!(
            cache.get_or_derive(AKID, SECRET, "20150830", "us-east-1", "iam"),
            derived
        );
        let rotated = cache.get_or_derive(AKID, "new-secret", "20150830", "us-east-1", "iam");
        assert_eq!(
            rotated,
            derive_signing_key("new-secret", "20150830", "us-east-1", "iam")
        );
        assert_ne!(rotated, derived);
        let debug = format!("{cache:?}");
        assert!(
            !debug.contains(&hex::encode(derived)) && !debug.contains(SECRET),
            "{debug}"
        );
        for i in 0..CACHE_CAPACITY {
            cache.get_or_derive(&format!("AKID{i}"), SECRET, "20150830", "us-east-1", "iam");
        }
        assert!(cache.entries.read().unwrap().len() <= CACHE_CAPACITY);
        cache.get_or_derive("one-more", SECRET, "20150830", "us-east-1", "iam");
        assert!(cache.entries.read().unwrap().len() <= CACHE_CAPACITY);
    }

    /// Test-only signer sharing the verifier's canonicalisation; the fixed
    /// vectors above guard against mistakes both sides would share.
    fn sign(method: &Method, uri: &Uri, headers: &mut HeaderMap, payload: &str, secret: &str) {
        let amz_date = "20240102T030405Z";
        headers.insert(X_AMZ_DATE, HeaderValue::from_static(amz_date));
        let mut names: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
        names.push("host".into());
        names.sort();
        names.dedup();
        let auth = Authorization {
            access_key_id: AKID.into(),
            date: amz_date[..8].into(),
            region: "us-east-1".into(),
            service: "kinesis".into(),
            signed_headers: names,
            signature: String::new(),
            amz_date: amz_date.into(),
        };
        let sts = string_to_sign(&auth, method, uri, headers, payload);
        let key = derive_signing_key(secret, &auth.date, &auth.region, &auth.service);
        let sig = hex::encode(hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &key),
            sts.as_bytes(),
        ));
        let value = format!(
            "{ALGORITHM} Credential={AKID}/{}/us-east-1/kinesis/aws4_request, SignedHeaders={}, Signature={sig}",
            auth.date,
            auth.signed_headers.join(";")
        );
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
    }

    fn header_soup() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            "AWS4-HMAC-SHA256",
            "AWS4-[A-Z0-9-]{0,12}",
            "Credential=[A-Za-z0-9/_%-]{0,40}",
            "SignedHeaders=[a-z;:-]{0,30}",
            "Signature=[0-9a-fA-Fz]{0,70}",
            "[ -~]{0,12}",
        ];
        (prop::collection::vec(token, 0..8), "[ ,\t]{1,3}")
            .prop_map(|(tokens, sep)| tokens.join(&sep))
    }

    proptest! {
        #[test]
        fn parsing_never_panics(
            auth in prop_oneof![header_soup(), any::<String>()],
            date in prop_oneof!["[0-9]{8}T[0-9]{6}Z", "[ -~]{0,30}"],
            query in "[!-~]{0,40}",
            path in "/[!-~]{0,20}",
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(auth.as_bytes()) {
                headers.insert(header::AUTHORIZATION, value);
            }
            if let Ok(value) = HeaderValue::from_str(&date) {
                headers.insert(X_AMZ_DATE, value.clone());
                headers.insert(header::DATE, value);
            }
            let _ = parse_authorization(&headers);
            let Ok(uri) = format!("{path}?{query}").parse::<Uri>() else { return Ok(()) };
            if let Ok(auth) = parse_request(&uri, &headers) {
                let _ = check_clock_skew(&auth, Utc::now());
                let _ = check_scope(&auth, "us-east-1", &["kinesis"]);
                let key = derive_signing_key("s", &auth.date, &auth.region, &auth.service);
                prop_assert_ne!(verify(&auth, &Method::GET, &uri, &headers, EMPTY_SHA256, &key), Ok(()));
            }
        }

        #[test]
        fn canonical_helpers_never_panic(s in any::<String>()) {
            let _ = canonical_uri(&s);
            let _ = canonical_query(Some(&s));
            let _ = percent_decode(&s);
            let _ = parse_request(&Uri::from_static("/"), &HeaderMap::new());
            let _ = normalize_request_date(&s);
        }

        #[test]
        fn sign_then_verify_round_trips(
            values in prop::collection::vec(("x-[a-z]{1,8}", "[ \t!-~]{0,30}"), 0..5),
            query in "[!-~&&[^#]]{0,40}",
            path in "(/[A-Za-z0-9._~%-]{0,8}){1,4}",
            body in any::<Vec<u8>>(),
        ) {
            let Ok(uri) = format!("{path}?{query}").parse::<Uri>() else { return Ok(()) };
            let mut headers = map(&[("host", "localhost:4567")]);
            for (name, value) in &values {
                let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
                headers.append(name, HeaderValue::from_str(value).unwrap());
            }
            let payload = sha256_hex(&body);
            sign(&Method::POST, &uri, &mut headers, &payload, SECRET);
            let auth = parse_request(&uri, &headers).unwrap();
            let key = derive_signing_key(SECRET, &auth.date, &auth.region, &auth.service);
            prop_assert_eq!(verify(&auth, &Method::POST, &uri, &headers, &payload, &key), Ok(()));
            let wrong = derive_signing_key("other", &auth.date, &auth.region, &auth.service);
            prop_assert_eq!(
                verify(&auth, &Method::POST, &uri, &headers, &payload, &wrong),
                Err(SigV4Error::SignatureMismatch)
            );
            let mut tampered = headers.clone();
            tampered.append("x-extra", HeaderValue::from_static("1"));
            tampered.insert(header::HOST, HeaderValue::from_static("localhost:4568"));
            prop_assert_eq!(
                verify(&auth, &Method::POST, &uri, &tampered, &payload, &key),
                Err(SigV4Error::SignatureMismatch)
            );
        }
    }
}
