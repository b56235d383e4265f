"""The setup routes agree: requirements, environment.yml, Makefile, CI and README."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement_lines(name: str) -> list[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_torch_is_pinned_with_its_reason():
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert "torch==2.13.0" in requirement_lines("requirements.txt")
    assert "CUDA" in text  # the comment says why


def test_every_runtime_requirement_is_pinned():
    for name in (
        "requirements.txt",
        "requirements-nodeps.txt",
        "requirements-compare.txt",
        "requirements-openvino.txt",
    ):
        for line in requirement_lines(name):
            line = line.split(";")[0].strip()  # an environment marker may follow (mlx: Linux and macOS only)
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+\-]*", line), (
                f"{name}: {line!r} is not pinned"
            )


def test_environment_yml_delegates_to_the_pip_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip_section == ["-r requirements-dev.txt", "-e ."]
    # dev requirements pull the runtime ones; the no-deps file is named in the instructions
    assert requirement_lines("requirements-dev.txt")[0] == "-r requirements.txt"
    assert "requirements-nodeps.txt" in (ROOT / "environment.yml").read_text(encoding="utf-8")
    # no package is pinned in environment.yml itself (one source of truth)
    assert not [d for d in deps if isinstance(d, str) and d not in ("python=3.11", "pip")]


def test_makefile_installs_every_requirement_file_and_ci_runs_make_test():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for name in ("requirements-dev.txt", "requirements-nodeps.txt"):
        assert f"-r {name}" in makefile
    assert "--no-deps -r requirements-nodeps.txt" in makefile
    assert "--no-deps -r requirements-compare.txt" in makefile  # test-only, without its declared deps
    assert re.search(r"^test: .*\$\(COMPARE_STAMP\)", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.M)


def test_readme_gives_the_same_test_command_as_ci():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme and "make lab" in readme
    assert readme.index("make lab") < readme.index("conda env create -f environment.yml")
    assert "not exercised in CI" in readme


def test_turkish_jupyterlab_language_pack_and_make_lab_tr():
    """`make lab-tr` / `make lab LAB_LANG=tr`: the pinned language pack plus a per-launch settings override."""
    assert any(
        line.startswith("jupyterlab-language-pack-tr-TR==") for line in requirement_lines("requirements.txt")
    )
    overrides = ROOT / "tools" / "jupyterlab-tr" / "labconfig" / "default_setting_overrides.json"
    settings = json.loads(overrides.read_text(encoding="utf-8"))
    assert settings == {"@jupyterlab/translation-extension:plugin": {"locale": "tr_TR"}}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    # fresh clones and updated checkouts reinstall when requirements.txt (the pack's pin) changes
    assert re.search(r"^\$\(STAMP\):.*\brequirements\.txt\b", makefile, re.M)
    # never the shell's locale variable LANG as a make variable
    assert not re.search(r"^\s*LANG\s*[?:+]?=|\$\(LANG\)", makefile, re.M)
    if shutil.which("make") is None:
        pytest.skip("make not installed")

    def dry_run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", "--no-print-directory", "-s", "-n", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k not in ("LAB_LANG", "MAKEFLAGS")},
        )

    for args in (["lab-tr"], ["lab", "LAB_LANG=tr"]):
        result = dry_run(*args)
        assert result.returncode == 0, result.stderr
        assert f'JUPYTER_CONFIG_PATH="{ROOT / "tools" / "jupyterlab-tr"}' in result.stdout, result.stdout
        assert "jupyter lab" in result.stdout
    english = dry_run("lab")
    assert english.returncode == 0 and "jupyter lab" in english.stdout
    assert "JUPYTER_CONFIG_PATH" not in english.stdout
    wrong = dry_run("lab", "LAB_LANG=de")
    assert wrong.returncode != 0 and "LAB_LANG must be en or tr" in wrong.stderr


def test_optional_extras_have_make_targets_and_stay_out_of_the_default_install():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^openvino: .*\n\t.*-r requirements-openvino\.txt", makefile, re.M)
    assert re.search(r"^llama-cpp: .*\n\t.*GGML_NATIVE=OFF.*llama-cpp-python==0\.3\.36", makefile, re.M)
    default = {line.split("==")[0].lower() for line in requirement_lines("requirements.txt")}
    assert not default & {"openvino", "nncf", "llama-cpp-python"}  # extras only
    # the extra adds packages; it must not re-pin anything the course already pins
    assert not default & {
        line.split("==")[0].lower() for line in requirement_lines("requirements-openvino.txt")
    }
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make openvino" in readme and "make llama-cpp" in readme
