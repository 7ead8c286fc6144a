# The test kit's closure: two store paths, one referring to the other, that build offline
# from the node's own /bin/sh and coreutils (so Nix needs `sandbox = false`), for
# `runReplay`'s `closure`. `buildKitClosure` builds it; so does
# `nix-build node_modules/nixmount/src/sdk/testkit/closure.nix --no-out-link`.
let
  mk = name: script: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "export PATH=/usr/bin:/bin; ${script}" ];
  };
  data = mk "nixmount-kit-data" ''
    mkdir -p $out/share
    echo "published by nixmount's adapter test kit" > $out/share/greeting
  '';
in mk "nixmount-kit-app" ''
  mkdir -p $out/bin
  printf '#!/bin/sh\nexec cat ${data}/share/greeting\n' > $out/bin/greet
  chmod +x $out/bin/greet
''
