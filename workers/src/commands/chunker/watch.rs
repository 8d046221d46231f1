//! Watching the ingest location: the listing every `--poll-interval` seconds, bucket events
//! from `--events-queue`, kernel notifications for a local directory ([`super::notify`]),
//! and choosing which files are ready to submit (stable for `--stable-for` seconds or
//! reported closed, not handled before, not ignored), with the broker session they are
//! submitted over.

use super::notify::{Note, Notifier};
use super::*;

/// What ended a wait of the watch loop.
enum Wake {
    Timeout,
    Bucket(Option<lapin::Result<Box<lapin::message::Delivery>>>),
    File(std::io::Result<Note>),
}

/// The next bucket event, or never when there is no events consumer.
async fn bucket_event(
    session: &mut Option<Session>,
) -> Option<lapin::Result<lapin::message::Delivery>> {
    match session.as_mut().and_then(|s| s.events.as_mut()) {
        Some(events) => events.next().await,
        None => std::future::pending().await,
    }
}

/// The next kernel notification, or never without a notifier.
async fn file_note(notifier: &mut Option<Notifier>) -> std::io::Result<Note> {
    match notifier.as_mut() {
        Some(n) => n.next().await,
        None => std::future::pending().await,
    }
}

impl Watcher {
    pub(super) fn metrics(&self) -> &Metrics {
        &self.health.metrics
    }

    pub(super) async fn watch(&self) -> anyhow::Result<()> {
        let mut seen: HashMap<String, Seen> = HashMap::new();
        let mut session: Option<Session> = None;
        let poll = Duration::from_secs_f64(self.args.poll_interval.max(0.05));
        let mut next_list = Instant::now();
        let mut notifier = self.notifier();
        loop {
            if Instant::now() >= next_list {
                self.list(&mut seen);
                next_list = Instant::now() + poll;
            }
            if session
                .as_ref()
                .is_some_and(|s| !s.conn.status().connected())
            {
                session = None;
            }
            if session.is_none() {
                // Keep trying for as long as it takes: files wait in the ingest location.
                match self.connect().await {
                    Ok(s) => session = Some(s),
                    Err(e) => {
                        tracing::warn!(component = "chunker", error = %format!("{e:#}"), "broker unavailable; retrying")
                    }
                }
            }
            self.health.set_ready(session.is_some());
            if let Some(s) = session.as_ref() {
                if let Err(e) = self.submit_ready(&mut seen, s).await {
                    self.health.set_ready(false);
                    tracing::warn!(component = "chunker", error = %format!("{e:#}"), "broker error, will retry");
                    session = None;
                }
            }
            // Sleep until the next listing, or less if an event names a new object or the
            // kernel reports a file closed.
            let wait = next_list.saturating_duration_since(Instant::now());
            let wait = if session.is_some() {
                wait
            } else {
                wait.max(Duration::from_secs(1))
            };
            let wake = tokio::select! {
                d = bucket_event(&mut session) => Wake::Bucket(d.map(|d| d.map(Box::new))),
                n = file_note(&mut notifier) => Wake::File(n),
                _ = tokio::time::sleep(wait) => Wake::Timeout,
            };
            match wake {
                Wake::Timeout => {}
                Wake::Bucket(Some(Ok(d))) => {
                    self.on_event(&d.data, &mut seen);
                    // An event is only a hint (the listing is the truth), so it is acked now.
                    if d.ack(BasicAckOptions::default()).await.is_err() {
                        session = None;
                    }
                }
                Wake::Bucket(_) => session = None,
                Wake::File(Ok(Note::Closed(key))) => self.on_closed(&key, &mut seen),
                Wake::File(Ok(Note::List)) => next_list = Instant::now(),
                Wake::File(Err(e)) => {
                    tracing::warn!(component = "chunker", error = %e,
                        "file notifications stopped; listing every --poll-interval only");
                    notifier = None;
                }
            }
        }
    }

    /// Kernel notifications for a local ingest directory, unless --take-on-close is off or
    /// they are not available (then the listing alone finds files).
    fn notifier(&self) -> Option<Notifier> {
        let root = self
            .ingest
            .local_root()
            .filter(|_| self.args.take_on_close)?;
        match Notifier::new(root, self.outputs_inside.clone()) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(component = "chunker", dir = %root.display(), error = %e,
                    "no file notifications; listing every --poll-interval only");
                None
            }
        }
    }

    /// A local file was closed after writing or renamed into place: noted at its current
    /// size and time, as closed.
    fn on_closed(&self, key: &str, seen: &mut HashMap<String, Seen>) {
        if !self.wanted(key) {
            return;
        }
        match self.ingest.head(key) {
            Ok(Some(o)) => {
                let c = Candidate::of(&o);
                self.note(seen, c);
                if let Some(s) = seen.get_mut(key) {
                    s.closed = true;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(component = "chunker", key = %key, error = %e, "the next listing retries")
            }
        }
    }

    async fn connect(&self) -> anyhow::Result<Session> {
        let conn = amqp::connect(&self.args.amqp, "chunker").await?;
        let (ch, names) = amqp::confirm_channel(&conn, &self.args.amqp).await?;
        let events = match &self.args.events_queue {
            None => None,
            Some(q) => {
                let ech = conn.create_channel().await?;
                ech.basic_qos(16, Default::default()).await?;
                ech.queue_declare(
                    q.as_str().into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    amqp::quorum(&[]),
                )
                .await
                .with_context(|| format!("declaring the events queue {q}"))?;
                if let Some(x) = &self.args.events_exchange {
                    ech.queue_bind(
                        q.as_str().into(),
                        x.as_str().into(),
                        self.args.events_routing_key.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .with_context(|| format!("binding {q} to the events exchange {x}"))?;
                }
                let c = ech
                    .basic_consume(
                        q.as_str().into(),
                        "chunker-events".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                Some(c)
            }
        };
        Ok(Session {
            conn,
            ch,
            names,
            events,
        })
    }

    /// Lists the ingest location and updates what is known of each key.
    fn list(&self, seen: &mut HashMap<String, Seen>) {
        let objects = match self.ingest.list("") {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(component = "chunker", error = %e, "cannot list the ingest location");
                return;
            }
        };
        for o in objects.iter().filter(|o| self.wanted(&o.key)) {
            self.note(seen, Candidate::of(o));
        }
    }

    /// Whether a key of the ingest location may be an input.
    fn wanted(&self, key: &str) -> bool {
        !ignored(key)
            && !self
                .outputs_inside
                .as_deref()
                .is_some_and(|p| p.is_empty() || key.starts_with(p))
    }

    fn note(&self, seen: &mut HashMap<String, Seen>, c: Candidate) {
        if !seen.contains_key(&c.key) {
            tracing::info!(component = "chunker", key = %c.key, size = c.size, "new file noticed");
        }
        let s = seen.entry(c.key.clone()).or_insert(Seen {
            size: c.size,
            fingerprint: c.fingerprint.clone(),
            since: Instant::now(),
            closed: false,
            state: State::Waiting,
            counted: false,
        });
        if s.size != c.size || s.fingerprint != c.fingerprint {
            *s = Seen {
                size: c.size,
                fingerprint: c.fingerprint,
                since: Instant::now(),
                closed: false,
                state: State::Waiting,
                counted: false,
            };
        }
    }

    /// Notes the objects an event names (their current state, by HEAD).
    fn on_event(&self, body: &[u8], seen: &mut HashMap<String, Seen>) {
        let created = match crate::infra::events::created(body) {
            Ok(c) => c,
            Err(e) => {
                self.metrics().events.with_label_values(&["invalid"]).inc();
                tracing::warn!(component = "chunker", error = %e, "ignoring a bucket event");
                return;
            }
        };
        let Location::S3 { bucket, prefix } = &self.ingest_location else {
            self.metrics().events.with_label_values(&["ignored"]).inc();
            return;
        };
        for c in created {
            let key = if prefix.is_empty() {
                Some(c.key.as_str())
            } else {
                c.key
                    .strip_prefix(prefix.as_str())
                    .and_then(|k| k.strip_prefix('/'))
            };
            let Some(key) = key.filter(|k| c.bucket == *bucket && self.wanted(k)) else {
                self.metrics().events.with_label_values(&["ignored"]).inc();
                continue;
            };
            self.metrics().events.with_label_values(&["accepted"]).inc();
            match self.ingest.head(key) {
                Ok(Some(o)) => self.note(seen, Candidate::of(&o)),
                Ok(None) => {
                    tracing::info!(component = "chunker", key = %key, "announced but not there (deleted?)")
                }
                Err(e) => {
                    tracing::warn!(component = "chunker", key = %key, error = %e, "the next listing retries")
                }
            }
        }
    }

    /// Submits every key that is ready, in key order.
    async fn submit_ready(
        &self,
        seen: &mut HashMap<String, Seen>,
        session: &Session,
    ) -> anyhow::Result<()> {
        let stable = Duration::from_secs_f64(self.args.stable_for.max(0.0));
        // Objects in a bucket are complete once listed; local files must stop changing.
        let settle = if self.ingest.local_root().is_some() {
            stable
        } else {
            Duration::ZERO
        };
        let now = Instant::now();
        let mut ready: Vec<Candidate> = seen
            .iter()
            .filter(|(_, s)| match s.state {
                State::Waiting => s.since.elapsed() >= settle || s.closed,
                State::RetryAt(t) => now >= t,
                State::Done => false,
            })
            .map(|(k, s)| Candidate {
                key: k.clone(),
                size: s.size,
                fingerprint: s.fingerprint.clone(),
            })
            .collect();
        ready.sort_by(|a, b| a.key.cmp(&b.key));
        for c in ready {
            let s = seen.get_mut(&c.key).expect("listed");
            if !s.counted {
                s.counted = true;
                self.metrics().files_seen.inc();
            }
            let waited = s.since.elapsed();
            let mut took = Stages::default();
            let outcome = self.handle(&c, session, &mut took).await;
            let s = seen.get_mut(&c.key).expect("listed");
            match outcome {
                Ok(msg) => {
                    tracing::info!(component = "chunker", key = %c.key,
                        waited_s = waited.as_secs_f64(), hash_s = took.hash, plan_s = took.plan,
                        publish_s = took.publish, books_s = took.books, "{msg}");
                    s.state = State::Done;
                }
                Err(Failure::Broker(e)) => {
                    s.state = State::RetryAt(Instant::now());
                    return Err(e);
                }
                Err(Failure::Later(e)) => {
                    tracing::warn!(component = "chunker", key = %c.key, error = %format!("{e:#}"), "retrying later");
                    s.state = State::RetryAt(Instant::now() + RETRY_LATER);
                }
                Err(Failure::File(e)) => {
                    self.metrics().files_invalid.inc();
                    tracing::warn!(component = "chunker", key = %c.key, error = %format!("{e:#}"), "cannot be processed");
                    s.state = State::Done;
                    let _ = self.books.write_ingest_record(&IngestRecord {
                        key: c.key.clone(),
                        size: c.size,
                        fingerprint: c.fingerprint.clone(),
                        run: String::new(),
                    });
                }
            }
        }
        Ok(())
    }
}
