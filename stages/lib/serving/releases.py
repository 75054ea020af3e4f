"""Released versions of the model. GTO's git tags name them (`gto register classifier
--version v1.0.0` tags a commit, `gto assign classifier --version v1.0.0 --stage prod`
assigns it a stage); DVC's cache (or remote) holds each commit's export folder, the
artifact `classifier` of dvc.yaml."""

import re
from dataclasses import dataclass
from pathlib import Path

from stages.lib.core.errors import DataError
from stages.lib.core.paths import EXPORT_DIR, RELEASE_ARTIFACT

# What --model accepts for a released version: NAME@VERSION or NAME#STAGE (GTO's syntax).
SPEC = re.compile(r"^(?P<artifact>[a-z0-9-]+)(?:@(?P<version>v\d+\.\d+\.\d+)|#(?P<stage>[a-z0-9-]+))$")


@dataclass(frozen=True)
class Release:
    artifact: str
    version: str
    stage: str | None  # the stage it was found by, if any
    rev: str  # the commit its tag names

    def __str__(self) -> str:
        return f"{self.artifact}@{self.version}" + (f" ({self.stage})" if self.stage else "")


def released(stage: str, artifact: str = RELEASE_ARTIFACT) -> Release | None:
    """The version of `artifact` assigned to `stage`, else its latest registered version,
    else None (also where the project is not a git repository)."""
    from gto.api import find_latest_version, find_versions_in_stage
    from gto.exceptions import ArtifactNotFound
    from scmrepo.exceptions import SCMError

    try:
        if in_stage := find_versions_in_stage(".", artifact, stage):
            return Release(artifact, in_stage[0].version, stage, in_stage[0].commit_hexsha)
        latest = find_latest_version(".", artifact)
    except (ArtifactNotFound, SCMError):
        return None
    return Release(artifact, latest.version, None, latest.commit_hexsha) if latest else None


def find(spec: str) -> Release:
    """The release a NAME@VERSION or NAME#STAGE names, or a DataError saying what exists."""
    from gto.api import find_versions_in_stage, show
    from gto.exceptions import GTOException
    from scmrepo.exceptions import SCMError

    if not (match := SPEC.match(spec)):
        raise DataError(f"{spec!r} is not NAME@VERSION or NAME#STAGE, e.g. {RELEASE_ARTIFACT}@v1.0.0")
    artifact, version, stage = match["artifact"], match["version"], match["stage"]
    try:
        versions = {row["version"]: row["commit_hexsha"] for row in show(".", artifact, table=False)}
        if stage and (in_stage := find_versions_in_stage(".", artifact, stage)):
            return Release(artifact, in_stage[0].version, stage, in_stage[0].commit_hexsha)
    except (GTOException, SCMError) as error:
        raise DataError(f"{spec}: no such release ({error}); `gto show` lists the registered ones") from None
    if version in versions:
        return Release(artifact, version, None, versions[version])
    known = ", ".join(versions) or "none"
    raise DataError(f"{spec}: no such release (registered versions of {artifact}: {known}); see `gto show`")


def fetch(release: Release, files: list[str], destination: Path) -> dict[str, Path]:
    """Copies `files` (paths inside the export folder) as they were at the release's
    commit, from DVC's cache or remote, into `destination`: their paths there, by name."""
    import dvc.api
    from dvc.exceptions import DvcException

    paths = {}
    for file in files:
        source = EXPORT_DIR / file
        paths[file] = destination / Path(file).name
        try:
            with dvc.api.open(str(source), rev=release.rev, mode="rb") as data:
                paths[file].write_bytes(data.read())
        except (DvcException, FileNotFoundError) as error:
            raise DataError(
                f"{release}: {source} at {release.rev[:7]} could not be read ({type(error).__name__}: "
                f"{error}); `dvc pull` at that commit fetches it from the remote, if it was pushed"
            ) from None
    return paths
