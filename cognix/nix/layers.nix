# The layer plan: an ordered list of { name; roots; }. Every store path of the image belongs to
# the first layer whose roots reach it. What changes least comes first and every big wheel (torch,
# each nvidia-* library, …) is a layer of its own, so a code or dependency change re-ships only
# the small layers above; then build.run's files; the model source is the last layer (image.nix adds it).
{ }:
rec {
  bigWheelBytes = 50 * 1024 * 1024;

  # wheels: [ { name; size; drv; } ] (from the lock, with their installed store paths)
  # dockerTools' default: Docker/overlayfs stop at about 125, and images built on top need room
  maxLayers = 100;

  plan = { wheels, python, cacert, shell, server, env, systemPackages ? [ ], runtimeRoots ? [ ], runLayer ? null }:
    let
      candidates = builtins.sort (a: b: a.size > b.size || (a.size == b.size && a.name < b.name))
        (builtins.filter (w: w.size >= bigWheelBytes) wheels);
      # base, python, system-packages, cognix, site-packages, src, and build.run's when there is one
      room = maxLayers - 6 - (if runLayer == null then 0 else 1);
      # the largest get layers of their own; any beyond the limit join site-packages
      big = if builtins.length candidates <= room then candidates
        else builtins.genList (builtins.elemAt candidates) room;
    in
    # the interpreter first, then the system packages: every wheel's store path refers to both
    # (its interpreter, its RUNPATH), so a later layer would lose them to the first big wheel
    [
      { name = "python"; roots = [ python cacert shell ] ++ runtimeRoots; }
      { name = "system-packages"; roots = systemPackages; }
    ]
    ++ map (w: { name = w.name; roots = [ w.drv ]; }) big
    ++ [
      { name = "cognix"; roots = [ server ]; }
      # the other wheels and the environment linking them all: one layer that a dependency change rebuilds
      { name = "site-packages"; roots = [ env ]; }
    ]
    # what build.run wrote, at its own paths (/opt/…): a folder, not a store path of the image
    ++ (if runLayer == null then [ ] else [ { name = "run"; roots = [ ]; tree = runLayer; } ]);
}
