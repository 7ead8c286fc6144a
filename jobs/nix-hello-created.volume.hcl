# A volume created through the nixmount controller (needs jobs/nixmount-controller.nomad.hcl):
#   nomad volume create jobs/nix-hello-created.volume.hcl
# `parameters` are the user keys of a volume context (paths, <system>, expression,
# flakeRef). The controller checks them (an unknown key or a malformed store path
# fails the create with the key named) and returns them as the volume context,
# which Nomad passes to every node that mounts the volume. No capacity: a Nix
# volume has no size (the controller reports 0, "unknown").
id        = "nix-hello-created"
name      = "nix-hello-created"
type      = "csi"
plugin_id = "nixmount"

capability {
  access_mode     = "multi-node-reader-only"
  attachment_mode = "file-system"
}

capability {
  access_mode     = "single-node-writer"
  attachment_mode = "file-system"
}

parameters {
  x86_64-linux = "/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1"
}
