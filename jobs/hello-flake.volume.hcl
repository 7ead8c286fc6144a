# A closure named by a flake installable, built or substituted on the node.
id        = "nix-hello-flake"
name      = "nix-hello-flake"
type      = "csi"
plugin_id = "nixmount"

capability {
  access_mode     = "multi-node-reader-only"
  attachment_mode = "file-system"
}

context {
  flakeRef = "github:NixOS/nixpkgs/nixos-24.05#hello"
}
