# The nixmount CSI node plugin on every Nomad client, without Docker: the single-file
# binary (`npm run binary` makes dist/binary/nixmount; install it on each client as
# /usr/local/bin/nixmount) run by the raw_exec driver. Needs Nomad >= 1.3.3
# (stage_publish_base_dir; CSI_ENDPOINT naming the socket's host path) and
#   plugin "raw_exec" { config { enabled = true } }
# in the client configuration. raw_exec runs the task as the Nomad agent's user, which
# must be root (mounts), in the host's mount namespace, with no filesystem isolation:
#
# - Nomad binds nothing into the task, so it sends staging and target paths below
#   stage_publish_base_dir as written. It must therefore be the client's own plugin
#   directory, <data_dir>/client/csi/node/<plugin id>. Replace /opt/nomad/data (the data_dir
#   of HashiCorp's packages) with your clients' data_dir, in both places below.
# - Nomad sets CSI_ENDPOINT=unix://<data_dir>/client/csi/plugins/<alloc id>/csi.sock.
# - own-store: on NixOS /nix/store is a read-only bind of itself; it logs how views reach the
#   store (linked in a private mount namespace of their own) and changes no mount.
job "nixmount-binary" {
  type        = "system"
  datacenters = ["*"]

  group "node" {
    # Prometheus metrics on a port Nomad picks on the client (raw_exec shares the host's
    # network), registered as the service nixmount-metrics in Nomad's own service discovery
    # (Prometheus finds every node's plugin with nomad_sd_configs).
    network {
      port "metrics" {}
    }

    service {
      name     = "nixmount-metrics"
      port     = "metrics"
      provider = "nomad"
      tags     = ["metrics"]
    }

    task "plugin" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/nixmount"
        args = [
          "own-store", "--store-dir", "/nix/store", "--",
          "serve",
          "--mode", "node",
          "--orchestrator", "nomad",
          "--node-id", "${node.unique.id}",
          "--stage-publish-base-dir", "/opt/nomad/data/client/csi/node/nixmount",
          "--state-dir", "/nix/var/nixmount",
          "--view-idle", "15m",
          "--metrics-address", "${NOMAD_ADDR_metrics}",
        ]
      }

      csi_plugin {
        id                     = "nixmount"
        type                   = "node"
        mount_dir              = "/csi"
        stage_publish_base_dir = "/opt/nomad/data/client/csi/node/nixmount"
        health_timeout         = "30s"
      }

      env {
        # nix, mount/umount, setpriv, unshare and perl (the mount helper), on Debian-like hosts and on NixOS.
        PATH                         = "/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        # Where the binary unpacks its two small assets (the CSI proto, its version).
        NIXMOUNT_RUNTIME_DIR         = "${NOMAD_TASK_DIR}"
        NIXMOUNT_SUBSTITUTERS        = "https://cache.nixos.org"
        NIXMOUNT_TRUSTED_PUBLIC_KEYS = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
