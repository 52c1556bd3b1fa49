# cognix's Nix library: a Cog project (cog.yaml, pylock.toml, .cognix/) → image, Python env, dev shell.
#
#   toolchain  what builds it: ./toolchains/offline.nix (no nixpkgs needed) or ./toolchains/nixpkgs.nix
#              (production), both giving { name system python pythonVersion runPython fetchurl patchelf
#              loader shell runtimeLibs runtimeRoots cacert systemPackages systemFiles mkImage mkShell }
#              (and the offline one bwrap, which build.run steps need)
#   root       the project folder (a path inside the flake)
#
# No import-from-derivation: Nix reads only pylock.toml, .cognix/image.json and .cognix/src.json,
# all written by the cognix CLI.
{ toolchain, root }:
let
  lock = (import ./lock.nix { }).read (builtins.readFile (root + "/pylock.toml"));
  spec = builtins.fromJSON (builtins.readFile (root + "/.cognix/image.json"));
  cuda = import ./cuda.nix;
  sourceFiles = builtins.listToAttrs (map (name: { inherit name; value = true; })
    (builtins.fromJSON (builtins.readFile (root + "/.cognix/src.json"))));

  # the model source: exactly the files the CLI listed (cog.yaml's project minus .dockerignore, .git, …)
  prefixLength = builtins.stringLength (toString root) + 1;
  # a flake's source holds git-tracked files only: a listed file it lacks would be left out
  # silently. Looked up in its folder's listing, which follows no symlink (a link to weights
  # outside the project is a file of /src like any other)
  listed = folder: let path = if folder == "." then root else root + "/${folder}"; in
    if builtins.pathExists path then builtins.readDir path else { };
  present = rel: (listed (dirOf rel)) ? ${baseNameOf rel};
  files = builtins.filter (rel: builtins.substring (builtins.stringLength rel - 1) 1 rel != "/") (builtins.attrNames sourceFiles);
  missing = builtins.filter (rel: !(present rel)) files;
  src = if missing != [ ] then
    throw ("${builtins.head missing}${if builtins.length missing > 1 then " (and ${toString (builtins.length missing - 1)} more)" else ""}"
      + " belong in /src but are not in this Nix source: in a git repository, `git add` them (a flake sees tracked files only)")
  else builtins.path {
    name = "model-source";
    path = root;
    filter = path: type:
      let rel = builtins.substring prefixLength (-1) (toString path); in
      sourceFiles ? ${rel} || (type == "directory" && sourceFiles ? "${rel}/");
  };

  # cog.yaml's apt names: nixpkgs packages, or (offline) the lock's pinned Debian packages
  systemPackages = toolchain.systemPackages { names = lock.systemPackages; inherit (lock) debs; };

  python = import ./python.nix {
    inherit toolchain root;
    inherit (lock) wheels;
    server = { name = "cognix"; version = spec.cognixVersion; wheel = root + "/.cognix/${spec.cognixWheel}"; };
    # wheels dlopen system libraries (libGL for opencv, …) and, on GPUs, the host's driver
    # nixpkgs' getLib rule: openssl's first output is `bin`, its libraries are in `out`
    extraRpaths = map (p: "${p.lib or p.out or p}/lib") systemPackages ++ (if lock.gpu then cuda.driverDirs else [ ]);
  };
  base = import ./base.nix {
    inherit toolchain spec cuda lock systemPackages;
    env = python.env;
    inherit (python) sitePackages;
  };
  # build.run: fixed-output steps on the image's base; the last one's files are the run layer
  runSteps = import ./run-steps.nix { inherit toolchain base; steps = lock.runSteps; };
  layers = (import ./layers.nix { }).plan {
    inherit (python) wheels server env;
    # with their library outputs, which the wheels' RUNPATHs name (openssl's `out`, not `bin`)
    systemPackages = builtins.concatMap (p: [ p (p.lib or p.out or p) ]) systemPackages;
    inherit (toolchain) python cacert shell runtimeRoots;
    runLayer = runSteps.last;
  };
in
assert lock.python == toolchain.pythonVersion
  || throw "pylock.toml is for Python ${lock.python}, the toolchain's Python is ${toolchain.pythonVersion}";
{
  inherit src lock;
  pythonEnv = python.env;
  runStepInputs = runSteps.inputs; # for `cognix lock`, which runs each step to record its hash
  # every store path of the image, without packing it: the SBOM's input
  imageClosure = toolchain.runPython "image-closure" ./builders/roots.py {
    roots = builtins.concatMap (layer: layer.roots) layers;
  };
  image = import ./image.nix { inherit toolchain python spec src base layers; };
  devShell = toolchain.mkShell { name = "${spec.name}-shell"; env = python.env; packages = systemPackages; };
}
