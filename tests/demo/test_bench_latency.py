"""Latency of the demo under a crowd: 16 visitors press Generate at the same moment, 4 samples each.

Every visitor is its own ``gradio_client.Client`` (its own session, as a browser tab is); the
latency of a request is from ``predict`` to the images being on the visitor's side: in the answer
itself (this app sends them inline), or downloaded after it (an app whose galleries are files, such
as the demo before batching). The clients run on the same CPU as the server, as they did for the
numbers below. Reported: p50 / p95 / max over all requests of all rounds.

As a pytest benchmark (slow: run once, untimed, by ``make test-all``; ``make bench`` times it)::

    pytest -q -o addopts="" --benchmark-only tests/demo/test_bench_latency.py

As a script against the app as shipped (``app.py`` started in a subprocess, as ``make run`` does),
which is how the README's numbers were measured; ``--root`` runs another checkout's ``app.py``
(``git archive COMMIT | tar -x -C /tmp/before`` for the code before a change)::

    OMP_NUM_THREADS=1 .venv/bin/python tests/demo/test_bench_latency.py --rounds 5
    OMP_NUM_THREADS=1 .venv/bin/python tests/demo/test_bench_latency.py --rounds 5 --root /tmp/before
    OMP_NUM_THREADS=1 .venv/bin/python tests/demo/test_bench_latency.py --url http://127.0.0.1:7860/

Where the time of a burst goes (``--where``: the app served in this process, the StackGAN tab only, with
timestamps on one clock from the visitor's call to the handler, the batcher, the encoding and back; server and
clients then share one interpreter, so it is slower than the subprocess measurement)::

    OMP_NUM_THREADS=1 .venv/bin/python tests/demo/test_bench_latency.py --where --rounds 5

Measured 2026-12-01 on this 2-core CPU, with another engineer's jobs running beside (load average
1–5), 5 rounds of 16 × 4 samples, before and after alternately, three times each:

- before (commit 36489da: two requests at a time, galleries as files): p50 2.27–3.76 s, p95
  3.11–5.03 s, and 7–13 of 80 requests failed (the temp-folder race of issue #13);
- after (batched passes, images inline): p50 0.69–0.87 s, p95 0.89–1.25 s, none failed.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from gradio_client import Client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VISITORS = 16
SAMPLES = 4
CAPTIONS = [  # what the data can express: shape, colour, one texture, size, background
    "a large red star with diagonal stripes", "a small green circle on a black background",
    "a yellow heart with polka dots", "a purple crescent covered with fine checks",
    "a plain orange arrow on a cream backdrop", "a big blue square with thin stripes",
    "a pink ring on a gray background", "a white cross on a navy background",
]


def visitors(url: str, k: int = VISITORS, download: bool = True) -> list[Client]:
    """``k`` visitors, each its own client and session. ``download=False``: a request ends when the
    answer arrives, without fetching image files (for an app that answers with files)."""
    return [Client(url, verbose=False, download_files=download) for _ in range(k)]


def crowd(clients: list[Client], samples: int = SAMPLES, rounds: int = 3, failures: list | None = None) -> list[float]:
    """Latencies (s) of ``len(clients) × rounds`` requests; in each round all visitors ask at once.
    A failed request raises, unless ``failures`` is given: then its error is appended there."""
    n_visitors = len(clients)
    latencies: list[float] = []
    lock = threading.Lock()
    for r in range(rounds):
        start = threading.Barrier(n_visitors)

        def one(i):
            start.wait()
            t0 = time.perf_counter()
            try:
                out = clients[i].predict(CAPTIONS[i % len(CAPTIONS)], samples, 1000 * r + i, True,
                                         api_name="/generate")
                assert not isinstance(out[1], list) or len(out[1]) == samples
            except Exception as e:
                if failures is None:
                    raise
                with lock:
                    failures.append(e)
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)

        with ThreadPoolExecutor(n_visitors) as pool:
            list(pool.map(one, range(n_visitors)))
    return latencies


def summary(lat: list[float]) -> dict[str, float]:
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"n": len(lat), "p50": statistics.median(lat), "p95": q[94], "max": max(lat)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_app(port: int, root: Path = ROOT, timeout: float = 180.0) -> subprocess.Popen:
    """``python app.py PORT`` in a subprocess (the shipped checkpoint); returns once it answers.
    ``root``: the checkout to run (e.g. an export of an older commit, to measure before and after)."""
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "app.py", str(port)], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise TimeoutError("app.py did not start")


@pytest.mark.slow
@pytest.mark.benchmark(group="demo-latency")
def test_bench_sixteen_visitors(benchmark, client):
    """16 visitors × 4 samples at once, against the test app (smoke checkpoint)."""
    lat = benchmark.pedantic(crowd, args=(visitors(client.src),), kwargs={"rounds": 1}, rounds=1, iterations=1)
    benchmark.extra_info.update(summary(lat))
    assert len(lat) == VISITORS


PARTS = {  # one request's path, as (name, from, to) of the timestamps where_time_goes records
    "visitor -> the server's queue (client, HTTP)": ("sent", "queued"),
    "queue -> handler (Gradio's queue, preprocess)": ("queued", "start"),
    "batcher (waiting for the pass, the pass)": ("start", "batched"),
    "encoding (PNG, base64, HTML)": ("batched", "encoded"),
    "handler -> visitor (postprocess, SSE, client)": ("encoded", "got"),
    "total": ("sent", "got"),
}


def _timestamped(app, stamps: dict, lock: threading.Lock) -> None:
    """Record, per request (its seed), when the server's queue got it and when the handler's parts ran."""
    model = app.demo_context.models["stackgan"]
    samples, galleries, push = model.samples, model._galleries, app._queue.push

    def stamp(seed, **at):
        with lock:
            stamps.setdefault(int(seed), {}).update(at)

    def timed_samples(caption, seeds, ca):
        t = time.perf_counter()
        out = samples(caption, seeds, ca)
        stamp(seeds[0], start=t, batched=time.perf_counter())
        return out

    def timed_galleries(caption, seeds, out):
        html = galleries(caption, seeds, out)
        stamp(seeds[0], encoded=time.perf_counter())
        return html

    async def timed_push(body, request, username):
        if body.data and len(body.data) > 2 and isinstance(body.data[2], (int, float)):
            stamp(body.data[2], queued=time.perf_counter())
        return await push(body, request, username)

    model.samples, model._galleries, app._queue.push = timed_samples, timed_galleries, timed_push


def where_time_goes(rounds: int, samples: int = SAMPLES) -> None:
    """Print, for one visitor alone and for :data:`VISITORS` at once, the median and p95 of each part of a
    request's path (:data:`PARTS`)."""
    from demo.app import build_app, launch

    nowhere = Path("/nonexistent")  # the other tabs' models are not loaded: only StackGAN's requests are timed
    app = build_app({"sgan": nowhere, "s2gan": nowhere, "stacked": nowhere})
    stamps, lock = {}, threading.Lock()
    _timestamped(app, stamps, lock)
    _, url, _ = launch(app, port=_free_port(), block=False)
    try:
        Client(url, verbose=False).predict(CAPTIONS[0], samples, 0, True, api_name="/generate")  # warm
        clients = visitors(url)

        def burst(k, r):
            bar = threading.Barrier(k)

            def one(i):
                bar.wait()
                t0 = time.perf_counter()
                clients[i].predict(CAPTIONS[i % len(CAPTIONS)], samples, 1000 * r + i, True, api_name="/generate")
                with lock:
                    stamps[1000 * r + i].update(sent=t0, got=time.perf_counter())

            with ThreadPoolExecutor(k) as pool:
                list(pool.map(one, range(k)))

        for name, k, ids in (("one visitor alone", 1, range(100, 105)), (f"{VISITORS} visitors at once", VISITORS,
                                                                         range(rounds))):
            for r in ids:
                burst(k, r)
            rows = [stamps[1000 * r + i] for r in ids for i in range(k)]
            print(f"{name} ({len(rows)} requests of {samples} samples):")
            for part, (a, b) in PARTS.items():
                v = [e[b] - e[a] for e in rows]
                p95 = statistics.quantiles(v, n=20, method="inclusive")[18]
                print(f"  {part}: median {statistics.median(v) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    finally:
        app.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="an app already running (default: start app.py in a subprocess)")
    ap.add_argument("--visitors", type=int, default=VISITORS)
    ap.add_argument("--samples", type=int, default=SAMPLES)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py to start (default: this one)")
    ap.add_argument("--no-download", action="store_true",
                    help="time until the answer arrives, without fetching the image files")
    ap.add_argument("--where", action="store_true",
                    help="where the time goes: the app in this process, each part of a request timed")
    args = ap.parse_args()
    if args.where:
        return where_time_goes(args.rounds, args.samples)
    proc = None
    url = args.url
    if url is None:
        port = _free_port()
        proc = spawn_app(port, args.root)
        url = f"http://127.0.0.1:{port}/"
    try:
        Client(url, verbose=False).predict(CAPTIONS[0], args.samples, 0, True, api_name="/generate")  # warm
        t0 = time.perf_counter()
        dl = not args.no_download
        clients = visitors(url, args.visitors, download=dl)
        one = [crowd(clients[:1], args.samples, 1)[0] for _ in range(5)]
        print(f"one visitor alone: p50 {statistics.median(one):.2f} s")
        failed: list = []
        lat = crowd(clients, args.samples, args.rounds, failed)
        s = summary(lat)
        print(f"{args.visitors} visitors × {args.samples} samples at once, {args.rounds} rounds"
              f"{'' if dl else ' (answers only, files not fetched)'}: "
              f"n={s['n']} ({len(failed)} failed) p50 {s['p50']:.2f} s, p95 {s['p95']:.2f} s, max {s['max']:.2f} s "
              f"(wall {time.perf_counter() - t0:.1f} s)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
