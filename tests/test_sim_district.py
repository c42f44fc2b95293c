"""`sim district` writes one gateway configuration per site; a gateway started from one sees its site."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from firmware_sim.cli import main
from firmware_sim.hall import DistrictSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.devices import load_hall
from gateway.runtime import start_gateway
from tests.servers import Mosquitto
from tests.sim_support import free_ports
from tests.waits import until


def test_district_writes_gateway_configs_a_gateway_runs_on(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the configs' store paths are relative: var/{site}/
    modbus_base, api_base = free_ports(3), free_ports(3)
    district = DistrictSimulator(
        3, modbus_port_base=modbus_base, mqtt=MqttSettings(port=mosquitto.port), rate_per_min=0, state_dir=None
    )
    from firmware_sim.district import write_configs

    paths = write_configs(tmp_path / "d", district.gateway_configs(("127.0.0.1", mosquitto.port, "5"), api_base))
    assert [p.name for p in paths] == ["village-001.yaml", "village-002.yaml", "village-003.yaml"]
    for i, path in enumerate(paths, 1):
        cfg, devices = load_hall(path, require_secrets=False)  # the gateway's own checks
        hall = district.hall(i)
        assert cfg.site == hall.site and cfg.api.port == api_base + i - 1
        assert cfg.broker.port == mosquitto.port and str(cfg.store.path) == f"var/{hall.site}/outbox.sqlite"
        assert sorted(devices) == sorted(hall.devices)
        counter = cfg_device(cfg, f"pc-door-{i:03d}")
        assert counter.modbus.port == hall.buses[0].port == modbus_base + i - 1

    async def scenario() -> None:
        cfg = load_config(paths[1])
        async with district, start_gateway(cfg) as gw:

            def all_online() -> bool:
                snaps = [gw.view.device(d) for d in gw.view.device_ids()]
                return len(snaps) == 5 and all(s is not None and s.online for s in snaps)

            await until(all_online, what="the gateway of village-002 sees its 5 devices online")

    asyncio.run(scenario())


def cfg_device(cfg: object, device_id: str):  # type: ignore[no-untyped-def]
    return next(d for d in cfg.devices if d.id == device_id)  # type: ignore[attr-defined]


def test_cli_district_write_configs(mosquitto: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = free_ports(2)
    argv = ["district", "--sites", "2", "--modbus-port-base", str(base), "--broker", f"127.0.0.1:{mosquitto.port}"]
    argv += ["--write-configs", str(tmp_path / "cfg"), "--duration", "0.2", "--stateless", "--status-s", "0"]
    # a fault naming a device goes to the site that has it; a share is drawn in every site
    argv += ["--fault", "jam:device=lb-1-002,slot=3", "--fault", "lens_blocked:share=1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "故障 jam (fault)：lb-1-002\n" in out and "故障 lens_blocked (fault)：pc-door-001, pc-door-002\n" in out
    assert "已注入故障：3 个；结束时仍生效：3 个" in out
    assert main([*argv[:-4], "--fault", "jam:device=lb-1-009,slot=3"]) == 2
    assert f"已写入 2 份网关配置到 {tmp_path / 'cfg'}/" in out
    written = yaml.safe_load((tmp_path / "cfg" / "village-002.yaml").read_text())
    assert written["site"] == "village-002" and written["devices"][4]["modbus"]["port"] == base + 1
    assert "汇总 (summary)：运行" in out and "2 个站点，10 台设备（MQTT 8 台，Modbus 2 台）" in out
