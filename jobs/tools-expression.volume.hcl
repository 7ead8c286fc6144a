# A closure described by a Nix expression, evaluated on the node that stages it
# (the node needs a <nixpkgs> channel, or write a fetchTarball with its hash).
# "$${" is how HCL writes a literal "${" (Nix antiquotation).
id        = "nix-tools"
name      = "nix-tools"
type      = "csi"
plugin_id = "nixmount"

capability {
  access_mode     = "multi-node-reader-only"
  attachment_mode = "file-system"
}

context {
  expression = <<EOT
let pkgs = import <nixpkgs> { };
in pkgs.buildEnv {
  name = "tools";
  paths = [ pkgs.jq pkgs.curl pkgs.coreutils ];
}
EOT
}
