# The image's Python environment: each locked wheel installed into a store path of its own,
# then one virtual environment linking them (builders/install_wheel.py, builders/mkenv.py).
# Shared by every toolchain: only the interpreter, fetcher, patchelf and runtime libraries differ.
# A wheel from an index is fetched by url; a file of the project's (`path`) is copied from `root`,
# into the same flat fixed-output store path the fetch would make, checked against the same sha256.
{ toolchain, wheels, server, root, extraRpaths ? [ ] }:
let
  inherit (toolchain) python pythonVersion runPython;
  sitePackages = "lib/python${pythonVersion}/site-packages";

  # pypa/installer, pinned: the standard wheel installer, pure Python, run from its own wheel
  installer = toolchain.fetchurl {
    url = "https://files.pythonhosted.org/packages/d7/7a/63547a792a12148882205d79e07644091d5b7690f40c2bb9d41452a8bdc2/installer-1.1.0-py3-none-any.whl";
    sha256 = "f55f5728ff61d3dd54dbc5a397cf3f7307cb64b180c20b72afbebf01c9e2c8a0";
    name = "installer-1.1.0-py3-none-any.whl";
  };

  install = { name, version, wheel }:
    runPython "${name}-${version}" "${import ./builders.nix [ "install_wheel.py" "elf.py" ]}/install_wheel.py" {
      inherit wheel installer sitePackages;
      pname = name;
      inherit (toolchain) patchelf loader;
      interpreter = "${python}/bin/python${pythonVersion}";
      rpath = toolchain.runtimeLibs ++ extraRpaths;
    };

  wheelFile = w:
    if w.path != null
    then builtins.path { path = root + "/${w.path}"; name = w.filename; recursive = false; inherit (w) sha256; }
    else toolchain.fetchurl { inherit (w) url sha256; name = w.filename; };

  installed = map (w: w // { drv = install { inherit (w) name version; wheel = wheelFile w; }; }) wheels;

  serverDrv = install server;
in
{
  inherit sitePackages;
  wheels = installed;
  server = serverDrv;
  env = runPython "python-env" ./builders/mkenv.py {
    inherit python pythonVersion;
    packages = map (w: w.drv) installed ++ [ serverDrv ];
  };
}
