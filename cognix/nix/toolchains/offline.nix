# The offline toolchain: everything an image needs without nixpkgs or a binary cache.
# `raw` is the prefix `cognix.build.toolchain` makes from the lock's pinned Debian packages (Python, its libraries, patchelf,
# the Mozilla CA bundle); wheels come from Nix's builtin fetcher; cognix's own OCI writer packs
# the image. Implements the toolchain interface that default.nix documents.
{ raw, pythonVersion, system ? "x86_64-linux" }:
let
  builders = import ../builders.nix;
  fetchurl = { url, sha256, name }: import <nix/fetchurl.nix> { inherit url sha256 name; };

  # Stage 0: the raw prefix only runs through its own loader.
  runRaw = name: attrs: derivation ({
    inherit name system raw pythonVersion;
    builder = "${raw}/lib/ld-linux-x86-64.so.2";
    args = [ "--library-path" "${raw}/lib" "${raw}/bin/python${pythonVersion}" "${builders [ "prefix.py" "elf.py" ]}/prefix.py" ];
    __structuredAttrs = true;
  } // attrs);

  python = runRaw "python-${pythonVersion}" { what = "python"; };

  # Stage 1: a self-contained Python runs every other build step.
  runPython = name: script: attrs: derivation ({
    inherit name system;
    # Nix runs a builder with argv[0] = its base name, from which Python cannot find its prefix;
    # through the loader, argv[0] is the full path
    builder = "${python}/lib/ld-linux-x86-64.so.2";
    args = [ "${python}/bin/python${pythonVersion}" "-I" script ];
    __structuredAttrs = true;
  } // attrs);
  bash = runPython "bash" "${builders [ "copy_file.py" ]}/copy_file.py" { source = "${raw}/libexec/bash"; target = "bin/bash"; executable = true; };
  tool = program: runRaw program { what = "tool"; inherit program; pythonLib = "${python}/lib"; };
  patchelf = tool "patchelf";
  loader = "${python}/lib/ld-linux-x86-64.so.2"; # the ELF interpreter of executables (the image has no /lib64)
in
{
  name = "offline";
  inherit system python pythonVersion runPython;
  # the manylinux libraries (libstdc++, libgcc_s, libz, …) ship with the Python prefix
  runtimeLibs = [ "${python}/lib" ];
  runtimeRoots = [ ]; # inside the interpreter's store path
  cacert = runPython "ca-bundle.crt" "${builders [ "copy_file.py" ]}/copy_file.py" { source = "${raw}/share/ca-bundle.crt"; };
  inherit fetchurl patchelf loader;
  bwrap = tool "bwrap"; # the root file system of build.run steps (builders/runstep.py)
  shell = bash; # /bin/sh in the image: Cog images have one, and os.system / shell=True need it

  # cog.yaml's system packages: the lock's pinned .debs of their whole closure (`cognix build`
  # adds them to the store first), unpacked and patched to run from the store with the
  # toolchain's loader and libraries (builders/debs.py)
  systemPackages = { names, debs }:
    if debs == [ ] then [ ]
    else [
      (runPython "system-packages" "${builders [ "debs.py" "deb.py" "elf.py" ]}/debs.py" {
        debs = map (d: { inherit (d) name; path = fetchurl { inherit (d) url sha256; name = "${d.name}.deb"; }; }) debs;
        inherit patchelf loader;
        libraryPath = [ "${python}/lib" ];
      })
    ];
  # where the programs look for their files: the /usr and /etc they were compiled for
  # (/usr/bin, /usr/lib, … are real folders of links, so a run step may add to them, and /lib,
  # /lib64's loader lead where merged /usr and programs built elsewhere look)
  systemFiles = packages: builtins.concatMap (p: [
    { path = "usr"; tree = "${p}/usr"; depth = 2; }
    { path = "etc"; tree = "${p}/etc"; }
    { path = "lib"; target = "usr/lib"; }
    { path = "lib64/ld-linux-x86-64.so.2"; target = loader; }
  ]) packages;

  # Each layer its own derivation (builders/layer.py), compressed once and cached, built in
  # parallel; the image derivation only links their blobs and writes the manifest.
  mkImage = { name, tag, layers, config, dirs, files, src }:
    let
      layerScript = "${builders [ "layer.py" "layering.py" "oci.py" ]}/layer.py";
      layer = layerName: attrs: runPython "${name}-layer-${layerName}" layerScript ({ inherit layerName; } // attrs);
      rootsBefore = index: builtins.concatMap (l: l.roots) (builtins.genList (builtins.elemAt layers) index);
      planned = builtins.genList
        (index:
          let l = builtins.elemAt layers index; in
          if l ? tree then layer l.name { kind = "tree"; inherit (l) tree; inherit dirs files; }
          else layer l.name {
            kind = "store";
            exportReferencesGraph = { mine = l.roots; earlier = rootsBefore index; };
          })
        (builtins.length layers);
    in
    runPython "${name}.oci.tar" "${builders [ "mkimage.py" "oci.py" ]}/mkimage.py" {
      inherit tag config;
      layers = [ (layer "base" { kind = "base"; inherit dirs files; }) ] ++ planned
        # the source layer needs only the user who owns /src: a label change must not recompress it
        ++ [ (layer "src" { kind = "src"; inherit src; config = { inherit (config) User; }; }) ];
    };

  # `nix develop` evaluates a shell's environment by running its builder as bash: Debian's static bash
  mkShell = { env, name, packages ? [ ] }:
    derivation {
      inherit name system;
      builder = "${bash}/bin/bash"; # nix develop insists on a builder named bash
      outputs = [ "out" ]; # and writes the environment to each of $outputs
      args = [ "-c" "echo 'the image environment: ${env}' > $out" ];
      PATH = builtins.concatStringsSep ":" (map (p: "${p}/bin") ([ env ] ++ packages)); # as in the image
      VIRTUAL_ENV = env;
    };
}
