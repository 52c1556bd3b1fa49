# The production toolchain: interpreter, fetcher, patchelf, runtime libraries and image streaming
# from a pinned nixpkgs (written against nixos-24.11, whose lib/minver.nix accepts Nix 2.8).
# Implements the toolchain interface default.nix documents, like ./offline.nix.
#
# Images: dockerTools.streamLayeredImage at 24.11 picks layers itself (popularity; its
# `layeringPipeline` argument arrived in 25.05) and does not expose its conf. So mkImage keeps its
# streamer, nixpkgs' pkgs/build-support/docker/stream_layered_image.py, and hands it a conf
# (builders/stream_conf.py) whose `store_layers` follow cognix's layer plan, computed by the same
# code as the offline builder's (builders/layering.py). `./result | docker load` works as with
# streamLayeredImage.
{ pkgs, pythonVersion }:
let
  inherit (builtins) replaceStrings concatMap map head;
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
  runtimePackages = pkgs.pythonManylinuxPackages.manylinux2014 ++ [ pkgs.stdenv.cc.cc pkgs.zlib ];
  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];

  streamPy = pkgs.path + "/pkgs/build-support/docker/stream_layered_image.py";
in
{
  name = "nixpkgs";
  inherit system python pythonVersion runPython;
  sitePackages = "lib/python${pythonVersion}/site-packages";

  fetchurl = { url, sha256, name }: pkgs.fetchurl { inherit url sha256 name; };
  loader = pkgs.stdenv.cc.bintools.dynamicLinker;
  shell = pkgs.bash;
  patchelf = pkgs.patchelf;

  # RUNPATH additions for manylinux wheels: PEP 599's library list as nixpkgs maps it (glibc, X11,
  # GL, glib, …), plus libstdc++/libgcc_s/libgomp and zlib, which wheels assume the OS provides.
  runtimeLibs = unique (map libDir runtimePackages);
  # their store paths belong in the interpreter's layer: only the wheels' RUNPATHs name them, and
  # they would otherwise move with whichever big wheel comes first
  runtimeRoots = map (drv: drv.lib or drv) runtimePackages;

  cacert = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";

  systemPackages = { names, ... }: (import ../system-packages.nix { }).resolve pkgs names;
  systemFiles = _: [ ]; # nixpkgs' packages find their files in their own store paths
  bwrap = pkgs.bubblewrap; # the root file system of build.run steps (builders/runstep.py)

  # layers: [ { name; roots; } ] in order; dirs: [ { path; mode ("1777"); uid; gid; } ];
  # files: [ { path; text; executable?; } | { path; target; } | { path; tree; depth?; } ] (target: a
  # symlink, e.g. into the CA bundle; tree: links into a store folder, see builders/layering.py);
  # src: a store directory copied to /src.
  # Result: an executable that writes a docker-archive to stdout (`./result | docker load`).
  # build.run's files (layers with a `tree`) go into the customisation layer, beside /src.
  mkImage = { name, tag, layers, config, dirs, files, src }:
    let
      planLayers = map (l: { inherit (l) name; roots = map storeRoot l.roots; }) (builtins.filter (l: !(l ? tree)) layers);
      conf = runPython "${name}-conf" "${../builders}/stream_conf.py" {
        inherit config dirs files src tag;
        trees = map (l: l.tree) (builtins.filter (l: l ? tree) layers);
        layers = planLayers;
        storeDir = builtins.storeDir;
        exportReferencesGraph.closure = concatMap (l: l.roots) planLayers;
      };
    in
    # a script writing a docker-archive to stdout, as streamLayeredImage's (its -t overrides the tag)
    pkgs.writeScript "stream-${name}" ''
      #!${pkgs.runtimeShell}
      exec ${pkgs.python3}/bin/python3 ${streamPy} ${conf}/conf.json "$@"
    '';

  # nix develop: the image's Python environment on PATH
  mkShell = { env, name ? "cognix-shell", packages ? [ ] }:
    pkgs.mkShell { inherit name; packages = [ env ] ++ packages; };
}
