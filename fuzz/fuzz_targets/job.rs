//! Queue messages: every input is parsed both as a job (`Job::parse`, which validates) and
//! as a result record (`JobResult`). Whatever parses must survive a round trip through its
//! own JSON unchanged, since the chunker, workers and ledger pass these values along.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tilecast::run::job::{Job, JobResult};

fuzz_target!(|data: &[u8]| {
    if let Ok(job) = Job::parse(data) {
        let again = Job::parse(&job.to_json()).expect("a parsed job re-parses");
        assert_eq!(again, job);
    }
    if let Ok(result) = serde_json::from_slice::<JobResult>(data) {
        let text = serde_json::to_vec(&result).expect("results serialise");
        let again: JobResult = serde_json::from_slice(&text).expect("a result re-parses");
        assert_eq!(again, result);
    }
});
