"""The distributed path against the local one, in one run (`benches/distributed.sh`).

Builds a 75-field GRIB2 file with ecCodes from a real NAM sample (the first 75 messages of
`grib2/geocat__fh.0012_tl.press_gr.awp211.grb2` that are not wind components, so the
chunker plans one layer, and one job, per field, and publishes them in batches of small jobs
unless `--chunker-flag=--batch-tiles=0`), then for each repetition:

- local: `tilecast render FILE --out FRESH_DIR --quiet`, wall time from spawn to exit;
- distributed: a chunker (`--no-ledger`), a `tilecast ledger` and a `tilecast pool` of 2
  one-shot workers as real processes on the real RabbitMQ, started and ready beforehand;
  the file is written into the ingest directory (as `cp` would) and the time runs until the
  run's `manifest.json` exists (waited for with inotify: this script takes no CPU meanwhile).

Both run on the same cores (the whole machine, every process unpinned, one after the other).
The breakdown comes from the processes' own JSON logs: when the chunker noticed the file and
when it had hashed, planned and published it; each worker's start, connection, job, result
and ack; each worker's exit as the pool saw it; the ledger's last result and the manifest.
Timestamps are the processes' wall clocks, the same clock as this script's. No timing is
asserted: the script prints numbers.
"""

import argparse
import datetime as dt
import glob
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE = "grib2/geocat__fh.0012_tl.press_gr.awp211.grb2"
FIELDS = 75
# A prefix of this invocation's own: a consumer left on another run's queues (a process not
# stopped) cannot take this run's jobs or results. Its queues are deleted at the end.
PREFIX = f"tilecast_bench_distributed_{os.getpid()}"
QUEUES = ("render", "render.dead", "results", "dead.events")
AMQP = os.environ.get("TILECAST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")


def make_file(samples, dest):
    """The first FIELDS messages of the sample that are not wind components (u and v make
    a wind-speed layer too), copied byte for byte."""
    import eccodes

    wind = {"u", "v", "10u", "10v"}
    n = 0
    with open(os.path.join(samples, SOURCE), "rb") as f, open(dest, "wb") as out:
        while n < FIELDS:
            h = eccodes.codes_grib_new_from_file(f)
            if h is None:
                sys.exit(f"{SOURCE}: only {n} fields that are not wind components")
            if eccodes.codes_get(h, "shortName") not in wind:
                out.write(eccodes.codes_get_message(h))
                n += 1
            eccodes.codes_release(h)


class Inotify:
    """An inotify descriptor (Linux): the wait for the manifest sleeps until a directory on
    its path changes. Polling every 2 ms took 34 ms of CPU per distributed run (`perf`),
    taken from the run being measured; the local render is waited for without any."""

    CREATE, MOVED_TO = 0x100, 0x80

    def __init__(self):
        import ctypes

        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            sys.exit(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.watched = set()

    def watch(self, directory, mask):
        if directory not in self.watched:
            if self.libc.inotify_add_watch(self.fd, os.fsencode(directory), mask) < 0:
                return False
            self.watched.add(directory)
        return True

    def wait(self, timeout):
        """Until something happens in a watched directory or `timeout` seconds pass."""
        import select

        select.select([self.fd], [], [], max(0.0, timeout))
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def close(self):
        """Closing waits for an RCU grace period (10-20 ms here): done after the timing."""
        os.close(self.fd)


def wait_for_path(watch, path, deadline):
    """Whether `path` exists before `deadline`: its deepest existing directory is watched,
    then looked at again (so nothing created meanwhile is missed), and so on down. In the
    file's own directory only renames wake this script (the output store writes every file
    by a rename; the layers' directories made there meanwhile would wake it 75 times), with
    a look every 50 ms for any other way of writing it."""
    final = os.path.dirname(path)
    while not os.path.exists(path):
        if time.time() > deadline:
            return False
        d = final
        while not os.path.isdir(d):
            d = os.path.dirname(d)
        mask = Inotify.MOVED_TO if d == final else Inotify.CREATE | Inotify.MOVED_TO
        watch.watch(d, mask)
        below = os.path.join(d, os.path.relpath(path, d).split(os.sep)[0])
        if not os.path.exists(below):
            watch.wait(min(deadline - time.time(), 0.05 if d == final else 60))
    return True


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ready(port, what, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.05)
    sys.exit(f"the {what} never became ready on port {port}")


def children_cpu():
    """CPU seconds (user + system) of every process this script started and waited for, and
    their waited-for descendants (the pool waits for its workers)."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def broker_cpu():
    """CPU seconds of the RabbitMQ node (beam.smp) so far, or None if it is not found."""
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and b"beam.smp" in open(f"/proc/{pid}/cmdline", "rb").read():
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                return (int(f[11]) + int(f[12])) / tick
        except OSError:
            continue
    return None


def load():
    return open("/proc/loadavg").read().split()[0]


def ts(rec):
    return dt.datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()


def records(path):
    out = []
    for line in open(path, errors="replace"):
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def local_run(tc, grib, tmp, rep):
    out = os.path.join(tmp, f"local-{rep}")
    c0 = children_cpu()
    t0 = time.time()
    subprocess.run([tc, "render", grib, "--out", out, "--quiet"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time() - t0, children_cpu() - c0


def distributed_run(tc, grib, tmp, rep, run, workers, chunker_flags, pool_flags, worker_flags,
                    debug_logs):
    root = os.path.join(tmp, f"dist-{rep}")
    ingest, out, logs = (os.path.join(root, d) for d in ("in", "out", "logs"))
    for d in (ingest, out, logs):
        os.makedirs(d)
    env = dict(os.environ, TILECAST_AMQP_URL=AMQP, TILECAST_QUEUE_PREFIX=PREFIX,
               TILECAST_OUT=out, TILECAST_INGEST=ingest, TILECAST_LOG_FORMAT="json")
    # The processes' own log level (info) unless asked: debug lines cost a little per job.
    env.pop("RUST_LOG", None)
    if debug_logs:
        env["RUST_LOG"] = "info,tilecast::commands::pool=debug,tilecast::commands::ledger=debug"
    procs = []

    def start(label, args):
        log = open(os.path.join(logs, f"{label}.log"), "w")
        procs.append(subprocess.Popen([tc] + args, env=env, stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL))

    cport, lport = free_port(), free_port()
    start("ledger", ["ledger", "--metrics-addr", f"127.0.0.1:{lport}"])
    start("chunker", ["chunker", "--ingest", ingest, "--no-ledger",
                      "--metrics-addr", f"127.0.0.1:{cport}"] + chunker_flags)
    start("pool", ["pool", "--workers", str(workers)] + pool_flags + ["--", "--idle-exit", "120"]
          + worker_flags)
    wait_ready(lport, "ledger")
    wait_ready(cport, "chunker")
    # The workers connect within tens of milliseconds; give them a second.
    time.sleep(1.0)
    ld = load()
    data = open(grib, "rb").read()
    c0, b0 = children_cpu(), broker_cpu()
    watch = Inotify()
    t0 = time.time()
    with open(os.path.join(ingest, "nam-75.grib2"), "wb") as f:
        f.write(data)
    written = time.time()
    # The run id is the local render's (same bytes, same settings).
    manifest = os.path.join(out, run, "manifest.json")
    if not wait_for_path(watch, manifest, t0 + 300):
        sys.exit(f"no manifest after 300 s; logs in {logs}")
    t_manifest = time.time()
    watch.close()
    b1 = broker_cpu()
    # Let the last worker exit and every log line reach its file.
    time.sleep(0.5)
    # Each long-running process's own CPU and its reaped children's (a pool's fork server
    # and the jobs' processes it reaped, or its workers), from start-up on.
    tick = os.sysconf("SC_CLK_TCK")
    by_process = {}
    pids = [(label, p.pid) for label, p in zip(("ledger", "chunker", "pool"), procs)]
    try:
        kids = open(f"/proc/{procs[2].pid}/task/{procs[2].pid}/children").read().split()
        if len(kids) == 1:
            pids.append(("fork server", int(kids[0])))
    except OSError:
        pass
    for label, pid in pids:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            own, kids = (int(f[11]) + int(f[12])) / tick, (int(f[13]) + int(f[14])) / tick
            by_process[label] = (own, kids)
        except (OSError, IndexError, ValueError):
            pass
    for p in reversed(procs):
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    b = breakdown(logs, t0, written, t_manifest, workers)
    # Processes' CPU is known once they are reaped: start-up before the drop is included,
    # the 0.5 s after the manifest too (idle).
    b["cpu"] = children_cpu() - c0
    b["broker_cpu"] = (b1 - b0) if b0 is not None and b1 is not None else float("nan")
    b["by_process"] = by_process
    return b, ld


def breakdown(logs, t0, written, t_manifest, workers):
    """Phases of the run on its critical path, and where each worker slot's time went
    while jobs were being rendered."""
    chunker = records(os.path.join(logs, "chunker.log"))
    pool = records(os.path.join(logs, "pool.log"))
    ledger = records(os.path.join(logs, "ledger.log"))
    noticed = next((ts(r) for r in chunker if r.get("message", "").startswith("new file")),
                   None)
    sub = next(r for r in chunker if "jobs published" in r.get("message", ""))
    t_pub = ts(sub)
    stages = {k: float(sub.get(k, 0)) for k in ("hash_s", "plan_s", "publish_s", "books_s")}
    submit_s = sum(stages.values())
    t_submit = t_pub - submit_s
    jobs = [r for r in pool if r.get("outcome") in ("done", "already done")]
    spawned = {int(r["pid"]): ts(r) for r in pool if r.get("message") == "worker started"}
    exited = {int(r["pid"]): ts(r) for r in pool if r.get("message") == "worker exited"}
    last_ack = max(ts(r) for r in jobs)
    results = [ts(r) for r in ledger if r.get("message") == "result recorded"]
    complete = next(ts(r) for r in ledger if "manifest written" in r.get("message", ""))
    last_result = max(results) if results else last_ack
    phases = [
        ("file written", written - t0),
        ("written -> noticed by the chunker", (noticed or t_submit) - written),
        ("noticed -> taken (stability wait)", t_submit - (noticed or t_submit)),
        ("hash", stages["hash_s"]),
        ("plan", stages["plan_s"]),
        ("bookkeeping (claim, plan, records)", stages["books_s"]),
        ("publish with confirms", stages["publish_s"]),
        ("submitted (chunker's log) -> last job acked", last_ack - t_pub),
        # Without --debug-logs the ledger does not log each result: the two read as one.
        ("last ack -> ledger has the result", last_result - last_ack),
        ("ledger: result (or ack) -> manifest", complete - last_result),
        ("manifest written -> seen here", t_manifest - complete),
    ]
    # Each job's worker process in segments, from the worker's own times (from its start)
    # and the pool's start and exit events.
    keys = ("start", "connect", "standby", "wait", "execute", "result_record", "report", "exit",
            "hand-over")
    per_job = {k: [] for k in keys}
    spans = []
    forked = bool(jobs) and "acked_ms" not in jobs[0]
    if forked:
        # `pool --spawn fork`: the pool logs each job's delivery -> process exit (fork, run,
        # exit) and exit -> ack; there is no start, connection or standby per job.
        keys = ("process (fork, run, report)", "report", "hand-over")
        per_job = {k: [] for k in keys}
    # A message (a job, or a batch of jobs the chunker grouped) runs in one process: its
    # jobs' lines share the process's pid, and count once here.
    seen = set()
    for r in jobs:
        done = ts(r)
        pid = int(r["pid"]) if forked else int(r["worker"].split("-")[1])
        if pid in seen:
            continue
        seen.add(pid)
        if forked:
            report = float(r["report_ms"]) / 1e3
            received = done - float(r["seconds"])
            finished = done - report
            spans.append((received, finished))
            per_job["process (fork, run, report)"].append(finished - received)
            per_job["report"].append(report)
            continue
        born = done - float(r["acked_ms"]) / 1e3
        connected = born + float(r["connected_ms"]) / 1e3
        released = born + float(r.get("released_ms", r["connected_ms"])) / 1e3
        received = born + float(r["received_ms"]) / 1e3
        executed = received + float(r["execute_ms"]) / 1e3
        spans.append((received, executed))
        per_job["start"].append(born - spawned.get(pid, born))
        per_job["connect"].append(connected - born)
        per_job["standby"].append(released - connected)
        per_job["wait"].append(received - released)
        per_job["execute"].append(executed - received)
        per_job["result_record"].append(float(r.get("books_ms", 0)) / 1e3)
        per_job["report"].append(done - executed)
        per_job["exit"].append(exited.get(pid, done) - done)
    # The job phase as `workers` render places: each job goes to the place that became free
    # last before it started; a place's time is its wait for its first job, its jobs, the
    # hand-overs between them and the tail after its last job until the last ack.
    spans.sort()
    free = [t_pub] * workers
    first = [None] * workers
    busy = [0.0] * workers
    gaps = [0.0] * workers
    for a, b in spans:
        ready = [i for i in range(workers) if free[i] <= a]
        i = max(ready, key=lambda k: free[k]) if ready else min(range(workers), key=lambda k: free[k])
        if first[i] is None:
            first[i] = a - t_pub
        else:
            per_job["hand-over"].append(a - free[i])
            gaps[i] += max(a - free[i], 0.0)
        busy[i] += b - a
        free[i] = max(free[i], b)
    place = {
        "submitted -> first job starts (< 0: before)": sum(f or 0.0 for f in first) / workers,
        "executing jobs": sum(busy) / workers,
        "hand-overs between jobs": sum(gaps) / workers,
        "last job rendered -> last ack": sum(last_ack - f for f in free) / workers,
    }
    return {
        "total": t_manifest - t0,
        "phases": phases,
        "places": place,
        "per_job": {k: statistics.median(v) * 1e3 if v else 0.0 for k, v in per_job.items()},
        "jobs": len(jobs),
        "messages": len(spans),
        "cpu_execute": sum(b - a for a, b in spans),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tilecast", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunker-flag", action="append", default=[],
                    help="extra chunker flag (repeatable), e.g. --chunker-flag=--stable-for=2")
    ap.add_argument("--pool-flag", action="append", default=[],
                    help="extra pool flag (repeatable), e.g. --pool-flag=--standby=0")
    ap.add_argument("--worker-flag", action="append", default=[],
                    help="extra worker flag (repeatable)")
    ap.add_argument("--debug-logs", action="store_true",
                    help="run the pool and ledger at debug level: the breakdown then also has "
                         "the ledger's time per result, and the pool's log each job "
                         "process's resources (the timing then includes those log lines)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tilecast-bench-dist-")
    grib = os.path.join(tmp, "nam-75.grib2")
    make_file(args.samples, grib)
    inspect = subprocess.run([args.tilecast, "inspect", grib], capture_output=True, text=True)
    summary = [line for line in inspect.stdout.splitlines() if " fields, " in line]
    fields = summary[-1].split()[0] if summary else "?"
    print(f"== distributed vs local: {grib} ({os.path.getsize(grib) // 1024} KiB, {fields} "
          f"fields listed by inspect) from {SOURCE}")
    print(f"   {os.cpu_count()} cores, both shapes unpinned on all of them, one after the other; "
          f"pool of {args.workers}; flags: chunker {args.chunker_flag or 'defaults'}, "
          f"pool {args.pool_flag or 'defaults'}, worker {args.worker_flag or 'defaults'}")
    print(f"{'rep':>3} {'local s':>8} {'dist s':>8} {'ratio':>6} {'load before local/dist':>23} "
          f"{'jobs':>5} {'local cpu s':>11} {'dist cpu s':>10} {'broker cpu s':>12}")
    runs = []
    for rep in range(args.reps):
        ll = load()
        local, local_cpu = local_run(args.tilecast, grib, tmp, rep)
        run = os.path.basename(os.path.dirname(
            glob.glob(os.path.join(tmp, f"local-{rep}", "*", "manifest.json"))[0]))
        b, dl = distributed_run(args.tilecast, grib, tmp, rep, run, args.workers,
                                args.chunker_flag, args.pool_flag, args.worker_flag,
                                args.debug_logs)
        runs.append(((local, local_cpu), b))
        print(f"{rep:>3} {local:>8.3f} {b['total']:>8.3f} {b['total'] / local:>6.2f} "
              f"{ll + '/' + dl:>23} {b['jobs']:>5} {local_cpu:>11.2f} {b['cpu']:>10.2f} "
              f"{b['broker_cpu']:>12.2f}", flush=True)
    med = lambda xs: statistics.median(xs)
    local = med([r[0][0] for r in runs])
    total = med([r[1]["total"] for r in runs])
    print(f"median: local {local:.3f} s, distributed {total:.3f} s, ratio {total / local:.2f}x")
    print("\n-- where the distributed time goes (median over repetitions, s)")
    for i, (name, _) in enumerate(runs[0][1]["phases"]):
        print(f"   {name:<40} {med([r[1]['phases'][i][1] for r in runs]):>7.3f}")
    print(f"-- the job phase (submitted -> last ack) per render place ({args.workers}), s")
    for k in runs[0][1]["places"]:
        print(f"   {k:<40} {med([r[1]['places'][k] for r in runs]):>7.3f}")
    print(f"-- per message ({med([r[1]['messages'] for r in runs]):.0f} messages for "
          f"{runs[0][1]['jobs']} jobs: a job, or a batch of small jobs), median ms: with --spawn exec, process start, connect (and declare), "
          "standby (connected, not yet released), wait for the job, execute (read, render, "
          "write, result record), of which the result record, report (result publish + "
          "confirm + ack), exit; with --spawn fork, the job's process from delivery to exit, "
          "and report; hand-over (previous message rendered -> this one received, same place)")
    print("   " + "  ".join(f"{k} {med([r[1]['per_job'][k] for r in runs]):.1f}"
                            for k in runs[0][1]["per_job"]))
    print(f"-- sum of the workers' execute times: "
          f"{med([r[1]['cpu_execute'] for r in runs]):.3f} s over {runs[0][1]['jobs']} jobs")
    lc, dc = med([r[0][1] for r in runs]), med([r[1]["cpu"] for r in runs])
    bc = med([r[1]["broker_cpu"] for r in runs])
    jobs = runs[0][1]["jobs"]
    print(f"-- CPU (median): local {lc:.2f} s; distributed {dc:.2f} s in tilecast processes "
          f"+ {bc:.2f} s in the broker: {(dc + bc - lc) / jobs * 1e3:.1f} ms more per job")
    print("-- CPU by process while the pool ran (median s, own + reaped children; the pool's "
          "children are reaped only once they exit, so a fork pool's jobs count at its end): "
          + ", ".join(f"{k} {med([r[1]['by_process'].get(k, (0, 0))[0] for r in runs]):.2f}"
                      f" + {med([r[1]['by_process'].get(k, (0, 0))[1] for r in runs]):.2f}"
                      for k in ("chunker", "ledger", "pool", "fork server")))
    print(f"(logs and outputs in {tmp})")
    delete_queues()


def delete_queues():
    """Deletes this invocation's queues with rabbitmqctl when it is there (best effort: the
    broker may be remote, or the command not allowed)."""
    for q in QUEUES:
        try:
            subprocess.run(["rabbitmqctl", "delete_queue", f"{PREFIX}.{q}"], timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return


if __name__ == "__main__":
    main()
