//! The fork server of a `--spawn fork` pool.
//!
//! The pool starts it once (`tilecast pool --fork-server -- WORKER_FLAGS`). It stays
//! single-threaded, so `fork` is safe in it: no other thread can hold a lock the child would
//! inherit held. For each job it is sent, it forks a process that runs the job
//! ([`crate::commands::worker::Runner`]), writes the [`Outcome`] as JSON to a pipe and exits;
//! the fork server sends the pool those bytes as soon as they are complete (the process ends
//! them with a newline and closes the pipe), so the pool can start the next job while the
//! kernel still tears the finished process down, and reaps the process when it has exited;
//! a process that died before reporting in full is reported with its wait status once
//! reaped. It never reads an input file itself, so a hostile file can crash only its job's
//! process.
//!
//! A job's process: dies with the fork server (`PR_SET_PDEATHSIG`); keeps only standard
//! error (standard output is pointed at it, standard input at `/dev/null`) and its outcome
//! pipe; stops between tiles on SIGTERM or SIGINT, which the fork server itself ignores (the
//! pool decides). When the pool goes (its end of standard input closes), the fork server
//! stops every job's process, SIGKILLs those still alive after the grace, and exits.
//!
//! The frames it exchanges with the pool are in [`frames`].

mod frames;

pub use frames::{Event, Request};

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tilecast::run::execute::Progress;
use tilecast::run::job::Job;

use crate::commands::worker::{Outcome, Runner, WorkerArgs};
use frames::{take_request, MAX_FRAME};

/// How long stopped job processes get before SIGKILL when the pool has gone.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// The outcome pipe's descriptor in a job's process.
const OUTCOME_FD: RawFd = 3;
/// How often exiting processes are looked for when the kernel has no `pidfd_open`.
const REAP_TICK: i32 = 5;

/// A job's process whose outcome pipe is still open.
struct Kid {
    pid: libc::pid_t,
    /// When it was forked, and how long `fork` took.
    born: Instant,
    fork: Duration,
    /// Read end of its outcome pipe (non-blocking).
    fd: RawFd,
    outcome: Vec<u8>,
}

/// A job's process that closed its outcome pipe and has not been reaped yet.
struct Exiting {
    id: u64,
    pid: libc::pid_t,
    born: Instant,
    fork: Duration,
    closed: Duration,
    /// A descriptor readable once the process has exited (`pidfd_open`), if the kernel has
    /// them; without one the fork server looks every [`REAP_TICK`].
    pidfd: Option<RawFd>,
    /// The outcome, when the process died before reporting it in full: the pool is told
    /// only once the wait status is known. `None` once the pool has been told.
    unreported: Option<Vec<u8>>,
}

/// Runs the fork server until standard input closes and its job processes are reaped.
pub fn serve(worker: &WorkerArgs) -> anyhow::Result<ExitCode> {
    // SAFETY: signal(2) with SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let mut kids: HashMap<u64, Kid> = HashMap::new();
    let mut exiting: Vec<Exiting> = Vec::new();
    let mut input = Vec::new();
    let mut stdin_open = true;
    while stdin_open || !kids.is_empty() || !exiting.is_empty() {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(kids.len() + exiting.len() + 1);
        if stdin_open {
            fds.push(pollfd(0));
        }
        let ids: Vec<u64> = kids.keys().copied().collect();
        fds.extend(ids.iter().map(|id| pollfd(kids[id].fd)));
        fds.extend(exiting.iter().filter_map(|e| e.pidfd).map(pollfd));
        let timeout = if exiting.iter().any(|e| e.pidfd.is_none()) {
            REAP_TICK
        } else {
            -1
        };
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        let mut fds = fds.into_iter();
        if stdin_open {
            let f = fds.next().expect("stdin polled");
            if f.revents != 0 {
                let mut chunk = [0u8; 64 * 1024];
                let got = std::io::stdin().lock().read(&mut chunk)?;
                if got == 0 {
                    stdin_open = false;
                    stop_all(&kids);
                } else {
                    input.extend_from_slice(&chunk[..got]);
                    while let Some(request) = take_request(&mut input)? {
                        handle(request, worker, &mut kids)?;
                    }
                }
            }
        }
        for (f, id) in fds.zip(ids) {
            if f.revents != 0 && drain(kids.get_mut(&id).expect("polled kid"))? {
                let (e, reported) = closed(id, kids.remove(&id).expect("polled kid"));
                if let (Some(outcome), true) = (reported, stdin_open) {
                    // The report is complete: the job is over, whatever its process does
                    // while it exits.
                    send(&Event::Finished {
                        id,
                        status: 0,
                        outcome,
                    })?;
                }
                exiting.push(e);
            }
        }
        reap_exited(&mut exiting, stdin_open)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn handle(
    request: Request,
    worker: &WorkerArgs,
    kids: &mut HashMap<u64, Kid>,
) -> anyhow::Result<()> {
    match request {
        Request::Signal { id, signal } => {
            if let Some(kid) = kids.get(&id) {
                // SAFETY: kill(2) on a child not yet reaped, so its pid is not reused.
                unsafe { libc::kill(kid.pid, signal) };
            }
        }
        Request::Run { id, job } => match spawn(&job, worker) {
            Ok(kid) => {
                send(&Event::Started { id, pid: kid.pid })?;
                kids.insert(id, kid);
            }
            Err(e) => {
                let outcome = Outcome::Transient(format!("cannot fork the job's process: {e}"));
                send(&Event::Finished {
                    id,
                    status: 0,
                    outcome: serde_json::to_vec(&outcome)?,
                })?;
            }
        },
    }
    Ok(())
}

/// Reads what a job's process wrote; true at the end (it has exited or closed the pipe).
fn drain(kid: &mut Kid) -> std::io::Result<bool> {
    let mut chunk = [0u8; 64 * 1024];
    loop {
        // SAFETY: reading into a buffer of the given length from an fd this process owns.
        let n = unsafe { libc::read(kid.fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n == 0 {
            return Ok(true);
        }
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.kind() {
                std::io::ErrorKind::WouldBlock => Ok(false),
                std::io::ErrorKind::Interrupted => continue,
                _ => Err(e),
            };
        }
        if kid.outcome.len() + n as usize > MAX_FRAME {
            // A process writing without end is broken: stop it; its outcome is discarded.
            // SAFETY: kill(2) on a child not yet reaped.
            unsafe { libc::kill(kid.pid, libc::SIGKILL) };
            kid.outcome.clear();
            return Ok(true);
        }
        kid.outcome.extend_from_slice(&chunk[..n as usize]);
    }
}

/// A job's process has closed its outcome pipe. Returns it as exiting, and its outcome if it
/// reported in full (ended it with a newline, which is taken off).
fn closed(id: u64, kid: Kid) -> (Exiting, Option<Vec<u8>>) {
    // SAFETY: the fd is this process's, read to its end, closed once.
    unsafe { libc::close(kid.fd) };
    let mut outcome = kid.outcome;
    let complete = outcome.last() == Some(&b'\n');
    if complete {
        outcome.pop();
    }
    // SAFETY: pidfd_open(2) on a child not yet reaped, so its pid is not reused.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, kid.pid, 0) };
    let exiting = Exiting {
        id,
        pid: kid.pid,
        born: kid.born,
        fork: kid.fork,
        closed: kid.born.elapsed(),
        pidfd: (pidfd >= 0).then_some(pidfd as RawFd),
        unreported: None,
    };
    if complete {
        (exiting, Some(outcome))
    } else {
        (
            Exiting {
                unreported: Some(outcome),
                ..exiting
            },
            None,
        )
    }
}

/// Reaps the exiting processes that have exited, and tells the pool of those that died
/// before reporting, with their wait status.
fn reap_exited(exiting: &mut Vec<Exiting>, stdin_open: bool) -> std::io::Result<()> {
    let mut i = 0;
    while i < exiting.len() {
        let e = &exiting[i];
        let mut status = 0;
        // SAFETY: waitpid(2) on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(e.pid, &mut status, libc::WNOHANG) };
        if r == 0 {
            i += 1;
            continue;
        }
        let e = exiting.swap_remove(i);
        if let Some(fd) = e.pidfd {
            // SAFETY: the pidfd is this process's, closed once.
            unsafe { libc::close(fd) };
        }
        tracing::debug!(
            component = "pool",
            pid = e.pid,
            fork_ms = e.fork.as_secs_f64() * 1e3,
            until_closed_ms = e.closed.as_secs_f64() * 1e3,
            until_reaped_ms = e.born.elapsed().as_secs_f64() * 1e3,
            "job process reaped"
        );
        if let (Some(outcome), true) = (e.unreported, stdin_open) {
            send(&Event::Finished {
                id: e.id,
                status,
                outcome,
            })?;
        }
    }
    Ok(())
}

/// SIGTERM to every job's process, SIGKILL to those alive after the grace.
fn stop_all(kids: &HashMap<u64, Kid>) {
    for kid in kids.values() {
        // SAFETY: kill(2) on children not yet reaped.
        unsafe { libc::kill(kid.pid, libc::SIGTERM) };
    }
    let until = Instant::now() + STOP_GRACE;
    while Instant::now() < until {
        // SAFETY: kill(2) with signal 0 only checks the pid (a zombie counts as alive).
        let alive = kids.values().any(|k| {
            let mut status = 0;
            unsafe { libc::waitpid(k.pid, &mut status, libc::WNOHANG) == 0 }
        });
        if !alive {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for kid in kids.values() {
        // SAFETY: as above; a reaped pid gives ESRCH at worst within this instant.
        unsafe { libc::kill(kid.pid, libc::SIGKILL) };
    }
}

fn send(event: &Event) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(&event.encode())?;
    out.flush()
}

/// Forks a process for `job`.
fn spawn(job: &[u8], worker: &WorkerArgs) -> std::io::Result<Kid> {
    let mut pipe = [0 as RawFd; 2];
    // SAFETY: pipe2(2) with a valid two-int array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_end, write_end] = pipe;
    let parent = std::process::id() as libc::pid_t;
    let t0 = Instant::now();
    // SAFETY: this process has one thread (the fork server never starts another), so the
    // child inherits no lock held by a thread that does not exist in it.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: closing the pipe this call made.
        unsafe {
            libc::close(read_end);
            libc::close(write_end);
        }
        return Err(e);
    }
    if pid == 0 {
        // The other kids' pipes are closed with every descriptor above the outcome's.
        job_process(job, worker, write_end, parent);
    }
    // SAFETY: the write end belongs to the child now; the read end is made non-blocking.
    unsafe {
        libc::close(write_end);
        let flags = libc::fcntl(read_end, libc::F_GETFL);
        libc::fcntl(read_end, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    Ok(Kid {
        pid,
        born: Instant::now(),
        fork: t0.elapsed(),
        fd: read_end,
        outcome: Vec::new(),
    })
}

/// The job's process: sets itself up, runs the job, writes the outcome, exits.
fn job_process(job: &[u8], worker: &WorkerArgs, write_end: RawFd, parent: libc::pid_t) -> ! {
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
    let progress = Arc::new(Progress::default());
    stop_on_signals(&progress);
    // This thread renders, with RAYON_NUM_THREADS - 1 helpers: a job on one thread hands no
    // work to another thread and back (each hand-over a wake-up the scheduler may place on a
    // core busy with another job while this one idles).
    let _ = rayon::ThreadPoolBuilder::new()
        .use_current_thread()
        .build_global();
    let t0 = Instant::now();
    let outcome = run_job(job, worker, &progress);
    if progress.stopped() {
        tracing::warn!(component = "pool", "job stopped by a signal");
    }
    log_usage(t0 - entered, t0);
    let mut bytes = serde_json::to_vec(&outcome).unwrap_or_default();
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

/// Runs the job with a worker's settings; SIGTERM or SIGINT stops it between tiles.
fn run_job(job: &[u8], worker: &WorkerArgs, progress: &Arc<Progress>) -> Outcome {
    let job = match Job::parse(job) {
        Ok(j) => j,
        Err(e) => return Outcome::Permanent(e.to_string()),
    };
    match Runner::new(worker) {
        Ok(runner) => runner.execute(&job, progress, &mut 0.0),
        Err(e) => Outcome::Transient(format!("{e:#}")),
    }
}

/// The job of this process, for the signal handler.
static STOPPABLE: AtomicPtr<Progress> = AtomicPtr::new(std::ptr::null_mut());

/// SIGTERM or SIGINT asks the job to stop between tiles: a handler that only stores a flag
/// (no thread to start per job). The job's `progress` lives until the process exits.
fn stop_on_signals(progress: &Arc<Progress>) {
    STOPPABLE.store(Arc::as_ptr(progress).cast_mut(), Ordering::Release);
    extern "C" fn on_signal(_: libc::c_int) {
        let p = STOPPABLE.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: the pointer is to the job's Progress, kept alive by the process's Arc
            // until it exits; request_stop is one atomic store, safe in a signal handler.
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
