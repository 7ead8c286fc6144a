# A closure named by store paths, shared read-only by every allocation.
# Register: nomad volume register jobs/hello.volume.hcl
# The path below must exist in the node store or in one of the plugin's
# substituters; replace it with your own (e.g. `nix build nixpkgs#hello --print-out-paths`).
id        = "nix-hello"
name      = "nix-hello"
type      = "csi"
plugin_id = "nixmount"

capability {
  access_mode     = "multi-node-reader-only"
  attachment_mode = "file-system"
}

capability {
  access_mode     = "single-node-reader-only"
  attachment_mode = "file-system"
}

context {
  paths = "/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1"
}
