"""Baseline against current: the same benchmarks on two source trees, interleaved, in one run.

The baseline is a ``git worktree`` of a ref (``6e88ada`` by default: the last commit before
merchants, buyers and roles) in a temporary directory. The current tree is a copy of this working
tree's ``src/``, ``tests/`` and ``bench/`` taken when the run starts, so edits made while it runs
do not leak into some of its repetitions (``--live`` uses the working tree itself).

Each repetition runs, for each benchmark, one tree and then the other, and the next repetition
starts with the other tree (A B, B A, A B, ...), so drift of the machine's load over the run
falls on both. Each run is the tree's own copy of the script, as a subprocess, with
``PYTHONPATH=<tree>/src`` first, so its server imports that tree's ``qrcheckout`` and not the
editable install. Every server process reports the ``qrcheckout`` it imported when it exits,
and a run whose server imported another tree's code is an error.

    bench/webhook_throughput.py   SQLite and PostgreSQL (``--skip-postgres`` for SQLite only)
    bench/watch_latency.py        SQLite, in-memory bus, ``--watchers`` (default 1,100)

It prints, for each figure, the median over repetitions on each tree, their ratio, the ratio in
each repetition, and whether the current tree is within ``--budget`` (5 %) of the baseline.
This is a benchmark that prints figures, not a test.

    .venv/bin/python bench/compare_revisions.py
    .venv/bin/python bench/compare_revisions.py --repetitions 5 --events 500
    .venv/bin/python bench/compare_revisions.py --watchers 1,100,1000 --rounds 20,10,3
    .venv/bin/python bench/compare_revisions.py --baseline HEAD~3 --skip-postgres
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench_support import int_list, rounds_for_each_count

ROOT = Path(__file__).resolve().parents[1]
TREES = ("baseline", "current")
BENCHMARKS = ("webhook", "watch")

# Put first on every run's PYTHONPATH. When a process imports ``qrcheckout``, it notes which file
# it found, so the server itself (not a probe beside it) shows what it ran. It notes this on import
# rather than at exit: uvicorn re-raises SIGTERM after its shutdown, so atexit would not run.
SITECUSTOMIZE = '''\
"""compare_revisions: note which qrcheckout this process imports."""
import os
import sys

_LOG = os.environ.get("QRC_COMPARE_ORIGIN_LOG")


class _NoteOrigin:
    """Asks the other finders, in order, and writes down where they found qrcheckout."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != "qrcheckout":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is cls or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                with open(_LOG, "a", encoding="utf-8") as out:
                    out.write(f"{os.getpid()}\\t{spec.origin}\\t{' '.join(sys.argv)[:200]}\\n")
                return spec
        return None


if _LOG:
    sys.meta_path.insert(0, _NoteOrigin)
'''


# -- the two trees -----------------------------------------------------------------------------


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@contextlib.contextmanager
def baseline_tree(ref: str, workdir: Path) -> Iterator[Path]:
    """A detached ``git worktree`` of ``ref``, removed afterwards; the main tree is untouched."""
    path = workdir / "baseline"
    git("worktree", "add", "--detach", str(path), ref)
    try:
        yield path
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            git("worktree", "remove", "--force", str(path))
        with contextlib.suppress(subprocess.CalledProcessError):
            git("worktree", "prune")


def snapshot_tree(workdir: Path) -> Path:
    """This working tree's code as it is now (tracked or not): what every current run uses."""
    path = workdir / "current"
    path.mkdir()
    skip = shutil.ignore_patterns(
        "__pycache__", "*.pyc", "node_modules", ".pytest_cache", ".localstripe-venv", "*.egg-info"
    )
    for name in ("src", "tests", "bench"):
        shutil.copytree(ROOT / name, path / name, ignore=skip, symlinks=True)
    shutil.copy2(ROOT / "pyproject.toml", path / "pyproject.toml")
    return path


def run_env(tree: Path, hooks: Path, origin_log: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("QRCHECKOUT_") and k not in ("PYTHONPATH", "PYTHONSTARTUP")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(hooks), str(tree / "src")])
    env["QRC_COMPARE_ORIGIN_LOG"] = str(origin_log)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def probe_import(python: str, tree: Path, hooks: Path, workdir: Path) -> str:
    """The ``qrcheckout`` a process started like the runs imports; it must be ``tree``'s."""
    env = run_env(tree, hooks, workdir / "probe-origins.log")
    found = subprocess.run(
        [python, "-c", "import qrcheckout; print(qrcheckout.__file__)"],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to((tree / "src").resolve()):
        raise SystemExit(f"with PYTHONPATH={tree / 'src'} qrcheckout still comes from {found}")
    return found


# -- one run -----------------------------------------------------------------------------------


@dataclass
class Run:
    benchmark: str
    tree: str
    repetition: int
    figures: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    origins: list[str] = field(default_factory=list)


def bench_command(benchmark: str, python: str, tree: Path, args: argparse.Namespace) -> list[str]:
    """The run of ``benchmark`` against ``tree``: its own copy of the script, or with
    ``--scripts current`` this tree's copy, measuring both trees' servers the same way."""
    if args.scripts == "current":
        tree = args.current_tree
    if benchmark == "webhook":
        command = [
            python,
            str(tree / "bench" / "webhook_throughput.py"),
            "--events",
            str(args.events),
            "--warmup",
            str(args.warmup),
            "--concurrency",
            str(args.concurrency),
            "--postgres-url",
            args.postgres_url,
        ]
        return command + (["--skip-postgres"] if args.skip_postgres else [])
    return [
        python,
        str(tree / "bench" / "watch_latency.py"),
        "--watchers",
        ",".join(map(str, args.watchers)),
        "--rounds",
        ",".join(map(str, args.rounds)),
    ]


def execute(
    benchmark: str,
    tree_name: str,
    tree: Path,
    repetition: int,
    args: argparse.Namespace,
    hooks: Path,
    logs: Path,
) -> Run:
    run = Run(benchmark, tree_name, repetition)
    stem = f"r{repetition}-{benchmark}-{tree_name}"
    origin_log = logs / f"{stem}.origins"
    output = logs / f"{stem}.log"
    command = bench_command(benchmark, args.python, tree, args)
    started = time.monotonic()
    sampler = ServerCpu(origin_log)
    with sampler, output.open("w") as out:
        # Its own session, so a run cut short takes its server down with it.
        proc = subprocess.Popen(
            command,
            cwd=tree,
            env=run_env(tree, hooks, origin_log),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=args.run_timeout)
        except subprocess.TimeoutExpired:
            run.problems.append(f"cut off after {args.run_timeout:.0f} s")
        finally:
            stop(proc)
    run.seconds = time.monotonic() - started
    text = output.read_text(errors="replace")
    if proc.returncode != 0 and not run.problems:
        run.problems.append(f"exited with status {proc.returncode}")
    run.figures = parse_webhook(text) if benchmark == "webhook" else parse_watch(text)
    if not run.figures:
        run.problems.append("no figures found in its output")
    servers = ["sqlite"]
    if benchmark == "webhook" and not args.skip_postgres:
        servers.append("postgres")
    cpu = sampler.seconds()
    if run.figures and len(cpu) == len(servers):
        for db, seconds in zip(servers, cpu, strict=True):
            prefix = f"webhook {db}" if benchmark == "webhook" else "watch"
            run.figures[f"{prefix} srv CPU whole run"] = seconds
    run.origins = check_origins(origin_log, tree, run)
    if run.problems:
        tail = textwrap.indent(text[-1500:], "    | ")
        run.problems.append(f"full output in {output}; it ends:\n{tail}")
    return run


class ServerCpu:
    """Samples the CPU time of the run's servers (the processes that imported qrcheckout, as
    the origin log names them) from ``/proc`` every 0.2 s, from outside: the servers run as they
    would. The last sample before a server exits is its figure, startup and shutdown included."""

    def __init__(self, origin_log: Path) -> None:
        self.origin_log = origin_log
        self.cpu: dict[int, float] = {}
        self.order: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> ServerCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            stopping = self._stop.is_set()
            with contextlib.suppress(FileNotFoundError):
                for line in self.origin_log.read_text().splitlines():
                    pid = int(line.split("\t", 1)[0])
                    if pid not in self.order:
                        self.order.append(pid)
            for pid in self.order:
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    self.cpu[pid] = (int(stat[11]) + int(stat[12])) / self._tick
            if stopping:
                return
            self._stop.wait(0.2)

    def seconds(self) -> list[float]:
        """CPU seconds of each server, in the order they started."""
        return [self.cpu[pid] for pid in self.order if pid in self.cpu]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a run and whatever it started. SIGINT first: the scripts then stop their server and
    drop their PostgreSQL database themselves; then SIGTERM and SIGKILL to the whole group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # a server the script left behind, if any
        except ProcessLookupError:
            break
        time.sleep(1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def check_origins(origin_log: Path, tree: Path, run: Run) -> list[str]:
    """Every process of the run that imported qrcheckout imported ``tree``'s."""
    try:
        lines = origin_log.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    origins = [line.split("\t")[1] for line in lines if line.count("\t") >= 2]
    src = (tree / "src").resolve()
    foreign = sorted({o for o in origins if not Path(o).resolve().is_relative_to(src)})
    if foreign:
        run.problems.append(f"a server imported qrcheckout from outside {src}: {foreign}")
    elif not origins:
        run.problems.append("no server process reported which qrcheckout it imported")
    return sorted(set(origins))


# -- reading the scripts' tables ---------------------------------------------------------------

NUM = r"(-?[\d.]+|-)"
WEBHOOK_ROW = re.compile(
    rf"^(sqlite|postgres)\s+/v1/webhooks/(\w+)\s+{NUM}\s+{NUM}\s+{NUM}\s+(\d+)\s+{NUM}\s*$"
)
# Six figures (sent, accepted), or nine with "after the first watcher".
WATCH_SAMPLES_ROW = re.compile(
    r"^\s*(\d+)\s+all\s+(\d+)\s+(\d+)\s+"
    + r"\s+".join([NUM] * 6)
    + r"(?:\s+"
    + r"\s+".join([NUM] * 3)
    + r")?\s*$"
)
WATCH_ROUNDS_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+" + r"\s+".join([NUM] * 8) + r"\s*$")


def number(text: str) -> float | None:
    return None if text == "-" else float(text)


def parse_webhook(text: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for line in text.splitlines():
        m = WEBHOOK_ROW.match(line)
        if not m:
            continue
        db, endpoint, rate, p50, p99, errors, cpu = m.groups()
        prefix = f"webhook {db} {endpoint}"
        values = {"events/s": rate, "p50": p50, "p99": p99, "srv CPU": cpu}
        if endpoint == "echo":
            values = {"events/s": rate, "srv CPU": cpu}
        for name, value in values.items():
            if (v := number(value)) is not None:
                figures[f"{prefix} {name}"] = v
        figures[f"{prefix} errors"] = float(errors)
    return figures


def parse_watch(text: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for line in text.splitlines():
        if m := WATCH_SAMPLES_ROW.match(line):
            n = m.group(1)
            sent_p50, sent_p99, _, acc_p50, _, _, first_p50, first_p99, _ = (
                None if g is None else number(g) for g in m.groups()[3:]
            )
            for name, value in (
                ("from sent p50", sent_p50),
                ("from sent p99", sent_p99),
                ("from accepted p50", acc_p50),
                ("after first p50", first_p50),
                ("after first p99", first_p99),
            ):
                if value is not None:
                    figures[f"watch N={n} {name}"] = value
        elif m := WATCH_ROUNDS_ROW.match(line):
            n = m.group(1)
            rtt_p50, _, _, last_p50, _, _, connect_p50, _ = (number(g) for g in m.groups()[2:])
            for name, value in (
                ("webhook rtt p50", rtt_p50),
                ("last watcher p50", last_p50),
                ("connect all p50", connect_p50),
            ):
                if value is not None:
                    figures[f"watch N={n} {name}"] = value
    return figures


# -- the comparison ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    unit: str
    higher_is_better: bool
    # Near-zero figures (a push delay of 0.3 ms, say) get a difference, not a ratio or verdict.
    ratio: bool = True


def kind_of(name: str) -> Kind:
    if name.endswith("events/s"):
        return Kind("ev/s", True)
    if name.endswith("srv CPU"):
        return Kind("ms/req", False)
    if name.endswith("srv CPU whole run"):
        return Kind("s", False)
    if name.endswith("errors"):
        return Kind("count", False, ratio=False)
    if name.endswith("connect all p50"):
        return Kind("s", False)
    if "from accepted" in name:
        return Kind("ms", False, ratio=False)
    return Kind("ms", False)


def figure_order(name: str) -> tuple[object, ...]:
    parts = name.split()
    if parts[0] == "webhook":
        db = ("sqlite", "postgres").index(parts[1])
        if parts[2] == "srv":  # the whole run's server CPU, after both endpoints
            return (0, db, 9, 0)
        endpoint = ("stripe", "echo").index(parts[2])
        metric = ("events/s", "p50", "p99", "srv", "errors").index(parts[3])
        return (0, db, endpoint, metric)
    if parts[1] == "srv":
        return (2, 0, 0, "")
    n = int(parts[1].removeprefix("N="))
    metric = " ".join(parts[2:])
    order = (
        "from sent p50",
        "from sent p99",
        "from accepted p50",
        "after first p50",
        "after first p99",
        "webhook rtt p50",
        "last watcher p50",
        "connect all p50",
    )
    return (1, n, order.index(metric) if metric in order else 99, metric)


def slowdown(kind: Kind, baseline: float, current: float) -> float | None:
    """How much worse current is than baseline, as a fraction (negative: better)."""
    if baseline <= 0 or current <= 0:
        return None
    return baseline / current - 1 if kind.higher_is_better else current / baseline - 1


def fmt(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.2f}"


def compare(runs: list[Run], budget: float, repetitions: int) -> tuple[list[str], list[dict]]:
    good = [r for r in runs if not r.problems]
    names = sorted({n for r in good for n in r.figures}, key=figure_order)
    header = (
        f"{'figure':<36} {'unit':>6} {'baseline':>9} {'current':>9} {'cur/base':>8} "
        f"{'worse by':>9}  {'per repetition (worse by)':<28} {'verdict'}"
    )
    lines = [header, "-" * (len(header) + 8)]
    rows: list[dict] = []
    for name in names:
        kind = kind_of(name)
        by_rep: dict[int, dict[str, float]] = {}
        for r in good:
            if name in r.figures:
                by_rep.setdefault(r.repetition, {})[r.tree] = r.figures[name]
        base = [v["baseline"] for v in by_rep.values() if "baseline" in v]
        cur = [v["current"] for v in by_rep.values() if "current" in v]
        if not base or not cur:
            continue
        b, c = statistics.median(base), statistics.median(cur)
        pairs = [
            (rep, v["baseline"], v["current"])
            for rep, v in sorted(by_rep.items())
            if "baseline" in v and "current" in v
        ]
        row: dict = {"figure": name, "unit": kind.unit, "baseline": base, "current": cur}
        if not kind.ratio:
            per = " ".join(f"{cv - bv:+.2f}" for _, bv, cv in pairs)
            lines.append(
                f"{name:<36} {kind.unit:>6} {fmt(b):>9} {fmt(c):>9} {'':>8} "
                f"{c - b:>+9.2f}  {per:<28} (difference, no verdict)"
            )
            rows.append(row)
            continue
        paired = [s for _, bv, cv in pairs if (s := slowdown(kind, bv, cv)) is not None]
        worse = slowdown(kind, b, c)
        ratio = c / b if b else float("nan")
        if worse is None:
            verdict = "-"
        elif not kind.higher_is_better and name.endswith("p99"):
            verdict = "tail, see text" if worse > budget else "ok"
        else:
            verdict = "ok" if worse <= budget else f"WORSE > {budget:.0%}"
            if paired and min(paired) <= budget < max(paired):
                verdict += " (reps disagree)"
        if "echo" in name:
            verdict = "control: " + verdict
        if len(pairs) < repetitions:
            verdict += f" [{len(pairs)}/{repetitions} pairs]"
        per = " ".join(f"{s:+.1%}" for s in paired)
        lines.append(
            f"{name:<36} {kind.unit:>6} {fmt(b):>9} {fmt(c):>9} {ratio:>8.3f} "
            f"{'' if worse is None else f'{worse:+.1%}':>9}  {per:<28} {verdict}"
        )
        row.update(ratio=ratio, worse_by=worse, paired_worse_by=paired, verdict=verdict)
        rows.append(row)
    return lines, rows


# -- driver ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The webhook and watcher benchmarks on a baseline ref and on this working "
        "tree, interleaved in one run, side by side."
    )
    parser.add_argument(
        "--baseline", default="6e88ada", help="git ref of the baseline (default 6e88ada)"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="run the working tree itself as current, not a copy taken at the start",
    )
    parser.add_argument(
        "--repetitions", type=int, default=3, help="runs of each benchmark per tree (default 3)"
    )
    parser.add_argument(
        "--scripts",
        choices=["own", "current"],
        default="own",
        help="own: each tree runs its own benchmark scripts (default); current: both run the "
        "current tree's, for a benchmark changed since the baseline",
    )
    parser.add_argument(
        "--only", choices=BENCHMARKS, help="run one benchmark only: webhook or watch"
    )
    parser.add_argument(
        "--events", type=int, default=200, help="webhook: measured events per row (default 200)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="webhook: warm-up events per row (default 20)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="webhook: requests in flight (default 16)"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="webhook: SQLite only")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="webhook: an existing database to create and drop qrc_bench_* databases from",
    )
    parser.add_argument(
        "--watchers",
        type=int_list,
        default=[1, 100],
        help="watch: watcher counts (default 1,100; 1000 adds about 30 s a run)",
    )
    parser.add_argument(
        "--rounds",
        type=int_list,
        default=[20, 10],
        help="watch: measured rounds, one value or one per watcher count (default 20,10)",
    )
    parser.add_argument(
        "--budget", type=float, default=0.05, help="allowed slowdown (default 0.05: 5%%)"
    )
    parser.add_argument(
        "--run-timeout", type=float, default=600, help="seconds per benchmark run (default 600)"
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter of the runs (default: this one)"
    )
    parser.add_argument(
        "--log-dir", type=Path, help="keep every run's output here (default: a temporary dir)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    rounds_for_each_count(parser, args)
    if args.repetitions < 1:
        parser.error("--repetitions must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    benchmarks = [args.only] if args.only else list(BENCHMARKS)
    workdir = Path(tempfile.mkdtemp(prefix="qrc-compare-"))
    logs = args.log_dir or workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    hooks = workdir / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    runs: list[Run] = []
    interrupted = False
    # Also when started in the background, where SIGINT is ignored: every way out cleans up.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    started = time.monotonic()
    try:
        with baseline_tree(args.baseline, workdir) as base:
            trees = {"baseline": base, "current": ROOT if args.live else snapshot_tree(workdir)}
            args.current_tree = trees["current"]
            base_commit = git("rev-parse", "--short", args.baseline)
            dirty = len(git("status", "--porcelain", "--", "src").splitlines())
            print(
                f"qrcheckout compare: baseline {args.baseline} ({base_commit}) against the "
                f"working tree on {git('rev-parse', '--short', 'HEAD')} with {dirty} changed "
                f"paths under src/ ({'live' if args.live else 'copied at start'}); "
                f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            for name, tree in trees.items():
                print(f"  {name:<8} imports {probe_import(args.python, tree, hooks, workdir)}")
            print(f"  run outputs in {logs}", flush=True)
            try:
                for rep in range(1, args.repetitions + 1):
                    order = TREES if rep % 2 else TREES[::-1]
                    for benchmark in benchmarks:
                        for tree_name in order:
                            run = execute(
                                benchmark, tree_name, trees[tree_name], rep, args, hooks, logs
                            )
                            runs.append(run)
                            status = "ok" if not run.problems else "FAILED"
                            print(
                                f"[{rep}/{args.repetitions}] {benchmark:<7} {tree_name:<8} "
                                f"{run.seconds:5.0f} s {status}; load {os.getloadavg()[0]:.1f}",
                                flush=True,
                            )
            except KeyboardInterrupt:
                print("interrupted: the figures below are from the runs that finished")
                interrupted = True
    finally:
        if args.log_dir is None:
            keep = any(r.problems for r in runs)
            if keep:
                print(f"run outputs kept in {logs}", file=sys.stderr)
                shutil.rmtree(workdir / "current", ignore_errors=True)
                shutil.rmtree(hooks, ignore_errors=True)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    status = report(runs, args, time.monotonic() - started)
    return 130 if interrupted else status


def report(runs: list[Run], args: argparse.Namespace, seconds: float) -> int:
    lines, rows = compare(runs, args.budget, args.repetitions)
    print()
    print(
        f"baseline {args.baseline} vs current working tree: median over {args.repetitions} "
        f"repetitions, run interleaved (A B, B A, ...), {seconds / 60:.1f} min in all"
    )
    sizes = {
        "webhook": f"webhook: {args.events} events (+{args.warmup} warm-up) per row, "
        f"concurrency {args.concurrency}, SQLite{'' if args.skip_postgres else ' and PostgreSQL'}",
        "watch": f"watch: SQLite, watchers {','.join(map(str, args.watchers))}, "
        f"rounds {','.join(map(str, args.rounds))}",
    }
    print("; ".join(sizes[b] for b in ([args.only] if args.only else BENCHMARKS)))
    print(
        "'worse by' > 0 means current is slower (fewer events/s, or more ms); per repetition "
        "it compares the two runs of that repetition. The budget is "
        f"{args.budget:.0%}; p99 over few samples is noisy and gets no hard verdict."
    )
    print()
    for line in lines:
        print(line)
    origins = {(r.tree, o) for r in runs for o in r.origins}
    print()
    for tree, origin in sorted(origins):
        print(f"{tree} servers imported {origin}")
    failed = [r for r in runs if r.problems]
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "baseline": args.baseline,
                    "figures": rows,
                    "runs": [r.__dict__ for r in runs],
                },
                indent=2,
            )
        )
    if failed:
        print()
        print("THE RUN HAD PROBLEMS (failed runs are left out of the figures)")
        for r in failed:
            print(f"  repetition {r.repetition} {r.benchmark} {r.tree}:")
            for problem in r.problems:
                print(textwrap.indent(problem, "    "))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
