"""Finding a project's step and stream files, and the project model built from what runners load.

Discovery follows Motia (MOTIA_CONTRACT.md 1.1, 1.2): ``steps/`` then ``src/`` (each only if it
exists), recursively, files whose names end with a pattern of a registered runner (from the
runner registry, so a plugin language is discovered the same way). Within each directory the
order is sorted, so route precedence does not depend on the filesystem.

``Project.build`` turns the runners' ``LoadedFile`` results into valid ``Step``s and
``StreamDefinition``s. One broken file never takes the others down: its problems land in
``Project.errors`` and the rest of the project is complete without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from motia_core.dotenv import load_hint
from motia_core.project.steps import (
    ApiConfig,
    ConfigError,
    CronConfig,
    EventConfig,
    InvalidStep,
    NoopConfig,
    Step,
    StreamDefinition,
    parse_step,
    parse_stream,
)
from motia_core.protocol import LoadedFile

__all__ = (
    "SCANNED_DIRS",
    "SKIPPED_DIRS",
    "ApiRoute",
    "Discovery",
    "Project",
    "discover",
)

SCANNED_DIRS = ("steps", "src")
SKIPPED_DIRS = frozenset({"node_modules", "python_modules", ".venv", ".motia", "__pycache__"})
# Workbench node overrides sit next to steps (`x.step.tsx`); they are never steps themselves.
_UI_SUFFIXES = (".tsx", ".jsx")


@dataclass(frozen=True)
class Discovery:
    """What ``discover`` found: per language, the absolute paths (as strings, the form runners
    load and report them in) of its step and stream files, in discovery order. Every language
    of the patterns has an entry, possibly empty. Stream names are not known here: they are in
    the configs, so ``Project.streams`` has them after loading."""

    root: Path
    files_by_language: dict[str, list[str]]
    stream_files: frozenset[str]
    warnings: list[str]
    language_by_file: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> list[str]:
        """Every discovered file, in discovery order (``steps/`` first, sorted within)."""
        return list(self.language_by_file)

    def language_of(self, file: str | Path) -> str | None:
        return self.language_by_file.get(str(Path(file)))

    def is_stream(self, file: str | Path) -> bool:
        return str(Path(file)) in self.stream_files


def discover(project_root: Path, patterns_by_language: Mapping[str, Sequence[str]]) -> Discovery:
    """Find step and stream files under ``steps/`` and ``src/`` of ``project_root``.

    ``patterns_by_language`` maps a runner's language to the file-name endings it loads (e.g.
    python -> ``_step.py``, ``.step.py``, ``_stream.py``); a pattern containing "stream" marks a
    stream file. The longest matching ending wins when languages overlap.
    """
    root = project_root.resolve()
    patterns = sorted(((p, lang) for lang, ps in patterns_by_language.items() for p in ps),
                      key=lambda item: -len(item[0]))
    by_language: dict[str, list[str]] = {lang: [] for lang in patterns_by_language}
    languages: dict[str, str] = {}
    streams: set[str] = set()
    warnings: list[str] = []
    for top in SCANNED_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for path in _walk(base, warnings, root, set()):
            if path.name.endswith(_UI_SUFFIXES):
                continue
            match = next(((p, lang) for p, lang in patterns if path.name.endswith(p)), None)
            if match is None:
                continue
            pattern, language = match
            by_language[language].append(str(path))
            languages[str(path)] = language
            if "stream" in pattern:
                streams.add(str(path))
            if path.name.endswith(".py") and pattern.startswith("."):
                renamed = path.name[: -len(pattern)] + "_" + pattern[1:]
                warnings.append(
                    f"{path.relative_to(root)}: Python files named '*{pattern}' are deprecated "
                    f"(a module name cannot contain a dot); rename it to {renamed}"
                )
    return Discovery(root=root, files_by_language=by_language, stream_files=frozenset(streams),
                     warnings=warnings, language_by_file=languages)


def _walk(directory: Path, warnings: list[str], root: Path, seen: set[Path]) -> Iterator[Path]:
    """Files under ``directory``, sorted, depth first; skips tool and dot directories and does
    not enter the same directory twice (symlink loops)."""
    real = directory.resolve()
    if real in seen:
        return
    seen.add(real)
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        warnings.append(f"{directory.relative_to(root)}: cannot be read ({exc.strerror}); "
                        "its step files were skipped")
        return
    for entry in entries:
        if entry.is_dir():
            if entry.name not in SKIPPED_DIRS and not entry.name.startswith("."):
                yield from _walk(entry, warnings, root, seen)
        elif entry.is_file():
            yield entry


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    step: Step


def _route_key(method: str, path: str) -> tuple[str, str]:
    """Routes that Express would treat as the same: case-insensitive, trailing slash tolerated,
    parameter names irrelevant (``/users/:id`` and ``/users/:userId`` collide)."""
    segments = []
    for segment in path.lower().rstrip("/").split("/"):
        if segment.startswith(":"):
            segment = ":?" if segment.endswith("?") else ":"
        segments.append(segment)
    return method, "/".join(segments) or "/"


@dataclass
class Project:
    """The valid steps and streams of a project, and everything that was wrong with the rest."""

    root: Path
    steps: list[Step] = field(default_factory=list)
    streams: list[StreamDefinition] = field(default_factory=list)
    # File -> its problems. A file that failed to load has one error with an empty field.
    errors: dict[str, list[ConfigError]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # File -> language, for files no runner loaded (that language's runner is not started).
    skipped: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, discovery: Discovery, loaded: Iterable[LoadedFile], *,
              languages: Iterable[str] | None = None) -> Project:
        """The project model from discovery plus every runner's ``steps.load`` results.

        ``languages`` are the runners that were started (default: those with results); their
        files without a result are errors, other languages' files are ``skipped``.
        """
        results = {str(Path(item.file)): item for item in loaded}
        unknown = sorted(f for f in results if f not in discovery.language_by_file)
        if unknown:
            raise ValueError(f"loaded files that discovery did not find: {', '.join(unknown)}")
        started = (set(languages) if languages is not None
                   else {discovery.language_by_file[f] for f in results})
        project = cls(root=discovery.root, warnings=list(discovery.warnings))
        for file, language in discovery.language_by_file.items():
            result = results.get(file)
            if language not in started:
                project.skipped[file] = language
            elif result is None:
                project._error(file, "", f"the {language} runner did not report on this file",
                               "see the runner's log")
            else:
                project._add(result, language, discovery.is_stream(file))
        project._reject_duplicates()
        return project

    def _add(self, result: LoadedFile, language: str, is_stream: bool) -> None:
        file = result.file
        if result.error is not None or result.config is None:
            message = result.error.message if result.error else "the runner returned no config"
            self.errors[file] = [ConfigError(file, "", message, load_hint(self.root, message))]
            return
        try:
            if is_stream:
                self.streams.append(parse_stream(file, result.config))
            else:
                self.steps.append(parse_step(file, language, result.config, result.has_handler,
                                             result.validates_body, result.has_middleware))
        except InvalidStep as exc:
            self.errors[file] = list(exc.errors)

    def _reject_duplicates(self) -> None:
        """Two api steps on one route: the first discovered keeps it (as Express would) and the
        other is an error naming both. Two streams with one name likewise. Step names shared by
        several steps only warn, as in the original."""
        routes: dict[tuple[str, str], Step] = {}
        kept: list[Step] = []
        for step in self.steps:
            if isinstance(step.config, ApiConfig):
                key = _route_key(step.config.method, step.config.path)
                first = routes.setdefault(key, step)
                if first is not step:
                    self._error(step.file, "config.path",
                                f"{step.config.method} {step.config.path} is already served by "
                                f"{self._rel(first.file)}",
                                "change the path or method of one of the two steps")
                    continue
            kept.append(step)
        self.steps = kept
        names: dict[str, StreamDefinition] = {}
        streams: list[StreamDefinition] = []
        for stream in self.streams:
            first_stream = names.setdefault(stream.name, stream)
            if first_stream is not stream:
                self._error(stream.file, "config.name",
                            f"{stream.name!r} is already the name of the stream in "
                            f"{self._rel(first_stream.file)}", "rename one of the two streams")
                continue
            streams.append(stream)
        self.streams = streams
        by_name: dict[str, list[str]] = {}
        for step in self.steps:
            by_name.setdefault(step.name, []).append(self._rel(step.file))
        for name, files in by_name.items():
            if len(files) > 1:
                self.warnings.append(
                    f"step name {name!r} is used by {' and '.join(files)}; names key logs, "
                    "traces and queues, so give each step its own")

    def _error(self, file: str, field_path: str, message: str, hint: str) -> None:
        self.errors.setdefault(file, []).append(ConfigError(file, field_path, message, hint))

    def _rel(self, file: str) -> str:
        try:
            return str(Path(file).relative_to(self.root))
        except ValueError:
            return file

    # --- views ---------------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def flows(self) -> dict[str, list[str]]:
        """Flow name -> names of its steps, in discovery order."""
        flows: dict[str, list[str]] = {}
        for step in self.steps:
            for flow in step.flows:
                flows.setdefault(flow, []).append(step.name)
        return flows

    @property
    def api_routes(self) -> list[ApiRoute]:
        return [ApiRoute(step.config.method, step.config.path, step) for step in self.steps
                if isinstance(step.config, ApiConfig)]

    @property
    def subscriptions(self) -> dict[str, list[Step]]:
        """Topic -> the event steps subscribed to it (each gets its own copy of an event)."""
        topics: dict[str, list[Step]] = {}
        for step in self.steps:
            for topic in step.subscribes:
                topics.setdefault(topic, []).append(step)
        return topics

    @property
    def event_steps(self) -> list[Step]:
        return [step for step in self.steps if isinstance(step.config, EventConfig)]

    @property
    def cron_steps(self) -> list[Step]:
        """The cron jobs to schedule."""
        return [step for step in self.steps if isinstance(step.config, CronConfig)]

    @property
    def noop_steps(self) -> list[Step]:
        return [step for step in self.steps if isinstance(step.config, NoopConfig)]

    def step_for_file(self, file: str | Path) -> Step | None:
        wanted = str(Path(file))
        return next((step for step in self.steps if step.file == wanted), None)

    def report_errors(self) -> str:
        """Every problem, one line each with paths relative to the project; "" when none."""
        if not self.errors:
            return ""
        count = sum(len(problems) for problems in self.errors.values())
        lines = [f"{count} problem{'s' if count > 1 else ''} in {len(self.errors)} "
                 f"file{'s' if len(self.errors) > 1 else ''} (those files were not loaded):"]
        for problems in self.errors.values():
            lines += [f"  - {problem.describe(self.root)}" for problem in problems]
        return "\n".join(lines)
