"""Kubernetes as a kustomize tree: a base from the chosen profile, one overlay per profile.

``base/`` holds the chosen profile's manifests. ``overlays/<profile>/`` starts from the base
and applies, object by object, only what that profile changes: a JSON patch replacing the
``spec`` (or ``data``) of an object that differs, a ``$patch: delete`` for an object the
profile does not have, and the profile's own extra objects as resources. Building an overlay
(``kubectl kustomize overlays/prod``) therefore gives exactly the plain export of that profile;
the tests check this with kubectl itself.
"""

from __future__ import annotations

from typing import Any

from prodserver.config.model import ResolvedProject
from prodserver.exporters import kubernetes, yamlout
from prodserver.exporters.base import ExportFile, ExportOptions, ExportResult, Lost, generated_file

#: the top-level fields that carry an object's content, by kind (everything else is metadata)
BODY = ("spec", "data", "stringData", "type")


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _file(
    path: str, project: ResolvedProject, documents: list[Any], *, secret: bool = False
) -> ExportFile:
    """One YAML file holding ``documents``."""
    return generated_file(
        path, "kubernetes --kustomize", project, yamlout.dump(documents), secret=secret
    )


def render(project: ResolvedProject, options: ExportOptions) -> ExportResult:
    """The base and overlays for ``project`` and every profile in ``options.profiles``."""
    lost = Lost("kubernetes")
    base_objects, base_secret, advice = kubernetes.build(project, options, lost)
    files = [
        _file("base/kustomization.yaml", project, [_kustomization(["manifests.yaml"])]),
        _file("base/manifests.yaml", project, base_objects, secret=base_secret),
    ]
    base = {_key(o): o for o in base_objects}
    profiles = options.profiles or {project.profile: project}
    for name, resolved in profiles.items():
        profile_lost = Lost(f"kubernetes (profile {name})")
        objects, holds_secret, _ = kubernetes.build(resolved, options, profile_lost)
        if name != project.profile:
            lost.items.extend(profile_lost.items)
        files.extend(_overlay(project, name, base, objects, holds_secret))
    return ExportResult(
        files=tuple(files), warnings=tuple(lost.items), advice=tuple(advice), single_file=False
    )


def _kustomization(resources: list[str], patches: list[Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    if patches:
        data["patches"] = patches
    return data


def _overlay(
    project: ResolvedProject,
    profile: str,
    base: dict[tuple[str, str], dict[str, Any]],
    objects: list[dict[str, Any]],
    holds_secret: bool,
) -> list[ExportFile]:
    root = f"overlays/{profile}"
    files: list[ExportFile] = []
    patches: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    mine = {_key(o): o for o in objects}
    for key, obj in mine.items():
        kind, name = key
        original = base.get(key)
        if original is None:
            extra.append(obj)
            continue
        ops = []
        for field in BODY:
            if obj.get(field) != original.get(field):
                op = "replace" if field in original else "add"
                if field not in obj:
                    ops.append({"op": "remove", "path": f"/{field}"})
                else:
                    ops.append({"op": op, "path": f"/{field}", "value": obj[field]})
        if obj["metadata"] != original["metadata"]:
            ops.append(
                {"op": "replace", "path": "/metadata/labels", "value": obj["metadata"]["labels"]}
            )
        if ops:
            path = f"patches/{kind.lower()}-{name}.yaml"
            files.append(
                _file(f"{root}/{path}", project, [ops], secret=holds_secret and kind == "Secret")
            )
            patches.append({"path": path, "target": {"kind": kind, "name": name}})
    for key, obj in base.items():
        if key not in mine:
            kind, name = key
            path = f"patches/delete-{kind.lower()}-{name}.yaml"
            delete = {
                "$patch": "delete",
                "apiVersion": obj["apiVersion"],
                "kind": kind,
                "metadata": {"name": name},
            }
            files.append(_file(f"{root}/{path}", project, [delete]))
            patches.append({"path": path})
    resources = ["../../base"]
    if extra:
        resources.append("extra.yaml")
        secret = holds_secret and any(o["kind"] == "Secret" for o in extra)
        files.append(_file(f"{root}/extra.yaml", project, extra, secret=secret))
    files.insert(
        0, _file(f"{root}/kustomization.yaml", project, [_kustomization(resources, patches)])
    )
    return files
