//! Queue counts from RabbitMQ's management HTTP API (`GET /api/queues/<vhost>/<queue>`), for
//! what AMQP cannot tell: how many messages are delivered and not yet acknowledged. Ready
//! messages and consumers come from the broker over AMQP (a passive declare), which is live;
//! the management API's figures are refreshed by the broker every
//! `collect_statistics_interval` (5 s by default).
//!
//! The URL is the one the KEDA trigger of earlier charts used: `http://user:pass@host:15672/`
//! followed by the percent-encoded vhost (`%2f` for `/`); the credentials go in a Basic
//! authorization header (reqwest takes them from the URL).

use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::infra::amqp::redact;

/// A queue's counts as the management API reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct QueueCounts {
    #[serde(default)]
    pub messages_ready: u64,
    #[serde(default)]
    pub messages_unacknowledged: u64,
    #[serde(default)]
    pub consumers: u64,
}

/// A client of one vhost's management API.
pub struct Management {
    client: reqwest::Client,
    /// `scheme://user:pass@host:port`, without the vhost.
    base: String,
    /// The vhost, percent-encoded as in the URL.
    vhost: String,
    /// For messages: the URL without its password.
    shown: String,
}

impl Management {
    /// From `http(s)://user:pass@host:port/<vhost>`.
    pub fn new(url: &str) -> anyhow::Result<Management> {
        let shown = redact(url);
        let parsed = reqwest::Url::parse(url)
            .with_context(|| format!("--management-url {shown} is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            bail!("--management-url {shown} must be http(s)://user:pass@host:port/<vhost>");
        }
        let vhost = parsed.path().trim_start_matches('/').to_string();
        let vhost = if vhost.is_empty() {
            "%2F".to_string()
        } else {
            vhost
        };
        if parsed.query().is_some() || parsed.fragment().is_some() {
            bail!("--management-url {shown} must not have a query or fragment");
        }
        let base = url
            .strip_suffix(parsed.path())
            .unwrap_or(url)
            .trim_end_matches('/')
            .to_string();
        // The binary installs ring as the TLS provider at start; a client built elsewhere
        // (tests) needs it too, and installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("building the management API client")?;
        Ok(Management {
            client,
            base,
            vhost,
            shown,
        })
    }

    /// The API address of `queue`.
    fn queue_url(&self, queue: &str) -> String {
        let name: String = queue
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("{}/api/queues/{}/{name}", self.base, self.vhost)
    }

    /// The counts of `queue`.
    pub async fn queue(&self, queue: &str) -> anyhow::Result<QueueCounts> {
        let url = self.queue_url(queue);
        let what = || format!("GET {}/api/queues/{}/{queue}", self.shown, self.vhost);
        let resp = self.client.get(&url).send().await.with_context(what)?;
        let status = resp.status();
        let body = resp.bytes().await.with_context(what)?;
        if !status.is_success() {
            bail!("{}: HTTP {status}", what());
        }
        parse(&body).with_context(what)
    }
}

/// The counts in an `/api/queues/<vhost>/<queue>` answer.
pub fn parse(body: &[u8]) -> anyhow::Result<QueueCounts> {
    Ok(serde_json::from_slice(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_addresses_keep_the_vhost_and_encode_the_name() {
        let m = Management::new("http://tilecast:p%40ss@rabbitmq:15672/%2f").unwrap();
        assert_eq!(
            m.queue_url("tilecast.render"),
            "http://tilecast:p%40ss@rabbitmq:15672/api/queues/%2f/tilecast.render"
        );
        assert!(!m.shown.contains("p%40ss"));
        let m = Management::new("https://u:p@mq.example:443/weather").unwrap();
        assert_eq!(
            m.queue_url("w q"),
            "https://u:p@mq.example:443/api/queues/weather/w%20q"
        );
        let m = Management::new("http://u:p@mq:15672").unwrap();
        assert_eq!(m.queue_url("q"), "http://u:p@mq:15672/api/queues/%2F/q");
        assert!(Management::new("amqp://u:p@mq:5672/%2f").is_err());
    }

    #[test]
    fn counts_are_read_from_an_answer_and_garbage_is_an_error() {
        // The members RabbitMQ's HTTP API documents for a queue (among many others).
        let body = br#"{"name":"tilecast.render","vhost":"/","messages":7,
            "messages_ready":5,"messages_unacknowledged":2,"consumers":3}"#;
        assert_eq!(
            parse(body).unwrap(),
            QueueCounts {
                messages_ready: 5,
                messages_unacknowledged: 2,
                consumers: 3
            }
        );
        assert!(parse(b"<html>").is_err());
        assert!(parse(br#"{"messages_ready": -1}"#).is_err());
    }
}
