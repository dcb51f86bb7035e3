"""``Task(output_file=...)``: where a task's output goes, checked early, written whole.

A path is checked twice: as written, when the Task is built, and with the kickoff's
inputs filled in, before the run starts. It must stay inside the working directory
(no ``..`` that leaves it, no absolute path elsewhere) and is never expanded (a
leading ``~`` or any ``$`` is refused rather than taken literally). The check is on
the path's text: a symbolic link inside the working directory is followed as the
user set it up.

The file is written in a worker thread, to a temporary file beside it that is then
renamed over it, so readers see the old file or the new one, never part of one.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import anyio.to_thread

from . import runtime
from .errors import OutputFileError
from .tasks.output_format import OutputFormat
from .tasks.task_output import TaskOutput


def path_problem(path: str) -> str | None:
    """What is wrong with *path* as an output file, or None if nothing is."""
    if not path.strip():
        return "is empty"
    if "\x00" in path:
        return "contains a NUL character"
    if path.startswith("~"):
        return "starts with '~'; anycrew does not expand it: write the path out"
    if "$" in path:
        return "contains '$'; anycrew does not expand environment variables: write the path out"
    if os.path.basename(path) in ("", "."):
        return "names a directory, not a file"
    if ".." in Path(path).parts:
        return "contains '..'; paths must stay inside the working directory"
    if Path(path).is_absolute():
        cwd = os.getcwd()
        target = os.path.normpath(path)
        if os.path.commonpath([cwd, target]) != cwd or target == cwd:
            return f"is outside the working directory ({cwd}); use a path relative to it"
    return None


def check_output_path(path: str, *, owner: str) -> str:
    """Check *path* as written on a Task (its ``{placeholders}`` still in it).

    Raises:
        ValueError: saying what is wrong and what to write instead.
    """
    problem = path_problem(path)
    if problem is not None:
        raise ValueError(f"{owner} output_file {path!r} {problem}")
    return path


def output_text(output: TaskOutput) -> str:
    """What goes into the file: JSON for structured outputs, else the raw answer."""
    if output.output_format is OutputFormat.JSON and output.json_dict is not None:
        return json.dumps(output.json_dict, ensure_ascii=False, indent=2)
    if output.output_format is OutputFormat.PYDANTIC and output.pydantic is not None:
        return output.pydantic.model_dump_json(indent=2)
    return output.raw


def write_atomically(path: str, text: str, create_directory: bool) -> Path:
    """Write *text* to *path* through a temporary file and a rename; return the path.

    Raises:
        OutputFileError: if the directory is missing (and may not be created) or
            the write fails; a partly written temporary file is removed.
    """
    target = Path(path).absolute()
    directory = target.parent
    if not directory.is_dir():
        if not create_directory:
            raise OutputFileError(
                f"the directory of output_file {path!r} does not exist ({directory}); "
                "create it or set create_directory=True on the task"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFileError(
                f"cannot create the directory of output_file {path!r}: {exc}"
            ) from exc
    temporary = directory / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        # O_EXCL: never write through a file someone else put there; 0o666 lets the
        # umask decide the mode, as for any new file.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputFileError(f"cannot write output_file {path!r}: {exc}") from exc
        raise
    return target


async def write_output_file(path: str, output: TaskOutput, create_directory: bool) -> Path:
    """Write *output* to *path* from a worker thread (see :func:`write_atomically`).

    A cancelled caller waits for the write to finish (it is short and never left
    half-done), then the cancellation propagates.
    """
    return await anyio.to_thread.run_sync(
        write_atomically,
        path,
        output_text(output),
        create_directory,
        limiter=runtime.thread_limiter(),
    )
