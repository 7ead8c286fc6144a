# The demo's closure, built offline on the node: a tiny "application" whose script
# reads a message from a separate data package — two store paths, one reference.
let
  mk = name: script: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "export PATH=/usr/bin:/bin; ${script}" ];
  };
  message = mk "nixmount-demo-message" ''
    mkdir -p $out/share
    echo "Hello from a Nix closure mounted by nixmount!" > $out/share/message.txt
  '';
in mk "nixmount-demo-hello" ''
  mkdir -p $out/bin
  printf '#!/bin/sh\ncat ${message}/share/message.txt\n' > $out/bin/hello
  chmod +x $out/bin/hello
''
