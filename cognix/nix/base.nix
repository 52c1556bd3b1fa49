# The image's base, shared by the image and its build.run steps (which run on exactly this):
# cog.yaml's environment with the variables Cog's images set, the users, the writable folders,
# /bin/sh, the CA bundle, the system packages' /usr and /etc (with /lib and /lib64's loader),
# and on GPU images /sbin/ldconfig for triton.
{ toolchain, env, spec, cuda, lock, systemPackages, sitePackages }:
let
  home = "/home/cognix";
  fhsPath = [ "/usr/local/sbin" "/usr/local/bin" "/usr/sbin" "/usr/bin" "/sbin" "/bin" ];
  folder = path: { inherit path; mode = "0755"; uid = 0; gid = 0; };
in
{
  environment = cuda.imageEnv {
    inherit (lock) gpu cuda cudnn;
    libraryDirs = cuda.wheelLibraryDirs "${env}/${sitePackages}" lock.wheels;
  } // spec.env // {
    # then the folders of Debian's (and Cog's images') PATH, where build.run steps install tools
    # (nixpkgs' getBin rule: a package's programs are in its `bin` output, else in `out`)
    PATH = builtins.concatStringsSep ":" (map (p: "${p.bin or p.out or p}/bin") ([ env ] ++ systemPackages) ++ fhsPath);
    HOME = home;
    PYTHONUNBUFFERED = "1";
    SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt";
  };
  # mode as an octal string; the store cannot hold owners or sticky bits, so the packer sets them
  # (and the folders every Debian image has, which build.run steps write to: /opt, /usr/local/bin, …)
  dirs = [
    { path = "tmp"; mode = "1777"; uid = 0; gid = 0; }
    { path = "var/tmp"; mode = "1777"; uid = 0; gid = 0; }
    { path = "root"; mode = "0700"; uid = 0; gid = 0; }
    { path = "home/cognix"; mode = "0755"; uid = 1000; gid = 1000; }
  ] ++ map folder [ "opt" "srv" "usr/local/bin" "usr/local/lib" "usr/local/sbin" "usr/local/share" "var/cache" "var/lib" "var/log" ];
  # files: text, a symlink to `target`, or links into the store folder `tree` (builders/layering.py)
  files = [
    { path = "etc/passwd"; text = "root:x:0:0:root:/root:/sbin/nologin\ncognix:x:1000:1000:cognix:${home}:/sbin/nologin\n"; }
    { path = "etc/group"; text = "root:x:0:\ncognix:x:1000:\n"; }
    { path = "etc/nsswitch.conf"; text = "passwd: files\ngroup: files\nhosts: files dns\n"; }
    { path = "etc/ssl/certs/ca-certificates.crt"; target = "${toolchain.cacert}"; }
    { path = "bin/sh"; target = "${toolchain.shell}/bin/bash"; }
    { path = "bin/bash"; target = "${toolchain.shell}/bin/bash"; }
  ] ++ toolchain.systemFiles systemPackages
  ++ (if lock.gpu then [ { path = "sbin/ldconfig"; text = cuda.ldconfigShim; executable = true; } ] else [ ]);
}
