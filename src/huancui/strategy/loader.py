"""Reading a strategy YAML file into a Strategy, with every problem placed at its file and line.

The YAML is composed once to map each rule's path (segments → 1 → condition) to its line, then
validated with pydantic; errors from pydantic and from the rule expressions become messages such as
`strategies/x.yaml:23: segments[1] 'standard' condition: unknown column 'dpd' (did you mean …?)`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import ValidationError

from huancui.kit.errors import InvalidInput, Severity
from huancui.strategy.spec import (
    Path,
    Problem,
    Strategy,
    StrategyInvalid,
    semantic_problems,
)


@dataclass(frozen=True)
class Finding:
    """One problem in a strategy file, where a person can find it."""

    file: str
    line: int
    where: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{self.line}:{where} {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "where": self.where,
            "message": self.message,
            "severity": str(self.severity),
        }


@dataclass(frozen=True)
class StrategyFile:
    """A strategy file as read: its text and hash, the strategy if valid, and its findings."""

    source: str
    text: str
    sha256: str
    strategy: Strategy | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return self.strategy is not None and not self.errors


def load_strategy(path: FilePath) -> StrategyFile:
    """Read and validate a strategy file; problems are findings, not exceptions."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the strategy file ({exc})") from None
    return parse_strategy(text, source=str(path))


def parse_strategy(text: str, *, source: str) -> StrategyFile:
    """Validate strategy YAML text; `source` names it in messages."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()

    def result(strategy: Strategy | None, findings: list[Finding]) -> StrategyFile:
        ordered = sorted(findings, key=lambda f: f.line)
        return StrategyFile(source, text, digest, strategy, ordered)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return result(None, [Finding(source, line, "", f"not valid YAML: {problem}")])
    if root is None or not isinstance(data, dict):
        return result(None, [Finding(source, 1, "", "must be a YAML mapping of strategy fields")])
    lines: dict[Path, int] = {}
    duplicates: list[Finding] = []
    _map_lines(root, (), lines, duplicates, source=source)
    placer = _Placer(source=source, lines=lines, data=data)
    try:
        strategy = Strategy.model_validate(data)
    except ValidationError as exc:
        return result(None, duplicates + placer.from_validation(exc))
    # Errors were raised above; what semantic_problems still finds are warnings.
    warnings = [placer.place(p) for p in semantic_problems(strategy)]
    return result(None if duplicates else strategy, duplicates + warnings)


def _map_lines(
    node: yaml.Node, path: Path, lines: dict[Path, int], duplicates: list[Finding], *, source: str
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                where = _plain(path)
                duplicates.append(
                    Finding(source, key.start_mark.line + 1, where, f"key '{name}' given twice")
                )
            seen.add(name)
            _map_lines(value, (*path, name), lines, duplicates, source=source)
            lines[(*path, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _map_lines(item, (*path, i), lines, duplicates, source=source)


def _plain(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True)
class _Placer:
    """Turns paths into file:line and a readable 'segments[1] 'standard' condition'."""

    source: str
    lines: dict[Path, int]
    data: dict[str, Any]

    def line(self, path: Path) -> int:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def where(self, path: Path) -> str:
        text = ""
        for i, part in enumerate(path):
            if isinstance(part, int):
                name = self._name(str(path[0]), part) if i == 1 else None
                text += f"[{part}]" + (f" '{name}'" if name else "")
            elif not text:
                text = part
            else:
                text += f" {part}" if i == 2 and isinstance(path[1], int) else f".{part}"
        return text

    def _name(self, section: str, index: int) -> str | None:
        items = self.data.get(section)
        if not isinstance(items, list) or index >= len(items) or not isinstance(items[index], dict):
            return None
        item = items[index]
        if section == "treatments":
            return f"{item.get('segment')} × {item.get('stage')}"
        if section == "challengers":
            return f"{item.get('experiment')}/{item.get('arm', 'challenger')}"
        name = item.get("id")
        return str(name) if name is not None else None

    def place(self, problem: Problem) -> Finding:
        return Finding(
            self.source,
            self.line(problem.path),
            self.where(problem.path),
            problem.message,
            problem.severity,
        )

    def from_validation(self, exc: ValidationError) -> list[Finding]:
        findings: list[Finding] = []
        for error in exc.errors():
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, StrategyInvalid):
                findings.extend(self.place(p) for p in cause.problems)
                continue
            path: Path = tuple(error["loc"])
            findings.append(self.place(Problem(path, _message(error))))
        return findings


def _message(error: Any) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown field (check its spelling in docs/strategy.md)"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", ""))
    return message.removeprefix("Value error, ")
