"""One log record is one line, whatever an outsider puts in a topic, an id or a body: the
gateway's log is read by people and by log tools that split on newlines."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt

from gateway.demo import embedded_broker
from tests.servers import free_port
from tests.waits import until

FORGED = "2026-11-26 02:30:00,000 CRITICAL gateway.ingest.hub: FORGED"


def test_a_topic_with_control_characters_cannot_forge_a_log_line(tmp_path: Path) -> None:
    """On the demo's broker (amqtt), `hall/{site}/rating/evil<LF><a whole log line>/x` from any
    client printed a second line of its choosing under the unknown-device warning, and an ESC
    sequence reached the terminal. (Mosquitto refuses control characters in topics; other
    brokers and other sources of text need not.)"""
    port = free_port()
    (tmp_path / "hall.yaml").write_text(f"""
site: logs
broker: {{host: 127.0.0.1, port: {port}, protocol: "3.1.1"}}
api: {{port: {free_port()}}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices: [{{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}}]
""")
    log_path = tmp_path / "gateway.log"

    def read() -> str:
        return log_path.read_text(errors="replace")

    async def main() -> None:
        async with embedded_broker(port):
            with log_path.open("w") as log:
                env = {k: v for k, v in os.environ.items() if not k.startswith("HALLGATE_")}
                command = [sys.executable, "-m", "gateway.cli", "run", "-c", str(tmp_path / "hall.yaml")]
                gateway = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="log-test", protocol=mqtt.MQTTv311)
            try:
                await until(lambda: "台设备；API 地址" in read(), timeout=20, what="the gateway to start")
                await asyncio.to_thread(client.connect, "127.0.0.1", port)
                client.loop_start()

                def published() -> bool:
                    # Sent again until seen: the gateway may still be subscribing.
                    for topic in (f"hall/logs/rating/evil\n{FORGED}/x", "hall/logs/rating/esc\x1b[2J\u2028/x"):
                        client.publish(topic, b"{}", qos=1)
                    return read().count("not configured") >= 2

                await until(published, timeout=10, what="both warnings")
            finally:
                # In threads: paho's network thread needs this loop (the broker's) to finish.
                await asyncio.to_thread(client.disconnect)
                await asyncio.to_thread(client.loop_stop)
                gateway.terminate()
                await asyncio.to_thread(gateway.wait, 30)

    asyncio.run(main())
    text = read()
    assert "\x1b" not in text and "\u2028" not in text
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(FORGED)], text
    assert [line for line in lines if "rating/evil\\x0a2026-11-26 02:30:00,000 CRITICAL" in line], text
    assert [line for line in lines if "rating/esc\\x1b[2J\\u2028" in line], text
