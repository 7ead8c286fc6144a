# A writable /nix per allocation: each allocation of a `per_alloc` group claims
# its own volume "nix-scratch[N]" and gets an overlay over the shared view, so
# it can install into /nix without touching the others.
# One spec per allocation index (this is index 0, dev-scratch-1.volume.hcl is 1):
id        = "nix-scratch[0]"
name      = "nix-scratch[0]"
type      = "csi"
plugin_id = "nixmount"

capability {
  access_mode     = "single-node-writer"
  attachment_mode = "file-system"
}

context {
  paths = "/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1"
}
