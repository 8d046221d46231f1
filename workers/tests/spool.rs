//! The chunker's spool space: an object larger than `--max-object-mb` is refused before it is
//! downloaded, as a file that cannot be processed (recorded, counted, named with its size in
//! the log), so a chunker is never evicted for filling its scratch space and never resumes
//! such a file; the next object is handled as usual. moto's S3 server stands in for the
//! bucket, the real RabbitMQ for the queues.

mod common;

use std::time::Duration;

use common::s3::{bucket_cluster, Moto};
use common::*;

#[test]
fn an_object_over_the_spool_limit_is_refused_with_its_size_and_the_next_one_renders() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let (ingest, out) = (moto.client("ingest"), moto.client("tiles"));
    let mut c = bucket_cluster("spool", &moto.endpoint());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    c.start(
        "chunker",
        &[
            "chunker",
            "--ingest",
            "s3://ingest/drop",
            "--poll-interval",
            "0.3",
            "--max-object-mb",
            "1",
            "--zoom",
            "0-1",
            "--metrics-addr",
            &addr,
        ],
    );
    // 1 MiB and one byte: one byte over the limit.
    ingest.put("drop/big.grib2", vec![7u8; (1 << 20) + 1]);
    wait_for(
        &c,
        "the big object refused",
        Duration::from_secs(60),
        || {
            c.logs()
                .contains("1048577 bytes is more than --max-object-mb 1")
        },
    );
    assert!(
        c.logs().contains("s3://ingest/drop/big.grib2"),
        "{}",
        c.logs()
    );
    let (_, text) = http_get(port, "/metrics");
    assert!(text.contains("tilecast_files_invalid_total 1"), "{text}");
    // A file within the limit renders.
    ingest.put_file("drop/t2m.grib2", &samples().join("global_t2m.grib2"));
    c.pool(1, &["--idle-exit", "20"]);
    wait_for(&c, "a manifest", Duration::from_secs(120), || {
        out.manifests("runs").len() == 1
    });
    // Refused once: the record keeps it from being listed as new again.
    let refusals = c.logs().matches("is more than --max-object-mb").count();
    assert_eq!(refusals, 1, "{}", c.logs());
}
