# Reading pylock.toml (PEP 751) as `cognix lock` writes it. The lock already holds exactly one
# wheel per package, chosen for the image's Python and platform, so Nix selects nothing: it only
# checks the lock is one it understands and lists the wheels.
{ }:
let
  wheelOf = pkg:
    if pkg ? wheels && pkg.wheels != [ ] then builtins.head pkg.wheels
    else throw ("pylock.toml: ${pkg.name} ${pkg.version or ""} has no wheel, and cognix images are built "
      + "from wheels only; find a version with a wheel for the image's platform and run `cognix lock`");
in
{
  # lock text -> { python, gpu, cuda, cudnn, systemPackages, runSteps = [ { command secrets hash } ],
  #               debs = [ { name version url sha256 } ],
  #               wheels = [ { name version url path sha256 size filename } ] }
  #   (a wheel has a url, or a path relative to the project: a file of its own, ./wheels/x.whl)
  read = text:
    let
      doc = builtins.fromTOML text;
      tool = doc.tool.cognix or (throw "pylock.toml was not written by `cognix lock` (no [tool.cognix] table): run `cognix lock`");
      wheel = pkg: let w = wheelOf pkg; in {
        inherit (pkg) name version;
        url = w.url or null;
        path = w.path or null;
        sha256 = w.hashes.sha256 or (throw "pylock.toml: the wheel of ${pkg.name} has no sha256: run `cognix lock`");
        size = w.size or 0;
        # PyTorch's URLs quote the local version (torch-2.5.1%2Bcu124-…); store names may hold "+"
        filename = builtins.replaceStrings [ "%2B" "%2b" ] [ "+" "+" ] (baseNameOf (w.url or w.path));
      };
    in
    {
      inherit (tool) python gpu;
      cuda = tool.cuda or null;
      cudnn = tool.cudnn or null;
      systemPackages = tool.system-packages or [ ];
      # build.run, as `cognix lock` recorded it: each step's output hash (null until it has run)
      runSteps = map (s: { inherit (s) command; secrets = s.secrets or [ ]; hash = s.output-hash or null; })
        (tool.run-steps or [ ]);
      # the offline toolchain's pinned .debs of cog.yaml's system packages
      debs = map (p: { inherit (p) name version url; sha256 = p.hashes.sha256; })
        (builtins.filter (p: builtins.elem "system" p.roles) (tool.debian.packages or [ ]));
      wheels = map wheel (doc.packages or [ ]);
    };
}
