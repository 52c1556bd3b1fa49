# CUDA at run time. The CUDA userland (cuBLAS, cuDNN, …) comes from nvidia-* wheels: torch's own,
# or those `cognix lock` adds when no package brings them; the driver (libcuda.so.1 and friends) is
# the host's, bind-mounted by the NVIDIA container toolkit, and must never be baked in. Nix's glibc
# ignores /etc/ld.so.cache, so ldconfig-based discovery does nothing for Nix-built binaries: the
# driver is found only through RUNPATH / LD_LIBRARY_PATH entries naming the directories the
# toolkit mounts into. builtins only, Nix 2.8-safe.
let
  inherit (builtins) concatStringsSep splitVersion elemAt length filter attrNames substring stringLength;

  # Where the driver lands, most specific first: GKE / GPU operator (seen on an H100 host),
  # a rootfs without Debian multiarch dirs (what a Nix image is), Debian-like rootfs, NixOS' driverLink.
  driverDirs = [ "/usr/local/nvidia/lib64" "/usr/lib64" "/usr/lib/x86_64-linux-gnu" "/run/opengl-driver/lib" ];
in
{
  inherit driverDirs;

  # Sonames that belong to the kernel-locked driver: a wheel's ELF may need them, but patching must
  # leave them unresolved (autoPatchelfIgnoreMissingDeps-style) so the host's copy is used.
  driverLibs = [
    "libcuda.so.1"
    "libcuda.so"
    "libnvidia-ml.so.1" # NVML: pynvml, torch.cuda.device_count without a context
    "libnvidia-ptxjitcompiler.so.1"
    "libnvidia-nvvm.so.4"
    "libcudadebugger.so.1"
    "libnvidia-opencl.so.1"
    "libnvcuvid.so.1" # video decode (decord, torchaudio/torchvision GPU decoders)
    "libnvidia-encode.so.1"
    "libnvidia-fatbinaryloader.so" # old drivers only
    "libnvidia-gpucomp.so" # versioned on disk; listed for name-prefix matching
  ];

  # The folders of the nvidia-* wheels' libraries in the environment's site-packages
  # ("nvidia-cuda-runtime-cu12" → nvidia/cuda_runtime/lib): what onnxruntime's CUDA provider,
  # cupy or TensorFlow load by soname, with no RUNPATH of their own that leads there.
  # CUDA 13's unsuffixed wheels (nvidia-cublas, …) share nvidia/cu13/lib.
  wheelLibraryDirs = sitePackages: wheels:
    let
      folder = name: builtins.match "nvidia-(.+)-cu[0-9]+" name;
      found = filter (w: folder w.name != null) wheels;
      cuda13 = builtins.any (w: w.name == "nvidia-cuda-runtime") wheels;
    in
    map (w: "${sitePackages}/nvidia/${builtins.replaceStrings [ "-" ] [ "_" ] (elemAt (folder w.name) 0)}/lib") found
    ++ (if cuda13 then [ "${sitePackages}/nvidia/cu13/lib" ] else [ ]);

  # Image environment for cog.yaml's build.gpu (and, when known, build.cuda / build.cudnn).
  # NVIDIA_* tell the container toolkit to mount the devices and the compute driver libraries;
  # NVIDIA_REQUIRE_CUDA makes it refuse, with a clear message, a host driver too old for the CUDA
  # the wheels were built for (what NVIDIA's own base images do). TRITON_LIBCUDA_PATH is set only
  # when the caller knows the one directory holding libcuda.so.1: triton takes it verbatim.
  # Without it, triton's libcuda_dirs() runs `/sbin/ldconfig -p` and fails when there is none;
  # GPU images therefore get `ldconfigShim` at /sbin/ldconfig.
  imageEnv = { gpu, cuda ? null, cudnn ? null, libcudaDir ? null, libraryDirs ? [ ] }:
    if !gpu then { }
    else {
      LD_LIBRARY_PATH = concatStringsSep ":" (libraryDirs ++ driverDirs);
      NVIDIA_VISIBLE_DEVICES = "all";
      NVIDIA_DRIVER_CAPABILITIES = "compute,utility";
    }
    // (if cuda == null then { } else {
      CUDA_VERSION = cuda;
      NVIDIA_REQUIRE_CUDA = "cuda>=${cuda}";
    })
    // (if cudnn == null then { } else { CUDNN_VERSION = cudnn; })
    // (if libcudaDir == null then { } else { TRITON_LIBCUDA_PATH = libcudaDir; });

  # `ldconfig -p` as triton reads it, for the driver folders only: a Nix image has no ld.so.cache,
  # and triton (`import triton`, torch.compile) calls /sbin/ldconfig with no fallback. Shell
  # builtins only.
  ldconfigShim = ''
    #!/bin/sh
    # cognix: answers `ldconfig -p` for the NVIDIA driver folders (Nix's loader has no ld.so.cache)
    echo "libs found in cache \`/etc/ld.so.cache'"
    for dir in ${concatStringsSep " " driverDirs}; do
      for lib in "$dir"/lib*.so*; do
        [ -e "$lib" ] && printf '\t%s (libc6,x86-64) => %s\n' "''${lib##*/}" "$lib"
      done
    done
    exit 0
  '';

  # nixpkgs' native CUDA package set for a cog.yaml cuda version ("12.1", "11.8.0"): cudaPackages_12_1.
  # Only for native needs; nixpkgs dropped many sets over time (11.x and 12.0-12.5 by 2025), and a
  # removed set is often a `throw` alias, so the value is probed with tryEval, not just `?`.
  nativeCudaPackages = pkgs: version:
    let
      parts = splitVersion version;
      attr = "cudaPackages_${elemAt parts 0}_${if length parts > 1 then elemAt parts 1 else "0"}";
      usable = pkgs ? ${attr} && (builtins.tryEval pkgs.${attr}).success;
      prefix = "cudaPackages_";
      have = filter
        (n: substring 0 (stringLength prefix) n == prefix && (builtins.tryEval pkgs.${n}).success)
        (attrNames pkgs);
    in
    if usable then pkgs.${attr}
    else throw ("cog.yaml build.cuda \"${version}\": the pinned nixpkgs "
      + "(${pkgs.lib.version or "unknown version"}) has no ${attr}"
      + (if have == [ ] then "" else "; it has: ${concatStringsSep ", " have}")
      + ". Pin a nixpkgs that provides it, or leave CUDA to torch's nvidia-* wheels"
      + " (native CUDA packages are optional).");
}
