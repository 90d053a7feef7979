"""The documentation stays true to the code.

* Every `netgan ...` command line in a code block of README.md and docs/*.md parses with the real argument parser.
* Every relative Markdown link in README.md, docs/*.md, export/README.md and benchmarks/README.md points to a file
  or folder that exists.
* docs/cli.md covers every subcommand and every option of its real `--help`, and names no option that is gone.

docs/cli.md is generated from the parser: after changing an option, regenerate it with

    .venv/bin/python tests/test_docs.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI_MD = ROOT / "docs" / "cli.md"
HELP_COLUMNS = "100"

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += [p for p in (ROOT / "export" / "README.md", ROOT / "benchmarks" / "README.md") if p.is_file()]
    return [p for p in files if p.is_file()]


def code_blocks(text: str) -> Iterator[str]:
    """The contents of the fenced code blocks of a Markdown text."""
    block: list[str] | None = None
    fence = ""
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        if block is None:
            if m:
                block, fence = [], m.group(1)
        elif m and line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
            yield "\n".join(block)
            block = None
        else:
            block.append(line)


def command_lines(text: str) -> list[str]:
    """The `netgan ...` command lines in the code blocks (continuation lines joined, `$ ` prompts removed)."""
    out: list[str] = []
    for block in code_blocks(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:].strip()
            if not line.startswith("netgan "):
                continue
            line = line.split(" #", 1)[0].strip()
            if "<" in line or "..." in line:  # a placeholder, not a runnable example
                continue
            out.append(line)
    return out


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("netgan has no subcommands")


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--")}


@contextlib.contextmanager
def _columns(width: str) -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


# ------------------------------------------------------------------------------------------------ docs/cli.md
_CLI_INTRO = """\
# `netgan` command reference

Generated from the real `--help` output of every subcommand by `tests/test_docs.py` (run
`.venv/bin/python tests/test_docs.py` to regenerate it after changing an option); the test suite fails when an
option is missing here or listed here but gone from the parser.

Common behaviour:

- DATA files are `.csv` (delimiter sniffed, or `--sep`), `.csv.gz` or `.parquet`.
- Every user error (a missing column, a NaN with `--fill error`, a run directory that does not exist, ...) is one line
  on stderr naming the file, column and row, with exit code 2. Set `NETGAN_DEBUG=1` to see tracebacks.
- TensorFlow is imported only by the commands that need it, so `--help` is instant.
- The Python API behind each command: `train` → `AnomalyDetector.fit`, `score` → `AnomalyDetector.score`,
  `evaluate` → `netgan_tf.metrics.evaluate`, `export` → `netgan_tf.export.export_detector`, `serve-score` →
  `netgan_tf.serving.ServingClient.score_rows`.
"""

_EXAMPLES: dict[str, list[str]] = {
    "train": [
        "netgan train data/train.csv --out runs/my-run --time-column timestamp",
        "netgan train data/train.csv.gz --out runs/my-run --label-column label --window 60 --stride 5 --epochs 20",
        "netgan train data/train.csv --out runs/my-run --resume",
    ],
    "score": [
        "netgan score runs/my-run data/test.csv --out scores.csv --label-column label --plot scores.png",
        "netgan score runs/my-run data/live.csv --out live.csv --mode streaming --attribution",
    ],
    "evaluate": ["netgan evaluate scores.csv --label-column label --json"],
    "demo": ["netgan demo --out runs/demo"],
    "bench": ["netgan bench --epochs 3 --out bench.json"],
    "export": ["netgan export runs/my-run --out export/ --name netgan"],
    "serve-score": [
        "netgan serve-score data/test.csv --grpc localhost:8500 --model netgan --out served.csv "
        "--metadata export/netgan/1/assets.extra/netgan.json",
        "netgan serve-score data/test.csv --rest http://localhost:8501 --model netgan --out served.csv",
    ],
}


def render_cli_md() -> str:
    """docs/cli.md from the parser: the introduction, then per subcommand its examples and its `--help`."""
    from netgan_tf.cli import build_parser

    with _columns(HELP_COLUMNS):
        parser = build_parser()
        parts = [_CLI_INTRO, "## `netgan --help`\n", "```text\n" + parser.format_help().rstrip() + "\n```\n"]
        for name, sub in subparsers(parser).items():
            parts.append(f"## `netgan {name}`\n")
            examples = _EXAMPLES.get(name)
            if examples:
                parts.append("```bash\n" + "\n".join(examples) + "\n```\n")
            parts.append("```text\n" + sub.format_help().rstrip() + "\n```\n")
    return "\n".join(parts)


def cli_sections(text: str) -> dict[str, str]:
    """`## \\`netgan NAME\\`` section bodies of docs/cli.md, by subcommand name."""
    sections: dict[str, str] = {}
    for m in re.finditer(r"^## `netgan ([a-z][a-z-]*)`\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M):
        sections[m.group(1)] = m.group(2)
    return sections


# ------------------------------------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    from netgan_tf.cli import build_parser

    return build_parser()


def test_markdown_files_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in markdown_files()}
    expected = {"README.md", "docs/cli.md", "docs/detector-json.md", "docs/savedmodel.md", "docs/evaluation.md"}
    assert expected <= names


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = list(code_blocks(text))
    assert blocks[0].strip() == "make demo"
    assert "make test" in [b.strip() for b in blocks[:3]]
    assert "make bench" in text and "make test-slow" in text
    assert "<!-- BENCH-TABLE -->" in text


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_cli_examples_parse(path: Path, parser: argparse.ArgumentParser) -> None:
    for line in command_lines(path.read_text(encoding="utf-8")):
        argv = shlex.split(line)[1:]
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse exits on a bad command line
            pytest.fail(f"{path.name}: `{line}` does not parse (exit {exc.code})")
        assert callable(getattr(args, "func", None)), line


def test_docs_show_every_subcommand(parser: argparse.ArgumentParser) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in markdown_files())
    shown = {shlex.split(line)[1] for line in command_lines(text)}
    missing = set(subparsers(parser)) - shown
    assert not missing, f"no example of `netgan {sorted(missing)}` in README.md or docs/"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    # links inside code blocks are code, not links
    for block in code_blocks(text):
        text = text.replace(block, "")
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # absolute URL, mailto:, or an anchor in the same file
        rel = target.split("#", 1)[0]
        if not (path.parent / rel).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: broken relative links {broken}"


def test_detector_json_example_is_valid() -> None:
    """The example in docs/detector-json.md passes the same schema checks as a loaded detector.json."""
    import json

    from netgan_tf.rundir import SCHEMA_VERSION, validate_detector_config

    text = (ROOT / "docs" / "detector-json.md").read_text(encoding="utf-8")
    example = json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])
    validate_detector_config(example)
    assert example["schema_version"] == SCHEMA_VERSION
    # every key the code writes is documented in the schema table
    first_cells = re.findall(r"^\|([^|]*)\|", text, flags=re.M)
    documented = {key for cell in first_cells for key in re.findall(r"`([a-z_]+)", cell)}
    assert set(example) <= documented, sorted(set(example) - documented)


def test_cli_md_lists_every_option(parser: argparse.ArgumentParser) -> None:
    sections = cli_sections(CLI_MD.read_text(encoding="utf-8"))
    subs = subparsers(parser)
    assert set(sections) == set(subs), "docs/cli.md sections differ from the subcommands; run tests/test_docs.py"
    problems = []
    for name, sub in subs.items():
        real = option_strings(sub)
        documented = set(_OPTION.findall(sections[name]))
        if real - documented:
            problems.append(f"netgan {name}: options missing from docs/cli.md: {sorted(real - documented)}")
        if documented - real:
            problems.append(f"netgan {name}: docs/cli.md lists options that are gone: {sorted(documented - real)}")
        for action in sub._actions:
            if not action.option_strings and action.metavar and str(action.metavar) not in sections[name]:
                problems.append(f"netgan {name}: argument {action.metavar} is not in docs/cli.md")
    assert not problems, "\n".join(problems) + "\nregenerate with: .venv/bin/python tests/test_docs.py"


def test_cli_md_is_generated_from_the_parser() -> None:
    """The help text in docs/cli.md is the parser's, word for word (whitespace aside: wrapping differs by Python)."""
    expected = " ".join(render_cli_md().split())
    actual = " ".join(CLI_MD.read_text(encoding="utf-8").split())
    if sys.version_info >= (3, 13):
        pytest.skip("argparse changed its help layout in Python 3.13")
    assert actual == expected, "docs/cli.md is out of date: run .venv/bin/python tests/test_docs.py"


if __name__ == "__main__":
    CLI_MD.parent.mkdir(exist_ok=True)
    CLI_MD.write_text(render_cli_md(), encoding="utf-8")
    print(f"wrote {CLI_MD}")
