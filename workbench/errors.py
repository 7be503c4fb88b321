"""Exceptions of the workbench. Each says what went wrong and what to do about it."""

from __future__ import annotations

# Exit codes of the `workbench` command (README's table and `workbench --help` say the same), so scripts and cron
# can act on the outcome. Each error class carries its own (``exit_code``); the CLI maps nothing by hand.
EXIT_OK = 0  # done
EXIT_FAILED = 1  # the work ran and its verdict is negative: failed notebook run, sweep cell or gate, failed
# doctor check or data validation, a critical monitor rule firing
EXIT_USAGE = 2  # bad command line (argparse's own code), an unknown notebook parameter
EXIT_BUDGET = 3  # stopped cleanly at --budget-usd; re-run with a larger budget to resume
EXIT_ERROR = 4  # a workbench error: bad dataset, config or model name, endpoint down, missing set-up
EXIT_INTERRUPTED = 130  # Ctrl-C


class WorkbenchError(Exception):
    """Base class for every error the workbench raises on purpose; the CLI exits with its ``exit_code``."""

    exit_code = EXIT_ERROR
    label = "error"  # how the CLI introduces the message on stderr


class UsageError(WorkbenchError):
    """The command line (or the call) asks for something that does not exist or does not fit together: arguments
    argparse cannot check (a malformed gate expression), an unknown notebook parameter. Exit code 2."""

    exit_code = EXIT_USAGE
    label = "usage error"


class UnknownOption(UsageError, TypeError):
    """A keyword option that the function does not take (a typo, or a setting of another step). A
    :class:`TypeError` too, as Python raises for an unexpected keyword argument. Exit code 2."""


class EndpointUnreachable(WorkbenchError):
    """A model endpoint could not be reached at all (every call failed to connect). Exit code 4."""


class ConfigError(WorkbenchError):
    """A setting is missing or wrong (workbench.toml, environment variables, model names)."""


class SetupError(WorkbenchError):
    """A part of the embedded set-up (model file, llama-server binary, embeddings) is unavailable."""


class DatasetError(WorkbenchError):
    """A dataset is invalid. Carries the file and line (1-based) where the problem is."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")


DISK_FULL_TEXTS = ("database or disk is full", "no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk is full: ``ENOSPC``/``EDQUOT``, or
    sqlite's "database or disk is full" wrapped by SQLAlchemy and MLflow."""
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(t in str(exc).lower() for t in DISK_FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
