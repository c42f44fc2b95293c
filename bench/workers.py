"""Ingest across processes: the gateway with 2 ingest workers against the gateway alone (1).

Per run and variant (alternating which goes first), same Mosquitto and InfluxDB 1.6: the
gateway is started once so that its sessions and (shared) subscriptions exist, stopped, N QoS 1
rating events are queued at the broker (with 2 workers the broker deals them out to the two
sessions as it queues them), and the gateway is started again and timed while it takes them:
between the /metrics scrapes where `hallgate_hub_messages_total{outcome="events"}` first reached
20 % and 80 % of N (the workers start one after the other, and one may finish its share first).
That count is taken by the gateway's one view (the hub's projections), so with workers it
includes the forwarding; InfluxDB must then hold exactly N points.
CPU: the gateway's process tree (the gateway and its workers), Mosquitto and InfluxDB, over that window,
in % of one core; the machine's core count bounds what 2 workers can gain.

    python -m bench workers [--records N] [--runs R]
"""

from __future__ import annotations

import os
import sys
import time

import httpx
import psutil

from bench.common import Options, Row, servers
from tests.load import Publisher
from tests.servers import GatewayProcess, InfluxDB, Mosquitto

MEASUREMENT = "rating_pad_event"
DEFAULT_RECORDS = 200_000
EVENTS = 'hallgate_hub_messages_total{outcome="events"}'


def _events(http: httpx.Client, url: str) -> float | None:
    try:
        text = http.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(EVENTS):
            return float(line.rpartition(" ")[2])
    return 0.0


def _tree_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            c = p.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
        except psutil.Error:
            pass
    return total


def _timed(gw: GatewayProcess, n: int, broker: Mosquitto, influx: InfluxDB, timeout: float) -> dict[str, float]:
    """Rate and CPU between the scrapes that saw 20 % and 80 % of the N events: the workers start
    one after the other (a second each), and at the end one may have finished its share first."""
    proc = psutil.Process(gw.spawn().pid)
    mosq = psutil.Process(broker.proc.pid)  # type: ignore[union-attr]
    influxd = psutil.Process(influx.proc.pid)  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    marks: list[tuple[float, ...]] = []  # t, events, tree cpu, main cpu, broker cpu, influxd cpu
    first: float | None = None  # when the first event was seen
    with httpx.Client() as http:
        while not marks or marks[-1][1] < 0.8 * n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not done after {timeout} s: {gw.log.read_text()[-2000:]}")
            gw.check_alive()
            time.sleep(0.1)
            # Sampled before the scrape, so a window never counts CPU from after its last scrape.
            cpu, main = _tree_cpu(proc), sum(proc.cpu_times()[:2])
            mcpu, icpu = sum(mosq.cpu_times()[:2]), sum(influxd.cpu_times()[:2])
            events = _events(http, gw.api_url)
            if first is None and events:
                first = time.perf_counter()
            if events is not None and events >= 0.2 * n:
                marks.append((time.perf_counter(), events, cpu, main, mcpu, icpu))
    (t1, e1, c1, m1, b1, i1), (t2, e2, c2, m2, b2, i2) = marks[0], marks[-1]
    wall = t2 - t1
    if e2 - e1 < 0.3 * n:
        raise RuntimeError(f"{n} messages went by between two scrapes: give more (--records)")
    return {
        "rate": (e2 - e1) / wall,
        "cpu_pct": 100 * (c2 - c1) / wall,
        "main_cpu_pct": 100 * (m2 - m1) / wall,
        "broker_cpu_pct": 100 * (b2 - b1) / wall,
        "influx_cpu_pct": 100 * (i2 - i1) / wall,
        "wall_s": wall,
        "first": first or t1,
    }


def run(opts: Options) -> list[Row]:
    n = opts.records or DEFAULT_RECORDS
    timeout = 120 + n / 500
    results: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    with servers("bench-workers-") as (root, broker, influx):
        for r in range(opts.runs):
            for k in (1, 2) if r % 2 == 0 else (2, 1):
                site = db = f"w{k}r{r}"
                folder = root / site
                folder.mkdir()
                influx.create_database(db)
                gw = GatewayProcess(folder, broker, influx, site=site, database=db, workers=k)
                try:
                    gw.start()  # ready: every worker's session exists and is subscribed (SUBACK)
                    gw.stop()
                    pub = Publisher(broker.host, broker.port, gw.topic, n, client_id=f"pub-{site}").start()
                    try:
                        pub.wait_acked(n, timeout=60 + n / 500)
                    finally:
                        pub.close()
                    res = _timed(gw, n, broker, influx, timeout)
                    count = influx.wait_count(db, MEASUREMENT, n, timeout=120)
                    # End to end: first message seen until InfluxDB holds all (polled every 0.25 s).
                    res["e2e_rate"] = n / (time.perf_counter() - res.pop("first"))
                    if count != n:
                        raise AssertionError(f"{k} worker(s): InfluxDB holds {count} points, expected {n}")
                finally:
                    gw.stop()
                results[k].append(res)
                print(
                    f"  run {r}, {k} worker(s): {res['rate']:,.0f} msg/s in {res['wall_s']:.2f} s, gateway "
                    f"tree CPU {res['cpu_pct']:.0f} % (the gateway itself {res['main_cpu_pct']:.0f} %), "
                    f"Mosquitto CPU {res['broker_cpu_pct']:.0f} %, InfluxDB CPU {res['influx_cpu_pct']:.0f} %, "
                    f"into InfluxDB {res['e2e_rate']:,.0f} msg/s end to end, InfluxDB COUNT {count}",
                    file=sys.stderr,
                    flush=True,
                )

    def row(key: str, metric: str, unit: str, target: str = "") -> Row:
        """2 workers against the gateway alone (the baseline), for one figure of the runs."""
        two, one = [x[key] for x in results[2]], [x[key] for x in results[1]]
        return Row.of("workers", metric, unit, two, "the gateway alone (1)", one, target)

    cores = os.cpu_count() or 1
    return [
        row(
            "rate",
            f"ingest msg/s with 2 workers, {n} pre-queued QoS 1 ({cores} cores)",
            "msg/s",
            "ratio >= 1.5 where the broker is not the limit",
        ),
        row("e2e_rate", "end to end msg/s with 2 workers: first message to all N in InfluxDB", "msg/s"),
        row("cpu_pct", "gateway process tree CPU % with 2 workers (100 = one core)", "%"),
        row("main_cpu_pct", "the gateway process's own CPU % with 2 workers (projections, API)", "%"),
        row("broker_cpu_pct", "Mosquitto CPU % with 2 workers", "%"),
        row("influx_cpu_pct", "InfluxDB CPU % with 2 workers (the workers' drains write to it as they go)", "%"),
    ]
