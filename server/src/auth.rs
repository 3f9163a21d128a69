//! The Authorization header: parsed so the caller's access key is known. Signatures are not
//! verified yet (any SigV4-signed request is accepted); unsigned requests are refused as
//! DynamoDB refuses them.

use axum::http::HeaderMap;

use crate::error::{ApiError, ErrorKind};

/// Who sent a request, as far as the Authorization header tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key id from the credential scope.
    pub access_key: String,
    /// The region from the credential scope.
    pub region: String,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, ...`.
pub fn caller(headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(ApiError::new(
            ErrorKind::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        ));
    };
    let incomplete = |what: &str| {
        ApiError::new(
            ErrorKind::IncompleteSignature,
            format!(
                "Authorization header requires '{what}' parameter. Authorization={}",
                value.to_str().unwrap_or("")
            ),
        )
    };
    let text = value.to_str().map_err(|_| incomplete("Credential"))?;
    let Some(params) = text.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(ApiError::new(
            ErrorKind::IncompleteSignature,
            format!(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={text}"
            ),
        ));
    };
    let mut credential = None;
    let mut signature = false;
    let mut signed_headers = false;
    for part in params.split(',') {
        let part = part.trim();
        if let Some(c) = part.strip_prefix("Credential=") {
            credential = Some(c);
        } else if part.starts_with("Signature=") {
            signature = true;
        } else if part.starts_with("SignedHeaders=") {
            signed_headers = true;
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    if !signature {
        return Err(incomplete("Signature"));
    }
    if !signed_headers {
        return Err(incomplete("SignedHeaders"));
    }
    let mut scope = credential.split('/');
    let access_key = scope.next().filter(|k| !k.is_empty()).ok_or_else(|| incomplete("Credential"))?;
    let region = scope.nth(1).unwrap_or_default();
    Ok(Caller { access_key: access_key.to_string(), region: region.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = auth.parse() {
            h.insert(axum::http::header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn access_key_and_region_come_from_the_credential_scope() {
        let h = headers(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        );
        let caller = caller(&h).unwrap_or_else(|e| panic!("{}", e.message()));
        assert_eq!(caller.access_key, "AKIDEXAMPLE");
        assert_eq!(caller.region, "eu-west-1");
    }

    #[test]
    fn unsigned_and_malformed_requests_are_refused() {
        assert_eq!(
            caller(&HeaderMap::new()).map_err(|e| e.kind()),
            Err(ErrorKind::MissingAuthenticationToken)
        );
        assert_eq!(caller(&headers("Basic abc")).map_err(|e| e.kind()), Err(ErrorKind::IncompleteSignature));
        assert_eq!(
            caller(&headers("AWS4-HMAC-SHA256 Credential=AK/x/y/z/aws4_request")).map_err(|e| e.kind()),
            Err(ErrorKind::IncompleteSignature)
        );
    }
}
