//! RabbitMQ plumbing shared by the chunker, the ledger and the worker: connection settings,
//! the topology (declared idempotently by every process that needs it), connecting with
//! backoff, and publishing with confirms.
//!
//! Topology, for prefix `p` (default `tilecast`; tests use a unique one each):
//! - exchange `p.jobs` (direct) → quorum queue `p.render` (routing key `render`) with
//!   `x-delivery-limit` and dead-letter exchange `p.dead`;
//! - exchange `p.dead` (fanout) → quorum queue `p.render.dead`, kept for operators, and quorum
//!   queue `p.dead.events`, which the ledger consumes to learn which jobs died;
//! - classic queue `p.results` (default exchange): result notices for the ledger, transient
//!   and best-effort, since the result record in the books is the durable copy (a notice lost
//!   costs the ledger's recheck interval, never the result). A quorum `p.results` left by an
//!   earlier version is used as it is, with a warning.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

/// Broker flags common to every queue-facing command.
#[derive(Args, Clone, Debug)]
pub struct AmqpArgs {
    /// AMQP URL of the broker.
    #[arg(
        long,
        env = "TILECAST_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: String,
    /// Prefix of every exchange and queue name.
    #[arg(long, env = "TILECAST_QUEUE_PREFIX", default_value = "tilecast")]
    pub queue_prefix: String,
    /// Failed deliveries of one job that are retried; the next failure dead-letters it. The
    /// worker counts them itself (x-tilecast-attempts), and the render queue's
    /// x-delivery-limit, which counts workers lost while holding the job, is set to it.
    #[arg(long, env = "TILECAST_DELIVERY_LIMIT", default_value_t = 5)]
    pub delivery_limit: u32,
    /// Give up connecting after this many seconds of retries.
    #[arg(long, env = "TILECAST_CONNECT_TIMEOUT", default_value_t = 60.0)]
    pub connect_timeout: f64,
}

/// Names of the topology's exchanges and queues.
#[derive(Clone, Debug)]
pub struct Names {
    pub jobs_exchange: String,
    pub render: String,
    pub dead_exchange: String,
    pub dead: String,
    pub dead_events: String,
    pub results: String,
}

/// Routing key of render jobs on the jobs exchange.
pub const RENDER_KEY: &str = "render";

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names {
            jobs_exchange: format!("{prefix}.jobs"),
            render: format!("{prefix}.render"),
            dead_exchange: format!("{prefix}.dead"),
            dead: format!("{prefix}.render.dead"),
            dead_events: format!("{prefix}.dead.events"),
            results: format!("{prefix}.results"),
        }
    }
}

/// The URL with a heartbeat (so a dead peer is noticed in seconds) unless one is given.
fn with_heartbeat(url: &str) -> String {
    if url.contains("heartbeat=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&heartbeat=10")
    } else {
        format!("{url}?heartbeat=10")
    }
}

/// The URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Connects, retrying with exponential backoff (0.1 s doubling to 5 s) until `timeout`.
pub async fn connect(args: &AmqpArgs, name: &str) -> anyhow::Result<Connection> {
    let deadline = Instant::now() + Duration::from_secs_f64(args.connect_timeout.max(0.0));
    let mut delay = Duration::from_millis(100);
    let url = with_heartbeat(&args.amqp_url);
    loop {
        let props = ConnectionProperties::default().with_connection_name(name.into());
        match Connection::connect(&url, props).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() + delay < deadline => {
                tracing::info!(component = name, broker = %redact(&args.amqp_url), error = %e,
                    retry_in = ?delay, "broker unreachable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => bail!("cannot connect to {}: {e}", redact(&args.amqp_url)),
        }
    }
}

/// Runs `session` until it ends, or until `conn` is no longer connected (looked at every
/// 250 ms), which ends it with an error. When lapin's I/O loop dies on a reset connection it
/// can leave an ack, a confirm or a consumer pending for ever (seen with a broker restart:
/// a pool and a ledger waited for 5 minutes); a session dropped here is one whose broker
/// operations all failed, and its caller reconnects.
pub async fn while_connected<T>(
    conn: &Connection,
    session: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let lost = async {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            if !conn.status().connected() {
                return;
            }
        }
    };
    tokio::select! {
        r = session => r,
        () = lost => bail!("the broker connection was lost"),
    }
}

/// Closes `conn`, waiting at most 2 s: on a connection whose I/O loop has died, lapin's
/// close can wait for ever (a pool waited through a whole test for it after a broker
/// restart, never reconnecting).
pub async fn close(conn: &Connection, reason: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, reason.into())).await;
}

/// Arguments declaring a quorum queue, plus `extra`.
pub fn quorum(extra: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = of_type("quorum");
    for (k, v) in extra {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

/// Arguments declaring a queue of `kind` (named, so a vhost's default queue type does not
/// apply).
fn of_type(kind: &str) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(kind)),
    );
    t
}

/// Declares the whole topology but the results queue; safe to repeat.
async fn declare(ch: &Channel, args: &AmqpArgs) -> anyhow::Result<Names> {
    let n = Names::new(&args.queue_prefix);
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let queue = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        n.jobs_exchange.as_str().into(),
        ExchangeKind::Direct,
        durable,
        FieldTable::default(),
    )
    .await
    .context("declaring the jobs exchange")?;
    ch.exchange_declare(
        n.dead_exchange.as_str().into(),
        ExchangeKind::Fanout,
        durable,
        FieldTable::default(),
    )
    .await
    .context("declaring the dead-letter exchange")?;
    let render_args = quorum(&[
        (
            "x-delivery-limit",
            AMQPValue::LongInt(args.delivery_limit as i32),
        ),
        (
            "x-dead-letter-exchange",
            AMQPValue::LongString(LongString::from(n.dead_exchange.as_str())),
        ),
    ]);
    ch.queue_declare(n.render.as_str().into(), queue, render_args)
        .await
        .with_context(|| {
            format!(
                "declaring {} (an existing queue with other arguments must be deleted first)",
                n.render
            )
        })?;
    for q in [&n.dead, &n.dead_events] {
        ch.queue_declare(q.as_str().into(), queue, quorum(&[]))
            .await
            .with_context(|| format!("declaring {q}"))?;
    }
    ch.queue_bind(
        n.render.as_str().into(),
        n.jobs_exchange.as_str().into(),
        RENDER_KEY.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    for q in [&n.dead, &n.dead_events] {
        ch.queue_bind(
            q.as_str().into(),
            n.dead_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(n)
}

/// A channel in confirm mode with the topology declared, the results queue last.
pub async fn confirm_channel(
    conn: &Connection,
    args: &AmqpArgs,
) -> anyhow::Result<(Channel, Names)> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let names = declare(&ch, args).await?;
    let queue = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let declared = ch
        .queue_declare(names.results.as_str().into(), queue, of_type("classic"))
        .await;
    let Err(e) = declared else {
        return Ok((ch, names));
    };
    // The broker closed that channel. A results queue of other arguments (a quorum one from
    // before notices were transient) still carries notices: use it as it is.
    let Some(ch) = results_channel(conn, &names).await? else {
        return Err(e).with_context(|| format!("declaring {}", names.results));
    };
    tracing::warn!(queue = %names.results, error = %e,
        "the results queue exists with other arguments (a quorum queue from an earlier version?) \
         and is used as it is; delete it while no job is running to have it declared classic \
         (the ledger re-reads any result record whose notice it missed)");
    Ok((ch, names))
}

/// A channel in confirm mode for a worker: when the results queue (declared last of the
/// queues) is already there, the chunker or ledger has declared the topology and one passive
/// declare is all a worker spends; otherwise the whole topology is declared, as
/// [`confirm_channel`] does. A one-shot worker connects once per job, so this saves eight
/// round trips, and the broker's work for them, on every job.
pub async fn worker_channel(
    conn: &Connection,
    args: &AmqpArgs,
) -> anyhow::Result<(Channel, Names)> {
    let names = Names::new(&args.queue_prefix);
    match results_channel(conn, &names).await? {
        Some(ch) => Ok((ch, names)),
        // Not there: declare everything on a new channel.
        None => confirm_channel(conn, args).await,
    }
}

/// A new channel in confirm mode, if the results queue exists (one passive declare; the
/// broker closes the channel when it does not).
async fn results_channel(conn: &Connection, names: &Names) -> anyhow::Result<Option<Channel>> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let exists = ch
        .queue_declare(
            names.results.as_str().into(),
            passive,
            FieldTable::default(),
        )
        .await
        .is_ok();
    Ok(exists.then_some(ch))
}

/// Transient JSON message properties, for result notices (the record is the durable copy).
pub fn notice_properties(kind: &str, message_id: &str, headers: FieldTable) -> BasicProperties {
    properties(kind, message_id, headers).with_delivery_mode(1)
}

/// Persistent JSON message properties.
pub fn properties(kind: &str, message_id: &str, headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_type(kind.into())
        .with_message_id(message_id.into())
        .with_headers(headers)
}

/// Publishes `mandatory` and waits for the broker's confirm; an unroutable or nacked message
/// is an error.
pub async fn publish_confirmed(
    ch: &Channel,
    exchange: &str,
    key: &str,
    body: &[u8],
    props: BasicProperties,
) -> anyhow::Result<()> {
    let confirm = publish(ch, exchange, key, body, props).await?;
    check_confirm(confirm, exchange, key)
}

/// Publishes `mandatory` and waits for the broker's confirm, which says whether the message
/// was routed ([`check_confirm`]); an error is the channel's.
pub async fn publish(
    ch: &Channel,
    exchange: &str,
    key: &str,
    body: &[u8],
    props: BasicProperties,
) -> anyhow::Result<lapin::Confirmation> {
    Ok(ch
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            props,
        )
        .await?
        .await?)
}

pub fn check_confirm(
    confirm: lapin::Confirmation,
    exchange: &str,
    key: &str,
) -> anyhow::Result<()> {
    if confirm.is_nack() {
        bail!("broker refused a message to {exchange:?}/{key:?}");
    }
    if confirm.take_message().is_some() {
        bail!("message to {exchange:?}/{key:?} was unroutable (is the topology declared?)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        assert_eq!(super::redact("amqp://host"), "amqp://host");
    }

    /// A session awaiting something that never comes ends once the broker closes its
    /// connection (`rabbitmqctl close_connection`, on the real broker of the tests).
    #[test]
    fn a_session_ends_when_the_broker_closes_its_connection() {
        let url = std::env::var("TILECAST_TEST_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
        let name = format!("while-connected-test-{}", std::process::id());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let props =
                lapin::ConnectionProperties::default().with_connection_name(name.as_str().into());
            let conn = lapin::Connection::connect(&url, props)
                .await
                .unwrap_or_else(|e| panic!("RabbitMQ not reachable at {url}: {e}"));
            let session =
                super::while_connected(&conn, std::future::pending::<anyhow::Result<()>>());
            let close = tokio::task::spawn_blocking(move || {
                // The connection is listed once the broker has registered it.
                let started = std::time::Instant::now();
                loop {
                    let o = std::process::Command::new("rabbitmqctl")
                        .args([
                            "list_connections",
                            "-q",
                            "--no-table-headers",
                            "pid",
                            "client_properties",
                        ])
                        .output()
                        .expect("rabbitmqctl");
                    let text = String::from_utf8_lossy(&o.stdout).into_owned();
                    if let Some(line) = text.lines().find(|l| l.contains(name.as_str())) {
                        let pid = line.split('\t').next().unwrap().to_string();
                        let o = std::process::Command::new("rabbitmqctl")
                            .args(["close_connection", &pid, "test closes it"])
                            .output()
                            .expect("rabbitmqctl");
                        assert!(o.status.success(), "{o:?}");
                        return;
                    }
                    assert!(
                        started.elapsed().as_secs() < 20,
                        "connection {name} never listed: {text}"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            });
            let ended = tokio::time::timeout(std::time::Duration::from_secs(30), session).await;
            close.await.unwrap();
            let err = ended.expect("the session did not end after its connection was closed");
            assert!(err.is_err(), "{err:?}");
        });
    }
}
