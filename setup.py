"""Package discovery for the wheel; everything else is in pyproject.toml.

`configs/` and `dashboards/` stay at the top of the repository (operators, Grafana and the tests
read them there), yet `pip install .` must carry them: they are mapped into the wheel as data
subpackages of `gateway` (`gateway._data.configs`, `gateway._data.dashboards`), which
`gateway/paths.py` finds. pyproject.toml alone cannot combine package discovery with such a mapping.
"""

from pathlib import Path

from setuptools import find_packages, setup

DATA = {"configs": "gateway._data.configs", "dashboards": "gateway._data.dashboards"}


def data_packages() -> dict[str, str]:
    """Every folder under the data folders, as a package name -> its folder."""
    out = {}
    for folder, package in DATA.items():
        for d in [Path(folder), *sorted(Path(folder).rglob("*"))]:
            if d.is_dir() and "__pycache__" not in d.parts:
                out[".".join([package, *d.relative_to(folder).parts])] = d.as_posix()
    return out


data = data_packages()
setup(
    packages=[*find_packages(include=["gateway*", "drivers*", "firmware_sim*"]), *data],
    package_dir={package: folder for package, folder in data.items() if package in DATA.values()},
    package_data={"": ["*.yaml", "*.html", "*.js", "*.css"], **{package: ["*"] for package in data}},
)
