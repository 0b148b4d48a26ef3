"""`motia create`: a new project from one of the templates under ``motia_core/templates``.

A created project must run under ``motia dev`` right after the one install step it names, and a
TypeScript one must type-check without the original ``motia`` npm package. So the TypeScript
templates get, besides their steps: a ``package.json`` whose only dependency is ``zod`` (what
the steps import at run time), a copy of the ``motia`` types package (``runners/node/types``) in
``types/motia``, and a ``tsconfig.json`` whose ``paths`` send ``'motia'`` there. The copy lives in
the project, not in ``node_modules``, because ``npm install`` removes packages it did not install;
and it is a plain folder, so editors and ``tsc`` need nothing but the tsconfig.

Files are never overwritten: a target folder may exist (a fresh git clone, say), but when any
file of the template is already there nothing is written and the error names the files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motia_core.runners.spec import runners_dir

__all__ = ("TEMPLATES", "CreateError", "CreatedProject", "Template", "create_project",
           "get_template", "package_name")

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
NAME_TOKEN = "{{project_name}}"  # replaced by the project's name in every text file
TYPES_DIR = "types/motia"
ZOD_VERSION = "^3.25.76"  # what the Node runner is tested with; zod 4 works as well
_TEXT_SUFFIXES = frozenset({".md", ".json", ".ts", ".js", ".py", ".txt", ".rb", ".toml"})
_SKIPPED = frozenset({"__pycache__", "node_modules", ".motia", ".DS_Store"})
_GITIGNORE = ".motia/\nnode_modules/\n__pycache__/\n.venv/\npython_modules/\n"


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    # TypeScript templates get package.json, tsconfig.json and the motia types.
    typescript: bool

    @property
    def folder(self) -> Path:
        return TEMPLATES_DIR / self.name


TEMPLATES = (
    Template("default", "TypeScript: a noop step, an api step, an event step that sets state "
             "and one that checks it", typescript=True),
    Template("python", "the default template in Python", typescript=False),
    Template("polyglot", "a TypeScript api step, a Python event step and a TypeScript event "
             "step in one flow", typescript=True),
)


class CreateError(Exception):
    """The project cannot be created as asked; the message says why and what to do instead."""


@dataclass(frozen=True)
class CreatedProject:
    root: Path
    name: str
    template: Template
    files: tuple[str, ...]  # written, relative to root, sorted

    @property
    def install(self) -> str | None:
        """The one command to run before ``motia dev`` (None: nothing to install)."""
        return "npm install" if self.template.typescript else None


def get_template(name: str) -> Template:
    for template in TEMPLATES:
        if template.name == name:
            return template
    known = ", ".join(t.name for t in TEMPLATES)
    raise CreateError(f"there is no template {name!r}; choose one of: {known}")


def package_name(name: str) -> str:
    """``name`` as an npm package name: lower case, URL-safe, not starting with . or _."""
    slug = re.sub(r"[^a-z0-9._~-]+", "-", name.lower()).strip("-").lstrip("._")
    return slug or "motia-project"


def create_project(root: Path, template: str = "default", name: str | None = None,
                   ) -> CreatedProject:
    """Write ``template`` into the folder ``root`` (created if missing) and say what was written.

    ``name`` (default: the folder's name) goes into package.json and the README.
    """
    chosen = get_template(template)
    root = root.resolve()
    project_name = name or root.name
    if root.exists() and not root.is_dir():
        raise CreateError(f"{root} is a file; give the new project a folder of its own")
    files = _planned_files(chosen, project_name)
    clashes = sorted(rel for rel in files if (root / rel).exists())
    if clashes:
        shown = ", ".join(clashes[:5]) + (" ..." if len(clashes) > 5 else "")
        raise CreateError(f"{root} already has {shown}; create the project in a new folder "
                          "(motia create <name>) or move those files away")
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return CreatedProject(root=root, name=project_name, template=chosen,
                          files=tuple(sorted(files)))


def _planned_files(template: Template, name: str) -> dict[str, bytes]:
    """Relative path -> content of every file the project gets, decided before writing any."""
    if not template.folder.is_dir():
        raise CreateError(f"the {template.name!r} template is missing from {TEMPLATES_DIR}; "
                          "reinstall motia-core")
    files = {rel: _substituted(path, name) for rel, path in _walk(template.folder)}
    files[".gitignore"] = _GITIGNORE.encode()
    if template.typescript:
        types = runners_dir() / "node" / "types"
        if not (types / "index.d.ts").is_file():
            raise CreateError(f"the motia types package is missing from {types}; "
                              "reinstall motia-core")
        for rel, path in _walk(types):
            files[f"{TYPES_DIR}/{rel}"] = path.read_bytes()
        files["package.json"] = _json(_package_json(template, name))
        files["tsconfig.json"] = _json(_tsconfig())
    return files


def _walk(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part in _SKIPPED for part in rel.parts) \
                and path.suffix != ".pyc":
            found.append((rel.as_posix(), path))
    return found


def _substituted(path: Path, name: str) -> bytes:
    data = path.read_bytes()
    if path.suffix not in _TEXT_SUFFIXES:
        return data
    return data.decode("utf-8").replace(NAME_TOKEN, name).encode("utf-8")


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _package_json(template: Template, name: str) -> dict[str, Any]:
    return {
        "name": package_name(name),
        "version": "0.1.0",
        "private": True,
        "type": "module",
        "description": f"A Motia project ({template.name} template), run by motia-core",
        "scripts": {
            "dev": "motia dev",
            "start": "motia start",
            "generate-types": "motia generate-types",
        },
        "dependencies": {"zod": ZOD_VERSION},
    }


def _tsconfig() -> dict[str, Any]:
    return {
        "compilerOptions": {
            "target": "ES2022",
            "module": "ESNext",
            "moduleResolution": "bundler",
            "strict": True,
            "esModuleInterop": True,
            "skipLibCheck": True,
            "resolveJsonModule": True,
            "noEmit": True,
            # The motia types live in the project (see README.md): no npm package needed.
            "paths": {"motia": [f"./{TYPES_DIR}/index.d.ts"]},
        },
        "include": ["steps/**/*.ts", "src/**/*.ts", "types.d.ts"],
        "exclude": ["node_modules", ".motia"],
    }
