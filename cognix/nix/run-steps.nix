# cog.yaml's build.run steps, in order: each a fixed-output derivation (builders/runstep.py) that
# runs the step on the image's base and holds everything the steps so far have written. Its
# hash is the lock's, recorded when `cognix lock` ran the step, so a step may use the network
# and a rebuild must give the same bytes. `inputs` are the same derivations with `probe` set:
# their output is the attributes the host runs the script with, for `cognix lock`.
{ toolchain, base, steps }:
let
  script = "${import ./builders.nix [ "runstep.py" "layering.py" "oci.py" ]}/runstep.py";
  attrsOf = index: previous: step: {
    inherit index previous;
    inherit (step) command secrets;
    inherit (base) environment dirs files;
    inherit (toolchain) bwrap;
    python = "${toolchain.python}/bin/python${toolchain.pythonVersion}"; # what the host runs it with
  };
  chain = index: previous:
    if index > builtins.length steps then [ ]
    else
      let
        step = builtins.elemAt steps (index - 1);
        attrs = attrsOf index previous step;
        drv = toolchain.runPython "run-step-${toString index}" script (attrs // {
          outputHashMode = "recursive";
          outputHashAlgo = "sha256";
          outputHash = if step.hash == null then throw "pylock.toml has no hash for build.run step ${toString index}: run `cognix lock`" else step.hash;
        });
        inputs = toolchain.runPython "run-step-${toString index}-inputs" script (attrs // { probe = true; });
      in
      [ { inherit drv inputs; } ] ++ chain (index + 1) "${drv}";
  made = chain 1 "";
in
{
  drvs = map (s: s.drv) made;
  inputs = map (s: s.inputs) made;
  # what the image's run layer holds: the last step's output (each holds its predecessors')
  last = if made == [ ] then null else (builtins.elemAt made (builtins.length made - 1)).drv;
}
