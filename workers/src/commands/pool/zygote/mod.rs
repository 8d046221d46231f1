//! The fork server of a `--spawn fork` pool.
//!
//! The pool starts it once (`tilecast pool --fork-server -- WORKER_FLAGS`). It stays
//! single-threaded, so `fork` is safe in it: no other thread can hold a lock the child would
//! inherit held. For each delivery it is sent (a job or a batch), it forks a process that runs
//! its jobs ([`crate::commands::worker::Runner`]), writes their [`Outcome`]s as a JSON array
//! to a pipe and exits;
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
//! The frames it exchanges with the pool are in [`frames`], the job's process in [`job`].

mod frames;
mod job;

pub use frames::{Event, Request};

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::commands::worker::{Outcome, WorkerArgs};
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
                    outcome: serde_json::to_vec(&[outcome])?,
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
    let (reported, unreported) = if complete {
        (Some(outcome), None)
    } else {
        (None, Some(outcome))
    };
    // SAFETY: pidfd_open(2) on a child not yet reaped, so its pid is not reused.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, kid.pid, 0) };
    let exiting = Exiting {
        id,
        pid: kid.pid,
        born: kid.born,
        fork: kid.fork,
        closed: kid.born.elapsed(),
        pidfd: (pidfd >= 0).then_some(pidfd as RawFd),
        unreported,
    };
    (exiting, reported)
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
        let interrupted =
            r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
        if r == 0 || interrupted {
            // Still exiting (or asked again next time round).
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
        job::job_process(job, worker, write_end, parent);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A Kid for this test process (pidfd_open works on any live process) with the read end
    /// of a fresh pipe, as the fork server holds one.
    fn kid(outcome: &[u8]) -> Kid {
        let mut p = [0 as RawFd; 2];
        // SAFETY: pipe(2) with a valid two-int array; the write end is closed at once.
        unsafe {
            assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
            libc::close(p[1]);
        }
        Kid {
            pid: std::process::id() as libc::pid_t,
            born: Instant::now(),
            fork: Duration::ZERO,
            fd: p[0],
            outcome: outcome.to_vec(),
        }
    }

    fn release(e: Exiting) {
        if let Some(fd) = e.pidfd {
            // SAFETY: the pidfd closed() opened, closed once.
            unsafe { libc::close(fd) };
        }
    }

    #[test]
    fn a_complete_outcome_is_sent_at_once_without_its_newline() {
        let (e, sent) = closed(7, kid(b"{\"outcome\":\"done\"}\n"));
        assert_eq!(sent.as_deref(), Some(&b"{\"outcome\":\"done\"}"[..]));
        assert!(e.unreported.is_none());
        assert_eq!(e.id, 7);
        release(e);
    }

    #[test]
    fn an_outcome_cut_short_waits_for_the_wait_status() {
        for partial in [&b""[..], b"{\"outcome\":\"do"] {
            let (e, sent) = closed(8, kid(partial));
            assert!(sent.is_none());
            assert_eq!(e.unreported.as_deref(), Some(partial));
            release(e);
        }
    }
}
