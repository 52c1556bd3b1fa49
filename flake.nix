# cognix itself, for Nix users (nixpkgs is not reachable where cognix is developed: this file is
# parsed in the tests, not built there).
#   nix run github:…/cognix -- build       the CLI
#   cognix.lib.mkModel { toolchain; root; } the Nix library, for other flakes (what .cognix/nix holds)
#   nix develop                             a shell for working on cognix
#   nix flake init -t github:…/cognix      a new Cog project
{
  description = "cognix: Cog's job on Nix - reproducible, layered OCI images for ML models";

  # the pin `cognix lock` records for images (compat.toml): nixos-24.11, evaluable by Nix >= 2.8
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/f9f0d5c5380be0a599b1fb54641fa99af8281539";
  # the CLI itself needs what 24.11 is too old for: pydantic >= 2.11 and a uv that writes
  # pylock.toml (>= 0.8); flake.lock pins the revision on first use
  inputs.nixpkgs-cli.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs, nixpkgs-cli }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs-cli.legacyPackages.${system};
      python = pkgs.python313;
      version = builtins.head (builtins.match ''.*__version__ = "([^"]+)".*'' (builtins.readFile ./cognix/_version.py));
      runtimeDeps = ps: with ps; [
        pydantic pyyaml packaging typer rich fastapi uvicorn uvloop httptools httpx orjson tomli-w jinja2
        cyclonedx-python-lib
      ];
      cognix = python.pkgs.buildPythonApplication {
        pname = "cognix";
        inherit version;
        pyproject = true;
        src = ./.;
        build-system = [ python.pkgs.hatchling ];
        dependencies = runtimeDeps python.pkgs;
        pythonRemoveDeps = [ "uv" ]; # nixpkgs' uv binary instead of the PyPI wheel
        makeWrapperArgs = [ "--prefix" "PATH" ":" "${pkgs.lib.makeBinPath [ pkgs.uv pkgs.skopeo ]}" ];
      };
    in
    {
      packages.${system}.default = cognix;
      apps.${system}.default = { type = "app"; program = "${cognix}/bin/cognix"; };

      lib = {
        mkModel = import ./cognix/nix;
        toolchains = {
          nixpkgs = import ./cognix/nix/toolchains/nixpkgs.nix;
          offline = import ./cognix/nix/toolchains/offline.nix;
        };
      };

      devShells.${system}.default = pkgs.mkShell {
        packages = [ (python.withPackages (ps: runtimeDeps ps ++ [ ps.pytest ps.pillow ])) pkgs.uv pkgs.ruff pkgs.mypy pkgs.skopeo pkgs.umoci ];
      };

      templates.default = {
        path = ./cognix/project/templates/init;
        description = "A Cog project (cog.yaml, predict.py, requirements.txt) that cognix builds";
      };
    };
}
