# The image: layers from the plan, the model source at /src, and a config like Cog's images
# (server on port 5000, workdir /src, cog.yaml's environment, run.cog.* labels), running as a
# non-root user with a writable /tmp and home. `spec` is .cognix/image.json, which the CLI writes
# (labels such as the OpenAPI schema are computed outside the sandbox, never by importing user code here).
{ toolchain, python, spec, src, cuda, lock, systemPackages, layers }:
let
  inherit (python) env;
  home = "/home/cognix";
  environment = cuda.imageEnv { inherit (lock) gpu cuda cudnn; } // spec.env // {
    PATH = builtins.concatStringsSep ":" (map (p: "${p}/bin") ([ env ] ++ systemPackages));
    HOME = home;
    PYTHONUNBUFFERED = "1";
    SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt";
  };
in
toolchain.mkImage {
  inherit (spec) name tag;
  inherit layers src;
  config = {
    Entrypoint = [ "${env}/bin/python" "-m" "cognix.server" ];
    Env = map (name: "${name}=${environment.${name}}") (builtins.attrNames environment);
    WorkingDir = "/src";
    User = "1000:1000";
    ExposedPorts = { "5000/tcp" = { }; };
    Labels = spec.labels;
  };
  # mode as an octal string; the store cannot hold owners or sticky bits, so the packer sets them
  dirs = [
    { path = "tmp"; mode = "1777"; uid = 0; gid = 0; }
    { path = "home/cognix"; mode = "0755"; uid = 1000; gid = 1000; }
  ];
  files = [
    { path = "etc/passwd"; text = "root:x:0:0:root:/root:/sbin/nologin\ncognix:x:1000:1000:cognix:${home}:/sbin/nologin\n"; }
    { path = "etc/group"; text = "root:x:0:\ncognix:x:1000:\n"; }
    { path = "etc/nsswitch.conf"; text = "passwd: files\ngroup: files\nhosts: files dns\n"; }
    { path = "etc/ssl/certs/ca-certificates.crt"; target = "${toolchain.cacert}"; }
    { path = "bin/sh"; target = "${toolchain.shell}/bin/bash"; }
    { path = "bin/bash"; target = "${toolchain.shell}/bin/bash"; }
  ];
}
