"""The TOML config: typed, frozen, strict, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import SecretRef, load, parse, resolve_secret
from collector.errors import ConfigError


def _cfg(text: str) -> str:
    return text


def test_example_config_is_valid() -> None:
    """config.example.toml, which documents every key, parses."""
    root = Path(__file__).parent.parent
    cfg = load(root / "config.example.toml")
    assert cfg.catalog.resolve("ACME-AC-01") == ("CC6.1", "CC6.2")
    assert any(c.type == "aws" for c in cfg.connectors)
    assert cfg.schedules


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    """An empty config gets defaults, with paths resolved against the config's folder."""
    p = tmp_path / "e.toml"
    p.write_text("")
    cfg = load(p)
    assert cfg.index_url() == f"sqlite:///{tmp_path}/evidence/index.db"
    assert cfg.resolve_path(cfg.store.blob_dir) == tmp_path / "evidence/blobs"
    assert cfg.connectors == ()


def test_unknown_top_level_key_names_file_and_line(tmp_path: Path) -> None:
    """An unknown table is reported with the file, the line and the key."""
    p = tmp_path / "e.toml"
    p.write_text('[store]\nblob_dir = "b"\n\n[stroage]\nx = 1\n')
    with pytest.raises(ConfigError) as e:
        load(p)
    assert str(e.value).startswith(f"{p}:4: stroage: unknown key")


def test_unknown_nested_key_names_line(tmp_path: Path) -> None:
    """An unknown key inside a table names its line and dotted path."""
    p = tmp_path / "e.toml"
    p.write_text('[store]\nblob_dir = "b"\nblobdir = "c"\n')
    with pytest.raises(ConfigError, match=r"e\.toml:3: store\.blobdir: unknown key"):
        load(p)


def test_bad_value_shows_value(tmp_path: Path) -> None:
    """A value of the wrong type is named with what was given."""
    p = tmp_path / "e.toml"
    p.write_text('[collector]\nconcurrency = "many"\n')
    with pytest.raises(ConfigError, match=r":2: collector\.concurrency: .*'many'"):
        load(p)


def test_invalid_toml_names_line(tmp_path: Path) -> None:
    """A TOML syntax error is one line with TOML's own line and column."""
    p = tmp_path / "e.toml"
    p.write_text('[store]\nblob_dir = "unterminated\n')
    with pytest.raises(ConfigError, match=r"invalid TOML: .*line 2"):
        load(p)


def test_unknown_connector_type(tmp_path: Path) -> None:
    """A connector type nobody registered is refused, listing the known ones."""
    p = tmp_path / "e.toml"
    p.write_text('[[connectors]]\ntype = "nosuch"\n')
    with pytest.raises(ConfigError, match=r":2: connectors\[0\]\.type: unknown connector 'nosuch'"):
        load(p)


def test_connector_keys_validated_by_its_model(tmp_path: Path) -> None:
    """Keys of a [[connectors]] entry are checked by that connector's config model."""
    p = tmp_path / "e.toml"
    p.write_text('[[connectors]]\ntype = "synthetic"\ninstance = "a"\nitemz = 3\n')
    with pytest.raises(ConfigError, match=r":4: connectors\[0\]\.itemz: unknown key"):
        load(p)


def test_duplicate_instance_refused() -> None:
    """The same type/instance configured twice is an error."""
    text = '[[connectors]]\ntype = "synthetic"\n[[connectors]]\ntype = "synthetic"\n'
    with pytest.raises(ConfigError, match="synthetic/default is configured twice"):
        parse(text)


def test_custom_controls_must_map_to_known_criteria() -> None:
    """A custom control mapped onto an unknown criterion is refused."""
    with pytest.raises(ConfigError, match=r"controls\.ACME-1.*CC6\.9"):
        parse('[controls]\n"ACME-1" = ["CC6.1", "CC6.9"]\n')
    with pytest.raises(ConfigError, match="cannot be remapped"):
        parse('[controls]\n"CC6.1" = ["CC6.2"]\n')


def test_schedule_validation() -> None:
    """Schedules need a valid cron, a known time zone and configured connectors."""
    base = '[[connectors]]\ntype = "synthetic"\n'
    with pytest.raises(ConfigError, match="cron takes five fields"):
        parse(base + '[[schedule]]\nname = "h"\ncron = "* *"\n')
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        parse(base + '[[schedule]]\nname = "h"\ncron = "0 * * * *"\ntimezone = "Mars/Base"\n')
    with pytest.raises(ConfigError, match="'okta' is not configured"):
        parse(base + '[[schedule]]\nname = "h"\ncron = "0 * * * *"\nconnectors = ["okta"]\n')
    with pytest.raises(ConfigError, match=r"unknown control ID 'CC0\.0'"):
        parse(base + '[[schedule]]\nname = "h"\ncron = "0 * * * *"\ncontrols = ["CC0.0"]\n')
    cfg = parse(base + '[[schedule]]\nname = "h"\ncron = "0 * * * *"\ntimezone = "Europe/Paris"\n')
    assert cfg.schedules[0].timezone == "Europe/Paris"


def test_models_are_frozen() -> None:
    """Config models cannot be changed after loading."""
    cfg = parse("")
    with pytest.raises(Exception):  # noqa: B017
        cfg.collector.concurrency = 9  # type: ignore[misc]


def test_secret_refs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets resolve from env or file; a missing one is named without a value."""
    monkeypatch.setenv("EV_TEST_SECRET", "s3cr3t")
    assert resolve_secret(SecretRef(env="EV_TEST_SECRET")) == "s3cr3t"
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    assert resolve_secret(SecretRef(file=str(f))) == "from-file"
    with pytest.raises(ConfigError, match="EV_TEST_NOPE is not set"):
        resolve_secret(SecretRef(env="EV_TEST_NOPE"))
    with pytest.raises(ValueError):
        SecretRef(env="A", file="b")


def test_literal_password_is_refused() -> None:
    """A secret written literally in the config is refused, and the value is not echoed."""
    with pytest.raises(ConfigError) as e:
        parse('[store]\nindex_password = "hunter2"\n')
    assert "hunter2" not in str(e.value)
    assert "store.index_password" in str(e.value)


def test_no_config_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -c or EVIDENCE_CONFIG the error says how to give one."""
    monkeypatch.delenv("EVIDENCE_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="EVIDENCE_CONFIG"):
        load(None)


def test_password_in_index_url_is_refused(tmp_path: Path) -> None:
    """A password written into the index URL is refused, naming the line, without echoing it."""
    p = tmp_path / "e.toml"
    p.write_text('[store]\nindex_url = "postgresql+psycopg://ev:hunter2@db/ev"\n')
    with pytest.raises(ConfigError) as e:
        load(p)
    assert "hunter2" not in str(e.value)
    assert str(e.value).startswith(f"{p}:2: store.index_url: holds a password")
    with pytest.raises(ConfigError, match="'mysql' is not supported"):
        parse('[store]\nindex_url = "mysql://db/ev"\n')


@pytest.mark.parametrize("name, ok", [
    ("evidence-agent", True), ("Audit_1+=,.@-x", True), ("a", False), ("has space", False),
    ("évidence", False), ("ａｕｄｉｔ", False), ("x" * 65, False), ("ok\n", False)])
def test_aws_iam_names_are_ascii_as_iam_documents(name: str, ok: bool) -> None:
    """IAM's `[\\w+=,.@-]` for role session names and role names means ASCII letters and
    digits plus `_+=,.@-` (STS AssumeRole, IAM CreateRole references); other letters are
    refused when the config is read, not at the first AssumeRole."""
    from pydantic import ValidationError

    from connectors.aws.config import AwsAccount, OrganizationsDiscovery

    role = "arn:aws:iam::111122223333:role/R"
    if ok:
        assert AwsAccount(role_arn=role, session_name=name).session_name == name
        assert OrganizationsDiscovery(role_name=f"path/{name}"[:64]).role_name
    else:
        with pytest.raises(ValidationError, match="session_name"):
            AwsAccount(role_arn=role, session_name=name)
        if len(name) >= 1 and name != "a":
            with pytest.raises(ValidationError, match="role_name"):
                OrganizationsDiscovery(role_name=name)
