# The nixmount CSI controller, for `nomad volume create` / `nomad volume delete`.
#
# Run it next to the node plugin job (jobs/nixmount.nomad.hcl, plugin id "nixmount"):
#   nomad job run jobs/nixmount-controller.nomad.hcl
# It mounts nothing and runs no Nix: CreateVolume validates the parameters and
# records the volume name, and every node publishes from the volume context it
# returns. One instance (a service job, count = 1), so one set of records answers
# "same name, other parameters" with ALREADY_EXISTS; the records live on the
# group's sticky ephemeral disk, kept across restarts and job updates and moved
# along if the allocation is rescheduled to another client.
job "nixmount-controller" {
  type        = "service"
  datacenters = ["*"]

  group "controller" {
    count = 1

    ephemeral_disk {
      size    = 100
      sticky  = true
      migrate = true
    }

    task "plugin" {
      driver = "docker"

      config {
        image = "ghcr.io/nixmount/nixmount:0.1.0"
        args = [
          "serve",
          "--mode", "controller",
          "--orchestrator", "local",
          "--state-dir", "/alloc/data/nixmount-controller",
        ]
      }

      # Nomad sets CSI_ENDPOINT=unix:///csi/csi.sock from mount_dir; nixmount reads it.
      csi_plugin {
        id             = "nixmount"
        type           = "controller"
        mount_dir      = "/csi"
        health_timeout = "30s"
      }

      resources {
        cpu    = 50
        memory = 64
      }
    }
  }
}
