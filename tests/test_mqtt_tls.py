"""The MQTT link over TLS against a real Mosquitto with certificates made here, and the link's
retry path when on_batch fails (redelivery with backoff, not a reconnect loop)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.mqtt.link import MqttLink
from drivers.mqtt.options import Message, MqttOptions
from drivers.tls import TlsOptions
from gateway.config.broker import Broker
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from tests.pki import Pki, make_pki
from tests.servers import Mosquitto, require_binary
from tests.waits import until

TOPIC = "hall/t/rating/rp-1/event"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def _broker(folder: Path, pki: Pki | None, require_certificate: bool = False) -> Iterator[Mosquitto]:
    folder.mkdir()
    server = Mosquitto(folder, pki=pki, require_certificate=require_certificate)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    yield from _broker(tmp_path / "mosquitto", pki)


@pytest.fixture
def mtls_broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    yield from _broker(tmp_path / "mosquitto", pki, require_certificate=True)


@pytest.fixture
def plain_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from _broker(tmp_path / "mosquitto", None)


def publish(port: int, payloads: list[str], *tls: str | Path) -> None:
    """QoS 1, one message per line, with mosquitto_pub (over TLS when given --cafile etc.)."""
    subprocess.run(
        [
            require_binary("mosquitto_pub"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-t",
            TOPIC,
            "-l",
            *map(str, tls),
        ],
        input="\n".join(payloads).encode(),
        check=True,
        timeout=10,
    )


def options(port: int, tls: TlsOptions | None, client_id: str = "gw-test", host: str = "127.0.0.1") -> MqttOptions:
    return MqttOptions(
        host=host, port=port, client_id=client_id, tls=tls, backoff_base_s=0.05, backoff_max_s=0.3, connect_timeout_s=5
    )


class Received:
    """An on_batch that records payloads (and can be told to fail its first calls)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.payloads: list[str] = []
        self.calls = 0
        self.fail_first = fail_first

    def __call__(self, batch: list[Message]) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise OSError(28, "No space left on device")
        self.payloads += [m.payload.decode() for m in batch]


async def assert_all_acknowledged(opts: MqttOptions, publish_marker: Callable[[], None]) -> None:
    """Reconnect with the same persistent session after a message published while away: the
    broker sends unacknowledged messages again before it, so receiving only it proves that
    everything before was acknowledged."""
    publish_marker()
    got = Received()
    async with MqttLink(opts, got, [(TOPIC, 1)]):
        await until(lambda: "end" in got.payloads, what="the marker")
    assert got.payloads == ["end"]


def test_tls_with_the_right_ca_delivers_and_acknowledges(tls_broker: Mosquitto, pki: Pki) -> None:
    assert tls_broker.tls_port
    opts = options(tls_broker.tls_port, TlsOptions(ca_file=pki.ca))
    sent = [f"m{i}" for i in range(50)]

    async def go() -> None:
        got = Received()
        async with MqttLink(opts, got, [(TOPIC, 1)]) as link:
            await until(lambda: link.stats.connected, what="connected")
            await asyncio.to_thread(publish, tls_broker.tls_port, sent, "--cafile", pki.ca)
            await until(lambda: len(got.payloads) == len(sent), what="all messages")
        assert sorted(got.payloads) == sorted(sent)
        assert link.stats.connects == 1 and link.stats.last_error is None
        await assert_all_acknowledged(opts, lambda: publish(tls_broker.tls_port, ["end"], "--cafile", pki.ca))

    asyncio.run(go())


def _refused(opts: MqttOptions, caplog: pytest.LogCaptureFixture) -> MqttLink:
    """Run the link until it has failed at least three times in a row; it must still be trying."""
    caplog.set_level(logging.WARNING, logger="drivers.mqtt")

    async def go() -> MqttLink:
        async with MqttLink(opts, Received(), [(TOPIC, 1)]) as link:
            await until(
                lambda: sum("reconnecting in" in r.getMessage() for r in caplog.records) >= 3,
                what="three failed attempts",
            )
            assert link._task is not None and not link._task.done()  # still retrying, not crashed
            assert not link.stats.connected and link.stats.connects == 0
        return link

    return asyncio.run(go())


def test_wrong_ca_is_refused_with_a_clear_error_and_retried(
    tls_broker: Mosquitto, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    assert tls_broker.tls_port
    link = _refused(options(tls_broker.tls_port, TlsOptions(ca_file=pki.other_ca)), caplog)
    assert link.stats.last_error is not None
    assert "not trusted" in link.stats.last_error and "broker.tls.ca_file" in link.stats.last_error


def test_server_name_is_checked(tls_broker: Mosquitto, pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    assert tls_broker.tls_port
    port = tls_broker.tls_port
    link = _refused(options(port, TlsOptions(ca_file=pki.ca, server_name="broker.example")), caplog)
    assert link.stats.last_error is not None
    assert "not valid for 'broker.example'" in link.stats.last_error
    assert "broker.tls.server_name" in link.stats.last_error

    async def connects(opts: MqttOptions) -> None:
        async with MqttLink(opts, Received()) as ok:
            await until(lambda: ok.stats.connected, what=f"connected as {opts.host} / {opts.tls}")

    # The certificate names localhost and 127.0.0.1: dialling either, or naming localhost, works.
    asyncio.run(connects(options(port, TlsOptions(ca_file=pki.ca), host="localhost")))
    asyncio.run(connects(options(port, TlsOptions(ca_file=pki.ca, server_name="localhost"))))


def test_mutual_tls_needs_a_client_certificate(
    mtls_broker: Mosquitto, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    port = mtls_broker.tls_port
    assert port
    link = _refused(options(port, TlsOptions(ca_file=pki.ca)), caplog)
    assert link.stats.last_error is not None and "certificate required" in link.stats.last_error

    opts = options(
        port, TlsOptions(ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key), client_id="gw-mtls"
    )
    client_tls = ("--cafile", pki.ca, "--cert", pki.client_cert, "--key", pki.client_key)

    async def go() -> None:
        got = Received()
        async with MqttLink(opts, got, [(TOPIC, 1)]) as ok:
            await until(lambda: ok.stats.connected, what="connected with a client certificate")
            await asyncio.to_thread(publish, port, ["a", "b", "c"], *client_tls)
            await until(lambda: len(got.payloads) == 3, what="three messages")
        await assert_all_acknowledged(opts, lambda: publish(port, ["end"], *client_tls))

    asyncio.run(go())


def test_failing_batches_are_redelivered_with_backoff_not_a_reconnect_loop(
    plain_broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    opts = options(plain_broker.port, None)
    sent = [f"m{i}" for i in range(200)]
    got = Received(fail_first=3)
    caplog.set_level(logging.WARNING, logger="drivers.mqtt")

    async def go() -> MqttLink:
        # The jitter pinned at its top, so the waits are the backoff's bounds: 0.1, 0.2, then the cap.
        async with MqttLink(opts, got, [(TOPIC, 1)], rng=lambda: 1.0) as link:
            await until(lambda: link.stats.connected, what="connected")
            await asyncio.to_thread(publish, plain_broker.port, sent)
            await until(lambda: set(got.payloads) == set(sent), what="every message stored")
            stats = link.stats
            assert stats.connected and stats.last_error is None
            assert stats.batches_failed == 3
            assert stats.last_batch_error is not None and "No space left on device" in stats.last_batch_error
            # One reconnect per failed batch, no more: the link did not spin.
            assert stats.connects == 1 + 3 and stats.connection_losses == 0
        await assert_all_acknowledged(opts, lambda: publish(plain_broker.port, ["end"]))
        return link

    asyncio.run(go())
    assert got.calls >= 4
    # Logged with its reason each time, the traceback only for the first of a streak.
    errors = [r for r in caplog.records if "nothing acknowledged" in r.getMessage()]
    assert len(errors) == 3 and [bool(r.exc_info) for r in errors] == [True, False, False]
    # Each failure in a row waits longer before the reconnect, up to backoff_max_s.
    waits = [
        r.getMessage().rsplit("reconnecting in ", 1)[1] for r in caplog.records if "reconnecting in" in r.getMessage()
    ]
    assert waits == ["0.1 s", "0.2 s", "0.3 s"]


def test_config_tls(tmp_path: Path, pki: Pki) -> None:
    b = Broker.model_validate({"tls": {"ca_file": str(pki.ca)}})
    assert b.port == 8883 and b.tls is not None and b.tls.ca_file == pki.ca
    assert Broker.model_validate({"tls": {"ca_file": str(pki.ca)}, "port": 18883}).port == 18883
    assert Broker.model_validate({}).port == 1883
    with pytest.raises(ValueError, match=r"文件 .*nope.pem 不存在"):
        Broker.model_validate({"tls": {"ca_file": str(tmp_path / "nope.pem")}})
    with pytest.raises(ValueError, match="cert_file 与 key_file 须同时给出"):
        Broker.model_validate({"tls": {"ca_file": str(pki.ca), "cert_file": str(pki.client_cert)}})
    with pytest.raises(ValueError, match="不能用作客户端证书"):
        Broker.model_validate({"tls": {"cert_file": str(pki.client_cert), "key_file": str(pki.server_key)}})


def test_config_file_names_the_tls_field_and_the_fix(tmp_path: Path, pki: Pki) -> None:
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"site: t\nbroker: {{host: broker.local, tls: {{ca_file: {tmp_path}/missing-ca.pem}}}}\n")
    with pytest.raises(ConfigError) as e:
        load_config(hall, environ={})
    assert "broker.tls.ca_file：文件" in str(e.value) and "missing-ca.pem 不存在" in str(e.value)
    # The environment can supply it, as any other setting.
    cfg = load_config(hall, environ={"HALLGATE_BROKER__TLS__CA_FILE": str(pki.ca)})
    assert cfg.broker.tls is not None and cfg.broker.tls.ca_file == pki.ca and cfg.broker.port == 8883
