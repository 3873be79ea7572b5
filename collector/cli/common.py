"""The `evidence` root group and what every command group shares."""

from __future__ import annotations

import gc
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from collector.errors import ConfigError, EvidenceError, StorageError

F = TypeVar("F", bound=Callable[..., Any])


_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]*@", re.IGNORECASE)
_URL_SECRET = re.compile(r"([?&;][^=\s&]*(?:password|passwd|pwd|token|secret|key)[^=\s&]*=)"
                         r"[^&\s]*", re.IGNORECASE)


def redact(text: str) -> str:
    """Credentials of any URL in `text` replaced by ***: user:pass@ and ?password=..."""
    return _URL_SECRET.sub(r"\1***", _URL_USERINFO.sub(r"\1***@", text))


def _fail(msg: str, code: int, as_json: bool = False) -> NoReturn:
    msg = redact(msg)
    if as_json:
        click.echo(json.dumps({"ok": False, "error": msg, "exit": code}))
    click.echo(f"evidence: error: {msg}", err=True)
    sys.exit(code)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


class _Group(click.Group):
    """Maps our errors onto one line and an exit code: 2 config/usage, 1 anything else."""

    def invoke(self, ctx: click.Context) -> Any:
        # under --json an error is also a JSON object on stdout
        as_json = "--json" in sys.argv[1:] or "--json" in ctx.args
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:  # a bad option value is one line too, exit 2
            where = e.ctx.command_path if e.ctx is not None else "evidence"
            _fail(f"{where}: {e.format_message()}", 2, as_json)
        except ConfigError as e:
            _fail(str(e), 2, as_json)
        except StorageError as e:
            _fail(str(e), 1, as_json)
        except EvidenceError as e:
            _fail(str(e), 1, as_json)
        except OSError as e:  # the disk said no (read-only, full, gone): one line, exit 1
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"{where}{e.strerror or e}", 1, as_json)
        except Exception as e:
            from botocore.exceptions import BotoCoreError, ClientError
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(e, SQLAlchemyError):
                # the index refused a write (read-only media, a lost server): one line
                cause = getattr(e, "orig", None) or e
                _fail(f"index: {_first_line(cause)}", 1, as_json)
            if isinstance(e, BotoCoreError | ClientError):
                # the S3 blob store did not answer or refused: one line
                _fail(f"blob store: {_first_line(e)}", 1, as_json)
            raise


class Ctx:
    """Lazily loaded config and store, shared by subcommands."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Any = None
        self._store: Any = None

    @property
    def config(self) -> Any:
        if self._config is None:
            from collector.config import load

            self._config = load(self.config_path)
        return self._config

    @property
    def store(self) -> Any:
        if self._store is None:
            from storage.store import EvidenceStore

            self._store = EvidenceStore.open(self.config)
        return self._store

    @property
    def reader(self) -> Any:
        """The store for a read command: never creates or migrates the index."""
        if self._store is None:
            from storage.store import EvidenceStore

            self._store = EvidenceStore.open(self.config, create=False)
        return self._store


pass_ctx = click.make_pass_decorator(Ctx)

WHOLE_PROCESS = False  # set by main(): the command owns the interpreter (unlike CliRunner)


@contextmanager
def startup() -> Iterator[None]:
    """A command's start-up (imports, config, store, key): no cyclic garbage collection
    during it, then what it made is frozen (kept out of every later collection, as it lives
    until the process ends) and collection runs again for the work that follows.

    Start-up makes a few hundred thousand long-lived objects (modules, classes, models) and
    almost no garbage; the collector would walk them all again and again (~0.2 s of CPU of
    a one-second collect). Only when `main()` runs the command in its own process: in a
    caller's interpreter (tests) the collector is left alone."""
    if not WHOLE_PROCESS or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _read_seal(path: str) -> Any:
    from storage.ledger import Seal

    try:
        return Seal.from_json(json.loads(Path(path).read_text("utf-8")))
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: not a seal file ({e})") from None


def _read_public_key(path: str) -> Any:
    """The PEM Ed25519 public key in the file `path` (`--public-key`); ConfigError naming it."""
    from storage.keys import load_public_pem

    try:
        return load_public_pem(Path(path).read_bytes())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the public key: {e.strerror}") from None
    except StorageError as e:
        raise ConfigError(f"{path}: {e.message}") from None


def write_output(path: str, data: bytes, force: bool) -> None:
    """Write an output file the way `export -o` does: atomically, an existing file only with
    `force`, never anything but a regular file, nothing left behind on failure."""
    from fieldwork.bundle import check_output_path, write_file_atomically

    check_output_path(Path(path), force)
    write_file_atomically(Path(path), data, force)


def _report(rep: Any, as_json: bool, summary: str) -> None:
    """Print a verify report (problems, then one summary line) and exit 0 or 1."""
    if as_json:
        _emit(rep.to_json())
    else:
        for p in rep.problems:
            click.echo(f"PROBLEM {p}")
        state = "intact" if rep.ok else f"{len(rep.problems)} problem(s)"
        click.echo(f"{summary}: {state}")


def _warn(lines: Any) -> None:
    """Warning lines (e.g. records left out of an answer as unsealed) on stderr."""
    for line in lines or ():
        click.echo(f"WARNING: {line}", err=True)


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", metavar="FILE", envvar="EVIDENCE_CONFIG",
              help="Config file (TOML). Default: $EVIDENCE_CONFIG.")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.version_option(package_name="evidence-agent")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Collect SOC 2 audit evidence: signed, hash-chained, with its provenance."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ctx.obj = Ctx(config_path)
