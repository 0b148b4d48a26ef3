"""From files to a project: which runners start, and loading every file into them.

Shared by the app (whose runners then serve) and by `motia generate-types` (whose runners stop
once the configs are read), so both see a project exactly the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from motia_core.config import Settings
from motia_core.project import Discovery
from motia_core.protocol import LoadedFile
from motia_core.runners import RunnerPool, RunnerRegistry

__all__ = ("load_files", "select_languages", "stream_names")


def select_languages(settings: Settings, registry: RunnerRegistry,
                     found: Discovery) -> tuple[list[str], dict[str, str]]:
    """The languages whose runners start (used, selected, installed), and why the others don't."""
    root = settings.project_root
    wanted = settings.runners
    languages: list[str] = []
    skipped: dict[str, str] = {}
    for language, files in found.files_by_language.items():
        if not files:
            continue
        spec = registry.get(language)
        if wanted is not None and language not in wanted:
            skipped[language] = (f"the {language} runner was not selected "
                                 f"(--runners {','.join(wanted)})")
        elif not spec.executable_present(root):
            skipped[language] = f"{spec.argv(root)[0]} is not installed: {spec.install_hint}"
        else:
            languages.append(language)
    return languages, skipped


def stream_names(pools: Mapping[str, RunnerPool], found: Discovery) -> list[str]:
    """Every stream some runner has loaded, whatever its language."""
    return sorted({str(entry.config["name"]) for pool in pools.values() for entry in pool.loaded
                   if found.is_stream(entry.file)
                   and entry.config is not None and entry.config.get("name")})


async def load_files(pools: Mapping[str, RunnerPool], found: Discovery,
                     ) -> tuple[list[LoadedFile], list[str]]:
    """Load every file into its language's pool: the results, and the stream names sent.

    Streams first: every runner needs every stream's name (whatever its language) before its
    steps run, so that ctx.streams.<name> exists.
    """
    loaded: list[LoadedFile] = []
    for language, pool in pools.items():
        files = [f for f in found.files_by_language[language] if found.is_stream(f)]
        if files:
            loaded.extend(await pool.load(files))
    names = stream_names(pools, found)
    for language, pool in pools.items():
        files = [f for f in found.files_by_language[language] if not found.is_stream(f)]
        loaded.extend(await pool.load(files, streams=names))
    return loaded, names
