# cognix's Nix library: a Cog project (cog.yaml, pylock.toml, .cognix/) → image, Python env, dev shell.
#
#   toolchain  what builds it: ./toolchains/offline.nix (no nixpkgs needed) or ./toolchains/nixpkgs.nix
#              (production), both giving { name system python pythonVersion runPython fetchurl patchelf
#              runtimeLibs cacert systemPackages mkImage mkShell }
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
  src = builtins.path {
    name = "model-source";
    path = root;
    filter = path: type:
      let rel = builtins.substring prefixLength (-1) (toString path); in
      sourceFiles ? ${rel} || (type == "directory" && sourceFiles ? "${rel}/");
  };

  # cog.yaml's apt names as nixpkgs packages (the offline toolchain has none and says so)
  systemPackages = toolchain.systemPackages lock.systemPackages;

  python = import ./python.nix {
    inherit toolchain;
    inherit (lock) wheels;
    server = { name = "cognix"; version = spec.cognixVersion; wheel = root + "/.cognix/${spec.cognixWheel}"; };
    # wheels dlopen system libraries (libGL for opencv, …) and, on GPUs, the host's driver
    extraRpaths = map (p: "${p.lib or p}/lib") systemPackages ++ (if lock.gpu then cuda.driverDirs else [ ]);
  };
  layers = (import ./layers.nix { }).plan {
    inherit (python) wheels server env;
    inherit systemPackages;
    inherit (toolchain) python cacert shell;
  };
in
assert lock.python == toolchain.pythonVersion
  || throw "pylock.toml is for Python ${lock.python}, the toolchain's Python is ${toolchain.pythonVersion}";
{
  inherit src lock;
  pythonEnv = python.env;
  # every store path of the image, without packing it: the SBOM's input
  imageClosure = toolchain.runPython "image-closure" ./builders/roots.py {
    roots = builtins.concatMap (layer: layer.roots) layers;
  };
  image = import ./image.nix {
    inherit toolchain python spec src cuda lock systemPackages layers;
  };
  devShell = toolchain.mkShell { name = "${spec.name}-shell"; env = python.env; };
}
