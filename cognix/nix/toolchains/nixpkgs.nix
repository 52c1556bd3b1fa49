# The production toolchain: interpreter, fetcher, patchelf, runtime libraries and image streaming
# from a pinned nixpkgs (written against nixos-24.11, the newest release Nix 2.8 can evaluate).
# Implements the toolchain interface default.nix documents, like ./offline.nix.
#
# Images: dockerTools.streamLayeredImage at 24.11 chooses layers itself (popularity contest; the
# `layeringPipeline` argument only arrived in 25.05, auto-layering later) and does not expose its
# conf. So mkImage keeps streamLayeredImage's own streamer, nixpkgs'
# pkgs/build-support/docker/stream_layered_image.py, and hands it a conf whose `store_layers` follow
# cognix's plan: one small derivation reads the closure (exportReferencesGraph) and puts every store
# path in the first layer whose roots reach it. Same packer, same digests as streamLayeredImage,
# and `./result | docker load` works the same; see /tmp/research/nixpkgs-notes.md.
{ pkgs, pythonVersion }:
let
  inherit (builtins) replaceStrings concatMap filter map head substring baseNameOf;
  system = pkgs.stdenv.hostPlatform.system;

  pythonAttr = "python" + replaceStrings [ "." ] [ "" ] pythonVersion;
  python =
    if pkgs ? ${pythonAttr} then pkgs.${pythonAttr}
    else throw "cog.yaml python_version ${pythonVersion}: the pinned nixpkgs has no ${pythonAttr}";

  # Same contract as the offline toolchain: run a Python builder script with structured attrs
  # (.attrs.json in the build directory); no stdenv needed.
  runPython = name: script: attrs: derivation ({
    inherit name system;
    builder = "${python}/bin/python${pythonVersion}";
    args = [ "-I" script ];
    __structuredAttrs = true;
  } // attrs);

  # "/nix/store/h-cacert/etc/ssl/x.crt" -> "/nix/store/h-cacert", keeping the string's context:
  # exportReferencesGraph wants store paths, and layer roots may point inside one.
  storeRoot = p:
    let
      s = toString p;
      m = builtins.match "(${builtins.storeDir}/[^/]+).*" (builtins.unsafeDiscardStringContext s);
    in
    if m == null then s else builtins.appendContext (head m) (builtins.getContext s);

  libDir = drv: "${drv.lib or drv}/lib";
  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];

  # Builds the customisation layer (layer.tar + checksum: /etc files, writable dirs, /src) and
  # conf.json for the streamer, in one output. Python 3.8-compatible, stdlib only.
  confScript = builtins.toFile "cognix-stream-conf.py" ''
    import hashlib, json, os, stat, tarfile
    from pathlib import Path

    attrs = json.loads(Path(".attrs.json").read_text())
    out = Path(attrs["outputs"]["out"])
    out.mkdir()
    graph = {e["path"]: e["references"] for e in attrs["closure"]}

    def reach(starts, claimed):
        seen, stack = set(), list(starts)
        while stack:
            p = stack.pop()
            if p not in claimed and p not in seen:
                seen.add(p)
                stack.extend(graph[p])
        return seen

    claimed, store_layers = set(), []
    for layer in attrs["layers"]:
        members = reach(layer["roots"], claimed)
        claimed |= members
        if members:
            store_layers.append(sorted(members))
    # what the config, /etc symlinks and /src refer to, minus the config file and the copied trees
    rest = reach(attrs["keep"] + [r for p in attrs["dropSelf"] for r in graph[p] if r != p], claimed)
    if rest:
        store_layers.append(sorted(rest))

    entries = {}  # path in image -> (type, mode, uid, gid, source or target or bytes)

    def parents(path):
        parts = path.split("/")[:-1]
        for i in range(len(parts)):
            entries.setdefault("/".join(parts[: i + 1]), ("dir", 0o755, 0, 0, None))

    def tree(root, prefix):
        if prefix:
            parents(prefix)
            entries[prefix] = ("dir", 0o755, 0, 0, None)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                rel = "/".join(x for x in (prefix, os.path.relpath(full, root)) if x)
                info = os.lstat(full)
                if stat.S_ISLNK(info.st_mode):
                    entries[rel] = ("symlink", 0o777, 0, 0, os.readlink(full))
                elif stat.S_ISDIR(info.st_mode):
                    entries[rel] = ("dir", 0o755, 0, 0, None)
                else:
                    entries[rel] = ("file", 0o755 if info.st_mode & 0o111 else 0o644, 0, 0, full)

    if attrs.get("extraFiles"):
        tree(attrs["extraFiles"], "")
    if attrs.get("src"):
        tree(attrs["src"], "src")
    for d in attrs["dirs"]:
        parents(d["path"])
        entries[d["path"]] = ("dir", int(d["mode"], 8), d.get("uid", 0), d.get("gid", 0), None)
    for f in attrs["files"]:
        parents(f["path"])
        if "target" in f:
            entries[f["path"]] = ("symlink", 0o777, 0, 0, f["target"])
        else:
            entries[f["path"]] = ("file", int(f.get("mode", "0644"), 8), 0, 0, f["text"].encode())

    mtime = attrs["mtimeEpoch"]
    with tarfile.open(out / "layer.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            kind, mode, uid, gid, data = entries[path]
            ti = tarfile.TarInfo(path)
            ti.mode, ti.uid, ti.gid, ti.mtime, ti.uname, ti.gname = mode, uid, gid, mtime, "", ""
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                tar.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tar.addfile(ti)
            elif isinstance(data, bytes):
                ti.size = len(data)
                tar.addfile(ti, __import__("io").BytesIO(data))
            else:
                ti.size = os.path.getsize(data)
                with open(data, "rb") as fh:
                    tar.addfile(ti, fh)
    digest = hashlib.sha256((out / "layer.tar").read_bytes()).hexdigest()
    (out / "checksum").write_text(digest)

    tag = attrs.get("tag") or out.name.split("-", 1)[0]  # like streamLayeredImage: the output hash
    conf = {
        "architecture": attrs["architecture"], "os": "linux", "config": attrs["config"],
        "created": attrs["created"], "mtime": attrs["created"],
        "uid": 0, "gid": 0, "uname": "root", "gname": "root",
        "store_dir": attrs["storeDir"], "from_image": None,
        "store_layers": store_layers, "customisation_layer": str(out),
        "repo_tag": attrs["imageName"] + ":" + tag,
    }
    (out / "conf.json").write_text(json.dumps(conf, indent=1, sort_keys=True))
  '';

  streamPy = pkgs.path + "/pkgs/build-support/docker/stream_layered_image.py";
in
{
  name = "nixpkgs";
  inherit system python pythonVersion runPython;
  sitePackages = "lib/python${pythonVersion}/site-packages";

  fetchurl = { url, sha256 }: pkgs.fetchurl { inherit url sha256; };
  patchelf = pkgs.patchelf;

  # RUNPATH additions for manylinux wheels: PEP 599's library list as nixpkgs maps it (glibc, X11,
  # GL, glib, …), plus libstdc++/libgcc_s/libgomp and zlib, which wheels assume the OS provides.
  runtimeLibs = unique (map libDir (pkgs.pythonManylinuxPackages.manylinux2014 ++ [ pkgs.stdenv.cc.cc pkgs.zlib ]));

  cacert = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";

  systemPackages = names: (import ../system-packages.nix { }).resolve pkgs names;

  # layers: [ { name; roots; } ] in order; dirs: [ { path; mode ("1777"); uid; gid; } ];
  # files: [ { path; text; } | { path; target; } ] (target: a symlink, e.g. into the CA bundle);
  # src: a store directory copied to /src; extraFiles: optional store directory copied to /.
  # Result: an executable that writes a docker-archive to stdout (`./result | docker load`).
  mkImage = { name, tag ? null, layers, config, dirs ? [ ], files ? [ ], src ? null, extraFiles ? null }:
    assert builtins.length layers <= 120
      || throw "image ${name}: ${toString (builtins.length layers)} layers; Docker/overlayfs allow about 125";
    let
      configFile = pkgs.writeText "${name}-config.json" (builtins.toJSON config);
      planLayers = map (l: { inherit (l) name; roots = map storeRoot l.roots; }) layers;
      keep = map (f: storeRoot f.target)
        (filter (f: f ? target && substring 0 1 f.target == "/" && builtins.getContext f.target != { }) files);
      dropSelf = [ configFile ] ++ filter (x: x != null) [ src extraFiles ];
      conf = runPython "${name}-conf" confScript {
        inherit config dirs files src extraFiles tag keep dropSelf;
        layers = planLayers;
        imageName = name;
        storeDir = builtins.storeDir;
        architecture = { x86_64-linux = "amd64"; aarch64-linux = "arm64"; }.${system};
        created = "1970-01-01T00:00:01Z"; # streamLayeredImage's default: reproducible
        mtimeEpoch = 1;
        exportReferencesGraph.closure = concatMap (l: l.roots) planLayers ++ keep ++ dropSelf;
      };
      imageTag = if tag != null then tag
        else substring 0 32 (baseNameOf (builtins.unsafeDiscardStringContext conf.outPath));
      stream = pkgs.writeScript "stream-${name}" ''
        #!${pkgs.runtimeShell}
        exec ${pkgs.python3}/bin/python3 ${streamPy} ${conf}/conf.json "$@"
      '';
    in
    # the streamer's --repo_tag/-t still overrides the tag at run time
    stream // { inherit conf imageTag; imageName = name; isExe = true; };

  # nix develop: the image's Python environment on PATH
  mkShell = { env, name ? "cognix-shell", packages ? [ ] }:
    pkgs.mkShell { inherit name; packages = [ env ] ++ packages; };
}
