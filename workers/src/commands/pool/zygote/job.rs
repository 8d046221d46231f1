//! A job's process, forked by the fork server: it sets itself up (dies with the fork
//! server, keeps only standard error and its outcome pipe, stops between tiles on SIGTERM or
//! SIGINT), runs the delivery's jobs (one, or a batch) as a worker would, writes their
//! outcomes (a JSON array) and a newline to the pipe, closes it and exits.

use std::io::Write;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::{Duration, Instant};

use tilecast::run::batch;
use tilecast::run::execute::Progress;

use super::OUTCOME_FD;
use crate::commands::worker::{Outcome, Runner, WorkerArgs};

/// The job's process: sets itself up, runs the job, writes the outcome, exits.
pub(super) fn job_process(
    job: &[u8],
    worker: &WorkerArgs,
    write_end: RawFd,
    parent: libc::pid_t,
) -> ! {
    let entered = Instant::now();
    // SAFETY: plain system calls on this process's own descriptors and signal state, made
    // before any other thread exists in it.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        libc::dup2(write_end, OUTCOME_FD);
        close_from(OUTCOME_FD + 1);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
        libc::dup2(2, 1);
        // A tile's buffers (256 KiB and more) from the heap, kept when freed, so the next
        // tile reuses pages already faulted in instead of mapping fresh ones each time.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
    // Lives until the process exits: this function never returns.
    let progress = Progress::default();
    stop_on_signals(&progress);
    // This thread renders, with RAYON_NUM_THREADS - 1 helpers: a job on one thread hands no
    // work to another thread and back (each hand-over a wake-up the scheduler may place on a
    // core busy with another job while this one idles).
    let _ = rayon::ThreadPoolBuilder::new()
        .use_current_thread()
        .build_global();
    let t0 = Instant::now();
    let outcomes = run_jobs(job, worker, &progress);
    if progress.stopped() {
        tracing::warn!(component = "pool", "job stopped by a signal");
    }
    log_usage(t0 - entered, t0);
    let mut bytes = serde_json::to_vec(&outcomes).unwrap_or_default();
    // The newline says the report is complete; closing the pipe lets the fork server tell
    // the pool now rather than once the kernel has torn this process down.
    bytes.push(b'\n');
    let _ = std::io::stderr().flush();
    let mut out = outcome_file();
    let _ = out.write_all(&bytes);
    drop(out);
    // SAFETY: ends the process without running the fork server's exit handlers twice.
    unsafe { libc::_exit(0) }
}

/// A debug line with the job's process's own wall time and resource use: `setup_ms` from
/// the fork to the job's start, `wall_ms` the job.
fn log_usage(setup: Duration, t0: Instant) {
    // SAFETY: getrusage(2) fills a zeroed struct.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tracing::debug!(
        component = "pool",
        setup_ms = setup.as_secs_f64() * 1e3,
        wall_ms = t0.elapsed().as_secs_f64() * 1e3,
        user_ms = ms(u.ru_utime),
        sys_ms = ms(u.ru_stime),
        minor_faults = u.ru_minflt,
        "job process resources"
    );
}

/// The outcome descriptor as a file.
fn outcome_file() -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: OUTCOME_FD is open in a job's process and nothing else owns it.
    unsafe { std::fs::File::from_raw_fd(OUTCOME_FD) }
}

/// Closes every descriptor from `first` up.
unsafe fn close_from(first: RawFd) {
    // SAFETY: close_range(2) only closes descriptors.
    if unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0) } != 0 {
        for fd in first..1024 {
            // SAFETY: closing a descriptor this process may hold.
            unsafe { libc::close(fd) };
        }
    }
}

/// Runs the delivery's jobs with a worker's settings, to one outcome each (one for a message
/// that does not parse); SIGTERM or SIGINT stops them between tiles.
fn run_jobs(message: &[u8], worker: &WorkerArgs, progress: &Progress) -> Vec<Outcome> {
    let jobs = match batch::parse_message(message) {
        Ok(j) => j,
        Err(e) => return vec![Outcome::Permanent(e.to_string())],
    };
    match Runner::new(worker) {
        Ok(runner) => runner.execute_all(&jobs, progress, &mut 0.0),
        Err(e) => Outcome::transient_for(jobs.len(), &format!("{e:#}")),
    }
}

/// The job of this process, for the signal handler.
static STOPPABLE: AtomicPtr<Progress> = AtomicPtr::new(std::ptr::null_mut());

/// SIGTERM or SIGINT asks the job to stop between tiles: a handler that only stores a flag
/// (no thread to start per job). The job's `progress` lives until the process exits.
fn stop_on_signals(progress: &Progress) {
    STOPPABLE.store(std::ptr::from_ref(progress).cast_mut(), Ordering::Release);
    extern "C" fn on_signal(_: libc::c_int) {
        let p = STOPPABLE.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: the pointer is to the job's Progress, alive until the process exits;
            // request_stop is one atomic store, safe in a signal handler.
            unsafe { (*p).request_stop() };
        }
    }
    // SAFETY: sigaction(2) with a zeroed struct, an empty mask and a handler that is
    // async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}
