//! S3 bucket notifications (MinIO, Ceph RGW, AWS shapes) as the chunker receives them from
//! AMQP. workers/ is a binary crate, so its event module, which needs only serde and
//! serde_json, is compiled into this target by path.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../workers/src/infra/events.rs"]
#[allow(dead_code)]
mod events;

fuzz_target!(|data: &[u8]| {
    if let Ok(created) = events::created(data) {
        for c in &created {
            std::hint::black_box((&c.bucket, &c.key));
        }
    }
});
