"""What both image builders share: the layer plan applied to Nix's references graph, and the
entries of the base layer (users, CA bundle link, writable folders). Stdlib only, like oci.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import oci


def assign(closure: list[dict], layers: list[dict]) -> list[tuple[str, list[str]]]:
    """(layer name, sorted store paths) per non-empty layer: each path of ``closure`` (Nix's
    ``exportReferencesGraph`` entries) goes to the first layer whose roots reach it; paths no
    root reaches end in a final ``rest`` layer."""
    references = {entry["path"]: entry["references"] for entry in closure}
    claimed: set[str] = set()
    planned = []
    for layer in layers:
        members: set[str] = set()
        stack = list(layer["roots"])
        while stack:
            path = stack.pop()
            if path not in claimed and path not in members:
                members.add(path)
                stack.extend(references[path])
        claimed |= members
        if members:
            planned.append((layer["name"], sorted(members)))
    rest = sorted(set(references) - claimed)
    return planned + ([("rest", rest)] if rest else [])


def members(mine: list[dict], earlier: list[dict]) -> list[str]:
    """One layer's store paths, sorted: those of ``mine`` (Nix's ``exportReferencesGraph`` of its
    roots) that ``earlier`` (that of every earlier layer's roots) lacks; what ``assign`` gives
    the layer, computed from this layer's graphs alone."""
    claimed = {entry["path"] for entry in earlier}
    return sorted(entry["path"] for entry in mine if entry["path"] not in claimed)


def store_entries(path: str) -> list[oci.Entry]:
    """A store path as layer entries, at its own absolute path."""
    source = Path(path)
    if source.is_dir() and not source.is_symlink():
        return oci.tree(source, path)
    executable = source.stat().st_mode & 0o111
    return [
        *oci.parent_dirs(path.lstrip("/")),
        oci.Entry(path.lstrip("/"), "file", source=source, mode=0o755 if executable else 0o644),
    ]


def root_entries(tree: str, base: list[oci.Entry]) -> list[oci.Entry]:
    """A store folder's contents at the image's root (build.run's /opt/…, /usr/local/…). A
    folder the base has keeps the base's mode and owner (/tmp stays 1777), and what lies in a
    folder the base gives to a user is that user's (a step's cache in the model's home)."""
    folders = {entry.path for entry in base if entry.kind == "dir"}
    owned = [(entry.path + "/", entry.uid, entry.gid) for entry in base if entry.kind == "dir" and entry.uid]
    entries = []
    for entry in oci.tree(Path(tree), ""):
        if not entry.path or entry.path in folders:
            continue
        for prefix, uid, gid in owned:
            if entry.path.startswith(prefix):
                entry = dataclasses.replace(entry, uid=uid, gid=gid)
        entries.append(entry)
    return entries


def base_entries(dirs: list[dict], files: list[dict], scratch: Path) -> list[oci.Entry]:
    """``dirs`` ({path, mode "1777", uid, gid}) and ``files`` ({path, text[, executable]},
    {path, target} or {path, tree[, depth]}), as base.nix describes them: the store cannot hold
    owners or sticky bits, the packer can. A ``tree`` is a store folder linked into the image (a
    system package's /usr and /etc, beside the image's own files, which win)."""
    entries: list[oci.Entry] = []
    for spec in dirs:
        mode = int(spec["mode"], 8)
        entries += [
            *oci.parent_dirs(spec["path"]),
            oci.Entry(spec["path"], "dir", mode=mode, uid=spec["uid"], gid=spec["gid"]),
        ]
    own = {spec["path"] for spec in files if "tree" not in spec}
    for index, spec in enumerate(files):
        if "tree" in spec:
            entries += _tree_links(Path(spec["tree"]), spec["path"], own, spec.get("depth"))
            continue
        entries += oci.parent_dirs(spec["path"])
        if "target" in spec:
            entries.append(oci.Entry(spec["path"], "symlink", target=spec["target"], mode=0o777))
        else:
            text = scratch / f"file-{index}"
            text.write_text(spec["text"])
            entries.append(
                oci.Entry(spec["path"], "file", source=text, mode=0o755 if spec.get("executable") else 0o644)
            )
    return entries


def _tree_links(tree: Path, at: str, own: set[str], depth: int | None) -> list[oci.Entry]:
    """Links at ``at/REL`` into the store folder ``tree``: for every file (and link), or with
    ``depth`` for each entry that deep, the folders above it real ones, so that later layers can
    add to them (a run step's /usr/local/bin or /usr/bin/tool). Only the folder itself when the
    store folder has no such folder."""
    entries: list[oci.Entry] = [*oci.parent_dirs(at), oci.Entry(at, "dir", mode=0o755)]
    for path in sorted(tree.rglob("*")) if tree.is_dir() else []:
        parts = path.relative_to(tree).parts
        rel = "/".join((at, *parts))
        if rel in own or (depth is not None and len(parts) > depth):
            continue
        if path.is_dir() and not path.is_symlink() and (depth is None or len(parts) < depth):
            entries.append(oci.Entry(rel, "dir", mode=0o755))
        else:
            entries.append(oci.Entry(rel, "symlink", target=str(path), mode=0o777))
    return entries


def materialise(entries: list[oci.Entry], root: Path) -> None:
    """Write layer entries as real files under ``root``: the base layer as a run step sees it."""
    for entry in oci.unique_sorted(entries):
        path = root / entry.path
        if entry.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
        elif entry.kind == "symlink":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(entry.target)
        else:
            assert entry.source is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(entry.source.read_bytes())
            path.chmod(entry.mode)


def source_entries(src: str, config: dict) -> list[oci.Entry]:
    """The model source at /src, owned by the image's user (Cog's models may write beside their code)."""
    uid, gid = (int(part) for part in config.get("User", "0:0").split(":"))
    return oci.tree(Path(src), "src", uid=uid, gid=gid)
