//! The fork server of a `--spawn fork` pool, and the frames it exchanges with the pool.
//!
//! The pool starts it once (`tilecast pool --fork-server -- WORKER_FLAGS`). It stays
//! single-threaded, so `fork` is safe in it: no other thread can hold a lock the child would
//! inherit held. For each job it is sent, it forks a process that runs the job
//! ([`crate::commands::worker::execute`]), writes the [`Outcome`] as JSON to a pipe and exits;
//! the fork server waits for it and sends the pool its wait status and those bytes. It never
//! reads an input file itself, so a hostile file can crash only its job's process.
//!
//! A job's process: dies with the fork server (`PR_SET_PDEATHSIG`); keeps only standard
//! error (standard output is pointed at it, standard input at `/dev/null`) and its outcome
//! pipe; stops between tiles on SIGTERM or SIGINT, which the fork server itself ignores (the
//! pool decides). When the pool goes (its end of standard input closes), the fork server
//! stops every job's process, SIGKILLs those still alive after the grace, and exits.
//!
//! Frames, little-endian: to the fork server `R id:u64 len:u32 job` (run a job) and
//! `S id:u64 signal:i32`; from it `P id:u64 pid:i32` (started) and `F id:u64 status:i32
//! len:u32 outcome` (finished: the `waitpid` status and what the process wrote).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tilecast::run::books::Books;
use tilecast::run::execute::Progress;
use tilecast::run::job::Job;

use crate::commands::worker::{execute, Outcome, WorkerArgs};
use crate::infra::sources::{Roots, Sources};
use crate::infra::storage::Location;

/// The largest job message and outcome a frame carries; more is a broken peer.
pub const MAX_FRAME: usize = 64 << 20;
/// How long stopped job processes get before SIGKILL when the pool has gone.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// The outcome pipe's descriptor in a job's process.
const OUTCOME_FD: RawFd = 3;

/// A request to the fork server.
#[derive(Debug, PartialEq)]
pub enum Request {
    Run { id: u64, job: Vec<u8> },
    Signal { id: u64, signal: i32 },
}

/// An event from the fork server.
#[derive(Debug, PartialEq)]
pub enum Event {
    Started {
        id: u64,
        pid: i32,
    },
    /// `status` is `waitpid`'s; `outcome` what the process wrote (empty if it died first).
    Finished {
        id: u64,
        status: i32,
        outcome: Vec<u8>,
    },
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Run { id, job } => frame(b'R', *id, &[], Some(job)),
            Request::Signal { id, signal } => frame(b'S', *id, &signal.to_le_bytes(), None),
        }
    }
}

impl Event {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Event::Started { id, pid } => frame(b'P', *id, &pid.to_le_bytes(), None),
            Event::Finished {
                id,
                status,
                outcome,
            } => frame(b'F', *id, &status.to_le_bytes(), Some(outcome)),
        }
    }

    /// Reads one event; `None` at a clean end of the stream.
    pub async fn read<R: tokio::io::AsyncRead + Unpin>(
        r: &mut R,
    ) -> std::io::Result<Option<Event>> {
        use tokio::io::AsyncReadExt;
        let mut head = [0u8; 13];
        match r.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let id = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
        let word = i32::from_le_bytes(head[9..13].try_into().expect("4 bytes"));
        match head[0] {
            b'P' => Ok(Some(Event::Started { id, pid: word })),
            b'F' => {
                let mut len = [0u8; 4];
                r.read_exact(&mut len).await?;
                let len = u32::from_le_bytes(len) as usize;
                if len > MAX_FRAME {
                    return Err(bad(format!("a {len}-byte outcome")));
                }
                let mut outcome = vec![0; len];
                r.read_exact(&mut outcome).await?;
                Ok(Some(Event::Finished {
                    id,
                    status: word,
                    outcome,
                }))
            }
            k => Err(bad(format!("an event of kind {k}"))),
        }
    }
}

/// `kind id:u64 word [len:u32 body]`; a request to run has no word.
fn frame(kind: u8, id: u64, word: &[u8], body: Option<&[u8]>) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(word);
    if let Some(b) = body {
        f.extend_from_slice(&(b.len() as u32).to_le_bytes());
        f.extend_from_slice(b);
    }
    f
}

fn bad(what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("fork server protocol: {what}"),
    )
}

/// Takes one complete request off the front of `buf`, if there is one.
fn take_request(buf: &mut Vec<u8>) -> std::io::Result<Option<Request>> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let need_head = match kind {
        b'R' => 13,
        b'S' => 13,
        k => return Err(bad(format!("a request of kind {k}"))),
    };
    if buf.len() < need_head {
        return Ok(None);
    }
    let id = u64::from_le_bytes(buf[1..9].try_into().expect("8 bytes"));
    let word: [u8; 4] = buf[9..13].try_into().expect("4 bytes");
    let (request, used) = if kind == b'S' {
        let signal = i32::from_le_bytes(word);
        (Request::Signal { id, signal }, 13)
    } else {
        let len = u32::from_le_bytes(word) as usize;
        if len > MAX_FRAME {
            return Err(bad(format!("a {len}-byte job")));
        }
        if buf.len() < 13 + len {
            return Ok(None);
        }
        let job = buf[13..13 + len].to_vec();
        (Request::Run { id, job }, 13 + len)
    };
    buf.drain(..used);
    Ok(Some(request))
}

/// A job's process the fork server waits for.
struct Kid {
    pid: libc::pid_t,
    /// When it was forked, and how long `fork` took.
    born: Instant,
    fork: Duration,
    /// Read end of its outcome pipe (non-blocking).
    fd: RawFd,
    outcome: Vec<u8>,
}

/// Runs the fork server until standard input closes.
pub fn serve(worker: &WorkerArgs) -> anyhow::Result<ExitCode> {
    // SAFETY: signal(2) with SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let mut kids: HashMap<u64, Kid> = HashMap::new();
    let mut input = Vec::new();
    let mut stdin_open = true;
    while stdin_open || !kids.is_empty() {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(kids.len() + 1);
        if stdin_open {
            fds.push(pollfd(0));
        }
        let ids: Vec<u64> = kids.keys().copied().collect();
        fds.extend(ids.iter().map(|id| pollfd(kids[id].fd)));
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
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
                let kid = kids.remove(&id).expect("polled kid");
                let ended = kid.born.elapsed();
                let status = reap(kid.pid);
                tracing::debug!(
                    component = "pool",
                    pid = kid.pid,
                    fork_ms = kid.fork.as_secs_f64() * 1e3,
                    until_closed_ms = ended.as_secs_f64() * 1e3,
                    until_reaped_ms = kid.born.elapsed().as_secs_f64() * 1e3,
                    "job process reaped"
                );
                // SAFETY: the fd is this process's, read to its end, closed once.
                unsafe { libc::close(kid.fd) };
                if stdin_open {
                    send(&Event::Finished {
                        id,
                        status,
                        outcome: kid.outcome,
                    })?;
                }
            }
        }
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

/// Waits for a job's process to exit (it has closed its pipe, so it is exiting) and returns
/// its wait status.
fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid(2) on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return status;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return status;
        }
    }
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
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        // A tile's buffers (256 KiB and more) from the heap, kept when freed, so the next
        // tile reuses pages already faulted in instead of mapping fresh ones each time.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
    let t0 = Instant::now();
    let outcome = run_job(job, worker);
    log_usage(t0);
    let bytes = serde_json::to_vec(&outcome).unwrap_or_default();
    let mut out = std::mem::ManuallyDrop::new(outcome_file());
    let _ = out.write_all(&bytes);
    let _ = std::io::stderr().flush();
    // SAFETY: ends the process without running the fork server's exit handlers twice.
    unsafe { libc::_exit(0) }
}

/// A debug line with the job's process's own wall time and resource use.
fn log_usage(t0: Instant) {
    // SAFETY: getrusage(2) fills a zeroed struct.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tracing::debug!(
        component = "pool",
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
fn run_job(job: &[u8], worker: &WorkerArgs) -> Outcome {
    let progress = Arc::new(Progress::default());
    stop_on_signals(progress.clone());
    let job = match Job::parse(job) {
        Ok(j) => j,
        Err(e) => return Outcome::Permanent(e.to_string()),
    };
    let setup = || -> anyhow::Result<_> {
        let roots = Roots::new(&worker.ingest)?;
        let location = Location::parse(&worker.out)?;
        let store = location.open(&worker.s3)?;
        let cache_dir = worker
            .cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("tilecast-cache"));
        let sources = Sources::new(
            worker.s3.clone(),
            cache_dir,
            worker.cache_mb.saturating_mul(1 << 20),
            roots,
        );
        Ok((location.canonical(), store, sources))
    };
    let (root, store, sources) = match setup() {
        Ok(s) => s,
        Err(e) => return Outcome::Transient(format!("{e:#}")),
    };
    let books = Books::new(store.clone());
    let mut books_seconds = 0.0;
    execute(
        &job,
        &root,
        (&books, &mut books_seconds),
        &sources,
        store.as_ref(),
        &progress,
    )
}

/// A thread that waits for SIGTERM or SIGINT and asks the job to stop. The signals are
/// blocked in this thread first, so every thread started later inherits the mask and only
/// `sigwait` receives them.
fn stop_on_signals(progress: Arc<Progress>) {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask on the calling thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut sig = 0;
        // SAFETY: sigwait(3) with a valid set and output pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
            tracing::warn!(signal = sig, "job stopped by signal");
            progress.request_stop();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_taken_whole_and_only_whole() {
        let run = Request::Run {
            id: 7,
            job: b"{\"x\":1}".to_vec(),
        };
        let sig = Request::Signal { id: 9, signal: 15 };
        let mut bytes = run.encode();
        bytes.extend(sig.encode());
        let mut buf = Vec::new();
        let mut got = Vec::new();
        // One byte at a time, as a pipe may deliver them.
        for b in bytes {
            buf.push(b);
            while let Some(r) = take_request(&mut buf).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, vec![run, sig]);
        assert!(buf.is_empty());
        assert!(take_request(&mut vec![b'X', 0, 0]).is_err());
        let mut huge = vec![b'R'];
        huge.extend(1u64.to_le_bytes());
        huge.extend((MAX_FRAME as u32 + 1).to_le_bytes());
        assert!(take_request(&mut huge).is_err());
    }

    #[tokio::test]
    async fn events_read_back_as_written() {
        let events = [
            Event::Started { id: 1, pid: 4242 },
            Event::Finished {
                id: 1,
                status: 9,
                outcome: b"{}".to_vec(),
            },
        ];
        let bytes: Vec<u8> = events.iter().flat_map(Event::encode).collect();
        let mut r = &bytes[..];
        for e in events {
            assert_eq!(Event::read(&mut r).await.unwrap(), Some(e));
        }
        assert_eq!(Event::read(&mut r).await.unwrap(), None);
    }
}
