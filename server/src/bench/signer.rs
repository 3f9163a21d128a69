//! Signs requests with AWS Signature Version 4 for the `dynamodb` service, through the same
//! `aws-sigv4` crate the AWS SDK for Rust uses, so the server sees what an SDK would send.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::credentials::Credentials;

/// The signing name of DynamoDB.
pub const SERVICE: &str = "dynamodb";

/// Holds the identity and region every request is signed with.
#[derive(Debug)]
pub struct Signer {
    identity: Identity,
    region: String,
}

impl Signer {
    /// A signer for `credentials` in `region`.
    pub fn new(credentials: &Credentials, region: String) -> Signer {
        let identity = aws_credential_types::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.clone(),
            credentials.session_token.clone(),
            None,
            "eddy-bench",
        )
        .into();
        Signer { identity, region }
    }

    /// Signs a request made of `method`, the absolute `uri`, the `headers` to sign (which must
    /// include `host` as sent) and the whole `body`, at `time`. Returns the headers to add:
    /// `authorization`, `x-amz-date` and, with a session token, `x-amz-security-token`.
    pub fn sign(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> anyhow::Result<Vec<(&'static str, String)>> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SERVICE)
            .time(time)
            .settings(SigningSettings::default())
            .build()?
            .into();
        let request = SignableRequest::new(method, uri, headers.iter().copied(), SignableBody::Bytes(body))?;
        let (instructions, _signature) = sign(request, &params)?.into_parts();
        let (added, _query) = instructions.into_parts();
        Ok(added.into_iter().map(|header| (header.name(), header.value().to_string())).collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::Signer;
    use crate::bench::credentials::{Credentials, Source};

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".to_string(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_string(),
            session_token: token.map(String::from),
            source: Source::Environment,
        }
    }

    const BODY: &[u8] = br#"{"TableName":"eddy-bench","Key":{"pk":{"S":"item-00000042"},"sk":{"S":"0"}}}"#;

    fn headers(len: &str) -> Vec<(&str, &str)> {
        vec![
            ("host", "127.0.0.1:8000"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ("content-length", len),
        ]
    }

    /// 2015-08-30T12:36:00Z, the date of the AWS SigV4 test suite.
    fn time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    /// The expected values were computed independently with botocore's `SigV4Auth` (the AWS CLI's
    /// signer) over the same request.
    #[test]
    fn dynamodb_post_matches_botocore() {
        let signer = Signer::new(&creds(None), "us-east-1".to_string());
        let len = BODY.len().to_string();
        let added = signer.sign("POST", "http://127.0.0.1:8000/", &headers(&len), BODY, time()).unwrap();
        let get = |name: &str| added.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(get("authorization"), Some(EXPECTED_AUTHORIZATION));
        assert_eq!(get("x-amz-security-token"), None);
    }

    #[test]
    fn session_token_is_added_and_signed() {
        let signer = Signer::new(&creds(Some("TOKEN")), "us-east-1".to_string());
        let len = BODY.len().to_string();
        let added = signer.sign("POST", "http://127.0.0.1:8000/", &headers(&len), BODY, time()).unwrap();
        let get = |name: &str| added.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("x-amz-security-token"), Some("TOKEN"));
        assert_eq!(get("authorization"), Some(EXPECTED_AUTHORIZATION_WITH_TOKEN));
    }

    const EXPECTED_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
        Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, \
        SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-target, \
        Signature=d641a57ab5a28146901be28a46a6a2bcc4dcde0698720e385295384613b74663";
    const EXPECTED_AUTHORIZATION_WITH_TOKEN: &str = "AWS4-HMAC-SHA256 \
        Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, \
        SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
        Signature=cf664d09e84653d41a10ead6530255f8f1813ad84f4781fbdef675510a98f12e";
}
