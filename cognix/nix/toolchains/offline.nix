# The offline toolchain: everything an image needs without nixpkgs or a binary cache.
# `raw` is the prefix `cognix.build.toolchain` makes from the lock's pinned Debian packages (Python, its libraries, patchelf,
# the Mozilla CA bundle); wheels come from Nix's builtin fetcher; cognix's own OCI writer packs
# the image. Implements the toolchain interface that default.nix documents.
{ raw, pythonVersion, system ? "x86_64-linux" }:
let
  # Stage 0: the raw prefix only runs through its own loader.
  runRaw = name: attrs: derivation ({
    inherit name system raw pythonVersion;
    builder = "${raw}/lib/ld-linux-x86-64.so.2";
    args = [ "--library-path" "${raw}/lib" "${raw}/bin/python${pythonVersion}" ../builders/prefix.py ];
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
  bash = runPython "bash" ../builders/copy_file.py { source = "${raw}/libexec/bash"; target = "bin/bash"; executable = true; };
in
{
  name = "offline";
  inherit system python pythonVersion runPython;
  patchelf = runRaw "patchelf" { what = "patchelf"; pythonLib = "${python}/lib"; };
  # the manylinux libraries (libstdc++, libgcc_s, libz, …) ship with the Python prefix
  runtimeLibs = [ "${python}/lib" ];
  cacert = runPython "ca-bundle.crt" ../builders/copy_file.py { source = "${raw}/share/ca-bundle.crt"; };
  fetchurl = { url, sha256, name }: import <nix/fetchurl.nix> { inherit url sha256 name; };
  # the ELF interpreter for executables shipped in wheels (the image has no /lib64)
  loader = "${python}/lib/ld-linux-x86-64.so.2";
  shell = bash; # /bin/sh in the image: Cog images have one, and os.system / shell=True need it

  systemPackages = names:
    if names == [ ] then [ ]
    else throw ("cog.yaml build.system_packages (${builtins.concatStringsSep ", " names}) need nixpkgs, "
      + "which the offline toolchain does not have: build with --toolchain nixpkgs");

  mkImage = { name, tag, layers, config, dirs, files, src }:
    # the whole folder: mkimage.py imports the OCI writer (oci.py) that `cognix build` puts beside it
    runPython "${name}.oci.tar" "${../builders}/mkimage.py" {
      inherit tag layers config dirs files src;
      exportReferencesGraph.closure = builtins.concatMap (layer: layer.roots) layers;
    };

  # `nix develop` evaluates a shell's environment by running its builder as bash: Debian's static bash
  mkShell = { env, name }:
    derivation {
      inherit name system;
      builder = "${bash}/bin/bash"; # nix develop insists on a builder named bash
      outputs = [ "out" ]; # and writes the environment to each of $outputs
      args = [ "-c" "echo 'the image environment: ${env}' > $out" ];
      PATH = "${env}/bin";
      VIRTUAL_ENV = env;
    };
}
