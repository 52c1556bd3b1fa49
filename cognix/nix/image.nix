# The image: layers from the plan, the model source at /src, and a config like Cog's images
# (server on port 5000, workdir /src, cog.yaml's environment, run.cog.* labels), running as a
# non-root user with a writable /tmp and home. `spec` is .cognix/image.json, which the CLI writes
# (labels such as the OpenAPI schema are computed outside the sandbox, never by importing user code here).
{ toolchain, python, spec, src, base, layers }:
toolchain.mkImage {
  inherit (spec) name tag;
  inherit layers src;
  inherit (base) dirs files;
  config = {
    Entrypoint = [ "${python.env}/bin/python" "-m" "cognix.server" ];
    Env = map (name: "${name}=${base.environment.${name}}") (builtins.attrNames base.environment);
    WorkingDir = "/src";
    User = "1000:1000";
    ExposedPorts = { "5000/tcp" = { }; };
    Labels = spec.labels;
  };
}
