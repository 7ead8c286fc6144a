# A Nix closure as a Nomad dynamic host volume (Nomad >= 1.10): no CSI plugin job,
# no registration, and every task driver that mounts host volumes can use it.
# Needs nixmount's host volume plugin on the node (docs/nomad.md, section 5):
#   nixmount host-volume install --plugin-dir <data_dir>/host_volume_plugins
# On a node that also runs the plugin job, the job's serve does the work (one state
# dir, one view per closure for CSI and host volumes): see "State dir and nixmount serve".
# Create (on one node; create it again with `node_id` for each node that needs it):
#   nomad volume create jobs/host-volume-hello.volume.hcl
# `parameters` are the user keys of a volume context (paths, <system>, expression,
# flakeRef), accepted under the node's source policy (/etc/nixmount/host-volume.json).
# The created path is a read-only bind of the closure's view, so the volume is
# read-only whatever a job asks; `readOnly = "false"` would give it a writable
# overlay of its own instead. A Nix volume has no size: leave out capacity_*.
name      = "nix-hello-host"
type      = "host"
plugin_id = "nixmount"

capability {
  access_mode     = "single-node-reader-only"
  attachment_mode = "file-system"
}

parameters {
  paths = "/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1"
}
