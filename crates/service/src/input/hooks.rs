//! The bodies of the webhook routes and the reading of an endpoint's URL. Which addresses a
//! webhook may go to is the server's rule (it knows the operator's allowance and delivers).

use crate::error::{ServiceError, ServiceResult};
use serde::Deserialize;
use url::Url;
use utoipa::ToSchema;

/// The longest URL accepted.
pub const MAX_URL_BYTES: usize = 2048;
/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    /// Where events are POSTed: an `http` or `https` URL with a host, at most 2048 bytes. The
    /// host must be public: an IP address (in any spelling) that is loopback, private
    /// (10/8, 172.16/12, 192.168/16), shared (100.64/10), link-local (169.254/16, fe80::/10),
    /// unique-local (fc00::/7), multicast, unspecified, broadcast, documentation or reserved,
    /// or an IPv4-mapped, NAT64 or 6to4 form of one, is refused (`webhook_address_refused`), as
    /// is `localhost`, unless the operator allows it. A name is checked at each delivery
    /// against the addresses it resolves to then.
    pub url: String,
}

/// Reads a webhook URL: at most `MAX_URL_BYTES`, `http` or `https`, with a host; every refusal
/// names the URL and what is wrong with it. Whether its address is allowed is checked after.
pub fn parse_url(text: &str) -> ServiceResult<Url> {
    if text.len() > MAX_URL_BYTES {
        return Err(ServiceError::invalid(format!(
            "url is {} bytes long; the limit is {MAX_URL_BYTES}",
            text.len()
        )));
    }
    let url = Url::parse(text)
        .map_err(|e| ServiceError::invalid(format!("url {text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ServiceError::invalid(format!(
            "url {text:?}: the scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ServiceError::invalid(format!("url {text:?} has no host")));
    }
    Ok(url)
}
